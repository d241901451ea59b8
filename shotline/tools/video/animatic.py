"""The local `animatic` video model: a real H.264 storyboard clip per shot, offline and fast.

Each shot is drawn once with PIL as a static layer (set, figures, insert card) a little larger
than the frame; every video frame is then a crop or resize of that layer (the camera move) with
screen-space overlays pasted on top (location tag, slate, dialogue captions). Identical
consecutive frames are encoded from the same bytes, and frames stream straight into ffmpeg.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import shutil
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from random import Random
from typing import Any

import imageio_ffmpeg
import numpy as np
from PIL import Image, ImageColor, ImageDraw

from shotline.errors import RenderError
from shotline.tools.fonts import CJK_CHARS, Font, font
from shotline.tools.video.base import (
    Caption,
    Figure,
    ModelCard,
    RenderRequest,
    SetMark,
    ShotVisual,
    TaskStatus,
)

ANIMATIC_VERSION = "2"
"""Bump when the drawing changes, so cached takes rendered by an older animatic are redone."""

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]

MARGIN = 1.2  # the static layer is 20% larger than the frame: room for zooms and drifts
SUPERSAMPLE = 2  # the static layer is drawn at 2x and reduced: smooth edges for free
ZOOM = 0.15  # push-in / pull-out amount over the shot
DRIFT = 0.05  # pan / tilt travel either side of centre, as a fraction of the frame
# no B-frames: takes then join frame-exactly by stream copy in the cut
X264 = ["-preset", "ultrafast", "-tune", "animation", "-crf", "26", "-bf", "0"]

NIGHT_GAIN = (0.30, 0.33, 0.45)  # per channel: darker and bluer
HIGHLIGHT: RGB = (255, 214, 64)
INK: RGB = (24, 24, 30)
WHITE: RGB = (255, 255, 255)


@dataclass(frozen=True)
class _Scale:
    """How a framing sizes things: figure height (in units), head top and horizon (frame fractions)."""

    figure: float
    head_top: float
    horizon: float
    set_zoom: float


FRAMINGS: dict[str, _Scale] = {
    "establishing": _Scale(figure=0.30, head_top=0.50, horizon=0.60, set_zoom=0.7),
    "wide": _Scale(figure=0.50, head_top=0.36, horizon=0.60, set_zoom=1.0),
    "two-shot": _Scale(figure=1.10, head_top=0.16, horizon=0.64, set_zoom=1.4),
    "medium": _Scale(figure=1.70, head_top=0.10, horizon=0.68, set_zoom=1.8),
    "close-up": _Scale(figure=3.40, head_top=0.08, horizon=0.74, set_zoom=2.6),
    "insert": _Scale(figure=0.0, head_top=0.0, horizon=0.70, set_zoom=2.0),
}


# --- public API ----------------------------------------------------------------------------


def frame_count(duration_s: float, fps: int) -> int:
    """Frames in a clip of `duration_s`: the nearest whole frame, at least one."""
    return max(1, round(duration_s * fps))


def render_animatic(
    request: RenderRequest, dest: Path, on_progress: Callable[[float], None] | None = None
) -> Path:
    """Render the shot to `dest` as H.264 MP4 (via `<dest>.part`, then an atomic rename)."""
    visual = _require_visual(request)
    w, h = request.width, request.height
    if w <= 0 or h <= 0 or w % 2 or h % 2 or request.duration_s <= 0 or request.fps <= 0:
        raise RenderError(
            f"animatic: shot {request.shot_id} needs an even frame size and a positive duration and fps,"
            f" got {w}x{h}, {request.duration_s}s at {request.fps} fps"
        )
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        _encode(_frames(request, visual, on_progress), part, (w, h), request.fps)
        os.replace(part, dest)
    except Exception as exc:
        part.unlink(missing_ok=True)
        if isinstance(exc, RenderError):
            raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RenderError(f"animatic: shot {request.shot_id} failed to render: {reason}") from exc
    return dest


@dataclass
class _Job:
    """One submitted render: its private folder, its future and how far it has got."""

    workdir: Path
    future: Future[Path] = field(init=False)
    progress: float = 0.0

    def report(self, progress: float) -> None:
        self.progress = progress


class Animatic:
    """The offline default model: storyboard video drawn locally, free, in a worker thread."""

    durable_tasks = False  # its tasks live in this process: after a restart they are rendered again

    card = ModelCard(
        name="animatic",
        display_name="Animatic (local storyboard video)",
        local=True,
        durations_s=(0.5, 60.0),
        ratios=("16:9", "9:16", "1:1"),
        text_to_video=True,
        usd_per_second=0.0,
        price_source="local renderer, no charge",
        price_date="2026-11-23",
    )

    def __init__(self) -> None:
        self._jobs: dict[str, _Job] = {}

    def key_payload(self, request: RenderRequest) -> dict[str, Any]:
        """Everything that changes the pixels, drawing instructions and renderer version included."""
        return {**request.model_dump(mode="json"), "animatic_version": ANIMATIC_VERSION}

    async def submit(self, request: RenderRequest) -> str:
        """Start rendering in a worker thread into a private temp file; returns the task id."""
        _require_visual(request)
        task_id = uuid.uuid4().hex
        job = _Job(workdir=Path(tempfile.mkdtemp(prefix="shotline-animatic-")))
        job.future = _executor().submit(render_animatic, request, job.workdir / "take.mp4", job.report)
        self._jobs[task_id] = job
        return task_id

    async def poll(self, task_id: str) -> TaskStatus:
        """The job's state; failures carry the renderer's one-line error."""
        job = self._job(task_id)
        fut = job.future
        if not fut.done():
            state = "running" if fut.running() else "queued"
            return TaskStatus(task_id=task_id, state=state, progress=job.progress)
        exc = fut.exception()
        if exc is not None:
            return TaskStatus(task_id=task_id, state="failed", error=str(exc) or type(exc).__name__)
        return TaskStatus(task_id=task_id, state="succeeded", progress=1.0)

    async def fetch(self, task_id: str, dest: Path) -> Path:
        """Wait for the job if needed, then move its file atomically to `dest`; the task is then forgotten.

        Cancelling a waiting fetch leaves the job running and fetchable.
        """
        job = self._job(task_id)
        while not job.future.done():  # a plain wait: nothing to orphan if this fetch is cancelled
            await asyncio.sleep(0.01)
        self._jobs.pop(task_id, None)
        try:
            src = job.future.result()
            dest = Path(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            part = dest.with_name(dest.name + ".part")
            shutil.move(src, part)  # a rename on the same disk, a copy across disks
            os.replace(part, dest)
            return dest
        except RenderError:
            raise
        except Exception as exc:
            raise RenderError(f"animatic: task {task_id} failed: {exc}") from exc
        finally:
            shutil.rmtree(job.workdir, ignore_errors=True)

    def _job(self, task_id: str) -> _Job:
        job = self._jobs.get(task_id)
        if job is None:
            raise RenderError(f"animatic: unknown or already fetched task {task_id}")
        return job


@lru_cache(maxsize=1)
def _executor() -> ThreadPoolExecutor:
    """One shared pool: futures outlive any one event loop (submit and fetch may use different ones)."""
    return ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="animatic")


def _require_visual(request: RenderRequest) -> ShotVisual:
    if request.visual is None:
        raise RenderError(
            f"animatic: shot {request.shot_id} has no visual description (RenderRequest.visual);"
            " the animatic needs the shot's visual to draw it"
        )
    return request.visual


# --- frames and encoding -------------------------------------------------------------------


def _encode(frames: Iterator[bytes], path: Path, size: tuple[int, int], fps: int) -> None:
    """Stream raw RGB frames into ffmpeg/libx264 (yuv420p, fast preset, MP4 even without .mp4)."""
    writer = imageio_ffmpeg.write_frames(
        str(path),
        size,
        fps=fps,
        codec="libx264",
        quality=None,
        macro_block_size=2,
        pix_fmt_out="yuv420p",
        ffmpeg_log_level="error",
        output_params=[*X264, "-g", str(2 * fps), "-movflags", "+faststart", "-f", "mp4"],
    )
    writer.send(None)
    try:
        for frame in frames:
            writer.send(frame)
    finally:
        writer.close()


def _frames(
    request: RenderRequest, visual: ShotVisual, on_progress: Callable[[float], None] | None
) -> Iterator[bytes]:
    """Each frame: the camera's view of the static layer, plus the overlays active at that time."""
    size = (request.width, request.height)
    stage = _Stage.for_frame(*size)
    static = draw_static(visual, stage)
    hud = _hud(visual, size)
    captions = [c for c in visual.captions if c.text.strip()]
    bands: dict[tuple[int, ...], Image.Image] = {}  # one band per set of captions on screen
    n = frame_count(request.duration_s, request.fps)
    last_key: tuple[Any, ...] | None = None
    data = b""
    for i in range(n):
        t = i / request.fps
        box = camera_box(visual.camera, i / (n - 1) if n > 1 else 0.0, stage)
        active = tuple(j for j, c in enumerate(captions) if c.start_s <= t < c.end_s)
        if (box, active) != last_key:
            frame = _view(static, box, size)
            for overlay, pos in hud:
                frame.paste(overlay, pos, overlay)
            if active:
                if active not in bands:
                    bands[active] = _caption_band([captions[j] for j in active], size)
                band = bands[active]
                frame.paste(band, (0, size[1] - band.height), band)
            data, last_key = frame.tobytes(), (box, active)
        yield data
        if on_progress is not None and (i % 12 == 0 or i == n - 1):
            on_progress((i + 1) / n)


