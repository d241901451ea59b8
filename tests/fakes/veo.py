"""A fake Gemini API for Veo, replaying the documented long-running-operation flow.

Shapes from ../shared/research/video-apis.md §9: `POST /v1beta/models/{model}:predictLongRunning`
answers `{"name": "models/<model>/operations/<id>"}`; `GET /v1beta/{name}` answers the operation,
`done` absent until it finishes, then either `error: {code, message}` or
`response.generateVideoResponse` with `generatedSamples[].video.uri` (or RAI-filtered counts and
reasons and no samples). Errors are google.rpc.Status envelopes. The video URI
(`/v1beta/files/<id>:download?alt=media`) wants the key header and redirects to a signed URL on
another origin (here `localhost` instead of `127.0.0.1`), which is what actually serves the file.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.media import mp4_bytes
from tests.fakes.server import Recorded, Reply

API = "/v1beta"
RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse"
RAI_REASON = (
    "We encountered an issue with the audio for your prompt. You have not been charged. "
    "Please try a different prompt."
)


def rpc_error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, "details": details or []}}


@dataclass
class FakeGemini:
    """Handler for `FakeServer`. Operations walk through `states` one poll at a time (the last repeats):
    "pending", "done", "error" (done with an error) or "filtered" (done, RAI-filtered, no samples)."""

    api_key: str
    states: tuple[str, ...] = ("pending", "done")
    create_reply: Reply | None = None
    expire_first_link: bool = False  # the first signed file link answers 410, as a stale signature
    clip_seconds: float = 1.0
    echo_key: bool = False  # a badly behaved proxy that repeats the key in its error message
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _signatures: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __call__(self, rec: Recorded) -> Reply:
        if rec.path.startswith("/signed/"):
            return self._signed(rec)
        key = rec.headers.get("x-goog-api-key")
        if key is None:
            return Reply(
                401,
                rpc_error(
                    401,
                    "UNAUTHENTICATED",
                    "Method doesn't allow unregistered callers (callers without "
                    "established identity). Please use API Key or other form of API consumer identity.",
                ),
            )
        if key != self.api_key:
            shown = f" ({key})" if self.echo_key else ""
            return Reply(
                400,
                rpc_error(
                    400,
                    "INVALID_ARGUMENT",
                    f"API key not valid. Please pass a valid API key.{shown}",
                    [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
                ),
            )
        if rec.method == "POST" and rec.path.endswith(":predictLongRunning"):
            return self.create_reply or self._create(rec)
        if rec.method == "GET" and rec.path.startswith(f"{API}/files/"):
            return self._file(rec)
        if rec.method == "GET" and "/operations/" in rec.path:
            return self._operation(rec, rec.path.removeprefix(f"{API}/"))
        return Reply(404, rpc_error(404, "NOT_FOUND", f"no route {rec.method} {rec.path}"))

    def _create(self, rec: Recorded) -> Reply:
        model = rec.path.removeprefix(f"{API}/models/").removesuffix(":predictLongRunning")
        name = f"models/{model}/operations/{next(self._ids):04d}x9k2fqlbm3"
        self.operations[name] = {"model": model, "body": rec.json(), "polls": 0}
        return Reply(200, {"name": name})

    def _operation(self, rec: Recorded, name: str) -> Reply:
        op = self.operations.get(name)
        if op is None:
            return Reply(404, rpc_error(404, "NOT_FOUND", f"Operation {name} not found."))
        state = self.states[min(op["polls"], len(self.states) - 1)]
        op["polls"] += 1
        return Reply(200, self.operation(rec, name, state))

    def operation(self, rec: Recorded, name: str, state: str) -> dict[str, Any]:
        if state == "pending":
            return {"name": name}
        if state == "error":
            return {"name": name, "done": True, "error": {"code": 13, "message": "Video generation failed."}}
        response: dict[str, Any] = {"@type": RESPONSE_TYPE}
        if state == "filtered":
            response["generateVideoResponse"] = {
                "raiMediaFilteredCount": 1,
                "raiMediaFilteredReasons": [RAI_REASON],
            }
        else:
            file_id = name.rsplit("/", 1)[-1]
            uri = f"http://{rec.headers.get('host', '')}{API}/files/{file_id}:download?alt=media"
            response["generateVideoResponse"] = {"generatedSamples": [{"video": {"uri": uri}}]}
        return {"name": name, "done": True, "response": response}

    def _file(self, rec: Recorded) -> Reply:
        """The file URI redirects to a short-lived signed URL on another origin."""
        file_id = rec.path.removeprefix(f"{API}/files/").split(":", 1)[0]
        port = rec.headers.get("host", "").rsplit(":", 1)[-1]
        signature = next(self._signatures)
        location = f"http://localhost:{port}/signed/{file_id}.mp4?sig={signature}"
        return Reply(302, b"", {"Location": location})

    def _signed(self, rec: Recorded) -> Reply:
        signature = (rec.query.get("sig") or [""])[0]
        if self.expire_first_link and signature == "1":
            return Reply(410, b"<Error><Code>ExpiredToken</Code></Error>")
        return Reply(200, mp4_bytes(self.clip_seconds), {"Content-Type": "video/mp4"})
