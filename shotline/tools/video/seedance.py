"""Seedance (ByteDance) on BytePlus ModelArk (international) and Volcengine Ark (mainland China).

One async task API on two platforms: `POST /contents/generations/tasks`, then
`GET /contents/generations/tasks/{id}`. The body is the same on both; the hosts and the model ids
differ (`dreamina-`/`seedance-` on BytePlus, `doubao-` on Volcengine). Source for every field,
status word, error code and price: ../shared/research/video-apis.md §3 (BytePlus SDK
`byteplussdkarkruntime` 2026-07-23, BytePlus docs digest 2026-08-03, ComfyUI partner nodes 2026-08).

A thin translation: no retries, no fallbacks, no budget (tools/render.py owns those).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NotRequired, TypedDict
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict

from shotline.errors import ProviderError
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, TaskStatus
from shotline.tools.video.http import Hosted
from shotline.tools.video.media import url_or_data
from shotline.tools.video.status import normalise

PROVIDER = "seedance"
TASKS_PATH = "/contents/generations/tasks"
MAX_INLINE_BODY_BYTES = 64_000_000  # the whole request body is capped at 64 MB (§3.2)

# --- platforms: which host speaks which family of model ids ----------------------------------

Platform = Literal["byteplus", "volcengine"]

# Host domain -> platform. Any other host (a company proxy, a reseller, a local fake) is treated as
# BytePlus, the default; point SHOTLINE_SEEDANCE_BASE_URL at a *.volces.com host for mainland ids.
PLATFORM_BY_DOMAIN: dict[str, Platform] = {"bytepluses.com": "byteplus", "volces.com": "volcengine"}

# BytePlus id (the card's model_id) -> Volcengine id. Explicit, because the BytePlus prefix is not
# uniform (`dreamina-` on 2.x, none on 1.x) and the date suffix is part of the id (§3.1).
VOLCENGINE_IDS: dict[str, str] = {
    "dreamina-seedance-2-0-260128": "doubao-seedance-2-0-260128",
    "dreamina-seedance-2-0-fast-260128": "doubao-seedance-2-0-fast-260128",
    "dreamina-seedance-2-5-260628": "doubao-seedance-2-5-260628",
    "seedance-1-5-pro-251215": "doubao-seedance-1-5-pro-251215",
    "seedance-1-0-pro-250528": "doubao-seedance-1-0-pro-250528",
}
BYTEPLUS_IDS: dict[str, str] = {volc: bp for bp, volc in VOLCENGINE_IDS.items()}


def platform_for(base_url: str) -> Platform:
    """The platform a base URL belongs to, by its host's domain."""
    host = httpx.URL(base_url).host.lower()
    for domain, platform in PLATFORM_BY_DOMAIN.items():
        if host == domain or host.endswith("." + domain):
            return platform
    return "byteplus"


def model_id_on(platform: Platform, model_id: str) -> str:
    """The id a platform knows a model by (cards carry the BytePlus id)."""
    return VOLCENGINE_IDS.get(model_id, model_id) if platform == "volcengine" else model_id


# --- prices: BytePlus bills per output token ---------------------------------------------------

# tokens ≈ W × H × fps × seconds / 1024 (§3.5): 1280×720 at 24 fps is 21,600 tokens per second.
TOKENS_PER_SECOND_720P = 1280 * 720 * 24 // 1024
PRICE_SOURCE = (
    "BytePlus ModelArk USD per 1M output tokens, no video input (research §1/§3.5: ComfyUI "
    "comfy_api_nodes SEEDANCE2_PRICE_PER_1K_TOKENS and BytePlus digest; 1.x derived from Comfy badges "
    "and 302.ai); per second at 720p 16:9 = 21,600 tokens"
)
PRICE_DATE = "2026-08"


