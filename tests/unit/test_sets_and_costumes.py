"""Set layouts, standing positions and costume variants: read from the script, stated in every prompt,
and drawn by the animatic, so a cut keeps the door where it was and Mei in her raincoat."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest

from shotline.agents import continuity, screenwriter
from shotline.agents.breakdown import costume_change, read_landmarks
from shotline.memory.models import Breakdown, Storyboard
from shotline.tools.attributes import value_facets
from shotline.tools.shot_request import shot_visual
from shotline.tools.video.animatic import DOOR, _Stage, draw_static
from shotline.tools.video.base import SetMark, ShotVisual

NOODLE_BAR = """Title: Rain Test

INT. NOODLE BAR - NIGHT

A narrow noodle bar. A steamed-up window, a red door, a long counter under a paper lamp.

MEI (20s), in a red bomber jacket with short black hair, stands by the door.

KAITO (30s), a tall courier with a scar over his left eye, leans on the counter.

MEI
You're late.

KAITO
The rain.

EXT. RAINY ALLEY - NIGHT

MEI, now in a yellow raincoat, runs past KAITO.

KAITO
Wait!

INT. NOODLE BAR - DAY

Mei waits by the window. Kaito stands at the counter.

MEI
Again.
"""

MIANGUAN = """Title: 雨夜

内景 面馆 - 夜

狭窄的面馆，一扇窗，一扇红门，长长的柜台。

小梅（二十多岁），穿红色夹克，黑色短发，站在门边。

老陈
又下雨了。

老陈靠在柜台上。

小梅
你来晚了。

外景 雨巷 - 夜

小梅换上了黄色雨衣，冲进雨里。

