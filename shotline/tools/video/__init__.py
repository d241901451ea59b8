"""Video models by provider name. Only models that are built are returned; names that are planned
but not built raise `NotBuiltError`, and unknown names raise `UnknownProviderError`."""

from __future__ import annotations

from shotline.errors import NotBuiltError, UnknownProviderError
from shotline.tools.video.base import VideoModel

PROVIDERS = ("animatic", "seedance", "kling", "vidu", "hailuo", "runway", "veo", "wan", "fal", "comfyui")


def get_model(name: str) -> VideoModel:
    key = name.strip().lower()
    if key == "animatic":
        from shotline.tools.video.animatic import Animatic

        return Animatic()
    if key in PROVIDERS:
        raise NotBuiltError(f"the {key!r} video model wrapper is not built yet; use --provider animatic")
    raise UnknownProviderError(f"unknown provider {name!r}; known providers: {', '.join(PROVIDERS)}")
