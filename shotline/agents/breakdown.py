"""Script -> breakdown: scenes, characters (with the description given where each is introduced), sets.

Deterministic: the offline path, and the ground truth an LLM enrichment may add to later.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from shotline.errors import ScriptError
from shotline.memory.models import (
    Beat,
    Breakdown,
    Character,
    Costume,
    Interior,
    Landmark,
    Layout,
    Location,
    Scene,
)
from shotline.tools.attributes import display_color, extract_attributes, value_facets
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
    cast_list = [_with_costumes(c, scenes) for c in characters.values()]
    sets = [_with_layout(loc, scenes, cast_list) for loc in locations.values()]
    return Breakdown(
        title=title,
        style=style,
        language=detect_language(body),
        scenes=scenes,
        characters=cast_list,
        locations=sets,
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


# --- set layouts and standing positions --------------------------------------------------

# kind -> (English words, Chinese words, home x). Homes spread the usual features across the frame;
# a second feature that would sit on top of one already placed moves to the nearest free spot.
_LANDMARKS: dict[str, tuple[tuple[str, ...], tuple[str, ...], float]] = {
    "window": (("window", "windows"), ("窗户", "窗"), 0.22),
    "door": (("door", "doors", "doorway"), ("门口", "门"), 0.8),
    "counter": (("counter",), ("柜台",), 0.5),
    "bar": (("bar",), ("吧台",), 0.5),
    "stove": (("stove", "oven"), ("灶台", "炉子", "炉灶"), 0.35),
    "lamp": (
        ("lamp", "lamps", "streetlamp", "streetlight", "lamppost", "chandelier"),
        ("路灯", "台灯", "灯"),
        0.64,
    ),
    "monitor": (("monitor", "monitors", "screen", "terminal"), ("显示器", "屏幕"), 0.45),
    "hatch": (("hatch", "trapdoor"), ("舱口", "活板门"), 0.68),
    "table": (("table", "desk"), ("桌子", "桌"), 0.5),
    "bed": (("bed",), ("床",), 0.3),
    "stairs": (("stairs", "staircase", "stairway"), ("楼梯", "台阶"), 0.1),
    "column": (("column", "columns", "pillar", "pillars"), ("柱子",), 0.6),
}
_PREPOSITION = {"counter": "at", "bar": "at", "stove": "at", "monitor": "at", "table": "at", "lamp": "under"}
_MAX_LANDMARKS = 6
_MIN_GAP = 0.14
_WORD_KIND = {w: kind for kind, (en, zh, _) in _LANDMARKS.items() for w in (*en, *zh)}
_EN_WORDS = "|".join(sorted((w for k in _LANDMARKS.values() for w in k[0]), key=len, reverse=True))
_ZH_WORDS = "|".join(sorted((w for k in _LANDMARKS.values() for w in k[1]), key=len, reverse=True))
_LANDMARK_RE = re.compile(rf"(?<![\w-])(?P<en>{_EN_WORDS})(?![\w-])|(?P<zh>{_ZH_WORDS})", re.IGNORECASE)
_STANCE = re.compile(
    r"\b(?:stands?|standing|stood|leans?|leaning|leaned|sits?|sitting|sat|waits?|waiting|lingers?|lingering"
    r"|hovers?|hovering|crouch(?:es|ing)?|crouched|stays?|remains?|slumps?|slumped|perch(?:es|ed)?|hides?"
    r"|hiding|huddles?|huddled)\b(?:\s+\w+ly)?\s+(?:by|at|near|beside|behind|against|on|under|over|next to"
    r"|in front of|in)\s+(?:the|a|an|his|her|their|its)\s+(?:\w+\s+)?"
    rf"(?P<en>{_EN_WORDS})(?![\w-])"
    rf"|(?:站在|靠在|坐在|倚在|守在|蹲在|躲在|等在|立在|趴在)(?P<zh>{_ZH_WORDS})",
    re.IGNORECASE,
)


def _set_text(loc: Location, scenes: list[Scene]) -> list[str]:
    """What a set is described by: its description, then every action written in it, in script order.
    The set's own name is left out when it has several words: a NOODLE BAR has no bar to stand at."""
    texts = [loc.description]
    texts += [b.text for s in scenes if s.location == loc.id for b in s.beats if b.kind == "action"]
    name = loc.name.strip()
    if len(name.split()) > 1 or (has_cjk(name) and len(name) > 1):
        texts = [re.sub(re.escape(name), " ", t, flags=re.IGNORECASE) for t in texts]
    return texts