小梅
等等我！
"""


def _line(script: str) -> tuple[Breakdown, Storyboard]:
    breakdown = screenwriter.break_down_script(script)
    return breakdown, continuity.apply_prompts(screenwriter.storyboard(breakdown), breakdown)


@pytest.fixture(scope="module")
def noodle() -> tuple[Breakdown, Storyboard]:
    return _line(NOODLE_BAR)


@pytest.fixture(scope="module")
def mianguan() -> tuple[Breakdown, Storyboard]:
    return _line(MIANGUAN)


# --- layouts and positions -------------------------------------------------------------------


def test_a_set_layout_is_read_from_its_description_and_action(noodle):
    breakdown, _ = noodle
    layout = breakdown.location("noodle-bar").layout
    where = {lm.kind: lm.x for lm in layout.landmarks}
    assert set(where) == {"window", "door", "counter", "lamp"}  # the NOODLE BAR's name is not a bar
    assert where["window"] < 0.38 < where["counter"] < 0.62 < where["door"]
    assert layout.camera_axis == "facing the far wall"
    assert layout.positions == {"by the door": 0.72, "at the counter": 0.5, "by the window": 0.3}
    assert breakdown.location("rainy-alley").layout.landmarks == []
    again = screenwriter.break_down_script(NOODLE_BAR)
    assert again.location("noodle-bar").layout == layout  # deterministic: same script, same set


def test_landmarks_never_stack_and_read_chinese():
    marks = read_landmarks(["A door, a hatch, a trapdoor, a desk and a table by the stairs.", "门口有盏灯。"])
    xs = sorted(m.x for m in marks)
    assert all(b - a >= 0.14 - 1e-9 for a, b in itertools.pairwise(xs))
    assert [m.kind for m in marks] == ["door", "hatch", "table", "stairs", "lamp"]
    assert [m.name for m in read_landmarks(["狭窄的面馆，一扇窗，长长的柜台。"])] == ["窗", "柜台"]


def test_a_character_at_a_named_position_keeps_its_x_all_scene(noodle):
    breakdown, board = noodle
    assert breakdown.scenes[0].placements == {"mei": "by the door", "kaito": "at the counter"}
    assert breakdown.scenes[2].placements == {"mei": "by the window", "kaito": "at the counter"}
    xs: dict[tuple[str, str], set[float]] = defaultdict(set)
    for shot in board.shots:
        for cid, x in shot.positions.items():
            xs[(shot.scene, cid)].add(x)
    assert xs[("sc1", "mei")] == {0.72} and xs[("sc1", "kaito")] == {0.5}
    assert xs[("sc3", "mei")] == {0.3}
    assert all(len(v) == 1 for v in xs.values())  # 180-degree rule: one screen side per scene


def test_unplaced_characters_keep_the_per_scene_spacing(noodle):
    _, board = noodle
    alley = [s for s in board.shots if s.scene == "sc2"]
    assert {cid: x for s in alley for cid, x in s.positions.items()} == {"mei": 0.25, "kaito": 0.75}


# --- prompts -----------------------------------------------------------------------------------


def test_prompts_state_the_landmarks_and_positions_the_shot_can_see(noodle):
    _, board = noodle
    two = next(s for s in board.shots if s.scene == "sc1" and s.framing == "two-shot")
    assert "Set, facing the far wall: the counter at centre" in two.prompt
    assert "the door on the right; MEI stands by the door, KAITO stands at the counter." in two.prompt
    wide = next(s for s in board.shots if s.scene == "sc3" and s.framing == "wide")
    assert "the window on the left, the counter at centre" in wide.prompt
    close = next(s for s in board.shots if s.framing == "close-up")
    assert "the door" not in close.prompt and "the window" not in close.prompt  # a close-up sees less
    assert "KAITO stands at the counter" in close.prompt
    alley = [s for s in board.shots if s.scene == "sc2"]
    assert alley and not any("Set," in s.prompt for s in alley)  # no layout, no invented set


def test_chinese_prompts_state_the_layout_in_chinese(mianguan):
    breakdown, board = mianguan
    assert breakdown.scenes[0].placements == {"小梅": "门旁", "老陈": "柜台旁"}
    first = board.shots[0]
    assert "布景（镜头朝向远墙）：窗在左侧，柜台在中间，门在右侧" in first.prompt
    assert any("小梅站在门旁" in s.prompt for s in board.shots)


# --- costume variants --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sentence", "name", "costume"),
    [
        ("MEI, now in a yellow raincoat, runs past KAITO.", "MEI", "yellow raincoat"),
        ("Mei changes into rain gear.", "Mei", "rain gear"),
        ("Later, Mei puts on her grey hoodie.", "Mei", "grey hoodie"),
        ("MEI (20s), in a red bomber jacket, runs.", "MEI", None),  # the introduction, not a change
        ("梅换上了黄色雨衣，走进雨中。", "梅", "黄色雨衣"),
        ("梅，现在穿着一件黄色雨衣。", "梅", "黄色雨衣"),
        ("梅换了一身雨具。", "梅", "雨具"),
        ("梅穿着红色夹克。", "梅", None),
    ],
)
def test_costume_changes_are_read_in_english_and_chinese(sentence, name, costume):
    assert costume_change(sentence, name) == costume


def test_a_costume_variant_holds_from_its_scene_on_and_keeps_the_fixed_traits(noodle):
    breakdown, board = noodle
    mei = breakdown.character("mei")
    assert [(c.name, c.scenes) for c in mei.costumes] == [("MEI, yellow raincoat", ["sc2", "sc3"])]
    assert mei.fixed_traits() == {"age": "20s", "hair": "short black hair"}
    assert breakdown.character("kaito").costumes == []
    first = next(s for s in board.shots if s.scene == "sc1" and "mei" in s.characters)
    assert "MEI: (20s), in a red bomber jacket with short black hair." in first.prompt
    for shot in (s for s in board.shots if s.scene != "sc1" and "mei" in s.characters):
        assert "MEI: 20s, short black hair, wearing yellow raincoat." in shot.prompt
        assert "red bomber jacket" not in shot.prompt.split("MEI:")[1]


def test_a_chinese_costume_variant(mianguan):
    breakdown, board = mianguan
    mei = breakdown.character("小梅")
    assert [(c.name, c.scenes) for c in mei.costumes] == [("小梅，黄色雨衣", ["sc2"])]
    rain = [s for s in board.shots if s.scene == "sc2" and "小梅" in s.characters]
    assert rain and all("小梅: 二十多岁，黑色短发，穿着黄色雨衣." in s.prompt for s in rain)


def test_figure_colour_follows_the_costume_of_the_scene(noodle):
    breakdown, board = noodle
    colors = {}
    for shot in (s for s in board.shots if "mei" in s.characters):
        scene = next(x for x in breakdown.scenes if x.id == shot.scene)
        fig = next(f for f in shot_visual(shot, breakdown, scene.night).figures if f.name == "MEI")
        colors.setdefault(shot.scene, set()).add(fig.color)
    assert colors["sc1"] == {breakdown.character("mei").color}
    assert colors["sc2"] == colors["sc3"] == {"#f1c40f"}
    assert value_facets("jacket", "yellow raincoat")["color"] == "yellow"


# --- the animatic draws it -------------------------------------------------------------------


def _pixels(visual: ShotVisual) -> np.ndarray:
    return np.asarray(draw_static(visual, _Stage.for_frame(320, 180)))


def _bare(**over: object) -> ShotVisual:
    base: dict[str, object] = {
        "shot_id": "001",
        "framing": "wide",
        "camera": "static",
        "location": "BAR",
        "backdrop": "#9a8a70",
    }
    return ShotVisual(**{**base, **over})  # type: ignore[arg-type]


def _columns_of(img: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    return np.nonzero((np.abs(img.astype(int) - rgb).sum(axis=2) <= 6).any(axis=0))[0]


@pytest.mark.parametrize(("x", "left"), [(0.2, True), (0.85, False)])
def test_a_landmark_is_drawn_on_its_side(x, left):
    img = _pixels(_bare(landmarks=(SetMark(name="door", kind="door", x=x),)))
    cols = _columns_of(img, DOOR)
    assert cols.size > 10
    middle = img.shape[1] / 2
    assert (cols.max() < middle) if left else (cols.min() > middle)


def test_a_set_with_a_layout_drops_the_generic_door():
    generic = _columns_of(_pixels(_bare()), (170, 205, 235))  # the generic window's glass
    laid_out = _pixels(_bare(landmarks=(SetMark(name="counter", kind="counter", x=0.5),)))
    assert generic.size and _columns_of(laid_out, (170, 205, 235)).size == 0


def test_the_storyboard_frames_show_the_costume_change(noodle):
    breakdown, board = noodle

    def yellow_share(shot_id: str) -> float:
        shot = next(s for s in board.shots if s.id == shot_id)
        img = _pixels(shot_visual(shot, breakdown, night=False))
        return float((np.abs(img.astype(int) - (241, 196, 15)).sum(axis=2) <= 30).mean())

    sc1 = next(s.id for s in board.shots if s.scene == "sc1" and s.characters == ["mei"])
    sc3 = next(s.id for s in board.shots if s.scene == "sc3" and s.characters == ["mei"])
    assert yellow_share(sc1) < 0.005 < yellow_share(sc3)


@pytest.mark.parametrize("script", [NOODLE_BAR, MIANGUAN], ids=["english", "chinese"])
def test_a_planned_costume_change_is_not_a_conflict(script):
    """The check compares a shot with the costume of its scene, so only real contradictions remain."""
    breakdown, board = _line(script)
    assert continuity.check(board, breakdown) == []
    scene3 = next(s for s in board.shots if s.scene != board.shots[0].scene)
    mei = next(c for c in breakdown.characters if c.id in {"mei", "小梅"})
    wrong = scene3.model_copy(
        update={"action": f"{mei.name} pulls her green raincoat tight.", "characters": [mei.id]}
    )
    found = continuity.check(board.model_copy(update={"shots": [wrong]}), breakdown)
    assert [(c.subject, c.shot_value) for c in found] == [(mei.name, "green raincoat")]


def test_a_costume_scene_sends_the_views_of_that_costume(tmp_path):
    """References follow the wardrobe: the raincoat scene shows Mei in her raincoat, same face."""
    from shotline.tools.image.local import LocalSheets
    from shotline.tools.references import ImageAssets
    from shotline.tools.render_plan import make_images
    from shotline.tools.routing import RoutingPolicy
    from shotline.tools.video.base import ModelCard

    breakdown, board = _line(NOODLE_BAR)
    card = ModelCard(name="paid", display_name="x", durations_s=(2, 10), reference_images=4)
    images = make_images(
        breakdown, board, "paid", (card,), RoutingPolicy(), ImageAssets(tmp_path, LocalSheets()), make=True
    )
    mei = breakdown.character("mei")
    rain = next(s for s in board.shots if mei.costume_in(s.scene) and "mei" in s.characters)
    bar = next(s for s in board.shots if not mei.costume_in(s.scene) and "mei" in s.characters)
    assert (
        images.dressed(rain, breakdown)["mei"]["front"].sha256
        != images.dressed(bar, breakdown)["mei"]["front"].sha256
    )
    assert any(key.startswith("mei@") for key in images.views)
