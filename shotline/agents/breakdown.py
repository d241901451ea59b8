"""Script -> breakdown: scenes, characters (with the description given where each is introduced), sets.

Deterministic: the offline path, and the ground truth an LLM enrichment may add to later.
"""

from __future__ import annotations

import re
import unicodedata

from shotline.errors import ScriptError
from shotline.memory.models import Beat, Breakdown, Character, Interior, Location, Scene
from shotline.tools.attributes import display_color, extract_attributes
from shotline.tools.fountain import Element, Screenplay
from shotline.tools.text import CJK_RE, has_cjk, mentions

_HEADING = re.compile(
    r"^(?P<prefix>INT\.?/EXT\.?|INT\./EXT|EXT\.?/INT\.?|I/E\.?|INT\.?|EXT\.?|EST\.?|"
    r"内外景|内景|外景|内/外|内|外)[\s.。．：:]*(?P<rest>.*)$",
    re.IGNORECASE,
)
_TIME_SPLIT = re.compile(r"\s+[-–—]+\s*|\s*[-–—]+\s+")
_NIGHT = re.compile(r"\b(NIGHT|MIDNIGHT|EVENING|DUSK|NUIT|SOIR|NOCHE)\b|夜|晚|黄昏|凌晨", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?。！？])\s*")
_SEGMENT = re.compile(r"[,，;；]")
_FRENCH = re.compile(r"\b(le|la|les|des|une|est|et|dans|sur|avec|elle|il)\b", re.IGNORECASE)
_ENGLISH = re.compile(r"\b(the|a|an|is|and|in|on|with|she|he|her|his)\b", re.IGNORECASE)
_PALETTE_SETS = ("#5b6f8a", "#7a6a55", "#4f7a6a", "#6e5a7e", "#8a6a4f", "#55707a")


def slug(name: str) -> str:
    """A stable id from a name; keeps non-ASCII letters so Chinese names stay distinct."""
    text = unicodedata.normalize("NFKC", name).strip().lower()
    text = re.sub(r"[^\w]+", "-", text, flags=re.UNICODE).strip("-")
    return text or "x"


def detect_language(text: str) -> str:
    """'zh', 'fr' or 'en' from the body text; enough to pick reading speed and prompt wording."""
    letters = [c for c in text if c.isalpha()]
    if letters and len(CJK_RE.findall(text)) / len(letters) > 0.2:
        return "zh"
    return "fr" if len(_FRENCH.findall(text)) > len(_ENGLISH.findall(text)) else "en"


def parse_heading(text: str) -> tuple[Interior, str, str]:
    """'EXT. NEON MARKET - NIGHT' -> ('EXT', 'NEON MARKET', 'NIGHT')."""
    match = _HEADING.match(text.strip())
    prefix, rest = (match["prefix"], match["rest"]) if match else ("", text.strip())
    p = prefix.upper().replace(" ", "")
    interior: Interior
    if "/" in p or p.startswith("I/E") or p in {"内外景", "内/外"}:
        interior = "INT/EXT"
    elif p.startswith("EXT") or p.startswith("EST") or p.startswith("外"):
        interior = "EXT"
    elif p.startswith("INT") or p.startswith("内"):
        interior = "INT"
    else:
        interior = "INT/EXT"
    parts = _TIME_SPLIT.split(rest.strip(), maxsplit=1)
    place = parts[0].strip(" .。-—") or "UNKNOWN"
    time = parts[1].strip(" .。").upper() if len(parts) > 1 else "DAY"
    if len(parts) == 1:
        # Chinese headings often end in a bare time word: "外景 雨巷 夜"
        tail = re.match(r"^(?P<place>.+?)[\s，,]+(?P<time>日|夜|晨|黄昏|夜晚|白天|清晨|傍晚)$", place)
        if tail:
            place, time = tail["place"], tail["time"]
    return interior, place, time or "DAY"


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s.strip()]


def introduction(text: str, name: str) -> str | None:
    """The description given where a character is introduced: 'MEI (20s), in a red jacket, runs' ->
    'MEI (20s), in a red jacket'. Keeps the comma segments after the name that describe, stops at
    the first that does not (usually the verb)."""
    for sentence in _sentences(text):
        if not mentions(sentence, name):
            continue
        start = sentence.lower().find(name.lower())
        tail = sentence[start + len(name) :]
        segments = _SEGMENT.split(tail)
        kept = [segments[0].rstrip()] if segments[0].strip().startswith(("(", "（")) else []
        first = segments[0]
        if not kept and extract_attributes(first):
            kept.append(first.rstrip())
        for seg in segments[1:]:
            if not extract_attributes(seg):
                break
            kept.append(seg.strip())
        kept = [k for k in kept if k]
        if kept:
            sep = "，" if has_cjk(name) else ", "
            return f"{name} {sep.join(kept)}".strip().rstrip(".。")
    return None