@dataclass(frozen=True)
class TokenPrice:
    """USD per 1M output tokens on BytePlus. Tasks with a video reference are billed at a lower rate;
    the task object does not say whether one was sent, so the higher (no-video) rate is used."""

    usd_per_m: float  # 480p / 720p
    by_resolution: dict[str, float] = field(default_factory=dict)  # where 1080p / 4k differ
    with_audio: float | None = None  # 1.5 pro bills clips with audio at a higher rate

    def rate(self, resolution: str | None, audio: bool | None) -> float:
        if self.with_audio is not None and audio is not False:
            return self.with_audio
        return self.by_resolution.get(resolution or "", self.usd_per_m)

    def usd_per_second_720p(self) -> float:
        """The card's routing price: 720p, with audio where audio costs more (never under-estimate)."""
        return round(self.rate("720p", True) * TOKENS_PER_SECOND_720P / 1_000_000, 4)


TOKEN_PRICES: dict[str, TokenPrice] = {
    "dreamina-seedance-2-0-260128": TokenPrice(7.0, {"1080p": 7.7, "4k": 4.0}),
    "dreamina-seedance-2-0-fast-260128": TokenPrice(5.6),
    # 2.5 at 1080p: no BytePlus figure in the research (Volcengine lists 1080p ~10% higher) [uncertain]
    "dreamina-seedance-2-5-260628": TokenPrice(10.7),
    "seedance-1-5-pro-251215": TokenPrice(1.2, with_audio=2.4),
    "seedance-1-0-pro-250528": TokenPrice(2.5),
}


def billed_usd(model_id: str, completion_tokens: int, resolution: str | None, audio: bool | None) -> float:
    """`usage.completion_tokens × USD per 1M tokens / 1e6`, the rate picked by model, resolution and
    (1.5 pro) audio, all read from the task itself."""
    return round(completion_tokens * TOKEN_PRICES[model_id].rate(resolution, audio) / 1_000_000, 4)


# --- cards -----------------------------------------------------------------------------------


def _make_card(model_id: str, display_name: str, **caps: Any) -> ModelCard:
    low, high = caps.pop("durations_s")
    return ModelCard(
        name=PROVIDER,
        display_name=display_name,
        model_id=model_id,
        durations_s=(low, high),
        whole_seconds=True,  # the API takes whole seconds
        usd_per_second=TOKEN_PRICES[model_id].usd_per_second_720p(),
        price_source=PRICE_SOURCE,
        price_date=PRICE_DATE,
        text_to_video=True,
        image_to_video=True,
        first_last_frame=True,
        **caps,
    )


# 2.x: multimodal references; seed left off: the digest says 2.0 ignores it and Comfy treats 2.x as
# non-deterministic whatever the seed (§3.2, §18). Latency: 1–3 min plus queue [uncertain] (§3.5).
CARDS: tuple[ModelCard, ...] = (
    _make_card(
        "dreamina-seedance-2-0-260128",
        "Seedance 2.0",
        durations_s=(4, 15),
        resolutions=("480p", "720p", "1080p", "4k"),  # 4k on BytePlus (digest); Volcengine unverified
        reference_images=9,
        reference_videos=3,
        reference_audios=3,
        native_audio=True,
        typical_latency_s=120.0,
    ),
    _make_card(
        "dreamina-seedance-2-0-fast-260128",
        "Seedance 2.0 fast",
        durations_s=(4, 15),
        resolutions=("480p", "720p"),
        reference_images=9,
        reference_videos=3,
        reference_audios=3,
        native_audio=True,
        typical_latency_s=90.0,
    ),
    # 2.5: ids, 4–30 s, resolutions and reference counts from ComfyUI's nodes and a reseller [proxy/3rd]
    _make_card(
        "dreamina-seedance-2-5-260628",
        "Seedance 2.5",
        durations_s=(4, 30),
        resolutions=("480p", "720p", "1080p"),
        reference_images=30,
        reference_videos=10,
        reference_audios=10,
        native_audio=True,
        typical_latency_s=180.0,
    ),
    # 1.x latencies: Comfy's VIDEO_TASKS_EXECUTION_TIME for 10 s at 720p [proxy]
    _make_card(
        "seedance-1-5-pro-251215",
        "Seedance 1.5 pro",
        durations_s=(4, 12),
        resolutions=("480p", "720p", "1080p"),
        native_audio=True,
        seed=True,
        typical_latency_s=100.0,
    ),
    _make_card(
        "seedance-1-0-pro-250528",
        "Seedance 1.0 pro",
        durations_s=(2, 12),
        resolutions=("480p", "720p", "1080p"),
        seed=True,
        typical_latency_s=85.0,
    ),
)

