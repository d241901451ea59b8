"""Fountain screenplay parser (https://fountain.io/syntax), written for Shotline.

Every later stage (breakdown, storyboard, report) points back at script lines, so each element keeps
the 1-based line numbers of the ORIGINAL text, even after boneyards and notes are cut out. Scripts in
languages without letter case (Chinese, Japanese, Korean) get their own heading and cue rules, since
Fountain's "an all-caps line is a character" cannot apply to them.

The parse runs in one pass over the lines (no quadratic string handling): a 6,000-line script
parses in a few tens of milliseconds.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from shotline.errors import ScriptError

ElementKind = Literal[
    "scene_heading",
    "action",
    "character",
    "dialogue",
    "parenthetical",
    "transition",
    "centered",
    "lyrics",
    "section",
    "synopsis",
    "page_break",
]

__all__ = ["Element", "ElementKind", "Note", "Screenplay", "looks_like_fountain", "parse", "strip_emphasis"]


class Element(BaseModel):
    """One screenplay element; `line`..`end_line` are lines of the original input."""

    model_config = ConfigDict(frozen=True)

    kind: ElementKind
    text: str
    line: int
    end_line: int
    scene_number: str | None = None
    extensions: tuple[str, ...] = ()
    dual: bool = False
    level: int = 0
    forced: bool = False


class Note(BaseModel):
    """A [[note]] taken out of the text, with the line where it opened."""

    model_config = ConfigDict(frozen=True)

    text: str
    line: int


class Screenplay(BaseModel):
    """A parsed script: title page, body elements in order, and the notes found."""

    title_page: dict[str, str]
    elements: list[Element]
    notes: list[Note]

    @property
    def title(self) -> str:
        """The title-page title ("Title:", or its Chinese/French spellings), or ""."""
        for key in _TITLE_KEYS:
            if key in self.title_page:
                return self.title_page[key]
        return ""


_TITLE_KEYS = ("title", "标题", "片名", "剧名", "titre")

# --- character classes and patterns ------------------------------------------------------------------

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_SENTENCE_PUNCT = frozenset("。，！？、；：…")
_SENTENCE_END = re.compile(r"[。！？…]")

_HEADING = re.compile(r"(?:int\.?/ext|ext\.?/int|int|ext|est|i/e)[.\s]", re.IGNORECASE)
_CJK_HEADING = re.compile(r"(?:内外景|內外景|[内內]/外景?|[内內]景|外景)[.。．：:\s]*(?P<rest>.*)")
_SCENE_NUMBER = re.compile(r"\s*#(?P<num>[\w.\-]+)#\s*$")
_CUE = re.compile(
    r"(?P<name>[^(（^]+?)\s*(?P<ext>(?:[(（][^()（）]*[)）]\s*)*)(?P<dual>\^)?\s*",
)
_CJK_NAME = re.compile(rf"[{_CJK}][{_CJK}·・]{{0,7}}[0-9A-Z]{{0,2}}")
_EXTENSION = re.compile(r"[(（]([^()（）]*)[)）]")
_CONTD = re.compile(r"^CONT[’'`]?D\.?$", re.IGNORECASE)
_PAGE_BREAK = re.compile(r"={3,}")
_TRANSITION_END = re.compile(r"(?:TO|À) ?:$")  # English "CUT TO:", French "COUPÉ À :"
_FADE = re.compile(r"(?:FADE OUT|FADE TO BLACK|CUT TO BLACK|FONDU AU NOIR|FONDU DE FERMETURE)[.:]?")
_CJK_TRANSITION = re.compile(r"(?:切至|切到|切换至|切换到|叠化至?|溶至|淡入|淡出|渐隐|渐显)[：:。]?")
_TITLE_KEY = re.compile(r"(?P<key>[^\W\d_][\w.'/&()-]*(?: [\w.'/&()-]+){0,2}?)\s*[:：]\s*(?P<value>.*)")
_MARKUP = re.compile(r"/\*|\[\[")

_ESC_STAR, _ESC_UNDER = "\ue000", "\ue001"
_UNDERLINE = re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)")
_STARS = re.compile(r"(\*{1,3})(?=\S)(.+?)(?<=\S)\1")


def strip_emphasis(text: str) -> str:
    """Remove *italic*, **bold**, ***both*** and _underline_ markers, honouring \\* and \\_ escapes.

    Markers must hug their text ("*a*", not "* a *"), as in the spec, so "*69 and *23" stays as is.
    Emphasis never spans a line break. Nested emphasis is removed too.
    """
    if "*" not in text and "_" not in text:
        return text
    out = text.replace("\\*", _ESC_STAR).replace("\\_", _ESC_UNDER)
    for _ in range(4):  # nested markers: "_a *b* c_" needs two rounds
        before = out
        out = _STARS.sub(r"\2", out)
        out = _UNDERLINE.sub(r"\1", out)
        if out == before:
            break
    return out.replace(_ESC_STAR, "*").replace(_ESC_UNDER, "_")


# --- pass 1: boneyards and notes -----------------------------------------------------------------------


class _Line(NamedTuple):
    """A line after boneyards/notes are cut; `start`..`end` are original line numbers."""

    text: str
    start: int
    end: int
    after_gap: bool  # lines holding only boneyard/notes were dropped just before this one


def _line_of(starts: list[int], pos: int) -> int:
    """1-based line number of character offset `pos`, given the offsets where lines start."""
    return bisect_right(starts, pos)


def _cut_markup(text: str) -> tuple[str, list[int], list[Note]]:
    """Remove /* boneyards */ and [[notes]]; each cut becomes one NUL marker that remembers how many
    line breaks it swallowed, so later line numbers can be restored."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    pieces: list[str] = []
    swallowed: list[int] = []
    notes: list[Note] = []
    pos = 0
    while (match := _MARKUP.search(text, pos)) is not None:
        opening = match.start()
        closer = "*/" if match.group() == "/*" else "]]"
        close = text.find(closer, opening + 2)
        if close < 0:
            what = "boneyard '/*'" if closer == "*/" else "note '[['"
            raise ScriptError(
                f"{what} is never closed (no '{closer}' after it)", line=_line_of(starts, opening)
            )
        if closer == "]]":
            notes.append(Note(text=text[opening + 2 : close].strip(), line=_line_of(starts, opening)))
        pieces.append(text[pos:opening])
        pieces.append("\x00")
        swallowed.append(text.count("\n", opening, close))
        pos = close + 2
    pieces.append(text[pos:])
    return "".join(pieces), swallowed, notes


