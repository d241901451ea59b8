"""What each shot will be rendered with: the routed models, and the images each model is sent.

Routing picks the models; this module dresses each model's request with what it can take: the
characters' reference sheets for models with reference slots, or a keyframe as the first frame
for image-to-video models without them. Images are made by the configured image model and stored
by content, so a rerun makes none twice. Before approval only free images are made: anything
paid is counted in the estimate instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from shotline.memory.models import RESOLUTIONS, Breakdown, Shot, Storyboard
from shotline.tools.image.base import ImageRequest
from shotline.tools.references import ImageAssets, attach, keyframe_request, sheet_request
from shotline.tools.render import ShotJob
from shotline.tools.routing import RoutingPolicy, route
from shotline.tools.shot_request import build_request
from shotline.tools.video.base import MediaRef, ModelCard


@dataclass
class ShotImages:
    sheets: dict[str, MediaRef] = field(default_factory=dict)  # character id -> sheet
    keyframes: dict[str, MediaRef] = field(default_factory=dict)  # shot id -> first frame
    unpaid_usd: float = 0.0  # images still to make, and what they will cost
    spent_usd: float = 0.0  # images made now, and what they cost


def _chosen(
    breakdown: Breakdown,
    board: Storyboard,
    provider: str,
    cards: tuple[ModelCard, ...],
    routing: RoutingPolicy,
) -> dict[str, list[ModelCard]]:
    return {
        shot.id: route(build_request(shot, breakdown, board, provider), cards, routing, framing=shot.framing)
        for shot in board.shots
    }


def _wants_keyframe(card: ModelCard) -> bool:
    return card.image_to_video and not card.reference_images


async def shot_images(
    breakdown: Breakdown,
    board: Storyboard,
    provider: str,
    cards: tuple[ModelCard, ...],
    routing: RoutingPolicy,
    assets: ImageAssets,
    *,
    make: bool,
) -> ShotImages:
    """The sheets and keyframes the routed models will use. `make=False` makes only free ones and
    prices the rest. The offline renderer draws sheets, not scenes, so it makes no keyframes."""
    chosen = _chosen(breakdown, board, provider, cards, routing)
    free = assets.model.card.usd_per_image == 0
    images = ShotImages()
    todo: list[ImageRequest] = []
    if any(c.reference_images or _wants_keyframe(c) for cs in chosen.values() for c in cs):
        for character in breakdown.characters:
            request = sheet_request(character, breakdown.style)
            name = f"{character.name}, reference sheet"
            if make or free:
                images.sheets[character.id] = await assets.get(request, name=name)
            elif (found := assets.cached(request)) is not None:
                images.sheets[character.id] = found.model_copy(update={"name": name})
            else:
                todo.append(request)
    if not assets.model.card.local:
        width, height = RESOLUTIONS[board.ratio]
        limit = assets.model.card.reference_images
        for shot in board.shots:
            if not any(_wants_keyframe(c) for c in chosen[shot.id]):
                continue
            refs = tuple(images.sheets[c] for c in shot.characters if c in images.sheets)[:limit]
            request = keyframe_request(shot, refs, width, height)
            name = f"shot {shot.id}, first frame"
            if make or free:
                images.keyframes[shot.id] = await assets.get(request, name=name, role="first_frame")
            elif (found := assets.cached(request)) is not None:
                images.keyframes[shot.id] = found
            else:
                todo.append(request)
    images.unpaid_usd = assets.cost(todo)
    images.spent_usd = assets.spent_usd
    return images


def shot_jobs(
    breakdown: Breakdown,
    board: Storyboard,
    provider: str,
    cards: tuple[ModelCard, ...],
    routing: RoutingPolicy,
    images: ShotImages,
) -> list[ShotJob]:
    """One job per shot: its routed models, primary first, each request dressed for its model."""
    jobs = []
    for shot_id, chosen in _chosen(breakdown, board, provider, cards, routing).items():
        shot: Shot = next(s for s in board.shots if s.id == shot_id)
        candidates = [
            attach(
                build_request(shot, breakdown, board, card.name, card.model_id or None),
                card,
                shot,
                images.sheets,
                images.keyframes.get(shot_id),
            )
            for card in chosen
        ]
        jobs.append(ShotJob(shot_id=shot_id, candidates=candidates))
    return jobs


def make_images(*args, **kwargs) -> ShotImages:
    """`shot_images` from synchronous code (graph nodes run in worker threads with no event loop)."""
    return asyncio.run(shot_images(*args, **kwargs))
