"""What each shot will be rendered with: the routed models, and the images each model is sent.

Routing picks the models; this module dresses each model's request with what it can take: the
right views of the shot's characters and the set's empty plate for models with reference slots,
or a keyframe as the first frame for image-to-video models without them. Images are made by the configured image model and stored
by content, so a rerun makes none twice. Before approval only free images are made: anything
paid is counted in the estimate instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from shotline.memory.models import RESOLUTIONS, Breakdown, Character, Shot, Storyboard
from shotline.tools.references import (
    VIEWS,
    Described,
    ImageAssets,
    attach,
    character_views,
    described_cast,
    keyframe_request,
    plate_request,
    select_references,
    uploaded_views,
    view_request,
)
from shotline.tools.render import ShotJob
from shotline.tools.routing import RoutingPolicy, route
from shotline.tools.shot_request import build_request
from shotline.tools.video.base import MediaRef, ModelCard

if TYPE_CHECKING:  # the bible pulls in Chroma (1.5 s to import); only `view_links` needs it
    from shotline.memory.bible import LinkedViews, ViewLink


@dataclass
class ShotImages:
    views: dict[str, dict[str, MediaRef]] = field(default_factory=dict)  # character id -> view -> image
    plates: dict[str, MediaRef] = field(default_factory=dict)  # "<location id>:<day|night>" -> plate
    keyframes: dict[str, MediaRef] = field(default_factory=dict)  # shot id -> first frame
    unpaid_usd: float = 0.0  # images still to make, and what they will cost
    spent_usd: float = 0.0  # images made now, and what they cost

    def dressed(
        self, shot: Shot, breakdown: Breakdown, described: Sequence[str] = ()
    ) -> dict[str, dict[str, MediaRef]]:
        """Each character's views as dressed in the shot's scene (a costume variant has its own), for
        the shot's cast and the characters it `described` without naming them."""
        known = {c.id for c in breakdown.characters}
        out = {}
        for cid in dict.fromkeys([*shot.characters, *described]):
            if cid not in known:
                continue
            costume = breakdown.character(cid).costume_in(shot.scene)
            key = f"{cid}@{costume.name}" if costume else cid
            if key in self.views:
                out[cid] = self.views[key]
        return out

    def plate(self, shot: Shot, breakdown: Breakdown) -> MediaRef | None:
        return self.plates.get(_plate_key(shot, breakdown))

    def character_views(self, breakdown: Breakdown) -> dict[str, dict[str, MediaRef]]:
        """Views per character id: 'front' ... as described, '<view>@<costume name>' per costume."""
        known = {c.id for c in breakdown.characters}
        out: dict[str, dict[str, MediaRef]] = {}
        for key, refs in self.views.items():
            cid, _, costume = key.partition("@")
            if cid in known:
                mine = out.setdefault(cid, {})
                mine.update({f"{v}@{costume}" if costume else v: ref for v, ref in refs.items()})
        return out

    def location_views(self) -> dict[str, dict[str, MediaRef]]:
        """Plates per location id, by 'day' and 'night'."""
        out: dict[str, dict[str, MediaRef]] = {}
        for key, ref in self.plates.items():
            lid, _, when = key.rpartition(":")
            out.setdefault(lid, {})[when] = ref
        return out

    def view_links(self, breakdown: Breakdown) -> LinkedViews:
        """Every view and plate by path and sha256, for `Bible.link_views` and `bible.json`. Only
        stored files count: a priced-but-unmade view has no path yet."""
        from shotline.memory.bible import LinkedViews

        return LinkedViews(
            characters=_links(self.character_views(breakdown)), locations=_links(self.location_views())
        )


def _links(by_id: dict[str, dict[str, MediaRef]]) -> dict[str, dict[str, ViewLink]]:
    from shotline.memory.bible import ViewLink

    links = {
        rid: {v: ViewLink(path=ref.path, sha256=ref.sha256) for v, ref in views.items() if ref.path}
        for rid, views in by_id.items()
    }
    return {rid: views for rid, views in links.items() if views}


def _wardrobe(breakdown: Breakdown) -> list[tuple[str, Character]]:
    """Every look to draw: each character as described, and once more per costume variant, keeping
    the fixed traits (age, face, build, marks) and changing only the clothes."""
    looks = []
    for c in breakdown.characters:
        looks.append((c.id, c))
        traits = ", ".join(c.fixed_traits().values())
        for costume in c.costumes:
            dressed = c.model_copy(
                update={
                    "description": f"{c.name}{f' ({traits})' if traits else ''}, wearing {costume.description}",
                    "color": costume.color or c.color,
                }
            )
            looks.append((f"{c.id}@{costume.name}", dressed))
    return looks


