"""Offline reference sheets, drawn with PIL: a character turnaround or a set plate.

Used when no image model is configured, so the bible always has pictures. A character sheet shows
four labelled views of a simple figure dressed in the character's bible colour: a face close-up,
front, side (profile) and back. A set plate shows the location's backdrop colour as an interior or
exterior, by day or night, with each landmark of the set's layout (door, window, counter, lamp ...)
drawn at its place in the animatic's own shapes, so the plate and every storyboard frame show the
same set. Deterministic: the same request gives the same bytes. No network.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageColor, ImageDraw

from shotline.errors import ProviderError
from shotline.tools.fonts import font
from shotline.tools.image.base import ImageCard, ImageRequest, SheetSubject, image_key_payload, write_image
from shotline.tools.video.animatic import FRAMINGS, _draw_lamp, _draw_landmarks, _Stage
from shotline.tools.video.base import SetMark, ShotVisual

PROVIDER = "local"
VIEWS = ("face", "front", "side", "back")
SUPERSAMPLE = 2  # drawn at 2x and reduced: smooth edges

RGB = tuple[int, int, int]
Box = tuple[float, float, float, float]
PAPER: RGB = (244, 241, 234)
PANEL: RGB = (230, 225, 215)
INK: RGB = (38, 38, 44)
SKIN: RGB = (233, 198, 163)
BLACK: RGB = (0, 0, 0)
WHITE: RGB = (255, 255, 255)
NIGHT_GAIN = (0.32, 0.36, 0.52)  # per channel: darker and bluer
FLOOR = 0.68  # a plate's interior: where the wall meets the floor, as a fraction of the height
HORIZON = 0.62  # a plate's exterior: where the skyline meets the ground

CARD = ImageCard(
    name=PROVIDER,
    display_name="Offline sheets (drawn locally)",
    model_id="sheet-v1",
    local=True,
    max_images=1,
    reference_images=0,  # references are accepted and ignored: the drawing comes from `subject`
    seed=True,
    usd_per_image=0.0,
    price_source="drawn locally with PIL: no charge",
    price_date="2026-11",
    typical_latency_s=0.2,
)


class SetSubject(SheetSubject):
    """A set plate's subject with the set's layout, so the offline plate draws each landmark at its x.

    A subclass rather than a field of `SheetSubject`: only the offline renderer reads it (hosted models
    read the landmarks from the prompt), and `LocalSheets.key_payload` puts them in the cache key.
    """

    landmarks: tuple[SetMark, ...] = ()


def landmarks_of(subject: SheetSubject) -> tuple[SetMark, ...]:
    return subject.landmarks if isinstance(subject, SetSubject) else ()


class LocalSheets:
    """The offline image model: draws `request.subject`; needs no key and never fails for lack of one."""

    card: ImageCard = CARD

    def unavailable_reason(self) -> str | None:
        return None

    def key_payload(self, request: ImageRequest) -> dict[str, Any]:
        """The shared payload, plus the landmarks a plate draws (a moved door is a new plate). A set
        with no layout keeps the key it always had."""
        payload = image_key_payload(request, self.card)
        marks = landmarks_of(request.subject) if request.subject is not None else ()
        if marks:
            payload["subject"] = {
                **payload["subject"],
                "landmarks": [m.model_dump(mode="json") for m in marks],
            }
        return payload

    async def generate(self, request: ImageRequest, dest_dir: Path) -> list[Path]:
        if request.subject is None:
            raise ProviderError(
                "the offline renderer draws character sheets and set plates only; give the request a subject",
                provider=PROVIDER,
            )
        if request.n > 1:
            raise ProviderError("the offline renderer makes one sheet a request", provider=PROVIDER)
        png = await asyncio.to_thread(render_png, request)
        return [write_image(png, dest_dir, PROVIDER)]


def render_png(request: ImageRequest) -> bytes:
    """The sheet for `request` as PNG bytes."""
    subject = request.subject
    if subject is None:
        raise ProviderError("nothing to draw: the request has no subject", provider=PROVIDER)
    size = (request.width, request.height)
    img = (
        character_sheet(subject, size)
        if subject.kind == "character"
        else set_plate(subject, size, request.seed)
    )
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


# --- character sheet ---------------------------------------------------------------------------


def panel_boxes(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """The four view panels (in `VIEWS` order) as pixel boxes: a row under the title band."""
    margin = max(4, round(min(width, height) * 0.025))
    top = round(height * 0.11)
    panel_w = (width - 5 * margin) / 4
    return [
        (
            round(margin + i * (panel_w + margin)),
            top,
            round(margin + i * (panel_w + margin) + panel_w),
            height - margin,
        )
        for i in range(4)
    ]


def character_sheet(subject: SheetSubject, size: tuple[int, int]) -> Image.Image:
    w, h = size
    s = SUPERSAMPLE
    img = Image.new("RGB", (w * s, h * s), PAPER)
    draw = ImageDraw.Draw(img)
    palette = Palette.of(subject.color)
    title = font(max(10, round(h * 0.05)) * s, subject.name)
    draw.text(
        (w * s / 2, h * s * 0.055), f"{subject.name} · character sheet", font=title, fill=INK, anchor="mm"
    )
    for view, box in zip(VIEWS, panel_boxes(w, h), strict=True):
        x0, y0, x1, y1 = (v * s for v in box)
        draw.rounded_rectangle((x0, y0, x1, y1), radius=(x1 - x0) * 0.06, fill=PANEL)
        label_h = (y1 - y0) * 0.09
        label = font(max(8, round(label_h / s * 0.55)) * s, view)
        draw.text(((x0 + x1) / 2, y1 - label_h / 2), view.upper(), font=label, fill=INK, anchor="mm")
        stage = (x0, y0, x1, y1 - label_h)
        if view == "face":
            _draw_face(draw, stage, palette)
        else:
            _draw_body(draw, stage, palette, view)
    return img.resize(size, Image.Resampling.LANCZOS)


@dataclass(frozen=True)
class Palette:
    cloth: RGB  # the character's bible colour: shirt, sleeves, shoulders
    hair: RGB
    legs: RGB

    @classmethod
    def of(cls, color: str) -> Palette:
        c = _rgb(color, (120, 120, 120))
        return cls(cloth=c, hair=_mix(c, BLACK, 0.62), legs=_mix(c, BLACK, 0.4))


def _draw_body(draw: ImageDraw.ImageDraw, stage: Box, pal: Palette, view: str) -> None:
    """A full figure: head, torso, arms, legs, shoes; the view decides widths and the face."""
    x0, y0, x1, y1 = stage
    fh = min((y1 - y0) * 0.9, (x1 - x0) * 2.0)  # figure height
    cx, top = (x0 + x1) / 2, y0 + ((y1 - y0) - fh) / 2
    lw = max(2, round(fh * 0.006))
    side = view == "side"
    r = fh * 0.1
    hy = top + r
    torso_top, torso_bottom = hy + r * 1.15, hy + r + fh * 0.4
    half = fh * (0.1 if side else 0.17)
    hip = fh * (0.09 if side else 0.14)
    leg_bottom = min(top + fh - fh * 0.04, torso_bottom + fh * 0.36)
    # legs, then shoes
    leg_w = fh * (0.1 if side else 0.095)
    legs = [cx - leg_w * 0.35, cx + leg_w * 0.35] if side else [cx - hip * 0.5, cx + hip * 0.5]
    for lx in legs:
        draw.rounded_rectangle(
            (lx - leg_w / 2, torso_bottom - fh * 0.02, lx + leg_w / 2, leg_bottom),
            radius=leg_w * 0.3,
            fill=pal.legs,
            outline=INK,
            width=lw,
        )
        toe = leg_w * (0.9 if side else 0.15)
        draw.rounded_rectangle(
            (lx - leg_w * 0.6, leg_bottom - fh * 0.015, lx + leg_w * 0.6 + toe, leg_bottom + fh * 0.035),
            radius=fh * 0.015,
            fill=INK,
        )
    # arms behind the torso (front/back), or one arm over it (side)
    arm_w, arm_len = fh * 0.065, fh * 0.36
    if not side:
        for sign in (-1, 1):
            ax = cx + sign * (half + arm_w * 0.35)
            draw.rounded_rectangle(
                (ax - arm_w / 2, torso_top + fh * 0.01, ax + arm_w / 2, torso_top + arm_len),
                radius=arm_w / 2,
                fill=pal.cloth,
                outline=INK,
                width=lw,
            )
            _disc(draw, ax, torso_top + arm_len + arm_w * 0.3, arm_w * 0.55, SKIN, lw)
    draw.polygon(
        [(cx - half, torso_top), (cx + half, torso_top), (cx + hip, torso_bottom), (cx - hip, torso_bottom)],
        fill=pal.cloth,
        outline=INK,
        width=lw,
    )
    if view == "back":  # a centre seam and a collar: the back is not the front
        draw.line((cx, torso_top + fh * 0.03, cx, torso_bottom - fh * 0.02), fill=pal.legs, width=lw * 2)
    else:
        draw.polygon(
            [(cx - half * 0.35, torso_top), (cx + half * 0.35, torso_top), (cx, torso_top + fh * 0.05)],
            fill=SKIN,
            outline=INK,
            width=lw,
        )
    if side:
        ax = cx + half * 0.15
        draw.rounded_rectangle(
            (ax - arm_w / 2, torso_top + fh * 0.01, ax + arm_w / 2, torso_top + arm_len),
            radius=arm_w / 2,
            fill=pal.cloth,
            outline=INK,
            width=lw,
        )
        _disc(draw, ax, torso_top + arm_len + arm_w * 0.3, arm_w * 0.55, SKIN, lw)
    _draw_head(draw, cx, hy, r, pal, view, lw)


def _draw_head(
    draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, pal: Palette, view: str, lw: int
) -> None:
    """Front: face and a fringe. Side: profile facing right, hair behind. Back: all hair."""
    if view == "back":
        _disc(draw, cx, cy, r, pal.hair, lw)
        draw.rounded_rectangle((cx - r * 0.9, cy, cx + r * 0.9, cy + r * 1.25), radius=r * 0.4, fill=pal.hair)
        return
    _disc(draw, cx, cy, r, SKIN, lw)
    if view == "side":
        draw.polygon(
            [(cx + r * 0.92, cy - r * 0.1), (cx + r * 1.22, cy + r * 0.18), (cx + r * 0.92, cy + r * 0.3)],
            fill=SKIN,
            outline=INK,
            width=lw,
        )  # nose
        draw.chord((cx - r, cy - r, cx + r, cy + r * 0.1), 180, 360, fill=pal.hair, outline=INK, width=lw)
        draw.pieslice((cx - r, cy - r, cx + r, cy + r), 90, 270, fill=pal.hair, outline=INK, width=lw)
        _disc(draw, cx + r * 0.55, cy, r * 0.1, INK, 0)
        draw.line((cx + r * 0.45, cy + r * 0.5, cx + r * 0.8, cy + r * 0.45), fill=INK, width=lw)
        return
    draw.chord((cx - r, cy - r, cx + r, cy + r * 0.1), 180, 360, fill=pal.hair, outline=INK, width=lw)
    for sign in (-1, 1):
        _disc(draw, cx + sign * r * 0.38, cy + r * 0.22, r * 0.1, INK, 0)
    draw.arc((cx - r * 0.35, cy + r * 0.3, cx + r * 0.35, cy + r * 0.7), 20, 160, fill=INK, width=lw)


def _draw_face(draw: ImageDraw.ImageDraw, stage: Box, pal: Palette) -> None:
    """A close-up: a large head over the shoulders, eyes with brows, nose, mouth, ears."""
    x0, y0, x1, y1 = stage
    w, h = x1 - x0, y1 - y0
    r = min(w * 0.36, h * 0.24)
    cx, cy = (x0 + x1) / 2, y0 + h * 0.38
    lw = max(2, round(r * 0.025))
    shoulders_top = cy + r * 1.05
    bust = (x0 + w * 0.04, shoulders_top, x1 - w * 0.04, min(y1, shoulders_top + r * 2.2))
    draw.rounded_rectangle(bust, radius=r * 0.6, fill=pal.cloth, outline=INK, width=lw)
    draw.rectangle((cx - r * 0.35, cy + r * 0.6, cx + r * 0.35, shoulders_top + r * 0.2), fill=SKIN)  # neck
    for sign in (-1, 1):
        _disc(draw, cx + sign * r * 0.98, cy + r * 0.1, r * 0.18, SKIN, lw)  # ears
    _disc(draw, cx, cy, r, SKIN, lw)
    draw.chord((cx - r, cy - r, cx + r, cy + r * 0.05), 180, 360, fill=pal.hair, outline=INK, width=lw)
    for sign in (-1, 1):
        ex, ey = cx + sign * r * 0.38, cy + r * 0.25
        _disc(draw, ex, ey, r * 0.16, WHITE, lw)
        _disc(draw, ex, ey, r * 0.08, INK, 0)
        draw.line((ex - r * 0.18, ey - r * 0.27, ex + r * 0.18, ey - r * 0.3), fill=pal.hair, width=lw * 2)
    draw.line(
        (cx, cy + r * 0.3, cx - r * 0.08, cy + r * 0.5, cx + r * 0.02, cy + r * 0.52), fill=INK, width=lw
    )
    draw.arc((cx - r * 0.3, cy + r * 0.45, cx + r * 0.3, cy + r * 0.78), 20, 160, fill=INK, width=lw)


# --- set plate --------------------------------------------------------------------------------


def set_plate(subject: SheetSubject, size: tuple[int, int], seed: int | None = None) -> Image.Image:
    """The location as an empty plate: interior (wall, floor, window, door) or exterior (sky,
    skyline, ground), with the layout's landmarks in place of the generic window and door, night
    darker and bluer with its lamps lit, labelled along the bottom."""
    w, h = size
    s = SUPERSAMPLE
    W, H = w * s, h * s
    base = _rgb(subject.color, (110, 110, 110))
    img = Image.new("RGB", (W, H), base)
    draw = ImageDraw.Draw(img)
    rng = random.Random(hashlib.sha256(f"{subject.name}:{seed or 0}".encode()).digest())
    marks = landmarks_of(subject)
    if subject.interior:
        lights = _interior(draw, W, H, base, rng, furnish=not marks)
        horizon = H * FLOOR
    else:
        lights = _exterior(draw, W, H, base, rng)
        horizon = H * HORIZON
    stage = _plate_stage(w, h)
    if marks:
        _draw_layout(draw, stage, subject, marks, horizon)
    if subject.night:
        img = _night(img)
        draw = ImageDraw.Draw(img)
        for box in lights:  # lit windows: a night plate is not just a dark day plate
            draw.rectangle(box, fill=(236, 196, 110))
        for mark in (m for m in marks if m.kind == "lamp"):
            _draw_lamp(draw, stage, 1.0, stage.x(mark.x), horizon, glow=img)
    band = H * 0.09
    draw.rectangle((0, H - band, W, H), fill=(24, 24, 28))
    when = "NIGHT" if subject.night else "DAY"
    text = f"{subject.name} · {'INT' if subject.interior else 'EXT'} · {when}"
    draw.text((W / 2, H - band / 2), text, font=font(round(band * 0.5), text), fill=WHITE, anchor="mm")
    return img.resize(size, Image.Resampling.LANCZOS)


def _plate_stage(w: int, h: int) -> _Stage:
    """The animatic's stage with no margin: landmark x 0..1 maps straight onto the plate's width."""
    return _Stage(w=w, h=h, cw=w, ch=h, ss=SUPERSAMPLE)


def _draw_layout(
    draw: ImageDraw.ImageDraw,
    stage: _Stage,
    subject: SheetSubject,
    marks: tuple[SetMark, ...],
    horizon: float,
) -> None:
    """The landmarks as the animatic's wide shot draws them (set zoom 1: each at its own x), labelled."""
    visual = ShotVisual(
        shot_id="plate",
        framing="wide",
        camera="static",
        location=subject.name,
        backdrop=subject.color,
        night=subject.night,
        interior=subject.interior,
        landmarks=marks,
    )
    _draw_landmarks(draw, stage, FRAMINGS["wide"], visual, horizon)