def _logical_lines(text: str) -> tuple[list[_Line], list[Note]]:
    """Lines with markup cut out. A line left blank only because of a cut is dropped (a boneyard
    inside a paragraph does not split it), and the text around a multi-line cut joins into one line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").lstrip("\ufeff")
    kept, swallowed, notes = _cut_markup(text)
    lines: list[_Line] = []
    number, marker, gap = 1, 0, False
    for raw in kept.split("\n"):
        cuts = raw.count("\x00")
        extra = sum(swallowed[marker : marker + cuts])
        marker += cuts
        clean = raw.replace("\x00", "") if cuts else raw
        if cuts and not clean.strip():
            gap = True
        else:
            lines.append(_Line(clean, number, number + extra, gap))
            gap = False
        number += extra + 1
    return lines, notes


# --- line classifiers ---------------------------------------------------------------------------------


def _is_heading(stripped: str) -> bool:
    """INT./EXT./EST./I/E headings, and Chinese 内景/外景/内外景 ones (not a sentence)."""
    if _HEADING.match(stripped):
        return True
    cjk = _CJK_HEADING.match(stripped)
    return cjk is not None and not _SENTENCE_END.search(cjk["rest"])


def _is_transition(text: str, stripped: str) -> bool:
    """All-caps and ending in "TO:" (or French "À :"), a closing fade ("FADE OUT."), or a Chinese
    切至/淡出 line. Trailing spaces after the colon make it action, as in the spec's own examples."""
    if stripped.isupper() and _TRANSITION_END.search(text):
        return True
    return _FADE.fullmatch(stripped) is not None or _CJK_TRANSITION.fullmatch(stripped) is not None


# --- pass 2: title page --------------------------------------------------------------------------------


def _parse_title_page(lines: list[_Line]) -> tuple[dict[str, str], int]:
    """Key: value pairs at the very top; returns them and the index where the body starts.

    The page ends at the first blank line, or at the first line that is neither a key nor an
    indented continuation. A bare "CUT TO:" with nothing indented under it is not a title page.
    """
    if not lines:
        return {}, 0
    first = _TITLE_KEY.fullmatch(lines[0].text)
    if first is None or _is_heading(lines[0].text.strip()):
        return {}, 0
    if not first["value"].strip() and not (len(lines) > 1 and _is_indented(lines[1].text)):
        return {}, 0
    values: dict[str, list[str]] = {}
    key = ""
    for i, line in enumerate(lines):
        if not line.text.strip():
            return _join_title(values), i + 1
        if key and _is_indented(line.text):
            values[key].append(line.text.strip())
            continue
        match = _TITLE_KEY.fullmatch(line.text)
        if match is None or _is_heading(line.text.strip()):
            return _join_title(values), i
        key = match["key"].strip().lower()
        values.setdefault(key, [])
        if match["value"].strip():
            values[key].append(match["value"].strip())
    return _join_title(values), len(lines)


