"""A fake fal queue (queue.fal.run), replaying the documented submit / status / result flow.

Shapes from ../shared/research/video-apis.md §11 and fal's docs: a submit to `/{endpoint id}` answers
`{request_id, response_url, status_url, cancel_url, queue_position}`, with the URLs under
`/{owner}/{app}/requests/{id}`; status is `{"status": "IN_QUEUE", "queue_position"}`,
`{"status": "IN_PROGRESS", "logs"}` or `{"status": "COMPLETED", "logs", "metrics"}` (plus `error`,
`error_type` when it failed); the result is the model output, `{"video": {"url", "content_type",
"file_name", "file_size"}, "seed"}`, or a typed model error, HTTP 422 `{"detail": [{"loc", "msg",
"type"}]}`. Output files live on a CDN path of their own and keep their URL.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.media import mp4_bytes
from tests.fakes.server import Recorded, Reply

# States a request walks through. "FAILED" = COMPLETED with `error`; "REFUSED" / "REJECTED" =
# COMPLETED whose result is a 422 content_policy_violation / another typed model error.
STATES = ("IN_QUEUE", "IN_PROGRESS", "COMPLETED", "FAILED", "REFUSED", "REJECTED")
LOG = {
    "message": "Generating video...",
    "level": "INFO",
    "source": "user",
    "timestamp": "2026-11-02T10:00:03Z",
}


def model_error(type_: str, msg: str, loc: list[str] | None = None) -> dict[str, Any]:
    return {"detail": [{"loc": loc or ["body", "prompt"], "msg": msg, "type": type_, "ctx": {}}]}


@dataclass
class FakeFal:
    """Handler for `FakeServer`. Requests walk through `states` one status poll at a time."""

    api_key: str
    states: tuple[str, ...] = ("IN_QUEUE", "IN_PROGRESS", "COMPLETED")
    submit_reply: Reply | None = None
    url_prefix: str = ""  # serve the queue URLs it hands out under this prefix (fal's URLs are opaque)
    fresh_file_urls: bool = False  # each result read names a new file URL (default: the URL is stable)
    gone_file_urls: int = 0  # the first N file URLs handed out answer 410
    clip_seconds: float = 1.0
    echo_key: bool = False
    requests: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _files: itertools.count = field(default_factory=lambda: itertools.count(1))
    _gone: set[str] = field(default_factory=set)

    def __call__(self, rec: Recorded) -> Reply:
        if rec.path.startswith("/files/"):
            return self._file(rec)
        auth = rec.headers.get("authorization", "")
        if auth != f"Key {self.api_key}":
            shown = f" ({auth})" if self.echo_key else ""
            return Reply(401, {"detail": f"Authentication is required to access this application.{shown}"})
        if rec.method == "POST":
            return self.submit_reply or self._submit(rec)
        path = rec.path.removeprefix(self.url_prefix)
        if rec.method == "GET" and "/requests/" in path:
            request_id, _, tail = path.split("/requests/", 1)[1].partition("/")
            req = self.requests.get(request_id)
            if req is None or not path.startswith(f"/{req['root']}/requests/"):
                return Reply(404, {"detail": "Request not found"})
            return (
                self._status(rec, request_id, req) if tail == "status" else self._result(rec, request_id, req)
            )
        return Reply(404, {"detail": f"Application not found: {rec.path}"})

    def _submit(self, rec: Recorded) -> Reply:
        endpoint = rec.path.lstrip("/")
        root = "/".join(endpoint.split("/")[:2])
        request_id = f"7c1b9a2e-0d4f-4e31-9b8a-{next(self._ids):012d}"
        self.requests[request_id] = {"endpoint": endpoint, "root": root, "input": rec.json(), "polls": 0}
        base = f"http://{rec.headers.get('host', '')}{self.url_prefix}/{root}/requests/{request_id}"
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

    def _state(self, req: dict[str, Any]) -> str:
        return self.states[min(req["polls"] - 1, len(self.states) - 1)]

    def _status(self, rec: Recorded, request_id: str, req: dict[str, Any]) -> Reply:
        req["polls"] += 1
        state = self._state(req)
        if state == "IN_QUEUE":
            return Reply(202, {"status": "IN_QUEUE", "queue_position": 3})
        if state == "IN_PROGRESS":
            return Reply(202, {"status": "IN_PROGRESS", "logs": [LOG]})
        body: dict[str, Any] = {"status": "COMPLETED", "logs": [LOG], "metrics": {"inference_time": 41.2}}
        if state == "FAILED":
            body |= {"error": "Request timed out after 3600 seconds.", "error_type": "request_timeout"}
        return Reply(200, body)

    def _result(self, rec: Recorded, request_id: str, req: dict[str, Any]) -> Reply:
        state = self._state(req) if req["polls"] else "IN_QUEUE"
        if state in ("IN_QUEUE", "IN_PROGRESS"):
            return Reply(400, {"detail": "Request is still in progress"})
        if state == "REFUSED":
            return Reply(
                422,
                model_error(
                    "content_policy_violation",
                    "The content could not be processed "
                    "because it contained material flagged by a content checker.",
                ),
            )
        if state == "REJECTED":
            return Reply(
                422, model_error("image_too_small", "Image dimensions are too small.", ["body", "image_url"])
            )
        if "file" not in req or self.fresh_file_urls:
            number = next(self._files)
            req["file"] = f"http://{rec.headers.get('host', '')}/files/{request_id}-{number}/output.mp4"
            if number <= self.gone_file_urls:
                self._gone.add(req["file"].split("/files/", 1)[1])
        size = len(mp4_bytes(self.clip_seconds))
        video = {
            "url": req["file"],
            "content_type": "video/mp4",
            "file_name": "output.mp4",
            "file_size": size,
        }
        return Reply(200, {"video": video, "seed": 1794203})

    def _file(self, rec: Recorded) -> Reply:
        if rec.path.removeprefix("/files/") in self._gone:
            return Reply(410, {"detail": "File has expired"})
        return Reply(200, mp4_bytes(self.clip_seconds), {"Content-Type": "video/mp4"})
