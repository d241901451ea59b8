"""Reference sheets travel with the shots that need them: made once, reused, trimmed to each model."""

from __future__ import annotations

import asyncio
from pathlib import Path

from PIL import Image

from shotline.agents import screenwriter
from shotline.agents.coverage import plan_shots
from shotline.tools.image.local import LocalSheets
from shotline.tools.references import ImageAssets, attach, character_sheets, sheet_requests
from shotline.tools.shot_request import build_request
from shotline.tools.video.base import MediaRef, ModelCard
from tests.conftest import FIXTURES


def _line():
    breakdown = screenwriter.break_down_script((FIXTURES / "short.fountain").read_text("utf-8"))
    return breakdown, plan_shots(breakdown)


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
