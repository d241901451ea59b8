"""Sound for the cut: measure loudness, normalise it, and lay dialogue over a ducked music bed.

Everything runs through the bundled ffmpeg binary (there is no ffprobe). `ebur128` measures
(ITU-R BS.1770: gated integrated loudness, loudness range, 4x oversampled true peak). `loudnorm`
normalises in two passes, measure then apply, always in its linear mode (one gain for the whole
film), because its dynamic mode rides the gain every few seconds and pumps a music bed; the peaks
that gain would push over the ceiling are shaved first by a limiter run at 4x the sample rate. The
written file is measured again and trimmed if needed, so a target is never assumed, only measured.
Online platforms want -14 LUFS, broadcast (EBU R128) -23 LUFS; both with true peak under -1 dBTP.
Ducking is a gain envelope computed from the lines' times, not a compressor: it is exact and testable.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from shotline.errors import RenderError
from shotline.tools.ffmpeg import ffmpeg_exe

SAMPLE_RATE = 48_000
ONLINE_LUFS = -14.0
BROADCAST_LUFS = -23.0
TRUE_PEAK_DBTP = -1.5  # 0.5 dB under the -1 dBTP ceiling both targets set: room for codec overshoot
SILENT_LUFS = -70.0  # the BS.1770 absolute gate: quieter than this is silence, nothing to normalise
LOUDNESS_TOLERANCE_LU = 0.5  # trim the gain when the normalised file lands further than this off
MAX_LRA = 50.0  # loudnorm's upper limit for its LRA target
LIMITER_MARGIN_DB = 0.3  # the limiter's ceiling sits this far under the true-peak target
LIMITER_PASSES = 3
STEREO = f"aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo"
FFMPEG_TIMEOUT_S = 600
STDERR_TAIL_LINES = 8

_NUMBER = r"(-?inf|nan|-?\d+(?:\.\d+)?)"
_SUMMARY = {
    "integrated_lufs": re.compile(rf"Integrated loudness:\s+I:\s+{_NUMBER} LUFS\s+Threshold:"),
    "threshold_lufs": re.compile(rf"Integrated loudness:\s+I:\s+\S+ LUFS\s+Threshold:\s+{_NUMBER} LUFS"),
    "lra_lu": re.compile(rf"LRA:\s+{_NUMBER} LU\b"),
    "true_peak_dbtp": re.compile(rf"True peak:\s+Peak:\s+{_NUMBER} dBFS"),
}


class Loudness(BaseModel):
    """What ebur128 measured in a file. Silence reads as -inf (or -70, the gate)."""

    model_config = ConfigDict(frozen=True)
    integrated_lufs: float = Field(description="gated integrated loudness, LUFS")
    true_peak_dbtp: float = Field(description="highest 4x oversampled peak over all channels, dBTP")
    lra_lu: float = Field(description="loudness range, LU")
    threshold_lufs: float = Field(description="relative gate of the integrated measure, LUFS")

    @property
    def silent(self) -> bool:
        return not self.integrated_lufs > SILENT_LUFS


class DialogueLine(BaseModel):
    """One spoken line, placed on the cut's clock."""

    model_config = ConfigDict(frozen=True)
    start_s: float = Field(ge=0.0, description="where the line starts in the cut, seconds")
    path: Path = Field(description="the line's audio (WAV, MP3 ... anything ffmpeg reads)")


# --- ffmpeg --------------------------------------------------------------------------------------


def _run(args: Sequence[str], what: str) -> str:
    """Run ffmpeg; return its stderr (where filters print their measurements) or raise RenderError."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-nostats", *args]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"ffmpeg could not {what}: {exc}") from exc
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        raise RenderError(f"ffmpeg could not {what}: {' | '.join(lines[-STDERR_TAIL_LINES:])}")
    return stderr


def _existing(path: Path | str, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise RenderError(f"{what} {path.name!r} does not exist")
    return path


def _number(text: str) -> float:
    return float(text) if text not in ("nan", "-nan") else float("-inf")


def _write_atomic(dest: Path, args: Sequence[str], what: str) -> Path:
    """Run an ffmpeg command that writes `dest`: to a part file of its own (two writers of the same
    file never share one), then renamed, so a reader never sees half a file."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        _run([*args, "-f", "wav", "-y", str(part)], what)
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return dest


# --- measuring -----------------------------------------------------------------------------------


