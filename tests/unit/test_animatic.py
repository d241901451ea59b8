"""The local animatic: real H.264 clips that show what the shot says, where it says, when it says."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np
import pytest

from shotline.errors import RenderError
from shotline.memory.models import RESOLUTIONS
from shotline.tools.ffmpeg import probe
from shotline.tools.fonts import font, has_cjk
from shotline.tools.video.animatic import (
    ANIMATIC_VERSION,
    Animatic,
    _Stage,
    _wrap,
    camera_box,
    frame_count,
    render_animatic,
)
from shotline.tools.video.base import Caption, Figure, RenderRequest, ShotVisual, VideoModel

RED, BLUE = "#e02020", "#2040e0"


def visual(**over: object) -> ShotVisual:
    """A wide, static, daytime interior with two silent figures: red left, blue right."""
    base: dict[str, object] = {
        "shot_id": "001",
        "framing": "wide",
        "camera": "static",
        "location": "KITCHEN",
        "backdrop": "#9a8a70",
        "figures": (Figure(name="ANA", color=RED, x=0.2), Figure(name="BEN", color=BLUE, x=0.8)),
    }
    return ShotVisual(**{**base, **over})  # type: ignore[arg-type]


def request(v: ShotVisual | None = None, duration_s: float = 1.0, ratio: str = "16:9") -> RenderRequest:
    w, h = RESOLUTIONS[ratio]
    return RenderRequest(
        shot_id=v.shot_id if v else "001",
        model="animatic",
        prompt="a test shot",
        duration_s=duration_s,
        ratio=ratio,  # type: ignore[arg-type]
        width=w,
        height=h,
        visual=v,
    )


def frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """Decode the frames at the given indices as RGB arrays (int16, ready for differences)."""
    out: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                out[i] = frame.to_ndarray(format="rgb24").astype(np.int16)
            if len(out) == len(wanted):
                break
    return out


def near(img: np.ndarray, color: str, tol: int = 40) -> np.ndarray:
    """Mask of pixels within `tol` of `color` on every channel."""
    rgb = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    return (np.abs(img - rgb) <= tol).all(axis=-1)


def sides(img: np.ndarray, color: str) -> tuple[int, int]:
    """How many pixels of `color` lie in the left and in the right half of the frame."""
    mask = near(img, color)
    half = img.shape[1] // 2
    return int(mask[:, :half].sum()), int(mask[:, half:].sum())


def luminance(img: np.ndarray) -> float:
    return float((img * np.array([0.299, 0.587, 0.114])).sum(axis=-1).mean())


# --- the file ------------------------------------------------------------------------------


def test_h264_at_24fps_with_exact_frame_count_for_fractional_duration(tmp_path: Path) -> None:
    out = render_animatic(request(visual(), duration_s=2.5), tmp_path / "take.mp4")
    info = probe(out)
    assert (info.codec, info.fps, info.frames) == ("h264", 24.0, 60)
    assert abs(info.duration_s - 2.5) <= 1 / 24
    assert (info.width, info.height) == (1280, 720)
    assert not (tmp_path / "take.mp4.part").exists()


@pytest.mark.parametrize("ratio", ["16:9", "9:16", "1:1"])
def test_size_follows_the_ratio(tmp_path: Path, ratio: str) -> None:
    out = render_animatic(
        request(visual(framing="two-shot"), duration_s=0.5, ratio=ratio), tmp_path / "t.mp4"
    )
    info = probe(out)
    assert (info.width, info.height) == RESOLUTIONS[ratio]
    assert info.frames == 12


def test_frame_count_rounds_to_the_nearest_frame() -> None:
    assert frame_count(2.5, 24) == 60
    assert frame_count(4.0, 24) == 96
    assert frame_count(0.01, 24) == 1


# --- what the picture shows ---------------------------------------------------------------


def test_night_is_clearly_darker_than_day(tmp_path: Path) -> None:
    for interior in (True, False):
        day = render_animatic(request(visual(interior=interior), 0.25), tmp_path / f"day{interior}.mp4")
        night = render_animatic(
            request(visual(interior=interior, night=True), 0.25), tmp_path / f"n{interior}.mp4"
        )
        lum_day, lum_night = luminance(frames(day, {0})[0]), luminance(frames(night, {0})[0])
        assert lum_night < 0.6 * lum_day, (interior, lum_day, lum_night)


def test_figures_keep_their_screen_side_across_shots_of_a_scene(tmp_path: Path) -> None:
    shots = {
        "wide": visual(),
        "two-shot": visual(shot_id="002", framing="two-shot", camera="pan-left"),
        "medium": visual(shot_id="003", framing="medium", camera="push-in"),
    }
    for name, v in shots.items():
        img = frames(render_animatic(request(v, 0.5), tmp_path / f"{name}.mp4"), {11})[11]
        red_left, red_right = sides(img, RED)
        blue_left, blue_right = sides(img, BLUE)
        assert red_left > 500 and red_left > 20 * red_right, (name, red_left, red_right)
        assert blue_right > 500 and blue_right > 20 * blue_left, (name, blue_left, blue_right)


def test_positions_not_order_decide_the_side(tmp_path: Path) -> None:
    swapped = (Figure(name="ANA", color=RED, x=0.75), Figure(name="BEN", color=BLUE, x=0.25))
    img = frames(render_animatic(request(visual(figures=swapped), 0.25), tmp_path / "s.mp4"), {0})[0]
    assert sides(img, RED)[1] > 20 * max(1, sides(img, RED)[0])
    assert sides(img, BLUE)[0] > 20 * max(1, sides(img, BLUE)[1])


def test_close_up_shows_its_subject_on_its_side(tmp_path: Path) -> None:
    v = visual(framing="close-up", subject="BEN")
    img = frames(render_animatic(request(v, 0.25), tmp_path / "cu.mp4"), {0})[0]
    assert near(img, RED).sum() == 0
    left, right = sides(img, BLUE)
    assert right > 20_000 and right > left


def test_caption_changes_the_band_only_during_its_window(tmp_path: Path) -> None:
    cap = Caption(speaker="ANA", text="Where were you last night?", start_s=0.5, end_s=1.0)
    out = render_animatic(request(visual(captions=(cap,)), 1.5), tmp_path / "cap.mp4")
    before, during, after = (f for _, f in sorted(frames(out, {6, 18, 30}).items()))
    band, top = slice(int(720 * 0.8), 720), slice(0, int(720 * 0.6))
    assert np.abs(during[band] - before[band]).mean() > 10
    assert np.abs(after[band] - before[band]).mean() < 1.5
    assert np.abs(during[top] - before[top]).mean() < 1.5


def test_push_in_moves_the_picture_and_static_does_not(tmp_path: Path) -> None:
    diffs = {}
    for camera in ("push-in", "static", "pan-right", "tilt-up", "pull-out"):
        out = render_animatic(request(visual(camera=camera), 1.0), tmp_path / f"{camera}.mp4")
        first, last = frames(out, {0, 23}).values()
        diffs[camera] = float(np.abs(first - last).mean())
    assert diffs["static"] < 1.0, diffs
    assert all(diffs[c] > 3.0 for c in ("push-in", "pan-right", "tilt-up", "pull-out")), diffs


def test_camera_boxes_stay_inside_the_static_layer() -> None:
    for w, h in RESOLUTIONS.values():
        stage = _Stage.for_frame(w, h)
        for camera in ("static", "push-in", "pull-out", "pan-left", "pan-right", "tilt-up"):
            for p in (0.0, 0.5, 1.0):
                x0, y0, x1, y1 = camera_box(camera, p, stage)
                assert 0 <= x0 < x1 <= stage.cw and 0 <= y0 < y1 <= stage.ch, (camera, p)


def test_insert_and_every_framing_render(tmp_path: Path) -> None:
    for framing in ("establishing", "insert"):
        v = visual(framing=framing, interior=False, night=True, subject="the brass key")
        assert probe(render_animatic(request(v, 0.25), tmp_path / f"{framing}.mp4")).frames == 6


def test_chinese_names_and_captions_render(tmp_path: Path) -> None:
    v = visual(
        location="雨巷",
        figures=(
            Figure(name="小美", color=RED, x=0.3, speaking=True),
            Figure(name="Élise", color=BLUE, x=0.7),
        ),
        captions=(
            Caption(speaker="小美", text="我们现在就走，不然雨就要下大了。" * 4, start_s=0.0, end_s=1.0),
        ),
    )
    assert probe(render_animatic(request(v, 0.5), tmp_path / "zh.mp4")).frames == 12


def test_fonts_never_fail_and_cjk_text_wraps() -> None:
    assert has_cjk("小美") and not has_cjk("Élise")
    zh, fr = font(24, "我们现在就走"), font(24, "Élise")
    assert font(0, "x") is not None  # silly sizes still give a font
    assert font(24, "我们") is zh  # cached
    lines = _wrap("我们现在就走不然雨就要下大了" * 6, zh, 300, max_lines=3)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(zh.getlength(line) <= 300 for line in lines)
    assert _wrap("Où étiez-vous hier soir ?", fr, 1000, max_lines=3) == ["Où étiez-vous hier soir ?"]


# --- the model protocol --------------------------------------------------------------------


def test_key_payload_covers_the_drawing_and_the_renderer_version() -> None:
    model = Animatic()
    a, b = model.key_payload(request(visual())), model.key_payload(request(visual(night=True)))
    assert a["animatic_version"] == ANIMATIC_VERSION and a["visual"]["shot_id"] == "001"
    assert a != b


def test_submit_poll_fetch_round_trip(tmp_path: Path) -> None:
    async def go() -> tuple[list[str], Path]:
        model = Animatic()
        assert isinstance(model, VideoModel)
        task = await model.submit(request(visual(), 0.5))
        states = []
        while (status := await model.poll(task)).state not in ("succeeded", "failed"):
            states.append(status.state)
            await asyncio.sleep(0.02)
        states.append(status.state)
        dest = await model.fetch(task, tmp_path / "takes" / "001.mp4")
        with pytest.raises(RenderError):
            await model.poll(task)  # fetched tasks are forgotten
        return states, dest

    states, dest = asyncio.run(go())
    assert states[-1] == "succeeded" and set(states) <= {"queued", "running", "succeeded"}
    assert dest == tmp_path / "takes" / "001.mp4" and probe(dest).frames == 12
    assert list(dest.parent.iterdir()) == [dest]


def test_failures_in_the_worker_surface_through_poll_and_fetch(tmp_path: Path) -> None:
    bad = request(visual(), 0.5).model_copy(update={"width": 641})  # odd width: no yuv420p

    async def go() -> None:
        model = Animatic()
        task = await model.submit(bad)
        with pytest.raises(RenderError, match="even frame size"):
            await model.fetch(task, tmp_path / "x.mp4")

        task = await model.submit(bad)
        while (status := await model.poll(task)).state in ("queued", "running"):
            await asyncio.sleep(0.01)
        assert status.state == "failed" and status.error and "even frame size" in status.error

    asyncio.run(go())
    assert not (tmp_path / "x.mp4").exists()


def test_missing_visual_is_a_render_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="visual"):
        render_animatic(request(None), tmp_path / "x.mp4")
    with pytest.raises(RenderError, match="visual"):
        asyncio.run(Animatic().submit(request(None)))
    assert not any(tmp_path.iterdir())


def test_a_cancelled_fetch_leaves_the_job_fetchable(tmp_path: Path) -> None:
    async def go() -> Path:
        model = Animatic()
        task = await model.submit(request(visual(camera="push-in"), 1.0))
        waiting = asyncio.create_task(model.fetch(task, tmp_path / "t.mp4"))
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return await model.fetch(task, tmp_path / "t.mp4")

    assert probe(asyncio.run(go())).frames == 24


def test_chinese_text_is_drawn_with_real_glyphs_when_a_cjk_font_is_installed() -> None:
    """CI installs a CJK font (.ci/run); without one the animatic still renders, as boxes."""
    from shotline.tools import fonts

    face = fonts._cjk_face()
    if face is None:
        pytest.skip("no CJK font installed on this machine (apt-get install fonts-wqy-microhei)")
    zh = font(24, "小美")
    missing = fonts._glyph(zh, "\U000f0000")
    assert all(fonts._glyph(zh, ch) != missing for ch in "小美雨巷")
