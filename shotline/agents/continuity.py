"""Continuity: every shot prompt is assembled from the bible, and contradictions are found before rendering.

Video models keep nothing between shots, so a character stays recognisable only if every prompt
carries the same canonical words for them. And a shot whose own text says "blue jacket" when the
bible says "red bomber jacket" would pay for a take that cannot be cut in; `check` reports it first.

Script text is data: it is quoted into prompts as written, never formatted, parsed as a template or
followed as an instruction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shotline.agents.decisions import ChangeBible
from shotline.memory.models import (
    FIXED_SLOTS,
    Breakdown,
    Character,
    Conflict,
    Costume,
    DialogueLine,
    Location,
    Shot,
    Storyboard,
)
from shotline.tools.attributes import (
    color_hex,
    differing_facets,
    display_color,
    extract_attributes,
    is_slot,
    restyle,
    slot_of,
    value_facets,
)
from shotline.tools.text import CJK_RE, has_cjk

__all__ = [
    "apply_bible_edits",
    "apply_prompts",
    "assemble_prompt",
    "check",
    "correct_prompt",
    "rewrite_refused",
    "soften",
]

_FRAMING = {
    "establishing": "Wide establishing shot",
    "wide": "Wide shot",
    "medium": "Medium shot",
    "two-shot": "Two-shot",
    "close-up": "Close-up",
    "insert": "Insert shot",
}
_CAMERA = {
    "static": "static camera",
    "push-in": "slow push-in",
    "pull-out": "slow pull-out",
    "pan-left": "slow pan left",
    "pan-right": "slow pan right",
    "tilt-up": "slow tilt up",
}
_SINGLES_OUT = {"medium", "close-up", "insert"}

_END = tuple(".!?。！？…\"'”’)")
_SENTENCE = re.compile(r"(?<=[.!?。！？；;])\s*|\n+")
_PRONOUN = re.compile(r"^\W*(?:(?:she|he|her|his|they|their|elle|il|sa|son|ses)\b|[她他])", re.IGNORECASE)
_TITLES = {
    "mr",
    "mrs",
    "ms",
    "miss",
    "dr",
    "detective",
    "officer",
    "captain",
    "old",
    "young",
    "the",
    "little",
}
_LOCATION_SLOTS = ("weather",)
# People who are not in the bible: what they wear must not be read as a cast member's costume.
_OTHER_PEOPLE = re.compile(
    r"(?<![\w'])(?:man|men|woman|women|boy|girl|kid|child|children|stranger|strangers|guard|guards|waiter"
    r"|waitress|vendor|officer|cop|crowd|someone|somebody|figure|passer-by|passerby|driver|soldier|customer"
    r"|homme|femme|garçon|fille|enfant|inconnu|inconnue|serveur|serveuse|vendeur|vendeuse|policier|foule"
    r"|quelqu'un|silhouette|passant|passante|chauffeur|soldat)(?![\w'])"
    r"|陌生人|男人|女人|男子|女子|男孩|女孩|路人|行人|老人|孩子|警察|保安|司机|士兵|人群|有人|小贩|服务员",
    re.IGNORECASE,
)
_CAPS = re.compile(r"(?<![\w'’])[A-Z][A-Z'’.-]*[A-Z](?![\w'’])")  # a name in capitals: someone new
_NOT_PEOPLE = {"INT", "EXT", "V.O", "O.S", "O.C", "CONT'D", "FADE", "CUT", "DAY", "NIGHT", "TV", "OK"}
# "MEI (20s), a young woman in ...": the woman is MEI, not someone else.
_APPOSITIVE = re.compile(
    r"^\s*(?:\([^)]*\)\s*)?,\s*(?:now\s+|still\s+)?(?:a|an|the|un|une|le|la)\s+(?:[\w-]+\s+){0,2}$",
    re.IGNORECASE,
)


# --- prompts ---------------------------------------------------------------------------


def _clean(text: str) -> str:
    return " ".join(text.split())


def _sentence(text: str) -> str:
    text = _clean(text)
    return text if not text or text.endswith(_END) else text + "."


def _quote(text: str) -> str:
    """Dialogue as a quotation; inner double quotes become single so the quote cannot be closed early."""
    return '"' + _clean(text).replace('"', "'") + '"'


def _camera_line(shot: Shot, chars: dict[str, Character]) -> str:
    framing = _FRAMING.get(shot.framing, shot.framing)
    if shot.subject and shot.framing in _SINGLES_OUT:
        subject = chars[shot.subject].name if shot.subject in chars else _clean(shot.subject)
        framing = f"{framing} on {subject}"
    return f"{framing}, {_CAMERA.get(shot.camera, shot.camera)}."


def _action_text(shot: Shot) -> str:
    """The action without the parentheticals it repeats: the dialogue part says them with the speaker."""
    text = shot.action
    for d in shot.dialogue:
        if d.parenthetical:
            text = text.replace(f"({d.parenthetical})", "")
    return text.strip(" ;\n") if text != shot.action else text


def _without_name(description: str, name: str) -> str:
    """'MEI (20s), in a red jacket' -> '(20s), in a red jacket': the prompt already says 'MEI:'."""
    text = _clean(description)
    if name and text.casefold().startswith(name.casefold()):
        text = text[len(name) :].lstrip(" ,:;，：")
    return text


def _cast_line(c: Character, scene_id: str | None = None) -> str:
    """The canonical description; in a scene with a costume variant, the fixed traits (age, face, build,
    marks) word for word, and the scene's costume instead of the usual clothes."""
    costume = c.costume_in(scene_id)
    if costume is not None:
        zh = has_cjk(c.name + costume.description)
        sep = "，" if zh else ", "
        wearing = f"穿着{costume.description}" if zh else f"wearing {costume.description}"
        return f"{c.name}: {_sentence(sep.join([*c.fixed_traits().values(), wearing]))}"
    description = _without_name(c.description, c.name)
    return f"{c.name}: {_sentence(description)}" if description else f"{c.name}."