def camera_box(camera: str, progress: float, stage: _Stage) -> Box:
    """The part of the static layer the camera sees at `progress` (0..1, eased) of the shot."""
    p = progress * progress * (3 - 2 * progress)  # smoothstep: starts and lands gently
    zoom, dx, dy = 1.0, 0.0, 0.0
    if camera == "push-in":
        zoom = 1 + ZOOM * p
    elif camera == "pull-out":
        zoom = 1 / (1 + ZOOM * p)
    elif camera in ("pan-left", "pan-right"):
        dx = DRIFT * stage.w * (1 - 2 * p) * (1 if camera == "pan-left" else -1)
    elif camera == "tilt-up":
        dy = DRIFT * stage.h * (1 - 2 * p)
    bw, bh = stage.w / zoom, stage.h / zoom
    cx, cy = stage.cw / 2 + dx, stage.ch / 2 + dy
    if zoom == 1.0:  # whole pixels: a plain crop, no resampling
        x0, y0 = round(cx - bw / 2), round(cy - bh / 2)
        return (x0, y0, x0 + stage.w, y0 + stage.h)
    return (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)


def _view(static: Image.Image, box: Box, size: tuple[int, int]) -> Image.Image:
    """Crop when the box is frame-sized and whole-pixel; else resample (zooms) with the cheap area filter."""
    x0, y0, x1, y1 = box
    if (x1 - x0, y1 - y0) == size and all(float(v).is_integer() for v in box):
        return static.crop((int(x0), int(y0), int(x1), int(y1)))
    return static.resize(size, Image.Resampling.BOX, box=box)


