"""Benchmark: the pre-render conflict check (`continuity.check`) on a labelled set of cases.

Each case in bench/data/conflict_cases.json is a small bible, one shot's own words (action, maybe a
parenthetical) and the conflicts a script supervisor would flag, as (subject id, attribute). Half are
planted contradictions (colour, clothing, hair, age, marks, props, left/right, set weather); the other
half are shades, synonyms, paraphrases and other people's clothes that must not be flagged, because a
false alarm costs a person's attention on every shot. English and Chinese.

Prints JSON: counts, precision, recall, per-language and per-category figures, and the misses by case.
Target: precision >= 0.9 and recall >= 0.9.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shotline.agents import continuity
from shotline.memory.models import Beat, Breakdown, Character, DialogueLine, Location, Scene, Shot, Storyboard
from shotline.tools.attributes import extract_attributes

CASES = Path(__file__).parent / "data" / "conflict_cases.json"
TARGET = 0.9
_LINE = 10  # the script line every case's action starts on
_DEFAULT_SET = "room"

Pair = tuple[str, str]  # (subject id, attribute)


class Parenthetical(BaseModel):
    character: str
    text: str


class Case(BaseModel):
    id: str
    lang: str
    category: str
    cast: str
    in_frame: list[str]
    action: str
    parenthetical: Parenthetical | None = None
    set: str = _DEFAULT_SET
    expected: list[Pair] = Field(default_factory=list)


class CaseSet(BaseModel):
    casts: dict[str, list[dict[str, str]]]
    sets: dict[str, dict[str, str]]
    cases: list[Case]


class Tally(BaseModel):
    cases: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def add(self, expected: set[Pair], found: set[Pair]) -> None:
        self.cases += 1
        self.tp += len(expected & found)
        self.fp += len(found - expected)
        self.fn += len(expected - found)

    def summary(self) -> dict[str, float | int]:
        return {
            "cases": self.cases,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
        }


def load_cases(path: Path = CASES) -> CaseSet:
    return CaseSet.model_validate_json(path.read_text("utf-8"))


def _character(raw: dict[str, str]) -> Character:
    """As the screenwriter records a character: the description, and the attributes read from it."""
    description = raw["description"]
    return Character(
        id=raw["id"],
        name=raw["name"],
        description=description,
        attributes=extract_attributes(description),
        color="#000000",
    )


def build(case: Case, data: CaseSet) -> tuple[Storyboard, Breakdown]:
    """The case as the line sees it: a one-scene breakdown and a one-shot storyboard."""
    loc = Location(**data.sets[case.set], color="#333333")
    dialogue = []
    if case.parenthetical:
        p = case.parenthetical
        dialogue = [DialogueLine(character=p.character, text="...", parenthetical=p.text, line=_LINE + 1)]
    shot = Shot(
        id="001",
        number=1,
        scene="sc1",
        framing="medium",
        camera="static",
        duration_s=4.0,
        characters=case.in_frame,
        location=loc.id,
        action=case.action,
        dialogue=dialogue,
        lines=[_LINE],
    )
    beats = [Beat(kind="action", text=case.action, line=_LINE)] if case.action else []
    scene = Scene(
        id="sc1",
        number=1,
        heading=f"{loc.interior}. {loc.name} - NIGHT",
        location=loc.id,
        interior=loc.interior,
        time_of_day="NIGHT",
        night=True,
        line=_LINE - 1,
        characters=case.in_frame,
        beats=beats,
    )
    cast = [_character(c) for c in data.casts[case.cast]]
    breakdown = Breakdown(title=case.id, language=case.lang, scenes=[scene], characters=cast, locations=[loc])
    return Storyboard(shots=[shot]), breakdown


def found_pairs(board: Storyboard, breakdown: Breakdown) -> set[Pair]:
    """What the check flags, as (subject id, attribute); 'marks:tattoo' counts as 'marks'."""
    ids = {c.name: c.id for c in breakdown.characters} | {x.name: x.id for x in breakdown.locations}
    return {
        (
            ids.get(c.subject, c.subject),
            c.attribute.split(":", 1)[0] if c.attribute.startswith("marks") else c.attribute,
        )
        for c in continuity.check(board, breakdown)
    }


def evaluate(data: CaseSet) -> dict:
    total, by_lang, by_cat = Tally(), {}, {}
    misses = []
    for case in data.cases:
        expected = {tuple(p) for p in case.expected}
        found = found_pairs(*build(case, data))
        for tally in (
            total,
            by_lang.setdefault(case.lang, Tally()),
            by_cat.setdefault(case.category, Tally()),
        ):
            tally.add(expected, found)
        if expected != found:
            misses.append(
                {
                    "id": case.id,
                    "missed": sorted(map(list, expected - found)),
                    "false_alarms": sorted(map(list, found - expected)),
                }
            )
    return {
        "benchmark": "conflicts",
        **total.summary(),
        "with_conflicts": sum(1 for c in data.cases if c.expected),
        "clean": sum(1 for c in data.cases if not c.expected),
        "by_language": {k: v.summary() for k, v in sorted(by_lang.items())},
        "by_category": {k: v.summary() for k, v in sorted(by_cat.items())},
        "misses": misses,
        "target": TARGET,
        "ok": total.precision >= TARGET and total.recall >= TARGET,
    }


def main() -> None:
    t0 = time.perf_counter()
    result = evaluate(load_cases())
    result["seconds"] = round(time.perf_counter() - t0, 3)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
