"""Image models by provider name: keyframes and character/set reference sheets.

`get_image_model(name)` builds one from settings; `configured_image_models()` lists the hosted ones
that have a key here, then the offline renderer, which is always there.
"""

from __future__ import annotations

from shotline.config import Settings, get_settings
from shotline.errors import UnknownProviderError
from shotline.tools.image.base import ImageModel

IMAGE_PROVIDERS = ("seedream", "openai", "flux", "local")


def get_image_model(
    name: str, settings: Settings | None = None, *, model_id: str | None = None
) -> ImageModel:
    key = name.strip().lower()
    settings = settings or get_settings()
    if key == "local":
        from shotline.tools.image.local import LocalSheets

        return LocalSheets()
    if key == "seedream":
        from shotline.tools.image.seedream import Seedream

        return Seedream.from_settings(settings, model_id=model_id)
    if key == "openai":
        from shotline.tools.image.openai_image import OpenAIImage

        return OpenAIImage.from_settings(settings, model_id=model_id)
    if key == "flux":
        from shotline.tools.image.flux import Flux

        return Flux.from_settings(settings, model_id=model_id)
    raise UnknownProviderError(
        f"unknown image provider {name!r}; known image providers: {', '.join(IMAGE_PROVIDERS)}"
    )


def configured_image_models(settings: Settings | None = None) -> list[ImageModel]:
    """Every image model usable here, hosted ones with a key first; `local` always comes last."""
    models = [get_image_model(name, settings) for name in IMAGE_PROVIDERS]
    return [m for m in models if m.unavailable_reason() is None]