def _set_line(shot: Shot, breakdown: Breakdown) -> str:
    loc = next((x for x in breakdown.locations if x.id == shot.location), None)
    if loc is None:
        return ""
    scene = next((s for s in breakdown.scenes if s.id == shot.scene), None)
    where = f"{loc.interior} {loc.name}"
    if scene and scene.time_of_day:
        time = scene.time_of_day if CJK_RE.search(scene.time_of_day) else scene.time_of_day.lower()
        where = f"{where}, {time}"
    description = _without_name(loc.description, loc.name)
    return f"{where}: {_sentence(description)}" if description else f"{where}."


# How much of the set's width each framing sees, either side of what it looks at.
_VIEW_HALF = {
    "establishing": 1.0,
    "wide": 1.0,
    "two-shot": 0.36,
    "medium": 0.26,
    "close-up": 0.14,
    "insert": 0.0,
}
_AXIS_ZH = {"facing the far wall": "镜头朝向远墙", "facing across the street": "镜头朝向街对面"}


def _side(x: float, zh: bool) -> str:
    if x < 0.38:
        return "左侧" if zh else "on the left"
    if x > 0.62:
        return "右侧" if zh else "on the right"
    return "中间" if zh else "at centre"


def _view(shot: Shot) -> tuple[float, float] | None:
    """The stretch of the set (0..1 across the frame of the master axis) that the shot shows."""
    half = _VIEW_HALF.get(shot.framing, 1.0)
    if half <= 0:
        return None
    if half >= 0.5:
        return (0.0, 1.0)
    xs = [shot.positions[c] for c in shot.characters if c in shot.positions]
    centre = shot.positions.get(shot.subject or "", sum(xs) / len(xs) if xs else 0.5)
    return (centre - half, centre + half)


