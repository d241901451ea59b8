"""Contact sheet: one still per shot in a labelled grid, to review a cut at a glance.

The layout is computed by `SheetLayout` alone, so callers and tests know the sheet's size from
the number of shots and the frame's aspect ratio.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from shotline.tools.fonts import font

THUMB_LONG_SIDE = 320
MAX_COLUMNS = 4
GAP = 12
LABEL_HEIGHT = 28
TITLE_HEIGHT = 56
BACKGROUND = (20, 20, 24)
INK = (236, 236, 236)
MUTED = (150, 150, 160)


@dataclass(frozen=True)
class Tile:
    """A still and the line printed under it."""

    image: Image.Image
    label: str


@dataclass(frozen=True)
class SheetLayout:
    """Grid geometry: thumbnails fit THUMB_LONG_SIDE, at most MAX_COLUMNS per row."""

    count: int
    frame_width: int
    frame_height: int

    @property
    def thumb(self) -> tuple[int, int]:
        scale = THUMB_LONG_SIDE / max(self.frame_width, self.frame_height)
        return round(self.frame_width * scale), round(self.frame_height * scale)

    @property
    def columns(self) -> int:
        return max(1, min(MAX_COLUMNS, self.count))

    @property
    def rows(self) -> int:
        return max(1, math.ceil(self.count / self.columns))

    @property
    def cell(self) -> tuple[int, int]:
        width, height = self.thumb
        return width + GAP, height + LABEL_HEIGHT + GAP

    @property
    def size(self) -> tuple[int, int]:
        cell_w, cell_h = self.cell
        return GAP + self.columns * cell_w, TITLE_HEIGHT + self.rows * cell_h

    def origin(self, index: int) -> tuple[int, int]:
        """Top-left corner of tile `index`'s thumbnail."""
        row, col = divmod(index, self.columns)
        cell_w, cell_h = self.cell
        return GAP + col * cell_w, TITLE_HEIGHT + row * cell_h


def build_contact_sheet(title: str, tiles: Sequence[Tile], frame_size: tuple[int, int]) -> Image.Image:
    """Draw the title, then each tile's still (letterboxed into its cell) with its label beneath."""
    layout = SheetLayout(len(tiles), *frame_size)
    sheet = Image.new("RGB", layout.size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((GAP, TITLE_HEIGHT // 2), title, fill=INK, font=font(26, title), anchor="lm")
    thumb_w, thumb_h = layout.thumb
    for index, tile in enumerate(tiles):
        x, y = layout.origin(index)
        still = tile.image.convert("RGB")
        still.thumbnail((thumb_w, thumb_h))
        draw.rectangle((x, y, x + thumb_w - 1, y + thumb_h - 1), fill=(0, 0, 0))
        sheet.paste(still, (x + (thumb_w - still.width) // 2, y + (thumb_h - still.height) // 2))
        label_font = font(16, tile.label)
        draw.text((x, y + thumb_h + LABEL_HEIGHT // 2), tile.label, fill=MUTED, font=label_font, anchor="lm")
    return sheet


def png_bytes(image: Image.Image) -> bytes:
    """The image encoded as PNG, for an atomic write by the caller."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