# --- the static layer ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Stage:
    """The frame inside the larger static layer, and helpers from frame fractions to layer pixels."""

    w: int
    h: int
    cw: int
    ch: int
    ss: int = SUPERSAMPLE

    @classmethod
    def for_frame(cls, w: int, h: int) -> _Stage:
        """Even margins of at least one pixel each side, whatever the frame size."""
        mx, my = math.ceil(w * (MARGIN - 1) / 2), math.ceil(h * (MARGIN - 1) / 2)
        return cls(w=w, h=h, cw=w + 2 * mx, ch=h + 2 * my)

    @property
    def unit(self) -> float:
        """Size reference for figures and text: the frame height, capped on tall frames."""
        return min(self.h, self.w * 1.25) * self.ss

    def x(self, fx: float) -> float:
        return ((self.cw - self.w) / 2 + fx * self.w) * self.ss

    def y(self, fy: float) -> float:
        return ((self.ch - self.h) / 2 + fy * self.h) * self.ss

    def u(self, f: float) -> float:
        return f * self.unit


def draw_static(visual: ShotVisual, stage: _Stage) -> Image.Image:
    """The shot's unmoving picture, at the static-layer size: set, figures, insert card."""
    scale = FRAMINGS[visual.framing]
    img = Image.new("RGB", (stage.cw * stage.ss, stage.ch * stage.ss))
    draw = ImageDraw.Draw(img)
    backdrop = _rgb(visual.backdrop, (128, 128, 128))
    rng = Random(zlib.crc32(visual.location.encode("utf-8")))  # same set, same details, every shot
    horizon = stage.y(scale.horizon)
    if visual.interior:
        lights = _draw_interior(img, draw, stage, scale, backdrop, horizon, furnish=not visual.landmarks)
    else:
        lights = _draw_exterior(img, draw, stage, scale, backdrop, horizon, rng)
    lights += _draw_landmarks(draw, stage, scale, visual, horizon)
    if visual.night:
        img = _darken(img)
        draw = ImageDraw.Draw(img)
        lamp = None if visual.landmarks else 0.62  # a layout's own lamps are lit below
        _draw_night_lights(img, draw, stage, scale, visual.interior, horizon, lights, rng, lamp)
        for mark in (m for m in visual.landmarks if m.kind == "lamp"):
            _draw_lamp(draw, stage, scale.set_zoom, _sx(stage, scale, mark.x), horizon, glow=img)
    if visual.framing == "insert":
        _draw_insert_card(draw, stage, visual.subject or visual.location)
    else:
        for fig, cx in _placed_figures(visual, stage):
            _draw_figure(draw, stage, scale, fig, cx)
    return img.reduce(stage.ss)


def _sx(stage: _Stage, scale: _Scale, pos: float) -> float:
    """A set feature's x: set positions spread out from the centre as the framing tightens."""
    return stage.x(0.5 + (pos - 0.5) * scale.set_zoom)


def _vertical_gradient(img: Image.Image, top: int, bottom: int, c0: RGB, c1: RGB) -> None:
    """Fill rows [top, bottom) with a colour ramp (one column, stretched: cheap)."""
    if bottom <= top:
        return
    ramp = np.linspace(c0, c1, bottom - top).round().astype(np.uint8).reshape(-1, 1, 3)
    img.paste(Image.fromarray(ramp).resize((img.width, bottom - top), Image.Resampling.NEAREST), (0, top))


