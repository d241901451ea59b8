"""Burned-in subtitles on the real bundled ffmpeg (libass): measured on the decoded frames.

Clips are a dark lavfi `color` frame; a subtitle is bright white, so "text is on screen" is a count
of bright pixels in the bottom band, and "the glyphs are real" compares the bright-pixel patterns
of different strings (missing-glyph boxes would all look alike).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from shotline.errors import RenderError
from shotline.tools import fonts
from shotline.tools.ffmpeg import ffmpeg_exe, grab_frame
from shotline.tools.subtitles import (
    FONT_FILE_COMMENT,
    Cue,
    ass_escape,
    ass_timestamp,
    burn_filter,
    to_ass,
    write_ass,
)

LANDSCAPE = (1280, 720)
PORTRAIT = (720, 1280)
BRIGHT = 200  # luma of subtitle text; the background is 16
MIN_TEXT_PIXELS = 400

needs_cjk_font = pytest.mark.skipif(
    fonts.face_file(cjk=True) is None, reason="no CJK font installed (fonts-wqy-microhei or fonts-noto-cjk)"
)


def _burn(folder: Path, cues: Sequence[Cue], size: tuple[int, int], seconds: float, **kw: Path) -> Path:
    """A dark clip of `size` with `cues` burned in through `burn_filter`."""
    ass = write_ass(cues, size, folder / "subs.ass")
    out = folder / "burned.mp4"
    source = f"color=c=0x101010:s={size[0]}x{size[1]}:r=24:d={seconds}"
    args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source]
    args += ["-vf", burn_filter(ass, **kw), "-c:v", "libx264", "-preset", "ultrafast", "-crf", "12"]
    subprocess.run([*args, "-pix_fmt", "yuv420p", str(out)], check=True, capture_output=True)
    return out


def _luma(path: Path, at_s: float) -> np.ndarray:
    return np.asarray(grab_frame(path, at_s).convert("L"))


def _bright(luma: np.ndarray) -> np.ndarray:
    return luma > BRIGHT


def _bottom(luma: np.ndarray) -> np.ndarray:
    return luma[luma.shape[0] * 3 // 4 :]


def _top(luma: np.ndarray) -> np.ndarray:
    return luma[: luma.shape[0] // 2]


def _text_lines(mask: np.ndarray) -> int:
    """Runs of rows that hold bright pixels: the number of text lines drawn."""
    rows = mask.any(axis=1).astype(np.int8)
    return int(np.count_nonzero(np.diff(np.concatenate(([0], rows))) == 1))


def _style(doc: str) -> dict[str, str]:
    """The Default style's fields by name, read through the document's own Format line."""
    lines = doc[doc.index("[V4+ Styles]") :].splitlines()
    names = [n.strip() for n in lines[1].removeprefix("Format:").split(",")]
    values = next(line for line in lines if line.startswith("Style:")).removeprefix("Style: ").split(",")
    return dict(zip(names, values, strict=True))


# --- the document -----------------------------------------------------------------------


def test_ass_document_plays_at_frame_size_with_one_event_per_cue() -> None:
    cues = [Cue(0.5, 1.25, "MEI", "Run!"), Cue(61.0, 3723.456, "", "Later.")]
    doc = to_ass(cues, LANDSCAPE)
    assert "PlayResX: 1280" in doc and "PlayResY: 720" in doc
    assert "WrapStyle: 0" in doc
    events = [line for line in doc.splitlines() if line.startswith("Dialogue:")]
    assert events == [
        "Dialogue: 0,0:00:00.50,0:00:01.25,Default,,0,0,0,,MEI: Run!",
        "Dialogue: 0,0:01:01.00,1:02:03.46,Default,,0,0,0,,Later.",
    ]
    style = _style(doc)
    assert style["Fontname"] == fonts.face_file(cjk=False).family  # Latin text, Latin face
    assert style["PrimaryColour"] == "&H00FFFFFF" and style["Alignment"] == "2"  # white, bottom centre
    assert float(style["Outline"]) > 0 and int(style["MarginV"]) > 0
    assert ass_timestamp(0.004) == "0:00:00.00" and ass_timestamp(-1) == "0:00:00.00"


def test_font_size_follows_the_short_side_so_portrait_is_as_readable_as_landscape() -> None:
    cues = [Cue(0, 1, "", "Hello")]

    def font_size(size: tuple[int, int]) -> int:
        return int(_style(to_ass(cues, size))["Fontsize"])

    assert font_size(LANDSCAPE) == font_size(PORTRAIT) >= 36
    assert "PlayResX: 720" in to_ass(cues, PORTRAIT) and "PlayResY: 1280" in to_ass(cues, PORTRAIT)


@needs_cjk_font
def test_any_cjk_cue_picks_a_cjk_face_and_records_its_file() -> None:
    doc = to_ass([Cue(0, 1, "MEI", "Go."), Cue(1, 2, "李雷", "快走！")], LANDSCAPE)
    face = fonts.face_file(cjk=True)
    assert f"Style: Default,{face.family}," in doc
    assert f"{FONT_FILE_COMMENT}{face.path}" in doc


def test_missing_cjk_font_says_which_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = fonts.face_file
    monkeypatch.setattr(fonts, "face_file", lambda cjk: None if cjk else real(cjk))
    with pytest.raises(RenderError, match="fonts-wqy-microhei or fonts-noto-cjk"):
        to_ass([Cue(0, 1, "MEI", "快走！")], LANDSCAPE)
    assert "Dialogue:" in to_ass([Cue(0, 1, "MEI", "Go!")], LANDSCAPE)  # Latin text still burns


def test_script_text_cannot_inject_override_tags_or_events() -> None:
    assert ass_escape("{\\b1}bold{\\b0}") == "\\{\\b1\\}bold\\{\\b0\\}"
    assert ass_escape("a\\Nb \\h c\\nd") == "a\\\u2060Nb \\\u2060h c\\\u2060nd"
    doc = to_ass(
        [Cue(0, 1, "MEI", "one\nDialogue: 0,0:00:00.00,9:00:00.00,Default,,0,0,0,,{\\pos(0,0)}x")], LANDSCAPE
    )
    events = [line for line in doc.splitlines() if line.startswith("Dialogue:")]
    assert len(events) == 1
    assert re.search(r"(?<!\\)[{}]", events[0]) is None  # every brace is escaped


def test_burn_filter_escapes_the_paths_for_the_filtergraph(tmp_path: Path) -> None:
    ass = tmp_path / "it's a, [odd]; dir:x" / "subs.ass"
    fragment = burn_filter(ass, fonts_dir=Path("/fonts/a b"))
    assert fragment.startswith("subtitles=") and "fontsdir=" in fragment
    for special in (",", "'", "[", "]", ";", " "):
        assert re.search(rf"(?<!\\){re.escape(special)}", fragment.partition("=")[2]) is None


# --- measured on burned frames -----------------------------------------------------------


@needs_cjk_font
def test_english_and_chinese_cues_show_in_the_bottom_band_only_in_their_time(tmp_path: Path) -> None:
    cues = [Cue(0.5, 1.25, "MEI", "Run, the rain is coming!"), Cue(1.5, 2.25, "MEI", "快走！雨要下大了")]
    clip = _burn(tmp_path, cues, LANDSCAPE, 3.0)
    for at_s in (0.9, 1.9):  # inside each cue
        luma = _luma(clip, at_s)
        assert np.count_nonzero(_bright(_bottom(luma))) > MIN_TEXT_PIXELS
        assert np.count_nonzero(_bright(_top(luma))) == 0
        assert _text_lines(_bright(luma)) == 1
    for at_s in (0.2, 1.375, 2.6):  # before, between, after
        assert np.count_nonzero(_bright(_luma(clip, at_s))) == 0


@needs_cjk_font
def test_chinese_renders_real_glyphs_not_missing_glyph_boxes(tmp_path: Path) -> None:
    texts = ["快走雨要下大", "我们明天再见", "□□□□□□"]
    cues = [Cue(0.5 + i, 1.0 + i, "", text) for i, text in enumerate(texts)]
    clip = _burn(tmp_path, cues, LANDSCAPE, 3.0)
    masks = [_bright(_bottom(_luma(clip, 0.75 + i))) for i in range(len(texts))]
    assert np.count_nonzero(masks[0]) > MIN_TEXT_PIXELS and np.count_nonzero(masks[1]) > MIN_TEXT_PIXELS
    assert np.count_nonzero(masks[2]) > 0  # the boxes are drawn too, just thinner than Han glyphs

    def differ(a: np.ndarray, b: np.ndarray) -> float:
        return np.count_nonzero(a ^ b) / max(np.count_nonzero(a | b), 1)

    assert differ(masks[0], masks[1]) > 0.5  # boxes for missing glyphs would be identical
    assert differ(masks[0], masks[2]) > 0.5 and differ(masks[1], masks[2]) > 0.5


@needs_cjk_font
@pytest.mark.parametrize(
    "text",
    [
        "This is a very long line of dialogue that could never fit across a vertical phone frame at once",
        "快走！雨要下大了，我们必须在天黑之前把这份快递送到老城区的茶馆里去",
    ],
)
def test_long_lines_wrap_inside_a_vertical_frame(tmp_path: Path, text: str) -> None:
    clip = _burn(tmp_path, [Cue(0.0, 1.0, "MEI", text)], PORTRAIT, 1.0)
    mask = _bright(_luma(clip, 0.5))
    columns = np.flatnonzero(mask.any(axis=0))
    assert columns.size and columns[0] >= 20 and columns[-1] < PORTRAIT[0] - 20
    assert _text_lines(mask) >= 2
    assert np.count_nonzero(mask[: PORTRAIT[1] * 3 // 4]) == 0  # still a subtitle, at the bottom


def test_escaped_text_draws_literally_on_one_line(tmp_path: Path) -> None:
    clip = _burn(tmp_path, [Cue(0.0, 1.0, "", "{\\an8}top? x\\Ny")], LANDSCAPE, 1.0)
    mask = _bright(_luma(clip, 0.5))
    assert np.count_nonzero(mask[: LANDSCAPE[1] // 2]) == 0  # \an8 would have moved it to the top
    assert _text_lines(mask) == 1  # \N would have broken the line
    assert np.count_nonzero(mask) > MIN_TEXT_PIXELS


def test_burns_from_paths_with_spaces_commas_quotes_and_brackets(tmp_path: Path) -> None:
    odd = tmp_path / "it's a, [odd]; dir"
    odd.mkdir()
    face = fonts.face_file(cjk=False) or fonts.face_file(cjk=True)
    if face is None:
        pytest.skip("no font installed")
    font_dir = odd / "fonts, too"
    font_dir.mkdir()
    shutil.copy(face.path, font_dir / face.path.name)
    clip = _burn(odd, [Cue(0.0, 1.0, "MEI", "Hello")], LANDSCAPE, 1.0, fonts_dir=font_dir)
    assert np.count_nonzero(_bright(_bottom(_luma(clip, 0.5)))) > MIN_TEXT_PIXELS / 4


def test_burn_filter_reads_the_font_folder_from_the_document(tmp_path: Path) -> None:
    ass = write_ass([Cue(0, 1, "", "Hi")], LANDSCAPE, tmp_path / "a.ass")
    face = fonts.face_file(cjk=False)
    if face is None:
        pytest.skip("no Latin font installed")
    assert f":fontsdir={face.path.parent}:" in burn_filter(ass)  # a plain system folder needs no escapes