def _free_x(home: float, taken: list[float]) -> float:
    """The spot nearest `home` that keeps a clear gap from every feature already placed."""
    spots = sorted((round(0.08 + k * 0.02, 2) for k in range(43)), key=lambda x: (abs(x - home), x))
    return next((x for x in spots if all(abs(x - t) >= _MIN_GAP - 1e-9 for t in taken)), home)


def read_landmarks(texts: list[str]) -> list[Landmark]:
    """Fixed set features in order of first mention, each at a stable x; the same text, the same layout."""
    found: list[Landmark] = []
    for text in texts:
        for m in _LANDMARK_RE.finditer(text):
            word = m["en"].lower() if m["en"] else m["zh"]
            kind = _WORD_KIND[word]
            if len(found) >= _MAX_LANDMARKS or any(lm.kind == kind for lm in found):
                continue
            x = _free_x(_LANDMARKS[kind][2], [lm.x for lm in found])
            name = word.rstrip("s") if m["en"] and word.endswith("s") and word != "stairs" else word
            found.append(Landmark(name=name, kind=kind, x=x))
    return found


def position_name(landmark: Landmark) -> str:
    """'by the door', 'at the counter', '门旁': what the script and the prompt call the spot."""
    if has_cjk(landmark.name):
        return f"{landmark.name}旁"
    return f"{_PREPOSITION.get(landmark.kind, 'by')} the {landmark.name}"


def _position_x(landmark: Landmark) -> float:
    """A character by a feature stands just inside it, towards the middle, so both stay visible."""
    if abs(landmark.x - 0.5) < 0.05:
        return landmark.x
    return round(landmark.x + (0.08 if landmark.x < 0.5 else -0.08), 3)


def _mention_at(sentence: str, name: str) -> list[int]:
    """Where `name` is named in `sentence` (whole words, any case; CJK by substring)."""
    if name.lower() not in sentence.lower():  # the common case, and cheap: a long script asks this a lot
        return []
    return [m.start() for m in _name_pattern(name).finditer(sentence)]


@lru_cache(maxsize=4096)
def _name_pattern(name: str) -> re.Pattern[str]:
    if has_cjk(name):
        return re.compile(re.escape(name))
    return re.compile(rf"(?<!\w){re.escape(name)}(?!\w)", re.IGNORECASE)


def _who_before(sentence: str, pos: int, cast: list[Character]) -> str | None:
    """The character named last before `pos` in the sentence: the one the phrase is about."""
    best: tuple[int, str] | None = None
    for c in cast:
        for at in _mention_at(sentence, c.name):
            if at < pos and (best is None or at > best[0]):
                best = (at, c.id)
    return best[1] if best else None


def _stances(text: str, cast: list[Character]) -> list[tuple[str, str]]:
    """(character id, landmark word) for every 'stands by the door' / '靠在柜台' in an action paragraph;
    a sentence with no name before the phrase is about the last one named ('She leans on the bar')."""
    out: list[tuple[str, str]] = []
    last: str | None = None
    for sentence in _sentences(text):
        for m in _STANCE.finditer(sentence):
            who = _who_before(sentence, m.start(), cast) or last
            if who:
                out.append((who, m["en"].lower() if m["en"] else m["zh"]))
        named = _who_before(sentence, len(sentence), cast)
        last = named or last
    return out


