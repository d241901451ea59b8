"""The parser against two public Fountain test suites, kept outside the repo in shared/testdata.

Each suite has its own notation (and a few conventions of its own); the adapters below map our
elements into that notation. What is only notation is absorbed here: emphasis kept in the expected
text, how many blank lines separate merged action, extensions printed inside the name, CONT'D dropped.
What truly disagrees with our behaviour, or with the other suite, is listed in DIVERGES and runs as a
strict xfail, so a change in behaviour shows up either way.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from shotline.tools.fountain import Element, Screenplay, parse, strip_emphasis

SUITES = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "fountain-syntax"
JOUVENCE = SUITES / "ludovicchabant_Jouvence" / "tests"
WILDWINTER = SUITES / "wildwinter_screenplay-tools" / "tests"

DIVERGES = {
    "jouvence/test_lyrics[1]": (
        "Jouvence turns a paragraph whose first line is '~' into action; the spec (and wildwinter's "
        "Lyrics case) makes every '~' line a lyric, so we give lyrics then action"
    ),
    "wildwinter/Character": (
        "wildwinter refuses '3CPO' as a cue; the spec only needs one letter ('R2D2 works, 23 does not'), "
        "so ours is a cue"
    ),
    "wildwinter/Parenthetical": (
        "wildwinter reads a second parenthetical in a row, '(bouncy)', as dialogue; we keep both parentheticals"
    ),
    "wildwinter/Notes": (
        "wildwinter keeps a note-only line inside the action, continues dialogue across a blank line, and "
        "cuts a note at a blank line; we drop note-only lines, end speech at a blank line, and let a note run "
        "to its ']]'"
    ),
    "wildwinter/Sections": (
        "wildwinter reads a first-line 'CUT TO:' as an empty title-page key; with nothing indented under "
        "it we read a transition, not a title page"
    ),
    "wildwinter/Tags": "'#tag' at the end of a line is a screenplay-tools extension, not Fountain; we keep it as text",
    "wildwinter/Formatted[1]": (
        "wildwinter leaves *italic* nested inside _underline_ as literal asterisks; we remove nested emphasis "
        "as the spec's example renders it"
    ),
}


def _param(case_id: str, *values: Any) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=DIVERGES[case_id])] if case_id in DIVERGES else []
    return pytest.param(*values, id=case_id, marks=marks)


def _missing(suite: Path, nargs: int) -> list[Any]:
    reason = f"public Fountain suite not found at {suite}"
    return [pytest.param(*([None] * nargs), id="suite-missing", marks=pytest.mark.skip(reason=reason))]


def _normalise_action(text: str) -> str:
    """Blank-line counts and trailing spaces are layout, not content: one blank line between paragraphs."""
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


# --- Jouvence: YAML stream of {in, out[, title]} ------------------------------------------------------


def _jouvence_cases() -> list[Any]:
    if not JOUVENCE.is_dir():
        return _missing(JOUVENCE, 3)
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML arrives with chromadb
        return [pytest.param(None, None, None, id="no-yaml", marks=pytest.mark.skip(reason="PyYAML missing"))]
    cases = []
    for path in sorted(JOUVENCE.glob("*.yaml")):
        for i, case in enumerate(c for c in yaml.safe_load_all(path.read_text("utf-8")) if c):
            cases.append(
                _param(f"jouvence/{path.stem}[{i}]", case["in"], case.get("out") or [], case.get("title"))
            )
    return cases


def _jouvence_token(element: Element) -> str:
    """One element in Jouvence's one-character-prefix notation."""
    match element.kind:
        case "scene_heading":
            number = f" #{element.scene_number}#" if element.scene_number else ""
            return f".{element.text}{number}"
        case "character":
            exts = "".join(f" ({ext})" for ext in element.extensions)
            return f"@{element.text}{exts}{' ^' if element.dual else ''}"
        case "centered":
            return f"!><{element.text}"
        case "page_break":
            return "<pagebreak>"
        case "section":
            return f"{'#' * element.level}{element.text}"
    prefix = {"action": "!", "dialogue": "=", "parenthetical": "_", "transition": ">", "lyrics": "~"}
    return prefix.get(element.kind, "+") + element.text


def _jouvence_normalise(tokens: Iterable[str]) -> list[str]:
    """Merge consecutive plain action tokens and drop empty ones (Jouvence keeps blank lines as action)."""
    out: list[str] = []
    for token in tokens:
        if _plain_action(token) and out and _plain_action(out[-1]):
            out[-1] += "\n\n" + token[1:]
        else:
            out.append(token)
    normalised = ["!" + _normalise_action(t[1:]) if _plain_action(t) else t for t in out]
    return [t for t in normalised if t != "!"]


