"""The film's dialogue and sound, measured with ffmpeg: voices cast per character and kept, lines
spoken once (the cache, the ledger), placed on the cut's clock, mixed with the takes' own sound and a
ducked music bed, on the loudness target.

Hosted voices are the loopback fakes of their APIs (tests/fakes/speech.py); the offline voice is the
real espeak-ng, skipped where it is not installed. The fake OpenAI voice answers a 1 kHz tone, the
native sound is a 440 Hz tone and the music a 70 + 105 Hz chord, so each can be heard apart by band.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shotline.config import Settings
from shotline.errors import InputError, UnknownProviderError
from shotline.memory.models import FPS, Breakdown, Character, DialogueLine, Shot, Sound, Take
from shotline.memory.store import Ledger
from shotline.tools.audio import (
    BROADCAST_LUFS,
    ONLINE_LUFS,
    SAMPLE_RATE,
    audio_duration,
    measure_loudness,
    rms_dbfs,
)
from shotline.tools.ffmpeg import ffmpeg_exe
from shotline.tools.soundtrack import (
    NO_ESPEAK,
    LinePlan,
    Soundtrack,
    cast,
    line_language,
    make_soundtrack,
    mix,
    plan_lines,
    recast,
    speak,
    speech_cost_usd,
    voice_from_settings,
)
from shotline.tools.speech import get_voice_model
from shotline.tools.speech.espeak import Espeak
from shotline.tools.speech.minimax import MiniMaxSpeech
from shotline.tools.speech.openai import OpenAISpeech
from shotline.tools.timeline import EditDecision
from tests.fakes.server import FakeServer, Handler
from tests.fakes.speech import MiniMaxSpeechFake, OpenAISpeechFake, minimax_error, openai_error

OPENAI_KEY = "sk-test-soundtrack-7d21e0"
MINIMAX_KEY = "mmx-soundtrack-test-55c3"
CEILING_DBTP = -1.0
FRAME_S = 1 / FPS
NEEDS_ESPEAK = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)"
)

# (shot id, seconds, [(character, line)]): four lines by two characters over three shots
SCRIPT = (
    ("001", 3.0, [("mei", "Open the door."), ("tan", "Who is there?")]),
    ("002", 2.5, [("tan", "It is late.")]),
    ("003", 3.0, [("mei", "Thirty years, Tan.")]),
)
FRAMES = sum(round(seconds * FPS) for _, seconds, _ in SCRIPT)
DURATION_S = FRAMES / FPS  # 8.5


# --- the cut --------------------------------------------------------------------------------------


def breakdown() -> Breakdown:
    characters = [
        Character(id="mei", name="MEI", description="MEI (20s), a courier; she runs", color="#e0b000"),
        Character(id="tan", name="OLD TAN", description="OLD TAN (70s), a stooped old man", color="#3060c0"),
    ]
    return Breakdown(title="Locket", scenes=[], characters=characters, locations=[])


def decisions(script: tuple = SCRIPT, *, parenthetical: str | None = None) -> list[EditDecision]:
    cut, frame = [], 0
    for number, (shot_id, seconds, lines) in enumerate(script, start=1):
        shot = Shot(
            id=shot_id,
            number=number,
            scene="sc1",
            framing="medium",
            camera="static",
            duration_s=seconds,
            location="shop",
            characters=sorted({c for c, _ in lines}),
            dialogue=[
                DialogueLine(character=c, text=t, parenthetical=parenthetical, line=number) for c, t in lines
            ],
        )
        take = Take(  # never decoded: the sound works from the decisions
            shot_id=shot_id,
            render_key=f"key-{shot_id}",
            model="animatic",
            path=f"/takes/{shot_id}.mp4",
            sha256="0" * 64,
            duration_s=seconds,
            width=320,
            height=180,
        )
        frames = round(seconds * FPS)
        cut.append(EditDecision(shot=shot, take=take, start_frame=frame, frames=frames))
        frame += frames
    return cut


def lavfi(dest: Path, source: str, *, channels: int = 2, codec: str = "pcm_s16le") -> Path:
    args = ["-ar", str(SAMPLE_RATE), "-ac", str(channels), "-c:a", codec, str(dest)]
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", source, *args], check=True)
    return dest


def samples(path: Path) -> np.ndarray:
    raw = subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-ac", "1", "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.float32)


def onset_s(signal: np.ndarray, near_s: float, floor_db: float = -30.0) -> float:
    """Where sound starts near `near_s`: the first 2 ms window within `floor_db` of the loudest
    window in the next second, searching from 0.25 s before."""
    hop = SAMPLE_RATE // 500
    lo, hi = int((near_s - 0.25) * SAMPLE_RATE), int((near_s + 1.0) * SAMPLE_RATE)
    chunk = signal[lo:hi]
    rms = np.sqrt(np.mean(chunk[: len(chunk) // hop * hop].reshape(-1, hop) ** 2, axis=1))
    first = int(np.flatnonzero(rms >= rms.max() * 10 ** (floor_db / 20))[0])
    return (lo + first * hop) / SAMPLE_RATE


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "speech"


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("material")
    chord = "sine=f=70:d=6,volume=0.5[a];sine=f=105:d=6,volume=0.3[b];[a][b]amix=inputs=2:normalize=0"
    native = f"aevalsrc=0.3*sin(2*PI*440*t)*between(t\\,3.0\\,5.5):d={DURATION_S}:s={SAMPLE_RATE}"
    junk = root / "notes.mp3"
    junk.write_text("not audio")
    return {
        "music": lavfi(root / "bed.mp3", chord, codec="libmp3lame"),
        "native": lavfi(root / "native.wav", native),
        "junk": junk,
        "root": root,
    }


def plug(shared: tuple[FakeServer, list[Handler]], fake: Handler) -> FakeServer:
    srv, slot = shared
    slot[:] = [fake]
    srv.requests.clear()
    return srv


def run(voice: Any, coro_fn) -> Any:
    async def main() -> Any:
        try:
            return await coro_fn()
        finally:
            await voice.aclose()

    return asyncio.run(main())


def said(server: FakeServer) -> list[str]:
    return [r.json()["input"] for r in server.calls("POST", "/v1/audio/speech")]


def charges(ledger: Ledger) -> list[tuple]:
    with sqlite3.connect(ledger.path) as db:
        return db.execute("SELECT shot_id, render_key, model, cost_usd, note FROM charges").fetchall()


# --- the voice from the settings ------------------------------------------------------------------


def test_voice_from_settings_says_why_there_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setattr("shotline.tools.soundtrack.espeak_binary", lambda: None)
    assert voice_from_settings(Settings(speech_provider="auto")) == (None, NO_ESPEAK)
    assert voice_from_settings(Settings(speech_provider="none"))[0] is None
    voice, note = voice_from_settings(Settings(speech_provider="openai"))
    assert voice is None and "OPENAI_API_KEY" in note and note.startswith("captions only")
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    voice, note = voice_from_settings(Settings(speech_provider="OpenAI", speech_model="tts-1-hd"))
    assert isinstance(voice, OpenAISpeech) and voice.card.model_id == "tts-1-hd" and note == ""
    with pytest.raises(UnknownProviderError, match="auto, none, espeak"):
        voice_from_settings(Settings(speech_provider="bark"))
    with pytest.raises(InputError, match=r"SHOTLINE_SPEECH_MODEL='tts-9'.*known models: gpt-4o-mini-tts"):
        voice_from_settings(Settings(speech_provider="openai", speech_model="tts-9"))
    monkeypatch.setenv("SHOTLINE_SPEECH_PROVIDER", "minimax")
    monkeypatch.setenv("SHOTLINE_SPEECH_MODEL", "speech-02-turbo")
    assert (Settings().speech_provider, Settings().speech_model) == ("minimax", "speech-02-turbo")


# --- casting --------------------------------------------------------------------------------------


def test_cast_keeps_voices_and_gives_new_speakers_distinct_fitting_ones() -> None:
    card = get_voice_model("openai", Settings()).card
    bd = breakdown()
    cast_bd = cast(bd, card, speaking=["mei", "tan"])
    mei, tan = (cast_bd.character(c).voices["openai"] for c in ("mei", "tan"))
    assert mei != tan and card.voice(mei).gender == "female" and card.voice(tan).gender == "male"
    assert bd.character("mei").voices == {}  # a copy: the bible changes only when the editor saves it
    assert cast(bd, card, speaking=["mei", "tan"]) == cast_bd  # deterministic
    bd.character("mei").voices["openai"] = "sage"
    again = cast(bd, card, speaking=["mei", "tan"])
    assert again.character("mei").voices["openai"] == "sage"  # kept
    assert cast(bd, card).character("tan").voices == {}  # nobody speaks in a script with no dialogue


def test_recast_by_hint_picks_a_different_fitting_voice_and_an_id_wins() -> None:
    card = get_voice_model("openai", Settings()).card
    bd = cast(breakdown(), card, speaking=["mei", "tan"])
    mei = card.voice(bd.character("mei").voices["openai"])
    tan = bd.character("tan").voices["openai"]

    deeper = recast(bd, "mei", card, hint="deeper")
    new = card.voice(deeper.character("mei").voices["openai"])
    assert new.id != mei.id and new.gender == "female" and new.age in ("adult", "old")
    assert deeper.character("tan").voices["openai"] == tan  # the others keep theirs
    assert recast(bd, "mei", card, hint="更低沉").character("mei").voices["openai"] != mei.id
    woman = recast(bd, "tan", card, hint="a woman's voice").character("tan").voices["openai"]
    assert card.voice(woman).gender == "female" and woman != mei.id  # not someone else's voice
    older = card.voice(recast(bd, "mei", card, hint="older").character("mei").voices["openai"])
    assert older.gender == "female" and older.age in ("adult", "old")

    assert recast(bd, "mei", card, voice="onyx", hint="higher").character("mei").voices["openai"] == "onyx"
    assert recast(bd, "mei", card, voice="Shimmer").character("mei").voices["openai"] == "shimmer"
    with pytest.raises(InputError, match=r"no voice 'my-clone'.*alloy, ash"):
        recast(bd, "mei", card, voice="my-clone")
    open_card = get_voice_model("elevenlabs", Settings()).card  # cloned voices are passed by id
    assert recast(bd, "mei", open_card, voice="custom-clone-7").character("mei").voices["elevenlabs"] == (
        "custom-clone-7"
    )
    with pytest.raises(InputError, match="no character 'kaito'"):
        recast(bd, "kaito", card, hint="older")


# --- planning -------------------------------------------------------------------------------------


def test_plan_places_lines_where_the_subtitles_do_and_prices_them(cache: Path) -> None:
    voice = OpenAISpeech(api_key=OPENAI_KEY)
    plan = plan_lines(decisions(), breakdown(), voice, cache)
    assert [(ln.shot_id, ln.index, ln.character) for ln in plan] == [
        ("001", 0, "mei"),
        ("001", 1, "tan"),
        ("002", 0, "tan"),
        ("003", 0, "mei"),
    ]
    assert all(ln.source == "tts" and not ln.cached and ln.provider == "openai" for ln in plan)
    assert plan[0].end_s == plan[1].start_s and plan[1].end_s == pytest.approx(3.0)  # next line, shot end
    assert plan[2].start_s > 3.0 and plan[3].start_s > 5.5
    assert speech_cost_usd(plan) == pytest.approx(sum(len(t) for *_, t in _lines()) / 1000 * 0.015, abs=1e-5)
    # the delivery note is part of the request only for a model that acts on it
    directed = plan_lines(decisions(parenthetical="(whispering)"), breakdown(), voice, cache)
    assert directed[0].direction == "whispering" and directed[0].key != plan[0].key
    tts1 = OpenAISpeech(api_key=OPENAI_KEY, model_id="tts-1")
    plain = plan_lines(decisions(), breakdown(), tts1, cache)
    assert (
        plan_lines(decisions(parenthetical="(whispering)"), breakdown(), tts1, cache)[0].key == plain[0].key
    )
    off = plan_lines(decisions(), breakdown(), voice, cache, enabled=False)
    assert {ln.source for ln in off} == {"caption"} and speech_cost_usd(off) == 0
    assert {ln.source for ln in plan_lines(decisions(), breakdown(), None, cache)} == {"caption"}
    assert line_language("你又迟到了。", "en") == "zh" and line_language("OK, fine.", "zh") == "en"
    assert line_language("Rain.", "en") == "en"


def _lines() -> list[tuple[str, str, str]]:
    return [(shot_id, c, t) for shot_id, _, lines in SCRIPT for c, t in lines]


# --- espeak, the offline voice --------------------------------------------------------------------


@NEEDS_ESPEAK
def test_espeak_cut_voices_timing_and_loudness(cache: Path, tmp_path: Path) -> None:
    voice = Espeak()
    plan = plan_lines(decisions(), breakdown(), voice, cache)
    spoken = asyncio.run(speak(plan, voice, cache))
    assert speech_cost_usd(plan) == 0 and all(ln.source == "tts" and ln.path for ln in spoken), spoken
    by = {c: {ln.voice for ln in spoken if ln.character == c} for c in ("mei", "tan")}
    assert len(by["mei"]) == len(by["tan"]) == 1 and by["mei"] != by["tan"]  # one voice each, not shared
    for line in spoken:  # each fits its slot
        assert line.start_s + line.spoken_s <= line.end_s + 0.01, line

    online = mix(spoken, DURATION_S, tmp_path / "online.wav", native=None, sound=Sound())
    broadcast = mix(
        spoken, DURATION_S, tmp_path / "broadcast.wav", native=None, sound=Sound(target_lufs=BROADCAST_LUFS)
    )
    for path, measured, target in (
        (tmp_path / "online.wav", online, ONLINE_LUFS),
        (tmp_path / "broadcast.wav", broadcast, BROADCAST_LUFS),
    ):
        assert abs(measured.integrated_lufs - target) <= 1.0, measured
        assert measured.true_peak_dbtp < CEILING_DBTP, measured
        assert measure_loudness(path) == measured
        assert audio_duration(path) == pytest.approx(DURATION_S, abs=1.5 / SAMPLE_RATE)
    signal = samples(tmp_path / "online.wav")
    onsets = [onset_s(signal, line.start_s) for line in spoken]
    for line, onset in zip(spoken, onsets, strict=True):
        assert abs(onset - line.start_s) <= FRAME_S, (line.start_s, onset)


# --- hosted voices: cache, ledger, cost, secrets --------------------------------------------------


@pytest.fixture
def openai(shared: tuple[FakeServer, list[Handler]]) -> tuple[FakeServer, OpenAISpeechFake]:
    fake = OpenAISpeechFake(api_key=OPENAI_KEY, seconds=0.5, freq=1000.0)
    return plug(shared, fake), fake


def openai_voice(server: FakeServer, key: str = OPENAI_KEY) -> OpenAISpeech:
    return OpenAISpeech(api_key=key, base_url=f"{server.url}/v1")


def test_cache_pays_each_line_once_and_respeaks_only_a_changed_line(
    openai, cache: Path, tmp_path: Path
) -> None:
    server, _ = openai
    ledger = Ledger(tmp_path / "ledger.sqlite")
    progress: list[tuple[int, int]] = []

    def once(script: tuple = SCRIPT) -> list[LinePlan]:
        voice = openai_voice(server)
        plan = plan_lines(decisions(script), breakdown(), voice, cache)
        return run(
            voice,
            lambda: speak(plan, voice, cache, ledger=ledger, project_id="p1", on_progress=_track(progress)),
        )

    first = once()
    assert sorted(said(server)) == sorted(t for *_, t in _lines())
    assert [ln.cached for ln in first] == [False] * 4 and all(ln.path and ln.path.is_file() for ln in first)
    assert len(charges(ledger)) == 4 and progress[-1] == (4, 4)
    server.requests.clear()
    second = once()
    assert said(server) == [] and len(charges(ledger)) == 4  # nothing spoken, nothing billed again
    assert all(ln.cached and ln.cost_usd == 0 for ln in second)
    assert [ln.path for ln in second] == [ln.path for ln in first]
    changed = (SCRIPT[0], ("002", 2.5, [("tan", "It is far too late.")]), SCRIPT[2])
    third = once(changed)
    assert said(server) == ["It is far too late."] and len(charges(ledger)) == 5
    assert [ln.cached for ln in third] == [True, True, False, True]


def _track(progress: list[tuple[int, int]]):
    return lambda done, total: progress.append((done, total))


@pytest.fixture
def minimax(shared: tuple[FakeServer, list[Handler]]) -> tuple[FakeServer, MiniMaxSpeechFake]:
    fake = MiniMaxSpeechFake(api_key=MINIMAX_KEY, seconds=0.6)
    return plug(shared, fake), fake


def test_paid_voice_costs_the_card_price_one_ledger_row_a_line_and_no_secret(
    minimax, cache: Path, tmp_path: Path
) -> None:
    server, _ = minimax
    voice = MiniMaxSpeech(api_key=MINIMAX_KEY, base_url=server.url)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    plan = plan_lines(decisions(), breakdown(), voice, cache)
    price = voice.card.usd_per_1k_chars
    assert speech_cost_usd(plan) == pytest.approx(sum(len(t) for *_, t in _lines()) * price / 1000, abs=1e-5)
    spoken = run(voice, lambda: speak(plan, voice, cache, ledger=ledger, project_id="p1"))
    rows = charges(ledger)
    assert (
        len(rows) == 4
        and {r[4] for r in rows} == {"speech"}
        and {r[2] for r in rows} == {"minimax/speech-2.8-hd"}
    )
    assert sorted(r[0] for r in rows) == ["001", "001", "002", "003"]
    assert sum(r[3] for r in rows) == pytest.approx(speech_cost_usd(plan))
    assert all(ln.path and ln.path.suffix == ".wav" and ln.spoken_s for ln in spoken)  # mp3 in, cut to wav
    assert sum(ln.cost_usd for ln in spoken) == pytest.approx(speech_cost_usd(plan))

    # a wrong key: every line a caption, with a note that names the fix and never the key
    wrong = MiniMaxSpeech(api_key="mmx-wrong-key-0042", base_url=server.url)
    bad = run(
        wrong,
        lambda: speak(plan_lines(decisions(), breakdown(), wrong, tmp_path / "c2"), wrong, tmp_path / "c2"),
    )
    assert {ln.source for ln in bad} == {"caption"} and "MINIMAX_API_KEY" in bad[0].note
    report = Soundtrack(provider="minimax", lines=[*spoken, *bad]).model_dump_json()
    assert MINIMAX_KEY not in report and "mmx-wrong-key-0042" not in report
    for path in tmp_path.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert MINIMAX_KEY.encode() not in blob and b"mmx-wrong-key-0042" not in blob, path


def test_openai_bad_key_note_is_scrubbed(openai, cache: Path) -> None:
    server, _ = openai  # this fake quotes the key it was given, whole
    voice = openai_voice(server, key="sk-wrong-key-3141")
    spoken = run(voice, lambda: speak(plan_lines(decisions(), breakdown(), voice, cache), voice, cache))
    assert all(ln.source == "caption" and "check OPENAI_API_KEY" in ln.note for ln in spoken)
    assert all("sk-wrong-key-3141" not in ln.note for ln in spoken)


def test_a_refused_line_becomes_a_caption_and_a_429_is_retried(
    minimax, openai_fake_server, cache: Path
) -> None:
    server, fake = minimax
    fake.canned = [minimax_error(1026, "input new_sensitive")]
    voice = MiniMaxSpeech(api_key=MINIMAX_KEY, base_url=server.url)
    plan = plan_lines(decisions(), breakdown(), voice, cache)
    spoken = run(voice, lambda: speak(plan, voice, cache, concurrency=1))
    assert spoken[0].source == "caption" and "refused" in spoken[0].note and spoken[0].path is None
    assert [ln.source for ln in spoken[1:]] == ["tts"] * 3  # the film goes on

    server, fake = openai_fake_server
    fake.canned = [
        openai_error(429, "Rate limit reached", "requests", "rate_limit_exceeded", **{"Retry-After": "0"})
    ]
    voice = openai_voice(server)
    one = plan_lines(decisions((SCRIPT[1],)), breakdown(), voice, cache)
    spoken = run(voice, lambda: speak(one, voice, cache))
    assert len(server.calls("POST")) == 2 and spoken[0].source == "tts" and spoken[0].path.is_file()


@pytest.fixture
def openai_fake_server() -> Any:
    fake = OpenAISpeechFake(api_key=OPENAI_KEY, freq=1000.0)
    with FakeServer(fake) as server:
        yield server, fake


def test_a_long_line_is_sped_up_to_fit_and_past_1_25x_runs_over(shared, cache: Path) -> None:
    server = plug(shared, OpenAISpeechFake(api_key=OPENAI_KEY, seconds=2.5, freq=1000.0))
    voice = openai_voice(server)
    script = (("001", 2.5, [("mei", "A long line.")]), ("002", 2.5, [("mei", "One."), ("tan", "Two.")]))
    spoken = run(voice, lambda: speak(plan_lines(decisions(script), breakdown(), voice, cache), voice, cache))
    fits, *crowded = spoken
    assert fits.tempo == pytest.approx(2.5 / (fits.end_s - fits.start_s), abs=0.002) and fits.tempo > 1
    assert fits.spoken_s == pytest.approx(fits.end_s - fits.start_s, abs=0.01) and "sped up" in fits.note
    assert audio_duration(fits.path) == pytest.approx(fits.spoken_s, abs=0.02)  # same pitch, shorter
    for line in crowded:
        assert line.tempo == 1.25 and line.spoken_s == pytest.approx(2.0, abs=0.01)
        assert "runs" in line.note and "past its slot" in line.note


# --- the mix with native sound and music ----------------------------------------------------------


def test_native_lines_are_not_spoken_and_the_native_bed_sounds_in_place(
    openai, material: dict[str, Path], cache: Path, tmp_path: Path
) -> None:
    server, _ = openai
    voice = openai_voice(server)
    plan = plan_lines(decisions(), breakdown(), voice, cache, native={"002"})
    assert [ln.source for ln in plan] == ["tts", "tts", "native", "tts"] and plan[2].cost_usd == 0
    spoken = run(voice, lambda: speak(plan, voice, cache))
    assert "It is late." not in said(server) and len(said(server)) == 3
    dest = tmp_path / "mix.wav"
    measured = mix(spoken, DURATION_S, dest, native=material["native"], sound=Sound())
    assert abs(measured.integrated_lufs - ONLINE_LUFS) <= 1.0 and measured.true_peak_dbtp < CEILING_DBTP
    native_band = dict(highpass_hz=300, lowpass_hz=600)
    there = rms_dbfs(dest, 3.6, 5.2, **native_band)
    assert there > -40 and there - rms_dbfs(dest, 6.5, 8.4, **native_band) >= 30
    for line in (spoken[0], spoken[3]):  # the voiced lines sound where they were put
        assert rms_dbfs(dest, line.start_s + 0.05, line.start_s + 0.45, highpass_hz=800) > -40


def test_music_loops_and_ducks_under_speech(
    openai, material: dict[str, Path], cache: Path, tmp_path: Path
) -> None:
    server, _ = openai
    voice = openai_voice(server)
    sound = Sound(music=str(material["music"]), music_db=-6.0)
    track = run(
        voice,
        lambda: make_soundtrack(
            decisions(), breakdown(), voice, cache, tmp_path / "mix.wav", duration_s=DURATION_S, sound=sound
        ),
    )
    assert track.provider == "openai" and track.speech_usd > 0 and track.loudness is not None
    assert abs(track.loudness.integrated_lufs - ONLINE_LUFS) <= 1.0
    dest = tmp_path / "mix.wav"
    under = [rms_dbfs(dest, ln.start_s + 0.1, ln.start_s + 0.4, lowpass_hz=150) for ln in track.lines]
    free = [rms_dbfs(dest, 7.0, 8.4, lowpass_hz=150), rms_dbfs(dest, 4.2, 5.4, lowpass_hz=150)]
    assert min(free) > -45 and min(free) - max(under) >= 10, (free, under)  # looped past 6 s, ducked


def test_no_voice_is_captions_only_over_native_and_music(
    monkeypatch: pytest.MonkeyPatch, material: dict[str, Path], cache: Path, tmp_path: Path
) -> None:
    monkeypatch.setattr("shotline.tools.soundtrack.espeak_binary", lambda: None)
    voice, note = voice_from_settings(Settings(speech_provider="auto"))
    assert voice is None and note == NO_ESPEAK
    dest = tmp_path / "mix.wav"
    track = asyncio.run(
        make_soundtrack(
            decisions(),
            breakdown(),
            voice,
            cache,
            dest,
            duration_s=DURATION_S,
            native=material["native"],
            sound=Sound(music=str(material["music"])),
            note=note,
        )
    )
    assert track.note == NO_ESPEAK and track.provider is None and track.speech_usd == 0
    assert {ln.source for ln in track.lines} == {"caption"} and not cache.exists()
    assert abs(track.loudness.integrated_lufs - ONLINE_LUFS) <= 1.0
    assert rms_dbfs(dest, 3.6, 5.2, highpass_hz=300, lowpass_hz=600) > -40  # native
    assert rms_dbfs(dest, 6.0, 8.4, lowpass_hz=150) > -40  # music, not ducked: nobody speaks
    assert rms_dbfs(dest, 0.5, 2.5, highpass_hz=800) < -60  # no voice


def test_silence_stays_silence_and_bad_music_is_named(material: dict[str, Path], tmp_path: Path) -> None:
    quiet = mix([], 2.0, tmp_path / "quiet.wav", native=None, sound=Sound())
    assert quiet.silent and audio_duration(tmp_path / "quiet.wav") == pytest.approx(2.0, abs=1e-4)
    with pytest.raises(InputError, match=r"'nope\.mp3' does not exist"):
        mix([], 2.0, tmp_path / "x.wav", native=None, sound=Sound(music=str(tmp_path / "nope.mp3")))
    with pytest.raises(InputError, match=r"'notes\.mp3' is not audio"):
        mix([], 2.0, tmp_path / "x.wav", native=None, sound=Sound(music=str(material["junk"])))
    assert not (tmp_path / "x.wav").exists()