def measure_loudness(path: Path | str) -> Loudness:
    """Integrated loudness (LUFS), true peak (dBTP) and loudness range (LU) of a file, by ebur128."""
    path = _existing(path, "audio file")
    stderr = _run(
        ["-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true:framelog=verbose", "-f", "null", "-"],
        f"measure the loudness of {path.name}",
    )
    summary = stderr.rsplit("Summary:", 1)[-1]
    values: dict[str, float] = {}
    for key, pattern in _SUMMARY.items():
        found = pattern.search(summary)
        if found is None:
            raise RenderError(f"ffmpeg printed no {key} for {path.name}; is it audio?")
        values[key] = _number(found.group(1))
    return Loudness(**values)


def audio_duration(path: Path | str) -> float:
    """Seconds of audio in a file, counted by decoding it (container durations lie for MP3)."""
    path = _existing(path, "audio file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise RenderError(f"{path.name} has no audio stream")
            stream = container.streams.audio[0]
            samples = sum(frame.samples for frame in container.decode(stream))
            return samples / float(stream.codec_context.sample_rate or SAMPLE_RATE)
    except av.error.FFmpegError as exc:
        raise RenderError(f"{path.name} is not readable audio: {exc}") from exc


def rms_dbfs(
    path: Path | str,
    start_s: float,
    end_s: float,
    *,
    highpass_hz: float | None = None,
    lowpass_hz: float | None = None,
) -> float:
    """RMS level (dBFS, mono sum) of a window of a file, optionally of one band only; for QC and tests.

    A band lets a check hear one part of a mix: music in the lows under speech in the mids.
    """
    path = _existing(path, "audio file")
    if end_s <= start_s:
        raise RenderError(f"empty window {start_s}..{end_s} s")
    chain = ["aformat=channel_layouts=mono"]
    if highpass_hz:
        chain += [f"highpass=f={highpass_hz}:poles=2", f"highpass=f={highpass_hz}:poles=2"]
    if lowpass_hz:
        chain += [f"lowpass=f={lowpass_hz}:poles=2", f"lowpass=f={lowpass_hz}:poles=2"]
    # decode from the start and trim after filtering, so the filters have settled by the window
    chain.append(f"atrim=start={start_s:.4f}:end={end_s:.4f}")
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path)]
    command += ["-map", "0:a:0", "-af", ",".join(chain), "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"ffmpeg could not read {path.name}: {exc}") from exc
    if proc.returncode != 0:
        raise RenderError(
            f"ffmpeg could not read {path.name}: {proc.stderr.decode('utf-8', 'replace')[-300:]}"
        )
    samples = np.frombuffer(proc.stdout, dtype=np.float32)
    if samples.size == 0:
        return float("-inf")
    power = float(np.mean(np.square(samples, dtype=np.float64)))
    return 10.0 * math.log10(power) if power > 0 else float("-inf")


# --- normalising ---------------------------------------------------------------------------------


def _loudnorm(target_lufs: float, true_peak: float, lra: float, measured: Loudness) -> str:
    """The second loudnorm pass: the targets plus what the first pass measured. With the measured
    range as the range target (when wider) and the peaks already shaved, loudnorm stays linear."""
    lra_target = min(MAX_LRA, max(lra, math.ceil(measured.lra_lu + 1.0)))
    return (
        f"loudnorm=I={target_lufs}:TP={true_peak}:LRA={lra_target}"
        f":measured_I={measured.integrated_lufs:.2f}:measured_TP={measured.true_peak_dbtp:.2f}"
        f":measured_LRA={measured.lra_lu:.2f}:measured_thresh={measured.threshold_lufs:.2f}"
        ":linear=true"
    )


def _shave_peaks(src: Path, tmp: Path, target_lufs: float, true_peak: float, before: Loudness) -> Path:
    """Limit the peaks that would overshoot `true_peak` once the file is raised to the target, so that
    the loudnorm pass can stay one linear gain (its dynamic mode pumps the music bed under speech).

    The limiter runs at 4x the rate, so it catches inter-sample peaks too; limiting costs a little
    loudness, which raises the gain needed, so it is measured and run again until the peaks fit.
    """
    shaved = tmp / "shaved.wav"
    gain = target_lufs - before.integrated_lufs
    ceiling = 10 ** ((true_peak - LIMITER_MARGIN_DB) / 20)
    for _ in range(LIMITER_PASSES):
        chain = (
            f"{STEREO},volume={gain:.3f}dB,aresample={4 * SAMPLE_RATE},"
            f"alimiter=limit={ceiling:.5f}:attack=2:release=80:level=false:latency=true,"
            f"{STEREO},volume={-gain:.3f}dB"
        )
        _run(
            ["-i", str(src), "-map", "0:a:0", "-af", chain, "-c:a", "pcm_f32le", "-y", str(shaved)],
            "limit peaks",
        )
        measured = measure_loudness(shaved)
        need = target_lufs - measured.integrated_lufs
        if measured.true_peak_dbtp + need <= true_peak:
            break
        gain = need + LIMITER_MARGIN_DB
    return shaved


def _finish(levelled: Path, dest: Path, target_lufs: float, true_peak: float, encode: list[str]) -> Loudness:
    """Write the loudnormed file, trimming its gain if it landed off target, and never letting the
    true peak over the ceiling: when both cannot be had, the peak wins."""
    measured = measure_loudness(levelled)
    gain = target_lufs - measured.integrated_lufs
    if abs(gain) <= LOUDNESS_TOLERANCE_LU:
        gain = 0.0
    gain = min(gain, true_peak - measured.true_peak_dbtp)
    _write_atomic(dest, ["-i", str(levelled), "-af", f"volume={gain:.3f}dB", *encode], f"write {dest.name}")
    written = measure_loudness(dest)
    if written.true_peak_dbtp > true_peak:  # 16-bit rounding pushed a peak over: take a little off
        gain -= written.true_peak_dbtp - true_peak + 0.05
        _write_atomic(
            dest, ["-i", str(levelled), "-af", f"volume={gain:.3f}dB", *encode], f"write {dest.name}"
        )
        written = measure_loudness(dest)
    return written


def normalise(
    src: Path | str,
    dest: Path | str,
    *,
    target_lufs: float = ONLINE_LUFS,
    true_peak: float = TRUE_PEAK_DBTP,
    lra: float = 20.0,
) -> Loudness:
    """Write `src` to `dest` (48 kHz stereo 16-bit WAV) at `target_lufs` with true peak under
    `true_peak`, by two-pass loudnorm (linear: one gain for the whole film, after shaving the peaks
    that gain would push over the ceiling); returns the loudness measured in the written file.

    Silence is written as it is: there is no loudness to raise.
    """
    src = _existing(src, "audio file")
    dest = Path(dest)
    before = measure_loudness(src)
    encode = ["-c:a", "pcm_s16le", "-ar", str(SAMPLE_RATE), "-ac", "2", "-map_metadata", "-1"]
    if before.silent:
        _write_atomic(dest, ["-i", str(src), "-map", "0:a:0", "-af", STEREO, *encode], f"copy {src.name}")
        return measure_loudness(dest)
    with tempfile.TemporaryDirectory(prefix="shotline-loudnorm-") as tmp:
        source = src
        if before.true_peak_dbtp + (target_lufs - before.integrated_lufs) > true_peak:
            source = _shave_peaks(src, Path(tmp), target_lufs, true_peak, before)
            before = measure_loudness(source)
        levelled = Path(tmp) / "levelled.wav"
        chain = f"{STEREO},{_loudnorm(target_lufs, true_peak, lra, before)},{STEREO}"
        _run(
            ["-i", str(source), "-map", "0:a:0", "-af", chain, "-c:a", "pcm_f32le", "-y", str(levelled)],
            f"normalise the loudness of {src.name}",
        )
        return _finish(levelled, dest, target_lufs, true_peak, encode)


# --- one spoken line ------------------------------------------------------------------------------


def _samples(path: Path) -> np.ndarray:
    """The file decoded to mono float samples at SAMPLE_RATE."""
    command = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        str(path),
        "-map",
        "0:a:0",
    ]
    command += ["-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"]
    try:
        proc = subprocess.run(command, capture_output=True, timeout=FFMPEG_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RenderError(f"ffmpeg could not read {path.name}: {exc}") from exc
    if proc.returncode != 0:
        said = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"{path.name} is not readable audio: {' | '.join(said[-2:])}")
    return np.frombuffer(proc.stdout, dtype=np.float32)


