"""ffmpeg and PyAV: probe files, grab frames, encode cuts. The only module that runs ffmpeg."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg
from PIL import Image

from shotline.errors import RenderError
from shotline.memory.models import FPS

SAMPLE_RATE = 48_000
STDERR_TAIL_LINES = 12


def ffmpeg_exe() -> str:
    """The ffmpeg binary bundled with imageio-ffmpeg (honours IMAGEIO_FFMPEG_EXE)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    fps: float
    frames: int
    width: int
    height: int
    codec: str
    has_audio: bool
    audio_codec: str | None = None
    pix_fmt: str | None = None


def probe(path: Path) -> VideoInfo:
    """Decode-level facts about a video file; raises RenderError if it is not a readable video."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise RenderError(f"{path.name} has no video stream")
            v = container.streams.video[0]
            rate = Fraction(v.average_rate or v.guessed_rate or 0)
            frames = v.frames
            if not frames:
                frames = sum(1 for _ in container.decode(v))
            if v.duration is not None and v.time_base is not None:
                duration = float(v.duration * v.time_base)
            elif rate:
                duration = frames / float(rate)
            else:
                duration = float(container.duration or 0) / av.time_base
            audio = container.streams.audio[0] if container.streams.audio else None
            return VideoInfo(
                duration_s=round(duration, 4),
                fps=float(rate),
                frames=frames,
                width=v.codec_context.width,
                height=v.codec_context.height,
                codec=v.codec_context.name,
                has_audio=audio is not None,
                audio_codec=audio.codec_context.name if audio is not None else None,
                pix_fmt=v.codec_context.pix_fmt,
            )
    except av.error.FFmpegError as exc:
        raise RenderError(f"{path.name} is not a readable video: {exc}") from exc


def has_audio(path: Path) -> bool:
    """Whether a file carries an audio stream; opens the container only, decodes nothing."""
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except av.error.FFmpegError as exc:
        raise RenderError(f"{Path(path).name} is not a readable video: {exc}") from exc


def grab_frame(path: Path, at_s: float) -> Image.Image:
    """The first frame shown at `at_s` seconds (the last frame if `at_s` is past the end).

    Seeks to the keyframe before `at_s` and decodes forward, so it costs a fraction of a GOP.
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise RenderError(f"{Path(path).name} has no video stream")
            stream = container.streams.video[0]
            if stream.time_base is not None and at_s > 0:
                container.seek(int(at_s / stream.time_base), stream=stream, backward=True)
            frame = None
            for frame in container.decode(stream):
                if frame.time is not None and frame.time >= at_s - 0.5 / FPS:
                    break
            if frame is None:
                raise RenderError(f"{Path(path).name} has no decodable frame")
            return frame.to_image()
    except av.error.FFmpegError as exc:
        raise RenderError(f"could not read a frame of {Path(path).name}: {exc}") from exc


# --- cuts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """One piece of a cut: the first `frames` frames (at FPS) of a media file.

    Whole frames, not seconds, so the encoded cut, the OTIO timeline and the subtitles agree to
    the frame. A file shorter than `frames` holds its last frame (and pads silence).
    """

    path: Path
    frames: int
    audio: bool

    @property
    def duration_s(self) -> float:
        return self.frames / FPS

    @property
    def samples(self) -> int:
        return self.frames * SAMPLE_RATE // FPS


def segment(path: Path, frames: int) -> Segment:
    """A Segment for `path`, looking up whether it has audio to mix or silence to make."""
    if frames <= 0:
        raise RenderError(f"{Path(path).name}: a segment needs at least one frame, got {frames}")
    return Segment(path=Path(path), frames=frames, audio=has_audio(path))


def _video_chain(i: int, seg: Segment, width: int, height: int) -> str:
    """Normalise input i to the cut's format (size, 24 fps, square pixels, yuv420p), exactly N frames."""
    return (
        f"[{i}:v:0]setpts=PTS-STARTPTS,fps={FPS},"
        f"scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p,"
        f"tpad=stop_mode=clone:stop={seg.frames},trim=end_frame={seg.frames},setpts=PTS-STARTPTS[v{i}]"
    )


def _audio_chain(i: int, seg: Segment) -> str:
    """Stereo 48 kHz audio of exactly the segment's length: the take's own, or silence if it has none."""
    fmt = f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo"
    if not seg.audio:
        return f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={seg.samples},{fmt}[a{i}]"
    return (
        f"[{i}:a:0]aresample={SAMPLE_RATE},{fmt},"
        f"apad=whole_len={seg.samples},atrim=end_sample={seg.samples},asetpts=PTS-STARTPTS[a{i}]"
    )


def cut_filtergraph(segments: Sequence[Segment], width: int, height: int) -> str:
    """One filtergraph that normalises every segment and concatenates them into [vout] and [aout]."""
    chains = []
    for i, seg in enumerate(segments):
        chains += [_video_chain(i, seg, width, height), _audio_chain(i, seg)]
    pads = "".join(f"[v{i}][a{i}]" for i in range(len(segments)))
    chains.append(f"{pads}concat=n={len(segments)}:v=1:a=1[vout][aout]")
    return ";".join(chains)