def _is_indented(text: str) -> bool:
    return text[:1] in (" ", "\t") and bool(text.strip())


def _join_title(values: dict[str, list[str]]) -> dict[str, str]:
    return {k: strip_emphasis("\n".join(v)) for k, v in values.items()}


# --- pass 3: body --------------------------------------------------------------------------------------


class _Cue(NamedTuple):
    name: str
    extensions: tuple[str, ...]
    dual: bool


def _parse_cue(text: str, *, forced: bool) -> _Cue | None:
    """Split 'JOSÉ (V.O.) (CONT'D) ^' into name, extensions and dual; None if not a cue.

    Unforced, the name must be upper case (str.isupper, so 'ÉLODIE' counts and 'R2D2' too), or 1-8
    CJK characters with no sentence punctuation, since CJK has no letter case.
    """
    match = _CUE.fullmatch(text)
    if match is None:
        return None
    name = match["name"].strip()
    if not name:
        return None
    if not forced:
        if name.endswith((":", "：")):
            return None  # "CUT TO:" before a non-blank line is not a speaker
        if not (name.isupper() or _is_cjk_name(name, text)):
            return None
    exts = tuple(_normalise_extension(e) for e in _EXTENSION.findall(match["ext"]))
    return _Cue(name, exts, match["dual"] is not None)


def _is_cjk_name(name: str, line: str) -> bool:
    return _CJK_NAME.fullmatch(name) is not None and not (_SENTENCE_PUNCT & set(line))


def _normalise_extension(ext: str) -> str:
    ext = ext.strip()
    return "CONT'D" if _CONTD.match(ext) else ext


class _Block(NamedTuple):
    kind: ElementKind
    texts: list[str]
    start: int
    end: int
    forced: bool


