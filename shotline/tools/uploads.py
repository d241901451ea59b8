"""What a person may upload, checked by content: a screenplay must be UTF-8 text, a reference image
a real PNG, JPEG or WebP. The declared type and the file name are never trusted, and the name is
never used as a path: files are stored under their hash."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Literal

from PIL import Image, UnidentifiedImageError

from shotline.errors import InputError

MAX_IMAGE_PIXELS = 40_000_000  # a 6k x 6k reference is plenty; bigger is a decompression bomb
_IMAGES = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp"}


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


def check_upload(
    data: bytes, *, kind: Literal["screenplay", "reference"], declared_type: str | None, max_bytes: int
) -> Checked:
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