def _layout_line(shot: Shot, breakdown: Breakdown, chars: dict[str, Character]) -> str:
    """'Set, facing the far wall: the door on the left, the counter at centre; MEI stands by the door.'
    Only the landmarks the framing can see (a close-up sees less than a wide), and where each
    character in frame stands, so a cut keeps the set and the screen sides where they were."""
    loc = next((x for x in breakdown.locations if x.id == shot.location), None)
    view = _view(shot)
    if loc is None or view is None or not loc.layout.landmarks:
        return ""
    scene = next((s for s in breakdown.scenes if s.id == shot.scene), None)
    zh = breakdown.language == "zh" or any(has_cjk(lm.name) for lm in loc.layout.landmarks)
    seen = [lm for lm in sorted(loc.layout.landmarks, key=lambda m: m.x) if view[0] <= lm.x <= view[1]]
    marks = [
        f"{lm.name}在{_side(lm.x, True)}" if zh else f"the {lm.name} {_side(lm.x, False)}" for lm in seen
    ]
    people = []
    for cid in (c for c in shot.characters if c in chars and c in shot.positions):
        spot = scene.placements.get(cid) if scene else None
        if spot and spot in loc.layout.positions:
            people.append(f"{chars[cid].name}站在{spot}" if zh else f"{chars[cid].name} stands {spot}")
        else:
            side = _side(shot.positions[cid], zh)
            people.append(f"{chars[cid].name}在{side}" if zh else f"{chars[cid].name} {side}")
    if not marks and not people:
        return ""
    if zh:
        axis = _AXIS_ZH.get(loc.layout.camera_axis, loc.layout.camera_axis)
        return f"布景（{axis}）：{'，'.join(marks)}{'；' if marks and people else ''}{'，'.join(people)}。"
    body = "; ".join(p for p in (", ".join(marks), ", ".join(people)) if p)
    return f"Set, {loc.layout.camera_axis}: {body}."


def _dialogue_line(d: DialogueLine, chars: dict[str, Character]) -> str:
    who = chars[d.character].name if d.character in chars else d.character
    how = f" ({_clean(d.parenthetical)})" if d.parenthetical else ""
    return f"{who}{how} says: {_quote(d.text)}"


def assemble_prompt(shot: Shot, breakdown: Breakdown, style: str = "") -> str:
    """One prompt, in the order video models read best: camera, action, cast, set, dialogue, style.

    Every character in frame gets their canonical bible description, word for word, every time.
    """
    chars = {c.id: c for c in breakdown.characters}
    parts = [_camera_line(shot, chars), _sentence(_action_text(shot))]
    parts += [_cast_line(chars[cid], shot.scene) for cid in shot.characters if cid in chars]
    parts.append(_set_line(shot, breakdown))
    parts.append(_layout_line(shot, breakdown, chars))
    parts += [_dialogue_line(d, chars) for d in shot.dialogue]
    style = _clean(style or breakdown.style)
    if style:
        parts.append(f"Style: {_sentence(style)}")
    return " ".join(p for p in parts if p)


def apply_prompts(storyboard: Storyboard, breakdown: Breakdown) -> Storyboard:
    """A copy of the storyboard with every shot's prompt assembled (the input is left as it was)."""
    style = storyboard.style or breakdown.style
    shots = [s.model_copy(update={"prompt": assemble_prompt(s, breakdown, style)}) for s in storyboard.shots]
    return storyboard.model_copy(update={"shots": shots})


# --- conflicts -------------------------------------------------------------------------


_Piece = tuple[str | None, str]


@dataclass(frozen=True)
class _Passage:
    """A piece of a shot's own text, whom it describes, and where it came from."""

    owner: str  # character id
    text: str
    line: int | None
    source: str  # 'action' or 'parenthetical'


def _aliases(c: Character) -> list[str]:
    """How the action may name a character: 'DETECTIVE RAY' -> the full name and 'RAY'; the id 'old-tan'
    as 'OLD TAN' / 'Old Tan'. Names as scripts write them (as cast, capitals, Title case), never lower
    case, or WILL and ROSE would be found in 'she will wear a rose scarf'."""
    names = {c.name.strip()}
    words = c.name.split()
    if len(words) > 1:
        names |= {w for w in (words[0], words[-1]) if len(w) > 2 and w.casefold() not in _TITLES}
    spoken = c.id.replace("-", " ").replace("_", " ")
    forms = {f for n in names for f in (n, n.upper(), n.title())} | {spoken.upper(), spoken.title()}
    return sorted((f for f in forms if f.strip()), key=len, reverse=True)


