"""A fake Vidu enterprise API v2 for contract tests: the documented create and creations payloads
(research/video-apis.md §5), the `{code, reason, message}` error shape and codes of Vidu's error
table, `Token` auth, and real MP4 results behind one-hour-style URLs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.fakes.media import mp4_bytes
from tests.fakes.server import Recorded, Reply

ENDPOINTS = ("text2video", "img2video", "start-end2video", "reference2video")
CREDITS = 40  # what the documented sample charges


def error(status: int, reason: str, message: str, **headers: str) -> Reply:
    """A Vidu error answer: HTTP status, and the same status as `code` with the error code as `reason`."""
    return Reply(status, {"code": status, "reason": reason, "message": message}, headers=headers)


@dataclass
class FakeTask:
    task_id: str
    endpoint: str
    body: dict[str, Any]
    polls: int = 0


@dataclass
class ViduFake:
    """Handler for `FakeServer`. Each poll of a task moves it one step along `states`."""

    api_key: str
    states: tuple[str, ...] = ("created", "queueing", "processing", "success")
    err_code: str = ""
    video_seconds: float = 5.0
    expire_first_download: bool = False
    canned: list[Reply] = field(default_factory=list)  # served, in order, before the normal answers
    tasks: dict[str, FakeTask] = field(default_factory=dict)
    _expired: set[str] = field(default_factory=set)

    def __call__(self, rec: Recorded) -> Reply:
        if rec.path.startswith("/files/"):
            return self._download(rec)
        if rec.headers.get("authorization") != f"Token {self.api_key}":
            return error(401, "Unauthorized", "unauthorized")
        if self.canned:
            return self.canned.pop(0)
        parts = rec.path.strip("/").split("/")  # ent v2 <endpoint> | ent v2 tasks <id> creations
        if parts[:2] != ["ent", "v2"]:
            return error(404, "NotFound", "not found")
        rest = parts[2:]
        if rec.method == "POST" and len(rest) == 1 and rest[0] in ENDPOINTS:
            return self._create(rest[0], rec.json() or {})
        if rec.method == "GET" and len(rest) == 3 and rest[0] == "tasks" and rest[2] == "creations":
            return self._creations(rest[1], rec)
        return error(404, "NotFound", "not found")

    def _create(self, endpoint: str, body: dict[str, Any]) -> Reply:
        task_id = str(850000000000000001 + len(self.tasks))
        self.tasks[task_id] = FakeTask(task_id, endpoint, body)
        return Reply(
            200,
            {
                "task_id": task_id,
                "state": "created",
                "model": body.get("model"),
                "prompt": body.get("prompt"),
                "images": body.get("images", []),
                "duration": body.get("duration"),
                "seed": body.get("seed", 0),
                "aspect_ratio": body.get("aspect_ratio"),
                "resolution": body.get("resolution"),
                "created_at": "2026-11-02T08:15:31.274Z",
                "credits": CREDITS,
            },
        )

    def _creations(self, task_id: str, rec: Recorded) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:
            return error(404, "TaskNotFound", "task not found")
        state = self.states[min(task.polls, len(self.states) - 1)]
        task.polls += 1
        creations = []
        if state == "success":
            base = f"http://{rec.headers['host']}/files/{task_id}-{task.polls}"
            creations = [
                {
                    "id": f"cr-{task_id}",
                    "url": f"{base}.mp4?Expires=3600",
                    "cover_url": f"{base}.jpg?Expires=3600",
                    "watermarked_url": f"{base}-wm.mp4?Expires=3600",
                }
            ]
        progress = {"created": 0, "queueing": 0, "processing": 45, "success": 100}.get(state, 0)
        return Reply(
            200,
            {
                "state": state,
                "err_code": self.err_code if state == "failed" else "",
                "progress": progress,
                "credits": CREDITS,
                "creations": creations,
            },
        )

    def _download(self, rec: Recorded) -> Reply:
        task_id = rec.path.rsplit("/", 1)[-1].split("-")[0]
        if self.expire_first_download and task_id not in self._expired:
            self._expired.add(task_id)
            return Reply(
                403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            )
        return Reply(200, mp4_bytes(self.video_seconds), headers={"Content-Type": "video/mp4"})
