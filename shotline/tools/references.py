"""Reference images for hosted video models: a sheet per character, a keyframe per shot.

A video model keeps nothing between shots; a character stays recognisable when every shot that
shows them carries the same reference sheet. Sheets are made once per character description by
the configured image model (the offline renderer when none is), stored by content, and reused by
every shot and every rerun. Keyframes (a first frame for image-to-video models) need a real image
model: the offline renderer draws sheets and plates, not scenes, so offline there are none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from shotline.memory.models import Breakdown, Character, Shot
from shotline.memory.store import atomic_write
from shotline.tools.image.base import ImageModel, ImageRequest, SheetSubject, render_images
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, render_key

SHEET_SIZE = (1536, 1024)


def sheet_request(character: Character, style: str) -> ImageRequest:
    """A turnaround sheet: face close-up, front, side and back, on a plain background."""
    prompt = (
        f"Character reference sheet of {character.name}: {character.description}. "
        "Four views side by side on a plain light background: face close-up, full body front, "
        "full body side profile, full body back. Same costume and proportions in every view, "
        "neutral pose, even lighting, no text." + (f" Style: {style}." if style else "")
    )
    return ImageRequest(
        prompt=prompt,
        width=SHEET_SIZE[0],
        height=SHEET_SIZE[1],
        subject=SheetSubject(kind="character", name=character.name, color=character.color),
    )


def keyframe_request(shot: Shot, refs: tuple[MediaRef, ...], width: int, height: int) -> ImageRequest:
    return ImageRequest(
        prompt=f"First frame of the shot. {shot.prompt}", width=width, height=height, references=refs
    )


@dataclass
class ImageAssets:
    """Images by request key under `root`: made once, then found again by every later run."""

    root: Path
    model: ImageModel
    spent_usd: float = 0.0  # what images made through this object cost

    def _index(self, request: ImageRequest) -> Path:
        key = render_key(self.model.key_payload(request))
        return self.root / "index" / f"{key}.json"

    def cached(self, request: ImageRequest) -> MediaRef | None:
        index = self._index(request)
        if not index.exists():
            return None
        ref = MediaRef.model_validate_json(index.read_text("utf-8"))
        return ref if ref.path and Path(ref.path).exists() else None

    def cost(self, requests: list[ImageRequest]) -> float:
        """What making the images not yet stored would cost (the same image counts once)."""
        unique = {self._index(r): r for r in requests}
        return round(sum(self.model.card.cost(1) for r in unique.values() if self.cached(r) is None), 4)

    async def get(self, request: ImageRequest, *, name: str, role: str = "reference") -> MediaRef:
        found = self.cached(request)
        if found is not None:
            return found.model_copy(update={"name": name, "role": role})
        result = await render_images(self.model, request, self.root / "files")
        self.spent_usd = round(self.spent_usd + result.cost_usd, 4)
        image = result.files[0]
        ref = MediaRef(
            kind="image", role=role, sha256=image.sha256, path=image.path, name=name, mime=image.mime
        )  # type: ignore[arg-type]
        atomic_write(self._index(request), ref.model_dump_json())
        return ref


def sheet_requests(breakdown: Breakdown) -> dict[str, ImageRequest]:
    return {c.id: sheet_request(c, breakdown.style) for c in breakdown.characters}


async def character_sheets(breakdown: Breakdown, assets: ImageAssets) -> dict[str, MediaRef]:
    """character id -> the reference sheet every shot of that character carries."""
    refs = {}
    for cid, request in sheet_requests(breakdown).items():
        refs[cid] = await assets.get(request, name=f"{breakdown.character(cid).name}, reference sheet")
    return refs


def attach(
    request: RenderRequest,
    card: ModelCard,
    shot: Shot,
    sheets: dict[str, MediaRef],
    keyframe: MediaRef | None,
) -> RenderRequest:
    """The request as a given model can take it: the sheets of the shot's characters (speaker first)
    up to the model's reference slots, or the keyframe as its first frame for image-to-video models."""
    order = [shot.subject] if shot.subject in shot.characters else []
    order += [c for c in shot.characters if c not in order]
    refs = tuple(sheets[c] for c in order if c in sheets)[: card.reference_images]
    first = keyframe if keyframe is not None and not refs and card.image_to_video else None
    return request.model_copy(update={"references": refs, "first_frame": first})


def describe_refs(refs: dict[str, MediaRef]) -> str:
    return json.dumps({k: v.name for k, v in refs.items()}, ensure_ascii=False)