def _mention_pattern(c: Character) -> re.Pattern[str]:
    alts = [re.escape(a) if CJK_RE.search(a) else rf"(?<!\w){re.escape(a)}(?!\w)" for a in _aliases(c)]
    return re.compile("|".join(alts))


def _relative_clause_start(sentence: str, start: int) -> int:
    """Chinese describes a person before naming them: '一个穿蓝色夹克的男人'; the clothes are his."""
    if not sentence[:start].endswith("的"):
        return start
    cut = max(sentence.rfind(c, 0, start) for c in "，。、；和与跟同个位名")
    return cut + 1


def _mentions(sentence: str, patterns: dict[str, re.Pattern[str]]) -> list[tuple[int, str | None]]:
    """(start, character id) of every name in the sentence, leftmost first, overlaps dropped; None for
    someone who is not in the bible ('a stranger', 'a WAITER'), so their clothes are nobody's."""
    known = [(m.start(), m.end(), cid) for cid, p in patterns.items() for m in p.finditer(sentence)]
    others = [(m.start(), m.end(), None) for m in _CAPS.finditer(sentence) if m.group() not in _NOT_PEOPLE]
    for m in _OTHER_PEOPLE.finditer(sentence):
        before = [end for _, end, _ in known if end <= m.start()]
        if not (before and _APPOSITIVE.match(sentence[max(before) : m.start()])):  # 'MEI, a young woman in'
            others.append((_relative_clause_start(sentence, m.start()), m.end(), None))
    hits = sorted([*known, *others], key=lambda h: (h[0], h[2] is None, -(h[1] - h[0])))
    out: list[tuple[int, str | None]] = []
    last_end = -1
    for start, end, cid in hits:
        if start >= last_end:
            out.append((start, cid))
            last_end = end
    return out


def _split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def _line_of(sentence: str, shot: Shot, breakdown: Breakdown) -> int | None:
    """The script line of the beat that holds this sentence; else the shot's first line."""
    scene = next((s for s in breakdown.scenes if s.id == shot.scene), None)
    beats = [b for b in scene.beats if not shot.lines or b.line in shot.lines] if scene else []
    key = _clean(sentence)
    for beat in beats:
        pos = beat.text.find(sentence)
        if pos >= 0:
            return beat.line + beat.text[:pos].count("\n")
        if key and key in _clean(beat.text):
            return beat.line
    return shot.lines[0] if shot.lines else None


_POSSESSIVE = re.compile(r"^[^\s'’]+(?:\s+[A-Z][^\s'’]*){0,2}?['’]s?(?=\s|$)")  # "DETECTIVE RAY's"
# A mark placed on a body part the next name owns: 'the scar above | MEI's eyebrow'.
_MARK_TAIL = re.compile(
    r"(?:\b(?:the|a|an|that|this)\s+)?(?:[\w-]+\s+){0,2}?(?:scars?|tattoos?|birthmark|mole|freckles)"
    r"\s+(?:on|over|above|across|along|under|below|beneath|near|down|around)\s+$",
    re.IGNORECASE,
)


def _pieces(sentence: str, mentions: list[tuple[int, str | None]], default: str | None) -> list[_Piece]:
    """Split a sentence at each name: what follows a name describes that person. The words before the
    first name go with it ('In a blue jacket, MEI runs'), or with `default` when it is nobody of ours."""
    if not mentions:
        return [(default, sentence)] if default else []
    first = mentions[0][1] if mentions[0][1] is not None else default
    pieces: list[_Piece] = [(first, sentence[: mentions[0][0]])]
    for k, (start, cid) in enumerate(mentions):
        end = mentions[k + 1][0] if k + 1 < len(mentions) else len(sentence)
        text = sentence[start:end]
        tail = _MARK_TAIL.search(pieces[-1][1]) if _POSSESSIVE.match(text) else None
        if tail:  # 'MEI stares at | the tattoo on KAITO's arm': the mark is on KAITO
            pieces[-1] = (pieces[-1][0], pieces[-1][1][: tail.start()])
            text = tail.group() + text
        if cid is not None and cid == pieces[-1][0]:
            pieces[-1] = (cid, pieces[-1][1] + text)
        else:
            pieces.append((cid, text))
    return [(cid, text) for cid, text in pieces if cid is not None and text.strip()]


