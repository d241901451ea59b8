"""FLUX (Black Forest Labs) through fal's queue API.

Submit `POST https://queue.fal.run/{app}` with the model input as the body, poll the
`status_url` it answers with (`IN_QUEUE`, `IN_PROGRESS`, `COMPLETED`; `COMPLETED` with `error`
is a failure), read `response_url`, download `images[].url`. Auth `Authorization: Key <FAL_KEY>`.
Sources: research video-apis.md §11 ([sdk] `fal-ai/fal` client 2026-08-21) and §15.3. The app ids
and input fields below are fal's public ones as seen in client code and third-party pages; research
§15.3 did not open each schema, so they are [unverified] against fal's model pages.

Base URL: `SHOTLINE_FLUX_BASE_URL`, else `SHOTLINE_FAL_BASE_URL` (same key, same queue).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from shotline.errors import ProviderError, RefusedPrompt, UnknownOutcome
from shotline.tools.image.base import HostedImage, ImageCard, ImageRequest
from shotline.tools.video.media import url_or_data

PROVIDER = "flux"
POLL_INTERVAL_S = 1.0
MAX_WAIT_S = 300.0
# Kontext's `aspect_ratio` enum [unverified]
ASPECT_RATIOS = {
    name: int(w) / int(h)
    for name in ("21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21")
    for w, h in [name.split(":")]
}


@dataclass(frozen=True)
class Apps:
    """Which fal app a request goes to: text only, one reference, several references."""

    text: str
    one: str
    many: str
    size_field: Literal["aspect_ratio", "image_size"]  # Kontext takes a ratio, FLUX.2 a size


APPS: dict[str, Apps] = {
    "fal-ai/flux-pro/kontext": Apps(
        "fal-ai/flux-pro/kontext/text-to-image",
        "fal-ai/flux-pro/kontext",
        "fal-ai/flux-pro/kontext/multi",
        "aspect_ratio",
    ),
    "fal-ai/flux-pro/kontext/max": Apps(
        "fal-ai/flux-pro/kontext/max/text-to-image",
        "fal-ai/flux-pro/kontext/max",
        "fal-ai/flux-pro/kontext/max/multi",
        "aspect_ratio",
    ),
    "fal-ai/flux-2-pro": Apps(
        "fal-ai/flux-2-pro", "fal-ai/flux-2-pro/edit", "fal-ai/flux-2-pro/edit", "image_size"
    ),
}


def _card(model_id: str, display_name: str, usd: float, source: str, refs: int) -> ImageCard:
    return ImageCard(
        name=PROVIDER,
        display_name=display_name,
        model_id=model_id,
        max_images=4,  # `num_images` 1-4 [unverified]
        reference_images=refs,
        seed=True,
        usd_per_image=usd,
        price_source=source,
        price_date="2026",
        typical_latency_s=10.0,  # queue plus a few seconds of inference [recalled]
    )


CARDS: tuple[ImageCard, ...] = (
    _card(
        "fal-ai/flux-pro/kontext",
        "FLUX.1 Kontext [pro]",
        0.04,
        "BFL list price per image, quoted by docs.apiyi.com [3rd]",
        4,
    ),
    _card(
        "fal-ai/flux-pro/kontext/max",
        "FLUX.1 Kontext [max]",
        0.08,
        "BFL list price per image, quoted by docs.apiyi.com [3rd]",
        4,
    ),
    # FLUX.2 [pro]: BFL prices by megapixel, "from $0.03" text-to-image, "from $0.045" editing (docs.bfl.ai pricing)
    _card(
        "fal-ai/flux-2-pro",
        "FLUX.2 [pro]",
        0.03,
        "docs.bfl.ai pricing, first megapixel, text-to-image (BFL direct)",
        8,
    ),
)


class QueueTicket(BaseModel):
    """The submit answer: `{request_id, response_url, status_url, cancel_url}`. Use these URLs."""

    model_config = ConfigDict(extra="ignore")
    request_id: str
    status_url: str
    response_url: str


class QueueStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: Literal["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
    error: str | None = None
    error_type: str | None = None


class Picture(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str


class Output(BaseModel):
    """`{images: [{url, width, height, content_type}], seed, has_nsfw_concepts, timings}`."""

    model_config = ConfigDict(extra="ignore")
    images: list[Picture] = []
    has_nsfw_concepts: list[bool] = []


def aspect_ratio(width: int, height: int) -> str:
    """Kontext's `aspect_ratio` enum value nearest in shape."""
    ratio = width / height
    return min(ASPECT_RATIOS, key=lambda name: abs(ASPECT_RATIOS[name] - ratio))


