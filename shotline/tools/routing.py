"""Routing: which model renders each shot. Filter by what the shot needs, order by policy.

The only place that decides between models. The runner takes the order it gets: the first model
is the primary, the rest are fallbacks for a permanent fault.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from shotline.errors import InputError
from shotline.memory.models import Framing
from shotline.tools.video.base import ModelCard, RenderRequest

Order = Literal["cheapest", "fastest", "best"]

# An editorial quality rank for `best`, from public arena leaderboards (2026-10); higher is better.
# Unknown models rank last. Policy, not capability: it lives here, not on the cards.
QUALITY: dict[str, int] = {
    "veo": 90,
    "seedance": 85,
    "kling": 80,
    "runway": 75,
    "hailuo": 70,
    "vidu": 65,
    "wan": 60,
    "fal": 55,
    "comfyui": 50,
    "animatic": 0,
}


@dataclass(frozen=True)
class RoutingPolicy:
    """How to choose: an order, plus explicit choices that win over it."""

    order: Order = "cheapest"
    per_framing: dict[Framing, str] = field(default_factory=dict)
    """e.g. {"close-up": "kling"}: every close-up goes to that provider (or provider/model_id)."""
    per_shot: dict[str, str] = field(default_factory=dict)
    """e.g. {"004": "veo"}: one shot goes to that provider (or provider/model_id)."""
    fallbacks: int = 2
    """How many other models may take over after a permanent fault."""
    home: tuple[str, ...] = ()
    """Providers that shots without an explicit choice are routed among (empty: any card given).
    Cards of a provider chosen for some shots must not draw every other shot to it."""


@dataclass(frozen=True)
class Needs:
    """What a shot asks of a model."""

    duration_s: float
    ratio: str
    references: int = 0
    first_frame: bool = False
    last_frame: bool = False
    audio: bool = False

    @classmethod
    def of(cls, request: RenderRequest) -> Needs:
        return cls(
            duration_s=request.duration_s,
            ratio=request.ratio,
            references=len([r for r in request.references if r.kind == "image"]),
            first_frame=request.first_frame is not None,
            last_frame=request.last_frame is not None,
            audio=request.audio,
        )


def why_not(card: ModelCard, needs: Needs) -> str | None:
    """Why a model cannot render a shot, or None when it can."""
    longest = max(card.fixed_durations_s) if card.fixed_durations_s else card.durations_s[1]
    if needs.duration_s > longest + 1e-6:
        return f"takes at most {longest:g} s, the shot is {needs.duration_s:g} s"
    if needs.ratio not in card.ratios:
        return f"no {needs.ratio} ratio"
    if needs.last_frame and not card.first_last_frame:
        return "cannot end on a given last frame"
    if needs.first_frame and not (card.image_to_video or card.first_last_frame):
        return "cannot start from a keyframe"
    if needs.references > card.reference_images:
        return f"takes {card.reference_images} reference images, the shot has {needs.references}"
    if needs.audio and not card.native_audio:
        return "makes no sound"
    return None


# Within a provider, newer and larger models rank above older and faster ones (by model-id prefix).
MODEL_QUALITY: dict[str, int] = {
    "dreamina-seedance-2-5": 8,
    "dreamina-seedance-2-0-fast": 5,
    "dreamina-seedance-2-0": 7,
    "seedance-1-5": 3,
    "seedance-1-0": 1,
    "kling-v3": 8,
    "kling-v2": 5,
    "kling-v1": 1,
    "veo-3.1-fast": 4,
    "veo-3.1": 8,
    "gen4.5": 8,
    "gen4_turbo": 4,
    "MiniMax-H3": 8,
    "MiniMax-Hailuo-2.3-Fast": 3,
    "MiniMax-Hailuo-2.3": 5,
    "MiniMax-Hailuo-02": 2,
    "viduq3-pro": 8,
    "viduq3-turbo": 4,
    "viduq1": 1,
}


def quality(card: ModelCard) -> int:
    """Editorial rank for `best`: the provider's standing, then the model's place in its family."""
    within = next((q for prefix, q in MODEL_QUALITY.items() if card.model_id.startswith(prefix)), 0)
    return QUALITY.get(card.name, -1) * 10 + within


def _name(card: ModelCard) -> str:
    return f"{card.name}/{card.model_id}" if card.model_id else card.name


def _matches(card: ModelCard, choice: str) -> bool:
    return choice in {card.name, _name(card)}


def _sort_key(order: Order, needs: Needs):
    def key(card: ModelCard) -> tuple:
        cost = card.cost(needs.duration_s)
        speed = card.typical_latency_s
        rank = -quality(card)
        if order == "cheapest":
            return (cost, speed, rank, _name(card))
        if order == "fastest":
            return (speed, cost, rank, _name(card))
        return (rank, cost, speed, _name(card))

    return key


def route(
    request: RenderRequest,
    cards: Sequence[ModelCard],
    policy: RoutingPolicy,
    *,
    framing: Framing | None = None,
) -> list[ModelCard]:
    """The models for one shot, primary first; raises InputError naming why none fits."""
    needs = Needs.of(request)
    fit = [c for c in cards if why_not(c, needs) is None]
    if not fit:
        reasons = "; ".join(f"{_name(c)}: {why_not(c, needs)}" for c in cards) or "no model is available"
        raise InputError(f"no model can render shot {request.shot_id} ({reasons})")
    ordered = sorted(fit, key=_sort_key(policy.order, needs))
    choice = policy.per_shot.get(request.shot_id) or (policy.per_framing.get(framing) if framing else None)
    if not choice and policy.home:
        ordered = [c for c in ordered if c.name in policy.home] or ordered
    if choice:
        chosen = [c for c in ordered if _matches(c, choice)]
        if not chosen:
            why = next((why_not(c, needs) for c in cards if _matches(c, choice)), "not available here")
            raise InputError(f"shot {request.shot_id} is set to {choice!r}, which cannot render it: {why}")
        ordered = chosen + [c for c in ordered if c not in chosen]
    return ordered[: 1 + policy.fallbacks]