def _interior(
    draw: ImageDraw.ImageDraw, W: int, H: int, base: RGB, rng: random.Random, furnish: bool = True
) -> list[Box]:
    """Wall, floor and, for a set with no layout, a window and a door; returns the boxes lit at night
    (none: the window shows the dark)."""
    floor = H * FLOOR
    draw.rectangle((0, floor, W, H), fill=_mix(base, BLACK, 0.35))
    draw.rectangle((0, floor - H * 0.015, W, floor), fill=_mix(base, BLACK, 0.55))  # skirting
    if not furnish:
        return []
    wx = W * rng.uniform(0.12, 0.42)
    win = (wx, H * 0.18, wx + W * 0.22, H * 0.52)
    draw.rectangle(win, fill=_mix(base, WHITE, 0.7), outline=_mix(base, BLACK, 0.5), width=max(2, W // 200))
    draw.line(
        ((win[0] + win[2]) / 2, win[1], (win[0] + win[2]) / 2, win[3]),
        fill=_mix(base, BLACK, 0.5),
        width=max(2, W // 300),
    )
    draw.line(
        (win[0], (win[1] + win[3]) / 2, win[2], (win[1] + win[3]) / 2),
        fill=_mix(base, BLACK, 0.5),
        width=max(2, W // 300),
    )
    dx = W * rng.uniform(0.62, 0.8)
    draw.rectangle((dx, H * 0.26, dx + W * 0.12, floor), fill=_mix(base, BLACK, 0.45))
    return []


def _exterior(draw: ImageDraw.ImageDraw, W: int, H: int, base: RGB, rng: random.Random) -> list[Box]:
    """Sky, a skyline and the ground; returns window boxes to light at night."""
    horizon = H * HORIZON
    sky_top, sky_low = _mix(base, WHITE, 0.65), _mix(base, WHITE, 0.35)
    steps = 32
    for i in range(steps):
        y0, y1 = horizon * i / steps, horizon * (i + 1) / steps + 1
        draw.rectangle((0, y0, W, y1), fill=_mix(sky_top, sky_low, i / (steps - 1)))
    x = 0.0
    skyline = _mix(base, BLACK, 0.5)
    windows: list[Box] = []
    while x < W:
        bw, top = W * rng.uniform(0.06, 0.14), horizon - H * rng.uniform(0.12, 0.38)
        draw.rectangle((x, top, x + bw, horizon), fill=skyline)
        wx, wy = x + bw * rng.uniform(0.2, 0.6), top + (horizon - top) * rng.uniform(0.15, 0.6)
        windows.append((wx, wy, wx + bw * 0.18, wy + H * 0.035))
        x += bw + W * rng.uniform(0.0, 0.03)
    draw.rectangle((0, horizon, W, H), fill=_mix(base, BLACK, 0.3))
    return windows


def _night(img: Image.Image) -> Image.Image:
    r, g, b = img.split()
    return Image.merge(
        "RGB", [ch.point(lambda v, k=k: round(v * k)) for ch, k in zip((r, g, b), NIGHT_GAIN, strict=True)]
    )


# --- small helpers ---------------------------------------------------------------------------


def _disc(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, fill: RGB, lw: int) -> None:
    draw.ellipse((x - r, y - r, x + r, y + r), fill=fill, outline=INK if lw else None, width=lw)


def _rgb(color: str, default: RGB) -> RGB:
    """'#rrggbb' (or a PIL colour name) to RGB; a bad colour never stops a sheet."""
    try:
        c = ImageColor.getrgb(color)
    except (ValueError, AttributeError):
        return default
    return (c[0], c[1], c[2])


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))
