"""The one protocol every image model implements: keyframes and reference sheets, written to disk.

An image model turns an `ImageRequest` into files in a folder, each named by its content hash, and
says what it costs on an `ImageCard`. Hosted wrappers (Seedream, GPT image, FLUX) are thin
translations of their provider's API built on the video wrappers' `Hosted` plumbing (base URL
override, key, error mapping, downloads); `local.py` draws sheets offline. No policy here: no
retries, no fallbacks, no budget.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import httpx
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

from shotline.errors import ProviderError, TransientProviderError, UnknownOutcome
from shotline.tools.video.base import MediaRef
from shotline.tools.video.http import Hosted
from shotline.tools.video.media import media_bytes

# what PIL calls a format -> the file suffix Shotline stores it under
SUFFIXES: dict[str, str] = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}


class SheetSubject(BaseModel):
    """Who or what a sheet shows, for the offline renderer; hosted models read the prompt instead."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["character", "set"]
    name: str
    color: str = Field(description="'#rrggbb' from the bible: the figure's clothes, or the set's backdrop")
    interior: bool = True
    night: bool = False


class ImageRequest(BaseModel):
    """One image job: a keyframe, a character reference sheet or a set plate."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    prompt: str
    width: int = Field(default=1024, ge=16)
    height: int = Field(default=1024, ge=16)
    size: str | None = Field(
        default=None, description="the provider's own size word ('2K', 'auto'); wins over width/height"
    )
    n: int = Field(default=1, ge=1, le=15, description="images wanted")
    references: tuple[MediaRef, ...] = Field(default=(), description="images that pin identity and style")
    seed: int | None = None
    subject: SheetSubject | None = Field(default=None, description="what the offline renderer draws")


class ImageCard(BaseModel):
    """What one image model can do and what it costs; read by the bible builder and the estimate."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="provider name: 'seedream', 'openai', 'flux', 'local'")
    display_name: str
    model_id: str = ""
    local: bool = False
    max_images: int = Field(default=1, description="most images one request may ask for")
    reference_images: int = 0
    seed: bool = False
    usd_per_image: float = 0.0
    price_source: str = ""
    price_date: str = ""
    typical_latency_s: float = 0.0

    def cost(self, n: int = 1) -> float:
        return round(self.usd_per_image * n, 4)


class ImageFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str
    sha256: str
    width: int
    height: int
    mime: str


class ImageResult(BaseModel):
    """The files one request produced, hashed, with what they cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str
    model_id: str
    files: tuple[ImageFile, ...]
    cost_usd: float

    @classmethod
    def of(cls, card: ImageCard, paths: Sequence[Path]) -> ImageResult:
        return cls(
            model=card.name,
            model_id=card.model_id,
            files=tuple(describe(p) for p in paths),
            cost_usd=card.cost(len(paths)),
        )


@runtime_checkable
class ImageModel(Protocol):
    """Make images; implementations hold no policy."""

    card: ImageCard

    def unavailable_reason(self) -> str | None:
        """Why this model cannot be called here (no key), or None when it can."""
        ...

    def key_payload(self, request: ImageRequest) -> dict[str, Any]:
        """The part of the request that determines the output; hashed into the image's cache key."""
        ...

    async def generate(self, request: ImageRequest, dest_dir: Path) -> list[Path]:
        """Write the images into `dest_dir`, each named by its sha256, and return their paths."""
        ...


async def render_images(model: ImageModel, request: ImageRequest, dest_dir: Path) -> ImageResult:
    """`generate`, then hash and measure what it wrote."""
    return ImageResult.of(model.card, await model.generate(request, dest_dir))


# --- files ---------------------------------------------------------------------------------------


def describe(path: Path) -> ImageFile:
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        width, height, fmt = img.width, img.height, img.format or ""
    return ImageFile(
        path=str(path),
        sha256=hashlib.sha256(data).hexdigest(),
        width=width,
        height=height,
        mime=Image.MIME.get(fmt, "application/octet-stream"),
    )


