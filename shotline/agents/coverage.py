"""Breakdown -> shot list, by coverage grammar.

The grammar a script supervisor would expect: an establishing wide shot when the film arrives at a
new set, a two-shot to open a dialogue exchange then alternating singles on each speaker, medium
or wide for action beats, an insert when the action singles out an object. Screen positions are
fixed per scene, so a character keeps their side of the frame (the 180-degree rule).
"""

from __future__ import annotations

import re

from shotline.memory.models import (
    FPS,
    Beat,
    Breakdown,
    Camera,
    DialogueLine,
    Framing,
    Ratio,
    Scene,
    Shot,
    Storyboard,
)
from shotline.tools.text import CJK_RE, mentions
from shotline.tools.timing import reading_seconds

MIN_S, MAX_S = 2.0, 10.0
ESTABLISH_S = 3.0
INSERT_S = 2.5
ACTION_WORDS_PER_SECOND = 3.0
ACTION_BASE_S = 1.5
DIALOGUE_PAD_S = 1.0

_MOVE = re.compile(
    r"\b(runs?|running|races?|chases?|weaves?|walks?|walking|rides?|drives?|climbs?|crosses|rushes|"
    r"sprints?|flees|skids?|marche|court|traverse)\b|跑|追|走|骑|冲",
    re.IGNORECASE,
)
_HANDLE = re.compile(
    r"\b(?:grabs?|picks? up|holds? up|opens?|pulls? out|takes? out|reveals?|drops?|slides?|hands? over|"
    r"snatches|unfolds?|lifts?|saisit|ouvre|prend)\s+(?P<obj>(?:the|a|an|her|his|their|its|le|la|les|un|une)\s+"
    r"[\w'-]+(?:\s+[\w'-]+){0,4})",
    re.IGNORECASE,
)
_OBJECT_ENDS = {
    "from", "into", "to", "on", "at", "with", "and", "off", "out", "in", "onto", "over", "under",
    "toward", "towards", "across", "then", "as", "while", "of", "for", "de", "sur", "dans", "et",
}  # fmt: skip
_HANDLE_ZH = re.compile(r"(?:拿起|抓起|打开|掏出|举起|递过|握住)(?P<obj>[\u4e00-\u9fff]{1,6})")
_PROP_CAPS = re.compile(r"\b[A-Z][A-Z'-]{2,}\b")
_PRONOUN = re.compile(r"\b(she|he|her|his|him|elle|il)\b|她|他", re.IGNORECASE)
_STOP_CAPS = {"INT", "EXT", "EST", "CONT'D", "V.O", "O.S", "POV", "CU", "OK", "TV", "FADE", "CUT"}


def clamp(seconds: float) -> float:
    """Clamp to 2-10 s and snap to whole frames, so takes, the cut and the timeline agree exactly."""
    frames = round(min(MAX_S, max(MIN_S, seconds)) * FPS)
    return round(frames / FPS, 4)


def action_seconds(text: str) -> float:
    """Screen time of an action paragraph: roughly how long it takes to happen, read at pace."""
    words = len(CJK_RE.sub(" ", text).split()) + len(CJK_RE.findall(text)) / 2.5
    return clamp(ACTION_BASE_S + words / ACTION_WORDS_PER_SECOND)


def dialogue_seconds(text: str) -> float:
    return clamp(reading_seconds(text) + DIALOGUE_PAD_S)


PLACE_GAP = 0.12  # the least screen distance between two figures' centres


def screen_positions(cast: list[str], placed: dict[str, float] | None = None) -> dict[str, float]:
    """Screen x for a scene's cast. A character standing at a named spot of the set ('by the door') takes
    that spot's x; the others are evenly spaced in order of appearance (first one screen left), moved
    to the nearest free x when a placed character stands there."""
    n = len(cast)
    if n == 0:
        return {}
    if n == 1:
        spaced = {cast[0]: 0.5}
    else:
        margin = 0.25 if n == 2 else 0.15
        step = (1 - 2 * margin) / (n - 1)
        spaced = {cid: round(margin + i * step, 3) for i, cid in enumerate(cast)}
    placed = {cid: x for cid, x in (placed or {}).items() if cid in spaced}
    out = dict(placed)
    for cid in (c for c in cast if c not in placed):
        out[cid] = _nearest_free(spaced[cid], list(out.values()))
    return {cid: out[cid] for cid in cast}


def _nearest_free(x: float, taken: list[float]) -> float:
    spots = sorted((round(0.1 + k * 0.025, 3) for k in range(33)), key=lambda s: (abs(s - x), s))
    return next((s for s in [x, *spots] if all(abs(s - t) >= PLACE_GAP - 1e-9 for t in taken)), x)


def insert_subject(text: str, cast_names: list[str]) -> str | None:
    """The object an action singles out ('grabs a small brass LOCKET' -> 'small brass locket')."""
    m = _HANDLE.search(text) or _HANDLE_ZH.search(text)
    if m:
        words = m["obj"].split()
        if CJK_RE.search(m["obj"]):
            words = [m["obj"]]
        else:
            words = words[1:]  # drop the article
            for k, word in enumerate(words):
                if word.lower().strip(".,;") in _OBJECT_ENDS:
                    words = words[:k]
                    break
        subject = " ".join(words).strip(" .,;")
        if subject and not any(subject.lower() == n.lower() for n in cast_names):
            return subject.lower() if not CJK_RE.search(subject) else subject
    upper_names = {n.upper() for n in cast_names}
    for word in _PROP_CAPS.findall(text):
        if word not in _STOP_CAPS and word not in upper_names and not any(word in n for n in upper_names):
            return word.lower()
    return None


