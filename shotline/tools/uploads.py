"""What a person may upload, checked by content: a screenplay must be UTF-8 text, a reference image
a real PNG, JPEG or WebP, a music bed real audio that decodes. The declared type and the file name
are never trusted, and the name is never used as a path: files are stored under their hash."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Literal

import av
from PIL import Image, UnidentifiedImageError

from shotline.errors import InputError

MAX_IMAGE_PIXELS = 40_000_000  # a 6k x 6k reference is plenty; bigger is a decompression bomb
_IMAGES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}
_AUDIO = {"wav": ".wav", "mp3": ".mp3", "flac": ".flac", "ogg": ".ogg", "mov,mp4,m4a,3gp,3g2,mj2": ".m4a"}
MIN_MUSIC_S = 0.5
Kind = Literal["screenplay", "reference", "music"]


class UploadError(InputError):
    """An upload refused before anything was stored; `status` is the HTTP answer (413 or 415)."""

    def __init__(self, message: str, *, status: int, code: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class Checked:
    sha256: str
    suffix: str
    media_type: str


def check_upload(data: bytes, *, kind: Kind, declared_type: str | None, max_bytes: int) -> Checked:
    if len(data) > max_bytes:
        raise UploadError(
            f"the file is over the {max_bytes // 1_000_000} MB limit", status=413, code="too_large"
        )
    if not data:
        raise UploadError("the file is empty", status=415, code="unsupported_type")
    digest = hashlib.sha256(data).hexdigest()
    if kind == "screenplay":
        if b"\x00" in data[:8192]:
            raise UploadError(
                "a screenplay must be text, not a binary file", status=415, code="unsupported_type"
            )
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise UploadError(
                "a screenplay must be UTF-8 text", status=415, code="unsupported_type"
            ) from None
        return Checked(sha256=digest, suffix=".fountain", media_type="text/plain")
    if kind == "music":
        return Checked(sha256=digest, **_audio(data))
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or ""
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise UploadError("the image has too many pixels", status=413, code="too_large")
            image.verify()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise UploadError(
            "a reference must be a PNG, JPEG or WebP image", status=415, code="unsupported_type"
        ) from None
    if fmt not in _IMAGES:
        raise UploadError(f"{fmt or 'this'} images are not accepted; send PNG, JPEG or WebP", status=415,
                          code="unsupported_type")  # fmt: skip
    if (
        declared_type
        and not declared_type.startswith("image/")
        and declared_type != "application/octet-stream"
    ):
        raise UploadError(f"declared as {declared_type}, but a reference must be an image", status=415,
                          code="unsupported_type")  # fmt: skip
    return Checked(sha256=digest, suffix=_IMAGES[fmt], media_type=f"image/{fmt.lower()}")


def _audio(data: bytes) -> dict[str, str]:
    """Music must decode as audio (WAV, MP3, FLAC, Ogg, M4A) and last at least half a second."""
    refused = UploadError(
        "music must be an audio file (WAV, MP3, FLAC, Ogg or M4A) that plays", status=415,
        code="unsupported_type",
    )  # fmt: skip
    try:
        with av.open(io.BytesIO(data)) as container:
            fmt = container.format.name
            if fmt not in _AUDIO or not container.streams.audio:
                raise refused
            stream = container.streams.audio[0]
            seconds = 0.0
            for frame in container.decode(stream):
                seconds += frame.samples / float(frame.sample_rate or 48_000)
                if seconds >= MIN_MUSIC_S:
                    break
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
        raise refused from None
    if seconds < MIN_MUSIC_S:
        raise UploadError(f"the music is shorter than {MIN_MUSIC_S} s", status=415, code="unsupported_type")
    suffix = _AUDIO[fmt]
    return {
        "suffix": suffix,
        "media_type": {".mp3": "audio/mpeg", ".m4a": "audio/mp4"}.get(suffix, f"audio/{suffix[1:]}"),
    }
