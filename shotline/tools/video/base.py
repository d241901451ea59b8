"""The one protocol every video model implements: submit, poll, fetch, and a card.

A wrapper is a thin translation of its provider's API. Policy (routing, retries, budget,
caching) lives in `tools/render.py` and `tools/routing.py`, never here.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from shotline.memory.models import FPS, Camera, Framing, Ratio


class Figure(BaseModel):
    """A character as the animatic draws it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    color: str = Field(description="'#rrggbb' from the bible")
    x: float = Field(ge=0.0, le=1.0, description="horizontal screen position, kept within a scene")
    speaking: bool = False


class SetMark(BaseModel):
    """A set landmark as the animatic draws it: a labelled door, window, counter, lamp ..."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="label, as the script writes it")
    kind: str = Field(description="door, window, counter, lamp ...; anything else is drawn as a block")
    x: float = Field(ge=0.0, le=1.0, description="horizontal set position, the same in every shot of the set")


class Caption(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    speaker: str
    text: str
    start_s: float
    end_s: float


class ShotVisual(BaseModel):
    """What a storyboard frame shows; the animatic renders exactly this."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shot_id: str
    framing: Framing
    camera: Camera
    location: str
    backdrop: str = Field(description="'#rrggbb' set colour")
    night: bool = False
    interior: bool = True
    figures: tuple[Figure, ...] = ()
    captions: tuple[Caption, ...] = ()
    subject: str | None = Field(default=None, description="the object of an insert shot")
    landmarks: tuple[SetMark, ...] = Field(default=(), description="the set's layout; empty = a generic set")


class MediaRef(BaseModel):
    """An image, video or audio file sent with a request: a keyframe or a named reference."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["image", "video", "audio"] = "image"
    role: Literal["reference", "first_frame", "last_frame"] = "reference"
    sha256: str = Field(description="content hash: what the render key sees")
    path: str | None = Field(default=None, description="local file; sent inline when there is no url")
    url: str | None = Field(default=None, description="public URL, when the file is hosted somewhere")
    name: str = Field(default="", description="what the prompt calls it, e.g. 'MEI, front view'")
    mime: str = "image/png"


class RenderRequest(BaseModel):
    """A canonical request for one take. Its hash (per provider) is the render key."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shot_id: str
    model: str = Field(description="provider name, e.g. 'animatic', 'kling'")
    model_id: str | None = Field(default=None, description="the provider's model id; None = its default")
    prompt: str
    duration_s: float
    ratio: Ratio
    width: int
    height: int
    resolution: str = "720p"
    fps: int = FPS
    seed: int | None = None
    audio: bool = Field(default=False, description="ask for native audio when the model has it")
    first_frame: MediaRef | None = None
    last_frame: MediaRef | None = None
    references: tuple[MediaRef, ...] = ()
    visual: ShotVisual | None = Field(
        default=None, description="the shot as a drawing; the animatic renders it, hosted models ignore it"
    )


TaskState = Literal["queued", "running", "succeeded", "failed", "cancelled", "expired"]
OPEN_STATES: frozenset[str] = frozenset({"queued", "running"})


class TaskStatus(BaseModel):
    """A provider's task, normalised: every provider's spelling maps onto `state` (tools/video/status.py)."""

    task_id: str
    state: TaskState
    raw_status: str = Field(default="", description="the provider's own word, for logs and replay")
    progress: float | None = None
    url: str | None = Field(default=None, description="result URL; short-lived, download at once")
    last_frame_url: str | None = None
    error_code: str | None = None
    error: str | None = None
    refused: bool = Field(default=False, description="failed by the provider's moderation")
    billed_usd: float | None = Field(
        default=None, description="what the provider says it charged, if it says"
    )


class ModelCard(BaseModel):
    """What one model can do and what it costs; read by routing and the cost estimate."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="provider name: 'seedance', 'kling' ...")
    display_name: str
    model_id: str = Field(default="", description="the provider's own model id, e.g. 'kling-v2-6'")
    local: bool = False
    durations_s: tuple[float, float] = Field(description="inclusive (min, max) clip length")
    fixed_durations_s: tuple[float, ...] = Field(
        default=(), description="when the model only takes these lengths (Kling v2: 5 or 10)"
    )
    ratios: tuple[Ratio, ...] = ("16:9", "9:16", "1:1")
    resolutions: tuple[str, ...] = ("720p",)
    text_to_video: bool = True
    image_to_video: bool = False
    first_last_frame: bool = False
    reference_images: int = 0
    reference_videos: int = 0
    reference_audios: int = 0
    native_audio: bool = False
    seed: bool = False
    usd_per_second: float = 0.0
    usd_per_second_by_resolution: dict[str, float] = Field(
        default_factory=dict, description="where the price depends on resolution (e.g. 1080p costs more)"
    )
    whole_seconds: bool = Field(
        default=False, description="the API takes whole seconds: 7.2 s is sent and billed as 8"
    )
    usd_per_clip: float = 0.0
    price_source: str = ""
    price_date: str = ""
    typical_latency_s: float = Field(default=0.0, description="median time to a finished take, for routing")

    def cost(self, duration_s: float, resolution: str | None = None) -> float:
        rate = self.usd_per_second_by_resolution.get(resolution or "", self.usd_per_second)
        return round(self.usd_per_clip + rate * self.billed_seconds(duration_s), 4)

    def billed_seconds(self, duration_s: float) -> float:
        """The clip length the provider will make (and bill) for a shot of `duration_s`."""
        if self.fixed_durations_s:
            return next(
                (d for d in sorted(self.fixed_durations_s) if d >= duration_s), max(self.fixed_durations_s)
            )
        seconds = min(max(duration_s, self.durations_s[0]), self.durations_s[1])
        return float(math.ceil(seconds - 1e-9)) if self.whole_seconds else seconds


@runtime_checkable
class VideoModel(Protocol):
    """Submit a job, poll it, fetch its file. Implementations hold no policy."""

    card: ModelCard

    def key_payload(self, request: RenderRequest) -> dict[str, Any]:
        """The part of the request that determines the output; hashed into the render key."""
        ...

    async def submit(self, request: RenderRequest) -> str:
        """Start a task; returns the provider's task id."""
        ...

    async def poll(self, task_id: str) -> TaskStatus: ...

    async def fetch(self, task_id: str, dest: Path) -> Path:
        """Write the finished take to `dest` and return it."""
        ...


_MEDIA_KEY = {"kind", "role", "sha256", "name"}


def generic_key_payload(request: RenderRequest) -> dict[str, Any]:
    """What a hosted model sees: everything but the animatic's drawing and where files happen to live
    (a reference is the same reference wherever it is stored)."""
    payload = request.model_dump(
        mode="json", exclude={"visual", "shot_id", "first_frame", "last_frame", "references"}
    )
    for slot in ("first_frame", "last_frame"):
        ref = getattr(request, slot)
        payload[slot] = ref.model_dump(mode="json", include=_MEDIA_KEY) if ref else None
    payload["references"] = [r.model_dump(mode="json", include=_MEDIA_KEY) for r in request.references]
    return payload


def render_key(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of what the provider receives."""
    blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