def image_suffix(data: bytes, provider: str) -> str:
    """The suffix for an image's bytes; a provider that returns something else has failed."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
    except (UnidentifiedImageError, OSError):
        raise ProviderError("returned a file that is not an image", provider=provider) from None
    return SUFFIXES.get(fmt, f".{fmt.lower() or 'img'}")


def write_image(data: bytes, dest_dir: Path, provider: str) -> Path:
    """Store `data` as `<sha256[:16]><suffix>` in `dest_dir`, atomically: the same image is one file."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / f"{hashlib.sha256(data).hexdigest()[:16]}{image_suffix(data, provider)}"
    if not path.exists():
        part = dest_dir / f".{uuid.uuid4().hex}.part"
        part.write_bytes(data)
        os.replace(part, path)
    return path


def decode_b64(b64: str, provider: str) -> bytes:
    try:
        return base64.b64decode(b64, validate=True)
    except ValueError:
        raise ProviderError("returned an image that is not valid base64", provider=provider) from None


# --- HTTP ---------------------------------------------------------------------------------------

FileField = tuple[str, tuple[str, bytes, str]]  # (form field, (file name, bytes, mime))


async def send_multipart(
    model: Hosted,
    path: str,
    *,
    fields: Mapping[str, str],
    files: Sequence[FileField],
    billable: bool,
) -> Any:
    """One multipart POST with `Hosted.call`'s error mapping (which only sends JSON).

    A timeout after the upload was sent is `UnknownOutcome` when the call may have been billed
    (an image edit), and only transient when sending again is harmless (a content-named upload).
    """
    model.require_available()
    try:
        response = await model.client.post(
            f"{model.base_url}{path}", data=dict(fields), files=list(files), headers=model.auth_headers()
        )
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise TransientProviderError(
            f"cannot connect: {type(exc).__name__}", provider=model.provider
        ) from exc
    except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        if billable:
            raise UnknownOutcome(
                f"no answer to POST {path} ({type(exc).__name__}); it may have run and been billed",
                provider=model.provider,
            ) from exc
        raise TransientProviderError(f"{type(exc).__name__} on POST {path}", provider=model.provider) from exc
    return model.decode(response)


class HostedImage(Hosted):
    """`Hosted` for image APIs: the same key, base URL and error mapping, image cards, file output.

    Video-only parts of `Hosted` (`fetch`, the render-request key payload) are not used here.
    """

    cards: ClassVar[tuple[ImageCard, ...]]  # type: ignore[assignment]
    card: ImageCard  # type: ignore[assignment]

    def key_payload(self, request: ImageRequest) -> dict[str, Any]:  # type: ignore[override]
        return image_key_payload(request, self.card)

    def check(self, request: ImageRequest) -> None:
        """Refuse, before anything is sent, a request this model cannot take."""
        check_request(self.card, request)

    async def save_url(self, url: str, dest_dir: Path) -> Path:
        """Download a result URL at once (they expire, Seedream's in 24 h) and store it by content."""
        dest_dir.mkdir(parents=True, exist_ok=True)
        tmp = await self.download(url, dest_dir / f".{uuid.uuid4().hex}.download")
        try:
            return write_image(tmp.read_bytes(), dest_dir, self.provider)
        finally:
            tmp.unlink(missing_ok=True)


def check_request(card: ImageCard, request: ImageRequest) -> None:
    if request.n > card.max_images:
        raise ProviderError(
            f"{card.model_id or card.display_name} makes at most {card.max_images} image(s) a request, "
            f"{request.n} were asked for",
            provider=card.name,
        )
    refs = request.references
    if any(ref.kind != "image" for ref in refs):
        raise ProviderError("takes image references only, not video or audio", provider=card.name)
    if len(refs) > card.reference_images:
        raise ProviderError(
            f"{card.model_id or card.display_name} takes at most {card.reference_images} reference image(s), "
            f"the request has {len(refs)}",
            provider=card.name,
        )


def image_key_payload(request: ImageRequest, card: ImageCard) -> dict[str, Any]:
    """Everything that shapes the output; references by content, not by where they are stored."""
    payload = request.model_dump(mode="json", exclude={"references"})
    payload["references"] = [
        r.model_dump(mode="json", include={"sha256", "name"}) for r in request.references
    ]
    return {**payload, "provider": card.name, "model_id": card.model_id}


def reference_bytes(ref: MediaRef, provider: str) -> tuple[str, bytes, str]:
    """(file name, bytes, mime) of a local reference, for multipart uploads."""
    if not ref.path:
        raise ProviderError(
            f"reference {ref.name or ref.sha256[:12]} must be a local file to upload it", provider=provider
        )
    return Path(ref.path).name, media_bytes(ref), ref.mime
