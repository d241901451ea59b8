"""Take QC: real animatic takes checked against real reference sheets, with a scripted vision judge."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from PIL import Image
from pydantic import Field

from shotline.memory.models import RESOLUTIONS, Character, Shot
from shotline.tools.image.base import ImageRequest, SheetSubject
from shotline.tools.image.local import render_png
from shotline.tools.judge import Judge, JudgeVerdict
from shotline.tools.qc import TakeVerdict, best_take, check_take
from shotline.tools.video.animatic import render_animatic
from shotline.tools.video.base import Figure, MediaRef, RenderRequest, ShotVisual

RED, BLUE, GREEN = "#c03030", "#2050d0", "#30a040"
SHOT = Shot(id="001", number=1, scene="sc1", framing="medium", camera="static", duration_s=2.0, location="k")
MEI = Character(id="mei", name="MEI", description="a courier in a red rain jacket", color=RED)


def request(
    color: str, *, duration_s: float = 1.0, audio: bool = False, framing: str = "medium"
) -> RenderRequest:
    w, h = RESOLUTIONS["16:9"]
    visual = ShotVisual(
        shot_id="001",
        framing=framing,  # type: ignore[arg-type]
        camera="static",
        location="KITCHEN",
        backdrop="#9a8a70",
        figures=(Figure(name="MEI", color=color, x=0.4),),
    )
    return RenderRequest(
        shot_id="001",
        model="animatic",
        prompt="MEI waits by the door",
        duration_s=duration_s,
        ratio="16:9",
        width=w,
        height=h,
        audio=audio,
        visual=visual,
    )


def take(tmp_path: Path, color: str, name: str, **kw: Any) -> tuple[Path, RenderRequest]:
    req = request(color, **kw)
    return render_animatic(req, tmp_path / f"{name}.mp4"), req


def sheet(tmp_path: Path, color: str) -> MediaRef:
    """MEI's turnaround sheet from the offline renderer, in `color`."""
    subject = SheetSubject(kind="character", name="MEI", color=color)
    png = render_png(ImageRequest(prompt="sheet", width=768, height=512, subject=subject))
    path = tmp_path / f"mei-{color[1:]}.png"
    path.write_bytes(png)
    return MediaRef(sha256=color, path=str(path), name="MEI, reference sheet")


def check(path: Path, req: RenderRequest, refs: list[MediaRef], judge: Judge | None = None) -> TakeVerdict:
    return asyncio.run(
        check_take(path, shot=SHOT, request=req, references=refs, judge=judge, characters=[MEI])
    )


# --- the scripted judge --------------------------------------------------------------------


class ScriptedVision(GenericFakeChatModel):
    """A vision chat model at the network edge: replays queued answers and keeps what it was sent."""

    received: list[list[BaseMessage]] = Field(default_factory=list)

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedVision:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.received.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def vision(*answers: AIMessage) -> ScriptedVision:
    return ScriptedVision(messages=iter(answers), received=[])


def verdict_call(**args: Any) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": "JudgeVerdict", "args": args, "id": "c1", "type": "tool_call"}]
    )


def images_sent(model: ScriptedVision) -> list[Image.Image]:
    blocks = [b for m in model.received[-1] if isinstance(m.content, list) for b in m.content]
    urls = [b["image_url"]["url"] for b in blocks if isinstance(b, dict) and b.get("type") == "image_url"]
    return [Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1]))) for u in urls]


# --- technical probe -----------------------------------------------------------------------


def test_a_sound_take_in_the_reference_colour_passes(tmp_path: Path) -> None:
    path, req = take(tmp_path, RED, "red")
    verdict = check(path, req, [sheet(tmp_path, RED)])
    assert verdict.passed and verdict.score >= 0.6
    assert verdict.technical["decodes"] is True and verdict.technical["width"] == 1280
    assert verdict.reasons == []


def test_a_figure_in_the_reference_colour_scores_higher_than_one_in_another(tmp_path: Path) -> None:
    ref = sheet(tmp_path, RED)
    for framing in ("wide", "medium", "close-up"):
        right = check(*take(tmp_path, RED, f"red-{framing}", framing=framing), [ref])
        for other in (BLUE, GREEN):
            wrong = check(*take(tmp_path, other, f"{other[1:]}-{framing}", framing=framing), [ref])
            assert right.similarity is not None and wrong.similarity is not None
            assert right.similarity > wrong.similarity + 0.25, framing
            assert not wrong.passed
            assert any("MEI, reference sheet" in r and "similarity" in r for r in wrong.reasons)


def test_a_too_short_take_fails_technically_with_score_zero(tmp_path: Path) -> None:
    path, _ = take(tmp_path, RED, "short", duration_s=1.0)
    asked = request(RED, duration_s=2.0)
    verdict = check(path, asked, [sheet(tmp_path, RED)])
    assert (verdict.score, verdict.passed) == (0.0, False)
    assert verdict.reasons and "too short" in verdict.reasons[0]
    assert verdict.similarity is None  # a broken take is not compared at all


def test_one_frame_short_is_still_long_enough(tmp_path: Path) -> None:
    path, _ = take(tmp_path, RED, "nearly", duration_s=2.0 - 1 / 24)
    assert check(path, request(RED, duration_s=2.0), []).passed