def _passages(shot: Shot, breakdown: Breakdown, patterns: dict[str, re.Pattern[str]]) -> list[_Passage]:
    """Who each piece of the action describes: the person named before it; else, for a sentence that
    starts with a pronoun, the last one named; else the only character in the shot."""
    out: list[_Passage] = []
    last: str | None = None
    sole = shot.characters[0] if len(shot.characters) == 1 else None
    for sentence in _split_sentences(shot.action):
        line = _line_of(sentence, shot, breakdown)
        default = last if last and _PRONOUN.match(sentence) else sole
        mentions = _mentions(sentence, patterns)
        pieces = _pieces(sentence, mentions, default)
        out += [_Passage(cid, text, line, "action") for cid, text in pieces]
        named = {cid for _, cid in mentions if cid is not None}
        last = named.pop() if len(named) == 1 else (last if not mentions else None)
    for d in shot.dialogue:
        if d.parenthetical:
            out.append(_Passage(d.character, d.parenthetical, d.line, "parenthetical"))
    return out


def _bible_slots(description: str, attributes: dict[str, str], kind: str) -> dict[str, str]:
    """What the bible says, slot by slot: read from the description, then the curated attributes
    (which win); free-form attribute names ('clothing') are read for the slots they mention."""
    slots = extract_attributes(description, kind=kind)
    for name, value in attributes.items():
        if is_slot(name):
            slots[name] = value
        else:
            slots.update(extract_attributes(value, kind=kind))
    return slots


def _bible_value(slots: dict[str, str], slot: str, value: str) -> str | None:
    """The bible's value for the same thing; marks are matched by kind (a scar is compared with a scar)."""
    if not slot.startswith("marks"):
        return slots.get(slot)
    kind = value_facets("marks", value).get("mark")
    return next(
        (
            v
            for s, v in slots.items()
            if s.startswith("marks") and value_facets("marks", v).get("mark") == kind
        ),
        None,
    )


def _label(slot: str) -> str:
    return "mark" if slot.startswith("marks") else slot.removeprefix("prop:")


def _conflict(
    shot: Shot, subject: str, slot: str, bible_value: str, shot_value: str, p: _Passage
) -> Conflict:
    where = f" (line {p.line})" if p.line else ""
    return Conflict(
        shot_id=shot.id,
        subject=subject,
        attribute=slot,
        bible_value=bible_value,
        shot_value=shot_value,
        line=p.line,
        message=f"Shot {shot.id}: {subject}'s {_label(slot)} is '{bible_value}' in the bible "
        f"but the {p.source} says '{shot_value}'{where}",
    )


def _slots_in_scene(character: Character, slots: dict[str, str], scene_id: str) -> dict[str, str]:
    """What the bible says a character looks like in a scene: in a costume variant, the fixed traits
    (age, face, build, marks) stay and the clothes are the costume's, so a planned change is no conflict."""
    costume = character.costume_in(scene_id)
    if costume is None:
        return slots
    fixed = {k: v for k, v in slots.items() if k.split(":", 1)[0] in FIXED_SLOTS}
    return {
        **fixed,
        **_bible_slots(costume.description, extract_attributes(costume.description), "character"),
    }