def _draw_interior(
    img: Image.Image,
    draw: ImageDraw.ImageDraw,
    stage: _Stage,
    scale: _Scale,
    wall: RGB,
    horizon: float,
    furnish: bool = True,
) -> list[Box]:
    """Wall in the set colour, a darker floor and, for a set with no layout, a generic window and door;
    returns the window glass."""
    hz = int(horizon)
    _vertical_gradient(img, 0, hz, _mul(wall, 1.08), _mul(wall, 0.9))
    _vertical_gradient(img, hz, img.height, _mul(wall, 0.55), _mul(wall, 0.38))
    s = scale.set_zoom
    vx, vy = stage.x(0.5), horizon - stage.u(0.5 * s)
    t = (img.height - horizon) / max(img.height - vy, 1)
    for k in range(-6, 7):  # floorboards running towards a vanishing point
        bx = stage.x(0.5 + k * 0.16 * s)
        draw.line([(vx + (bx - vx) * t, horizon), (bx, img.height)], fill=_mul(wall, 0.32), width=stage.ss)
    draw.rectangle([0, horizon - stage.u(0.012 * s), img.width, horizon], fill=_mul(wall, 0.35))
    if not furnish:
        return []
    # window: frame, glass (sky), mullions
    wx, ww, wh = _sx(stage, scale, 0.24), stage.u(0.17 * s), stage.u(0.22 * s)
    wb = horizon - stage.u(0.16 * s)
    glass = (wx - ww / 2, wb - wh, wx + ww / 2, wb)
    pad = stage.u(0.012 * s)
    draw.rectangle([glass[0] - pad, glass[1] - pad, glass[2] + pad, glass[3] + pad], fill=(236, 232, 222))
    draw.rectangle(glass, fill=(170, 205, 235))
    draw.line([(wx, glass[1]), (wx, glass[3])], fill=(236, 232, 222), width=int(pad))
    draw.line(
        [(glass[0], (glass[1] + glass[3]) / 2), (glass[2], (glass[1] + glass[3]) / 2)],
        (236, 232, 222),
        int(pad),
    )
    # door with a knob
    dx, dw, dh = _sx(stage, scale, 0.8), stage.u(0.14 * s), stage.u(0.34 * s)
    draw.rectangle(
        [dx - dw / 2, horizon - dh, dx + dw / 2, horizon],
        fill=_mul(wall, 0.55),
        outline=_mul(wall, 0.35),
        width=int(pad / 2) + 1,
    )
    kr = stage.u(0.008 * s)
    draw.ellipse(
        [dx + dw / 3 - kr, horizon - dh / 2 - kr, dx + dw / 3 + kr, horizon - dh / 2 + kr],
        fill=(210, 180, 90),
    )
    return [glass]


def _draw_exterior(
    img: Image.Image,
    draw: ImageDraw.ImageDraw,
    stage: _Stage,
    scale: _Scale,
    ground: RGB,
    horizon: float,
    rng: Random,
) -> list[Box]:
    """Sky gradient over ground in the set colour, with a skyline; returns the building windows."""
    hz = int(horizon)
    _vertical_gradient(img, 0, hz, _mix((70, 120, 190), ground, 0.2), _mix((200, 222, 240), ground, 0.2))
    _vertical_gradient(img, hz, img.height, ground, _mul(ground, 0.7))
    s = scale.set_zoom
    windows: list[Box] = []
    pos = -1.2
    while pos < 2.2:  # a deterministic skyline, wider than any framing shows
        bw, bh = rng.uniform(0.07, 0.16), rng.uniform(0.08, 0.3)
        shade = _mix(_mul(ground, 0.7), (70, 78, 96), 0.5 + rng.uniform(-0.1, 0.1))
        x0, x1 = _sx(stage, scale, pos), _sx(stage, scale, pos + bw)
        top = horizon - stage.u(bh * s)
        draw.rectangle([x0, top, x1, horizon], fill=shade)
        step = stage.u(0.035 * s)
        for wy in np.arange(top + step / 2, horizon - step, step):
            for wx in np.arange(x0 + step / 2, x1 - step / 2, step):
                windows.append((wx, wy, wx + step / 2.5, wy + step / 2))
                draw.rectangle(windows[-1], fill=_mul(shade, 1.25))
        pos += bw + rng.uniform(0.0, 0.04)
    return windows


# --- set landmarks ---------------------------------------------------------------------------

DOOR: RGB = (104, 66, 38)
GLASS: RGB = (170, 205, 235)
FRAME: RGB = (236, 232, 222)
COUNTER: RGB = (150, 108, 64)
LAMP: RGB = (250, 215, 140)
SCREEN: RGB = (80, 200, 160)
_FURNITURE = {"counter", "bar", "table", "stove", "bed"}


def _draw_landmarks(
    draw: ImageDraw.ImageDraw, stage: _Stage, scale: _Scale, visual: ShotVisual, horizon: float
) -> list[Box]:
    """Each landmark of the set's layout as a simple labelled shape at its x; returns window glass.
    Walls and openings first, furniture in front of them."""
    glass: list[Box] = []
    order = sorted(visual.landmarks, key=lambda m: (m.kind in _FURNITURE, m.x))
    for mark in order:
        x, s = _sx(stage, scale, mark.x), scale.set_zoom
        box = _LANDMARK_DRAW.get(mark.kind, _draw_block)(draw, stage, s, x, horizon)
        if mark.kind == "window":
            glass.append(box)
        _landmark_label(draw, stage, mark, x, box)
    return glass


def _draw_door(draw: ImageDraw.ImageDraw, stage: _Stage, s: float, x: float, horizon: float) -> Box:
    w, h = stage.u(0.14 * s), stage.u(0.34 * s)
    box = (x - w / 2, horizon - h, x + w / 2, horizon)
    draw.rectangle(_grow(box, stage.u(0.008 * s)), fill=_mul(DOOR, 0.6))
    draw.rectangle(box, fill=DOOR)
    _disc(draw, x + w / 3, horizon - h / 2, stage.u(0.008 * s), (210, 180, 90))
    return box


