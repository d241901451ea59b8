"""ffmpeg and PyAV: probe files, grab frames, encode cuts. The only module that runs ffmpeg."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg

from shotline.errors import RenderError


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
            )
    except av.error.FFmpegError as exc:
        raise RenderError(f"{path.name} is not a readable video: {exc}") from exc