def test_sound_asked_but_absent_fails(tmp_path: Path) -> None:
    path, _ = take(tmp_path, RED, "silent")
    verdict = check(path, request(RED, audio=True), [])
    assert not verdict.passed and verdict.score == 0.0
    assert any("silent" in r for r in verdict.reasons)


def test_a_file_that_is_not_a_video_fails_with_a_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    verdict = check(bad, request(RED), [])
    assert not verdict.passed and verdict.technical == {"decodes": False}
    assert "does not play" in verdict.reasons[0]


def test_wrong_shape_fails_but_a_larger_size_of_the_same_shape_passes(tmp_path: Path) -> None:
    path, _ = take(tmp_path, RED, "hd")
    small = request(RED).model_copy(update={"width": 640, "height": 360})
    assert check(path, small, []).passed
    square = request(RED).model_copy(update={"width": 960, "height": 960, "ratio": "1:1"})
    verdict = check(path, square, [])
    assert not verdict.passed and "1280x720" in verdict.reasons[0]


def test_without_references_similarity_is_none_and_does_not_count(tmp_path: Path) -> None:
    verdict = check(*take(tmp_path, BLUE, "noref"), [])
    assert verdict.similarity is None and verdict.passed and verdict.score == 1.0
    assert "not checked" in verdict.reasons[0]


# --- the judge -----------------------------------------------------------------------------


def test_judge_sees_frames_and_references_and_its_verdict_combines(tmp_path: Path) -> None:
    path, req = take(tmp_path, RED, "judged")
    ref = sheet(tmp_path, RED)
    alone = check(path, req, [ref])
    model = vision(verdict_call(identity_ok=True, set_ok=True, score=0.9, reasons=[]))
    judged = check(path, req, [ref], Judge(model))
    assert judged.judge == JudgeVerdict(identity_ok=True, set_ok=True, score=0.9, reasons=[])
    assert judged.score == pytest.approx(0.6 * 0.9 + 0.4 * alone.similarity, abs=1e-3)  # type: ignore[operator]
    sent = images_sent(model)
    assert len(sent) == 4  # one reference and three sampled frames
    assert sent[0].width / sent[0].height == pytest.approx(768 / 512, abs=0.01)  # the sheet's shape
    assert all(img.width / img.height == pytest.approx(16 / 9, abs=0.01) for img in sent[1:])
    text = " ".join(b["text"] for b in model.received[-1][1].content if isinstance(b, dict) and "text" in b)
    assert "red rain jacket" in text and "MEI waits" in text


def test_a_judge_that_does_not_recognise_the_character_sinks_the_take(tmp_path: Path) -> None:
    path, req = take(tmp_path, RED, "doubted")
    model = vision(verdict_call(identity_ok=False, set_ok=True, score=0.8, reasons=["MEI's face is older"]))
    verdict = check(path, req, [sheet(tmp_path, RED)], Judge(model))
    assert not verdict.passed
    assert "judge: MEI's face is older" in verdict.reasons
    assert any("does not recognise" in r for r in verdict.reasons)


@pytest.mark.parametrize(
    "answer",
    [AIMessage(content="looks fine to me"), verdict_call(identity_ok="perhaps", score=7)],
    ids=["prose instead of a verdict", "malformed verdict"],
)
def test_a_judge_that_gives_no_verdict_is_ignored_with_a_reason(tmp_path: Path, answer: AIMessage) -> None:
    path, req = take(tmp_path, RED, "unjudged")
    ref = sheet(tmp_path, RED)
    verdict = check(path, req, [ref], Judge(vision(answer)))
    assert verdict.judge is None
    assert verdict.score == verdict.similarity and verdict.passed
    assert any("vision judge" in r and "without it" in r for r in verdict.reasons)


def test_a_judge_that_errors_is_ignored_with_a_reason(tmp_path: Path) -> None:
    path, req = take(tmp_path, RED, "error")
    verdict = check(path, req, [sheet(tmp_path, RED)], Judge(vision()))  # nothing queued: the model raises
    assert verdict.judge is None and verdict.passed
    assert any("the vision judge failed" in r for r in verdict.reasons)


# --- best of N -----------------------------------------------------------------------------


def _verdict(score: float, passed: bool, take: str) -> TakeVerdict:
    return TakeVerdict(shot_id="001", take=take, score=score, passed=passed)


def test_best_take_is_the_highest_passing_one() -> None:
    takes = [_verdict(0.7, True, "a"), _verdict(0.9, True, "b"), _verdict(0.95, False, "c")]
    best = best_take(takes)
    assert best.take == "b" and not best.flagged


def test_when_nothing_passes_the_best_is_kept_but_flagged_for_a_person() -> None:
    best = best_take([_verdict(0.2, False, "a"), _verdict(0.4, False, "b")])
    assert best.take == "b" and best.flagged
    assert "person" in best.reasons[-1]


def test_best_take_of_real_takes_picks_the_one_in_costume(tmp_path: Path) -> None:
    ref = sheet(tmp_path, RED)
    verdicts = [check(*take(tmp_path, c, f"n{i}"), [ref]) for i, c in enumerate((BLUE, RED, GREEN))]
    assert best_take(verdicts).take.endswith("n1.mp4")
