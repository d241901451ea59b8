"""Take QC: a technical probe, a local image-similarity score, an optional vision judge, one verdict.

Every take is checked before it may enter the cut. The probe catches broken files (does not decode,
too short, wrong size, no sound when sound was asked). The similarity score runs always, offline,
with numpy and PIL only; a vision-language judge (`tools/judge.py`) adds an opinion when a chat
model is configured. The verdict carries a score, pass/fail and reasons written for a producer.

Local similarity, and why it is a fair proxy. A character reference sheet is mostly paper plus the
character's own colours (costume, hair, skin); a set plate is mostly the set's colours. A take that
keeps the identity and the set shows those colours somewhere in frame, at whatever framing. So, per
reference, we take a coarse HSV histogram weighted by chroma (greys, paper and black carry no
identity and are discounted) and ask how much of the reference's colour mass is present in the
frame: a reference-normalised histogram intersection, where a colour counts fully once it covers
`PRESENT_FRACTION` of the frame (a costume is small in a wide shot and must not be penalised for
it). A small structure term (a 9x8 difference hash of the greyscale image) rewards a frame laid out
like the reference, which matters for set plates and little for sheets. Limits: colour only, so
another person in the same costume passes, and a grey or black costume is judged mostly by skin and
hair; night grading shifts hues; it says nothing about faces, and the layout term is weak. That is
what the judge is for.

Measured on animatic takes against offline sheets (5 costume colours x 4 framings x day and night):
a take in the sheet's colour scores 0.55 (establishing) to 0.86 (close-up), a take in any other
colour 0.14 to 0.38, so the gap holds at every framing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from shotline.errors import RenderError
from shotline.memory.models import Character, Location, Shot
from shotline.tools import ffmpeg
from shotline.tools.judge import Judge, JudgeError, JudgeVerdict, load_image
from shotline.tools.video.base import MediaRef, RenderRequest

SAMPLE_AT = (0.2, 0.5, 0.8)  # where in the take the frames are sampled, as fractions of its length
ANALYSIS_SIDE = 160  # images are reduced to this long side before any statistics: fast and robust
HUE_BINS, SAT_BINS, VAL_BINS = 18, 2, 3  # 20-degree hues: red and orange stay apart
PRESENT_FRACTION = 0.002  # chroma-weighted share of the frame at which a colour counts as present
NEIGHBOUR_CREDIT = 0.3  # a colour one hue bin away (compression, grading) counts a little
COLOUR_WEIGHT, STRUCTURE_WEIGHT = 0.8, 0.2
JUDGE_WEIGHT = 0.6  # with a judge: 60% its score, 40% the local similarity (when references exist)
JUDGE_FAIL_CAP = 0.3  # a judge that says identity or set is wrong caps its own component here
REFERENCE_FLOOR = 0.5  # a single reference below this is named in the reasons


class TakeVerdict(BaseModel):
    """QC's verdict on one take: what a producer reads before it enters the cut."""

    model_config = ConfigDict(extra="forbid")
    shot_id: str
    take: str = Field(description="path of the take file")
    score: float = Field(ge=0.0, le=1.0)
    passed: bool
    reasons: list[str] = Field(default_factory=list, description="every deduction, in plain words")
    technical: dict[str, object] = Field(default_factory=dict, description="what the probe found")
    similarity: float | None = Field(default=None, description="local image similarity; None = no references")
    per_reference: dict[str, float] = Field(default_factory=dict, description="reference name -> similarity")
    judge: JudgeVerdict | None = None
    flagged: bool = Field(default=False, description="kept although nothing passed: a person must look")


# --- the check ----------------------------------------------------------------------------


