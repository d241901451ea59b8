"""Fake image APIs for contract tests: Seedream on Ark, OpenAI GPT image, FLUX on fal's queue.

Each answers with its provider's documented payloads (research/video-apis.md §11, §15) and serves
real PNG files, so wrappers download, hash and store real images. One-shot canned replies stand in
for errors. Result URLs point back at the fake itself (built from the request's Host header).
"""

from __future__ import annotations

import base64
import io
import itertools
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from tests.fakes.server import Recorded, Reply

PALETTE = ("#d9534f", "#3b7dd8", "#5cb85c", "#f0ad4e", "#6f42c1", "#20c997")


def png_bytes(index: int = 0, size: tuple[int, int] = (48, 32)) -> bytes:
    """A small real PNG, a different colour per index (so each result hashes differently)."""
    buf = io.BytesIO()
    Image.new("RGB", size, PALETTE[index % len(PALETTE)]).save(buf, format="PNG")
    return buf.getvalue()


def ark_error(status: int, code: str, message: str, **headers: str) -> Reply:
    """Ark's OpenAI-style error envelope (research §3.4)."""
    kind = {400: "BadRequest", 401: "Unauthorized", 429: "TooManyRequests"}.get(status, "InternalServerError")
    return Reply(status, {"error": {"code": code, "message": message, "param": "", "type": kind}}, headers)


def openai_error(status: int, code: str, message: str, kind: str, **headers: str) -> Reply:
    return Reply(status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, headers)


@dataclass
class Fake:
    """Canned one-shot replies by route, then the provider's normal answers; files under /files/."""

    replies: dict[str, list[Reply]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)

    def canned(self, route: str, *replies: Reply) -> None:
        self.replies.setdefault(route, []).extend(replies)

    def __call__(self, req: Recorded) -> Reply:
        route = f"{req.method} {req.path}"
        for key in (route, f"{req.method} *"):
            if self.replies.get(key):
                return self.replies[key].pop(0)
        if req.method == "GET" and req.path.startswith("/files/"):
            data = self.files.get(req.path.removeprefix("/files/"))
            return Reply(200, data, {"Content-Type": "image/png"}) if data else Reply(404, b"")
        return self.answer(req)

    def answer(self, req: Recorded) -> Reply:
        return Reply(404, {"error": {"code": "NotFound", "message": req.path}})

    def host_file(self, req: Recorded, name: str, data: bytes) -> str:
        self.files[name] = data
        return f"http://{req.headers['host']}/files/{name}"


@dataclass
class SeedreamFake(Fake):
    """`POST /images/generations` (synchronous): `{model, created, data: [{url, size}], usage}`."""

    count: itertools.count = field(default_factory=itertools.count)

    def answer(self, req: Recorded) -> Reply:
        if (req.method, req.path) != ("POST", "/images/generations"):
            return super().answer(req)
        body = req.json()
        n = body.get("sequential_image_generation_options", {}).get("max_images", 1)
        data = []
        for _ in range(n):
            i = next(self.count)
            data.append({"url": self.host_file(req, f"seedream-{i}.png", png_bytes(i)), "size": body["size"]})
        return Reply(
            200,
            {
                "model": body["model"],
                "created": 1757321139,
                "data": data,
                "usage": {"generated_images": n, "output_tokens": 14400 * n, "total_tokens": 14400 * n},
            },
        )


@dataclass
class OpenAIImageFake(Fake):
    """`POST /v1/images/generations` (JSON) and `/v1/images/edits` (multipart): base64 images."""

    count: itertools.count = field(default_factory=itertools.count)

    def answer(self, req: Recorded) -> Reply:
        if req.method != "POST" or req.path not in ("/v1/images/generations", "/v1/images/edits"):
            return super().answer(req)
        n = int(req.json()["n"]) if req.path.endswith("generations") else 1
        images = [{"b64_json": base64.b64encode(png_bytes(next(self.count))).decode()} for _ in range(n)]
        return Reply(
            200,
            {
                "created": 1713833628,
                "data": images,
                "background": "opaque",
                "output_format": "png",
                "quality": "medium",
                "size": "1024x1024",
                "usage": {"input_tokens": 50, "output_tokens": 1056 * n, "total_tokens": 50 + 1056 * n},
            },
        )


@dataclass
class FalFake(Fake):
    """fal's queue: submit answers URLs, the status URL walks `statuses`, the response URL gives the
    model output `{images: [{url, width, height, content_type}], seed, has_nsfw_concepts, timings}`."""

    statuses: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"status": "IN_QUEUE", "queue_position": 2},
            {"status": "IN_PROGRESS", "logs": [{"message": "step 1/28", "level": "INFO"}]},
            {"status": "COMPLETED", "logs": [], "metrics": {"inference_time": 3.2}},
        ]
    )
    nsfw: list[bool] | None = None
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    count: itertools.count = field(default_factory=itertools.count)

    def answer(self, req: Recorded) -> Reply:
        parts = req.path.strip("/").split("/")
        if req.method == "POST":
            return self._submit(req, parts)
        if "requests" in parts:
            request_id = parts[parts.index("requests") + 1]
            if parts[-1] == "status":
                step = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
                return Reply(
                    200 if step["status"] == "COMPLETED" else 202, {**step, "request_id": request_id}
                )
            return self._result(req, request_id)
        return super().answer(req)

    def _submit(self, req: Recorded, parts: list[str]) -> Reply:
        request_id = f"fal-req-{len(self.requests) + 1:04d}"
        self.requests[request_id] = req.json()
        base = f"http://{req.headers['host']}/{parts[0]}/{parts[1]}/requests/{request_id}"  # owner/app only
        return Reply(
            200,
            {
                "request_id": request_id,
                "response_url": base,
                "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel",
                "queue_position": 0,
            },
        )

    def _result(self, req: Recorded, request_id: str) -> Reply:
        n = int(self.requests[request_id].get("num_images", 1))
        images = []
        for _ in range(n):
            i = next(self.count)
            url = self.host_file(req, f"{request_id}-{i}.png", png_bytes(i))
            images.append({"url": url, "width": 48, "height": 32, "content_type": "image/png"})
        flags = self.nsfw if self.nsfw is not None else [False] * n
        return Reply(
            200,
            {
                "images": images,
                "seed": 42,
                "has_nsfw_concepts": flags,
                "prompt": self.requests[request_id]["prompt"],
                "timings": {"inference": 3.2},
            },
        )
