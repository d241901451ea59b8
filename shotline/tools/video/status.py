"""Every provider spells its task statuses differently; this is the one table that maps them.

Sources: each provider's documented API (../shared/research/video-apis.md §1-2). Veo has no status
word (a long-running operation is `done` or not): its wrapper passes "pending", "done" or "error".
"""

from __future__ import annotations

from shotline.errors import ProviderError
from shotline.tools.video.base import TaskState

STATUSES: dict[str, dict[str, TaskState]] = {
    "seedance": {
        "queued": "queued",
        "running": "running",
        "succeeded": "succeeded",
        "failed": "failed",
        "cancelled": "cancelled",
        "expired": "expired",
    },
    "kling": {"submitted": "queued", "processing": "running", "succeed": "succeeded", "failed": "failed"},
    "vidu": {
        "created": "queued",
        "queueing": "queued",
        "processing": "running",
        "success": "succeeded",
        "failed": "failed",
    },
    "hailuo": {  # MiniMax v1 (Hailuo 02 / 2.3) and v2 (H3) share one provider name
        "Preparing": "queued",
        "Queueing": "queued",
        "Processing": "running",
        "Success": "succeeded",
        "Fail": "failed",
        "queued": "queued",
        "running": "running",
        "succeeded": "succeeded",
        "failed": "failed",
        "cancelled": "cancelled",
        "expired": "expired",
    },
    "runway": {
        "PENDING": "queued",
        "THROTTLED": "queued",
        "RUNNING": "running",
        "SUCCEEDED": "succeeded",
        "FAILED": "failed",
        "CANCELLED": "cancelled",
    },
    "veo": {"pending": "running", "done": "succeeded", "error": "failed"},
    "wan": {
        "PENDING": "queued",
        "RUNNING": "running",
        "SUCCEEDED": "succeeded",
        "FAILED": "failed",
        "CANCELED": "cancelled",
        "UNKNOWN": "failed",
    },
    "fal": {"IN_QUEUE": "queued", "IN_PROGRESS": "running", "COMPLETED": "succeeded"},
    "comfyui": {"pending": "queued", "running": "running", "success": "succeeded", "error": "failed"},
}


def normalise(provider: str, raw: str) -> TaskState:
    """The normalised state for `provider`'s own status word; an unknown word is an error, not a guess."""
    try:
        return STATUSES[provider][raw]
    except KeyError:
        raise ProviderError(
            f"unknown task status {raw!r}; the provider's API may have changed", provider=provider
        ) from None