async def check_take(
    take_path: Path,
    *,
    shot: Shot,
    request: RenderRequest,
    references: Sequence[MediaRef],
    judge: Judge | None,
    threshold: float = 0.6,
    characters: Sequence[Character] = (),
    location: Location | None = None,
) -> TakeVerdict:
    """Probe, sample, compare and (optionally) ask the judge; never raises for a bad take."""
    take_path = Path(take_path)
    technical, faults = await asyncio.to_thread(technical_check, take_path, request)
    if faults:
        return TakeVerdict(
            shot_id=shot.id, take=str(take_path), score=0.0, passed=False, reasons=faults, technical=technical
        )
    duration = float(technical["duration_s"])  # type: ignore[arg-type]
    frames = await asyncio.to_thread(sample_frames, take_path, duration)
    images = [r for r in references if r.kind == "image" and r.path and Path(r.path).exists()]
    per_ref = await asyncio.to_thread(reference_similarities, frames, images)
    similarity = round(float(np.mean(list(per_ref.values()))), 4) if per_ref else None
    reasons = similarity_reasons(per_ref, has_references=bool(references))
    verdict = None
    if judge is not None:
        try:
            verdict = await judge.assess(
                frames=frames,
                references=images,
                shot=shot,
                prompt=request.prompt,
                characters=characters,
                location=location,
            )
        except JudgeError as exc:
            reasons.append(f"{exc}; the take was scored without it")
    if verdict is not None:
        reasons += judge_reasons(verdict)
    score = combine(similarity, verdict)
    if score < threshold:
        reasons.append(f"score {score:.2f} is below the pass mark {threshold:.2f}")
    return TakeVerdict(
        shot_id=shot.id,
        take=str(take_path),
        score=score,
        passed=score >= threshold,
        reasons=reasons,
        technical=technical,
        similarity=similarity,
        per_reference=per_ref,
        judge=verdict,
    )


def best_take(verdicts: Sequence[TakeVerdict]) -> TakeVerdict:
    """The highest-scoring take that passed; if none passed, the highest overall, flagged for a person."""
    if not verdicts:
        raise ValueError("best_take needs at least one verdict")
    passed = [v for v in verdicts if v.passed]
    if passed:
        return max(passed, key=lambda v: v.score)
    best = max(verdicts, key=lambda v: v.score)
    note = f"none of the {len(verdicts)} takes passed QC: this is the best of them, for a person to review"
    return best.model_copy(update={"flagged": True, "reasons": [*best.reasons, note]})


def combine(similarity: float | None, verdict: JudgeVerdict | None) -> float:
    """The take's score from what is known about it.

    Judge and local similarity: JUDGE_WEIGHT of the judge's score plus the rest from similarity (the
    judge sees faces and layout, the histogram only colours). One of them: that one. Neither: 1.0,
    a technically sound take with nothing to compare it to. A judge that says identity or set is
    wrong cannot contribute more than JUDGE_FAIL_CAP, whatever number it gave.
    """
    judged = None
    if verdict is not None:
        judged = (
            verdict.score if verdict.identity_ok and verdict.set_ok else min(verdict.score, JUDGE_FAIL_CAP)
        )
    if judged is not None and similarity is not None:
        score = JUDGE_WEIGHT * judged + (1 - JUDGE_WEIGHT) * similarity
    elif judged is not None:
        score = judged
    elif similarity is not None:
        score = similarity
    else:
        score = 1.0
    return round(min(max(score, 0.0), 1.0), 4)


# --- technical probe ---------------------------------------------------------------------


def technical_check(path: Path, request: RenderRequest) -> tuple[dict[str, object], list[str]]:
    """What the file is, and every way it falls short of the request (empty when it is sound)."""
    try:
        info = ffmpeg.probe(path)
    except (RenderError, OSError) as exc:
        return {"decodes": False}, [f"the take does not play: {exc}"]
    facts: dict[str, object] = {
        "decodes": True,
        "duration_s": info.duration_s,
        "width": info.width,
        "height": info.height,
        "fps": info.fps,
        "codec": info.codec,
        "has_audio": info.has_audio,
    }
    faults = []
    frame = 1 / (request.fps or 24)
    if info.duration_s < request.duration_s - frame - 1e-3:  # the probe rounds to 0.1 ms
        faults.append(
            f"the take is too short: {info.duration_s:.2f} s of the {request.duration_s:.2f} s asked"
        )
    if not _size_ok(info.width, info.height, request.width, request.height):
        faults.append(
            f"the picture is {info.width}x{info.height}, not {request.width}x{request.height} ({request.ratio})"
        )
    if request.audio and not info.has_audio:
        faults.append("sound was asked for and the take is silent")
    return facts, faults


def _size_ok(w: int, h: int, want_w: int, want_h: int) -> bool:
    """The exact size, or at least the same shape: a 1080p take of a 720p request is fine."""
    if (w, h) == (want_w, want_h):
        return True
    return h > 0 and want_h > 0 and abs(w / h - want_w / want_h) <= 0.01


def sample_frames(path: Path, duration_s: float) -> list[Image.Image]:
    return [ffmpeg.grab_frame(path, duration_s * at) for at in SAMPLE_AT]


