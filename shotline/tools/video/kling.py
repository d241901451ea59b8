"""Kling (Kuaishou): a thin translation of the Kling video API (research/video-apis.md §4).

Three create endpoints, one per mode: `text2video`, `image2video` (`image` + `image_tail`) and
`multi-image2video` (reference images). Auth is an HS256 JWT signed with the secret key, made
here with the stdlib. Kling answers many errors with HTTP 200 and a `code` in the body, so those
are mapped in `_check_body`. The task id this wrapper hands out is `<endpoint>:<kling task id>`,
because a task can only be polled under the endpoint that created it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import time
from typing import Any, ClassVar, Literal, TypedDict

import httpx
from pydantic import BaseModel, ConfigDict

from shotline.config import Settings
from shotline.errors import ProviderError, RefusedPrompt, TransientProviderError
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, TaskStatus, render_key
from shotline.tools.video.http import Hosted
from shotline.tools.video.media import raw_base64
from shotline.tools.video.status import normalise

Endpoint = Literal["text2video", "image2video", "multi-image2video"]
ENDPOINTS: tuple[Endpoint, ...] = ("text2video", "image2video", "multi-image2video")

JWT_TTL_S = 1800  # Kling: exp = now + 1800
JWT_REUSE_S = 1500  # "per request, or cached for under 30 min": renew well before exp
JWT_NBF_SKEW_S = 5  # nbf = now - 5, for clock skew

# Service codes (Kling "General Information" page; codes after 1102 are [recalled] in the research).
AUTH_CODES = frozenset({1000, 1001, 1002, 1003, 1004})
PERMANENT_CODES = frozenset({1100, 1101, 1102, 1103, 1304})  # account, arrears, pack used up, no access, IP
TRANSIENT_CODES = frozenset({1302, 1303, 5000, 5001, 5002})  # rate, parallel tasks, server
MODERATION_CODES = frozenset({1301})
NOT_FOUND_CODE = 1203
PARALLEL_LIMIT_CODE = 1303  # "back off >= 1 s" (Kling "Rate Limits" page)

HINTS = {
    **dict.fromkeys(AUTH_CODES, "check KLING_ACCESS_KEY, KLING_SECRET_KEY and this machine's clock"),
    1100: "the Kling account has a problem; check it in the Kling developer console",
    1101: "the Kling account is in arrears; top it up",
    1102: "the Kling resource pack is used up or expired; buy a video resource pack",
    1103: "this Kling key has no access to this model",
    1304: "this machine's IP is not on the Kling IP allow-list",
    1302: "too many requests; slow down",
    1303: "too many parallel Kling tasks for the resource pack; wait for one to finish",
}

KLING_PRICE_NOTE = "(research/video-apis.md §4)"
_V3_PRICE = 0.176  # the only per-second Kling figure in the research (v3 std, no audio)


def _stand_in(version: str) -> str:
    return (
        f"no Kling {version} price in the research: the v3 std resale rate stands in, as an upper "
        f"estimate (older Kling models cost less) {KLING_PRICE_NOTE}"
    )


KLING_CARDS: tuple[ModelCard, ...] = (
    ModelCard(
        name="kling",
        display_name="Kling 3.0",
        model_id="kling-v3",
        durations_s=(3.0, 15.0),
        whole_seconds=True,
        usd_per_second_by_resolution={"1080p": 0.235},  # pro mode, same source as below
        resolutions=("720p", "1080p"),
        image_to_video=True,
        first_last_frame=True,  # image_tail on v3 [unverified: not stated in the research]
        native_audio=True,
        usd_per_second=_V3_PRICE,
        price_source=(
            "[3rd] Krea resale of Kling v3: std (720p) no audio $0.176/s; pro $0.235/s; "
            f"with audio $0.265/$0.353 per s {KLING_PRICE_NOTE}"
        ),
        price_date="2026",
        typical_latency_s=180.0,
    ),
    ModelCard(
        name="kling",
        display_name="Kling 2.6",
        model_id="kling-v2-6",
        durations_s=(5.0, 10.0),
        fixed_durations_s=(5.0, 10.0),
        resolutions=("720p", "1080p"),
        image_to_video=True,
        native_audio=True,
        usd_per_second=_V3_PRICE,
        price_source=_stand_in("v2.6"),
        price_date="2026",
        typical_latency_s=180.0,
    ),
    ModelCard(
        name="kling",
        display_name="Kling 1.6 (multi-image reference)",
        model_id="kling-v1-6",
        durations_s=(5.0, 10.0),
        fixed_durations_s=(5.0, 10.0),
        resolutions=("720p", "1080p"),
        image_to_video=True,
        reference_images=4,  # multi-image2video image_list <= 4 [recalled]
        usd_per_second=_V3_PRICE,
        price_source=_stand_in("v1.6"),
        price_date="2026",
        typical_latency_s=180.0,
    ),
)

MODES = {"720p": "std", "1080p": "pro"}  # Kling `mode`: std renders 720p, pro 1080p


# --- JWT (HS256, stdlib only) ------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def kling_jwt(access_key: str, secret_key: str, now: float) -> str:
    """The token Kling wants: HS256 over {iss: access key, exp: now+1800, nbf: now-5}."""
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"iss": access_key, "exp": int(now) + JWT_TTL_S, "nbf": int(now) - JWT_NBF_SKEW_S}
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode("utf-8")) for part in (header, claims)
    )
    signature = hmac.new(secret_key.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


# --- wire shapes -------------------------------------------------------------------------------


class ImageItem(TypedDict):
    image: str


class CreateBody(TypedDict, total=False):
    """Body of POST /v1/videos/{text2video|image2video|multi-image2video}."""

    model_name: str
    prompt: str
    mode: str
    aspect_ratio: str
    duration: str  # a string: "5", "10"; v3 "3".."15"
    sound: str  # "on" | "off", v2.6+
    image: str  # URL or raw base64 (no data: prefix)
    image_tail: str
    image_list: list[ImageItem]
    external_task_id: str


class KlingVideo(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = None
    url: str | None = None
    duration: str | None = None


class KlingResult(BaseModel):
    model_config = ConfigDict(extra="ignore")
    videos: list[KlingVideo] = []


class KlingTask(BaseModel):
    """`data` of a create or query answer."""

    model_config = ConfigDict(extra="ignore")
    task_id: str
    task_status: str
    task_status_msg: str | None = None
    task_result: KlingResult | None = None


class _TaskNotFound(ProviderError):
    """Kling has no task under that id (HTTP 404 / code 1203): what a lookup by external id expects."""


def _code(body: Any) -> int | None:
    if isinstance(body, dict) and isinstance(body.get("code"), int):
        return body["code"]
    return None


def split_task_id(task_id: str) -> tuple[Endpoint, str]:
    """`image2video:8668...` -> ("image2video", "8668..."); a bare id is a text2video task."""
    endpoint, sep, raw = task_id.partition(":")
    if sep and endpoint in ENDPOINTS:
        return endpoint, raw  # type: ignore[return-value]
    return "text2video", task_id


class Kling(Hosted):
    """One Kling model. Keys: KLING_ACCESS_KEY + KLING_SECRET_KEY, turned into a JWT per 25 min."""

    provider: ClassVar[str] = "kling"
    default_base_url: ClassVar[str] = "https://api-singapore.klingai.com"
    key_names: ClassVar[tuple[str, ...]] = ("KLING_ACCESS_KEY", "KLING_SECRET_KEY")
    cards: ClassVar[tuple[ModelCard, ...]] = KLING_CARDS

    def __init__(
        self,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        base_url: str | None = None,
        model_id: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(api_key=access_key, base_url=base_url, model_id=model_id, client=client)
        self.secret_key = secret_key
        self._jwt: tuple[str, float] | None = None  # (token, issued at)

    # --- keys ---------------------------------------------------------------------------------

    @classmethod
    def from_settings(
        cls, settings: Settings, *, model_id: str | None = None, client: httpx.AsyncClient | None = None
    ) -> Kling:
        return cls(
            access_key=_secret(settings.kling_access_key),
            secret_key=_secret(settings.kling_secret_key),
            base_url=os.environ.get("SHOTLINE_KLING_BASE_URL") or None,
            model_id=model_id,
            client=client,
        )

    @classmethod
    def key_from(cls, settings: Settings) -> str | None:
        """The access key, only when its secret is there too: half a pair is no key."""
        access, secret = _secret(settings.kling_access_key), _secret(settings.kling_secret_key)
        return access if access and secret else None

    def unavailable_reason(self) -> str | None:
        missing = [
            name
            for name, value in zip(self.key_names, (self.api_key, self.secret_key), strict=True)
            if not value
        ]
        return f"no key: set {' and '.join(missing)}" if missing else None

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token()}"}

    def _token(self) -> str:
        now = time.time()
        if self._jwt is None or now - self._jwt[1] > JWT_REUSE_S:
            assert self.api_key and self.secret_key  # call() checked availability first
            self._jwt = (kling_jwt(self.api_key, self.secret_key, now), now)
        return self._jwt[0]

    # --- errors -------------------------------------------------------------------------------

    def decode(self, response: httpx.Response) -> Any:
        """A query for a task Kling does not have raises `_TaskNotFound`, so lookups can tell "none"."""
        code = _code(_json(response))
        lookup = response.request.method == "GET"
        if lookup and (code == NOT_FOUND_CODE or (response.status_code == 404 and code is None)):
            raise _TaskNotFound("no such task (Kling keeps tasks for 30 days)", provider=self.provider)
        return super().decode(response)

    def _error_message(self, body: Any) -> str:
        code = _code(body)
        message = str(body.get("message") or "") if isinstance(body, dict) else ""
        if code is None:
            return message
        hint = HINTS.get(code)
        return f"{message} (code {code})" + (f": {hint}" if hint else "")

    def _refusal(self, status: int, body: Any) -> bool:
        return _code(body) in MODERATION_CODES

    def _permanent(self, status: int, body: Any) -> bool:
        return _code(body) in PERMANENT_CODES

    def _check_body(self, body: Any) -> None:
        """HTTP 200 with `code != 0` is still an error on Kling."""
        code = _code(body)
        if code in (None, 0):
            return
        message = self._error_message(body)
        if code in MODERATION_CODES:
            raise RefusedPrompt(f"refused by moderation: {message}", provider=self.provider)
        if code in TRANSIENT_CODES:
            retry = 1.0 if code == PARALLEL_LIMIT_CODE else None
            raise TransientProviderError(message, provider=self.provider, retry_after=retry)
        raise ProviderError(message, provider=self.provider)

    # --- requests -----------------------------------------------------------------------------

    def external_id(self, request: RenderRequest) -> str:
        """Our own id for the task (`external_task_id`), derived from the render, so that a submit
        that got no answer can be looked up instead of paid for twice."""
        return f"{request.shot_id}-{render_key(self.key_payload(request))[:16]}"

    def endpoint_for(self, request: RenderRequest) -> Endpoint:
        if request.references:
            return "multi-image2video"
        if request.first_frame or request.last_frame:
            return "image2video"
        return "text2video"

    def body(self, request: RenderRequest, *, external_id: str | None = None) -> CreateBody:
        """The create body for `request`; raises ProviderError for what this model cannot take."""
        card = self.card
        mode = MODES.get(request.resolution)
        if mode is None or request.resolution not in card.resolutions:
            raise self._unsupported(
                f"resolution {request.resolution}; it takes {', '.join(card.resolutions)}"
            )
        body: CreateBody = {
            "model_name": card.model_id,
            "prompt": request.prompt,
            "mode": mode,
            # Kling spells 16:9, 9:16, 1:1 as we do. The research lists it for image2video too ("the
            # same fields"); some proxies leave it out there, where the image sets the frame.
            "aspect_ratio": request.ratio,
            "duration": str(whole_seconds(card, request.duration_s)),
            "external_task_id": external_id or self.external_id(request),
        }
        if card.native_audio:
            body["sound"] = "on" if request.audio else "off"
        endpoint = self.endpoint_for(request)
        if endpoint == "multi-image2video":
            body["image_list"] = [
                {"image": _image(ref)} for ref in self._image_references(request, hint="kling-v1-6")
            ]
        elif endpoint == "image2video":
            body.update(self._keyframes(request))
        return body

    def _keyframes(self, request: RenderRequest) -> CreateBody:
        if not self.card.image_to_video:
            raise self._unsupported("a first frame")
        if request.first_frame is None:
            raise self._unsupported("a last frame without a first frame")
        frames: CreateBody = {"image": _image(request.first_frame)}
        if request.last_frame is not None:
            if not self.card.first_last_frame:
                raise self._unsupported("a last frame (image_tail)")
            frames["image_tail"] = _image(request.last_frame)
        return frames

    # --- protocol -----------------------------------------------------------------------------

    async def submit(self, request: RenderRequest, *, external_id: str | None = None) -> str:
        """Create the task; returns `<endpoint>:<task id>`. `external_id` overrides the derived one
        (Kling wants it unique per account, so a deliberate resubmit of the same render needs a new one)."""
        self.require_available()
        endpoint = self.endpoint_for(request)
        answer = await self.call(
            "POST", f"/v1/videos/{endpoint}", json=self.body(request, external_id=external_id)
        )
        task = KlingTask.model_validate(answer.get("data") or {})
        return f"{endpoint}:{task.task_id}"

    async def poll(self, task_id: str) -> TaskStatus:
        endpoint, raw = split_task_id(task_id)
        answer = await self.call("GET", f"/v1/videos/{endpoint}/{raw}")
        return self._status(task_id, KlingTask.model_validate(answer.get("data") or {}))

    def _status(self, task_id: str, task: KlingTask) -> TaskStatus:
        state = normalise(self.provider, task.task_status)
        videos = task.task_result.videos if task.task_result else []
        failed = state == "failed"
        return TaskStatus(
            task_id=task_id,
            state=state,
            raw_status=task.task_status,
            url=videos[0].url if videos else None,
            error=(task.task_status_msg or "task failed") if failed else None,
        )

    async def find_by_external_id(
        self, external_id: str, endpoints: tuple[Endpoint, ...] = ENDPOINTS
    ) -> str | None:
        """The task created with `external_task_id`, as `<endpoint>:<task id>`, or None if there is
        none. Kling's query takes either id in the path (research §4)."""
        for endpoint in endpoints:
            try:
                answer = await self.call("GET", f"/v1/videos/{endpoint}/{external_id}")
            except _TaskNotFound:
                continue
            task = KlingTask.model_validate(answer.get("data") or {})
            return f"{endpoint}:{task.task_id}"
        return None

    async def find_task(self, request: RenderRequest) -> str | None:
        """What the runner calls after an unknown-outcome submit: did that task get created?"""
        return await self.find_by_external_id(self.external_id(request), (self.endpoint_for(request),))


def whole_seconds(card: ModelCard, duration_s: float) -> int:
    """The card's clip length as whole seconds, rounded up so that the take is never short."""
    return min(math.ceil(card.billed_seconds(duration_s) - 1e-9), int(card.durations_s[1]))


def _image(ref: MediaRef) -> str:
    """Kling takes a URL or bare base64, with no data: prefix ([recalled] in the research)."""
    return ref.url or raw_base64(ref)


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json() if response.content else None
    except ValueError:
        return None