def sound_span(path: Path | str, *, floor_db: float = -40.0) -> tuple[float, float] | None:
    """(start_s, end_s) of the sound in a file: from the first to the last sample within `floor_db`
    of its peak. None for silence. TTS answers open and close with silence of their own length;
    cutting it is what puts a line's first syllable on its cue."""
    samples = np.abs(_samples(_existing(path, "audio file")))
    peak = float(samples.max()) if samples.size else 0.0
    if peak < 10 ** (SILENT_LUFS / 20):
        return None
    loud = np.flatnonzero(samples >= peak * 10 ** (floor_db / 20))
    return float(loud[0]) / SAMPLE_RATE, float(loud[-1] + 1) / SAMPLE_RATE


def cut_line(src: Path | str, dest: Path | str, *, start_s: float, end_s: float, tempo: float = 1.0) -> Path:
    """`src` from `start_s` to `end_s`, played `tempo` times faster at the same pitch (atempo), as a
    48 kHz float WAV; written atomically."""
    src = _existing(src, "spoken line")
    if end_s <= start_s:
        raise RenderError(f"empty span {start_s}..{end_s} s of {src.name}")
    chain = f"aresample={SAMPLE_RATE},atrim=start={start_s:.5f}:end={end_s:.5f},asetpts=PTS-STARTPTS"
    if abs(tempo - 1.0) > 1e-3:
        chain += f",atempo={tempo:.4f}"
    return _write_atomic(
        Path(dest),
        ["-i", str(src), "-map", "0:a:0", "-af", chain, "-c:a", "pcm_f32le", "-map_metadata", "-1"],
        f"cut the line {src.name}",
    )


