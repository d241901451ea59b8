"""Runway: a thin translation of the Runway developer API (research/video-apis.md §7).

Two create endpoints, `POST /v1/text_to_video` and `POST /v1/image_to_video` (the latter whenever
a keyframe is sent), both answering `{"id"}`; one poll, `GET /v1/tasks/{id}`, whose body is a union
on `status`. Every call carries `X-Runway-Version: 2024-11-06`. Runway spells sizes as pixel ratios
("1280:720"), which also fix the resolution. A FAILED task names its cause in `failureCode`; codes
starting `SAFETY.` are moderation (docs.dev.runwayml.com/errors/task-failures). Output URLs expire
within 24-48 h and fetching the task again gives fresh ones, which `Hosted.fetch` relies on.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypedDict
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, ValidationError

from shotline.errors import ProviderError
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, TaskStatus
from shotline.tools.video.http import Hosted
from shotline.tools.video.media import url_or_data
from shotline.tools.video.status import normalise

API_VERSION = "2024-11-06"  # required on every request [sdk] runwayml/sdk-python src/runwayml/_client.py
MAX_PROMPT_UTF16 = 1000  # promptText limit for gen4.5, gen4_turbo and veo3.1*, in UTF-16 code units

CREDIT_USD = 0.01
RUNWAY_PRICE_SOURCE = (
    "research/video-apis.md §7: Runway API reference as copied by a third party ([3rd] skill copy), "
    "1 credit = $0.01; verify at docs.dev.runwayml.com"
)
RUNWAY_PRICE_DATE = "2026"  # the copy is undated beyond the year

# Pixel ratios by resolution tier, from the SDK's `ratio` literals (types/*_create_params.py).
PIXEL_RATIOS: dict[str, dict[str, str]] = {
    "720p": {"16:9": "1280:720", "9:16": "720:1280", "1:1": "960:960"},
    "1080p": {"16:9": "1920:1080", "9:16": "1080:1920"},
}


class RatioRule(BaseModel):
    """Which pixel ratios one Runway model takes on each endpoint (they differ: gen4.5 t2v has no 960:960)."""

    model_config = ConfigDict(frozen=True)
    text: frozenset[str] = frozenset()
    image: frozenset[str] = frozenset()


_WIDE_TALL_720 = frozenset({"1280:720", "720:1280"})
_GEN4_IMAGE = frozenset({"1280:720", "720:1280", "1104:832", "832:1104", "960:960", "1584:672"})
_VEO_RATIOS = frozenset({"1280:720", "720:1280", "1920:1080", "1080:1920"})

RATIO_RULES: dict[str, RatioRule] = {
    "gen4.5": RatioRule(text=_WIDE_TALL_720, image=_GEN4_IMAGE),
    "gen4_turbo": RatioRule(image=_GEN4_IMAGE),  # image-to-video only
    "veo3.1": RatioRule(text=_VEO_RATIOS, image=_VEO_RATIOS),
    "veo3.1_fast": RatioRule(text=_VEO_RATIOS, image=_VEO_RATIOS),
}

RUNWAY_CARDS: tuple[ModelCard, ...] = (
    ModelCard(
        name="runway",
        display_name="Runway Gen-4.5",
        model_id="gen4.5",
        durations_s=(2.0, 10.0),  # integer 2..10, required
        whole_seconds=True,
        # 1:1 (960:960) exists only on image_to_video; text-only shots cannot get it, so it is left
        # off the card (the wrapper still sends 960:960 when a first frame is given).
        ratios=("16:9", "9:16"),
        resolutions=("720p",),
        image_to_video=True,
        seed=True,
        usd_per_second=12 * CREDIT_USD,
        price_source=f"12 credits/s; {RUNWAY_PRICE_SOURCE}",
        price_date=RUNWAY_PRICE_DATE,
        typical_latency_s=90.0,  # estimate: the SDK waits up to 10 min, polling every 6 s ± 3 s
    ),
    ModelCard(
        name="runway",
        display_name="Runway Gen-4 Turbo",
        model_id="gen4_turbo",
        durations_s=(2.0, 10.0),
        whole_seconds=True,
        ratios=("16:9", "9:16", "1:1"),
        resolutions=("720p",),
        text_to_video=False,  # image_to_video only
        image_to_video=True,
        seed=True,
        usd_per_second=5 * CREDIT_USD,
        price_source=f"5 credits/s; {RUNWAY_PRICE_SOURCE}",
        price_date=RUNWAY_PRICE_DATE,
        typical_latency_s=45.0,  # estimate
    ),
    ModelCard(
        name="runway",
        display_name="Veo 3.1 on Runway",
        model_id="veo3.1",
        durations_s=(4.0, 8.0),
        fixed_durations_s=(4.0, 6.0, 8.0),
        ratios=("16:9", "9:16"),
        resolutions=("720p", "1080p"),
        image_to_video=True,
        first_last_frame=True,  # promptImage [{position: first}, {position: last}]
        native_audio=True,
        usd_per_second=40 * CREDIT_USD,  # 20 credits/s silent, 40 with audio: the ceiling is budgeted
        price_source=f"20-40 credits/s (without/with audio), ceiling used; {RUNWAY_PRICE_SOURCE}",
        price_date=RUNWAY_PRICE_DATE,
        typical_latency_s=120.0,  # estimate
    ),
    ModelCard(
        name="runway",
        display_name="Veo 3.1 Fast on Runway",
        model_id="veo3.1_fast",
        durations_s=(4.0, 8.0),
        fixed_durations_s=(4.0, 6.0, 8.0),
        ratios=("16:9", "9:16"),
        resolutions=("720p", "1080p"),
        image_to_video=True,
        first_last_frame=True,
        native_audio=True,
        usd_per_second=15 * CREDIT_USD,  # 10-15 credits/s: the ceiling is budgeted
        price_source=f"10-15 credits/s (without/with audio), ceiling used; {RUNWAY_PRICE_SOURCE}",
        price_date=RUNWAY_PRICE_DATE,
        typical_latency_s=60.0,  # estimate
    ),
)


# --- wire shapes -------------------------------------------------------------------------------


class PromptImage(TypedDict):
    uri: str  # HTTPS URL, Runway upload URI or data: URI (<= 5 MB)
    position: Literal["first", "last"]


class CreateBody(TypedDict, total=False):
    """Body of POST /v1/text_to_video and /v1/image_to_video (camelCase, as the API spells it)."""

    model: str
    promptText: str
    ratio: str
    duration: int
    seed: int
    audio: bool  # veo3.1, veo3.1_fast only
    promptImage: list[PromptImage]  # image_to_video only


class RunwayCreated(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str


class RunwayTask(BaseModel):
    """GET /v1/tasks/{id}: every variant has id, status, createdAt; the rest depends on status."""

    model_config = ConfigDict(extra="ignore")
    id: str
    status: str
    createdAt: str | None = None
    progress: float | None = None  # RUNNING, 0..1
    output: list[str] | None = None  # SUCCEEDED
    failure: str | None = None  # FAILED: human text
    failureCode: str | None = None  # FAILED: e.g. SAFETY.INPUT.TEXT, INTERNAL.BAD_OUTPUT.CODE01


def is_moderation(failure_code: str | None) -> bool:
    """SAFETY.INPUT.* and SAFETY.OUTPUT.* are moderation; Runway says not to retry them."""
    return failure_code is not None and failure_code.startswith("SAFETY.")


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class Runway(Hosted):
    """One Runway model (gen4.5 by default). Key: RUNWAYML_API_SECRET, sent as a bearer token."""

    provider: ClassVar[str] = "runway"
    default_base_url: ClassVar[str] = "https://api.dev.runwayml.com"
    key_names: ClassVar[tuple[str, ...]] = ("RUNWAYML_API_SECRET",)
    cards: ClassVar[tuple[ModelCard, ...]] = RUNWAY_CARDS

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "X-Runway-Version": API_VERSION}

    def _error_message(self, body: Any) -> str:
        """Runway's 4xx bodies are `{"error": "<human text>"}`; never echo the key back."""
        message = body["error"] if isinstance(body, dict) and isinstance(body.get("error"), str) else ""
        message = message or super()._error_message(body)
        return message.replace(self.api_key, "***") if self.api_key else message

    # --- request mapping ---------------------------------------------------------------------

    def create_body(self, request: RenderRequest) -> tuple[str, CreateBody]:
        """(endpoint path, body) for this request; raises ProviderError for what this model cannot do."""
        card = self.card
        self._refuse_unsupported(request)
        images = self._prompt_images(request)
        body: CreateBody = {
            "model": card.model_id,
            "promptText": request.prompt,
            "ratio": self._pixel_ratio(request, with_image=bool(images)),
            "duration": int(card.billed_seconds(request.duration_s)),  # whole seconds, rounded up
        }
        if card.seed and request.seed is not None:
            body["seed"] = request.seed
        if card.native_audio:
            body["audio"] = request.audio  # audio changes the price (20 vs 40 credits/s on veo3.1)
        if images:
            body["promptImage"] = images
            return "/v1/image_to_video", body
        return "/v1/text_to_video", body

    def _refuse_unsupported(self, request: RenderRequest) -> None:
        card = self.card
        if utf16_length(request.prompt) > MAX_PROMPT_UTF16:
            raise self._error(f"the prompt is longer than {MAX_PROMPT_UTF16} characters; shorten it")
        if request.references:
            raise self._error(
                f"{card.model_id} takes no reference images or media; send a first frame instead, "
                "or route the shot to a model with references"
            )
        if request.first_frame is None and not card.text_to_video:
            raise self._error(f"{card.model_id} only animates a first frame; the shot has none")
        if request.last_frame is not None and not card.first_last_frame:
            raise self._error(f"{card.model_id} takes no last frame; use veo3.1 or drop the last frame")
        if request.last_frame is not None and request.first_frame is None:
            raise self._error(f"{card.model_id} cannot end on a last frame without a first frame")
        for ref in (request.first_frame, request.last_frame):
            if ref is not None and ref.kind != "image":
                raise self._error(f"a keyframe must be an image, not {ref.kind}")

    def _prompt_images(self, request: RenderRequest) -> list[PromptImage]:
        images: list[PromptImage] = []
        if request.first_frame is not None:
            images.append({"uri": self._uri(request.first_frame), "position": "first"})
        if request.last_frame is not None:
            images.append({"uri": self._uri(request.last_frame), "position": "last"})
        return images

    @staticmethod
    def _uri(ref: MediaRef) -> str:
        """A hosted URL when there is one, else a data: URI (Runway takes both, data URIs up to 5 MB)."""
        return url_or_data(ref)

    def _pixel_ratio(self, request: RenderRequest, *, with_image: bool) -> str:
        if request.resolution not in self.card.resolutions:
            raise self._error(
                f"{self.card.model_id} renders {', '.join(self.card.resolutions)}, not {request.resolution}"
            )
        pixels = PIXEL_RATIOS.get(request.resolution, {}).get(request.ratio)
        rule = RATIO_RULES[self.card.model_id]
        allowed = rule.image if with_image else rule.text
        if pixels is None or pixels not in allowed:
            mode = "with a first frame" if with_image else "from text alone"
            raise self._error(
                f"{self.card.model_id} cannot make {request.ratio} at {request.resolution} {mode}"
            )
        return pixels

    def _error(self, message: str) -> ProviderError:
        return ProviderError(message, provider=self.provider)

    # --- protocol ----------------------------------------------------------------------------

    async def submit(self, request: RenderRequest) -> str:
        self.require_available()
        path, body = self.create_body(request)
        answer = await self.call("POST", path, json=body)
        try:
            return RunwayCreated.model_validate(answer).id
        except ValidationError:
            raise self._error("the create answer has no task id; the API may have changed") from None

    async def poll(self, task_id: str) -> TaskStatus:
        answer = await self.call("GET", f"/v1/tasks/{quote(task_id, safe='')}")
        try:
            task = RunwayTask.model_validate(answer)
        except ValidationError:
            raise self._error(f"task {task_id} answered without a status; the API may have changed") from None
        return TaskStatus(
            task_id=task_id,
            state=normalise(self.provider, task.status),
            raw_status=task.status,
            progress=task.progress,
            url=task.output[0] if task.output else None,
            error_code=task.failureCode,
            error=task.failure,
            refused=is_moderation(task.failureCode),
        )