def _draw_window(draw: ImageDraw.ImageDraw, stage: _Stage, s: float, x: float, horizon: float) -> Box:
    w, h, bottom = stage.u(0.17 * s), stage.u(0.22 * s), horizon - stage.u(0.16 * s)
    glass = (x - w / 2, bottom - h, x + w / 2, bottom)
    pad = stage.u(0.012 * s)
    draw.rectangle(_grow(glass, pad), fill=FRAME)
    draw.rectangle(glass, fill=GLASS)
    draw.line([(x, glass[1]), (x, glass[3])], fill=FRAME, width=int(pad))
    draw.line([(glass[0], (glass[1] + glass[3]) / 2), (glass[2], (glass[1] + glass[3]) / 2)], FRAME, int(pad))
    return glass


def _draw_counter(draw: ImageDraw.ImageDraw, stage: _Stage, s: float, x: float, horizon: float) -> Box:
    w, h = stage.u(0.34 * s), stage.u(0.13 * s)
    base = horizon + stage.u(0.02 * s)
    box = (x - w / 2, base - h, x + w / 2, base)
    draw.rectangle(box, fill=COUNTER)
    draw.rectangle((box[0] - stage.u(0.01 * s), box[1] - stage.u(0.014 * s), box[2] + stage.u(0.01 * s), box[1]),
                   fill=_mul(COUNTER, 1.3))  # fmt: skip
    return box


def _draw_lamp(
    draw: ImageDraw.ImageDraw,
    stage: _Stage,
    s: float,
    x: float,
    horizon: float,
    glow: Image.Image | None = None,
) -> Box:
    """A hanging lamp; after dark (`glow` = the picture) it is lit with a warm pool of light."""
    r = stage.u(0.05 * s)
    y = max(stage.y(0.0), horizon - stage.u(0.55 * s))
    draw.line([(x, 0), (x, y)], fill=(40, 40, 40), width=stage.ss)
    box = (x - r, y, x + r, y + r)
    if glow is not None:
        _glow(glow, x, y + r, r * 6, (255, 205, 130), 110)
    draw.polygon([(x - r * 0.5, y), (x + r * 0.5, y), (x + r, y + r), (x - r, y + r)], fill=LAMP)
    return box


def _draw_monitor(draw: ImageDraw.ImageDraw, stage: _Stage, s: float, x: float, horizon: float) -> Box:
    w, h = stage.u(0.16 * s), stage.u(0.11 * s)
    bottom = horizon - stage.u(0.12 * s)
    draw.rectangle((x - w / 2 - h * 0.1, bottom - h * 1.1, x + w / 2 + h * 0.1, bottom), fill=(30, 30, 34))
    box = (x - w / 2, bottom - h, x + w / 2, bottom - h * 0.1)
    draw.rectangle(box, fill=SCREEN)
    return box


def _draw_hatch(draw: ImageDraw.ImageDraw, stage: _Stage, s: float, x: float, horizon: float) -> Box:
    side = stage.u(0.12 * s)
    top = horizon - stage.u(0.5 * s)
    box = (x - side / 2, top, x + side / 2, top + side)
    draw.rectangle(box, fill=(70, 74, 80), outline=(30, 30, 34), width=max(2, int(side / 12)))
    draw.line([(box[0], box[1]), (box[2], box[3])], fill=(30, 30, 34), width=max(2, int(side / 16)))
    draw.line([(box[2], box[1]), (box[0], box[3])], fill=(30, 30, 34), width=max(2, int(side / 16)))
    return box


def _draw_stairs(draw: ImageDraw.ImageDraw, stage: _Stage, s: float, x: float, horizon: float) -> Box:
    w, h, steps = stage.u(0.18 * s), stage.u(0.3 * s), 6
    for k in range(steps):
        top = horizon - h * (k + 1) / steps
        draw.rectangle(
            (x - w / 2 + k * w / steps, top, x + w / 2, horizon), fill=_mul(COUNTER, 0.8 + 0.04 * k)
        )
    return (x - w / 2, horizon - h, x + w / 2, horizon)


def _draw_block(draw: ImageDraw.ImageDraw, stage: _Stage, s: float, x: float, horizon: float) -> Box:
    """Any other feature (a column, a bed, a stove): a plain block, named by its label."""
    w, h = stage.u(0.12 * s), stage.u(0.26 * s)
    box = (x - w / 2, horizon - h, x + w / 2, horizon)
    draw.rectangle(box, fill=(120, 116, 110), outline=INK, width=max(2, int(w / 40)))
    return box


_LANDMARK_DRAW: dict[str, Callable[[ImageDraw.ImageDraw, _Stage, float, float, float], Box]] = {
    "door": _draw_door,
    "hatch": _draw_hatch,
    "window": _draw_window,
    "counter": _draw_counter,
    "bar": _draw_counter,
    "table": _draw_counter,
    "lamp": _draw_lamp,
    "monitor": _draw_monitor,
    "stairs": _draw_stairs,
}


