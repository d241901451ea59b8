"""A fake ComfyUI server for contract tests: the routes of ComfyUI's `server.py` that Shotline uses,
answering with the documented payloads (research/video-apis.md §10).

`POST /prompt` validates the body as the server does (an API-format graph, a prompt id) and queues
it; what a later `GET /history/{id}` or `GET /queue` shows is set by `phase`; `GET /view` serves a
real MP4; `POST /upload/image` parses the multipart form. One-shot canned replies stand in for
errors and slow answers.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass, field
from typing import Any, Literal

from tests.fakes.media import mp4_bytes
from tests.fakes.server import Recorded, Reply

Phase = Literal["pending", "running", "success", "error", "interrupted", "lost", "no_video"]

# `GET /history/{id}` after a successful run of a SaveVideo workflow (research §10, server.py).
SUCCESS_ENTRY: dict[str, Any] = {
    "prompt": [12, "<id>", {}, {"client_id": "<client>"}, ["12"]],
    "outputs": {
        "12": {
            "images": [{"filename": "s01_0f1e2d3c_00001_.mp4", "subfolder": "shotline", "type": "output"}],
            "animated": [True],
        }
    },
    "status": {
        "status_str": "success",
        "completed": True,
        "messages": [
            ["execution_start", {"prompt_id": "<id>", "timestamp": 1732000000000}],
            ["execution_cached", {"nodes": [], "prompt_id": "<id>", "timestamp": 1732000000001}],
            ["execution_success", {"prompt_id": "<id>", "timestamp": 1732000400000}],
        ],
    },
    "meta": {"12": {"node_id": "12", "display_node": "12", "real_node_id": "12"}},
}

# ... and after a node raised (execution.py's `execution_error` message).
ERROR_ENTRY: dict[str, Any] = {
    "prompt": [13, "<id>", {}, {}, ["12"]],
    "outputs": {},
    "status": {
        "status_str": "error",
        "completed": False,
        "messages": [
            ["execution_start", {"prompt_id": "<id>", "timestamp": 1732000000000}],
            [
                "execution_error",
                {
                    "prompt_id": "<id>",
                    "node_id": "9",
                    "node_type": "KSampler",
                    "executed": ["1", "2", "3"],
                    "exception_message": "Allocation on device would exceed allowed memory. (out of memory)",
                    "exception_type": "torch.OutOfMemoryError",
                    "traceback": ["..."],
                    "current_inputs": {},
                    "current_outputs": {},
                },
            ],
        ],
    },
    "meta": {},
}

INTERRUPTED_ENTRY: dict[str, Any] = {
    **ERROR_ENTRY,
    "status": {
        "status_str": "error",
        "completed": False,
        "messages": [
            ["execution_interrupted", {"prompt_id": "<id>", "node_id": "9", "node_type": "KSampler"}]
        ],
    },
}

# `POST /prompt` with a graph that names a model file the server does not have.
VALIDATION_ERROR: dict[str, Any] = {
    "error": {
        "type": "prompt_outputs_failed_validation",
        "message": "Prompt outputs failed validation",
        "details": "",
        "extra_info": {},
    },
    "node_errors": {
        "1": {
            "errors": [
                {
                    "type": "value_not_in_list",
                    "message": "Value not in list",
                    "details": "unet_name: 'wan2.2_ti2v_5B_fp16.safetensors' not in []",
                    "extra_info": {"input_name": "unet_name"},
                }
            ],
            "dependent_outputs": ["12"],
            "class_type": "UNETLoader",
        }
    },
}


def parse_multipart(req: Recorded) -> tuple[dict[str, str], list[tuple[str, str, bytes]]]:
    """(form fields, files as (field, file name, bytes) in order) of a multipart/form-data body."""
    head = f"Content-Type: {req.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.default).parsebytes(head + req.body)
    fields: dict[str, str] = {}
    files: list[tuple[str, str, bytes]] = []
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True) or b""
        if part.get_filename():
            files.append((name, part.get_filename() or "", payload))
        else:
            fields[name] = payload.decode()
    return fields, files


@dataclass
class ComfyFake:
    """The server side. `phase` is what every prompt looks like to a poll; `outputs` names the file
    each successive successful history read reports (the last one repeats)."""

    phase: Phase = "success"
    outputs: list[str] = field(default_factory=lambda: ["s01_0f1e2d3c_00001_.mp4"])
    view_failures: list[int] = field(default_factory=list)  # statuses /view answers before the file
    replies: dict[str, list[Reply]] = field(default_factory=dict)  # "POST /prompt" -> canned, one-shot
    slow: dict[str, float] = field(default_factory=dict)  # route -> seconds to sit on a real answer
    video: bytes = field(default_factory=lambda: mp4_bytes(1.0, 320, 176))
    prompts: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    history_reads: int = 0
    number: int = 0

    def canned(self, route: str, *replies: Reply) -> None:
        self.replies.setdefault(route, []).extend(replies)

    def __call__(self, req: Recorded) -> Reply:
        route = f"{req.method} {req.path}"
        if self.replies.get(route):
            return self.replies[route].pop(0)
        reply = self._answer(route, req)
        reply.delay_s = self.slow.get(route, 0.0)  # the work is done; only the answer is late
        return reply

    def _answer(self, route: str, req: Recorded) -> Reply:
        if route == "POST /prompt":
            return self._prompt(req)
        if route == "POST /upload/image":
            return self._upload(req)
        if route == "GET /queue":
            return Reply(200, self._queue())
        if req.method == "GET" and req.path.startswith("/history/"):
            return Reply(200, self._history(req.path.removeprefix("/history/")))
        if route == "GET /view":
            if self.view_failures:
                return Reply(self.view_failures.pop(0), b"")
            return Reply(200, self.video, {"Content-Type": "video/mp4"})
        return Reply(404, {"error": "not found"})

    def _prompt(self, req: Recorded) -> Reply:
        body = req.json()
        if not isinstance(body, dict) or "prompt" not in body:
            return Reply(
                400, {"error": {"type": "no_prompt", "message": "No prompt provided", "details": ""}}
            )
        graph = body["prompt"]
        if not isinstance(graph, dict) or any("class_type" not in n for n in graph.values()):
            return Reply(400, {"error": {"type": "invalid_prompt", "message": "Cannot execute because a node is missing the class_type property."}, "node_errors": {}})  # fmt: skip
        self.number += 1
        prompt_id = str(body.get("prompt_id") or f"auto-{self.number}")
        self.prompts[prompt_id] = body
        return Reply(200, {"prompt_id": prompt_id, "number": self.number, "node_errors": {}})

    def _upload(self, req: Recorded) -> Reply:
        fields, files = parse_multipart(req)
        _, name, data = next(f for f in files if f[0] == "image")
        self.uploads[name] = data
        return Reply(
            200, {"name": name, "subfolder": fields.get("subfolder", ""), "type": fields.get("type", "input")}
        )

    def _queue(self) -> dict[str, Any]:
        items = [[n, pid, {}, {}, ["12"]] for n, pid in enumerate(self.prompts, start=1)]
        running = items[:1] if self.phase == "running" else []
        pending = items if self.phase == "pending" else []
        return {"queue_running": running, "queue_pending": pending}

    def _history(self, prompt_id: str) -> dict[str, Any]:
        if self.phase in ("pending", "running", "lost") or prompt_id not in self.prompts:
            return {}
        self.history_reads += 1
        if self.phase == "error":
            entry = ERROR_ENTRY
        elif self.phase == "interrupted":
            entry = INTERRUPTED_ENTRY
        elif self.phase == "no_video":
            preview = [{"filename": "ComfyUI_temp_00001_.png", "subfolder": "", "type": "temp"}]
            entry = {**SUCCESS_ENTRY, "outputs": {"9": {"images": preview}}}
        else:
            name = self.outputs[min(self.history_reads, len(self.outputs)) - 1]
            files = [{"filename": name, "subfolder": "shotline", "type": "output"}]
            entry = {**SUCCESS_ENTRY, "outputs": {"12": {"images": files, "animated": [True]}}}
        return {prompt_id: entry}
