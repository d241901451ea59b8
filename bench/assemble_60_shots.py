"""Benchmark: assembling a 60-shot cut with `tools.ffmpeg.render_cut`.

Makes 60 takes of 2-4 s once (1280x720 H.264 at 24 fps, and a second set at 960x540 30 fps with
sound, which must be re-encoded), then times: (a) the stream-copy join, (b) the re-encode with
plain cuts, (c) the re-encode with a crossfade or a dip into every 5th shot and the cut's own sound
written to a WAV beside it, as the editor asks for it, in pieces of MAX_INPUTS takes (the default)
and in one ffmpeg run, (d) a 9:16 version reframed from (c)'s 16:9.

Prints JSON. `x_realtime` is film seconds per wall second; `peak_ffmpeg_mb` the largest ffmpeg's
resident memory in that case. Each case runs in its own process.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from shotline.memory.models import FPS
from shotline.tools import ffmpeg

SHOTS = 60
SIZE = (1280, 720)
VERTICAL = (720, 1280)
TRANSITION_FRAMES = 12


def frames_of(k: int) -> int:
    """2 to 4 s, varied, whole frames."""
    return 48 + (k * 37) % 49


def make_take(path: Path, k: int, *, size: tuple[int, int], rate: int, audio: bool) -> Path:
    seconds = frames_of(k) / FPS
    args = [ffmpeg.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    args += ["-i", f"testsrc2=s={size[0]}x{size[1]}:r={rate}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency={300 + 10 * k}:duration={seconds}", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-pix_fmt", "yuv420p", "-threads", "1"]
    subprocess.run([*args, str(path)], check=True)
    return path


def make_set(folder: Path, name: str, *, size: tuple[int, int], rate: int, audio: bool) -> list[Path]:
    folder.mkdir()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = [
            pool.submit(make_take, folder / f"{name}-{k:02d}.mp4", k, size=size, rate=rate, audio=audio)
            for k in range(SHOTS)
        ]
        return [f.result() for f in futures]


def segments_for(paths: list[Path], *, every: int = 0) -> list[ffmpeg.Segment]:
    """Plain cuts, or a crossfade (dip on every other one) into every `every`-th shot."""
    segments = []
    for k, path in enumerate(paths):
        if every and k and k % every == 0:
            kind = "dip" if (k // every) % 2 == 0 else "crossfade"
            segments.append(
                ffmpeg.segment(path, frames_of(k), overlap_in=TRANSITION_FRAMES, transition_in=kind)
            )
        else:
            segments.append(ffmpeg.segment(path, frames_of(k)))
    return segments


def case_segments(name: str, root: Path) -> tuple[list[ffmpeg.Segment], dict[str, object]]:
    """The segments and render_cut options of one case."""
    native, foreign = sorted((root / "native").glob("*.mp4")), sorted((root / "foreign").glob("*.mp4"))
    if name == "a_stream_copy":
        return segments_for(native), {"audio_out": root / "a.wav"}
    if name == "b_reencode_cuts":
        return segments_for(foreign), {}
    if name in ("c_reencode_transitions", "c_one_ffmpeg_run"):
        return segments_for(foreign, every=5), {"audio_out": root / f"{name}.wav"}
    if name == "d_reframe_9x16":
        segments = [
            replace(s, crop_x=0.3 + 0.4 * (k % 2)) for k, s in enumerate(segments_for(foreign, every=5))
        ]
        return segments, {"size": VERTICAL, "base_size": SIZE}
    raise SystemExit(f"unknown case {name}")


def run_case(name: str, root: Path) -> dict[str, object]:
    """Time one case in this process; its ffmpeg's peak memory is this process's children's."""
    if name == "c_one_ffmpeg_run":
        ffmpeg.MAX_INPUTS = 1000  # the whole cut in one filtergraph, for comparison
    segments, options = case_segments(name, root)
    size = options.pop("size", SIZE)
    reframe = {k: v for k, v in options.items() if k == "base_size"}
    copy = ffmpeg.can_stream_copy(segments, size, **reframe)  # type: ignore[arg-type]
    pieces = (
        1 if copy or len(segments) <= ffmpeg.MAX_INPUTS else len(ffmpeg._pieces(segments, ffmpeg.MAX_INPUTS))
    )
    out = root / f"{name}.mp4"
    t0 = time.perf_counter()
    ffmpeg.render_cut(segments, out, size=size, **options)  # type: ignore[arg-type]
    wall = time.perf_counter() - t0
    info = ffmpeg.probe(out)
    film = ffmpeg.cut_frames(segments) / FPS
    return {
        "case": name,
        "path": "copy" if copy else "re-encode",
        "ffmpeg_runs": pieces + (1 if pieces > 1 else 0),
        "shots": len(segments),
        "transitions": sum(1 for s in segments if s.overlap_in),
        "size": f"{info.width}x{info.height}",
        "film_s": round(film, 3),
        "wall_s": round(wall, 2),
        "x_realtime": round(film / wall, 2),
        "frames_exact": info.frames == ffmpeg.cut_frames(segments),
        "peak_ffmpeg_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
    }


CASES = ("a_stream_copy", "b_reencode_cuts", "c_reencode_transitions", "c_one_ffmpeg_run", "d_reframe_9x16")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--case":
        print(json.dumps(run_case(sys.argv[2], Path(sys.argv[3]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        make_set(root / "native", "native", size=SIZE, rate=FPS, audio=False)
        make_set(root / "foreign", "foreign", size=(960, 540), rate=30, audio=True)
        setup_s = time.perf_counter() - t0
        cases = []
        for name in CASES:  # each in its own process, so that its peak memory is its own
            done = subprocess.run(
                [sys.executable, __file__, "--case", name, str(root)],
                check=True,
                capture_output=True,
                text=True,
            )
            cases.append(json.loads(done.stdout))
    print(
        json.dumps(
            {
                "benchmark": "assemble_60_shots",
                "cpus": os.cpu_count(),
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "ffmpeg": Path(ffmpeg.ffmpeg_exe()).name,
                "max_inputs_per_run": ffmpeg.MAX_INPUTS,
                "setup_s": round(setup_s, 2),
                "cases": cases,
                "ok": all(c["frames_exact"] for c in cases) and cases[0]["path"] == "copy",
            }
        )
    )


if __name__ == "__main__":
    main()
