"""The attribute reader: what a costume and make-up department would track, in English, Chinese and French."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from shotline.tools.attributes import (
    COLOR_FAMILIES,
    color_hex,
    differing_facets,
    display_color,
    extract_attributes,
    is_slot,
    value_facets,
)


def test_english_introduction_reads_every_slot_as_written():
    text = "MEI (20s), in a red bomber jacket with short black hair and a scar over her left eyebrow"
    assert extract_attributes(text) == {
        "age": "20s",
        "jacket": "red bomber jacket",
        "hair": "short black hair",
        "marks": "scar over her left eyebrow",
    }


def test_chinese_introduction():
    assert extract_attributes("二十多岁，穿红色飞行员夹克，黑色短发") == {
        "age": "二十多岁",
        "jacket": "红色飞行员夹克",
        "hair": "黑色短发",
    }


def test_french_introduction_reads_adjectives_after_the_noun():
    assert extract_attributes("la vingtaine, veste rouge, cheveux courts noirs") == {
        "age": "la vingtaine",
        "jacket": "veste rouge",
        "hair": "cheveux courts noirs",
    }
    got = extract_attributes(
        "une cicatrice au-dessus du sourcil gauche, un long manteau noir et l'écharpe bleu marine"
    )
    assert got == {
        "marks": "cicatrice au-dessus du sourcil gauche",
        "jacket": "long manteau noir",
        "scarf": "écharpe bleu marine",
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "JIN (30s), lanky, silver-haired, a battered black umbrella in hand",
            {
                "age": "30s",
                "build": "lanky",
                "hair": "silver-haired",
                "prop:umbrella": "battered black umbrella",
            },
        ),
        (
            "Her hair is long and silver. She wears crimson heels.",
            {"hair": "hair is long and silver", "shoes": "crimson heels"},
        ),
        ("a 25-year-old courier in a navy hoodie", {"age": "25-year-old", "shirt": "navy hoodie"}),
        (
            "She clutches a silver locket and a katana.",
            {"prop:locket": "silver locket", "prop:sword": "katana"},
        ),
        (
            "black leather jacket over a white T-shirt, dress shoes",
            {"jacket": "black leather jacket", "shirt": "white T-shirt", "shoes": "dress shoes"},
        ),
        (
            "她左眉上有一道疤，戴着黑框眼镜，拿着一把红伞",
            {"marks": "左眉上有一道疤", "glasses": "黑框眼镜", "prop:umbrella": "红伞"},
        ),
        (
            "a scar on his chin and a dragon tattoo on his right forearm",
            {"marks": "scar on his chin", "marks:tattoo": "dragon tattoo on his right forearm"},
        ),
        (
            "Elle porte une robe rouge vif et des bottes en cuir noir.",
            {"dress": "robe rouge vif", "shoes": "bottes en cuir noir"},
        ),
    ],
)
def test_more_slots(text, expected):
    assert extract_attributes(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "MEI runs into the alley.",
        "her hair whips in the wind",
        "his eyes narrow",
        "",
        "KAITO waits, watching the door",
    ],
)
def test_no_description_gives_nothing(text):
    # the breakdown relies on this to tell a describing phrase from the verb that follows it
    assert extract_attributes(text) == {}


def test_an_era_is_not_an_age():
    assert extract_attributes("MEI zips her 90s windbreaker") == {"jacket": "90s windbreaker"}
    assert extract_attributes("a woman in her 90s") == {"age": "90s"}


def test_names_and_possessives_are_not_part_of_a_value():
    assert extract_attributes("MEI's jacket is blue") == {"jacket": "jacket is blue"}
    assert extract_attributes("JIN pulls on Mei's red coat") == {"jacket": "red coat"}


def test_weather_is_read_for_locations_only():
    assert extract_attributes("A rain-slicked alley under neon", kind="location") == {
        "weather": "rain-slicked"
    }
    assert "weather" not in extract_attributes("A rain-slicked alley under neon")


@pytest.mark.parametrize(
    ("slot", "value", "family"),
    [
        ("jacket", "crimson jacket", "red"),
        ("jacket", "scarlet coat", "red"),
        ("jacket", "dark red bomber jacket", "red"),
        ("dress", "cherry dress", "red"),
        ("dress", "burgundy gown", "red"),
        ("jacket", "maroon jacket", "red"),
        ("jacket", "深红色夹克", "red"),
        ("jacket", "绯红外套", "red"),
        ("jacket", "veste rouge", "red"),
        ("dress", "robe bordeaux", "red"),
        ("jacket", "navy peacoat", "blue"),
        ("shirt", "azure blouse", "blue"),
        ("jacket", "cobalt jacket", "blue"),
        ("jacket", "蓝色夹克", "blue"),
        ("jacket", "藏青色风衣", "blue"),
        ("scarf", "écharpe bleu marine", "blue"),
        ("hair", "jet-black hair", "black"),
        ("hair", "ebony hair", "black"),
        ("hair", "乌黑的长发", "black"),
        ("hair", "platinum hair", "silver"),
        ("hair", "blonde ponytail", "gold"),
        ("dress", "粉红色连衣裙", "pink"),
        ("jacket", "tan trench coat", "brown"),
    ],
)
def test_shades_and_synonyms_share_a_family(slot, value, family):
    assert value_facets(slot, value)["color"] == family


def test_colour_nearest_the_noun_wins():
    assert value_facets("shirt", "white shirt")["color"] == "white"
    assert value_facets("jacket", "veste en cuir noir")["color"] == "black"
    assert value_facets("hair", "reddish-brown hair")["color"] == "brown"


@pytest.mark.parametrize(
    "value",
    [
        "20s",
        "twenties",
        "mid-twenties",
        "25",
        "early 20s",
        "25-year-old",
        "二十多岁",
        "二十五岁",
        "la vingtaine",
        "25 ans",
    ],
)
def test_age_decade(value):
    assert value_facets("age", value) == {"age_decade": "20"}


def test_length_side_and_mark_facets():
    assert value_facets("hair", "short black hair") == {"color": "black", "length": "short"}
    assert value_facets("hair", "cheveux mi-longs")["length"] == "medium"
    assert value_facets("hair", "long-haired")["length"] == "long"
    assert value_facets("hair", "buzz cut")["length"] == "short"
    assert value_facets("marks", "scar over her left eyebrow") == {
        "side": "left",
        "place": "eye",
        "mark": "scar",
    }
    assert value_facets("marks", "左眉上有一道疤") == {"side": "left", "place": "eye", "mark": "scar"}
    assert value_facets("build", "stocky") == {"build": "heavy"}


def test_differing_facets():
    assert differing_facets("jacket", "red bomber jacket", "crimson jacket") == []
    assert differing_facets("jacket", "红色夹克", "深红色夹克") == []
    assert differing_facets("jacket", "red bomber jacket", "bomber jacket") == []  # unstated is not different
    assert differing_facets("jacket", "red bomber jacket", "blue jacket") == ["color"]
    assert differing_facets("hair", "short black hair", "long silver hair") == ["color", "length"]
    assert differing_facets("hair", "silver hair", "grey hair") == []
    assert (
        differing_facets("hair", "short hair", "shoulder-length hair") == []
    )  # one step is not a contradiction
    assert differing_facets("marks", "scar over her left eyebrow", "scar over her right eyebrow") == ["side"]
    assert differing_facets("marks", "scar over her left eyebrow", "tattoo on her right wrist") == []
    assert differing_facets("age", "20s", "fifties") == ["age_decade"]


def test_color_hex_and_display_color():
    assert all(color_hex(f).startswith("#") and len(color_hex(f)) == 7 for f in COLOR_FAMILIES)
    with pytest.raises(ValueError, match="unknown colour family"):
        color_hex("chartreuse")
    assert display_color("MEI", {"jacket": "red bomber jacket", "hair": "short black hair"}) == color_hex(
        "red"
    )
    assert display_color("X", {"hair": "black hair", "dress": "robe bleue"}) == color_hex("blue")
    assert display_color("Kaito", {}) == display_color("KAITO ", {})
    picks = {display_color(n, {}) for n in ["MEI", "JIN", "KAITO", "OLD TAN", "ANA", "小梅"]}
    assert len(picks) >= 3  # names spread over the palette


def test_display_color_is_stable_across_processes():
    code = "from shotline.tools.attributes import display_color as d; print(d('Kaito', {}), d('小梅', {}))"
    runs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        runs.add(out.stdout)
    assert len(runs) == 1
    assert runs.pop().split() == [display_color("Kaito", {}), display_color("小梅", {})]


def test_is_slot():
    assert is_slot("jacket") and is_slot("marks:tattoo") and is_slot("prop:umbrella") and is_slot("age")
    assert not is_slot("clothing")