# --- request and response bodies ----------------------------------------------------------------


class MediaURL(TypedDict):
    url: str


class TextItem(TypedDict):
    type: Literal["text"]
    text: str


class ImageItem(TypedDict):
    type: Literal["image_url"]
    image_url: MediaURL
    role: Literal["first_frame", "last_frame", "reference_image"]


class VideoItem(TypedDict):
    type: Literal["video_url"]
    video_url: MediaURL
    role: Literal["reference_video"]


class AudioItem(TypedDict):
    type: Literal["audio_url"]
    audio_url: MediaURL
    role: Literal["reference_audio"]


ContentItem = TextItem | ImageItem | VideoItem | AudioItem


class CreateTaskBody(TypedDict):
    """The create body as the SDK's `content_generation.tasks.create` sends it; body fields, never the
    legacy `--rs 720p` text commands (those are silently defaulted when wrong, §3.2)."""

    model: str
    content: list[ContentItem]
    resolution: str
    ratio: str
    duration: int
    watermark: bool
    return_last_frame: bool
    seed: NotRequired[int]
    generate_audio: NotRequired[bool]


class TaskError(BaseModel):
    model_config = ConfigDict(extra="ignore")
    code: str = ""
    message: str = ""


class TaskContent(BaseModel):
    model_config = ConfigDict(extra="ignore")
    video_url: str | None = None
    last_frame_url: str | None = None


class TaskUsage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    completion_tokens: int | None = None


class Task(BaseModel):
    """The task object (`ContentGenerationTask` in the SDK); only the fields Shotline reads."""

    model_config = ConfigDict(extra="ignore")
    id: str
    model: str = ""
    status: str
    error: TaskError | None = None
    content: TaskContent | None = None
    usage: TaskUsage | None = None
    resolution: str | None = None
    generate_audio: bool | None = None


# --- prompt ----------------------------------------------------------------------------------

# Legacy text commands (`--resolution 720p`, `--rs 720p` ...) would fight the body fields; an LLM that
# has read old Seedance guides writes them, so they are stripped (§3.2 recommendation).
_TEXT_COMMAND = re.compile(
    r"\s*--(?:resolution|ratio|duration|frames|framespersecond|seed|camerafixed|watermark"
    r"|rs|rt|dur|fs|fps|cf|wm)(?:\s+(?!--)\S+)?(?=\s|$)"
)
_LABEL = {"image": "Image", "video": "Video", "audio": "Audio"}


def strip_text_commands(prompt: str) -> str:
    return _TEXT_COMMAND.sub("", prompt).strip()


def reference_labels(references: tuple[MediaRef, ...]) -> list[str]:
    """Labels numbered per kind in content order ("Image 1", "Video 1", "Image 2" ...), as the prompt
    must address the references (§3.2)."""
    seen: Counter[str] = Counter()
    labels = []
    for ref in references:
        seen[ref.kind] += 1
        labels.append(f"{_LABEL[ref.kind]} {seen[ref.kind]}")
    return labels


def legend(references: tuple[MediaRef, ...]) -> str:
    """One line telling the model who each reference is: "Image 1 is MEI, front view." """
    pairs = zip(reference_labels(references), references, strict=True)
    return " ".join(f"{label} is {ref.name.rstrip('.')}." for label, ref in pairs if ref.name)


def prompt_text(request: RenderRequest) -> str:
    prompt = strip_text_commands(request.prompt)
    line = legend(request.references)
    return f"{line}\n{prompt}" if line else prompt


# --- the wrapper -------------------------------------------------------------------------------