def _plate_key(shot: Shot, breakdown: Breakdown) -> str:
    scene = next(s for s in breakdown.scenes if s.id == shot.scene)
    return f"{shot.location}:{'night' if scene.night else 'day'}"


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
    uploads: Path | None = None,
    described: Described | None = None,
) -> ShotImages:
    """The character views, set plates and keyframes the routed models will use. `make=False`
    makes only free ones and prices the rest. The offline renderer makes no keyframes. With
    `described` (`Bible.described`), a keyframe also shows the characters a shot describes without
    naming them."""
    chosen = _chosen(breakdown, board, provider, cards, routing)
    images = ShotImages()
    if not any(c.reference_images or _wants_keyframe(c) for cs in chosen.values() for c in cs):
        return images
    make = make or assets.model.card.usd_per_image == 0  # free images need no approval
    unpaid = 0
    for key, character in _wardrobe(breakdown):
        mine = uploaded_views(uploads, character) if key == character.id else {}
        if make:
            images.views[key] = await character_views(character, breakdown.style, assets, mine)
        else:
            front = mine.get("front") or assets.cached(view_request(character, "front", breakdown.style))
            if front is None:
                unpaid += len(VIEWS) - len(mine)
                continue
            views = {"front": front}
            for view in VIEWS[:1] + VIEWS[2:]:
                found = mine.get(view) or assets.cached(view_request(character, view, breakdown.style, front))
                if found is None:
                    unpaid += 1
                else:
                    views[view] = found
            images.views[key] = views
    counted: set[str] = set()
    for shot in board.shots:
        key = _plate_key(shot, breakdown)
        if key in counted:
            continue
        counted.add(key)
        scene = next(s for s in breakdown.scenes if s.id == shot.scene)
        request = plate_request(breakdown.location(shot.location), scene.night, breakdown.style)
        name = f"{breakdown.location(shot.location).name}, empty set"
        if make:
            images.plates[key] = await assets.get(request, name=name)
        elif (found := assets.cached(request)) is not None:
            images.plates[key] = found.model_copy(update={"name": name})
        else:
            unpaid += 1
    if not assets.model.card.local:
        width, height = RESOLUTIONS[board.ratio]
        slots = assets.model.card.reference_images
        for shot in board.shots:
            if not any(_wants_keyframe(c) for c in chosen[shot.id]):
                continue
            refs = _references(shot, breakdown, images, slots, described)
            request = keyframe_request(shot, refs, width, height)
            if make:
                images.keyframes[shot.id] = await assets.get(
                    request, name=f"shot {shot.id}, first frame", role="first_frame"
                )
            elif (found := assets.cached(request)) is not None:
                images.keyframes[shot.id] = found
            else:
                unpaid += 1
    images.unpaid_usd = round(assets.model.card.cost(unpaid), 4)
    images.spent_usd = assets.spent_usd
    return images


def shot_jobs(
    breakdown: Breakdown,
    board: Storyboard,
    provider: str,
    cards: tuple[ModelCard, ...],
    routing: RoutingPolicy,
    images: ShotImages,
    *,
    described: Described | None = None,
    native_audio: bool = False,
) -> list[ShotJob]:
    """One job per shot: its routed models, primary first, each sent the references it can take.
    With `described` (`Bible.described`), characters a shot describes without naming them are sent
    too, after its named cast and within each model's slots. With `native_audio`, a shot with
    dialogue asks each model that makes sound to make it (the model then speaks the lines)."""
    jobs = []
    for shot_id, chosen in _chosen(breakdown, board, provider, cards, routing).items():
        shot: Shot = next(s for s in board.shots if s.id == shot_id)
        candidates = [
            attach(
                build_request(shot, breakdown, board, card.name, card.model_id or None).model_copy(
                    update={"audio": native_audio and card.native_audio and bool(shot.dialogue)}
                ),
                card,
                _references(shot, breakdown, images, card.reference_images, described),
                images.keyframes.get(shot_id),
            )
            for card in chosen
        ]
        pinned = shot_id in routing.per_shot or shot.framing in routing.per_framing
        jobs.append(ShotJob(shot_id=shot_id, candidates=candidates, pinned=pinned))
    return jobs


def _references(
    shot: Shot, breakdown: Breakdown, images: ShotImages, slots: int, described: Described | None
) -> tuple[MediaRef, ...]:
    """The shot's references for a model with `slots`: named cast, then described-but-unnamed cast."""
    if slots <= 0:
        return ()
    extra = described_cast(shot, described)
    views = images.dressed(shot, breakdown, extra)
    return select_references(shot, views, images.plate(shot, breakdown), slots, extra)


def make_images(*args, **kwargs) -> ShotImages:
    """`shot_images` from synchronous code (graph nodes run in worker threads with no event loop)."""
    return asyncio.run(shot_images(*args, **kwargs))


VARIANT = "~"  # "004~2": the third take of shot 004
RETRY = "^"  # "004^1": shot 004 again, with a corrected prompt


def base_shot(job_id: str) -> str:
    return job_id.split(VARIANT, 1)[0].split(RETRY, 1)[0]


def with_variants(jobs: list[ShotJob], takes_per_shot: int) -> list[ShotJob]:
    """Best-of-N: N takes per shot, differing only by seed, so each is its own paid render."""
    out = list(jobs)
    for k in range(1, max(1, takes_per_shot)):
        for job in jobs:
            vid = f"{job.shot_id}{VARIANT}{k}"
            out.append(
                ShotJob(
                    shot_id=vid,
                    candidates=[
                        c.model_copy(update={"shot_id": vid, "seed": (c.seed or 0) + k})
                        for c in job.candidates
                    ],
                    pinned=job.pinned,
                )
            )
    return out


def retry_job(job: ShotJob, prompt: str, round_: int) -> ShotJob:
    """The same shot again with a corrected prompt (a new render key, so it is really rendered)."""
    rid = f"{job.shot_id}{RETRY}{round_}"
    return ShotJob(
        shot_id=rid,
        candidates=[c.model_copy(update={"shot_id": rid, "prompt": prompt}) for c in job.candidates],
        pinned=job.pinned,
    )
