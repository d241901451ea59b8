"""A fake Runway developer API, replaying the documented requests and answers.

Shapes from ../shared/research/video-apis.md §7 and the runwayml SDK types: create answers
`{"id": "<uuid>"}`; `GET /v1/tasks/{id}` answers a union on `status` (PENDING, THROTTLED,
RUNNING with `progress`, SUCCEEDED with `output: [url]`, FAILED with `failure` + `failureCode`,
CANCELLED), each with `id` and `createdAt`. Errors are `{"error": "<human text>"}`
(docs.dev.runwayml.com/errors/errors). Like the real service, every fetch of a finished task hands
out a freshly signed output URL, and the fake can make the first one stale.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.media import mp4_bytes
from tests.fakes.server import Recorded, Reply

VERSION = "2024-11-06"
STATUSES = ("PENDING", "THROTTLED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED")
CREATED_AT = "2026-11-02T09:14:07.512Z"


@dataclass
class FakeRunway:
    """Handler for `FakeServer`. Tasks walk through `statuses` one poll at a time (the last repeats)."""

    api_key: str
    statuses: tuple[str, ...] = ("PENDING", "RUNNING", "SUCCEEDED")
    create_reply: Reply | None = None  # answer every create with this (errors, delays)
    failure: str = "An unexpected error occurred."
    failure_code: str = "INTERNAL.BAD_OUTPUT.CODE01"
    expire_first_url: bool = False  # the first output URL handed out answers 403 (a stale signed link)
    clip_seconds: float = 1.0
    echo_key_in_401: bool = False  # a badly behaved proxy that repeats the bearer token back
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    _signatures: itertools.count = field(default_factory=lambda: itertools.count(1))
    _stale: set[str] = field(default_factory=set)

    def __call__(self, rec: Recorded) -> Reply:
        if rec.path.startswith("/outputs/"):
            return self._download(rec)
        if rec.headers.get("authorization") != f"Bearer {self.api_key}":
            shown = rec.headers.get("authorization", "") if self.echo_key_in_401 else ""
            return Reply(401, {"error": f"Invalid API key. {shown}".strip()})
        if rec.headers.get("x-runway-version") != VERSION:
            return Reply(400, {"error": "The X-Runway-Version header is missing or invalid."})
        if rec.method == "POST" and rec.path in ("/v1/text_to_video", "/v1/image_to_video"):
            return self.create_reply or self._create(rec)
        if rec.method == "GET" and rec.path.startswith("/v1/tasks/"):
            return self._get(rec, rec.path.removeprefix("/v1/tasks/"))
        return Reply(404, {"error": f"Not found: {rec.method} {rec.path}"})

    def _create(self, rec: Recorded) -> Reply:
        task_id = str(uuid.uuid4())
        self.tasks[task_id] = {"endpoint": rec.path, "body": rec.json(), "polls": 0}
        return Reply(200, {"id": task_id})

    def _get(self, rec: Recorded, task_id: str) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:
            return Reply(404, {"error": "Task not found."})
        status = self.statuses[min(task["polls"], len(self.statuses) - 1)]
        task["polls"] += 1
        return Reply(200, self.task_object(rec, task_id, status))

    def task_object(self, rec: Recorded, task_id: str, status: str) -> dict[str, Any]:
        """The documented task payload for `status`."""
        task: dict[str, Any] = {"id": task_id, "status": status, "createdAt": CREATED_AT}
        if status == "RUNNING":
            task["progress"] = 0.42
        elif status == "SUCCEEDED":
            task["output"] = [self._signed_url(rec, task_id)]
        elif status == "FAILED":
            task["failure"] = self.failure
            task["failureCode"] = self.failure_code
        return task

    def _signed_url(self, rec: Recorded, task_id: str) -> str:
        signature = next(self._signatures)
        if self.expire_first_url and signature == 1:
            self._stale.add(str(signature))
        host = rec.headers.get("host", "")
        return f"http://{host}/outputs/{task_id}/video.mp4?_jwt={signature}"

    def _download(self, rec: Recorded) -> Reply:
        signature = (rec.query.get("_jwt") or [""])[0]
        if signature in self._stale:
            return Reply(
                403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            )
        return Reply(200, mp4_bytes(self.clip_seconds), {"Content-Type": "video/mp4"})
