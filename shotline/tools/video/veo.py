"""Google Veo 3.1 on the Gemini API: a thin translation of `predictLongRunning` (research/video-apis.md §9).

Create is `POST /models/{model}:predictLongRunning` with `{"instances": [...], "parameters": {...}}`
(field names from google-genai's Gemini-API converters, as the research records them); it answers
with a long-running operation, `{"name": "models/<model>/operations/<id>"}`, which is the task id.
Poll is `GET /{name}`. An operation has no status word: it is not `done` yet, or `done` with an
`error` or a `response`; this wrapper says "pending", "done" or "error" to `status.normalise`. A
response with RAI-filtered media and no samples is a moderation refusal.

The key travels in the `x-goog-api-key` header, never in the URL (httpx logs URLs). The result URI
also needs the key, so `download` sends it to the API's own origin only and follows the redirect to
the signed file URL without it. Videos stay on Google's side for 2 days.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal, TypedDict

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shotline.errors import ExpiredURL, ProviderError, TransientProviderError
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, TaskStatus
from shotline.tools.video.http import (
    DOWNLOAD_TIMEOUT,
    EXPIRED_STATUS,
    TRANSIENT_STATUS,
    Hosted,
    retry_after_seconds,
)
from shotline.tools.video.media import raw_base64
from shotline.tools.video.status import normalise

KEY_HEADER = "x-goog-api-key"
MAX_REDIRECTS = 5
VEO_RATIOS = ("16:9", "9:16")  # Veo makes no square video
FULL_LENGTH_S = 8  # 1080p (and 4k) and reference-image mode only come as 8 s clips
REFERENCE_RATIO = "16:9"  # reference-image mode is 16:9 only

VEO_PRICE_SOURCE = (
    "Gemini API per-second list price, audio included ([3rd] reapi.ai May 2026 and ddsboston citing "
    "ai.google.dev/pricing updated 2026-04-09; research/video-apis.md §9)"
)

VEO_CARDS: tuple[ModelCard, ...] = (
    ModelCard(
        name="veo",
        display_name="Veo 3.1",
        model_id="veo-3.1-generate-preview",
        durations_s=(4.0, 8.0),
        fixed_durations_s=(4.0, 6.0, 8.0),
        ratios=VEO_RATIOS,
        resolutions=("720p", "1080p"),  # 1080p only at 8 s; 4k left off (priced apart, $0.60/s)
        image_to_video=True,
        first_last_frame=True,
        reference_images=3,  # asset images; 8 s, 16:9, and never with a first or last frame
        native_audio=True,  # always on: the Gemini API has no switch for it
        usd_per_second=0.40,
        price_source=f"Standard $0.40/s at 720p/1080p; {VEO_PRICE_SOURCE}",
        price_date="2026-04-09",
        typical_latency_s=120.0,  # the Gemini guide says 11 s to 6 min [recalled]
    ),
    ModelCard(
        name="veo",
        display_name="Veo 3.1 Fast",
        model_id="veo-3.1-fast-generate-preview",
        durations_s=(4.0, 8.0),
        fixed_durations_s=(4.0, 6.0, 8.0),
        ratios=VEO_RATIOS,
        resolutions=("720p", "1080p"),
        image_to_video=True,
        first_last_frame=True,
        # reference images: documented for Veo 3.1 (standard); not confirmed for Fast, so none here
        native_audio=True,
        usd_per_second=0.12,  # when the resolution is not known, the higher rate is budgeted
        usd_per_second_by_resolution={"720p": 0.10, "1080p": 0.12},
        price_source=f"Fast $0.10/s 720p, $0.12/s 1080p (after the 2026-04-07 cut); {VEO_PRICE_SOURCE}",
        price_date="2026-04-09",
        typical_latency_s=60.0,  # estimate
    ),
)


# --- wire shapes -------------------------------------------------------------------------------


class VeoImage(TypedDict):
    bytesBase64Encoded: str  # the Gemini API takes images inline only (gcsUri is Vertex-only)
    mimeType: str


class VeoReferenceImage(TypedDict):
    image: VeoImage
    referenceType: Literal["asset"]


class VeoInstance(TypedDict, total=False):
    prompt: str
    image: VeoImage  # first frame
    lastFrame: VeoImage
    referenceImages: list[VeoReferenceImage]


class VeoParameters(TypedDict, total=False):
    """Gemini-API parameters. `seed`, `generateAudio`, `fps` are Vertex-only: the SDK refuses them here."""

    aspectRatio: str
    durationSeconds: int
    resolution: str


class PredictBody(TypedDict):
    instances: list[VeoInstance]
    parameters: VeoParameters


class _Video(BaseModel):
    model_config = ConfigDict(extra="ignore")
    uri: str | None = None


class _Sample(BaseModel):
    model_config = ConfigDict(extra="ignore")
    video: _Video | None = None


class GenerateVideoResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")
    generatedSamples: list[_Sample] = Field(default_factory=list)
    raiMediaFilteredCount: int = 0
    raiMediaFilteredReasons: list[str] = Field(default_factory=list)


class _OperationResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")
    generateVideoResponse: GenerateVideoResponse | None = None


class _Status(BaseModel):
    """google.rpc.Status, as an operation's `error`."""

    model_config = ConfigDict(extra="ignore")
    code: int | None = None
    message: str = ""