def _cue_name(element: Element) -> str:
    return element.text.strip()


def break_down(play: Screenplay, *, style: str = "") -> Breakdown:
    """Scenes with their beats, the cast, and the sets, each pointing at its script lines."""
    headings = [e for e in play.elements if e.kind == "scene_heading"]
    if not headings:
        raise ScriptError("no scene heading found (a scene starts with INT. or EXT.); nothing to shoot")

    speakers: dict[str, str] = {}  # upper name -> display name, in first-appearance order
    for e in play.elements:
        if e.kind == "character":
            speakers.setdefault(_cue_name(e).upper(), _cue_name(e))
    names = _intro_names(play, speakers)
    body = "\n".join(e.text for e in play.elements if e.kind in {"action", "dialogue"})

    characters: dict[str, Character] = {}
    locations: dict[str, Location] = {}
    scenes: list[Scene] = []
    current: Scene | None = None
    pending_paren: str | None = None
    speaker: str | None = None
    speaker_ext: tuple[str, ...] = ()

    def cast(name: str, line: int, text: str | None) -> str:
        cid = slug(name)
        if cid not in characters:
            desc = introduction(text, name) if text else None
            attrs = extract_attributes(desc or "")
            characters[cid] = Character(
                id=cid,
                name=name,
                description=desc or name,
                attributes=attrs,
                color=display_color(name, attrs),
                line=line,
            )
        if current is not None and cid not in current.characters:
            current.characters.append(cid)
        return cid

    for e in play.elements:
        if e.kind == "scene_heading":
            interior, place, time = parse_heading(e.text)
            lid = slug(place)
            if lid not in locations:
                locations[lid] = Location(
                    id=lid,
                    name=place,
                    interior=interior,
                    description=place,
                    color=_PALETTE_SETS[len(locations) % len(_PALETTE_SETS)],
                    line=e.line,
                )
            current = Scene(
                id=f"sc{len(scenes) + 1}",
                number=len(scenes) + 1,
                heading=e.text,
                location=lid,
                interior=interior,
                time_of_day=time,
                night=bool(_NIGHT.search(time)),
                line=e.line,
            )
            scenes.append(current)
            continue
        if current is None:
            continue  # title-page matter before the first heading
        if e.kind == "action":
            loc = locations[current.location]
            if loc.description == loc.name:  # a set is described by the first action written in it
                first = (_sentences(e.text) or [e.text])[0]
                locations[loc.id] = loc.model_copy(
                    update={
                        "description": f"{loc.name}: {first}",
                        "attributes": extract_attributes(first, kind="location"),
                    }
                )
            for upper, display in names.items():
                if mentions(e.text, display):
                    cast(speakers.get(upper, display), e.line, e.text)
            current.beats.append(Beat(kind="action", text=e.text, line=e.line))
        elif e.kind == "character":
            speaker, speaker_ext = _cue_name(e), e.extensions
            pending_paren = None
        elif e.kind == "parenthetical":
            pending_paren = e.text.strip("()（） ")
        elif e.kind == "dialogue" and speaker:
            cid = cast(speaker, e.line, None)
            current.beats.append(
                Beat(
                    kind="dialogue",
                    text=e.text,
                    line=e.line,
                    character=cid,
                    parenthetical=pending_paren,
                    extension=" ".join(speaker_ext) or None,
                )
            )
            pending_paren = None
    title = play.title or (scenes[0].heading if scenes else "Untitled")
    style = style or play.title_page.get("style", "")
    return Breakdown(
        title=title,
        style=style,
        language=detect_language(body),
        scenes=scenes,
        characters=list(characters.values()),
        locations=list(locations.values()),
    )


_CAPS_INTRO = re.compile(r"\b([A-Z][A-Z'’.\- ]{1,30}[A-Z])\s*[(（]")


def _intro_names(play: Screenplay, speakers: dict[str, str]) -> dict[str, str]:
    """Who is in the cast: every speaker, plus non-speaking characters introduced Fountain-style in
    capitals with a description in parentheses ('a GIANT ROBOT (40 ft) ...')."""
    names = dict(speakers)
    for e in play.elements:
        if e.kind != "action":
            continue
        for m in _CAPS_INTRO.finditer(e.text):
            name = m.group(1).strip()
            names.setdefault(name.upper(), name)
    return names
