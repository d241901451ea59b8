"""OpenAI GPT image: `POST /v1/images/generations`, or `POST /v1/images/edits` with reference images.

Both are synchronous and GPT image models answer with base64 only (`data[].b64_json`). Sources:
research video-apis.md §15.2 ([sdk] openai-python `image_generate_params.py`,
`image_edit_params.py`, `image_model.py`, 2026-08-21); gpt-image-2 size rules and the
`moderation_blocked` error body from third-party copies (cited on each card / function).
Base URL: `SHOTLINE_OPENAI_BASE_URL` (default https://api.openai.com/v1), for Azure-style proxies
and resellers that speak the same API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal, NotRequired, TypedDict

from pydantic import BaseModel, ConfigDict

from shotline.errors import ProviderError
from shotline.tools.image.base import (
    HostedImage,
    ImageCard,
    ImageRequest,
    decode_b64,
    reference_bytes,
    send_multipart,
    write_image,
)

PROVIDER = "openai"
GENERATIONS = "/images/generations"
EDITS = "/images/edits"
QUALITY: Literal["medium"] = "medium"  # the cards' prices are for this tier
FIXED_SIZES = {"1024x1024": 1.0, "1536x1024": 1.5, "1024x1536": 1024 / 1536}


class OpenAIImageCard(ImageCard):
    free_size: bool = False  # gpt-image-2 takes any WxH within its limits; 1.x only three sizes


def _card(
    model_id: str, display_name: str, usd: float, source: str, date: str, **extra: Any
) -> OpenAIImageCard:
    return OpenAIImageCard(
        name=PROVIDER,
        display_name=display_name,
        model_id=model_id,
        max_images=10,  # `n` 1-10
        reference_images=16,  # edits: up to 16 input images [3rd] docs.apiyi.com; 1.x limit recalled
        seed=False,  # the Images API has no seed
        usd_per_image=usd,
        price_source=f"{source}; medium quality, 1024x1024",
        price_date=date,
        typical_latency_s=40.0,  # a synchronous call; tens of seconds at medium quality [recalled]
        **extra,
    )


CARDS: tuple[OpenAIImageCard, ...] = (
    # token-priced; per-image figure is fal's estimate for its hosted copy [3rd]
    _card(
        "gpt-image-2",
        "GPT Image 2",
        0.07,
        "estimate, fal.ai/models/openai/gpt-image-2 (quoted by skills.sh) [3rd]",
        "2026-05",
        free_size=True,
    ),
    _card("gpt-image-1.5", "GPT Image 1.5", 0.034, "per-image table, docs.apiyi.com [3rd]", "2026"),
    _card(
        "gpt-image-1", "GPT Image 1", 0.042, "OpenAI per-image price, as listed on fal.ai gpt-image-1", "2026"
    ),
    _card(
        "gpt-image-1-mini",
        "GPT Image 1 mini",
        0.011,
        "developers.openai.com/api/docs/models/gpt-image-1-mini (stored copy)",
        "2026",
    ),
)


class GenerationBody(TypedDict):
    model: str
    prompt: str
    n: int
    size: str
    quality: str
    output_format: NotRequired[Literal["png", "jpeg", "webp"]]


class Picture(BaseModel):
    model_config = ConfigDict(extra="ignore")
    b64_json: str | None = None
    url: str | None = None


class ImagesResponse(BaseModel):
    """`{created, data: [{b64_json}], background, output_format, quality, size, usage}`."""

    model_config = ConfigDict(extra="ignore")
    data: list[Picture] = []


def free_size(width: int, height: int) -> str:
    """gpt-image-2: sides multiples of 16, ratio at most 3:1, 655,360-8,294,400 pixels, edge <= 3840
    ([3rd] docs.anyfast.ai copy of the model reference). Keeps the ratio, rounding to 16."""
    ratio = min(max(width / height, 1 / 3), 3.0)
    pixels = min(max(width * height, 655_360), 8_294_400)
    h = (pixels / ratio) ** 0.5
    w, h = min(ratio * h, 3840), min(h, 3840)
    return f"{max(16, round(w / 16) * 16)}x{max(16, round(h / 16) * 16)}"


def fixed_size(width: int, height: int) -> str:
    """gpt-image-1.x: the one of its three sizes nearest in shape."""
    ratio = width / height
    return min(FIXED_SIZES, key=lambda s: abs(FIXED_SIZES[s] - ratio))


class OpenAIImage(HostedImage):
    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    key_names: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    cards: ClassVar[tuple[ImageCard, ...]] = CARDS
    card: OpenAIImageCard

    async def generate(self, request: ImageRequest, dest_dir: Path) -> list[Path]:
        self.require_available()
        body = self.build_body(request)
        if request.references:
            answer = await send_multipart(
                self, EDITS, fields=_form(body), files=self._reference_files(request), billable=True
            )
        else:
            answer = await self.call("POST", GENERATIONS, json=body)
        pictures = ImagesResponse.model_validate(answer).data
        paths = [
            write_image(decode_b64(p.b64_json, self.provider), dest_dir, self.provider)
            for p in pictures
            if p.b64_json
        ]
        if not paths:
            raise ProviderError("the answer carried no image", provider=self.provider)
        return paths

    def build_body(self, request: ImageRequest) -> GenerationBody:
        self.check(request)
        size = request.size or (
            free_size(request.width, request.height)
            if self.card.free_size
            else fixed_size(request.width, request.height)
        )
        return {
            "model": self.card.model_id,
            "prompt": request.prompt,
            "n": request.n,
            "size": size,
            "quality": QUALITY,
            "output_format": "png",
        }

    def _reference_files(self, request: ImageRequest) -> list[tuple[str, tuple[str, bytes, str]]]:
        """`image[]`: the SDK's field name for a list of input images (one is plain `image`)."""
        field = "image[]" if len(request.references) > 1 else "image"
        return [(field, reference_bytes(ref, self.provider)) for ref in request.references]

    def _refusal(self, status: int, body: Any) -> bool:
        """400 `{"error": {"code": "moderation_blocked", "type": "image_generation_user_error"}}`
        (GPT image); `content_policy_violation` was the DALL·E spelling."""
        return status == 400 and _error(body).get("code") in {
            "moderation_blocked",
            "content_policy_violation",
        }

    def _permanent(self, status: int, body: Any) -> bool:
        """429 `insufficient_quota`: out of credit, waiting does not help."""
        err = _error(body)
        return "insufficient_quota" in {err.get("code"), err.get("type")}


def _form(body: GenerationBody) -> dict[str, str]:
    return {key: str(value) for key, value in body.items()}


def _error(body: Any) -> dict[str, Any]:
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}
