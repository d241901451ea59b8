"""Real, small MP4 files for fake providers to serve (a provider returns real video, so must a fake)."""

from __future__ import annotations

import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from shotline.tools.ffmpeg import ffmpeg_exe


@lru_cache(maxsize=32)
def mp4_bytes(seconds: float, width: int = 320, height: int = 180, audio: bool = False) -> bytes:
    """An H.264 (+AAC) clip of exactly `seconds` at 24 fps."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clip.mp4"
        args = [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi"]
        args += ["-i", f"testsrc2=s={width}x{height}:r=24:d={seconds}"]
        if audio:
            args += [
                "-f",
                "lavfi",
                "-i",
                f"sine=frequency=440:duration={seconds}",
                "-c:a",
                "aac",
                "-shortest",
            ]
        args += ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-pix_fmt", "yuv420p", str(out)]
        subprocess.run(args, check=True)
        return out.read_bytes()