def _with_layout(loc: Location, scenes: list[Scene], cast: list[Character]) -> Location:
    """The set's landmarks and named positions; each of its scenes learns who stands where (first
    placement in a scene wins, so a character keeps one screen side per scene)."""
    landmarks = read_landmarks(_set_text(loc, scenes))
    by_kind = {lm.kind: lm for lm in landmarks}
    positions: dict[str, float] = {}
    for scene in (s for s in scenes if s.location == loc.id):
        for beat in (b for b in scene.beats if b.kind == "action"):
            for cid, word in _stances(beat.text, cast):
                lm = by_kind.get(_WORD_KIND[word])
                if lm is None or cid in scene.placements:
                    continue
                spot = position_name(lm)
                positions[spot] = _position_x(lm)
                scene.placements[cid] = spot
    axis = "facing the far wall" if loc.interior != "EXT" else "facing across the street"
    return loc.model_copy(
        update={"layout": Layout(landmarks=landmarks, camera_axis=axis, positions=positions)}
    )


# --- costume variants ----------------------------------------------------------------------

_CHANGE_EN = re.compile(
    r"^\s*(?:,\s*)?(?:is\s+|has\s+)?(?:now\s+(?:wearing|wears|dressed\s+in|in)|changes\s+into|changed\s+into"
    r"|change\s+into|slips\s+into|slipped\s+into|puts\s+on|put\s+on|pulls\s+on|is\s+now\s+in)\s+"
    r"(?:(?:a|an|the|her|his|their|some)\s+)?(?P<costume>[^,.;!?()]+)",
    re.IGNORECASE,
)
_CHANGE_ZH = re.compile(
    r"^[，,\s]*(?:现在|此刻|如今|已经)?(?:换上了?|换了|换成了?|穿上了?|改穿|穿着)(?:一身|一件|一套)?"
    r"(?P<costume>[^，。！？；,.!?;（）()]+)"
)
_NOW_ZH = re.compile(
    r"^[，,\s]*(?:现在|此刻|如今|已经)?(?:换上|换了|换成|穿上|改穿)|^[，,\s]*(?:现在|此刻|如今)穿着"
)


def costume_change(sentence: str, name: str) -> str | None:
    """The clothing a character changes into in this sentence ('MEI, now in a yellow raincoat,',
    'Mei changes into rain gear', '梅换上了黄色雨衣'), or None when the sentence changes nothing."""
    for at in _mention_at(sentence, name):
        tail = sentence[at + len(name) :]
        if has_cjk(tail[:4]) or tail.lstrip(" ，,").startswith(("现", "此", "如", "已", "换", "穿", "改")):
            if _NOW_ZH.match(tail) and (m := _CHANGE_ZH.match(tail)):
                return m["costume"].strip().removeprefix("了")
            continue
        if m := _CHANGE_EN.match(tail):
            return m["costume"].strip()
    return None


def _costume_color(character: Character, costume: str) -> str:
    """The costume's garment colour; else a palette colour that differs from the usual costume."""
    attrs = extract_attributes(costume)
    for salt in range(12):
        color = display_color(f"{character.name}, {costume}{' ' * salt}", attrs)
        if color != character.color or any(value_facets(k, v).get("color") for k, v in attrs.items()):
            return color
    return color


def _with_costumes(character: Character, scenes: list[Scene]) -> Character:
    """Named costume variants, each worn from the scene of the change until the next change."""
    starts: list[tuple[int, str]] = []
    for k, scene in enumerate(scenes):
        for beat in (b for b in scene.beats if b.kind == "action"):
            for sentence in _sentences(beat.text):
                costume = costume_change(sentence, character.name)
                if costume and not (starts and starts[-1][0] == k):
                    starts.append((k, costume))
    costumes = []
    for n, (k, costume) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(scenes)
        costumes.append(
            Costume(
                name=f"{character.name}{'，' if has_cjk(character.name) else ', '}{costume}",
                description=costume,
                scenes=[s.id for s in scenes[k:end]],
                color=_costume_color(character, costume),
            )
        )
    return character.model_copy(update={"costumes": costumes}) if costumes else character
