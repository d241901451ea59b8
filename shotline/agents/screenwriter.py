"""The screenwriter: brief -> Fountain script; script -> breakdown -> shot list.

Offline it is deterministic: a screenplay is parsed as written, and a prose brief becomes one scene
whose paragraphs are its beats. The script is data, never instructions.
"""

from __future__ import annotations

import re
from pathlib import Path

from shotline.agents.breakdown import break_down
from shotline.agents.coverage import plan_shots
from shotline.errors import InputError, ScriptError
from shotline.memory.models import Breakdown, Ratio, Storyboard
from shotline.tools.fountain import looks_like_fountain, parse

MAX_INPUT_BYTES = 5_000_000
_MD_HEADING = re.compile(r"^\s*#{1,6}\s+(?P<title>.+?)\s*#*\s*$")


def read_source(path: Path) -> str:
    """Read a screenplay or brief, refusing what is not usable text with one clear line."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a .fountain screenplay or a .txt/.md brief")
    data = path.read_bytes()
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(f"{path}: {len(data) // 1_000_000} MB is too large for a screenplay or brief")
    if b"\x00" in data[:8192]:
        raise InputError(f"{path}: looks like a binary file, not a screenplay or brief")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: is not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    if not text.strip():
        raise InputError(f"{path}: is empty; write a screenplay or a brief first")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def brief_to_fountain(text: str, *, title: str) -> str:
    """A prose brief as a one-scene Fountain script: each paragraph a forced action beat."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    if paragraphs and (m := _MD_HEADING.match(paragraphs[0].splitlines()[0])):
        title = m["title"]
        rest = "\n".join(paragraphs[0].splitlines()[1:]).strip()
        paragraphs = ([rest] if rest else []) + paragraphs[1:]
    if not paragraphs:
        raise InputError("the brief has a title but no text; describe what happens")
    beats = []
    for p in paragraphs:
        flat = " ".join(line.strip().lstrip("#>*-~=!@.[").strip() for line in p.splitlines())
        # a brief is plain prose: nothing in it may open a Fountain comment or note
        beats.append(
            "!" + flat.replace("/*", "/ *").replace("*/", "* /").replace("[[", "[ [").replace("]]", "] ]")
        )
    return f"Title: {title}\n\n.{title.upper()}\n\n" + "\n\n".join(beats) + "\n"


SCREENPLAY_SUFFIXES = {".fountain", ".spmd"}


def is_screenplay(text: str, filename: str) -> bool:
    """A .fountain file is a screenplay as written. Any other text is one only if it has scene
    headings: a brief that opens with a capitalised title line must not be read as dialogue."""
    if Path(filename).suffix.lower() in SCREENPLAY_SUFFIXES:
        return True
    if not looks_like_fountain(text):
        return False
    try:
        return any(e.kind == "scene_heading" for e in parse(text).elements)
    except ScriptError:
        return False


def to_script(text: str, *, filename: str) -> str:
    """The Fountain script for an input: as written, or converted from a prose brief."""
    if is_screenplay(text, filename):
        return text
    title = Path(filename).stem.replace("_", " ").replace("-", " ").strip().title() or "Brief"
    return brief_to_fountain(text, title=title)


def break_down_script(script: str, *, style: str = "") -> Breakdown:
    return break_down(parse(script), style=style)


def storyboard(breakdown: Breakdown, *, ratio: Ratio = "16:9") -> Storyboard:
    return plan_shots(breakdown, ratio=ratio)
