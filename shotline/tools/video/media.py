"""How reference files travel: a hosted URL when there is one, otherwise the bytes inline."""

from __future__ import annotations

import base64
from pathlib import Path

from shotline.errors import InputError
from shotline.tools.video.base import MediaRef

MAX_INLINE_BYTES = 20 * 1024 * 1024  # request bodies are capped (Ark: 64 MB whole body); keep inline small


def media_bytes(ref: MediaRef) -> bytes:
    if not ref.path:
        raise InputError(f"reference {ref.name or ref.sha256[:12]} has neither a URL nor a local file")
    data = Path(ref.path).read_bytes()
    if len(data) > MAX_INLINE_BYTES:
        raise InputError(
            f"reference {ref.name or Path(ref.path).name} is {len(data) // 1_000_000} MB, too large to send inline; "
            "host it and give its URL"
        )
    return data


def raw_base64(ref: MediaRef) -> str:
    """Bare base64, for APIs that take it without a data: prefix (Kling)."""
    return base64.b64encode(media_bytes(ref)).decode("ascii")


def data_url(ref: MediaRef) -> str:
    """`data:<mime>;base64,...` for APIs that take data URIs (Ark, Runway, MiniMax, Vidu)."""
    return f"data:{ref.mime};base64,{raw_base64(ref)}"


def url_or_data(ref: MediaRef) -> str:
    return ref.url or data_url(ref)