def _landmark_label(draw: ImageDraw.ImageDraw, stage: _Stage, mark: SetMark, x: float, box: Box) -> None:
    """The landmark's name in small dark type just above it, so a viewer can read the layout."""
    size = max(10 * stage.ss, round(stage.u(0.026)))
    f = font(size, mark.name)
    y = box[1] - size * 0.9
    half = f.getlength(mark.name) / 2 + size * 0.3
    draw.rounded_rectangle((x - half, y - size * 0.65, x + half, y + size * 0.65), radius=size * 0.3,
                           fill=(246, 241, 228))  # fmt: skip
    draw.text((x, y), mark.name, font=f, fill=INK, anchor="mm")


def _darken(img: Image.Image) -> Image.Image:
    """Night: scale every channel down (bluer) with one lookup table."""
    lut = [min(255, round(v * g)) for g in NIGHT_GAIN for v in range(256)]
    return img.point(lut)


def _draw_night_lights(
    img: Image.Image,
    draw: ImageDraw.ImageDraw,
    stage: _Stage,
    scale: _Scale,
    interior: bool,
    horizon: float,
    lights: list[Box],
    rng: Random,
    lamp_x: float | None = 0.62,
) -> None:
    """After dark: a moon (in the sky or the window), lit windows outside, a lamp's glow inside (at the
    set's lamp when its layout has one)."""
    if interior:
        for glass in lights:
            draw.rectangle(glass, fill=(22, 30, 58))
            gx, gy = glass[0] + (glass[2] - glass[0]) * 0.7, glass[1] + (glass[3] - glass[1]) * 0.3
            _disc(draw, gx, gy, (glass[2] - glass[0]) * 0.12, (235, 235, 210))
        if lamp_x is None:
            return
        lx, r = _sx(stage, scale, lamp_x), stage.u(0.05 * scale.set_zoom)
        ly = stage.y(0.08)
        draw.line([(lx, 0), (lx, ly)], fill=(40, 40, 40), width=stage.ss)
        _glow(img, lx, ly + r, r * 6, (255, 205, 130), 110)
        draw.polygon(
            [(lx - r * 0.5, ly), (lx + r * 0.5, ly), (lx + r, ly + r), (lx - r, ly + r)], fill=(250, 215, 140)
        )
        return
    sky = horizon - stage.u(0.32 * scale.set_zoom)  # above the tallest building
    for _ in range(90 if sky > 0 else 0):
        sx, sy = rng.uniform(0, img.width), rng.uniform(0, sky)
        _disc(draw, sx, sy, stage.ss * rng.uniform(0.6, 1.4), (200, 205, 230))
    mx, my, mr = stage.x(0.8), stage.y(0.16), stage.u(0.05)
    _glow(img, mx, my, mr * 4, (180, 190, 230), 70)
    _disc(draw, mx, my, mr, (240, 238, 215))
    for win in lights:
        if rng.random() < 0.35:
            draw.rectangle(win, fill=(250, 205, 110))


def _glow(img: Image.Image, x: float, y: float, radius: float, color: RGB, strength: int) -> None:
    """A soft radial light, blended by a mask (paste with a solid colour)."""
    n = max(2, int(radius * 2))
    mask = _radial(strength).resize((n, n), Image.Resampling.BILINEAR)
    img.paste(color, (int(x - n / 2), int(y - n / 2)), mask)


@lru_cache(maxsize=8)
def _radial(strength: int) -> Image.Image:
    """A small quadratic fall-off disc, scaled up per use: big glows cost almost nothing."""
    yy, xx = np.mgrid[0:128, 0:128]
    d = np.hypot(xx - 63.5, yy - 63.5) / 64
    return Image.fromarray((np.clip(1 - d, 0, 1) ** 2 * strength).astype(np.uint8), "L")


def _disc(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, fill: RGB) -> None:
    draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)


# --- figures ---------------------------------------------------------------------------


def _placed_figures(visual: ShotVisual, stage: _Stage) -> list[tuple[Figure, float]]:
    """Which figures the framing shows and their x in layer pixels (speaker drawn last, on top)."""
    if visual.framing == "close-up" and visual.figures:
        fig = _close_up_subject(visual)
        # a head filling the frame stays on its side of the frame without being cut in half
        return [(fig, stage.x(min(max(fig.x, 0.3), 0.7)))]
    return [(f, stage.x(f.x)) for f in sorted(visual.figures, key=lambda f: f.speaking)]


def _close_up_subject(visual: ShotVisual) -> Figure:
    """The figure named by `subject`, else the speaker, else the first figure."""
    wanted = (visual.subject or "").strip().casefold()
    for fig in visual.figures:
        if wanted and fig.name.strip().casefold() == wanted:
            return fig
    return next((f for f in visual.figures if f.speaking), visual.figures[0])


