"""A fake DashScope video-synthesis API (Wan on Alibaba Cloud Model Studio), replaying documented payloads.

Shapes from ../shared/research/video-apis.md §14 and the Model Studio API references: create answers
`{"output": {"task_id", "task_status": "PENDING"}, "request_id"}`; `GET /tasks/{id}` answers
`output.task_status` plus `video_url` on success or `code`/`message` on failure, and `usage`; errors
are flat `{"request_id", "code", "message"}`. HTTP calls without `X-DashScope-Async: enable` are
refused, as the service does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.media import mp4_bytes
from tests.fakes.server import Recorded, Reply

API = "/api/v1"
SYNTHESIS = f"{API}/services/aigc/video-generation/video-synthesis"
KF2V = f"{API}/services/aigc/image2video/video-synthesis"
TASKS = f"{API}/tasks/"
STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"request_id": "13a2c2f4-7e9b-9d0c-a5b1-5c2e1f0d9a11", "code": code, "message": message}


@dataclass
class FakeDashScope:
    """Handler for `FakeServer`. Tasks walk through `statuses` one poll at a time (the last repeats)."""

    api_key: str
    statuses: tuple[str, ...] = ("PENDING", "RUNNING", "SUCCEEDED")
    create_reply: Reply | None = None  # answer every create with this (errors, delays)
    fail_code: str = "InternalError"
    fail_message: str = "An internal error has occured, please try again later or contact service support."
    expire_first_url: bool = False  # the first OSS URL handed out answers 403, as an expired signature
    clip_seconds: float = 1.0
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _urls: itertools.count = field(default_factory=lambda: itertools.count(1))
    _expired: set[str] = field(default_factory=set)

    def __call__(self, rec: Recorded) -> Reply:
        if rec.path.startswith("/oss/"):
            return self._download(rec)
        if rec.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply(401, error_body("InvalidApiKey", "Invalid API-key provided."))
        if rec.method == "POST" and rec.path in (SYNTHESIS, KF2V):
            if rec.headers.get("x-dashscope-async") != "enable":
                return Reply(
                    403, error_body("AccessDenied", "current user api does not support synchronous calls")
                )
            return self.create_reply or self._create(rec)
        if rec.method == "GET" and rec.path.startswith(TASKS):
            return self._get(rec, rec.path.removeprefix(TASKS))
        return Reply(404, error_body("NotFound", f"no route {rec.method} {rec.path}"))

    def _create(self, rec: Recorded) -> Reply:
        task_id = f"0385dc79-5ff8-4d82-bcb6-{next(self._ids):012d}"
        self.tasks[task_id] = {"body": rec.json(), "polls": 0, "host": rec.headers.get("host", "")}
        return Reply(
            200,
            {
                "output": {"task_status": "PENDING", "task_id": task_id},
                "request_id": "4909100c-7b5a-9f92-bfe5",
            },
        )

    def _get(self, rec: Recorded, task_id: str) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:  # an id DashScope does not know (or no longer keeps) reads as UNKNOWN
            return Reply(
                200, {"request_id": "r-unknown", "output": {"task_id": task_id, "task_status": "UNKNOWN"}}
            )
        status = self.statuses[min(task["polls"], len(self.statuses) - 1)]
        task["polls"] += 1
        return Reply(200, self.task_object(task_id, task, status))

    def task_object(self, task_id: str, task: dict[str, Any], status: str) -> dict[str, Any]:
        body = task["body"]
        output: dict[str, Any] = {
            "task_id": task_id,
            "task_status": status,
            "submit_time": "2026-10-12 14:18:52.331",
            "scheduled_time": "2026-10-12 14:18:59.290",
        }
        reply: dict[str, Any] = {"request_id": "caa62a12-8841-41a6-8af2-xxxxxx", "output": output}
        if status == "SUCCEEDED":
            n = next(self._urls)
            if self.expire_first_url and n == 1:
                self._expired.add(f"sig{n}")
            output |= {
                "end_time": "2026-10-12 14:23:40.676",
                "orig_prompt": body["input"].get("prompt", ""),
                "video_url": f"http://{task['host']}/oss/{task_id}.mp4?Expires=1760339020&Signature=sig{n}",
            }
            seconds = body["parameters"].get("duration", 5)
            reply["usage"] = {
                "duration": seconds,
                "size": body["parameters"].get("size", "1280*720"),
                "input_video_duration": 0,
                "output_video_duration": seconds,
                "video_count": 1,
                "SR": 720,
            }
        elif status == "FAILED":
            output |= {"code": self.fail_code, "message": self.fail_message}
        return reply

    def _download(self, rec: Recorded) -> Reply:
        if rec.query.get("Signature", [""])[0] in self._expired:
            return Reply(
                403, b"<Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>"
            )
        return Reply(200, mp4_bytes(self.clip_seconds), {"Content-Type": "video/mp4"})
