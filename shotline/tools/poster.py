"""The poster frame: the one still a person would pick to stand for the film, with its title.

A thumbnail sells the film on a face, so the choice favours shots with characters in frame,
close and medium framings over wides and inserts, and takes that QC scored well; the opening
establishing shot is the usual accidental thumbnail and is passed over. The choice is a pure
function of the cut and the verdicts, so the same cut always gets the same poster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from shotline.errors import RenderError
from shotline.memory.models import Shot
from shotline.memory.store import atomic_write
from shotline.tools import ffmpeg
from shotline.tools.contact_sheet import png_bytes
from shotline.tools.fonts import CJK_CHARS, Font, font
from shotline.tools.qc import TakeVerdict
from shotline.tools.timeline import EditDecision

FRAMING_APPEAL = {
    "close-up": 0.8,
    "medium": 0.7,
    "two-shot": 0.6,
    "wide": 0.3,
    "insert": 0.1,
    "establishing": 0.0,
}
"""How well each framing reads as a thumbnail: faces first, places last."""
CHARACTER_APPEAL = 1.0  # a character in frame outweighs any framing
UNSCORED_QC = 0.5  # a shot with no verdict counts as middling, neither trusted nor punished
TITLE_BAND = 0.2  # share of the poster's height the title band covers, at the bottom
TITLE_SCALE = 0.09  # title size as a share of the poster's short side
TITLE_MIN_SCALE = 0.05  # a long title shrinks to this before it is shortened
TITLE_WIDTH = 0.9  # the title stays inside this share of the width
TITLE_LINES = 2  # a long title wraps onto this many lines before it shrinks


@dataclass(frozen=True)
class Poster:
    """The written poster and the edit decision (shot and take) it was taken from, for the report."""

    path: Path
    decision: EditDecision
    at_s: float = 0.0

    @property
    def shot(self) -> Shot:
        return self.decision.shot

    @property
    def shot_id(self) -> str:
        return self.decision.shot.id

    def __fspath__(self) -> str:
        return str(self.path)


def poster_appeal(decision: EditDecision, verdict: TakeVerdict | None) -> float:
    """How good a thumbnail the shot makes: characters, framing, then QC score."""
    shot = decision.shot
    characters = CHARACTER_APPEAL if shot.characters else 0.0
    qc = verdict.score if verdict is not None else UNSCORED_QC
    return characters + FRAMING_APPEAL.get(shot.framing, 0.0) + qc


def choose_poster_shot(
    decisions: Sequence[EditDecision], verdicts: Mapping[str, TakeVerdict] | None = None
) -> EditDecision:
    """The shot to take the poster from: highest `poster_appeal`, earliest on ties, and never the
    opening establishing shot unless it is the only shot."""
    if not decisions:
        raise RenderError("the cut has no shots to take a poster frame from")
    verdicts = verdicts or {}
    candidates = list(decisions)
    if len(candidates) > 1 and candidates[0].shot.framing == "establishing":
        candidates = candidates[1:]
    best = max(
        range(len(candidates)),
        key=lambda i: (poster_appeal(candidates[i], verdicts.get(candidates[i].shot.id)), -i),
    )
    return candidates[best]


def make_poster(
    decisions: Sequence[EditDecision],
    verdicts: Mapping[str, TakeVerdict] | None,
    title: str,
    size: tuple[int, int],
    out_path: Path,
) -> Poster:
    """Write the poster PNG at `out_path` (atomically): the middle of the chosen shot's used part,
    filled to `size` (the cut's size), with `title` drawn in a dark band at the bottom.

    Returns the path and the chosen shot (`Poster` is path-like). Raises RenderError if the cut is
    empty or the take can't be read.
    """
    decision = choose_poster_shot(decisions, verdicts)
    at_s = min(decision.duration_s, decision.take.duration_s) / 2
    still = ffmpeg.grab_frame(Path(decision.take.path), at_s)
    image = draw_title(ImageOps.fit(still.convert("RGB"), size, Image.Resampling.LANCZOS), title)
    path = atomic_write(Path(out_path), png_bytes(image))
    return Poster(path=path, decision=decision, at_s=round(at_s, 3))


def draw_title(image: Image.Image, title: str) -> Image.Image:
    """`image` with `title` centred in a darkened band at the bottom; unchanged for an empty title.

    `fonts.font` picks a face that covers the title, so a Chinese title draws real glyphs. A long
    title wraps onto a second line, then shrinks, then is shortened: it never leaves the frame.
    """
    title = " ".join(title.split())
    if not title:
        return image
    width, height = image.size
    band_top = round(height * (1 - TITLE_BAND))
    shade = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(shade).rectangle((0, band_top, width, height), fill=(0, 0, 0, 150))
    poster = Image.alpha_composite(image.convert("RGBA"), shade).convert("RGB")
    draw = ImageDraw.Draw(poster)
    short = min(width, height)
    lines, face, px = _fit_title(
        draw, title, round(short * TITLE_SCALE), round(short * TITLE_MIN_SCALE), width
    )
    stroke = max(1, round(px / 18))
    leading = round(px * 1.25)
    first_y = (band_top + height) / 2 - leading * (len(lines) - 1) / 2
    for k, line in enumerate(lines):
        draw.text(
            (width / 2, first_y + k * leading), line, font=face, fill=(245, 245, 245), anchor="mm",
            stroke_width=stroke, stroke_fill=(0, 0, 0),
        )  # fmt: skip
    return poster


def _fit_title(
    draw: ImageDraw.ImageDraw, title: str, size: int, min_size: int, width: int
) -> tuple[list[str], Font, int]:
    """The title's lines (one, else two), a font and its size that fit the band's width: wrap first,
    then shrink, then shorten the second line with an ellipsis."""
    limit = width * TITLE_WIDTH
    size, min_size = max(size, 1), max(min(min_size, size), 1)
    for px in range(size, min_size - 1, -2):
        face = font(px, title)
        lines = _wrap(draw, title, face, limit)
        if len(lines) <= TITLE_LINES and all(draw.textlength(line, font=face) <= limit for line in lines):
            return lines, face, px
    face = font(min_size, title)
    lines = _wrap(draw, title, face, limit)
    lines = [*lines[: TITLE_LINES - 1], " ".join(lines[TITLE_LINES - 1 :])]
    return [_shorten(draw, line, face, limit) for line in lines], face, min_size


def _shorten(draw: ImageDraw.ImageDraw, line: str, face: Font, limit: float) -> str:
    """`line` cut to fit `limit` with an ellipsis; unchanged if it fits."""
    if draw.textlength(line, font=face) <= limit:
        return line
    while len(line) > 1 and draw.textlength(line + "…", font=face) > limit:
        line = line[:-1]
    return line.rstrip() + "…"


def _wrap(draw: ImageDraw.ImageDraw, text: str, face: Font, limit: float) -> list[str]:
    """Greedy line breaks at spaces, or between any two CJK characters (which have no spaces)."""
    pieces = re.findall(rf"[{CJK_CHARS}]|[^\s{CJK_CHARS}]+|\s+", text)
    lines: list[str] = []
    line = ""
    for piece in pieces:
        candidate = line + piece
        if line.strip() and not piece.isspace() and draw.textlength(candidate.strip(), font=face) > limit:
            lines.append(line.strip())
            line = piece
        else:
            line = candidate
    if line.strip():
        lines.append(line.strip())
    return lines
