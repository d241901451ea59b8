"""The pre-render conflict check on the labelled set in bench/data: a regression in precision or recall
fails here, before a false alarm or a missed costume change reaches a person or a paid render."""

from __future__ import annotations

import pytest

from bench import conflicts
from shotline.agents import continuity

DATA = conflicts.load_cases()
BY_ID = {c.id: c for c in DATA.cases}


def _check(case_id: str):
    return continuity.check(*conflicts.build(BY_ID[case_id], DATA))


def test_the_set_is_big_and_balanced_enough_to_mean_something():
    cases = DATA.cases
    assert len(cases) >= 48
    assert len({c.id for c in cases}) == len(cases)
    assert sum(c.lang == "zh" for c in cases) >= 12
    assert sum(bool(c.expected) for c in cases) >= 20 and sum(not c.expected for c in cases) >= 20
    wanted = {"colour", "clothing", "hair", "age", "marks", "props", "left-right", "extra", "other-character"}
    assert wanted <= {c.category for c in cases}


def test_precision_and_recall_hold_overall_and_per_language():
    result = conflicts.evaluate(DATA)
    assert result["precision"] >= 0.9 and result["recall"] >= 0.9, result["misses"]
    for lang, figures in result["by_language"].items():
        assert figures["precision"] >= 0.9 and figures["recall"] >= 0.9, (lang, result["misses"])
    assert result["ok"] is True


def test_jacket_colour_conflict_fields():
    [c] = _check("en-01")
    assert (c.shot_id, c.subject, c.attribute) == ("001", "MEI", "jacket")
    assert (c.bible_value, c.shot_value, c.line) == ("red bomber jacket", "blue jacket", 10)
    assert "the action says 'blue jacket' (line 10)" in c.message


def test_a_mark_on_someone_elses_arm_is_theirs():
    [c] = _check("en-29")
    assert (c.subject, c.attribute) == ("KAITO", "marks")
    assert c.shot_value == "koi tattoo on KAITO's left forearm"


def test_a_mark_that_moved_is_flagged_with_where_it_is_now():
    [c] = _check("en-17")
    assert (c.subject, c.bible_value, c.shot_value) == (
        "MEI",
        "scar over her left eyebrow",
        "scar now runs down her cheek",
    )


def test_chinese_conflicts_fields():
    [c] = _check("zh-06")
    assert (c.subject, c.attribute, c.line) == ("老陈", "marks", 10)
    assert "右臂" in c.bible_value and "左臂" in c.shot_value
    [w] = _check("zh-15")
    assert (w.subject, w.attribute) == ("小巷", "weather")


def test_parenthetical_conflict_points_at_the_dialogue_line():
    [c] = _check("zh-11")
    assert (c.subject, c.attribute, c.shot_value, c.line) == ("小梅", "jacket", "白色夹克", 11)


@pytest.mark.parametrize("case_id", ["en-n01", "en-n02", "en-n05", "en-n07", "en-n27", "zh-n01", "zh-n04"])
def test_shades_paraphrases_and_other_peoples_clothes_are_not_flagged(case_id):
    assert _check(case_id) == []
