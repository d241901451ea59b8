"""Vidu (Shengshu): a thin translation of the Vidu enterprise API v2 (research/video-apis.md §5).

Four create endpoints, one per mode: `text2video`, `img2video` (1 image, the start frame),
`start-end2video` (2 images) and `reference2video` (up to 7 images). Poll `GET /tasks/{id}/creations`.
Auth is `Authorization: Token <key>`, not Bearer. Result URLs live one hour: download at once.

Error codes are Vidu's published table (platform.vidu.com/docs/error-code): a non-2xx answer
carries `{code: <HTTP status>, reason: <error code>, message}`; a failed task carries `err_code`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal, TypedDict

from pydantic import BaseModel, ConfigDict

from shotline.errors import ProviderError, RefusedPrompt
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, TaskStatus
from shotline.tools.video.http import Hosted
from shotline.tools.video.media import url_or_data
from shotline.tools.video.status import normalise

Endpoint = Literal["text2video", "img2video", "start-end2video", "reference2video"]

KEY_ENV = "VIDU_API_KEY"  # not in shotline/config.py yet: read from the environment meanwhile
USD_PER_CREDIT = 0.005  # 1 credit = $0.005 ([proxy] ComfyUI price extractor)

# Input and output moderation (Vidu error-code table): the prompt should be rewritten.
MODERATION_CODES = frozenset({"AuditSubmitIllegal", "TaskPromptPolicyViolation", "CreationPolicyViolation"})
HINTS = {
    "CreditInsufficient": "the Vidu account is out of credits; top it up",
    "Unauthorized": f"check {KEY_ENV}",
    "Forbidden": "this Vidu key may not use this model",
    "QuotaExceeded": "too many Vidu tasks at once for this account",
    "ModelUnavailable": "the Vidu model is unavailable; try another model",
    "ImageDownloadFailure": "Vidu could not download a reference image; check its URL",
}

_PROXY = "[proxy] ComfyUI Vidu price badges (research/video-apis.md §5)"

VIDU_CARDS: tuple[ModelCard, ...] = (
    ModelCard(
        name="vidu",
        display_name="Vidu Q3 Pro",
        model_id="viduq3-pro",
        durations_s=(1.0, 16.0),
        whole_seconds=True,
        resolutions=("540p", "720p", "1080p"),
        image_to_video=True,
        first_last_frame=True,
        reference_images=7,
        native_audio=True,  # `audio`: dialogue and SFX; defaults to on for q3, so always sent
        seed=True,
        usd_per_second=0.15,
        usd_per_second_by_resolution={"1080p": 0.16},
        price_source=f"{_PROXY}: $0.15/s at 720p, $0.16/s at 1080p, $0.20/s at 2K",
        price_date="2026",
        typical_latency_s=180.0,
    ),
    ModelCard(
        name="vidu",
        display_name="Vidu Q3 Turbo",
        model_id="viduq3-turbo",
        durations_s=(1.0, 16.0),
        whole_seconds=True,
        resolutions=("540p", "720p", "1080p"),
        image_to_video=True,
        first_last_frame=True,
        reference_images=0,  # [unverified] resellers route multi-reference to q3-pro only
        native_audio=True,
        seed=True,
        usd_per_second=0.06,
        price_source=f"{_PROXY}: $0.06/s at 720p, $0.08/s at 1080p",
        price_date="2026",
        typical_latency_s=120.0,
    ),
    ModelCard(
        name="vidu",
        display_name="Vidu Q1",
        model_id="viduq1",
        durations_s=(5.0, 5.0),
        resolutions=("1080p",),
        image_to_video=True,
        first_last_frame=True,
        reference_images=7,
        seed=True,
        usd_per_clip=0.40,
        price_source=f"{_PROXY}: $0.40 per 5 s clip",
        price_date="2026",
        typical_latency_s=180.0,
    ),
)


class CreateBody(TypedDict, total=False):
    """Body of POST /{text2video|img2video|start-end2video|reference2video}."""

    model: str
    prompt: str
    duration: int
    seed: int  # 0 = random
    aspect_ratio: str  # text2video and reference2video; a keyframe sets the frame otherwise
    resolution: str  # "540p" | "720p" | "1080p"
    audio: bool
    images: list[str]  # URL or data: URI


class ViduCreation(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = None
    url: str | None = None
    cover_url: str | None = None


class ViduTask(BaseModel):
    """Answer of GET /tasks/{id}/creations (and, in part, of a create)."""

    model_config = ConfigDict(extra="ignore")
    task_id: str | None = None
    state: str
    err_code: str | None = None
    code: str | int | None = None  # a create that failed at once
    progress: float | None = None
    credits: float | None = None
    creations: list[ViduCreation] = []


def whole_seconds(card: ModelCard, duration_s: float) -> int:
    """Vidu takes whole seconds: the card's clip length, rounded up so that the take is never short."""
    return min(math.ceil(card.billed_seconds(duration_s) - 1e-9), int(card.durations_s[1]))


