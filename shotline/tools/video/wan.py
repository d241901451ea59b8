"""Wan (Alibaba) on DashScope / Model Studio: async video synthesis tasks.

`POST /services/aigc/video-generation/video-synthesis` with `X-DashScope-Async: enable` (required:
HTTP calls are async only), then `GET /tasks/{task_id}`. One model id per mode: t2v, i2v (first
frame), r2v (references); first+last frames go to the older kf2v endpoint. Source for fields,
statuses and codes: ../shared/research/video-apis.md §14 (Alibaba Cloud Model Studio API references,
2026-10-12) and the DashScope status-code table; prices are [recalled] there, see PRICE_SOURCE.

A thin translation: no retries, no fallbacks, no budget (tools/render.py owns those).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, ClassVar, Literal, NotRequired, TypedDict
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from shotline.errors import ProviderError
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, TaskStatus
from shotline.tools.video.http import Hosted
from shotline.tools.video.media import url_or_data
from shotline.tools.video.status import normalise

PROVIDER = "wan"
SYNTHESIS_PATH = "/services/aigc/video-generation/video-synthesis"  # t2v, i2v, r2v
KF2V_PATH = "/services/aigc/image2video/video-synthesis"  # first + last frame (wan2.1/2.2)
ASYNC_HEADER = {"X-DashScope-Async": "enable"}

Mode = Literal["t2v", "i2v", "r2v", "kf2v"]

# t2v and r2v take a pixel `size` ("W*H"); i2v and kf2v take a `resolution` tier and follow the image.
SIZES: dict[str, dict[str, str]] = {
    "720p": {"16:9": "1280*720", "9:16": "720*1280", "1:1": "960*960"},
    "1080p": {"16:9": "1920*1080", "9:16": "1080*1920", "1:1": "1440*1440"},
}
TIERS: dict[str, str] = {"480p": "480P", "720p": "720P", "1080p": "1080P"}

# DataInspectionFailed is DashScope's moderation code (HTTP 400, or a FAILED task's output.code);
# IPInfringementSuspect (a suspected copyright/IP match) refuses the prompt the same way [recalled].
REFUSAL_CODES = frozenset({"DataInspectionFailed", "IPInfringementSuspect"})

PRICE_SOURCE = (
    "Model Studio per output second, 720P (research §14 [recalled]: ~$0.10/s 720P, $0.15/s 1080P for "
    "wan2.5/2.6; matches third-party listings of Alibaba's price, 2026); verify on Model Studio pricing"
)
KF2V_PRICE_SOURCE = (
    "Beijing list price ¥0.20/s at 720P (third-party crazyrouter listing, 2026) at ~0.14 USD/CNY; "
    "international price not documented [uncertain]"
)


def _whole_seconds(low: int, high: int) -> dict[str, Any]:
    return {"durations_s": (low, high), "whole_seconds": True}


CARDS: tuple[ModelCard, ...] = (
    ModelCard(
        name=PROVIDER,
        display_name="Wan 2.6 text-to-video",
        model_id="wan2.6-t2v",
        **_whole_seconds(2, 15),
        resolutions=("720p", "1080p"),  # wan2.6 has no 480P
        native_audio=True,
        seed=True,
        usd_per_second=0.10,
        price_source=PRICE_SOURCE,
        price_date="2026-10",
        typical_latency_s=180.0,  # "typically 1–5 min" [docs]
    ),
    ModelCard(
        name=PROVIDER,
        display_name="Wan 2.6 image-to-video",
        model_id="wan2.6-i2v",
        **_whole_seconds(2, 15),
        resolutions=("720p", "1080p"),
        text_to_video=False,
        image_to_video=True,
        native_audio=True,
        seed=True,
        usd_per_second=0.10,
        price_source=PRICE_SOURCE,
        price_date="2026-10",
        typical_latency_s=180.0,
    ),
    ModelCard(
        name=PROVIDER,
        display_name="Wan 2.6 reference-to-video",
        model_id="wan2.6-r2v",
        **_whole_seconds(2, 10),
        resolutions=("720p", "1080p"),
        text_to_video=False,
        reference_images=5,  # up to 5 references in all, at most 3 of them videos
        reference_videos=3,
        native_audio=True,
        seed=True,
        usd_per_second=0.10,  # reference video seconds are billed on top
        price_source=PRICE_SOURCE,
        price_date="2026-10",
        typical_latency_s=180.0,
    ),
    ModelCard(
        name=PROVIDER,
        display_name="Wan 2.2 first+last frame flash",
        model_id="wan2.2-kf2v-flash",
        durations_s=(5.0, 5.0),
        fixed_durations_s=(5.0,),  # fixed at 5 s
        resolutions=("480p", "720p", "1080p"),
        text_to_video=False,
        first_last_frame=True,  # both frames, always: it takes no first frame alone
        seed=True,
        usd_per_second=0.03,
        price_source=KF2V_PRICE_SOURCE,
        price_date="2026",
        typical_latency_s=120.0,
    ),
)

MODES: dict[str, Mode] = {
    "wan2.6-t2v": "t2v",
    "wan2.6-i2v": "i2v",
    "wan2.6-r2v": "r2v",
    "wan2.2-kf2v-flash": "kf2v",
}

# --- request and response bodies ----------------------------------------------------------------


class WanInput(TypedDict):
    prompt: str
    img_url: NotRequired[str]  # i2v: URL or data:<mime>;base64,…
    reference_urls: NotRequired[list[str]]  # r2v: public URLs, in "character1, character2" order
    first_frame_url: NotRequired[str]  # kf2v
    last_frame_url: NotRequired[str]  # kf2v


class WanParameters(TypedDict):
    duration: int
    watermark: bool
    size: NotRequired[str]  # t2v, r2v
    resolution: NotRequired[str]  # i2v, kf2v
    prompt_extend: NotRequired[bool]  # t2v, i2v, kf2v
    shot_type: NotRequired[Literal["single", "multi"]]  # r2v
    audio: NotRequired[bool]  # wan2.6: native audio on/off
    seed: NotRequired[int]


class CreateBody(TypedDict):
    model: str
    input: WanInput
    parameters: WanParameters


class TaskOutput(BaseModel):
    model_config = ConfigDict(extra="ignore")
    task_id: str
    task_status: str
    video_url: str | None = None
    code: str | None = None
    message: str | None = None


class Task(BaseModel):
    """`GET /tasks/{task_id}`: `{"request_id", "output": {...}, "usage": {...}}`."""

    model_config = ConfigDict(extra="ignore")
    output: TaskOutput


def legend(references: tuple[MediaRef, ...]) -> str:
    """r2v names references "character1", "character2" ... in `reference_urls` order."""
    return " ".join(
        f"character{n} is {ref.name.rstrip('.')}." for n, ref in enumerate(references, 1) if ref.name
    )


# --- the wrapper -------------------------------------------------------------------------------


class Wan(Hosted):
    """Wan 2.6 t2v / i2v / r2v and Wan 2.2 kf2v on DashScope (Singapore host by default)."""

    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "https://dashscope-intl.aliyuncs.com/api/v1"
    key_names: ClassVar[tuple[str, ...]] = ("DASHSCOPE_API_KEY",)
    cards: ClassVar[tuple[ModelCard, ...]] = CARDS

    @property
    def mode(self) -> Mode:
        return MODES[self.card.model_id]

    async def submit(self, request: RenderRequest) -> str:
        self.require_available()
        path = KF2V_PATH if self.mode == "kf2v" else SYNTHESIS_PATH
        body = await self.call("POST", path, json=self.build_body(request), headers=ASYNC_HEADER)
        output = body.get("output") if isinstance(body, dict) else None
        task_id = output.get("task_id") if isinstance(output, dict) else None
        if not task_id:
            raise ProviderError("the create-task answer carried no task id", provider=self.provider)
        return str(task_id)

    def build_body(self, request: RenderRequest) -> CreateBody:
        """The create body for this model's one mode, validated before anything is sent."""
        card, mode = self.card, self.mode
        if request.resolution not in card.resolutions:
            raise self._unsupported(
                f"resolution {request.resolution} (it takes {', '.join(card.resolutions)})"
            )
        self._check_media(request)
        params: WanParameters = {"duration": int(card.billed_seconds(request.duration_s)), "watermark": False}
        inputs: WanInput = {"prompt": request.prompt}
        if mode in ("t2v", "r2v"):
            params["size"] = SIZES[request.resolution][request.ratio]
        else:
            params["resolution"] = TIERS[request.resolution]
        if mode == "r2v":
            inputs["prompt"] = "\n".join(filter(None, (legend(request.references), request.prompt)))
            inputs["reference_urls"] = [self._reference_url(ref) for ref in request.references]
            params["shot_type"] = "single"  # one take is one shot; Shotline cuts between shots itself
        else:
            params["prompt_extend"] = False  # the prompt is assembled from the bible: keep it verbatim
        if mode == "i2v" and request.first_frame:
            inputs["img_url"] = url_or_data(request.first_frame)
        if mode == "kf2v" and request.first_frame and request.last_frame:
            inputs["first_frame_url"] = url_or_data(request.first_frame)
            inputs["last_frame_url"] = url_or_data(request.last_frame)
        if card.native_audio:
            params["audio"] = request.audio
        if card.seed and request.seed is not None:
            params["seed"] = request.seed
        return {"model": card.model_id, "input": inputs, "parameters": params}

    def _check_media(self, request: RenderRequest) -> None:
        """Each Wan model takes exactly one kind of input besides the prompt; say which model fits."""
        mode = self.mode
        frames = [ref for ref in (request.first_frame, request.last_frame) if ref]
        if frames and request.references:
            raise ProviderError(
                "a shot takes either keyframes (first/last frame) or references, not both; drop one",
                provider=self.provider,
            )
        if any(ref.kind != "image" for ref in frames):
            raise ProviderError("first and last frames must be images", provider=self.provider)
        if mode == "t2v" and (frames or request.references):
            raise self._unsupported(
                "keyframes or references (use wan2.6-i2v, wan2.2-kf2v-flash or wan2.6-r2v)"
            )
        if mode == "i2v" and request.last_frame:
            raise self._unsupported("a last frame (use wan2.2-kf2v-flash for first+last frames)")
        if mode in ("i2v", "kf2v") and not request.first_frame:
            raise self._needs("a first frame")
        if mode == "kf2v" and not request.last_frame:
            raise self._needs("a last frame as well (use wan2.6-i2v for a first frame alone)")
        if mode == "r2v":
            self._check_references(request.references)

    def _check_references(self, references: tuple[MediaRef, ...]) -> None:
        card = self.card
        counts = Counter(ref.kind for ref in references)
        if not references:
            raise self._needs("at least one reference image or video (use wan2.6-t2v for text alone)")
        if counts["audio"]:
            raise self._unsupported("reference audio")
        if counts["video"] > card.reference_videos or len(references) > card.reference_images:
            raise self._unsupported(
                f"{counts['image']} image(s) and {counts['video']} video(s): it takes at most "
                f"{card.reference_images} references, of which at most {card.reference_videos} videos"
            )

    def _reference_url(self, ref: MediaRef) -> str:
        if not ref.url:  # reference_urls are fetched by the service: public HTTP(S) or OSS URLs only
            raise ProviderError(
                f"reference {ref.name or ref.sha256[:12]} needs a public URL; Wan r2v takes no inline files",
                provider=self.provider,
            )
        return ref.url

    def _needs(self, what: str) -> ProviderError:
        return ProviderError(f"{self.card.model_id} needs {what}", provider=self.provider)

    # --- poll -----------------------------------------------------------------------------------

    async def poll(self, task_id: str) -> TaskStatus:
        body = await self.call("GET", f"/tasks/{quote(task_id, safe='')}")
        return self.task_status(Task.model_validate(body).output)

    def task_status(self, out: TaskOutput) -> TaskStatus:
        message = out.message
        if out.task_status == "UNKNOWN" and not message:
            message = "task unknown or expired (DashScope keeps task ids for 24 h)"
        return TaskStatus(
            task_id=out.task_id,
            state=normalise(self.provider, out.task_status),
            raw_status=out.task_status,
            url=out.video_url,
            error_code=out.code,
            error=message,
            refused=out.code in REFUSAL_CODES,
        )

    # --- errors ---------------------------------------------------------------------------------

    def _error_message(self, body: Any) -> str:
        """DashScope errors are flat: `{"request_id", "code", "message"}`."""
        if isinstance(body, dict) and (body.get("code") or body.get("message")):
            return ": ".join(str(body[k]) for k in ("code", "message") if body.get(k))
        return super()._error_message(body)

    def _refusal(self, status: int, body: Any) -> bool:
        return status == 400 and isinstance(body, dict) and body.get("code") in REFUSAL_CODES