def _character_conflicts(
    shot: Shot,
    breakdown: Breakdown,
    chars: dict[str, Character],
    bible: dict[str, dict[str, str]],
    patterns: dict[str, re.Pattern[str]],
) -> list[Conflict]:
    out: dict[tuple[str, str], Conflict] = {}
    for p in _passages(shot, breakdown, patterns):
        if p.owner not in bible or (p.owner not in shot.characters and p.source == "action"):
            continue
        slots = _slots_in_scene(chars[p.owner], bible[p.owner], shot.scene)
        for slot, value in extract_attributes(p.text).items():
            known = _bible_value(slots, slot, value)
            if known and (p.owner, slot) not in out and differing_facets(slot, known, value):
                out[(p.owner, slot)] = _conflict(shot, chars[p.owner].name, slot, known, value, p)
    return list(out.values())


def _location_conflicts(shot: Shot, breakdown: Breakdown, bible: dict[str, dict[str, str]]) -> list[Conflict]:
    """Only what a set reliably has: its weather. A shot that also states the bible's weather is a change
    written on purpose ('the rain stops'), not a contradiction."""
    loc = next((x for x in breakdown.locations if x.id == shot.location), None)
    if loc is None or not shot.action.strip():
        return []
    said = extract_attributes(shot.action, kind="location")
    out = []
    for slot in _LOCATION_SLOTS:
        known, value = bible[loc.id].get(slot), said.get(slot)
        if not known or not value or not differing_facets(slot, known, value):
            continue
        facet = value_facets(slot, known)
        stated = [s for s in _split_sentences(shot.action) if value_facets(slot, s) == facet]
        if not stated:
            p = _Passage(loc.id, value, _line_of(value, shot, breakdown), "action")
            out.append(_conflict(shot, loc.name, slot, known, value, p))
    return out


def check(storyboard: Storyboard, breakdown: Breakdown) -> list[Conflict]:
    """Where a shot's own words (action, parentheticals) contradict the bible, in shot order.

    Compared facet by facet, so shades and synonyms agree (crimson = red = 深红) and only a real
    change (red -> blue, short -> long, left -> right, 20s -> 50s) is reported.
    """
    chars = {c.id: c for c in breakdown.characters}
    bible = {c.id: _bible_slots(c.description, c.attributes, "character") for c in breakdown.characters}
    sets = {loc.id: _bible_slots(loc.description, loc.attributes, "location") for loc in breakdown.locations}
    patterns = {cid: _mention_pattern(c) for cid, c in chars.items()}
    out: list[Conflict] = []
    for shot in storyboard.shots:
        out += _character_conflicts(shot, breakdown, chars, bible, patterns)
        out += _location_conflicts(shot, breakdown, sets)
    return out


# --- moderation rewrites -----------------------------------------------------------------------

# Words video models' filters commonly refuse, and the screen-safe wording a storyboard artist would
# use instead. Deterministic, so the offline line can retry a refused shot once; a person (or the
# LLM path) handles what this cannot soften.
_SOFTER = {
    "blood": "dark stains",
    "bloody": "stained",
    "bleeding": "hurt",
    "gore": "aftermath",
    "gun": "device",
    "guns": "devices",
    "pistol": "device",
    "rifle": "long case",
    "knife": "blade-shaped tool",
    "kill": "stop",
    "kills": "stops",
    "killed": "stopped",
    "murder": "crime",
    "dead": "motionless",
    "corpse": "still figure",
    "shoots": "aims at",
    "shot dead": "struck down",
    "stab": "strike",
    "stabs": "strikes",
    "naked": "unclothed",
    "nude": "unclothed",
    "血": "暗色痕迹",
    "枪": "装置",
    "杀": "击败",
    "尸体": "静止的身影",
}
_SOFTER_RE = re.compile(
    "|".join(
        sorted(
            (re.escape(k) if CJK_RE.search(k) else rf"\b{re.escape(k)}\b" for k in _SOFTER),
            key=len,
            reverse=True,
        )
    ),
    re.IGNORECASE,
)


