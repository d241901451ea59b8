"""A fake Kling API for contract tests: the documented create/query payloads (research/video-apis.md
§4), a server-side check of the HS256 JWT (signature, iss, nbf, exp), real MP4 results behind
short-lived URLs, and one-shot canned replies for the error cases."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.media import mp4_bytes
from tests.fakes.server import Recorded, Reply

ENDPOINTS = ("text2video", "image2video", "multi-image2video")
CREATED_AT_MS = 1722769557708  # Kling timestamps are milliseconds


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_jwt(token: str, access_key: str, secret_key: str, now: float | None = None) -> dict[str, Any]:
    """The claims of a valid Kling token; ValueError says what is wrong with an invalid one."""
    now = time.time() if now is None else now
    try:
        head_b64, claims_b64, sig_b64 = token.split(".")
    except ValueError:
        raise ValueError("not a JWT") from None
    header = json.loads(_unb64url(head_b64))
    if header != {"alg": "HS256", "typ": "JWT"}:
        raise ValueError(f"bad header {header}")
    expected = hmac.new(secret_key.encode(), f"{head_b64}.{claims_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64url(sig_b64)):
        raise ValueError("bad signature")
    claims = json.loads(_unb64url(claims_b64))
    if claims.get("iss") != access_key:
        raise ValueError("wrong iss")
    if not claims["nbf"] <= now < claims["exp"]:
        raise ValueError("token not valid now")
    return claims


def envelope(data: Any, code: int = 0, message: str = "SUCCEED") -> dict[str, Any]:
    return {"code": code, "message": message, "request_id": "req-fake-0001", "data": data}


def error(code: int, message: str, status: int = 200, **headers: str) -> Reply:
    """A Kling error: HTTP status + service code in the body (many arrive as HTTP 200)."""
    return Reply(status, {"code": code, "message": message, "request_id": "req-fake-err"}, headers=headers)


@dataclass
class FakeTask:
    task_id: str
    endpoint: str
    external_task_id: str
    polls: int = 0


@dataclass
class KlingFake:
    """Handler for `FakeServer`. Each query of a task moves it one step along `statuses`."""

    access_key: str
    secret_key: str
    statuses: tuple[str, ...] = ("submitted", "processing", "succeed")
    status_msg: str = ""
    video_seconds: float = 5.0
    expire_first_download: bool = False
    create_delay_s: float = 0.0  # create the task, then answer this late (a lost answer to a submit)
    canned: list[Reply] = field(default_factory=list)  # served, in order, before the normal answers
    tasks: dict[str, FakeTask] = field(default_factory=dict)
    tokens: list[dict[str, Any]] = field(default_factory=list)  # verified claims, per API request
    _expired: set[str] = field(default_factory=set)

    def __call__(self, rec: Recorded) -> Reply:
        if rec.path.startswith("/files/"):
            return self._download(rec)
        auth = rec.headers.get("authorization", "")
        try:
            self.tokens.append(verify_jwt(auth.removeprefix("Bearer "), self.access_key, self.secret_key))
        except (ValueError, KeyError) as exc:
            return error(1004, f"Auth failed: {exc}", status=401)
        if self.canned:
            return self.canned.pop(0)
        parts = rec.path.strip("/").split("/")  # v1 videos <endpoint> [<id>]
        if parts[:2] != ["v1", "videos"] or len(parts) < 3 or parts[2] not in ENDPOINTS:
            return error(1202, "invalid request method", status=404)
        if rec.method == "POST" and len(parts) == 3:
            return self._create(parts[2], rec.json() or {})
        if rec.method == "GET" and len(parts) == 4:
            return self._query(parts[2], parts[3], rec)
        return error(1202, "invalid request method", status=404)

    def _create(self, endpoint: str, body: dict[str, Any]) -> Reply:
        task_id = str(866889456698785798 + len(self.tasks))
        ext = str(body.get("external_task_id", ""))
        self.tasks[task_id] = FakeTask(task_id, endpoint, ext)
        return Reply(
            200,
            delay_s=self.create_delay_s,
            body=envelope(
                {
                    "task_id": task_id,
                    "task_status": "submitted",
                    "task_info": {"external_task_id": ext},
                    "created_at": CREATED_AT_MS,
                    "updated_at": CREATED_AT_MS,
                }
            ),
        )

    def _query(self, endpoint: str, some_id: str, rec: Recorded) -> Reply:
        task = self.tasks.get(some_id) or next(
            (t for t in self.tasks.values() if t.external_task_id and t.external_task_id == some_id), None
        )
        if task is None or task.endpoint != endpoint:
            return error(1203, "resource not found", status=404)
        status = self.statuses[min(task.polls, len(self.statuses) - 1)]
        task.polls += 1
        data: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": status,
            "task_status_msg": self.status_msg if status == "failed" else "",
            "task_info": {"external_task_id": task.external_task_id},
            "created_at": CREATED_AT_MS,
            "updated_at": CREATED_AT_MS + 65292,
        }
        if status == "succeed":
            url = f"http://{rec.headers['host']}/files/{task.task_id}-{task.polls}.mp4"
            data["task_result"] = {
                "videos": [{"id": f"vid-{task.task_id}", "url": url, "duration": f"{self.video_seconds:.1f}"}]
            }
        return Reply(200, envelope(data))

    def _download(self, rec: Recorded) -> Reply:
        task_id = rec.path.rsplit("/", 1)[-1].split("-")[0]
        if self.expire_first_download and task_id not in self._expired:
            self._expired.add(task_id)
            return Reply(
                403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
            )
        return Reply(200, mp4_bytes(self.video_seconds), headers={"Content-Type": "video/mp4"})