def cut_command(segments: Sequence[Segment], out_path: Path, width: int, height: int) -> list[str]:
    """The ffmpeg argv for a cut: H.264 yuv420p 24 fps + AAC stereo 48 kHz, faststart MP4."""
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    for seg in segments:
        # read only what the cut uses (plus slack), so long takes cost nothing extra to decode
        args += ["-t", f"{seg.duration_s + 0.5:.3f}", "-i", str(seg.path)]
    args += ["-filter_complex", cut_filtergraph(segments, width, height), "-map", "[vout]", "-map", "[aout]"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-r", str(FPS)]
    args += ["-c:a", "aac", "-b:a", "160k", "-ar", str(SAMPLE_RATE), "-ac", "2"]
    args += ["-map_metadata", "-1", "-movflags", "+faststart", "-progress", "pipe:1", "-nostats"]
    return [*args, "-f", "mp4", str(out_path)]


def render_cut(
    segments: Sequence[Segment],
    out_path: Path,
    *,
    size: tuple[int, int],
    on_progress: Callable[[float], None] | None = None,
) -> Path:
    """Encode `segments` back to back into `out_path` with one ffmpeg call.

    Writes `<out>.part` and renames it, so a crash never leaves a half-written film under the real
    name. `on_progress` gets the encoded fraction (0..1), parsed from ffmpeg's `-progress` output.
    """
    if not segments:
        raise RenderError("nothing to cut: no segments")
    out_path = Path(out_path)
    part = out_path.with_name(out_path.name + ".part")
    total_s = sum(seg.duration_s for seg in segments)
    with tempfile.TemporaryDirectory() as tmp:
        if _copyable(segments, size):
            command = concat_copy_command(segments, part, Path(tmp) / "concat.txt")
        else:
            command = cut_command(segments, part, *size)
        _run_ffmpeg(command, part, out_path, total_s, on_progress)
    os.replace(part, out_path)
    if on_progress is not None:
        on_progress(1.0)
    return out_path


def _copyable(segments: Sequence[Segment], size: tuple[int, int]) -> bool:
    """True when every take already is the cut's format, frame for frame, with no sound of its own:
    then the video is joined without re-encoding (the animatic case: seconds instead of a re-encode)."""
    for seg in segments:
        if seg.audio:
            return False
        info = probe(seg.path)
        if (
            info.codec != "h264"
            or info.pix_fmt != "yuv420p"
            or (info.width, info.height) != tuple(size)
            or round(info.fps, 3) != FPS
            or info.frames != seg.frames
        ):
            return False
    return True


def concat_copy_command(segments: Sequence[Segment], out_path: Path, list_file: Path) -> list[str]:
    """Join identical-format takes by stream copy and add a silent AAC track of the cut's length."""
    list_file.write_text(
        "ffconcat version 1.0\n" + "".join(f"file '{_concat_quote(seg.path)}'\n" for seg in segments),
        "utf-8",
    )
    total_s = sum(seg.duration_s for seg in segments)
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    args += ["-f", "concat", "-safe", "0", "-i", str(list_file)]
    args += ["-f", "lavfi", "-i", f"anullsrc=r={SAMPLE_RATE}:cl=stereo"]
    args += ["-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "160k"]
    args += ["-t", f"{total_s:.4f}", "-map_metadata", "-1", "-movflags", "+faststart"]
    return [*args, "-progress", "pipe:1", "-nostats", "-f", "mp4", str(out_path)]


def _concat_quote(path: Path) -> str:
    return str(Path(path).resolve()).replace("'", "'\\''")


def _run_ffmpeg(
    command: list[str],
    part: Path,
    out_path: Path,
    total_s: float,
    on_progress: Callable[[float], None] | None,
) -> None:
    """Run one ffmpeg command writing `part`, reporting progress; on any failure leave no `part`."""
    with tempfile.TemporaryFile() as stderr:
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        except OSError as exc:
            raise RenderError(f"could not start ffmpeg: {exc}") from exc
        try:
            for line in proc.stdout or ():
                _report(line, total_s, on_progress)
            proc.wait()
        except BaseException:  # a failing callback or Ctrl-C: stop ffmpeg, leave no .part behind
            proc.kill()
            proc.wait()
            part.unlink(missing_ok=True)
            raise
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
        if proc.returncode != 0:
            part.unlink(missing_ok=True)
            stderr.seek(0)
            raise RenderError(f"ffmpeg failed to cut {out_path.name}: {_tail(stderr.read())}")


def _report(line: str, total_s: float, on_progress: Callable[[float], None] | None) -> None:
    """Turn one `-progress` line (`out_time_us=1234`) into a fraction of the cut."""
    key, _, value = line.strip().partition("=")
    if on_progress is not None and key == "out_time_us" and value.isdigit() and total_s > 0:
        on_progress(min(int(value) / 1e6 / total_s, 1.0))


def _tail(stderr: bytes) -> str:
    """The last lines of ffmpeg's stderr, joined on one line for an error message."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return " | ".join(lines[-STDERR_TAIL_LINES:]) or "no output from ffmpeg"
