"""Dialogue subtitles for the cut: a SubRip sidecar (.srt) and burned-in Advanced SubStation (.ass).

Each line of dialogue is placed where the animatic and the voice timing put it
(`tools.timing.speech_windows`), shifted by its shot's start in the cut (`EditDecision`), so the
sidecar subtitles line up with the film.

Burning goes through libass (`burn_filter`). The .ass document names one installed face that
covers every cue (a CJK face as soon as one cue has CJK, so Chinese never renders as boxes) and
records its file, so the filter can point libass at that folder instead of trusting the static
ffmpeg's fontconfig setup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from shotline.errors import RenderError
from shotline.memory.models import Breakdown
from shotline.memory.store import atomic_write
from shotline.tools import fonts
from shotline.tools.timeline import EditDecision
from shotline.tools.timing import speech_windows


@dataclass(frozen=True)
class Cue:
    """One subtitle: who says what, and when, in seconds from the start of the cut."""

    start_s: float
    end_s: float
    speaker: str
    text: str

    @property
    def caption(self) -> str:
        return f"{self.speaker}: {self.text}" if self.speaker else self.text


def dialogue_cues(decisions: Sequence[EditDecision], breakdown: Breakdown) -> list[Cue]:
    """A cue per dialogue line, in cut order, kept inside its shot even if the cut rounded it shorter."""
    names = {character.id: character.name for character in breakdown.characters}
    cues: list[Cue] = []
    for decision in decisions:
        windows = speech_windows(decision.shot)
        for line, (start, end) in zip(decision.shot.dialogue, windows, strict=True):
            cue_start = decision.start_s + start
            cue_end = min(decision.start_s + end, decision.end_s)
            text = " ".join(line.text.split())  # a blank line would end the SRT cue early
            cues.append(Cue(cue_start, cue_end, names.get(line.character, line.character), text))
    return cues


def srt_timestamp(seconds: float) -> str:
    """`HH:MM:SS,mmm`, the SubRip time format."""
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{ms:03d}"


def to_srt(cues: Sequence[Cue]) -> str:
    """The SubRip document for `cues`: numbered blocks separated by blank lines."""
    blocks = [
        f"{i}\n{srt_timestamp(cue.start_s)} --> {srt_timestamp(cue.end_s)}\n{cue.caption}\n"
        for i, cue in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


# --- burned-in subtitles (Advanced SubStation, drawn by libass) ---------------------------

FONT_FILE_COMMENT = "; Shotline font file: "
"""The [Script Info] comment that tells `burn_filter` which font file the document asks for."""
FONT_SCALE = 0.06  # font size as a share of the frame's short side: same size in 16:9 and 9:16
SIDE_MARGIN = 0.06  # left/right margin as a share of the frame's width
BOTTOM_MARGIN = 0.06  # bottom margin as a share of the frame's height
_WORD_JOINER = "\u2060"  # invisible: splits a backslash from the letter after it
_ASS_EVENTS_FORMAT = "Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"
_ASS_STYLE_FORMAT = (
    "Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
    "MarginL, MarginR, MarginV, Encoding"
)
_FILTER_OPTION_SPECIALS = re.compile(r"([\\':=\s])")
_FILTERGRAPH_SPECIALS = re.compile(r"([\\'\[\],;\s])")


def ass_timestamp(seconds: float) -> str:
    """`H:MM:SS.cc`, the Advanced SubStation time format (centiseconds)."""
    cs = max(0, round(seconds * 100))
    hours, cs = divmod(cs, 360_000)
    minutes, cs = divmod(cs, 6000)
    secs, cs = divmod(cs, 100)
    return f"{hours}:{minutes:02d}:{secs:02d}.{cs:02d}"


def ass_escape(text: str) -> str:
    """Caption text as literal ASS: a script line can't open an override block (`{\\b1}`), force a
    line break (`\\N`) or end the Dialogue line (a newline)."""
    text = " ".join(text.split())
    text = re.sub(r"\\(?=[Nnh])", "\\\\" + _WORD_JOINER, text)
    return text.replace("{", "\\{").replace("}", "\\}")


def subtitle_face(cues: Sequence[Cue]) -> fonts.FaceFile:
    """The installed face that covers every cue: CJK-capable if any cue has CJK, Latin otherwise.

    Raises RenderError naming the package to install when no such face exists.
    """
    if any(fonts.has_cjk(cue.caption) for cue in cues):
        face = fonts.face_file(cjk=True)
        if face is None:
            raise RenderError(
                "the subtitles have Chinese/Japanese/Korean text but no CJK font is installed: "
                "install fonts-wqy-microhei or fonts-noto-cjk (Debian/Ubuntu) and render again"
            )
        return face
    face = fonts.face_file(cjk=False) or fonts.face_file(cjk=True)  # a CJK face draws Latin too
    if face is None:
        raise RenderError(
            "no font is installed to burn subtitles: install fonts-dejavu-core and render again"
        )
    return face


def to_ass(cues: Sequence[Cue], size: tuple[int, int]) -> str:
    """The Advanced SubStation document that burns `cues` into a `size` frame.

    PlayRes is the frame itself, so sizes and margins are in the frame's pixels: the font is a
    share of the short side (readable in 16:9 and 9:16 alike), white with a dark outline and
    shadow, bottom centre. Long lines wrap inside the side margins (WrapStyle 0; `burn_filter`
    turns on Unicode line breaking so Chinese, which has no spaces, wraps too).
    """
    width, height = size
    face = subtitle_face(cues)
    font_size = max(8, round(min(width, height) * FONT_SCALE))
    outline, shadow = max(1.0, font_size / 16), max(1.0, font_size / 28)
    margin_x, margin_y = round(width * SIDE_MARGIN), round(height * BOTTOM_MARGIN)
    family = face.family.replace(",", " ")  # a comma would shift the Style fields
    style = (
        f"Style: Default,{family},{font_size},&H00FFFFFF,&H000000FF,&H00141414,&H96000000,"
        f"0,0,0,0,100,100,0,0,1,{outline:.1f},{shadow:.1f},2,{margin_x},{margin_x},{margin_y},1"
    )
    lines = [
        "[Script Info]",
        "; Burned-in dialogue written by Shotline",
        f"{FONT_FILE_COMMENT}{face.path}",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: None",
        "",
        "[V4+ Styles]",
        f"Format: {_ASS_STYLE_FORMAT}",
        style,
        "",
        "[Events]",
        f"Format: {_ASS_EVENTS_FORMAT}",
    ]
    lines += [
        f"Dialogue: 0,{ass_timestamp(cue.start_s)},{ass_timestamp(cue.end_s)},Default,,0,0,0,,"
        f"{ass_escape(cue.caption)}"
        for cue in cues
        if cue.end_s > cue.start_s
    ]
    return "\n".join(lines) + "\n"


def write_ass(cues: Sequence[Cue], size: tuple[int, int], path: Path) -> Path:
    """`to_ass` written atomically to `path`, ready for `burn_filter(path)`."""
    return atomic_write(Path(path), to_ass(cues, size))


def burn_filter(ass_path: Path, *, fonts_dir: Path | None = None) -> str:
    """The ffmpeg filter that draws the .ass file at `ass_path` onto the video it is chained to.

    libass is given the folder of the font the document names (`fonts_dir` overrides), so it finds
    the face without the static ffmpeg's fontconfig setup. Unicode line breaking is on, so long
    Chinese lines wrap. Both paths are escaped for the filter's options and then for the
    filtergraph, so spaces, commas, colons, quotes and brackets in them are safe.
    """
    ass_path = Path(ass_path).resolve()
    folder = Path(fonts_dir) if fonts_dir is not None else _fonts_dir_for(ass_path)
    options = [f"filename={_option_value(str(ass_path))}"]
    if folder is not None:
        options.append(f"fontsdir={_option_value(str(folder))}")
    options.append("wrap_unicode=1")
    return "subtitles=" + _FILTERGRAPH_SPECIALS.sub(r"\\\1", ":".join(options))


def _option_value(value: str) -> str:
    """Escape a filter option's value (first level of ffmpeg's quoting)."""
    return _FILTER_OPTION_SPECIALS.sub(r"\\\1", value)


def _fonts_dir_for(ass_path: Path) -> Path | None:
    """The folder of the font file the document records; failing that, of the face its text needs."""
    try:
        text = ass_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    for line in text.splitlines():
        if line.startswith(FONT_FILE_COMMENT):
            return Path(line[len(FONT_FILE_COMMENT) :]).parent
    face = fonts.face_file(cjk=fonts.has_cjk(text)) or fonts.face_file(cjk=True)
    return face.path.parent if face else None