@dataclass(frozen=True)
class _Body:
    """A figure's parts in layer pixels: head circle, then rounded boxes (torso, arms, legs)."""

    head: tuple[float, float, float]
    torso: Box
    arms: tuple[Box, Box]
    legs: tuple[Box, Box]
    r: float

    @classmethod
    def at(cls, cx: float, top: float, height: float) -> _Body:
        r = 0.09 * height
        shoulder, hip, feet = top + 2.15 * r, top + 0.55 * height, top + height
        arm_top, arm_end = shoulder + 0.1 * r, shoulder + 0.34 * height
        return cls(
            head=(cx, top + r, r),
            torso=(cx - 1.25 * r, shoulder, cx + 1.25 * r, hip),
            arms=(
                (cx - 1.9 * r, arm_top, cx - 1.35 * r, arm_end),
                (cx + 1.35 * r, arm_top, cx + 1.9 * r, arm_end),
            ),
            legs=(
                (cx - 1.0 * r, hip - 0.4 * r, cx - 0.1 * r, feet),
                (cx + 0.1 * r, hip - 0.4 * r, cx + 1.0 * r, feet),
            ),
            r=r,
        )

    def silhouette(self, draw: ImageDraw.ImageDraw, grow: float, fill: RGB) -> None:
        """All parts grown by `grow` in one colour: outlines and the speaker's halo."""
        x, y, r = self.head
        _disc(draw, x, y, r + grow, fill)
        for b in (self.torso, *self.arms, *self.legs):
            draw.rounded_rectangle(_grow(b, grow), radius=0.45 * self.r + grow, fill=fill)


def _draw_figure(draw: ImageDraw.ImageDraw, stage: _Stage, scale: _Scale, fig: Figure, cx: float) -> None:
    """A labelled figure in its bible colour; the speaker gets a bright halo and label."""
    color = _rgb(fig.color, (200, 60, 60))
    skin = _mix(color, (242, 214, 184), 0.8)
    top, height = stage.y(scale.head_top), stage.u(scale.figure)
    body = _Body.at(cx, top, height)
    r, feet = body.r, top + height
    if feet < stage.ch * stage.ss:  # feet inside the layer: a contact shadow grounds the figure
        draw.ellipse([cx - 1.8 * r, feet - 0.25 * r, cx + 1.8 * r, feet + 0.25 * r], fill=(0, 0, 0))
    if fig.speaking:
        body.silhouette(draw, stage.u(0.014), HIGHLIGHT)
    body.silhouette(draw, stage.u(0.004), INK)
    for leg in body.legs:
        draw.rounded_rectangle(leg, radius=0.45 * r, fill=_mul(color, 0.55))
    for arm in body.arms:
        draw.rounded_rectangle(arm, radius=0.27 * r, fill=_mul(color, 0.82))
        _disc(draw, (arm[0] + arm[2]) / 2, arm[3] - 0.2 * r, 0.3 * r, skin)  # hand
    draw.rounded_rectangle(body.torso, radius=0.6 * r, fill=color)
    hx, hy, _ = body.head
    _disc(draw, hx, hy, r, skin)
    draw.chord([hx - r, hy - r, hx + r, hy + r], 180, 360, fill=_mul(color, 0.45))  # hair
    facing = 1 if cx < stage.x(0.5) else -1  # look towards the middle of the frame
    for ex in (0.1, 0.5):
        _disc(draw, hx + facing * ex * r, hy + 0.25 * r, 0.09 * r, INK)
    _draw_label(draw, stage, fig, cx, top, body.torso[1])