# --- mixing --------------------------------------------------------------------------------------


def duck_expression(spans: Sequence[tuple[float, float]], duck_db: float, fade_s: float) -> str:
    """A `volume` expression of time: 0 dB away from speech, -duck_db under it, with linear ramps of
    `fade_s` before each line starts and after it ends (so the bed breathes instead of pumping)."""
    if not spans or duck_db <= 0:
        return "1"
    fade = max(fade_s, 0.01)
    terms = [
        f"clip(min((t-{start - fade:.3f})/{fade:.3f},({end + fade:.3f}-t)/{fade:.3f}),0,1)"
        for start, end in spans
    ]
    depth = terms[0]
    for term in terms[1:]:
        depth = f"max({depth},{term})"
    return f"pow(10,-{duck_db:.2f}*{depth}/20)"


def _dialogue_bus(lines: Sequence[DialogueLine], duration_s: float, dest: Path) -> None:
    """Every line at its time on one stereo float track of exactly `duration_s`."""
    inputs: list[str] = []
    chains: list[str] = []
    for i, line in enumerate(lines):
        inputs += ["-i", str(line.path)]
        delay_ms = round(line.start_s * 1000)
        chains.append(f"[{i}:a:0]{STEREO},adelay=delays={delay_ms}:all=1[d{i}]")
    pads = "".join(f"[d{i}]" for i in range(len(lines)))
    chains.append(
        f"{pads}amix=inputs={len(lines)}:normalize=0:duration=longest,"
        f"apad=whole_dur={duration_s:.4f},atrim=duration={duration_s:.4f}[out]"
    )
    _run(
        [*inputs, "-filter_complex", ";".join(chains), "-map", "[out]", "-c:a", "pcm_f32le", "-y", str(dest)],
        "place the dialogue lines",
    )


def _fitted(index: int, duration_s: float) -> str:
    """Input `index` as 48 kHz stereo, padded with silence or cut to exactly `duration_s`."""
    return f"[{index}:a:0]{STEREO},apad=whole_dur={duration_s:.4f},atrim=duration={duration_s:.4f}"


def _bed(
    music: Path,
    duration_s: float,
    dest: Path,
    *,
    gain_db: float,
    envelope: str,
    others: Sequence[Path] = (),
) -> None:
    """The music looped to `duration_s`, levelled by `gain_db`, ducked by `envelope`, and summed with
    the other stems (the dialogue bus, the takes' own sound)."""
    args = ["-stream_loop", "-1", "-i", str(music)]
    bed = (
        f"[0:a:0]{STEREO},atrim=duration={duration_s:.4f},asetpts=PTS-STARTPTS,"
        f"asetnsamples=n=256,volume={gain_db:.3f}dB,volume='{envelope}':eval=frame"
    )
    if not others:
        graph = f"{bed}[out]"
    else:
        chains = [f"{bed}[bed]"]
        for i, stem in enumerate(others, start=1):
            args += ["-i", str(stem)]
            chains.append(f"{_fitted(i, duration_s)}[s{i}]")
        pads = "".join(f"[s{i}]" for i in range(1, len(others) + 1))
        chains.append(f"{pads}[bed]amix=inputs={len(others) + 1}:normalize=0:duration=first[out]")
        graph = ";".join(chains)
    _run(
        [*args, "-filter_complex", graph, "-map", "[out]", "-c:a", "pcm_f32le", "-y", str(dest)],
        f"lay the music bed {music.name}",
    )