def soften(prompt: str) -> str | None:
    """The prompt with commonly refused words replaced, or None when there is nothing to soften
    (then the refusal goes to a person with its reason)."""
    if not _SOFTER_RE.search(prompt):
        return None
    return _SOFTER_RE.sub(
        lambda m: _SOFTER.get(m.group(0).lower(), _SOFTER.get(m.group(0), m.group(0))), prompt
    )


def rewrite_refused(storyboard: Storyboard, refused: dict[str, str]) -> tuple[Storyboard, dict[str, str]]:
    """Soften the prompts of refused shots. Returns the new storyboard and, for shots it could not
    soften, the provider's reason, which goes to a person."""
    stuck: dict[str, str] = {}
    shots = []
    for shot in storyboard.shots:
        if shot.id in refused:
            softer = soften(shot.prompt)
            if softer is None:
                stuck[shot.id] = refused[shot.id]
            else:
                shot = shot.model_copy(update={"prompt": softer})
        shots.append(shot)
    return storyboard.model_copy(update={"shots": shots}), stuck


# --- take QC corrections -----------------------------------------------------------------------


def correct_prompt(prompt: str, shot: Shot, breakdown: Breakdown, reasons: list[str]) -> str:
    """A prompt for a take that failed QC: restate, first and plainly, what the take got wrong, so
    the model weighs the bible's words above everything else in the shot."""
    scene_chars = [breakdown.character(c) for c in shot.characters]
    pinned = [
        f"{c.name} must look exactly like the reference: {_without_name(c.description, c.name)}."
        for c in scene_chars
    ]
    loc = breakdown.location(shot.location)
    if any("set" in r.lower() or loc.name.lower() in r.lower() for r in reasons):
        pinned.append(f"The set must match its reference: {loc.description}.")
    return " ".join([*pinned, prompt]) if pinned else prompt


# --- bible changes -------------------------------------------------------------------------


def _find_target(breakdown: Breakdown, name: str) -> Character | Location | None:
    key = name.strip().casefold()
    for group in (breakdown.characters, breakdown.locations):
        for item in group:
            if key in {item.id.casefold(), item.name.casefold()}:
                return item
    return None


def _revised(
    description: str, attributes: dict[str, str], edit: ChangeBible, kind: str
) -> tuple[str, dict[str, str], str]:
    """The description and attributes with one item changed, and the new wording of that item."""
    slot = slot_of(edit.item, kind=kind) or edit.item.strip().casefold()
    old = attributes.get(slot)
    if old is None:  # not described yet: name it, in the value's words
        found = re.search(rf"(?:[\w'-]+\s+){{0,3}}{re.escape(edit.item)}", description, re.IGNORECASE)
        old = found.group(0) if found else None
    item = edit.item.strip()
    phrase = restyle(slot, old or item, edit.value)
    if item.casefold() not in phrase.casefold() and slot not in {"age", "build"}:
        phrase = f"{phrase}{'' if has_cjk(phrase) else ' '}{item}"
    if old and old in description:
        description = description.replace(old, phrase, 1)
    elif phrase.casefold() not in description.casefold():
        sep = "，" if has_cjk(description) else ", "
        description = f"{description.rstrip(' .。')}{sep}{phrase}"
    return description, {**attributes, slot: phrase}, phrase


