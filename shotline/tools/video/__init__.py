"""Video models by provider name: the registry that the CLI, routing and the runner share.

Provider names are lowercase and fixed by the design: `animatic` (local, offline default),
`seedance`, `kling`, `vidu`, `hailuo`, `runway`, `veo`, `wan`, `fal`, `comfyui`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from shotline.config import Settings, get_settings
from shotline.errors import NotBuiltError, UnknownProviderError
from shotline.tools.video.base import ModelCard, VideoModel

PROVIDERS = ("animatic", "seedance", "kling", "vidu", "hailuo", "runway", "veo", "wan", "fal", "comfyui")
_CLASSES = {
    "animatic": "animatic:Animatic",
    "seedance": "seedance:Seedance",
    "kling": "kling:Kling",
    "vidu": "vidu:Vidu",
    "hailuo": "hailuo:Hailuo",
    "runway": "runway:Runway",
    "veo": "veo:Veo",
    "wan": "wan:Wan",
    "fal": "fal:Fal",
    "comfyui": "comfyui:ComfyUI",
}


def model_class(name: str) -> type:
    key = name.strip().lower()
    if key not in _CLASSES:
        raise UnknownProviderError(f"unknown provider {name!r}; known providers: {', '.join(PROVIDERS)}")
    module, cls = _CLASSES[key].split(":")
    try:
        return getattr(importlib.import_module(f"shotline.tools.video.{module}"), cls)
    except (ImportError, AttributeError) as exc:
        raise NotBuiltError(
            f"the {key!r} video model wrapper is not built yet; use --provider animatic"
        ) from exc


def get_model(name: str, settings: Settings | None = None, *, model_id: str | None = None) -> VideoModel:
    """A ready model. Hosted ones read their key and base URL from the settings and environment; a
    provider with no key is returned too, and refuses to be called (`unavailable_reason` says why)."""
    cls = model_class(name)
    if not hasattr(cls, "from_settings"):
        return cls()
    return cls.from_settings(settings or get_settings(), model_id=model_id)


@dataclass(frozen=True)
class ProviderInfo:
    name: str
    cards: tuple[ModelCard, ...]
    unavailable: str | None  # why it cannot be called here; None when it can


def catalog(settings: Settings | None = None) -> list[ProviderInfo]:
    """Every provider, its models and whether it can be used here; for `shotline providers` and routing."""
    infos = []
    for name in PROVIDERS:
        try:
            model = get_model(name, settings)
        except NotBuiltError as exc:
            infos.append(ProviderInfo(name=name, cards=(), unavailable=str(exc)))
            continue
        cards = getattr(type(model), "cards", None) or (model.card,)
        reason = model.unavailable_reason() if hasattr(model, "unavailable_reason") else None
        infos.append(ProviderInfo(name=name, cards=tuple(cards), unavailable=reason))
    return infos
