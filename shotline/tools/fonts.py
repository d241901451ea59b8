"""TrueType fonts for drawn text (animatic captions, labels, contact sheets) that never fail.

Names and dialogue can be English, French or Chinese. `font()` picks a face that covers the
text when one is installed: a CJK-capable face for CJK text, DejaVu Sans for everything else,
and Pillow's bundled font as the last resort. Lookups and loaded faces are cached.

`face_file()` names the same faces as files and families, for renderers outside Pillow (libass
burning subtitles is pointed at the font's folder and asks for it by family).
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

CJK_CHARS = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
"""Han, kana, hangul, CJK symbols and punctuation, full-width forms: a regex character-class body."""
_CJK = re.compile(f"[{CJK_CHARS}]")

_CJK_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh.ttc",
)
_CJK_GLOBS = ("/usr/share/fonts/truetype/wqy/*", "/usr/share/fonts/**/*CJK*", "/usr/share/fonts/**/*[Hh]ei*")
_LATIN_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
)
_PROBE_CJK = "中文字"
_PROBE_LATIN = "AéÇ"


def has_cjk(text: str) -> bool:
    """True when `text` contains characters that Latin fonts usually lack."""
    return bool(_CJK.search(text))


def font(size: int, text: str = "") -> Font:
    """A font of `size` pixels able to draw `text`; falls back, never raises."""
    return _load(max(1, int(size)), has_cjk(text), threading.get_ident())


@dataclass(frozen=True)
class FaceFile:
    """An installed face as another renderer needs it: the file, the face inside it, its family."""

    path: Path
    index: int
    family: str


def face_file(cjk: bool) -> FaceFile | None:
    """The face `font()` would use for CJK (or Latin) text, or None when none is installed."""
    face = _cjk_face() if cjk else _latin_face()
    return _face_file(*face) if face else None


def cjk_font_path() -> Path | None:
    """File of the installed CJK-capable face, if any."""
    face = face_file(True)
    return face.path if face else None


def latin_font_path() -> Path | None:
    """File of the installed Latin face (DejaVu Sans or close), if any."""
    face = face_file(False)
    return face.path if face else None


@lru_cache(maxsize=8)
def _face_file(path: str, index: int) -> FaceFile | None:
    """Read the family name out of the face (a .ttc holds several, each with its own)."""
    try:
        family = ImageFont.truetype(path, 24, index=index).getname()[0]
    except OSError:
        return None
    return FaceFile(Path(path), index, family) if family else None


@lru_cache(maxsize=256)
def _load(size: int, cjk: bool, thread: int) -> Font:
    """Load (once per size, script and thread: a FreeType face is not thread-safe) the best face."""
    face = _cjk_face() if cjk else None
    face = face or _latin_face()
    if face is not None:
        try:
            return ImageFont.truetype(face[0], size, index=face[1])
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or no FreeType
        return ImageFont.load_default()


@lru_cache(maxsize=1)
def _cjk_face() -> tuple[str, int] | None:
    """The first installed face that really has CJK glyphs (fc-match may answer DejaVu)."""
    candidates = [_fc_match(":lang=zh"), *((p, 0) for p in _CJK_PATHS)]
    for pattern in _CJK_GLOBS:
        candidates += [(p, 0) for p in sorted(glob.glob(pattern, recursive=True))]
    return next((c for c in candidates if c and _covers(c, _PROBE_CJK)), None)


@lru_cache(maxsize=1)
def _latin_face() -> tuple[str, int] | None:
    """DejaVu Sans (or a close system face) for Latin text with accents."""
    candidates = [*((p, 0) for p in _LATIN_PATHS), _fc_match("DejaVu Sans"), _fc_match("sans-serif")]
    return next((c for c in candidates if c and _covers(c, _PROBE_LATIN)), None)


def _fc_match(pattern: str) -> tuple[str, int] | None:
    """Ask fontconfig for a face; None if fc-match is missing or says nothing."""
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "-f", "%{file}\t%{index}", pattern], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path, _, index = out.partition("\t")
    return (path, int(index)) if path and index.isdigit() else ((path, 0) if path else None)


def _covers(face: tuple[str, int], sample: str) -> bool:
    """True if the face draws `sample` with real glyphs rather than its missing-glyph box."""
    try:
        probe = ImageFont.truetype(face[0], 24, index=face[1])
    except OSError:
        return False
    missing = _glyph(probe, "\U000f0000")  # private-use code point: drawn as the .notdef box
    return all(_glyph(probe, ch) != missing for ch in sample)


def _glyph(face: ImageFont.FreeTypeFont, ch: str) -> bytes:
    """The pixels of one character, to compare glyphs."""
    img = Image.new("L", (32, 32))
    ImageDraw.Draw(img).text((2, 2), ch, font=face, fill=255)
    return img.tobytes()