def apply_bible_edits(breakdown: Breakdown, edits: list[ChangeBible]) -> tuple[Breakdown, list[str]]:
    """The breakdown with every bible change applied, in order, and what could not be applied.

    Idempotent, so it is safe to re-apply the whole list after the script is rewritten: setting a
    jacket to red twice is the same as once. A change everywhere also recolours costume variants of
    that item; a change in some scenes becomes (or updates) a costume variant for those scenes.
    """
    characters = {c.id: c for c in breakdown.characters}
    locations = {loc.id: loc for loc in breakdown.locations}
    scene_ids = [s.id for s in breakdown.scenes]
    problems: list[str] = []
    for edit in edits:
        target = _find_target(breakdown.model_copy(update={
            "characters": list(characters.values()), "locations": list(locations.values())}), edit.target)  # fmt: skip
        if target is None:
            problems.append(f"no character or set called {edit.target!r}")
            continue
        if isinstance(target, Location):
            description, attributes, _ = _revised(target.description, target.attributes, edit, "location")
            if description != target.description:
                locations[target.id] = target.model_copy(update={
                    "description": description, "attributes": attributes, "version": target.version + 1})  # fmt: skip
            continue
        if edit.scenes:
            chosen = [scene_ids[n - 1] for n in edit.scenes if 1 <= n <= len(scene_ids)]
            updated = _with_costume(target, edit, chosen)
        else:
            description, attributes, _ = _revised(target.description, target.attributes, edit, "character")
            costumes = [_recolored_costume(c, edit) for c in target.costumes]
            updated = target.model_copy(update={
                "description": description, "attributes": attributes, "costumes": costumes,
                "color": display_color(target.name, attributes)})  # fmt: skip
        if updated != target:
            characters[target.id] = updated.model_copy(update={"version": target.version + 1})
    return breakdown.model_copy(
        update={"characters": list(characters.values()), "locations": list(locations.values())}
    ), problems


def _recolored_costume(costume: Costume, edit: ChangeBible) -> Costume:
    slot = slot_of(edit.item) or edit.item
    if slot not in extract_attributes(costume.description):
        return costume
    description, attributes, _ = _revised(
        costume.description, extract_attributes(costume.description), edit, "character"
    )
    family = value_facets(slot, attributes[slot]).get("color")
    return costume.model_copy(
        update={"description": description, "color": color_hex(family) if family else costume.color}
    )


def _with_costume(character: Character, edit: ChangeBible, scene_ids: list[str]) -> Character:
    """A change in some scenes only: the clothing worn there, as a costume variant of its own."""
    base = character.costume_in(scene_ids[0]) if scene_ids else None
    worn = (
        base.description
        if base
        else ", ".join(v for k, v in character.attributes.items() if k.split(":", 1)[0] not in FIXED_SLOTS)
        or edit.item
    )
    description, attributes, _ = _revised(worn, extract_attributes(worn), edit, "character")
    slot = slot_of(edit.item) or edit.item
    family = value_facets(slot, attributes.get(slot, "")).get("color")
    sep = "，" if has_cjk(character.name) else ", "
    variant = Costume(name=f"{character.name}{sep}{description}", description=description,
                      scenes=scene_ids, color=color_hex(family) if family else character.color)  # fmt: skip
    kept = [
        c.model_copy(update={"scenes": [s for s in c.scenes if s not in scene_ids]})
        for c in character.costumes
    ]
    same = next((c for c in kept if c.description == description), None)
    if same is not None:
        same.scenes = sorted({*same.scenes, *scene_ids}, key=lambda s: int(s.removeprefix("sc")))
        return character.model_copy(update={"costumes": [c for c in kept if c.scenes]})
    return character.model_copy(update={"costumes": [*(c for c in kept if c.scenes), variant]})


def restate(storyboard: Storyboard, before: Breakdown, after: Breakdown) -> Storyboard:
    """Shots whose own words still say the old look ("her yellow rain jacket") after a bible change
    say the new one, so a prompt never carries both; only where the shot shows that character and
    the scene has no costume variant of its own."""
    changes: dict[str, list[tuple[str, str]]] = {}
    old_cast = {c.id: c for c in before.characters}
    for c in after.characters:
        was = old_cast.get(c.id)
        if was is None:
            continue
        pairs = [(v, c.attributes[k]) for k, v in was.attributes.items() if c.attributes.get(k, v) != v]
        if pairs:
            changes[c.id] = pairs
    if not changes:
        return storyboard
    shots = []
    for shot in storyboard.shots:
        action = shot.action
        for cid in shot.characters:
            character = after.character(cid)
            if cid not in changes or character.costume_in(shot.scene) is not None:
                continue
            for old, new in changes[cid]:
                action = re.sub(re.escape(old), new, action, flags=re.IGNORECASE)
        shots.append(shot if action == shot.action else shot.model_copy(update={"action": action}))
    return storyboard.model_copy(update={"shots": shots})