class _Body:
    """Walks the body lines once. Multi-line kinds (action, dialogue, lyrics, centered) collect in an
    open block until something else starts; one-line kinds are emitted at once."""

    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.elements: list[Element] = []
        self.block: _Block | None = None
        self.in_dialogue = False

    # emitting

    def flush(self) -> None:
        """Close the open block into an element; trailing empty lines are not part of it."""
        block, self.block = self.block, None
        if block is None:
            return
        texts = block.texts
        while texts and not texts[-1].strip():
            texts.pop()
        if texts:
            text = strip_emphasis("\n".join(texts))
            self.elements.append(
                Element(kind=block.kind, text=text, line=block.start, end_line=block.end, forced=block.forced)
            )

    def add(self, kind: ElementKind, text: str, line: _Line, *, forced: bool = False) -> None:
        """Append a line to the open block of the same kind, or open a new one."""
        block = self.block
        if block is not None and block.kind == kind:
            block.texts.append(text)
            self.block = block._replace(end=line.end)
            return
        self.flush()
        self.block = _Block(kind, [text], line.start, line.end, forced)

    def single(
        self,
        kind: ElementKind,
        text: str,
        line: _Line,
        *,
        forced: bool = False,
        scene_number: str | None = None,
        extensions: tuple[str, ...] = (),
        dual: bool = False,
        level: int = 0,
    ) -> None:
        """Emit a one-line element (heading, cue, transition, section, ...)."""
        self.flush()
        self.elements.append(
            Element(
                kind=kind,
                text=strip_emphasis(text),
                line=line.start,
                end_line=line.end,
                scene_number=scene_number,
                extensions=extensions,
                dual=dual,
                level=level,
                forced=forced,
            )
        )

    # walking

    def run(self, start: int) -> list[Element]:
        """Classify every line from `start`; blank lines end blocks and speeches."""
        prev_blank = True
        lines = self.lines
        for i in range(start, len(lines)):
            line = lines[i]
            stripped = line.text.strip()
            if not stripped:
                if line.text == "  " and self.soft_blank(line):
                    continue
                self.flush()
                prev_blank, self.in_dialogue = True, False
                continue
            if self.in_dialogue:
                self.dialogue_line(stripped, line)
            else:
                next_blank = i + 1 >= len(lines) or not lines[i + 1].text.strip()
                self.body_line(stripped, line, prev_blank=prev_blank, next_blank=next_blank)
            prev_blank = False
        self.flush()
        return self.elements

    def soft_blank(self, line: _Line) -> bool:
        """A line of exactly two spaces is an empty line that keeps a speech or action going."""
        block = self.block
        if block is not None and block.kind in ("action", "dialogue"):
            self.add(block.kind, "", line)
            return True
        return self.in_dialogue

    def dialogue_line(self, stripped: str, line: _Line) -> None:
        """Inside a speech: parentheticals, sung lines, or more dialogue."""
        if stripped[0] in "(（" and stripped[-1] in ")）":
            self.single("parenthetical", stripped, line)
        elif stripped.startswith("~"):
            self.add("lyrics", stripped[1:].strip(), line, forced=True)
        else:
            self.add("dialogue", stripped, line)

    def body_line(self, stripped: str, line: _Line, *, prev_blank: bool, next_blank: bool) -> None:
        """Classify one line outside a speech: forced kinds first, then the blank-line rules."""
        if self.forced_line(stripped, line):
            return
        if (prev_blank or line.after_gap) and _is_heading(stripped):
            self.heading(stripped, line, forced=False)
        elif prev_blank and next_blank and _is_transition(line.text, stripped):
            self.single("transition", stripped, line)
        elif prev_blank and not next_blank and (cue := _parse_cue(stripped, forced=False)) is not None:
            self.cue(cue, line, forced=False)
        else:
            self.add("action", line.text.rstrip(), line)

    def forced_line(self, stripped: str, line: _Line) -> bool:
        """Elements chosen by their first character; True if the line was one."""
        first = stripped[0]
        if first == "=" and _PAGE_BREAK.fullmatch(stripped):
            self.single("page_break", "", line)
        elif first == "=":
            self.single("synopsis", stripped[1:].strip(), line)
        elif first == "#":
            body = stripped.lstrip("#")
            self.single("section", body.strip(), line, level=len(stripped) - len(body))
        elif first == "~":
            self.add("lyrics", stripped[1:].strip(), line, forced=True)
        elif first == ">" and stripped.endswith("<") and len(stripped) > 1:
            self.add("centered", stripped[1:-1].strip(), line, forced=True)
        elif first == ">":
            self.single("transition", stripped[1:].strip(), line, forced=True)
        elif first == "." and len(stripped) > 1 and stripped[1].isalnum():
            self.heading(stripped[1:], line, forced=True)
        elif first == "@" and (cue := _parse_cue(stripped[1:], forced=True)) is not None:
            self.cue(cue, line, forced=True)
        elif first == "!":
            self.add("action", stripped[1:], line, forced=True)
        else:
            return False
        return True

    def heading(self, text: str, line: _Line, *, forced: bool) -> None:
        number = _SCENE_NUMBER.search(text)
        if number is not None:
            text = text[: number.start()]
        scene_number = number["num"] if number else None
        self.single("scene_heading", text.strip(), line, scene_number=scene_number, forced=forced)

    def cue(self, cue: _Cue, line: _Line, *, forced: bool) -> None:
        """Emit a character cue; the lines after it are its speech until a blank line."""
        self.single("character", cue.name, line, extensions=cue.extensions, dual=cue.dual, forced=forced)
        self.in_dialogue = True


# --- public API ----------------------------------------------------------------------------------------


def parse(text: str) -> Screenplay:
    """Parse Fountain text. Only an unclosed boneyard or note is an error (ScriptError with its line);
    everything else is legal Fountain and parses to something."""
    lines, notes = _logical_lines(text)
    title_page, body_start = _parse_title_page(lines)
    elements = _Body(lines).run(body_start)
    return Screenplay(title_page=title_page, elements=elements, notes=notes)


def looks_like_fountain(text: str) -> bool:
    """True for a screenplay (title page, scene heading, or a cue followed by speech); False for a
    prose brief. An unclosed boneyard still counts as a screenplay, so its author gets the line error."""
    try:
        play = parse(text)
    except ScriptError:
        return True
    if play.title_page:
        return True
    elements = play.elements
    for i, element in enumerate(elements):
        if element.kind == "scene_heading":
            return True
        following = elements[i + 1].kind if i + 1 < len(elements) else None
        if element.kind == "character" and following in ("dialogue", "parenthetical", "lyrics"):
            return True
    return False
