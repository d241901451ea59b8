"""A fake Ark (BytePlus ModelArk / Volcengine Ark) video task API, replaying the documented payloads.

Shapes from ../shared/research/video-apis.md §3: create answers `{"id": "cgt-…"}`; the task object
carries `status`, `content.video_url` / `last_frame_url`, `usage.completion_tokens` and, on failure,
`error: {code, message}`; request errors use the OpenAI-style `{"error": {code, message, param,
type}}` envelope. The fake checks the bearer key and that model ids match the host's platform
(`doubao-` on *.volces.com), as the real service answers 404 `InvalidEndpointOrModel.NotFound`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.media import mp4_bytes
from tests.fakes.server import Recorded, Reply

API = "/api/v3"
TASKS = f"{API}/contents/generations/tasks"
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "expired")


def error_body(code: str, message: str, type_: str = "BadRequest") -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "param": "", "type": type_}}


@dataclass
class FakeArk:
    """Handler for `FakeServer`. Tasks walk through `statuses` one poll at a time (the last repeats)."""

    api_key: str
    statuses: tuple[str, ...] = ("queued", "running", "succeeded")
    create_reply: Reply | None = None  # answer every create with this (errors, delays)
    fail_code: str = "InternalServiceError"
    fail_message: str = "The service encountered an unexpected internal error."
    completion_tokens: int = 108900
    expire_first_url: bool = False  # the first result URL handed out answers 403, as a stale TOS link
    expired_status: int = 403
    clip_seconds: float = 1.0
    clip_as_requested: bool = False  # serve a clip as long as the task asked for (end-to-end runs)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _urls: itertools.count = field(default_factory=lambda: itertools.count(1))
    _expired: set[str] = field(default_factory=set)

    def __call__(self, rec: Recorded) -> Reply:
        if rec.path.startswith("/tos/"):
            return self._download(rec)
        if rec.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply(401, error_body("AuthenticationError", "the API key is invalid", "Unauthorized"))
        if rec.method == "POST" and rec.path == TASKS:
            return self.create_reply or self._create(rec)
        if rec.method == "GET" and rec.path.startswith(TASKS + "/"):
            return self._get(rec, rec.path.removeprefix(TASKS + "/"))
        return Reply(404, error_body("NotFound", f"no route {rec.method} {rec.path}", "NotFound"))

    def _create(self, rec: Recorded) -> Reply:
        body = rec.json()
        model = body.get("model", "")
        volcengine = rec.headers.get("host", "").split(":")[0].endswith("volces.com")
        if model.startswith("doubao-") != volcengine:
            return Reply(
                404,
                error_body(
                    "InvalidEndpointOrModel.NotFound",
                    f"The model or endpoint {model} does not exist or you do not have access to it.",
                    "NotFound",
                ),
            )
        task_id = f"cgt-20260606160057-{next(self._ids):05d}"
        self.tasks[task_id] = {"body": body, "polls": 0, "host": rec.headers.get("host", "")}
        return Reply(200, {"id": task_id})

    def _get(self, rec: Recorded, task_id: str) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:
            return Reply(404, error_body("ResourceNotFound", f"task {task_id} not found", "NotFound"))
        status = self.statuses[min(task["polls"], len(self.statuses) - 1)]
        task["polls"] += 1
        return Reply(200, self.task_object(task_id, task, status))

    def task_object(self, task_id: str, task: dict[str, Any], status: str) -> dict[str, Any]:
        """The documented task object (§3.3), for `status`."""
        body = task["body"]
        obj: dict[str, Any] = {
            "id": task_id,
            "model": body["model"],
            "status": status,
            "error": None,
            "created_at": 1779348818,
            "updated_at": 1779348874,
            "seed": 78674,
            "resolution": body.get("resolution", "720p"),
            "ratio": body.get("ratio", "16:9"),
            "duration": body.get("duration", 5),
            "framespersecond": 24,
            "service_tier": "default",
            "execution_expires_after": 172800,
            "generate_audio": body.get("generate_audio", False),
            "draft": False,
        }
        if status == "succeeded":
            n = next(self._urls)
            base = f"http://{task['host']}/tos/{task_id}"
            video = f"{base}.mp4?X-Tos-Expires=86400&X-Tos-Signature=sig{n}"
            if self.expire_first_url and n == 1:
                self._expired.add(f"sig{n}")
            obj["content"] = {"video_url": video, "last_frame_url": f"{base}.png?X-Tos-Signature=sig{n}"}
            tokens = self.completion_tokens
            if self.clip_as_requested:  # tokens ~ W x H x fps x seconds / 1024: 21,600 a second at 720p
                tokens = 21_600 * int(body.get("duration", 5))
            obj["usage"] = {"completion_tokens": tokens, "total_tokens": tokens}
        elif status == "failed":
            obj["error"] = {"code": self.fail_code, "message": self.fail_message}
        return obj

    def _download(self, rec: Recorded) -> Reply:
        signature = rec.query.get("X-Tos-Signature", [""])[0]
        if signature in self._expired:
            return Reply(
                self.expired_status,
                b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            )
        seconds = self.clip_seconds
        if self.clip_as_requested:
            task_id = rec.path.removeprefix("/tos/").removesuffix(".mp4")
            seconds = float(self.tasks[task_id]["body"].get("duration", seconds))
        return Reply(200, mp4_bytes(seconds), {"Content-Type": "video/mp4"})