class Operation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    done: bool = False
    error: _Status | None = None
    response: _OperationResponse | None = None


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


def _per_day_quota(body: Any) -> bool:
    """A 429 whose QuotaFailure names a per-day quota: retrying within minutes cannot succeed.

    google.rpc error details shape [recalled]: `error.details[] {"@type": ...QuotaFailure,
    "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel", ...}]}`.
    """
    details = body.get("error", {}).get("details", []) if isinstance(body, dict) else []
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("QuotaFailure"):
            for violation in detail.get("violations", []) or []:
                if "PerDay" in str(violation.get("quotaId", "")):
                    return True
    return False


class Veo(Hosted):
    """One Veo model on the Gemini API (Veo 3.1 by default). Key: GEMINI_API_KEY, as a header."""

    provider: ClassVar[str] = "veo"
    default_base_url: ClassVar[str] = "https://generativelanguage.googleapis.com/v1beta"
    key_names: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY",)
    cards: ClassVar[tuple[ModelCard, ...]] = VEO_CARDS

    def auth_headers(self) -> dict[str, str]:
        return {KEY_HEADER: self.api_key or ""}

    def _error_message(self, body: Any) -> str:
        """google.rpc.Status: `{"error": {"code", "message", "status"}}` -> "STATUS: message", key removed."""
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict) and err.get("message"):
            message = f"{err['status']}: {err['message']}" if err.get("status") else str(err["message"])
        else:
            message = super()._error_message(body)
        return message.replace(self.api_key, "***") if self.api_key else message

    def _permanent(self, status: int, body: Any) -> bool:
        return status == 429 and _per_day_quota(body)

    # --- request mapping ---------------------------------------------------------------------

    def predict_body(self, request: RenderRequest) -> PredictBody:
        """The predictLongRunning body; raises ProviderError for what Veo cannot make."""
        duration = int(self.card.billed_seconds(request.duration_s))
        self._check(request, duration)
        instance: VeoInstance = {"prompt": request.prompt}
        if request.first_frame is not None:
            instance["image"] = self._image(request.first_frame)
        if request.last_frame is not None:
            instance["lastFrame"] = self._image(request.last_frame)
        if request.references:
            instance["referenceImages"] = [
                {"image": self._image(ref), "referenceType": "asset"} for ref in request.references
            ]
        parameters: VeoParameters = {
            "aspectRatio": request.ratio,
            "durationSeconds": duration,
            "resolution": request.resolution,
        }
        return {"instances": [instance], "parameters": parameters}

    def _check(self, request: RenderRequest, duration: int) -> None:
        card = self.card
        if request.ratio not in card.ratios:
            raise self._error(f"Veo makes {' or '.join(card.ratios)} video, not {request.ratio}")
        if request.resolution not in card.resolutions:
            raise self._error(
                f"{card.model_id} renders {', '.join(card.resolutions)}, not {request.resolution}"
            )
        if request.resolution != "720p" and duration != FULL_LENGTH_S:
            raise self._error(
                f"Veo makes {request.resolution} only as {FULL_LENGTH_S} s clips; ask for 720p or an 8 s shot"
            )
        if request.last_frame is not None and request.first_frame is None:
            raise self._error("a last frame needs a first frame on Veo")
        for ref in (request.first_frame, request.last_frame, *request.references):
            if ref is not None and ref.kind != "image":
                raise self._error(f"Veo takes image keyframes and references only, not {ref.kind}")
        if request.references:
            self._check_references(request, duration)

    def _check_references(self, request: RenderRequest, duration: int) -> None:
        card = self.card
        if len(request.references) > card.reference_images:
            raise self._error(
                f"{card.model_id} takes at most {card.reference_images} reference images, "
                f"not {len(request.references)}"
            )
        if request.first_frame is not None or request.last_frame is not None:
            raise self._error(
                "Veo cannot mix reference images with a first or last frame; send one or the other"
            )
        if duration != FULL_LENGTH_S or request.ratio != REFERENCE_RATIO:
            raise self._error(
                f"Veo makes reference-image shots only as {FULL_LENGTH_S} s {REFERENCE_RATIO} clips"
            )

    def _image(self, ref: MediaRef) -> VeoImage:
        """Inline bytes: the Gemini API cannot fetch a URL (Vertex takes gcsUri, the Gemini API does not)."""
        if not ref.path:
            raise self._error(
                f"the Gemini API takes images inline only; {ref.name or ref.sha256[:12]} has no local file"
            )
        return {"bytesBase64Encoded": raw_base64(ref), "mimeType": ref.mime}

    def _error(self, message: str) -> ProviderError:
        return ProviderError(message, provider=self.provider)

    # --- protocol ----------------------------------------------------------------------------

    async def submit(self, request: RenderRequest) -> str:
        self.require_available()
        body = self.predict_body(request)
        answer = await self.call("POST", f"/models/{self.card.model_id}:predictLongRunning", json=body)
        try:
            return Operation.model_validate(answer).name
        except ValidationError:
            raise self._error("the create answer has no operation name; the API may have changed") from None

    async def poll(self, task_id: str) -> TaskStatus:
        answer = await self.call("GET", f"/{task_id.lstrip('/')}")
        try:
            operation = Operation.model_validate(answer)
        except ValidationError:
            raise self._error(
                f"operation {task_id} answered without a name; the API may have changed"
            ) from None
        return self.status_of(task_id, operation)

    def status_of(self, task_id: str, operation: Operation) -> TaskStatus:
        """pending / done with a sample / error / done but RAI-filtered (a refusal) / done and empty."""
        if operation.error is not None:
            return self._failed(task_id, str(operation.error.code or ""), operation.error.message)
        if not operation.done:
            return TaskStatus(
                task_id=task_id, state=normalise(self.provider, "pending"), raw_status="pending"
            )
        result = operation.response.generateVideoResponse if operation.response else None
        uri = (
            next((s.video.uri for s in result.generatedSamples if s.video and s.video.uri), None)
            if result
            else None
        )
        if uri:
            return TaskStatus(
                task_id=task_id, state=normalise(self.provider, "done"), raw_status="done", url=uri
            )
        if result and result.raiMediaFilteredCount > 0:
            reasons = (
                "; ".join(result.raiMediaFilteredReasons) or "filtered by Google's responsible-AI checks"
            )
            return self._failed(task_id, "RAI_MEDIA_FILTERED", reasons, refused=True)
        return self._failed(task_id, "NO_VIDEO", "the operation finished without a video")

    def _failed(self, task_id: str, code: str, message: str, *, refused: bool = False) -> TaskStatus:
        return TaskStatus(
            task_id=task_id,
            state=normalise(self.provider, "error"),
            raw_status="error",
            error_code=code or None,
            error=message,
            refused=refused,
        )

    # --- results -----------------------------------------------------------------------------

    async def fetch(self, task_id: str, dest: Path) -> Path:
        """Download the take; on an expired link, poll once more and try again.

        Unlike providers that re-sign their result URLs, Veo's file URI stays the same: what
        expires is the signed URL it redirects to, so the second try goes through even when the
        URI is unchanged (a file past its 2 days answers 404 again and ExpiredURL stands).
        """
        status = await self.poll(task_id)
        if status.state != "succeeded" or not status.url:
            raise self._error(f"operation {task_id} has no video to fetch ({status.raw_status})")
        try:
            return await self.download(status.url, dest)
        except ExpiredURL:
            fresh = await self.poll(task_id)
            if not fresh.url:
                raise
            return await self.download(fresh.url, dest)

    def _key_for(self, url: str) -> dict[str, str]:
        """The key goes to the API's own origin only, never to a redirect target elsewhere."""
        return self.auth_headers() if _origin(url) == _origin(self.base_url) else {}

    async def download(self, url: str, dest: Path) -> Path:
        """Stream the video to `dest` (via `.part`), sending the key on the API hop only.

        httpx would carry a custom header such as x-goog-api-key across a cross-origin redirect,
        so redirects are followed here, one hop at a time, each with its own headers.
        """
        self.require_available()
        part = dest.with_name(dest.name + ".part")
        target = url
        try:
            for _ in range(MAX_REDIRECTS + 1):
                request = self.client.build_request(
                    "GET", target, headers=self._key_for(target), timeout=DOWNLOAD_TIMEOUT
                )
                response = await self.client.send(request, stream=True, follow_redirects=False)
                try:
                    if response.is_redirect and response.next_request is not None:
                        target = str(response.next_request.url)
                        continue
                    self._check_download(response)
                    with part.open("wb") as fh:
                        async for chunk in response.aiter_bytes(1 << 16):
                            fh.write(chunk)
                    break
                finally:
                    await response.aclose()
            else:
                raise self._error(f"the video download redirected more than {MAX_REDIRECTS} times")
        except httpx.TransportError as exc:
            part.unlink(missing_ok=True)
            raise TransientProviderError(
                f"download broke off: {type(exc).__name__}", provider=self.provider
            ) from exc
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, dest)
        return dest

    def _check_download(self, response: httpx.Response) -> None:
        status = response.status_code
        if status in EXPIRED_STATUS:
            raise ExpiredURL(f"video link answered HTTP {status}", provider=self.provider)
        if status in TRANSIENT_STATUS:
            raise TransientProviderError(
                f"download answered HTTP {status}",
                provider=self.provider,
                retry_after=retry_after_seconds(response.headers),
            )
        if not response.is_success:
            raise self._error(f"download answered HTTP {status}")