def _plain_action(token: str) -> bool:
    return token.startswith("!") and not token.startswith("!><")


def _jouvence_expected(tokens: list[str]) -> list[str]:
    """Jouvence keeps emphasis markup in its expected text (our contract removes it) and may end centered
    text with the newline of a following whitespace-only line."""
    out = []
    for token in tokens:
        prefix = re.match(r"!><|#+|<pagebreak>|.", token, re.DOTALL)
        cut = prefix.end() if prefix else 0
        text = strip_emphasis(token[cut:])
        out.append(token[:cut] + (text.strip() if token.startswith("!><") else text))
    return out


@pytest.mark.parametrize(("source", "expected", "title"), _jouvence_cases())
def test_jouvence(source: str, expected: list[str], title: dict[str, str] | None) -> None:
    play = parse(source)
    assert _jouvence_normalise(_jouvence_token(e) for e in play.elements) == _jouvence_normalise(
        _jouvence_expected(expected)
    )
    if title is not None:
        assert play.title_page == {k.lower(): strip_emphasis(str(v)) for k, v in title.items()}


# --- wildwinter: X.fountain + X.txt element dumps ------------------------------------------------------

Record = tuple[str, str, str]  # kind, text, suffix such as ' (3)', ' "(V.O.)" (Dual)', ' (centered)'

_RECORD_START = re.compile(r"^(?:\[\[\d+\]\]|/\*\d+\*/)?(?=[A-Z]+:\")", re.MULTILINE)
_RECORD = re.compile(
    r'(?P<kind>[A-Z]+):"(?P<text>.*?)"(?P<suffix>(?: \([^()\n]*\)| "[^"\n]*"| tags:\S*)*)\s*', re.DOTALL
)
_TITLE_ENTRY = re.compile(r'TITLEENTRY:"(?P<key>[^"]*)":"(?P<text>.*)"\s*', re.DOTALL)
_PLACEHOLDER = re.compile(r"\[\[\d+\]\]|/\*\d+\*/")


def _wildwinter_cases() -> list[Any]:
    if not WILDWINTER.is_dir():
        return _missing(WILDWINTER, 3)
    cases = []
    for source in sorted(WILDWINTER.glob("*.fountain")):
        stem = source.stem
        if (WILDWINTER / f"{stem}.txt").exists() and stem != "Formatted":
            cases.append(_param(f"wildwinter/{stem}", source, WILDWINTER / f"{stem}.txt", True))
        for variant, merged in (("Merged", True), ("Unmerged", False)):
            if (WILDWINTER / f"{stem}-{variant}.txt").exists():
                cases.append(
                    _param(
                        f"wildwinter/{stem}-{variant}", source, WILDWINTER / f"{stem}-{variant}.txt", merged
                    )
                )
    return cases


def _read_dump(path: Path) -> list[Record]:
    """Parse a screenplay-tools dump into records; notes and boneyards are left out (we keep no
    boneyard, and notes are compared through their placeholders being removed)."""
    records: list[Record] = []
    for chunk in _RECORD_START.split(path.read_text("utf-8")):
        chunk = chunk.strip("\n")
        if not chunk:
            continue
        if entry := _TITLE_ENTRY.fullmatch(chunk):
            records.append(("TITLEENTRY", entry["key"].lower(), _title_value(entry["text"])))
            continue
        record = _RECORD.fullmatch(chunk)
        assert record is not None, f"cannot read dump record {chunk!r}"
        if record["kind"] in ("BONEYARD", "NOTE"):
            continue
        text = strip_emphasis(_PLACEHOLDER.sub("", record["text"]))
        records.append((record["kind"], text, record["suffix"]))
    return records


def _title_value(text: str) -> str:
    return strip_emphasis("\n".join(line.strip() for line in text.split("\n") if line.strip()))


_WILDWINTER_KINDS = {
    "action": "ACTION",
    "dialogue": "DIALOGUE",
    "transition": "TRANSITION",
    "lyrics": "LYRIC",
    "synopsis": "SYNOPSIS",
}


def _wildwinter_records(play: Screenplay) -> list[Record]:
    """Our parse in screenplay-tools' notation (CONT'D is dropped there, parentheses are not kept)."""
    records: list[Record] = [("TITLEENTRY", k, v) for k, v in play.title_page.items()]
    for e in play.elements:
        match e.kind:
            case "scene_heading":
                records.append(("HEADING", e.text, f" ({e.scene_number})" if e.scene_number else ""))
            case "character":
                exts = [x for x in e.extensions if x != "CONT'D"]
                suffix = "".join(f' "({x})"' for x in exts) + (" (Dual)" if e.dual else "")
                records.append(("CHARACTER", e.text, suffix))
            case "parenthetical":
                records.append(("PARENTHETICAL", e.text.strip("()"), ""))
            case "centered":
                records.append(("ACTION", e.text, " (centered)"))
            case "section":
                records.append(("SECTION", e.text, f" ({e.level})"))
            case "page_break":
                records.append(("PAGEBREAK", "", ""))
            case _:
                records.append((_WILDWINTER_KINDS[e.kind], e.text, ""))
    return records


