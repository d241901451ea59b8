"""A fake MiniMax video API (v1 Hailuo and v2 H3) for contract tests, replaying the documented
payloads (research/video-apis.md §6): v1 create / query / files-retrieve with `base_resp` errors in
HTTP 200 answers, v2 `content[]` create and query with the `{type: error}` envelope, Bearer auth,
and real MP4 results behind short-lived download URLs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.fakes.media import mp4_bytes
from tests.fakes.server import Recorded, Reply

V2_HTTP = {1000: 500, 1002: 429, 1004: 401, 1008: 402, 1026: 422, 2013: 400}
V2_TYPES = {1002: "rate_limit_error", 1004: "authentication_error", 1008: "insufficient_balance_error"}


def base_resp(code: int = 0, msg: str = "success") -> dict[str, Any]:
    return {"status_code": code, "status_msg": msg}


def v1_error(code: int, msg: str) -> Reply:
    """A v1 error: HTTP 200, the error in `base_resp`."""
    return Reply(200, {"task_id": "", "base_resp": base_resp(code, msg)})


def v2_error(code: int, message: str, **headers: str) -> Reply:
    """A v2 error: the documented envelope, under the HTTP status the code table pairs it with."""
    status = V2_HTTP.get(code, 400)
    body = {
        "type": "error",
        "error": {
            "type": V2_TYPES.get(code, "invalid_request_error"),
            "message": f"{message} ({code})",
            "http_code": str(status),
        },
        "request_id": "0c5d1e2f-fake",
    }
    return Reply(status, body, headers=headers)


@dataclass
class FakeTask:
    task_id: str
    version: int
    body: dict[str, Any]
    polls: int = 0


@dataclass
class HailuoFake:
    """Handler for `FakeServer`. Each query of a task moves it one step along `v1_statuses` or
    `v2_statuses`; a failed task reports `fail_code`."""

    api_key: str
    v1_statuses: tuple[str, ...] = ("Preparing", "Queueing", "Processing", "Success")
    v2_statuses: tuple[str, ...] = ("queued", "running", "succeeded")
    fail_code: int = 0
    fail_msg: str = ""
    video_seconds: float = 6.0
    expire_first_download: bool = False
    canned: list[Reply] = field(default_factory=list)  # served, in order, before the normal answers
    tasks: dict[str, FakeTask] = field(default_factory=dict)
    retrieves: int = 0
    _expired: set[str] = field(default_factory=set)

    def __call__(self, rec: Recorded) -> Reply:
        if rec.path.startswith("/files/"):
            return self._download(rec)
        if rec.headers.get("authorization") != f"Bearer {self.api_key}":
            if rec.path.startswith("/v2/"):
                return v2_error(1004, "invalid api key")
            return v1_error(1004, "login fail: Please carry the API secret key in the 'Authorization' field")
        if self.canned:
            return self.canned.pop(0)
        route = (rec.method, rec.path)
        if route == ("POST", "/v1/video_generation"):
            return Reply(200, {"task_id": self._new(1, rec.json()), "base_resp": base_resp()})
        if route == ("GET", "/v1/query/video_generation"):
            return self._v1_query(rec.query.get("task_id", [""])[0])
        if route == ("GET", "/v1/files/retrieve"):
            return self._v1_file(rec.query.get("file_id", [""])[0], rec)
        if route == ("POST", "/v2/video_generation"):
            return Reply(200, {"task_id": self._new(2, rec.json())})
        if rec.method == "GET" and rec.path.startswith("/v2/query/video_generation/"):
            return self._v2_query(rec.path.rsplit("/", 1)[-1], rec)
        return Reply(404, {"type": "error", "error": {"type": "not_found_error", "message": "not found"}})

    def _new(self, version: int, body: dict[str, Any]) -> str:
        task_id = str(106916112212032 + len(self.tasks))
        self.tasks[task_id] = FakeTask(task_id, version, body)
        return task_id

    def _step(self, task: FakeTask, statuses: tuple[str, ...]) -> str:
        status = statuses[min(task.polls, len(statuses) - 1)]
        task.polls += 1
        return status

    def _v1_query(self, task_id: str) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:
            return v1_error(2013, "invalid params, task not found")
        status = self._step(task, self.v1_statuses)
        answer: dict[str, Any] = {
            "task_id": task_id,
            "status": status,
            "file_id": "",
            "base_resp": base_resp(),
        }
        if status == "Success":
            answer.update(file_id=f"2054{task_id}", video_width=1366, video_height=768)
        if status == "Fail" and self.fail_code:
            answer["base_resp"] = base_resp(self.fail_code, self.fail_msg)
        return Reply(200, answer)

    def _v1_file(self, file_id: str, rec: Recorded) -> Reply:
        if not file_id.startswith("2054"):
            return v1_error(2013, "invalid params, file not found")
        self.retrieves += 1
        task_id = file_id.removeprefix("2054")
        url = f"http://{rec.headers['host']}/files/{task_id}-{self.retrieves}.mp4?Expires=32400"
        file = {
            "file_id": int(file_id),
            "bytes": len(mp4_bytes(self.video_seconds, 320, 180)),
            "created_at": 1762070131,
            "filename": "output.mp4",
            "purpose": "video_generation",
            "download_url": url,
            "backup_download_url": url.replace("/files/", "/files/backup-"),
        }
        return Reply(200, {"file": file, "base_resp": base_resp()})

    def _v2_query(self, task_id: str, rec: Recorded) -> Reply:
        task = self.tasks.get(task_id)
        if task is None:
            return v2_error(2013, "task not found")
        status = self._step(task, self.v2_statuses)
        answer: dict[str, Any] = {
            "task_id": task_id,
            "model": task.body.get("model"),
            "status": status,
            "ratio": task.body.get("ratio"),
            "resolution": task.body.get("resolution"),
        }
        if status == "succeeded":
            url = f"http://{rec.headers['host']}/files/{task_id}-{task.polls}.mp4?Expires=32400"
            answer["output"] = {"video_url": url, "duration": task.body.get("duration")}
            answer["usage"] = {"duration": task.body.get("duration")}
        if status == "failed":
            answer["error"] = {"code": self.fail_code or 1000, "message": self.fail_msg or "internal error"}
        return Reply(200, answer)

    def _download(self, rec: Recorded) -> Reply:
        task_id = rec.path.rsplit("/", 1)[-1].removeprefix("backup-").split("-")[0]
        if self.expire_first_download and task_id not in self._expired:
            self._expired.add(task_id)
            return Reply(
                403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            )
        return Reply(200, mp4_bytes(self.video_seconds, 320, 180), headers={"Content-Type": "video/mp4"})