# --- local similarity --------------------------------------------------------------------


def reference_similarities(frames: Sequence[Image.Image], refs: Sequence[MediaRef]) -> dict[str, float]:
    """Reference name -> mean similarity of the sampled frames to it (drift mid-take counts)."""
    if not frames:
        return {}
    frame_stats = [_stats(f) for f in frames]
    out: dict[str, float] = {}
    for i, ref in enumerate(refs):
        ref_hist, ref_hash = _stats(load_image(ref.path))  # type: ignore[arg-type]
        scores = [similarity(ref_hist, ref_hash, h, d) for h, d in frame_stats]
        out[ref.name or f"reference {i + 1}"] = round(float(np.mean(scores)), 4)
    return out


def image_similarity(reference: Image.Image, frame: Image.Image) -> float:
    """How well `frame` keeps the colours (and a little of the layout) of `reference`, 0..1."""
    return similarity(*_stats(reference), *_stats(frame))


def similarity(ref_hist: np.ndarray, ref_hash: np.ndarray, hist: np.ndarray, dhash: np.ndarray) -> float:
    return COLOUR_WEIGHT * colour_presence(ref_hist, hist) + STRUCTURE_WEIGHT * structure(ref_hash, dhash)


def colour_presence(ref_hist: np.ndarray, hist: np.ndarray) -> float:
    """The share of the reference's colour mass that is present in the frame.

    Both histograms are chroma-weighted shares of their image. A reference colour counts fully once
    the frame holds PRESENT_FRACTION of it (in its bin, or NEIGHBOUR_CREDIT from the next hue bin).
    """
    total = ref_hist.sum()
    if total <= 0:  # a colourless reference: nothing to compare by colour
        return 1.0
    near = hist + NEIGHBOUR_CREDIT * (np.roll(hist, 1, axis=0) + np.roll(hist, -1, axis=0))
    present = np.minimum(near / PRESENT_FRACTION, 1.0)
    return float((ref_hist * present).sum() / total)


def structure(a: np.ndarray, b: np.ndarray) -> float:
    """Difference-hash agreement: 1 for the same layout, about 0.5 for unrelated pictures."""
    return float((a == b).mean())


def _stats(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    img = image.convert("RGB")
    img.thumbnail((ANALYSIS_SIDE, ANALYSIS_SIDE), Image.Resampling.BILINEAR)
    return _hsv_histogram(img), _dhash(img)


def _hsv_histogram(img: Image.Image) -> np.ndarray:
    """A (hue, saturation, value) histogram where each pixel weighs its chroma, as a share of the image."""
    hsv = np.asarray(img.convert("HSV"), dtype=np.float32) / 255.0
    rgb = np.asarray(img, dtype=np.float32) / 255.0
    chroma = rgb.max(axis=-1) - rgb.min(axis=-1)
    h = np.minimum((hsv[..., 0] * HUE_BINS).astype(int), HUE_BINS - 1)
    s = np.minimum((hsv[..., 1] * SAT_BINS).astype(int), SAT_BINS - 1)
    v = np.minimum((hsv[..., 2] * VAL_BINS).astype(int), VAL_BINS - 1)
    hist = np.zeros((HUE_BINS, SAT_BINS, VAL_BINS), dtype=np.float64)
    np.add.at(hist, (h, s, v), chroma)
    return hist / chroma.size


def _dhash(img: Image.Image) -> np.ndarray:
    small = np.asarray(img.convert("L").resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    return (small[:, 1:] > small[:, :-1]).ravel()


# --- reasons -----------------------------------------------------------------------------


def similarity_reasons(per_ref: dict[str, float], *, has_references: bool) -> list[str]:
    if not has_references:
        return ["no reference images: identity and set were not checked"]
    if not per_ref:
        return ["the reference images could not be read: identity and set were not checked"]
    return [
        f"the colours of {name} are missing from the take (similarity {score:.2f})"
        for name, score in per_ref.items()
        if score < REFERENCE_FLOOR
    ]


def judge_reasons(verdict: JudgeVerdict) -> list[str]:
    reasons = []
    if not verdict.identity_ok:
        reasons.append("the vision judge does not recognise every character from their references")
    if not verdict.set_ok:
        reasons.append("the vision judge says the set does not match its reference")
    return reasons + [f"judge: {r}" for r in verdict.reasons]