class _Planner:
    """Walks one scene's beats and emits shots; holds only the running state of that walk."""

    def __init__(self, breakdown: Breakdown, scene: Scene, first_at_location: bool) -> None:
        self.b = breakdown
        self.scene = scene
        self.first_at_location = first_at_location
        self.names = {c.id: c.name for c in breakdown.characters}
        spots = breakdown.location(scene.location).layout.positions
        placed = {cid: spots[name] for cid, name in scene.placements.items() if name in spots}
        self.positions = screen_positions(scene.characters, placed)
        self.shots: list[Shot] = []
        self.last_subject: str | None = None

    def shot(self, framing: Framing, camera: Camera, seconds: float, chars: list[str], **kw) -> None:
        self.shots.append(
            Shot(
                id="",
                number=0,
                scene=self.scene.id,
                framing=framing,
                camera=camera,
                duration_s=clamp(seconds),
                characters=chars,
                location=self.scene.location,
                positions={c: self.positions[c] for c in chars if c in self.positions},
                **kw,
            )
        )

    def present_in(self, beat: Beat) -> list[str]:
        chars = [
            cid for cid in self.scene.characters if mentions(beat.text, self.names[cid]) and cid in self.names
        ]
        if not chars and self.last_subject and _PRONOUN.search(beat.text):
            chars = [self.last_subject]
        return chars

    def plan(self) -> list[Shot]:
        beats = list(self.scene.beats)
        i = 0
        if self.first_at_location:
            if beats and beats[0].kind == "action":
                b = beats.pop(0)
                chars = self.present_in(b)
                self.shot(
                    "establishing", "pan-right" if _MOVE.search(b.text) else "static",
                    max(ESTABLISH_S, action_seconds(b.text)), chars, action=b.text, lines=[b.line],
                )  # fmt: skip
            else:
                self.shot("establishing", "static", ESTABLISH_S, list(self.scene.characters))
        while i < len(beats):
            beat = beats[i]
            if beat.kind == "action":
                self.action(beat)
                i += 1
                continue
            j = i
            while j < len(beats) and beats[j].kind == "dialogue":
                j += 1
            self.exchange(beats[i:j])
            i = j
        return self.shots

    def action(self, beat: Beat) -> None:
        chars = self.present_in(beat)
        cast_names = [self.names[c] for c in self.scene.characters]
        subject = insert_subject(beat.text, cast_names)
        if subject:
            self.shot("insert", "push-in", INSERT_S, [], action=beat.text, subject=subject, lines=[beat.line])
        elif len(chars) >= 2 or _MOVE.search(beat.text):
            cam: Camera = "pan-right" if _MOVE.search(beat.text) else "static"
            self.shot("wide", cam, action_seconds(beat.text), chars, action=beat.text, lines=[beat.line])
        else:
            self.shot(
                "medium", "push-in" if chars else "static", action_seconds(beat.text), chars,
                action=beat.text, subject=chars[0] if chars else None, lines=[beat.line],
            )  # fmt: skip
        if chars:
            self.last_subject = chars[-1]

    def exchange(self, speeches: list[Beat]) -> None:
        speakers = list(dict.fromkeys(s.character for s in speeches if s.character))
        groups = _runs(speeches)
        for k, group in enumerate(groups):
            who = group[0].character or ""
            lines = [
                DialogueLine(character=who, text=s.text, parenthetical=s.parenthetical, line=s.line)
                for s in group
            ]
            seconds = sum(dialogue_seconds(s.text) for s in group)
            action = "; ".join(f"({s.parenthetical})" for s in group if s.parenthetical)
            if k == 0 and len(speakers) >= 2:
                pair = [c for c in self.scene.characters if c in speakers[:2]]
                self.shot("two-shot", "static", seconds, pair, dialogue=lines, subject=who,
                          action=action, lines=[s.line for s in group])  # fmt: skip
            else:
                framing: Framing = "close-up" if len(speakers) >= 2 else "medium"
                self.shot(framing, "static" if k % 2 else "push-in", seconds, [who], dialogue=lines,
                          subject=who, action=action, lines=[s.line for s in group])  # fmt: skip
            self.last_subject = who


def _runs(speeches: list[Beat]) -> list[list[Beat]]:
    """Consecutive speeches by the same speaker share a shot while they fit in MAX_S."""
    groups: list[list[Beat]] = []
    for s in speeches:
        last = groups[-1] if groups else None
        if (
            last
            and last[0].character == s.character
            and sum(dialogue_seconds(x.text) for x in last) + dialogue_seconds(s.text) <= MAX_S
        ):
            last.append(s)
        else:
            groups.append([s])
    return groups


def plan_shots(breakdown: Breakdown, *, ratio: Ratio = "16:9", style: str | None = None) -> Storyboard:
    """The whole storyboard, numbered in film order; ids are '001', '002' ..."""
    seen: set[str] = set()
    shots: list[Shot] = []
    for scene in breakdown.scenes:
        planner = _Planner(breakdown, scene, first_at_location=scene.location not in seen)
        seen.add(scene.location)
        shots.extend(planner.plan())
    numbered = [s.model_copy(update={"id": f"{n:03d}", "number": n}) for n, s in enumerate(shots, start=1)]
    return Storyboard(ratio=ratio, style=breakdown.style if style is None else style, shots=numbered)