class Vidu(Hosted):
    """One Vidu model. Key: VIDU_API_KEY, sent as `Authorization: Token <key>`."""

    provider: ClassVar[str] = "vidu"
    default_base_url: ClassVar[str] = "https://api.vidu.com/ent/v2"
    key_names: ClassVar[tuple[str, ...]] = (KEY_ENV,)
    cards: ClassVar[tuple[ModelCard, ...]] = VIDU_CARDS

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.api_key}"}

    # --- errors -------------------------------------------------------------------------------

    def _error_message(self, body: Any) -> str:
        if not isinstance(body, dict):
            return ""
        reason, message = str(body.get("reason") or ""), str(body.get("message") or "")
        words = ": ".join(w for w in (reason, message) if w) or super()._error_message(body)
        hint = HINTS.get(reason)
        return f"{words} ({hint})" if hint else words

    def _refusal(self, status: int, body: Any) -> bool:
        return isinstance(body, dict) and body.get("reason") in MODERATION_CODES

    # --- requests -----------------------------------------------------------------------------

    def endpoint_for(self, request: RenderRequest) -> Endpoint:
        if request.references:
            return "reference2video"
        if request.last_frame:
            return "start-end2video"
        if request.first_frame:
            return "img2video"
        return "text2video"

    def body(self, request: RenderRequest) -> CreateBody:
        """The create body for `request`; raises ProviderError for what this model cannot take."""
        card = self.card
        if request.resolution not in card.resolutions:
            raise self._unsupported(
                f"resolution {request.resolution}; it takes {', '.join(card.resolutions)}"
            )
        body: CreateBody = {
            "model": card.model_id,
            "prompt": request.prompt,
            "duration": whole_seconds(card, request.duration_s),
            "resolution": request.resolution,
        }
        if card.seed and request.seed is not None:
            body["seed"] = request.seed
        if card.native_audio:
            body["audio"] = request.audio
        endpoint = self.endpoint_for(request)
        if endpoint in ("text2video", "reference2video"):
            body["aspect_ratio"] = request.ratio  # Vidu spells 16:9, 9:16, 1:1 as we do
        if endpoint == "reference2video":  # the non-subject form: `images` <= 7 (research §5)
            body["images"] = [
                url_or_data(ref) for ref in self._image_references(request, hint="viduq3-pro or viduq1")
            ]
        elif endpoint != "text2video":
            body["images"] = [url_or_data(ref) for ref in self._keyframes(request)]
        return body

    def _keyframes(self, request: RenderRequest) -> list[MediaRef]:
        if not self.card.image_to_video:
            raise self._unsupported("a start frame")
        if request.first_frame is None:
            raise self._unsupported("an end frame without a start frame")
        if request.last_frame is None:
            return [request.first_frame]
        if not self.card.first_last_frame:
            raise self._unsupported("an end frame")
        return [request.first_frame, request.last_frame]

    # --- protocol -----------------------------------------------------------------------------

    async def submit(self, request: RenderRequest) -> str:
        self.require_available()
        answer = await self.call("POST", f"/{self.endpoint_for(request)}", json=self.body(request))
        task = ViduTask.model_validate(answer)
        if task.state == "failed":  # Vidu can fail a task at creation, with a `code`
            code = str(task.code or task.err_code or "")
            if code in MODERATION_CODES:
                raise RefusedPrompt(f"refused by moderation: {code}", provider=self.provider)
            raise ProviderError(f"the task failed at creation ({code or 'no code'})", provider=self.provider)
        if not task.task_id:
            raise ProviderError("the create answer has no task_id", provider=self.provider)
        return task.task_id

    async def poll(self, task_id: str) -> TaskStatus:
        task = ViduTask.model_validate(await self.call("GET", f"/tasks/{task_id}/creations"))
        state = normalise(self.provider, task.state)
        url = task.creations[0].url if task.creations else None
        failed = state == "failed"
        return TaskStatus(
            task_id=task_id,
            state=state,
            raw_status=task.state,
            progress=task.progress / 100 if task.progress is not None else None,
            url=url,
            error_code=(task.err_code or None) if failed else None,
            error=(self._error_message({"reason": task.err_code}) or "task failed") if failed else None,
            refused=failed and task.err_code in MODERATION_CODES,
            # credits are what the task cost; only a finished task is known to be charged
            billed_usd=round(task.credits * USD_PER_CREDIT, 4)
            if state == "succeeded" and task.credits is not None
            else None,
        )