def _draw_label(
    draw: ImageDraw.ImageDraw, stage: _Stage, fig: Figure, cx: float, top: float, chest: float
) -> None:
    """The name in a pill: above the head when it fits (wide framings), else on the chest."""
    size = max(12 * stage.ss, round(stage.u(0.034)))
    f = font(size, fig.name)
    pad = size * 0.35
    name = _fit(fig.name, f, stage.w * stage.ss * 0.4)
    half = f.getlength(name) / 2 + pad
    cx = min(max(cx, stage.x(0) + half + pad), stage.x(1) - half - pad)  # keep the whole label on screen
    above = top - size * 1.2
    cy = above if above > stage.y(0.1) else min(max(stage.y(0.66), chest + size), stage.y(0.72))
    box = (cx - half, cy - size / 2 - pad, cx + half, cy + size / 2 + pad)
    fill, ink = (HIGHLIGHT, INK) if fig.speaking else ((30, 30, 36), WHITE)
    draw.rounded_rectangle(
        box, radius=size * 0.5, fill=fill, outline=_rgb(fig.color, WHITE), width=max(2, size // 10)
    )
    draw.text((cx, cy), name, font=f, fill=ink, anchor="mm")


def _draw_insert_card(draw: ImageDraw.ImageDraw, stage: _Stage, subject: str) -> None:
    """An insert: a large card naming the object, over the (close, dim) set."""
    cw, ch = min(stage.w * stage.ss * 0.86, stage.u(1.1)), stage.u(0.5)
    cx, cy = stage.x(0.5), stage.y(0.45)
    box = (cx - cw / 2, cy - ch / 2, cx + cw / 2, cy + ch / 2)
    off = stage.u(0.015)
    draw.rounded_rectangle(_shift(box, off), radius=off * 2, fill=(0, 0, 0))
    draw.rounded_rectangle(box, radius=off * 2, fill=(246, 241, 228), outline=INK, width=max(2, int(off / 3)))
    small = font(round(stage.u(0.035)))
    draw.text((cx, box[1] + off * 2.5), "INSERT", font=small, fill=(120, 110, 100), anchor="mt")
    size = round(stage.u(0.08))
    big = font(size, subject)
    lines = _wrap(subject.upper(), big, cw * 0.86, max_lines=3)
    y0 = cy + off * 1.5 - (len(lines) - 1) * size * 0.6
    for k, line in enumerate(lines):
        draw.text((cx, y0 + k * size * 1.2), line, font=big, fill=INK, anchor="mm")


# --- screen-space overlays -----------------------------------------------------------------


def _hud(visual: ShotVisual, size: tuple[int, int]) -> list[tuple[Image.Image, tuple[int, int]]]:
    """Location tag (top left) and slate (top right), fixed on screen while the camera moves."""
    w, h = size
    fsize = max(12, round(min(w, h) * 0.028))
    place, when = ("INT" if visual.interior else "EXT"), ("NIGHT" if visual.night else "DAY")
    where = f"{place}. {visual.location} · {when}"
    slate = f"{visual.shot_id} · {visual.framing} · {visual.camera}"
    margin = round(fsize * 0.8)
    tag = _pill(where, font(fsize, where), max_w=w * 0.6)
    card = _pill(slate, font(fsize, slate), max_w=w * 0.38)
    return [(tag, (margin, margin)), (card, (w - margin - card.width, margin))]


def _pill(text: str, f: Font, max_w: float) -> Image.Image:
    """Text on a translucent dark rounded box, trimmed to `max_w`."""
    text = _fit(text, f, max_w)
    size = getattr(f, "size", 12)
    pad = round(size * 0.45)
    tw = round(f.getlength(text))
    img = Image.new("RGBA", (tw + 2 * pad, size + 2 * pad), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([0, 0, img.width - 1, img.height - 1], radius=pad, fill=(0, 0, 0, 150))
    d.text((pad, img.height / 2), text, font=f, fill=(*WHITE, 255), anchor="lm")
    return img


def _caption_band(captions: list[Caption], size: tuple[int, int]) -> Image.Image:
    """The bottom band for the captions on screen: 'SPEAKER: text', wrapped, speaker highlighted."""
    w, h = size
    fsize = max(12, round(min(w, h) * 0.042))
    pad = round(fsize * 0.6)
    rows: list[tuple[str, str, Font]] = []  # (line, speaker prefix on this line or "", font)
    for cap in captions:
        prefix = f"{cap.speaker.strip()}:" if cap.speaker.strip() else ""
        text = f"{prefix} {cap.text.strip()}".strip()
        f = font(fsize, text)
        for k, line in enumerate(_wrap(text, f, w - 4 * pad, max_lines=3)):
            rows.append((line, prefix if k == 0 else "", f))
    line_h = round(fsize * 1.3)
    band = Image.new("RGBA", (w, len(rows) * line_h + 2 * pad + round(h * 0.03)), (0, 0, 0, 0))
    d = ImageDraw.Draw(band)
    d.rectangle([0, 0, w, band.height], fill=(0, 0, 0, 165))
    for k, (line, prefix, f) in enumerate(rows):
        y = pad + k * line_h + line_h / 2
        x = (w - f.getlength(line)) / 2
        d.text((x, y), line, font=f, fill=(*WHITE, 255), anchor="lm")
        if prefix and line.startswith(prefix):
            d.text((x, y), prefix, font=f, fill=(*HIGHLIGHT, 255), anchor="lm")
    return band


# --- text and colour helpers ---------------------------------------------------------------

# one token per CJK character (lines may break between any two), else words and spaces
_TOKENS = re.compile(rf"[{CJK_CHARS}]|[^\s{CJK_CHARS}]+|\s+")


def _wrap(text: str, f: Font, max_w: float, max_lines: int) -> list[str]:
    """Greedy wrap: break at spaces, or between any two CJK characters; ellipsis past max_lines."""
    lines: list[str] = []
    line = ""
    for tok in _TOKENS.findall(" ".join(text.split())):
        if line and not tok.isspace() and f.getlength(line + tok) > max_w:
            lines.append(line.rstrip())
            line = ""
        if not (tok.isspace() and not line):
            line += tok
    if line.strip():
        lines.append(line.rstrip())
    lines = [_fit(ln, f, max_w) for ln in lines] or [""]
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], _fit(lines[max_lines - 1] + "…", f, max_w, force=True)]
    return lines


def _fit(text: str, f: Font, max_w: float, force: bool = False) -> str:
    """`text`, cut with an ellipsis if it is wider than `max_w` (or `force`d to end with one)."""
    if not force and f.getlength(text) <= max_w:
        return text
    text = text.rstrip("…")
    while text and f.getlength(text + "…") > max_w:
        text = text[:-1]
    return text.rstrip() + "…"


def _rgb(color: str, default: RGB) -> RGB:
    """'#rrggbb' (or any PIL colour name) to RGB; a bad colour never stops a render."""
    try:
        c = ImageColor.getrgb(color)
    except (ValueError, AttributeError):
        return default
    return (c[0], c[1], c[2])


def _mul(c: RGB, k: float) -> RGB:
    return (min(255, round(c[0] * k)), min(255, round(c[1] * k)), min(255, round(c[2] * k)))


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def _grow(b: Box, d: float) -> Box:
    return (b[0] - d, b[1] - d, b[2] + d, b[3] + d)


def _shift(b: Box, d: float) -> Box:
    return (b[0] + d, b[1] + d, b[2] + d, b[3] + d)
