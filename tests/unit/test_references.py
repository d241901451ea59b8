"""Reference sheets travel with the shots that need them: made once, reused, trimmed to each model."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PIL import Image

from shotline.agents import continuity, screenwriter
from shotline.agents.coverage import plan_shots
from shotline.tools.image.local import LocalSheets
from shotline.tools.references import ImageAssets, attach, character_sheets, sheet_requests
from shotline.tools.shot_request import build_request
from shotline.tools.video.base import MediaRef, ModelCard
from tests.conftest import FIXTURES


def _line():
    breakdown = screenwriter.break_down_script((FIXTURES / "short.fountain").read_text("utf-8"))
    return breakdown, continuity.apply_prompts(plan_shots(breakdown), breakdown)


def test_sheets_are_made_once_per_description_and_reused(tmp_path: Path):
    breakdown, _ = _line()
    assets = ImageAssets(tmp_path / "assets", LocalSheets())
    first = asyncio.run(character_sheets(breakdown, assets))
    assert set(first) == {"ana", "ben"}
    for ref in first.values():
        with Image.open(ref.path) as img:
            assert img.size == (1536, 1024)
    made = sorted((tmp_path / "assets" / "files").iterdir())
    again = asyncio.run(character_sheets(breakdown, assets))
    assert again == first and sorted((tmp_path / "assets" / "files").iterdir()) == made
    assert assets.cost(list(sheet_requests(breakdown).values())) == 0  # all stored: nothing to pay


def test_a_changed_description_makes_a_new_sheet(tmp_path: Path):
    breakdown, _ = _line()
    assets = ImageAssets(tmp_path / "assets", LocalSheets())
    before = asyncio.run(character_sheets(breakdown, assets))
    ana = breakdown.character("ana")
    changed = breakdown.model_copy(
        update={"characters": [ana.model_copy(update={"description": ana.description + ", a blue scarf", "color": "#2050c0"})]
                + [c for c in breakdown.characters if c.id != "ana"]}
    )  # fmt: skip
    after = asyncio.run(character_sheets(changed, assets))
    assert after["ana"].sha256 != before["ana"].sha256 and after["ben"].sha256 == before["ben"].sha256


def test_each_model_gets_what_it_can_take(tmp_path: Path):
    breakdown, board = _line()
    sheets = asyncio.run(character_sheets(breakdown, ImageAssets(tmp_path / "assets", LocalSheets())))
    two_shot = next(s for s in board.shots if s.framing == "two-shot")
    request = build_request(two_shot, breakdown, board, "paid")
    many = ModelCard(name="paid", display_name="x", durations_s=(2, 10), reference_images=9)
    one = many.model_copy(update={"reference_images": 1})
    i2v = many.model_copy(update={"reference_images": 0, "image_to_video": True})
    keyframe = MediaRef(sha256="k" * 64, role="first_frame", name="keyframe")
    assert [r.name for r in attach(request, many, two_shot, sheets, None).references] == [
        "ANA, reference sheet",
        "BEN, reference sheet",
    ]
    speaker = breakdown.character(two_shot.subject).name
    assert [r.name for r in attach(request, one, two_shot, sheets, None).references] == [
        f"{speaker}, reference sheet"
    ]
    framed = attach(request, i2v, two_shot, sheets, keyframe)
    assert framed.references == () and framed.first_frame == keyframe


class PaidImages(LocalSheets):
    """A hosted image model stand-in: priced, and able to draw any prompt (here, a plain card)."""

    card = LocalSheets.card.model_copy(
        update={"name": "paidimg", "local": False, "usd_per_image": 0.04, "reference_images": 4}
    )
    made = 0

    async def generate(self, request, dest_dir):
        PaidImages.made += 1
        if request.subject is not None:
            return await super().generate(request, dest_dir)
        import io

        from shotline.tools.image.base import write_image

        buf = io.BytesIO()
        Image.new(
            "RGB", (request.width // 8, request.height // 8), (PaidImages.made * 20 % 255, 90, 120)
        ).save(buf, "PNG")
        return [write_image(buf.getvalue(), dest_dir, "paidimg")]


def test_keyframes_for_image_to_video_models_are_priced_before_and_made_after_approval(tmp_path: Path):
    from shotline.tools.render_plan import make_images, shot_jobs
    from shotline.tools.routing import RoutingPolicy

    breakdown, board = _line()
    i2v = ModelCard(
        name="kling",
        display_name="x",
        model_id="kling-v2-6",
        durations_s=(2, 10),
        image_to_video=True,
        usd_per_second=0.1,
    )
    assets = ImageAssets(tmp_path / "assets", PaidImages())
    before = make_images(breakdown, board, "kling", (i2v,), RoutingPolicy(), assets, make=False)
    expected = (len(breakdown.characters) + len(board.shots)) * 0.04
    assert before.keyframes == {} and PaidImages.made == 0 and before.unpaid_usd == round(expected, 4)
    after = make_images(breakdown, board, "kling", (i2v,), RoutingPolicy(), assets, make=True)
    assert after.spent_usd == before.unpaid_usd and set(after.keyframes) == {s.id for s in board.shots}
    jobs = shot_jobs(breakdown, board, "kling", (i2v,), RoutingPolicy(), after)
    assert all(j.candidates[0].first_frame == after.keyframes[j.shot_id] for j in jobs)
    again = make_images(
        breakdown,
        board,
        "kling",
        (i2v,),
        RoutingPolicy(),
        ImageAssets(tmp_path / "assets", PaidImages()),
        make=False,
    )
    assert again.unpaid_usd == 0 and again.keyframes == after.keyframes  # nothing made or paid twice