class Seedance(Hosted):
    """Seedance 2.x / 1.x through Ark. Model ids follow the host: see `PLATFORM_BY_DOMAIN`."""

    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "https://ark.ap-southeast.bytepluses.com/api/v3"
    key_names: ClassVar[tuple[str, ...]] = ("ARK_API_KEY",)
    cards: ClassVar[tuple[ModelCard, ...]] = CARDS

    def quote_usd(self, request: RenderRequest) -> float:
        """The card's price at the rate this request is billed at: 1.5 pro costs half without audio."""
        card = self._card(request.model_id) if request.model_id else self.card
        price = TOKEN_PRICES.get(card.model_id)
        full = card.cost(request.duration_s, request.resolution)
        if price is None:
            return full
        return round(full * price.rate(request.resolution, request.audio) / price.rate("720p", True), 4)

    def _card(self, model_id: str | None) -> ModelCard:
        """A Volcengine id (`doubao-…`) names the same model as its BytePlus twin."""
        return super()._card(BYTEPLUS_IDS.get(model_id, model_id) if model_id else None)

    @property
    def platform(self) -> Platform:
        return platform_for(self.base_url)

    @property
    def wire_model_id(self) -> str:
        return model_id_on(self.platform, self.card.model_id)

    # --- submit ---------------------------------------------------------------------------------

    async def submit(self, request: RenderRequest) -> str:
        self.require_available()
        body = await self.call("POST", TASKS_PATH, json=self.build_body(request))
        task_id = body.get("id") if isinstance(body, dict) else None
        if not task_id:
            raise ProviderError("the create-task answer carried no task id", provider=self.provider)
        return str(task_id)

    def build_body(self, request: RenderRequest) -> CreateTaskBody:
        """The create body for `request`, validated against the card before anything is sent."""
        card = self.card
        self._check_format(request)
        body: CreateTaskBody = {
            "model": self.wire_model_id,
            "content": [{"type": "text", "text": prompt_text(request)}, *self._media(request)],
            "resolution": request.resolution,
            "ratio": request.ratio,
            "duration": int(card.billed_seconds(request.duration_s)),
            "watermark": False,
            "return_last_frame": True,  # the last frame chains the next shot
        }
        if card.seed and request.seed is not None:
            body["seed"] = request.seed
        if card.native_audio:
            body["generate_audio"] = request.audio  # the API defaults to true on 2.x: always say
        self._check_size(body["content"])
        return body

    def _check_size(self, content: list[ContentItem]) -> None:
        """Inline (data: URL) media all travel in one body, which Ark caps at 64 MB."""
        inline = sum(len(url) for item in content for url in _urls(item) if url.startswith("data:"))
        if inline > MAX_INLINE_BODY_BYTES:
            raise ProviderError(
                f"the inline keyframes and references come to {inline // 1_000_000} MB, over Ark's 64 MB "
                "request limit; host the larger files and give their URLs",
                provider=self.provider,
            )

    def _check_format(self, request: RenderRequest) -> None:
        card = self.card
        if request.resolution not in card.resolutions:
            raise self._unsupported(
                f"resolution {request.resolution} (it takes {', '.join(card.resolutions)})"
            )
        if request.ratio not in card.ratios:
            raise self._unsupported(f"ratio {request.ratio}")

    def _media(self, request: RenderRequest) -> list[ContentItem]:
        """Keyframes or references: the three modes (first frame, first+last, references) never mix;
        the API answers 400 when they do (§3.2)."""
        if (request.first_frame or request.last_frame) and request.references:
            raise ProviderError(
                "a shot takes either keyframes (first/last frame) or references, not both; drop one",
                provider=self.provider,
            )
        if request.last_frame and not request.first_frame:
            raise ProviderError("a last frame needs a first frame as well", provider=self.provider)
        if request.references:
            return self._reference_items(request.references)
        items: list[ContentItem] = []
        if request.first_frame:
            if not self.card.image_to_video:
                raise self._unsupported("a first frame")
            items.append(self._frame(request.first_frame, "first_frame"))
        if request.last_frame:
            if not self.card.first_last_frame:
                raise self._unsupported("a last frame")
            items.append(self._frame(request.last_frame, "last_frame"))
        return items

    def _frame(self, ref: MediaRef, role: Literal["first_frame", "last_frame"]) -> ImageItem:
        if ref.kind != "image":
            raise ProviderError(
                f"the {role.replace('_', ' ')} must be an image, not {ref.kind}", provider=self.provider
            )
        return {"type": "image_url", "image_url": {"url": url_or_data(ref)}, "role": role}

    def _reference_items(self, references: tuple[MediaRef, ...]) -> list[ContentItem]:
        card = self.card
        counts = Counter(ref.kind for ref in references)
        limits = {
            "image": card.reference_images,
            "video": card.reference_videos,
            "audio": card.reference_audios,
        }
        for kind, count in counts.items():
            if count > limits[kind]:
                taken = f"at most {limits[kind]}" if limits[kind] else "no"
                raise self._unsupported(f"{count} reference {kind}(s): it takes {taken}")
        if counts["audio"] and not (counts["image"] or counts["video"]):
            raise ProviderError(
                "reference audio cannot be the only reference; add an image or a video",
                provider=self.provider,
            )
        return [self._reference(ref) for ref in references]

    def _reference(self, ref: MediaRef) -> ContentItem:
        if ref.kind == "image":
            return {"type": "image_url", "image_url": {"url": url_or_data(ref)}, "role": "reference_image"}
        if ref.kind == "audio":
            return {"type": "audio_url", "audio_url": {"url": url_or_data(ref)}, "role": "reference_audio"}
        if not ref.url:  # videos go by URL only (documented as https; the body is capped at 64 MB)
            raise ProviderError(
                f"reference video {ref.name or ref.sha256[:12]} needs a public URL; Seedance takes no inline video",
                provider=self.provider,
            )
        return {"type": "video_url", "video_url": {"url": ref.url}, "role": "reference_video"}

    # --- poll -----------------------------------------------------------------------------------

    async def poll(self, task_id: str) -> TaskStatus:
        body = await self.call("GET", f"{TASKS_PATH}/{quote(task_id, safe='')}")
        return self.task_status(Task.model_validate(body))

    def task_status(self, task: Task) -> TaskStatus:
        error = task.error if task.error and (task.error.code or task.error.message) else None
        state = normalise(self.provider, task.status)
        return TaskStatus(
            task_id=task.id,
            state=state,
            raw_status=task.status,
            url=task.content.video_url if task.content else None,
            last_frame_url=task.content.last_frame_url if task.content else None,
            error_code=error.code if error else None,
            error=error.message if error else None,
            refused=bool(error and is_moderation(error.code)),
            billed_usd=self._billed(task) if state == "succeeded" else None,
        )

    def _billed(self, task: Task) -> float | None:
        """BytePlus bills USD per output token; Volcengine bills CNY, which no card here prices."""
        tokens = task.usage.completion_tokens if task.usage else None
        if tokens is None or self.platform != "byteplus":
            return None
        model_id = BYTEPLUS_IDS.get(task.model, task.model)
        if model_id not in TOKEN_PRICES:
            model_id = self.card.model_id
        return billed_usd(model_id, tokens, task.resolution, task.generate_audio)

    # --- errors ---------------------------------------------------------------------------------

    def _refusal(self, status: int, body: Any) -> bool:
        """`Input{Text,Image,Video}SensitiveContentDetected[.…]` on HTTP 400 (§3.4)."""
        return status == 400 and is_moderation(error_code(body))

    def _permanent(self, status: int, body: Any) -> bool:
        """429 `QuotaExceeded` (quota or 120 queued tasks) and `SetLimitExceeded` (the user's own spend
        cap) do not clear by waiting; the other 429 codes are rate limits and do (§3.4)."""
        return status == 429 and error_code(body).split(".")[0] in {"QuotaExceeded", "SetLimitExceeded"}


def _urls(item: ContentItem) -> list[str]:
    media = [item.get(key) for key in ("image_url", "video_url", "audio_url")]
    return [m["url"] for m in media if isinstance(m, dict)]


def error_code(body: Any) -> str:
    """`error.code` of Ark's OpenAI-style envelope, or ""."""
    err = body.get("error") if isinstance(body, dict) else None
    return str(err.get("code") or "") if isinstance(err, dict) else ""


def is_moderation(code: str | None) -> bool:
    """Input or output moderation: `*SensitiveContentDetected*` (text, image, video, audio; real faces)."""
    return bool(code) and "SensitiveContentDetected" in str(code)
