"""Reference images for hosted video models: character views, set plates, keyframes, and which of
them each shot sends.

A video model keeps nothing between shots; a character stays recognisable from every angle when
each shot carries the right view of them (the back view for a shot from behind, the face for a
close-up), and a set matches after a cut when its empty plate rides along, its landmarks in place.
A shot that describes someone without naming them ('the courier skids to a stop') carries that
character's views too when the bible's meaning search says so. Views are made once per
character description: by the offline renderer as one turnaround sheet cut into its four panels,
or by a hosted image model as a front view first, then face, side and back drawn from that front
so they agree. Everything is stored by content and reused by every shot and every rerun.
Keyframes (a first frame for image-to-video models) need a real image model: offline, none.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from shotline.memory.models import Character, Location, Shot
from shotline.memory.store import atomic_write
from shotline.tools.image.base import ImageModel, ImageRequest, SheetSubject, render_images
from shotline.tools.image.local import SetSubject, panel_boxes
from shotline.tools.text import mentions
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, SetMark, render_key

SHEET_SIZE = (1536, 1024)
VIEW_SIZE = (768, 1024)
PLATE_SIZE = (1280, 720)
VIEWS = ("face", "front", "side", "back")
_FROM_BEHIND = re.compile(
    r"\b(from behind|back to (the )?camera|walks? away|turns? away|over (her|his|their) shoulder)\b|背对|背影|转身离开",
    re.IGNORECASE,
)


def sheet_request(character: Character, style: str) -> ImageRequest:
    """A turnaround sheet (the offline renderer's form): face, front, side and back side by side."""
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


def view_request(character: Character, view: str, style: str, front: MediaRef | None = None) -> ImageRequest:
    """One view for a hosted image model; every view but the front is drawn from the front."""
    what = {
        "front": "full body, facing the camera",
        "face": "face close-up, head and shoulders",
        "side": "full body, side profile facing left",
        "back": "full body, seen from behind",
    }[view]
    prompt = (
        f"{character.name}: {character.description}. {what}, neutral pose, plain light background, "
        "even lighting, no text." + (" Same person, costume and proportions as the reference image." if front else "")
        + (f" Style: {style}." if style else "")
    )  # fmt: skip
    return ImageRequest(
        prompt=prompt, width=VIEW_SIZE[0], height=VIEW_SIZE[1], references=(front,) if front else ()
    )


def plate_request(location: Location, night: bool, style: str) -> ImageRequest:
    """The empty set, as an establishing plate: where everything stands, with nobody in it. The
    layout's landmarks are named left to right in the prompt and drawn at their x offline, so every
    shot of the set is sent the same door in the same place."""
    time = "night" if night else "day"
    marks = sorted(location.layout.landmarks, key=lambda m: m.x)
    layout = " Left to right: " + ", ".join(f"{m.name} ({_side(m.x)})" for m in marks) + "." if marks else ""
    prompt = (
        f"Empty establishing plate of {location.description} ({location.interior}, {time}). "
        f"No people. Wide, eye level, every fixed landmark visible.{layout}"
        + (f" Style: {style}." if style else "")
    )
    return ImageRequest(
        prompt=prompt,
        width=PLATE_SIZE[0],
        height=PLATE_SIZE[1],
        subject=SetSubject(
            kind="set",
            name=location.name,
            color=location.color,
            interior=location.interior != "EXT",
            night=night,
            landmarks=tuple(SetMark(name=m.name, kind=m.kind, x=m.x) for m in marks),
        ),
    )


_SIDES = ((0.2, "far left"), (0.4, "left"), (0.6, "centre"), (0.8, "right"))


def _side(x: float) -> str:
    """Where on the plate a landmark stands, in the words an image model follows."""
    return next((word for bound, word in _SIDES if x < bound), "far right")


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

    def _index(self, request: ImageRequest, part: str = "") -> Path:
        key = render_key({**self.model.key_payload(request), "part": part})
        return self.root / "index" / f"{key}.json"

    def cached(self, request: ImageRequest, part: str = "") -> MediaRef | None:
        index = self._index(request, part)
        if not index.exists():
            return None
        ref = MediaRef.model_validate_json(index.read_text("utf-8"))
        return ref if ref.path and Path(ref.path).exists() else None

    def cost(self, requests: list[ImageRequest]) -> float:
        """What making the images not yet stored would cost (the same image counts once)."""
        unique = {self._index(r): r for r in requests}
        return round(sum(self.model.card.cost(1) for r in unique.values() if self.cached(r) is None), 4)

    def _remember(self, request: ImageRequest, ref: MediaRef, part: str = "") -> MediaRef:
        atomic_write(self._index(request, part), ref.model_dump_json())
        return ref

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
        return self._remember(request, ref)

    def crop(
        self, request: ImageRequest, sheet: MediaRef, part: str, box: tuple[int, int, int, int], name: str
    ) -> MediaRef:
        """A panel of a stored image, itself stored by content (a sheet's four views)."""
        found = self.cached(request, part)
        if found is not None:
            return found.model_copy(update={"name": name})
        buf = io.BytesIO()
        with Image.open(sheet.path) as img:  # type: ignore[arg-type]
            img.crop(box).save(buf, "PNG")
        data = buf.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        path = atomic_write(self.root / "files" / f"{sha[:16]}.png", data)
        return self._remember(request, MediaRef(kind="image", sha256=sha, path=str(path), name=name), part)


UPLOAD_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def uploaded_views(folder: Path | None, character: Character) -> dict[str, MediaRef]:
    """Views a person supplied: `<folder>/<NAME or id>.<view>.png` (e.g. `MEI.front.png`) replaces
    that view; a missing folder or file simply means none."""
    if folder is None or not folder.is_dir():
        return {}
    found = {}
    for view in VIEWS:
        for stem in (character.name, character.id):
            path = next(
                (
                    folder / f"{stem}.{view}{ext}"
                    for ext in UPLOAD_SUFFIXES
                    if (folder / f"{stem}.{view}{ext}").is_file()
                ),
                None,
            )
            if path is not None:
                data = path.read_bytes()
                mime = (
                    "image/jpeg"
                    if path.suffix.lower() in {".jpg", ".jpeg"}
                    else f"image/{path.suffix.lower()[1:]}"
                )
                found[view] = MediaRef(
                    sha256=hashlib.sha256(data).hexdigest(),
                    path=str(path),
                    name=f"{character.name}, {view} view",
                    mime=mime,
                )
                break
    return found


async def character_views(
    character: Character, style: str, assets: ImageAssets, uploads: dict[str, MediaRef] | None = None
) -> dict[str, MediaRef]:
    """Face, front, side and back views of a character, agreeing with each other. An uploaded view
    replaces the made one; with a hosted image model an uploaded front is what the others are drawn from."""
    uploads = uploads or {}
    if assets.model.card.local:
        request = sheet_request(character, style)
        sheet = await assets.get(request, name=f"{character.name}, turnaround sheet")
        boxes = panel_boxes(*SHEET_SIZE)
        return {
            view: uploads.get(view)
            or assets.crop(request, sheet, view, box, f"{character.name}, {view} view")
            for view, box in zip(VIEWS, boxes, strict=True)
        }
    front = uploads.get("front") or await assets.get(
        view_request(character, "front", style), name=f"{character.name}, front view"
    )
    views = {"front": front}
    for view in ("face", "side", "back"):
        views[view] = uploads.get(view) or await assets.get(
            view_request(character, view, style, front), name=f"{character.name}, {view} view"
        )
    return views


def views_wanted(shot: Shot) -> tuple[str, ...]:
    """The views of a character that fit a shot, best first: the back for a shot from behind,
    the face for a close-up, the full figure for wider framings."""
    if _FROM_BEHIND.search(shot.action):
        return ("back", "side", "front")
    if shot.framing == "close-up":
        return ("face", "front")
    if shot.framing in {"medium", "two-shot"}:
        return ("front", "face", "side")
    return ("front", "side")


def select_references(
    shot: Shot,
    views: dict[str, dict[str, MediaRef]],
    plate: MediaRef | None,
    slots: int,
    described: Sequence[str] = (),
) -> tuple[MediaRef, ...]:
    """Up to `slots` references for a shot: each character's best view (the subject first, then the
    characters the shot `described` without naming them), then the set plate, then each character's
    next views. An insert shows an object: the set only."""
    if slots <= 0:
        return ()
    cast = [] if shot.framing == "insert" else [c for c in shot.characters if c in views]
    if shot.subject in cast:
        cast.remove(shot.subject)
        cast.insert(0, shot.subject)
    if shot.framing != "insert":
        cast += [c for c in dict.fromkeys(described) if c in views and c not in cast]
    wanted = views_wanted(shot)
    ranked: list[MediaRef] = [views[c][wanted[0]] for c in cast if wanted[0] in views[c]]
    if plate is not None:
        ranked.append(plate)
    for view in wanted[1:]:
        ranked += [views[c][view] for c in cast if view in views[c]]
    unique = list(dict.fromkeys(ranked))
    return tuple(unique[:slots])


Described = Callable[[str], Sequence[tuple[Character, float]]]
"""Characters a text describes, best first, none below the similarity threshold: `Bible.described`."""


def shot_text(shot: Shot) -> str:
    """What a shot says about who is in it: its action, and its subject unless that is a cast id."""
    subject = shot.subject if shot.subject and shot.subject not in shot.characters else ""
    return " ".join(t for t in (shot.action.strip(), subject.strip()) if t)


def described_cast(shot: Shot, described: Described | None) -> list[str]:
    """Characters the shot describes without naming them ('the courier skids to a stop' where MEI is
    'a courier in a yellow raincoat'), best first. A character the storyboard left out by name (a
    close-up on KAITO while 'MEI hands KAITO the parcel') stays out; an insert shows no one."""
    if described is None or shot.framing == "insert":
        return []
    text = shot_text(shot)
    if not text:
        return []
    return [
        c.id
        for c, _score in described(text)
        if c.id not in shot.characters and not mentions(text, c.name) and not mentions(text, c.id)
    ]


def attach(
    request: RenderRequest, card: ModelCard, refs: tuple[MediaRef, ...], keyframe: MediaRef | None
) -> RenderRequest:
    """The request as a given model can take it: its references up to the model's slots, or the
    keyframe as its first frame for image-to-video models without reference slots."""
    refs = refs[: card.reference_images]
    first = keyframe if keyframe is not None and not refs and card.image_to_video else None
    return request.model_copy(update={"references": refs, "first_frame": first})
