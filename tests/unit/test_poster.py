"""The poster frame: which shot is chosen, and the PNG made from a real take with ffmpeg.

Every take is a solid lavfi colour of its own, so the poster's pixels say which shot it came from.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shotline.errors import RenderError
from shotline.memory.models import Shot, Take
from shotline.tools import fonts
from shotline.tools.ffmpeg import ffmpeg_exe
from shotline.tools.poster import Poster, choose_poster_shot, make_poster
from shotline.tools.qc import TakeVerdict
from shotline.tools.timeline import EditDecision

COLOURS = {"001": (200, 40, 40), "002": (40, 200, 40), "003": (40, 40, 200), "004": (200, 200, 40)}
MakeDecision = Callable[..., EditDecision]


@pytest.fixture(scope="module")
def take_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A two-second 320x180 H.264 take per shot, each a solid colour."""
    folder = tmp_path_factory.mktemp("poster-takes")
    paths = {}
    for shot_id, (r, g, b) in COLOURS.items():
        path = folder / f"{shot_id}.mp4"
        source = f"color=c=0x{r:02x}{g:02x}{b:02x}:s=320x180:r=24:d=2"
        args = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source]
        subprocess.run(
            [*args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)], check=True
        )
        paths[shot_id] = path
    return paths


@pytest.fixture
def decision(take_files: dict[str, Path]) -> MakeDecision:
    def make(shot_id: str, framing: str, characters: tuple[str, ...] = (), start: int = 0) -> EditDecision:
        shot = Shot(
            id=shot_id,
            number=int(shot_id),
            scene="sc1",
            framing=framing,
            camera="static",
            duration_s=3.0,
            characters=list(characters),
            location="alley",
        )
        take = Take(
            shot_id=shot_id,
            render_key=f"key-{shot_id}",
            model="animatic",
            path=str(take_files[shot_id]),
            sha256="0" * 64,
            duration_s=2.0,
            width=320,
            height=180,
        )
        return EditDecision(shot=shot, take=take, start_frame=start, frames=72)

    return make


def _verdict(shot_id: str, score: float) -> TakeVerdict:
    return TakeVerdict(shot_id=shot_id, take=f"/takes/{shot_id}.mp4", score=score, passed=score >= 0.6)


def _bright_band(image: Image.Image) -> np.ndarray:
    """Where the title is drawn: near-white pixels in the bottom fifth."""
    pixels = np.asarray(image.convert("RGB"))
    band = pixels[pixels.shape[0] * 4 // 5 :]
    return (band > 200).all(axis=2)


# --- the choice -------------------------------------------------------------------------


def test_prefers_a_close_up_with_a_character_and_a_good_score_over_the_establishing_shot(
    decision: MakeDecision,
) -> None:
    cut = [
        decision("001", "establishing"),
        decision("002", "wide", ("mei",)),
        decision("003", "close-up", ("mei",)),
        decision("004", "insert"),
    ]
    verdicts = {"001": _verdict("001", 1.0), "002": _verdict("002", 0.7), "003": _verdict("003", 0.8)}
    verdicts["004"] = _verdict("004", 1.0)
    assert choose_poster_shot(cut, verdicts).shot.id == "003"
    assert choose_poster_shot(cut, {}).shot.id == "003"  # framing and characters alone


def test_a_better_take_wins_between_equal_framings_and_ties_go_to_the_earlier_shot(
    decision: MakeDecision,
) -> None:
    cut = [decision("002", "medium", ("mei",)), decision("003", "close-up", ("li",))]
    assert (
        choose_poster_shot(cut, {"002": _verdict("002", 0.95), "003": _verdict("003", 0.3)}).shot.id == "002"
    )
    same = [decision("002", "close-up", ("mei",)), decision("003", "close-up", ("li",))]
    assert choose_poster_shot(same, {}).shot.id == "002"
    assert choose_poster_shot(list(reversed(same)), {}).shot.id == "003"


def test_the_opening_establishing_shot_is_passed_over_unless_it_is_all_there_is(
    decision: MakeDecision,
) -> None:
    opening = decision("001", "establishing")
    assert choose_poster_shot(
        [opening, decision("002", "establishing")], {"001": _verdict("001", 1.0)}
    ).shot.id == ("002")
    assert choose_poster_shot([opening], {}).shot.id == "001"
    with pytest.raises(RenderError, match="no shots"):
        choose_poster_shot([], {})


# --- the picture ------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(1280, 720), (720, 1280)])
def test_poster_is_a_png_of_the_cut_size_taken_from_the_chosen_shot(
    decision: MakeDecision, tmp_path: Path, size: tuple[int, int]
) -> None:
    cut = [decision("001", "establishing"), decision("003", "close-up", ("mei",)), decision("004", "wide")]
    poster = make_poster(cut, None, "Rain Delivery", size, tmp_path / "poster.png")
    assert isinstance(poster, Poster) and poster.shot.id == poster.shot_id == "003"
    assert poster.path == tmp_path / "poster.png" and poster.decision is cut[1]
    assert poster.at_s == pytest.approx(1.0)  # middle of the 2 s the cut uses
    with Image.open(poster) as check:
        check.verify()
    with Image.open(poster.path) as image:
        assert image.format == "PNG" and image.size == size
        above_band = np.asarray(image.convert("RGB"))[: size[1] * 3 // 4].reshape(-1, 3)
    assert np.abs(above_band.mean(axis=0) - COLOURS["003"]).max() < 12
    assert _bright_band(Image.open(poster.path)).sum() > 200  # the title
    assert [p.name for p in tmp_path.iterdir()] == ["poster.png"]  # no half-written leftovers


@pytest.mark.skipif(fonts.face_file(cjk=True) is None, reason="no CJK font installed")
def test_a_chinese_title_draws_real_glyphs(decision: MakeDecision, tmp_path: Path) -> None:
    cut = [decision("003", "close-up", ("mei",))]
    masks = [
        _bright_band(Image.open(make_poster(cut, {}, title, (1280, 720), tmp_path / f"{i}.png").path))
        for i, title in enumerate(["雨夜快递", "茶馆老板", "□□□□"])
    ]
    assert masks[0].sum() > 500 and masks[1].sum() > 500

    def differ(a: np.ndarray, b: np.ndarray) -> float:
        return np.count_nonzero(a ^ b) / max(np.count_nonzero(a | b), 1)

    assert differ(masks[0], masks[1]) > 0.5  # missing-glyph boxes would draw the same pattern twice
    assert differ(masks[0], masks[2]) > 0.5


def test_a_long_title_stays_inside_the_frame(decision: MakeDecision, tmp_path: Path) -> None:
    title = "The Extraordinarily Long and Winding Tale of the Courier Who Outran the Monsoon Rain"
    poster = make_poster([decision("002", "medium", ("mei",))], {}, title, (720, 1280), tmp_path / "p.png")
    band = _bright_band(Image.open(poster.path))
    columns = np.flatnonzero(band.any(axis=0))
    assert columns.size and columns[0] > 10 and columns[-1] < 710
    rows = band.any(axis=1).astype(np.int8)
    assert np.count_nonzero(np.diff(np.concatenate(([0], rows))) == 1) == 2  # wrapped onto two lines
