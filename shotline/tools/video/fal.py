"""fal: a thin translation of fal's queue API (research/video-apis.md §11) for a few hosted video models.

Submit is `POST https://queue.fal.run/{endpoint id}` with the model's own input as the JSON body; it
answers `{request_id, response_url, status_url, cancel_url}`. Status is `GET {status_url}`
(IN_QUEUE, IN_PROGRESS, COMPLETED; COMPLETED with `error` is a failure) and the output is
`GET {response_url}`, e.g. `{"video": {"url": ...}}`. The URLs fal hands back are used as given;
when they are not at hand (a new process polling an old request) they are rebuilt the documented
way, `{base}/{owner}/{app}/requests/{request_id}`, where owner/app are the endpoint id's first two
segments. Auth is `Authorization: Key <FAL_KEY>`. Model errors are HTTP 422 with typed
`detail[]` entries; `content_policy_violation` is a moderation refusal (fal.ai/docs model errors).

Each fal model has one endpoint per mode (text-to-video, image-to-video, ...), so a card here
names a model family and `FalApp` maps the modes onto its endpoints and input field names. The
research could not open every model's schema: field names marked [unverified] follow fal's
conventions for the family and must be checked against the model page before relying on them.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from shotline.errors import ProviderError, RefusedPrompt
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, TaskStatus
from shotline.tools.video.http import Hosted
from shotline.tools.video.media import url_or_data
from shotline.tools.video.status import normalise

MODERATION_TYPE = "content_policy_violation"
# fal keeps outputs per account default unless told; the research says to set it. Takes are
# downloaded at once, the margin is for a crashed run that resumes later.
MEDIA_LIFETIME_S = 3 * 24 * 3600
LIFECYCLE_HEADER = "X-Fal-Object-Lifecycle-Preference"

# Seedance bills video tokens: h x w x fps x seconds / 1024 (fal model pages). Per second at 24 fps
# and 16:9 (other ratios hold about the same number of pixels):
TOKENS_PER_S = {
    "480p": 864 * 480 * 24 / 1024,
    "720p": 1280 * 720 * 24 / 1024,
    "1080p": 1920 * 1080 * 24 / 1024,
}


def token_rates(usd_per_million: float, *resolutions: str) -> dict[str, float]:
    """USD per second of video at each resolution, for a price per million video tokens."""
    return {res: round(TOKENS_PER_S[res] * usd_per_million / 1e6, 4) for res in resolutions}


FAL_PRICE_DATE = "2026-11"  # fal model pages as stored (the store runs to about November 2026)


class FalApp(BaseModel):
    """How one fal model family spells its modes: endpoint ids and input field names."""

    model_config = ConfigDict(frozen=True)
    text_to_video: str | None = None
    image_to_video: str | None = None
    image_field: str = "image_url"
    end_field: str | None = None  # a last frame on the image-to-video endpoint
    first_last: str | None = None  # a separate first+last endpoint (Veo 3.1 on fal)
    first_last_fields: tuple[str, str] = ("first_frame_url", "last_frame_url")
    reference_to_video: str | None = None
    reference_field: str = "reference_image_urls"
    duration_suffix: str = ""  # Seedance takes "5", Veo on fal "8s"
    audio_field: str | None = None

    @property
    def queue_root(self) -> str:
        """`owner/app` of the endpoints: where fal keeps their requests."""
        endpoint = next(e for e in (self.text_to_video, self.image_to_video) if e)
        return "/".join(endpoint.split("/")[:2])


SEEDANCE = "fal-ai/bytedance/seedance"
VEO31_FAST = "fal-ai/veo3.1/fast"

FAL_APPS: dict[str, FalApp] = {
    f"{SEEDANCE}/v1/pro/fast": FalApp(
        text_to_video=f"{SEEDANCE}/v1/pro/fast/text-to-video",
        image_to_video=f"{SEEDANCE}/v1/pro/fast/image-to-video",
    ),
    f"{SEEDANCE}/v1.5/pro": FalApp(
        text_to_video=f"{SEEDANCE}/v1.5/pro/text-to-video",
        image_to_video=f"{SEEDANCE}/v1.5/pro/image-to-video",
        end_field="end_image_url",  # fal: "supports start & end frame"; the field name is [unverified]
        audio_field="generate_audio",
    ),
    f"{SEEDANCE}/v1/lite": FalApp(
        text_to_video=f"{SEEDANCE}/v1/lite/text-to-video",
        image_to_video=f"{SEEDANCE}/v1/lite/image-to-video",
        end_field="end_image_url",  # [unverified] field name
        reference_to_video=f"{SEEDANCE}/v1/lite/reference-to-video",  # [unverified] endpoint and field
    ),
    VEO31_FAST: FalApp(
        text_to_video=VEO31_FAST,
        image_to_video=f"{VEO31_FAST}/image-to-video",
        first_last=f"{VEO31_FAST}/first-last-frame-to-video",  # field names [unverified]
        duration_suffix="s",
        audio_field="generate_audio",
    ),
}

FAL_CARDS: tuple[ModelCard, ...] = (
    ModelCard(
        name="fal",
        display_name="Seedance 1.0 Pro Fast (fal)",
        model_id=f"{SEEDANCE}/v1/pro/fast",
        durations_s=(2.0, 12.0),  # duration "2".."12", as on the Seedance 1.0 family pages
        whole_seconds=True,
        resolutions=("480p", "720p", "1080p"),
        image_to_video=True,
        seed=True,
        usd_per_second=token_rates(1.0, "1080p")["1080p"],  # resolution unknown: the highest is budgeted
        usd_per_second_by_resolution=token_rates(1.0, "480p", "720p", "1080p"),
        price_source=(
            "fal.ai/models/fal-ai/bytedance/seedance/v1/pro/fast: $1.0 per 1M video tokens "
            "(1080p 5 s ≈ $0.245)"
        ),
        price_date=FAL_PRICE_DATE,
        typical_latency_s=60.0,  # estimate
    ),
    ModelCard(
        name="fal",
        display_name="Seedance 1.5 Pro (fal)",
        model_id=f"{SEEDANCE}/v1.5/pro",
        durations_s=(4.0, 12.0),  # [unverified] on fal; Seedance 1.5 Pro makes 4-12 s (research §1)
        whole_seconds=True,
        resolutions=("480p", "720p", "1080p"),
        image_to_video=True,
        first_last_frame=True,
        native_audio=True,
        seed=True,
        usd_per_second=token_rates(2.4, "1080p")["1080p"],  # with audio (the dearer), highest resolution
        usd_per_second_by_resolution=token_rates(2.4, "480p", "720p", "1080p"),
        price_source=(
            "fal.ai/models/fal-ai/bytedance/seedance/v1.5/pro: $2.4 per 1M video tokens with audio, "
            "$1.2 without (720p 5 s with audio ≈ $0.26); the with-audio rate is budgeted"
        ),
        price_date=FAL_PRICE_DATE,
        typical_latency_s=90.0,  # estimate
    ),
    ModelCard(
        name="fal",
        display_name="Seedance 1.0 Lite (fal)",
        model_id=f"{SEEDANCE}/v1/lite",
        durations_s=(2.0, 12.0),
        whole_seconds=True,
        resolutions=("480p", "720p"),  # reference mode is <= 720p (research §1)
        image_to_video=True,
        first_last_frame=True,
        reference_images=4,  # 1-4 reference images (research §1, Seedance 1.0 lite)
        seed=True,
        usd_per_second=token_rates(1.8, "720p")["720p"],
        usd_per_second_by_resolution=token_rates(1.8, "480p", "720p"),
        price_source=(
            "[unverified] for fal: Seedance 1.0 lite list price $1.8 per 1M video tokens "
            "(research/video-apis.md §1, BytePlus via Comfy's table)"
        ),
        price_date="2026-08",
        typical_latency_s=45.0,  # estimate
    ),
    ModelCard(
        name="fal",
        display_name="Veo 3.1 Fast (fal)",
        model_id=VEO31_FAST,
        durations_s=(4.0, 8.0),
        fixed_durations_s=(4.0, 6.0, 8.0),  # "4s" | "6s" | "8s"
        ratios=("16:9", "9:16"),
        resolutions=("720p", "1080p"),
        image_to_video=True,
        first_last_frame=True,
        native_audio=True,
        usd_per_second=0.15,  # with audio; $0.10/s without
        price_source=(
            "fal.ai/models/fal-ai/veo3.1/fast/first-last-frame-to-video: $0.10/s without audio, "
            "$0.15/s with audio at 720p or 1080p; with-audio rate used"
        ),
        price_date=FAL_PRICE_DATE,
        typical_latency_s=60.0,  # estimate
    ),
)


# --- wire shapes -------------------------------------------------------------------------------


class FalQueued(BaseModel):
    """The queue's answer to a submit."""

    model_config = ConfigDict(extra="ignore")
    request_id: str
    response_url: str | None = None
    status_url: str | None = None
    cancel_url: str | None = None


class FalStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status: str
    queue_position: int | None = None
    error: str | None = None  # COMPLETED with an error is a failure
    error_type: str | None = None


class FalFile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str
    content_type: str | None = None
    file_name: str | None = None
    file_size: int | None = None


class FalVideoOutput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    video: FalFile | None = None
    seed: int | None = None


class FalRejected(ProviderError):
    """A typed model error (HTTP 422 `detail[]`): the model refused this input. Not worth retrying."""

    def __init__(self, message: str, *, provider: str, error_type: str | None) -> None:
        super().__init__(message, provider=provider)
        self.error_type = error_type


def _details(body: Any) -> list[dict[str, Any]]:
    detail = body.get("detail") if isinstance(body, dict) else None
    return [d for d in detail if isinstance(d, dict)] if isinstance(detail, list) else []


def _origin(url: str) -> tuple[str, str, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


class Fal(Hosted):
    """One model family on fal's queue (Seedance 1.0 Pro Fast by default). Key: FAL_KEY."""

    provider: ClassVar[str] = "fal"
    default_base_url: ClassVar[str] = "https://queue.fal.run"
    key_names: ClassVar[tuple[str, ...]] = ("FAL_KEY",)
    cards: ClassVar[tuple[ModelCard, ...]] = FAL_CARDS

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        model_id: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(api_key=api_key, base_url=base_url, model_id=model_id, client=client)
        self.app = FAL_APPS[self.card.model_id]
        self._queue_urls: dict[str, tuple[str, str]] = {}  # request id -> (status_url, response_url)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.api_key}"}

    # --- errors ------------------------------------------------------------------------------

    def _error_message(self, body: Any) -> str:
        """`detail` is a string (401 "Unauthorized") or typed entries `{loc, msg, type}`; key removed."""
        entries = _details(body)
        if entries:
            message = "; ".join(str(d.get("msg") or d.get("type") or "") for d in entries)
        else:
            message = super()._error_message(body)
        return message.replace(self.api_key, "***") if self.api_key else message

    def _refusal(self, status: int, body: Any) -> bool:
        return any(d.get("type") == MODERATION_TYPE for d in _details(body))

    def decode(self, response: httpx.Response) -> Any:
        """A 422 that is not a refusal is the model rejecting the input: typed, so `poll` can report it."""
        if response.status_code == 422:
            try:
                body = response.json()
            except ValueError:
                body = {}
            if not self._refusal(422, body):
                kind = next((str(d["type"]) for d in _details(body) if d.get("type")), None)
                raise FalRejected(
                    f"HTTP 422: {self._error_message(body) or 'input rejected'}",
                    provider=self.provider,
                    error_type=kind,
                )
        return super().decode(response)

    def _error(self, message: str) -> ProviderError:
        return ProviderError(message, provider=self.provider)

    # --- request mapping ---------------------------------------------------------------------

    def input_for(self, request: RenderRequest) -> tuple[str, dict[str, Any]]:
        """(endpoint id, model input) for this request; raises ProviderError for what it cannot do."""
        self._check(request)
        card, app = self.card, self.app
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "aspect_ratio": request.ratio,
            "duration": f"{int(card.billed_seconds(request.duration_s))}{app.duration_suffix}",
            "resolution": request.resolution,
        }
        if card.seed and request.seed is not None:
            body["seed"] = request.seed
        if app.audio_field:
            body[app.audio_field] = request.audio
        first, last = request.first_frame, request.last_frame
        if request.references:
            body[app.reference_field] = [self._url(ref) for ref in request.references]
            return self._endpoint(app.reference_to_video, "reference images"), body
        if first is not None and last is not None and app.first_last:
            first_field, last_field = app.first_last_fields
            body[first_field], body[last_field] = self._url(first), self._url(last)
            return app.first_last, body
        if first is not None:
            body[app.image_field] = self._url(first)
            if last is not None and app.end_field:
                body[app.end_field] = self._url(last)
            return self._endpoint(app.image_to_video, "a first frame"), body
        return self._endpoint(app.text_to_video, "text alone"), body

    def _check(self, request: RenderRequest) -> None:
        card = self.card
        if request.ratio not in card.ratios:
            raise self._error(f"{card.display_name} makes {', '.join(card.ratios)}, not {request.ratio}")
        if request.resolution not in card.resolutions:
            raise self._error(
                f"{card.display_name} renders {', '.join(card.resolutions)}, not {request.resolution}"
            )
        if request.last_frame is not None and request.first_frame is None:
            raise self._error(f"{card.display_name} cannot end on a last frame without a first frame")
        if request.last_frame is not None and not card.first_last_frame:
            raise self._error(f"{card.display_name} takes no last frame; drop it or use another model")
        refs = request.references
        if refs and len(refs) > card.reference_images:
            raise self._error(
                f"{card.display_name} takes at most {card.reference_images} reference images, not {len(refs)}"
            )
        if refs and (request.first_frame is not None or request.last_frame is not None):
            raise self._error(
                f"{card.display_name} cannot mix reference images with keyframes; send one or the other"
            )
        for ref in (request.first_frame, request.last_frame, *refs):
            if ref is not None and ref.kind != "image":
                raise self._error(f"{card.display_name} takes images only, not {ref.kind}")

    def _endpoint(self, endpoint: str | None, what: str) -> str:
        if endpoint is None:
            raise self._error(f"{self.card.display_name} cannot make a video from {what}")
        return endpoint

    @staticmethod
    def _url(ref: MediaRef) -> str:
        """A hosted URL when there is one; otherwise a data URI, which fal's file inputs accept."""
        return url_or_data(ref)

    # --- queue URLs --------------------------------------------------------------------------

    def _remember(self, queued: FalQueued) -> None:
        """Keep fal's own status/result URLs, but only on fal's origin: the key goes nowhere else."""
        status_url, response_url = queued.status_url, queued.response_url
        home = _origin(self.base_url)
        if status_url and response_url and _origin(status_url) == home == _origin(response_url):
            self._queue_urls[queued.request_id] = (status_url, response_url)

    def queue_urls(self, request_id: str) -> tuple[str, str]:
        """(status_url, response_url): as fal gave them, else rebuilt from the documented pattern."""
        if request_id in self._queue_urls:
            return self._queue_urls[request_id]
        base = f"{self.base_url}/{self.app.queue_root}/requests/{quote(request_id, safe='')}"
        return f"{base}/status", base

    # --- protocol ----------------------------------------------------------------------------

    async def submit(self, request: RenderRequest) -> str:
        self.require_available()
        endpoint, body = self.input_for(request)
        lifecycle = json.dumps({"expiration_duration_seconds": MEDIA_LIFETIME_S})
        answer = await self.call("POST", f"/{endpoint}", json=body, headers={LIFECYCLE_HEADER: lifecycle})
        try:
            queued = FalQueued.model_validate(answer)
        except ValidationError:
            raise self._error("the queue answered without a request_id; the API may have changed") from None
        self._remember(queued)
        return queued.request_id

    async def poll(self, task_id: str) -> TaskStatus:
        status_url, response_url = self.queue_urls(task_id)
        answer = await self.call("GET", f"/requests/{task_id}/status", url=status_url)
        try:
            status = FalStatus.model_validate(answer)
        except ValidationError:
            raise self._error(
                f"request {task_id} answered without a status; the API may have changed"
            ) from None
        if status.status == "COMPLETED" and status.error:  # the doc's rule: COMPLETED + error = failed
            return self._failed(task_id, status.status, status.error_type, status.error)
        state = normalise(self.provider, status.status)
        if state != "succeeded":
            return TaskStatus(task_id=task_id, state=state, raw_status=status.status)
        return await self._result(task_id, status.status, response_url)

    async def _result(self, task_id: str, raw: str, response_url: str) -> TaskStatus:
        """The output of a completed request; a model error there (422) is the task's failure."""
        try:
            answer = await self.call("GET", f"/requests/{task_id}", url=response_url)
        except RefusedPrompt as exc:
            return self._failed(task_id, raw, MODERATION_TYPE, exc.message, refused=True)
        except FalRejected as exc:
            return self._failed(task_id, raw, exc.error_type, exc.message)
        try:
            output = FalVideoOutput.model_validate(answer)
        except ValidationError:
            output = FalVideoOutput()
        if output.video is None:
            return self._failed(task_id, raw, "no_media_generated", "the request finished without a video")
        return TaskStatus(
            task_id=task_id, state=normalise(self.provider, raw), raw_status=raw, url=output.video.url
        )

    def _failed(
        self, task_id: str, raw: str, code: str | None, message: str, *, refused: bool = False
    ) -> TaskStatus:
        return TaskStatus(
            task_id=task_id,
            state="failed",
            raw_status=raw,
            error_code=code,
            error=message,
            refused=refused or code == MODERATION_TYPE,
        )
