"""Seedream (ByteDance) image generation on BytePlus ModelArk / Volcengine Ark.

`POST {ark base}/images/generations` is synchronous: the answer carries the images (URLs valid
24 h, downloaded at once). Same key (`ARK_API_KEY`) and hosts as Seedance. Sources: research
video-apis.md §15.1 ([sdk] `byteplussdkarkruntime/resources/images/images.py`, prices [proxy]
ComfyUI badges 2026) and the BytePlus docs digest `image-seedream.md` (2026-08-03) for the size
limits, `output_format` and `seed` support.

Base URL: `SHOTLINE_SEEDREAM_BASE_URL`, else `SHOTLINE_SEEDANCE_BASE_URL` (one Ark account serves
both, so a user who pointed Seedance at Volcengine or a proxy gets Seedream there too).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar, Literal, NotRequired, TypedDict

import httpx
from pydantic import BaseModel, ConfigDict

from shotline.errors import ProviderError, RefusedPrompt
from shotline.tools.image.base import HostedImage, ImageCard, ImageRequest
from shotline.tools.video.media import url_or_data

PROVIDER = "seedream"
PATH = "/images/generations"
PRICE_SOURCE = "ComfyUI partner-node price badges per image (research §15.1) [proxy]"
PRICE_DATE = "2026"
MAX_PIXELS = 4096 * 4096
REFS_PLUS_OUTPUTS = 15  # "input reference images + generated images <= 15" (digest §3)


class SeedreamCard(ImageCard):
    """An image card plus the facts the request mapping needs."""

    min_pixels: int = 2560 * 1440
    png: bool = False  # `output_format` exists on 5.0 only; 4.x answer JPEG


def _card(model_id: str, display_name: str, usd: float, refs: int, **extra: Any) -> SeedreamCard:
    return SeedreamCard(
        name=PROVIDER,
        display_name=display_name,
        model_id=model_id,
        max_images=REFS_PLUS_OUTPUTS,
        reference_images=refs,
        seed=False,  # only 3.0 t2i and seededit honour `seed` (digest §8): never sent here
        usd_per_image=usd,
        price_source=PRICE_SOURCE,
        price_date=PRICE_DATE,
        typical_latency_s=15.0,  # a synchronous call; "~1.8 s per image" is ByteDance's best case [3rd]
        **extra,
    )


# Reference counts: research §15.1 says 14 for 5.0 lite and 10 for the others [proxy]; the digest says
# 14 for 4.0-5.0. The lower figure is used where they disagree.
CARDS: tuple[SeedreamCard, ...] = (
    _card("seedream-5-0-260128", "Seedream 5.0 lite", 0.035, 14, png=True),
    # 5.0 pro: $0.045 up to ~2.4 MP, $0.09 at 2K (§15.1); its id is in the research table but the digest
    # could not confirm it. Whether it takes `output_format` is unverified, so it is not sent.
    _card("seedream-5-0-pro-260628", "Seedream 5.0 pro", 0.045, 10),
    _card("seedream-4-5-251128", "Seedream 4.5", 0.04, 10),
    _card("seedream-4-0-250828", "Seedream 4.0", 0.03, 10, min_pixels=1280 * 720),
)


class GenerationBody(TypedDict):
    model: str
    prompt: str
    size: str
    sequential_image_generation: Literal["auto", "disabled"]
    response_format: Literal["url", "b64_json"]
    watermark: bool  # defaults to true for images: always say false
    image: NotRequired[list[str]]
    sequential_image_generation_options: NotRequired[dict[str, int]]
    output_format: NotRequired[Literal["png", "jpeg"]]


class Picture(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str | None = None
    b64_json: str | None = None
    size: str | None = None
    error: dict[str, Any] | None = None


class GenerationAnswer(BaseModel):
    """`ImagesResponse`: `{model, created, data: [{url|b64_json, size}], usage, error?}`."""

    model_config = ConfigDict(extra="ignore")
    data: list[Picture] = []
    error: dict[str, Any] | None = None


def pixel_size(width: int, height: int, card: SeedreamCard) -> str:
    """`"WxH"` within the model's pixel range, keeping the ratio: below the floor it is scaled up
    (5.0 lite and 4.5 take at least 2560x1440 worth of pixels, digest §2)."""
    pixels = width * height
    if pixels < card.min_pixels:
        scale = math.sqrt(card.min_pixels / pixels)
        width, height = math.ceil(width * scale), math.ceil(height * scale)
    elif pixels > MAX_PIXELS:
        scale = math.sqrt(MAX_PIXELS / pixels)
        width, height = math.floor(width * scale), math.floor(height * scale)
    return f"{width}x{height}"


def _is_volcengine(base_url: str) -> bool:
    host = httpx.URL(base_url).host.lower()
    return host == "volces.com" or host.endswith(".volces.com")


class Seedream(HostedImage):
    """Seedream through Ark. On a Volcengine host (`*.volces.com`) model ids take the `doubao-` prefix."""

    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "https://ark.ap-southeast.bytepluses.com/api/v3"
    key_names: ClassVar[tuple[str, ...]] = ("ARK_API_KEY",)
    cards: ClassVar[tuple[ImageCard, ...]] = CARDS
    shared_base_url_var: ClassVar[str | None] = "SHOTLINE_SEEDANCE_BASE_URL"
    card: SeedreamCard

    def _card(self, model_id: str | None) -> SeedreamCard:  # type: ignore[override]
        """A Volcengine id (`doubao-seedream-…`) names the same model as its BytePlus twin."""
        return super()._card(model_id.removeprefix("doubao-") if model_id else None)  # type: ignore[return-value]

    @property
    def wire_model_id(self) -> str:
        return f"doubao-{self.card.model_id}" if _is_volcengine(self.base_url) else self.card.model_id

    async def generate(self, request: ImageRequest, dest_dir: Path) -> list[Path]:
        self.require_available()
        answer = GenerationAnswer.model_validate(await self.call("POST", PATH, json=self.build_body(request)))
        paths = [await self.save_url(p.url, dest_dir) for p in answer.data if p.url]
        if not paths:
            raise self._no_images(answer)
        return paths

    def build_body(self, request: ImageRequest) -> GenerationBody:
        self.check(request)
        if len(request.references) + request.n > REFS_PLUS_OUTPUTS:
            raise ProviderError(
                f"references plus images asked for must be at most {REFS_PLUS_OUTPUTS}",
                provider=self.provider,
            )
        body: GenerationBody = {
            "model": self.wire_model_id,
            "prompt": request.prompt,
            "size": request.size or pixel_size(request.width, request.height, self.card),
            "sequential_image_generation": "auto" if request.n > 1 else "disabled",
            "response_format": "url",
            "watermark": False,
        }
        if request.references:
            body["image"] = [url_or_data(ref) for ref in request.references]
        if request.n > 1:  # `auto` lets the model return up to max_images related images (a turnaround)
            body["sequential_image_generation_options"] = {"max_images": request.n}
        if self.card.png:
            body["output_format"] = "png"
        return body

    def _no_images(self, answer: GenerationAnswer) -> ProviderError:
        """An answer without a single image: moderation skipped them all, or an error stopped the batch."""
        errors = [answer.error] if answer.error else []
        errors += [p.error for p in answer.data if p.error]
        code = next((str(e.get("code", "")) for e in errors if e.get("code")), "")
        message = next((str(e.get("message", "")) for e in errors if e.get("message")), "")
        if "SensitiveContentDetected" in code:
            return RefusedPrompt(f"refused by moderation: {code} {message}".strip(), provider=self.provider)
        return ProviderError(f"the answer carried no image {code} {message}".rstrip(), provider=self.provider)

    def _refusal(self, status: int, body: Any) -> bool:
        """400 `InputTextSensitiveContentDetected`, `InputImageSensitiveContentDetected[.…]` (§3.4)."""
        return status == 400 and "SensitiveContentDetected" in _code(body)

    def _permanent(self, status: int, body: Any) -> bool:
        """`QuotaExceeded` and `SetLimitExceeded` arrive as 429 but waiting does not help (§3.4)."""
        return _code(body) in {"QuotaExceeded", "SetLimitExceeded"}


def _code(body: Any) -> str:
    err = body.get("error") if isinstance(body, dict) else None
    return str(err.get("code", "")) if isinstance(err, dict) else ""
