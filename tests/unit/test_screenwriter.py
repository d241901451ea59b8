"""Breakdown and coverage grammar on real scripts: what a script supervisor would check first."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from shotline.agents import screenwriter
from shotline.agents.breakdown import parse_heading
from shotline.agents.coverage import dialogue_seconds, plan_shots
from shotline.errors import InputError, ScriptError
from tests.conftest import FIXTURES, SAMPLES

SAMPLE = SAMPLES / "last_delivery.fountain"


@pytest.fixture(scope="module")
def sample():
    script = SAMPLE.read_text("utf-8")
    breakdown = screenwriter.break_down_script(script)
    return script, breakdown, plan_shots(breakdown)


def test_sample_breakdown_has_scenes_sets_and_cast(sample):
    _script, b, _ = sample
    assert [s.location for s in b.scenes] == ["neon-market", "signal-tower", "neon-market"]
    assert [s.night for s in b.scenes] == [False, True, True]
    assert [s.interior for s in b.scenes] == ["EXT", "INT", "EXT"]
    assert {c.name for c in b.characters} == {"MEI", "OLD TAN", "KAITO"}
    assert b.title == "The Last Delivery"
    assert b.style.startswith("neo-noir anime")


def test_character_description_is_taken_where_introduced(sample):
    script, b, _ = sample
    mei = b.character("mei")
    assert "red bomber jacket" in mei.description and "short black hair" in mei.description
    assert "weaves" not in mei.description  # the verb is the action, not the description
    assert "(20s)" in mei.description
    lines = script.splitlines()
    assert "MEI (20s)" in lines[mei.line - 1]  # line numbers point at the script
    kaito = b.character("kaito")
    assert "scar over his left eye" in kaito.description
    assert "steps out" not in kaito.description
    assert mei.color != kaito.color


def test_scene_heading_variants():
    assert parse_heading("EXT. NEON MARKET - NIGHT") == ("EXT", "NEON MARKET", "NIGHT")
    assert parse_heading("INT./EXT. CAR - CONTINUOUS") == ("INT/EXT", "CAR", "CONTINUOUS")
    assert parse_heading("I/E TRAIN - DAY")[0] == "INT/EXT"
    assert parse_heading("EST. CITY SKYLINE")[1:] == ("CITY SKYLINE", "DAY")
    assert parse_heading("内景。信号塔 - 夜") == ("INT", "信号塔", "夜")
    assert parse_heading("外景 雨巷 夜")[1:] == ("雨巷", "夜")
    assert parse_heading("INT. CAFÉ DE FLORE - NUIT") == ("INT", "CAFÉ DE FLORE", "NUIT")


def test_new_location_opens_with_an_establishing_wide(sample):
    _, _b, board = sample
    firsts = {}
    for shot in board.shots:
        firsts.setdefault(shot.scene, shot)
    assert firsts["sc1"].framing == "establishing"
    assert firsts["sc2"].framing == "establishing"
    assert firsts["sc3"].framing != "establishing"  # back at a set we have already established
    assert sum(s.framing == "establishing" for s in board.shots) == 2


def test_dialogue_exchange_is_two_shot_then_alternating_singles(sample):
    _, _b, board = sample
    scene1 = [s for s in board.shots if s.scene == "sc1" and s.dialogue]
    assert scene1[0].framing == "two-shot"
    assert set(scene1[0].characters) == {"old-tan", "mei"}
    singles = scene1[1:]
    assert [s.framing for s in singles] == ["close-up"] * 3
    speakers = [s.characters for s in singles]
    assert speakers == [["mei"], ["old-tan"], ["mei"]]
    assert scene1[2].dialogue[0].parenthetical == "lowering his voice"


def test_insert_when_the_action_singles_out_an_object(sample):
    _, _, board = sample
    inserts = [s for s in board.shots if s.framing == "insert"]
    assert [s.subject for s in inserts] == ["small brass locket", "locket"]
    assert all(s.duration_s == 2.5 for s in inserts)


def test_action_beats_are_medium_or_wide(sample):
    _, _, board = sample
    actions = [s for s in board.shots if not s.dialogue and s.framing not in {"insert", "establishing"}]
    assert actions and {s.framing for s in actions} <= {"medium", "wide"}
    walk = next(s for s in actions if "walk out" in s.action)
    assert walk.framing == "wide" and set(walk.characters) == {"mei", "kaito"}


def test_every_shot_is_complete_and_in_range(sample):
    _, _, board = sample
    assert 12 <= len(board.shots) <= 20
    assert [s.id for s in board.shots] == [f"{n:03d}" for n in range(1, len(board.shots) + 1)]
    for shot in board.shots:
        assert 2.0 <= shot.duration_s <= 10.0
        assert shot.lines, f"shot {shot.id} does not point at the script"
        assert shot.location in {"neon-market", "signal-tower"}


def test_screen_side_is_kept_within_a_scene(sample):
    _, _, board = sample
    sides: dict[tuple[str, str], set[float]] = defaultdict(set)
    for shot in board.shots:
        for cid, x in shot.positions.items():
            sides[(shot.scene, cid)].add(x)
    assert sides and all(len(xs) == 1 for xs in sides.values())
    assert sides[("sc2", "mei")] != sides[("sc2", "kaito")]


def test_duration_follows_dialogue_length():
    short, long = dialogue_seconds("Hi."), dialogue_seconds("word " * 20)
    assert 2.0 <= short < long <= 10.0
    assert dialogue_seconds("word " * 200) == 10.0
    assert dialogue_seconds("我一直在等你。") < dialogue_seconds(
        "我一直在等你，从天黑等到天亮，从下雨等到雨停。"
    )


def test_chinese_screenplay():
    b = screenwriter.break_down_script((FIXTURES / "zh.fountain").read_text("utf-8"))
    assert [s.location for s in b.scenes] == ["信号塔", "雨巷"]
    assert [s.night for s in b.scenes] == [True, False]
    assert {c.name for c in b.characters} == {"梅", "凯"}
    mei = b.character("梅")
    assert "红色飞行员夹克" in mei.description
    board = plan_shots(b)
    assert board.shots[0].framing == "establishing"
    assert any(s.framing == "two-shot" for s in board.shots)
    assert b.language == "zh"


def test_prose_brief_becomes_one_scene_of_beats(tmp_path: Path):
    brief = "# Rooftop\n\nA girl waits on a rooftop at dawn.\n\nA drone delivers a parcel.\n\nShe opens the parcel."
    script = screenwriter.to_script(brief, filename="rooftop.md")
    b = screenwriter.break_down_script(script)
    assert len(b.scenes) == 1
    assert [beat.text for beat in b.scenes[0].beats] == [
        "A girl waits on a rooftop at dawn.",
        "A drone delivers a parcel.",
        "She opens the parcel.",
    ]
    lines = script.splitlines()
    for beat in b.scenes[0].beats:  # beats point at script.fountain lines
        assert beat.text in lines[beat.line - 1]
    board = plan_shots(b)
    assert board.shots[-1].framing == "insert" and board.shots[-1].subject == "parcel"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "is empty"),
        (b"   \n\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        (b"caf\xe9 au lait", "not UTF-8"),
    ],
)
def test_bad_input_is_one_clear_line(tmp_path: Path, content: bytes | None, message: str):
    path = tmp_path / "input.fountain"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        screenwriter.read_source(path)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_screenplay_without_scenes_is_refused():
    with pytest.raises(ScriptError, match="no scene heading"):
        screenwriter.break_down_script("Title: Nothing\n\nJOHN\nHello?\n")


@pytest.mark.parametrize(
    ("filename", "text", "screenplay"),
    [
        ("film.fountain", "JOHN\nHello there.\n", True),  # a .fountain file is taken as written
        ("brief.txt", "ROBOT CAT\nA cat who is secretly a robot saves a city.\n", False),
        ("brief.md", "# Robot Cat\n\nA cat saves a city.", False),
        ("script.txt", "EXT. ROOF - DAY\n\nA cat lands.\n", True),
        ("notes.txt", "Use /* sparingly\n\nA cat saves a city.", False),
    ],
)
def test_screenplay_or_brief(filename: str, text: str, screenplay: bool):
    assert screenwriter.is_screenplay(text, filename) is screenplay
    script = screenwriter.to_script(text, filename=filename)
    assert (script == text) is screenplay
    if not screenplay:
        assert screenwriter.break_down_script(script).scenes[0].beats[-1].text.endswith("saves a city.")
