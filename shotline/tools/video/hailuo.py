"""MiniMax Hailuo: a thin translation of the MiniMax video API, v1 and v2 (research/video-apis.md §6).

v1 (Hailuo 02 / 2.3): `POST /v1/video_generation`, poll `GET /v1/query/video_generation?task_id=`,
and when it is done, `GET /v1/files/retrieve?file_id=` for the download URL. v1 answers errors with
HTTP 200 and `base_resp.status_code != 0`, mapped in `_check_body`.
v2 (MiniMax-H3): `POST /v2/video_generation` with a `content[]` array of text, keyframes and
references; poll `GET /v2/query/video_generation/{task_id}`; errors come as an `{type: error}`
envelope with a real HTTP status. The model id on the card says which version a wrapper speaks.
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar, Literal, TypedDict

from pydantic import BaseModel, ConfigDict

from shotline.errors import ProviderError, RefusedPrompt, TransientProviderError
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, TaskStatus
from shotline.tools.video.http import Hosted
from shotline.tools.video.media import url_or_data
from shotline.tools.video.status import normalise

V2_MODELS = frozenset({"MiniMax-H3"})

# MiniMax status codes (v1 base_resp.status_code; v2 error code, often only inside the message).
TRANSIENT_CODES = frozenset({1000, 1002})  # internal error, rate limit
MODERATION_CODES = frozenset({1026, 1027})  # sensitive input, sensitive output
BALANCE_CODE = 1008
HINTS = {
    1002: "rate limited; slow down",
    1004: "check MINIMAX_API_KEY (and the host: api.minimax.io abroad, api.minimaxi.com in China)",
    1008: "the MiniMax balance is too low; top it up",
    2013: "MiniMax rejected a parameter",
}
_CODE_IN_TEXT = re.compile(r"\((\d{4})\)")  # "rate limit, please retry later (1002)"

_H3_PRICE = "MiniMax list price, quoted by [3rd] docs.laozhang.ai (research/video-apis.md §6.2)"
_V1_PRICE = "[recalled] 768P 6 s ~$0.28, 10 s ~$0.56, 1080P 6 s ~$0.49 (research/video-apis.md §6); verify"

HAILUO_CARDS: tuple[ModelCard, ...] = (
    ModelCard(
        name="hailuo",
        display_name="MiniMax H3",
        model_id="MiniMax-H3",
        durations_s=(5.0, 15.0),
        resolutions=("720p", "768p", "2k"),  # MiniMax 768P serves a 720p shot
        image_to_video=True,
        first_last_frame=True,
        reference_images=9,
        reference_videos=3,
        reference_audios=3,
        native_audio=True,  # always on (native stereo); there is no switch
        usd_per_second=0.08,
        price_source=f"{_H3_PRICE}: 768P $0.08/s, 2K $0.13/s; reference images after the 5th $0.04 each",
        price_date="2026-10-24",
        typical_latency_s=240.0,  # [unverified] no latency figure in the research
    ),
    ModelCard(
        name="hailuo",
        display_name="MiniMax Hailuo 2.3",
        model_id="MiniMax-Hailuo-2.3",
        durations_s=(6.0, 10.0),
        fixed_durations_s=(6.0, 10.0),
        ratios=("16:9",),  # no ratio field: text-to-video is landscape, a first frame sets its own
        resolutions=("720p", "768p", "1080p"),
        image_to_video=True,
        usd_per_second=0.056,  # the 10 s rate: an upper bound for 6 s clips too
        price_source=_V1_PRICE,
        price_date="2026",
        typical_latency_s=240.0,
    ),
    ModelCard(
        name="hailuo",
        display_name="MiniMax Hailuo 2.3 Fast (image to video)",
        model_id="MiniMax-Hailuo-2.3-Fast",
        durations_s=(6.0, 10.0),
        fixed_durations_s=(6.0, 10.0),
        resolutions=("720p", "768p", "1080p"),  # the output follows the first frame's ratio
        text_to_video=False,
        image_to_video=True,
        usd_per_second=0.039,
        price_source=f"{_V1_PRICE}; Fast about 30 % cheaper",
        price_date="2026",
        typical_latency_s=150.0,
    ),
    ModelCard(
        name="hailuo",
        display_name="MiniMax Hailuo 02",
        model_id="MiniMax-Hailuo-02",
        durations_s=(6.0, 10.0),
        fixed_durations_s=(6.0, 10.0),
        ratios=("16:9",),
        resolutions=("512p", "720p", "768p", "1080p"),
        image_to_video=True,
        first_last_frame=True,  # FL2V: first_frame_image + last_frame_image
        usd_per_second=0.056,
        price_source=f"no Hailuo 02 price in the research; the Hailuo 2.3 figure stands in. {_V1_PRICE}",
        price_date="2026",
        typical_latency_s=240.0,
    ),
)

RESOLUTIONS = {"512p": "512P", "720p": "768P", "768p": "768P", "1080p": "1080P", "2k": "2K"}
V1_LONG_CLIP_RESOLUTION = "768P"  # 10 s clips are 768P only [3rd]


# --- wire shapes -------------------------------------------------------------------------------


class V1Body(TypedDict, total=False):
    """Body of POST /v1/video_generation."""

    model: str
    prompt: str
    duration: int  # 6 | 10
    resolution: str  # "512P" | "768P" | "1080P"
    first_frame_image: str  # URL or data: URI
    last_frame_image: str


class MediaUrl(TypedDict):
    url: str  # https://, mm_file://<file_id> or data:


class ContentItem(TypedDict, total=False):
    type: Literal["text", "image_url", "video_url", "audio_url"]
    text: str
    image_url: MediaUrl
    video_url: MediaUrl
    audio_url: MediaUrl
    role: str  # first_frame | last_frame | reference_image | reference_video | reference_audio


class V2Body(TypedDict):
    """Body of POST /v2/video_generation."""

    model: str
    content: list[ContentItem]
    duration: int  # 5..15
    ratio: str
    resolution: str  # "768P" | "2K"


class BaseResp(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status_code: int = 0
    status_msg: str = ""


class V1Query(BaseModel):
    model_config = ConfigDict(extra="ignore")
    task_id: str = ""
    status: str
    file_id: str | int | None = None
    base_resp: BaseResp = BaseResp()


class V1File(BaseModel):
    model_config = ConfigDict(extra="ignore")
    download_url: str | None = None
    backup_download_url: str | None = None


class V2Output(BaseModel):
    model_config = ConfigDict(extra="ignore")
    video_url: str | None = None


class V2Error(BaseModel):
    model_config = ConfigDict(extra="ignore")
    code: int | str | None = None
    message: str = ""


class V2Query(BaseModel):
    model_config = ConfigDict(extra="ignore")
    task_id: str = ""
    status: str
    output: V2Output | None = None
    error: V2Error | None = None


def minimax_code(body: Any) -> int | None:
    """The MiniMax status code of an answer: v1 `base_resp`, or v2 `error.code` / "(1002)" in its message."""
    if not isinstance(body, dict):
        return None
    base = body.get("base_resp")
    if isinstance(base, dict) and isinstance(base.get("status_code"), int):
        return base["status_code"]
    err = body.get("error")
    if isinstance(err, dict):
        code = str(err.get("code") or "")
        if code.isdigit():
            return int(code)
        found = _CODE_IN_TEXT.search(str(err.get("message") or ""))
        return int(found.group(1)) if found else None
    return None


def _reference_item(ref: MediaRef) -> ContentItem:
    url: MediaUrl = {"url": url_or_data(ref)}
    if ref.kind == "video":
        return {"type": "video_url", "video_url": url, "role": "reference_video"}
    if ref.kind == "audio":
        return {"type": "audio_url", "audio_url": url, "role": "reference_audio"}
    return {"type": "image_url", "image_url": url, "role": "reference_image"}


def _hint(code: int | None) -> str:
    return f": {HINTS[code]}" if code in HINTS else ""


class Hailuo(Hosted):
    """One MiniMax video model. Key: MINIMAX_API_KEY, sent as a Bearer token."""

    provider: ClassVar[str] = "hailuo"
    default_base_url: ClassVar[str] = "https://api.minimax.io"
    key_names: ClassVar[tuple[str, ...]] = ("MINIMAX_API_KEY",)
    cards: ClassVar[tuple[ModelCard, ...]] = HAILUO_CARDS

    @property
    def v2(self) -> bool:
        return self.card.model_id in V2_MODELS

    # --- errors -------------------------------------------------------------------------------

    def _error_message(self, body: Any) -> str:
        code = minimax_code(body)
        if isinstance(body, dict) and isinstance(body.get("base_resp"), dict):
            words = str(body["base_resp"].get("status_msg") or "")
        elif isinstance(body, dict) and isinstance(body.get("error"), dict):
            err = body["error"]
            words = " ".join(str(err[k]) for k in ("type", "message") if err.get(k))
        else:
            words = super()._error_message(body)
        if code is not None and f"({code})" not in words:
            words = f"{words} (code {code})"
        return words + _hint(code)

    def _refusal(self, status: int, body: Any) -> bool:
        return minimax_code(body) in MODERATION_CODES

    def _permanent(self, status: int, body: Any) -> bool:
        return minimax_code(body) == BALANCE_CODE

    def _check_body(self, body: Any) -> None:
        """v1 answers HTTP 200 with `base_resp.status_code != 0` on errors. A task query that reports a
        failed task is a task state, not a failed call: `poll` reads it."""
        if not isinstance(body, dict) or not isinstance(body.get("base_resp"), dict):
            return  # v2: errors have a real HTTP status; an `error` in a 200 query is a failed task
        code = minimax_code(body)
        if code in (None, 0) or body.get("status") == "Fail":
            return
        message = self._error_message(body)
        if code in MODERATION_CODES:
            raise RefusedPrompt(f"refused by moderation: {message}", provider=self.provider)
        if code in TRANSIENT_CODES:
            raise TransientProviderError(message, provider=self.provider)
        raise ProviderError(message, provider=self.provider)

    # --- requests -----------------------------------------------------------------------------

    def _resolution(self, request: RenderRequest) -> str:
        wanted = request.resolution.lower()
        if wanted not in self.card.resolutions:
            raise self._unsupported(
                f"resolution {request.resolution}; it takes {', '.join(self.card.resolutions)}"
            )
        return RESOLUTIONS[wanted]

    def _duration(self, request: RenderRequest) -> int:
        card = self.card
        return min(math.ceil(card.billed_seconds(request.duration_s) - 1e-9), int(card.durations_s[1]))

    def body(self, request: RenderRequest) -> V1Body | V2Body:
        """The create body for `request`; raises ProviderError for what this model cannot take."""
        if request.last_frame and not request.first_frame and not self.v2:
            raise self._unsupported("a last frame without a first frame")
        if request.last_frame and not self.card.first_last_frame:
            raise self._unsupported("a last frame")
        if (request.first_frame or request.last_frame) and not self.card.image_to_video:
            raise self._unsupported("a first frame")
        if (
            not (request.first_frame or request.last_frame or request.references)
            and not self.card.text_to_video
        ):
            raise self._unsupported("text alone; give it a first frame")
        return self._v2_body(request) if self.v2 else self._v1_body(request)

    def _v1_body(self, request: RenderRequest) -> V1Body:
        if request.references:
            raise self._unsupported("reference images (MiniMax-H3 does)")
        if request.first_frame is None and request.ratio not in self.card.ratios:
            raise self._unsupported(
                f"ratio {request.ratio} from text alone; it makes {', '.join(self.card.ratios)}"
            )
        body: V1Body = {
            "model": self.card.model_id,
            "prompt": request.prompt,
            "duration": self._duration(request),
            "resolution": self._resolution(request),
        }
        if body["duration"] > 6 and body["resolution"] != V1_LONG_CLIP_RESOLUTION:
            raise self._unsupported(f"{body['duration']} s at {body['resolution']}; 10 s clips are 768P only")
        if request.first_frame:
            body["first_frame_image"] = url_or_data(request.first_frame)
        if request.last_frame:
            body["last_frame_image"] = url_or_data(request.last_frame)
        return body

    def _v2_body(self, request: RenderRequest) -> V2Body:
        content: list[ContentItem] = [{"type": "text", "text": request.prompt}]
        if request.references and (request.first_frame or request.last_frame):
            raise ProviderError(
                "MiniMax cannot mix keyframes and references in one task; send one or the other",
                provider=self.provider,
            )
        for ref, role in ((request.first_frame, "first_frame"), (request.last_frame, "last_frame")):
            if ref is not None:
                content.append({"type": "image_url", "image_url": {"url": url_or_data(ref)}, "role": role})
        content.extend(self._reference_items(request.references))
        return {
            "model": self.card.model_id,
            "content": content,
            "duration": self._duration(request),
            "ratio": request.ratio,  # never "adaptive": not allowed for text alone, ignored with keyframes
            "resolution": self._resolution(request),
        }

    def _reference_items(self, refs: tuple[MediaRef, ...]) -> list[ContentItem]:
        card = self.card
        limits = {
            "image": card.reference_images,
            "video": card.reference_videos,
            "audio": card.reference_audios,
        }
        for kind, limit in limits.items():
            count = sum(1 for ref in refs if ref.kind == kind)
            if count > limit:
                raise self._unsupported(f"{count} reference {kind}s; at most {limit}")
        return [_reference_item(ref) for ref in refs]

    # --- protocol -----------------------------------------------------------------------------

    async def submit(self, request: RenderRequest) -> str:
        self.require_available()
        body = self.body(request)
        answer = await self.call(
            "POST", "/v2/video_generation" if self.v2 else "/v1/video_generation", json=body
        )
        task_id = str(answer.get("task_id") or "") if isinstance(answer, dict) else ""
        if not task_id:
            raise ProviderError("the create answer has no task_id", provider=self.provider)
        return task_id

    async def poll(self, task_id: str) -> TaskStatus:
        return await (self._poll_v2(task_id) if self.v2 else self._poll_v1(task_id))

    async def _poll_v1(self, task_id: str) -> TaskStatus:
        query = V1Query.model_validate(
            await self.call("GET", "/v1/query/video_generation", params={"task_id": task_id})
        )
        state = normalise(self.provider, query.status)
        url = None
        if state == "succeeded" and query.file_id:
            url = await self._download_url(str(query.file_id))
        code = query.base_resp.status_code or None
        failed = state == "failed"
        return TaskStatus(
            task_id=task_id,
            state=state,
            raw_status=query.status,
            url=url,
            error_code=str(code) if failed and code else None,
            error=(query.base_resp.status_msg or "task failed") + _hint(code) if failed else None,
            refused=failed and code in MODERATION_CODES,
        )

    async def _download_url(self, file_id: str) -> str | None:
        """v1 results are files: ask for a (fresh, short-lived) download URL."""
        answer = await self.call("GET", "/v1/files/retrieve", params={"file_id": file_id})
        file = V1File.model_validate(answer.get("file") or {})
        return file.download_url or file.backup_download_url

    async def _poll_v2(self, task_id: str) -> TaskStatus:
        query = V2Query.model_validate(await self.call("GET", f"/v2/query/video_generation/{task_id}"))
        state = normalise(self.provider, query.status)
        code = minimax_code({"error": query.error.model_dump()}) if query.error else None
        failed = state == "failed"
        return TaskStatus(
            task_id=task_id,
            state=state,
            raw_status=query.status,
            url=query.output.video_url if query.output and state == "succeeded" else None,
            error_code=str(query.error.code) if failed and query.error and query.error.code else None,
            error=((query.error.message if query.error else "") or "task failed") + _hint(code)
            if failed
            else None,
            refused=failed and code in MODERATION_CODES,
        )
