"""References travel with the shots that need them: the right view for the framing, the set's plate,
made once, reused, trimmed to each model's slots."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from PIL import Image

from shotline.agents import continuity, screenwriter
from shotline.agents.coverage import plan_shots
from shotline.tools.image.base import write_image
from shotline.tools.image.local import LocalSheets
from shotline.tools.references import (
    ImageAssets,
    attach,
    character_views,
    select_references,
    uploaded_views,
    views_wanted,
)
from shotline.tools.render_plan import make_images, shot_jobs
from shotline.tools.routing import RoutingPolicy
from shotline.tools.shot_request import build_request
from shotline.tools.video.base import MediaRef, ModelCard
from tests.conftest import FIXTURES


def _line():
    breakdown = screenwriter.break_down_script((FIXTURES / "short.fountain").read_text("utf-8"))
    return breakdown, continuity.apply_prompts(plan_shots(breakdown), breakdown)


def _ref(name: str) -> MediaRef:
    return MediaRef(sha256=name.ljust(64, "0"), name=name)


def test_four_views_are_made_once_per_description_and_reused(tmp_path: Path):
    breakdown, _ = _line()
    assets = ImageAssets(tmp_path / "assets", LocalSheets())
    ana = breakdown.character("ana")
    views = asyncio.run(character_views(ana, breakdown.style, assets))
    assert list(views) == ["face", "front", "side", "back"]
    assert len({v.sha256 for v in views.values()}) == 4  # four different pictures
    for ref in views.values():
        with Image.open(ref.path) as img:
            assert img.height > img.width  # a single portrait panel, cut from the sheet
    files = sorted((tmp_path / "assets" / "files").iterdir())
    assert asyncio.run(character_views(ana, breakdown.style, assets)) == views
    assert sorted((tmp_path / "assets" / "files").iterdir()) == files  # nothing drawn twice
    changed = ana.model_copy(update={"description": ana.description + ", a blue scarf", "color": "#2050c0"})
    assert (
        asyncio.run(character_views(changed, breakdown.style, assets))["front"].sha256
        != views["front"].sha256
    )


def test_the_view_fits_the_framing():
    _, board = _line()
    close = next(s for s in board.shots if s.framing == "close-up")
    assert views_wanted(close)[0] == "face"
    behind = close.model_copy(update={"framing": "wide", "action": "Ben walks away into the dark."})
    assert views_wanted(behind)[0] == "back"
    views = {"ben": {v: _ref(f"BEN {v}") for v in ("face", "front", "side", "back")}}
    assert [r.name for r in select_references(behind, views, _ref("GARDEN"), 2)] == ["BEN back", "GARDEN"]


def test_slots_subject_first_and_inserts_show_the_set_only():
    _, board = _line()
    two = next(s for s in board.shots if s.framing == "two-shot")
    views = {c: {v: _ref(f"{c} {v}") for v in ("face", "front", "side", "back")} for c in ("ana", "ben")}
    plate = _ref("KITCHEN")
    first = two.subject
    other = next(c for c in two.characters if c != first)
    assert [r.name for r in select_references(two, views, plate, 1)] == [f"{first} front"]
    assert [r.name for r in select_references(two, views, plate, 4)] == [
        f"{first} front", f"{other} front", "KITCHEN", f"{first} face",
    ]  # fmt: skip
    insert = two.model_copy(update={"framing": "insert"})
    assert [r.name for r in select_references(insert, views, plate, 9)] == ["KITCHEN"]
    assert select_references(two, views, plate, 0) == ()


def test_each_model_gets_what_it_can_take(tmp_path: Path):
    breakdown, board = _line()
    images = make_images(
        breakdown, board, "paid",
        (ModelCard(name="paid", display_name="x", durations_s=(2, 10), reference_images=3),),
        RoutingPolicy(), ImageAssets(tmp_path / "assets", LocalSheets()), make=False,
    )  # fmt: skip
    assert set(images.views) == {"ana", "ben"} and images.plates and images.unpaid_usd == 0  # free: made
    two = next(s for s in board.shots if s.framing == "two-shot")
    request = build_request(two, breakdown, board, "paid")
    many = ModelCard(name="paid", display_name="x", durations_s=(2, 10), reference_images=9)
    refs = select_references(two, images.views, images.plate(two, breakdown), 9)
    assert len(attach(request, many, refs, None).references) == len(refs) > 2
    i2v = many.model_copy(update={"reference_images": 0, "image_to_video": True})
    keyframe = MediaRef(sha256="k" * 64, role="first_frame", name="keyframe")
    framed = attach(request, i2v, refs, keyframe)
    assert framed.references == () and framed.first_frame == keyframe


class PaidImages(LocalSheets):
    """A hosted image model stand-in: priced, and able to draw any prompt (here, a plain card)."""

    card = LocalSheets.card.model_copy(
        update={"name": "paidimg", "local": False, "usd_per_image": 0.04, "reference_images": 4}
    )
    made = 0

    async def generate(self, request, dest_dir):
        PaidImages.made += 1
        buf = io.BytesIO()
        shade = (PaidImages.made * 37 % 255, 90, 120)
        Image.new("RGB", (request.width // 8, request.height // 8), shade).save(buf, "PNG")
        return [write_image(buf.getvalue(), dest_dir, "paidimg")]


def test_paid_images_are_priced_before_approval_and_made_after(tmp_path: Path):
    breakdown, board = _line()
    i2v = ModelCard(
        name="kling", display_name="x", model_id="kling-v2-6", durations_s=(2, 10), image_to_video=True
    )
    assets = ImageAssets(tmp_path / "assets", PaidImages())
    before = make_images(breakdown, board, "kling", (i2v,), RoutingPolicy(), assets, make=False)
    plates = len({(s.location, s.scene) for s in board.shots})  # both scenes are new sets here
    expected = (4 * len(breakdown.characters) + plates + len(board.shots)) * 0.04
    assert PaidImages.made == 0 and before.keyframes == {} and before.unpaid_usd == round(expected, 4)
    after = make_images(breakdown, board, "kling", (i2v,), RoutingPolicy(), assets, make=True)
    assert after.spent_usd == before.unpaid_usd and set(after.keyframes) == {s.id for s in board.shots}
    jobs = shot_jobs(breakdown, board, "kling", (i2v,), RoutingPolicy(), after)
    assert all(j.candidates[0].first_frame == after.keyframes[j.shot_id] for j in jobs)
    assets_again = ImageAssets(tmp_path / "assets", PaidImages())
    again = make_images(breakdown, board, "kling", (i2v,), RoutingPolicy(), assets_again, make=False)
    assert again.unpaid_usd == 0 and again.keyframes == after.keyframes  # nothing made or paid twice


def test_an_uploaded_image_replaces_its_view(tmp_path: Path):
    breakdown, board = _line()
    uploads = tmp_path / "refs"
    uploads.mkdir()
    Image.new("RGB", (300, 400), (200, 30, 30)).save(uploads / "ANA.back.png")
    (uploads / "notes.txt").write_text("not an image", "utf-8")
    ana = breakdown.character("ana")
    mine = uploaded_views(uploads, ana)
    assert list(mine) == ["back"] and mine["back"].name == "ANA, back view"
    views = asyncio.run(
        character_views(ana, breakdown.style, ImageAssets(tmp_path / "assets", LocalSheets()), mine)
    )
    assert views["back"] == mine["back"] and views["front"].path != str(uploads / "ANA.back.png")
    images = make_images(
        breakdown, board, "paid", (ModelCard(name="paid", display_name="x", durations_s=(2, 10), reference_images=3),),
        RoutingPolicy(), ImageAssets(tmp_path / "assets", LocalSheets()), make=True, uploads=uploads,
    )  # fmt: skip
    assert images.views["ana"]["back"].sha256 == mine["back"].sha256
    assert uploaded_views(tmp_path / "missing", ana) == {}


def test_native_audio_asks_only_models_that_make_sound_and_only_for_shots_with_dialogue(tmp_path: Path):
    """With SHOTLINE_NATIVE_AUDIO the request of a shot with dialogue asks a model that makes sound for
    it (its render key changes: it is another take); a model without sound, or a silent shot, is
    asked as before."""
    breakdown, board = _line()
    speaking = {s.id for s in board.shots if s.dialogue}
    assert speaking and speaking != {s.id for s in board.shots}
    sound = ModelCard(name="veo", display_name="x", model_id="veo-3", durations_s=(4, 8), native_audio=True)
    mute = ModelCard(name="kling", display_name="y", model_id="kling-v2-6", durations_s=(2, 10))
    images = make_images(
        breakdown,
        board,
        "veo",
        (sound, mute),
        RoutingPolicy(),
        ImageAssets(tmp_path, LocalSheets()),
        make=False,
    )
    for native in (False, True):
        jobs = shot_jobs(breakdown, board, "veo", (sound, mute), RoutingPolicy(), images, native_audio=native)
        asked = {(job.shot_id, r.model): r.audio for job in jobs for r in job.candidates}
        assert {model for _, model in asked} == {"veo", "kling"}
        for (sid, model), audio in asked.items():
            assert audio is (native and model == "veo" and sid in speaking), (sid, model)