def _wildwinter_normalise(records: list[Record], *, merged: bool) -> list[Record]:
    """Same layout rules on both sides: one record per line where the dump is per line, merged action
    otherwise, trimmed text, no empty action or dialogue."""
    split_kinds = {"LYRIC"} | (set() if merged else {"ACTION", "DIALOGUE"})
    out: list[Record] = []
    for kind, text, suffix in records:
        if kind == "ACTION" and suffix == " (centered)":
            out.extend((kind, line.strip(), suffix) for line in text.split("\n"))
        elif kind in split_kinds:
            out.extend((kind, line.rstrip(), suffix) for line in text.split("\n"))
        elif merged and kind == "ACTION" and out and out[-1][0] == "ACTION" and out[-1][2] == "":
            out[-1] = (kind, out[-1][1] + "\n\n" + text, suffix)
        else:
            out.append((kind, text, suffix))
    result = []
    for kind, text, suffix in out:
        text = _normalise_action(text) if kind == "ACTION" else text.strip()
        if kind in ("ACTION", "DIALOGUE") and not text and not suffix:
            continue
        result.append((kind, text, suffix))
    return result


@pytest.mark.parametrize(("source", "dump", "merged"), _wildwinter_cases())
def test_wildwinter(source: Path, dump: Path, merged: bool) -> None:
    play = parse(source.read_text("utf-8"))
    ours = _wildwinter_normalise(_wildwinter_records(play), merged=merged)
    assert ours == _wildwinter_normalise(_read_dump(dump), merged=merged)


def _formatted_cases() -> list[Any]:
    """Formatted.txt renders emphasis as HTML, paragraph by paragraph: one case per paragraph."""
    if not (WILDWINTER / "Formatted.txt").exists():
        return _missing(WILDWINTER, 2)
    source = (WILDWINTER / "Formatted.fountain").read_text("utf-8").split("\n\n")
    rendered = (WILDWINTER / "Formatted.txt").read_text("utf-8").split("\n\n")
    assert len(source) == len(rendered)
    return [
        _param(f"wildwinter/Formatted[{i}]", src, re.sub(r"</?[biu]>", "", html))
        for i, (src, html) in enumerate(zip(source, rendered, strict=True))
    ]


@pytest.mark.parametrize(("source", "expected"), _formatted_cases())
def test_wildwinter_emphasis(source: str, expected: str) -> None:
    elements = parse(source).elements
    assert [e.kind for e in elements] == ["action"]
    assert elements[0].text == expected


# --- wildwinter: X.fountain + X.fdx, the same script as Final Draft paragraphs -------------------------

_FDX_KINDS = {
    "scene_heading": "Scene Heading",
    "action": "Action",
    "character": "Character",
    "dialogue": "Dialogue",
    "parenthetical": "Parenthetical",
    "transition": "Transition",
}


def _fdx_cases() -> list[Any]:
    if not WILDWINTER.is_dir():
        return _missing(WILDWINTER, 2)
    pairs = [(s, s.with_suffix(".fdx")) for s in sorted(WILDWINTER.glob("TestFDX-*.fountain"))]
    return [_param(f"wildwinter/{s.stem}.fdx", s, fdx) for s, fdx in pairs if fdx.exists()]


def _fdx_paragraphs(root: ET.Element, path: str) -> list[tuple[str, str, str | None]]:
    return [
        (p.get("Type", ""), "".join(t.text or "" for t in p.findall("Text")), p.get("Number"))
        for p in root.findall(path)
    ]


@pytest.mark.parametrize(("source", "fdx"), _fdx_cases())
def test_wildwinter_fdx(source: Path, fdx: Path) -> None:
    """Final Draft keeps extensions in the cue text; its title page is layout, so we only check that
    every title-page value we read is on it."""
    play = parse(source.read_text("utf-8"))
    root = ET.parse(fdx).getroot()
    ours = []
    for e in play.elements:
        text = " ".join([e.text, *(f"({x})" for x in e.extensions)])
        ours.append((_FDX_KINDS[e.kind], text, e.scene_number))
    assert ours == _fdx_paragraphs(root, "Content/Paragraph")
    on_title_page = {text for _, text, _ in _fdx_paragraphs(root, "TitlePage/Content/Paragraph")}
    assert set(play.title_page.values()) <= on_title_page