def _sum(stems: Sequence[Path], duration_s: float, dest: Path) -> None:
    """Stems summed as they are (no ducking, no normalising), exactly `duration_s` long."""
    args: list[str] = []
    chains = []
    for i, stem in enumerate(stems):
        args += ["-i", str(stem)]
        chains.append(f"{_fitted(i, duration_s)}[s{i}]")
    pads = "".join(f"[s{i}]" for i in range(len(stems)))
    chains.append(f"{pads}amix=inputs={len(stems)}:normalize=0:duration=first[out]")
    _run(
        [*args, "-filter_complex", ";".join(chains), "-map", "[out]", "-c:a", "pcm_f32le", "-y", str(dest)],
        "sum the sound stems",
    )


def _silence(duration_s: float, dest: Path) -> None:
    _run(
        [
            "-f",
            "lavfi",
            "-i",
            f"anullsrc=r={SAMPLE_RATE}:cl=stereo",
            "-t",
            f"{duration_s:.4f}",
            "-c:a",
            "pcm_f32le",
            "-y",
            str(dest),
        ],
        "make silence",
    )


def mix_dialogue(
    lines: Sequence[DialogueLine | tuple[float, Path | str]],
    duration_s: float,
    dest: Path | str,
    **options: Any,
) -> Path:
    """`mix_sound`, returning the written file's path."""
    mix_sound(lines, duration_s, dest, **options)
    return Path(dest)


def mix_sound(
    lines: Sequence[DialogueLine | tuple[float, Path | str]],
    duration_s: float,
    dest: Path | str,
    *,
    music: Path | str | None = None,
    music_db: float = -6.0,
    duck_db: float = 12.0,
    fade_s: float = 0.25,
    target_lufs: float = ONLINE_LUFS,
    true_peak: float = TRUE_PEAK_DBTP,
    native: Path | str | None = None,
    duck_spans: Sequence[tuple[float, float]] = (),
) -> Loudness:
    """The film's sound: each line at its start time, over an optional music bed that sits `music_db`
    LU under the dialogue and ducks a further `duck_db` while anyone speaks; normalised to
    `target_lufs` with true peak under `true_peak`. Writes a 48 kHz stereo 16-bit WAV of exactly
    `duration_s` (a line running past the end is cut there) and returns the loudness measured in it.

    `native` is the takes' own sound on the cut's clock (a file as long as the cut, starting at 0):
    summed with the lines, never ducked; the music ducks under `duck_spans` too (lines the takes
    speak themselves), and is levelled against the native sound when no line is spoken.
    """
    if duration_s <= 0:
        raise RenderError(f"a mix needs a positive duration, got {duration_s}")
    placed = [
        line if isinstance(line, DialogueLine) else DialogueLine(start_s=line[0], path=Path(line[1]))
        for line in lines
    ]
    for line in placed:
        _existing(line.path, "dialogue line")
    music_path = _existing(music, "music bed") if music is not None else None
    native_path = _existing(native, "native sound") if native is not None else None
    with tempfile.TemporaryDirectory(prefix="shotline-mix-") as tmp:
        dialogue = Path(tmp) / "dialogue.wav" if placed else None
        if dialogue is not None:
            _dialogue_bus(placed, duration_s, dialogue)
        stems = [stem for stem in (dialogue, native_path) if stem is not None]
        mixed = Path(tmp) / "mixed.wav"
        if music_path is not None:
            gain = _bed_gain(music_path, dialogue or native_path, music_db)
            spans = [(ln.start_s, ln.start_s + audio_duration(ln.path)) for ln in placed]
            envelope = duck_expression(sorted([*spans, *duck_spans]), duck_db, fade_s)
            _bed(music_path, duration_s, mixed, gain_db=gain, envelope=envelope, others=stems)
        elif stems == [dialogue]:
            mixed = dialogue
        elif stems:
            _sum(stems, duration_s, mixed)
        else:
            _silence(duration_s, mixed)
        return normalise(mixed, dest, target_lufs=target_lufs, true_peak=true_peak)


def _bed_gain(music: Path, reference: Path | None, music_db: float) -> float:
    """Gain that puts the music `music_db` LU relative to the reference (the dialogue, else the takes'
    own sound); 0 with nothing to match."""
    if reference is None:
        return 0.0
    speech, bed = measure_loudness(reference), measure_loudness(music)
    if speech.silent or bed.silent:
        return 0.0
    return speech.integrated_lufs + music_db - bed.integrated_lufs
