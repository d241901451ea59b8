"""The film's sound, measured with ffmpeg: loudness on target (within 1 LU of -14 and -23 LUFS),
true peak under -1 dBTP, each line where the cut put it, and the music bed ducked under speech.

Test material is made with ffmpeg's lavfi sources so that each part of a mix can be heard apart
by frequency: "speech" is syllable-modulated noise band-limited to 400-3400 Hz (a TTS line's
band, mono 24 kHz as TTS returns it), the "music" bed is a 70 + 105 Hz chord (MP3, as a user's
file would be, and shorter than the film, so it must loop). A high-pass at 500 Hz hears only the
dialogue; a low-pass at 150 Hz hears only the music.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from shotline.errors import RenderError
from shotline.tools.audio import (
    BROADCAST_LUFS,
    ONLINE_LUFS,
    SAMPLE_RATE,
    DialogueLine,
    audio_duration,
    duck_expression,
    measure_loudness,
    mix_dialogue,
    normalise,
    rms_dbfs,
)
from shotline.tools.ffmpeg import ffmpeg_exe
from shotline.tools.speech import get_voice_model

DURATION_S = 10.0
STARTS = (1.0, 4.0, 7.0)  # where the three lines start
LINE_S = 1.5
DUCK_DB = 12.0
CEILING_DBTP = -1.0


def lavfi(dest: Path, source: str, *, rate: int, channels: int, codec: str = "pcm_s16le") -> Path:
    args = ["-ar", str(rate), "-ac", str(channels), "-c:a", codec, str(dest)]
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, *args], check=True)
    return dest


def speech_like(dest: Path, *, seed: int, gain_db: float, seconds: float = LINE_S) -> Path:
    band = "highpass=f=400,highpass=f=400,highpass=f=400,lowpass=f=3400,lowpass=f=3400"
    source = f"anoisesrc=d={seconds}:c=white:a=0.5:seed={seed},{band},tremolo=f=4:d=0.8,volume={gain_db}dB"
    return lavfi(dest, source, rate=24_000, channels=1)


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sound")
    music = "sine=f=70:d=6,volume=0.5[a];sine=f=105:d=6,volume=0.3[b];[a][b]amix=inputs=2:normalize=0"
    return {
        "loud": speech_like(root / "loud.wav", seed=1, gain_db=0),
        "quiet": speech_like(root / "quiet.wav", seed=2, gain_db=-18),
        "mid": speech_like(root / "mid.wav", seed=3, gain_db=-6),
        "music": lavfi(root / "bed.mp3", music, rate=44_100, channels=2, codec="libmp3lame"),
        "root": root,
    }


def lines(material: dict[str, Path]) -> list[tuple[float, Path]]:
    return list(zip(STARTS, (material["loud"], material["quiet"], material["mid"]), strict=True))


@pytest.fixture(scope="module")
def online(material: dict[str, Path]) -> Path:
    return mix_dialogue(
        lines(material), DURATION_S, material["root"] / "online.wav", music=material["music"], duck_db=DUCK_DB
    )


@pytest.fixture(scope="module")
def broadcast(material: dict[str, Path]) -> Path:
    return mix_dialogue(
        lines(material),
        DURATION_S,
        material["root"] / "broadcast.wav",
        music=material["music"],
        duck_db=DUCK_DB,
        target_lufs=BROADCAST_LUFS,
    )


def sample_peak_dbfs(path: Path) -> float:
    raw = subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return 20 * float(np.log10(np.max(np.abs(np.frombuffer(raw, dtype=np.float32)))))


# --- measuring ------------------------------------------------------------------------------------


def test_measure_reads_a_calibrated_tone(tmp_path: Path) -> None:
    """BS.1770: a 997 Hz sine at -20 dBFS peak in one channel reads -23.0 LUFS and -20 dBTP."""
    tone = lavfi(tmp_path / "tone.wav", "aevalsrc=0.1*sin(2*PI*997*t):d=5", rate=SAMPLE_RATE, channels=1)
    measured = measure_loudness(tone)
    assert measured.integrated_lufs == pytest.approx(-23.0, abs=0.2)
    assert measured.true_peak_dbtp == pytest.approx(-20.0, abs=0.2)
    assert measured.lra_lu == pytest.approx(0.0, abs=0.5)
    assert rms_dbfs(tone, 1.0, 4.0) == pytest.approx(-23.0, abs=0.1)  # a sine's RMS is 3 dB under its peak


def test_measure_refuses_what_is_not_audio(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wave file at all")
    with pytest.raises(RenderError, match=r"junk\.wav"):
        measure_loudness(junk)
    with pytest.raises(RenderError, match="does not exist"):
        measure_loudness(tmp_path / "missing.wav")


# --- the mix --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("mix", "target"), [("online", ONLINE_LUFS), ("broadcast", BROADCAST_LUFS)])
def test_mix_meets_the_loudness_target_without_clipping(mix: str, target: float, request) -> None:
    path: Path = request.getfixturevalue(mix)
    measured = measure_loudness(path)
    assert abs(measured.integrated_lufs - target) <= 1.0, measured
    assert measured.true_peak_dbtp < CEILING_DBTP, measured
    assert sample_peak_dbfs(path) < CEILING_DBTP
    assert audio_duration(path) == pytest.approx(DURATION_S, abs=0.005)


def test_mix_is_48k_stereo_16bit(online: Path) -> None:
    import wave

    with wave.open(str(online), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 2, 2)


def test_each_line_sounds_where_it_was_placed(online: Path) -> None:
    speech = [rms_dbfs(online, s + 0.2, s + LINE_S - 0.2, highpass_hz=500) for s in STARTS]
    gaps = [
        rms_dbfs(online, a, b, highpass_hz=500) for a, b in ((0.1, 0.9), (2.7, 3.8), (5.7, 6.8), (8.7, 9.9))
    ]
    assert min(speech) - max(gaps) >= 30, (speech, gaps)
    for start in STARTS:  # onsets to within 30 ms: silence just before, speech just after
        before = rms_dbfs(online, start - 0.15, start - 0.03, highpass_hz=500)
        after = rms_dbfs(online, start + 0.03, start + 0.15, highpass_hz=500)
        assert after - before >= 25, (start, before, after)


def test_lines_keep_their_own_levels(online: Path, broadcast: Path) -> None:
    """Normalising is one gain for the whole film, not a per-line leveller: lines recorded 18 dB apart
    stay 18 dB apart (at -14 LUFS the loudest line's peaks are limited, which takes a little off it)."""
    for path, tolerance in ((broadcast, 0.5), (online, 2.5)):
        loud, quiet = (rms_dbfs(path, s + 0.2, s + LINE_S - 0.2, highpass_hz=500) for s in STARTS[:2])
        assert loud - quiet == pytest.approx(18.0, abs=tolerance), path.name


def test_music_bed_loops_and_ducks_under_speech(online: Path) -> None:
    under = [rms_dbfs(online, s + 0.45, s + LINE_S - 0.05, lowpass_hz=150) for s in STARTS]
    free = [
        rms_dbfs(online, a, b, lowpass_hz=150) for a, b in ((0.1, 0.7), (3.0, 3.7), (6.0, 6.7), (9.0, 9.9))
    ]
    assert max(free) - min(free) < 1.0, free  # the 6 s bed loops on to the end at one level
    assert min(free) > -45, free  # and it is there, not silent
    assert min(free) - max(under) >= DUCK_DB - 1.0, (free, under)


def test_mix_without_music_and_without_anything(material: dict[str, Path], tmp_path: Path) -> None:
    dry = mix_dialogue([DialogueLine(start_s=0.5, path=material["mid"])], 3.0, tmp_path / "dry.wav")
    measured = measure_loudness(dry)
    assert abs(measured.integrated_lufs - ONLINE_LUFS) <= 1.0 and measured.true_peak_dbtp < CEILING_DBTP
    silent = mix_dialogue([], 2.0, tmp_path / "silent.wav")
    assert measure_loudness(silent).silent and audio_duration(silent) == pytest.approx(2.0, abs=0.005)


def test_mix_refuses_missing_inputs(material: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"music bed 'nope\.mp3' does not exist"):
        mix_dialogue(lines(material), 5.0, tmp_path / "x.wav", music=tmp_path / "nope.mp3")
    with pytest.raises(RenderError, match="dialogue line"):
        mix_dialogue([(0.0, tmp_path / "gone.wav")], 5.0, tmp_path / "x.wav")
    with pytest.raises(RenderError, match="positive duration"):
        mix_dialogue([], 0, tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()


def test_duck_expression_ramps_and_overlaps() -> None:
    assert duck_expression([], 12, 0.25) == "1"
    expr = duck_expression([(1.0, 2.0), (1.5, 3.0)], 12, 0.25)
    assert expr.startswith("pow(10,-12.00*max(") and "0.750" in expr and "3.250" in expr


# --- normalising ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [ONLINE_LUFS, BROADCAST_LUFS])
def test_normalise_peaky_speech_two_pass(material: dict[str, Path], tmp_path: Path, target: float) -> None:
    """Clicks over quiet noise: raised to either target, the clicks would peak far over 0 dBFS, so
    the peaks must be limited first, and the level must still land within 1 LU."""
    root = material["root"]
    peaky = root / "peaky.wav"
    if not peaky.exists():
        source = (  # quiet noise and a one-sample click every quarter second, near full scale
            "anoisesrc=d=6:c=pink:a=0.05:seed=9,highpass=f=300,lowpass=f=3400[n];"
            "aevalsrc=0.9*eq(mod(n\\,11025)\\,0):d=6:s=44100[c];[n][c]amix=inputs=2:normalize=0"
        )
        lavfi(peaky, source, rate=44_100, channels=1)
    before = measure_loudness(peaky)
    assert before.true_peak_dbtp - before.integrated_lufs > 13  # peaks the target cannot hold linearly
    written = normalise(peaky, tmp_path / "out.wav", target_lufs=target)
    measured = measure_loudness(tmp_path / "out.wav")
    assert measured == written
    assert abs(measured.integrated_lufs - target) <= 1.0, measured
    assert measured.true_peak_dbtp < CEILING_DBTP, measured


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)"
)
def test_spoken_lines_mix_on_target(material: dict[str, Path], tmp_path: Path) -> None:
    """Real speech (espeak-ng, peaks ~17 dB over its loudness) over the bed: still on target, no clip."""
    voice = get_voice_model("espeak")
    said = [
        asyncio.run(voice.synthesize(text, name, "en")).write(tmp_path / name)
        for text, name in (("That locket has waited thirty years.", "grandpa"), ("Then it can wait.", "f4"))
    ]
    mix = mix_dialogue(
        [(0.5, said[0]), (3.5, said[1])], 6.0, tmp_path / "spoken.wav", music=material["music"]
    )
    measured = measure_loudness(mix)
    assert abs(measured.integrated_lufs - ONLINE_LUFS) <= 1.0 and measured.true_peak_dbtp < CEILING_DBTP, (
        measured
    )