class Flux(HostedImage):
    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "https://queue.fal.run"
    key_names: ClassVar[tuple[str, ...]] = ("FAL_KEY",)
    cards: ClassVar[tuple[ImageCard, ...]] = CARDS
    shared_base_url_var: ClassVar[str | None] = "SHOTLINE_FAL_BASE_URL"
    poll_interval_s: float = POLL_INTERVAL_S
    max_wait_s: float = MAX_WAIT_S

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.api_key}"}

    @property
    def apps(self) -> Apps:
        return APPS[self.card.model_id]

    def app_for(self, request: ImageRequest) -> str:
        count = len(request.references)
        return self.apps.text if count == 0 else self.apps.one if count == 1 else self.apps.many

    async def generate(self, request: ImageRequest, dest_dir: Path) -> list[Path]:
        self.require_available()
        body = self.build_body(request)
        ticket = QueueTicket.model_validate(await self.call("POST", f"/{self.app_for(request)}", json=body))
        await self._wait(ticket)
        answer = await self.call("GET", f"/requests/{ticket.request_id}", url=ticket.response_url)
        output = Output.model_validate(answer)
        return [await self.save_url(url, dest_dir) for url in self._clean_urls(output)]

    def build_body(self, request: ImageRequest) -> dict[str, Any]:
        self.check(request)
        body: dict[str, Any] = {"prompt": request.prompt, "num_images": request.n, "output_format": "png"}
        if self.apps.size_field == "aspect_ratio":
            body["aspect_ratio"] = aspect_ratio(request.width, request.height)
        else:
            body["image_size"] = {"width": request.width, "height": request.height}
        if request.seed is not None:
            body["seed"] = request.seed
        refs = [url_or_data(ref) for ref in request.references]
        if len(refs) == 1 and self.apps.one != self.apps.many:
            body["image_url"] = refs[0]
        elif refs:
            body["image_urls"] = refs
        return body

    async def _wait(self, ticket: QueueTicket) -> None:
        """Poll the queue until the request completes; `COMPLETED` with `error` is a failure (§11)."""
        deadline = time.monotonic() + self.max_wait_s
        while True:
            answer = await self.call("GET", f"/requests/{ticket.request_id}/status", url=ticket.status_url)
            status = QueueStatus.model_validate(answer)
            if status.status == "COMPLETED":
                if status.error:
                    why = " ".join(filter(None, (status.error_type, status.error)))
                    raise ProviderError(f"request {ticket.request_id} failed: {why}", provider=self.provider)
                return
            if time.monotonic() > deadline:  # it may still run, and be billed: not worth a blind retry
                raise UnknownOutcome(
                    f"request {ticket.request_id} still {status.status} after {self.max_wait_s:.0f} s; "
                    "it may still finish and be billed",
                    provider=self.provider,
                )
            await asyncio.sleep(self.poll_interval_s)

    def _clean_urls(self, output: Output) -> list[str]:
        """The images the safety checker passed; flagged ones come back blacked out, so none are kept."""
        flags = output.has_nsfw_concepts + [False] * (len(output.images) - len(output.has_nsfw_concepts))
        urls = [pic.url for pic, flagged in zip(output.images, flags, strict=False) if not flagged]
        if not urls:
            if output.images:
                raise RefusedPrompt("every image was flagged by the safety checker", provider=self.provider)
            raise ProviderError("the result carried no image", provider=self.provider)
        return urls

    def _refusal(self, status: int, body: Any) -> bool:
        """422 with a `detail` item of type `content_policy_violation` (fal model errors) [recalled]."""
        detail = body.get("detail") if isinstance(body, dict) else None
        return (
            status == 422
            and isinstance(detail, list)
            and any(isinstance(d, dict) and d.get("type") == "content_policy_violation" for d in detail)
        )

    def _error_message(self, body: Any) -> str:
        """fal: `{"detail": [{"loc", "msg", "type"}]}` for model errors, `{"detail": "..."}` otherwise."""
        detail = body.get("detail") if isinstance(body, dict) else None
        if isinstance(detail, list):
            return "; ".join(
                f"{d.get('type', '')}: {d.get('msg', '')}" for d in detail if isinstance(d, dict)
            )
        return super()._error_message(body)
