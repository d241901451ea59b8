"""A fake Anthropic Messages endpoint for the real `ChatAnthropic`.

It replays the documented shapes of `POST /v1/messages` (docs.anthropic.com/en/api/messages): a
`message` object whose `content` is a list of `text` and `tool_use` blocks with a `stop_reason`,
and the `{"type": "error", "error": {type, message}}` body of a failure (`rate_limit_error` 429 with
`retry-after`, `api_error` 500, `overloaded_error` 529, `authentication_error` 401).

Point ChatAnthropic's base URL at ``server.url`` (the SDK adds ``/v1/messages``). Replies are queued
and served in order, one per request; every request is recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from pydantic import BaseModel

from tests.fakes.server import Recorded, Reply

Script = Reply | Callable[[Recorded], Reply]
MODEL = "claude-sonnet-4-6"
_ids = count(1)


def message(
    content: list[dict[str, Any]], *, stop_reason: str = "end_turn", model: str = MODEL
) -> dict[str, Any]:
    """The documented `message` object."""
    return {
        "id": f"msg_fake{next(_ids):04d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 25,
            "output_tokens": 12,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def text_reply(text: str, *, model: str = MODEL) -> Reply:
    return Reply(200, message([{"type": "text", "text": text}], model=model), headers=_ids_header())


def tool_use_reply(
    name: str | type[BaseModel], args: BaseModel | dict[str, Any], *, model: str = MODEL
) -> Reply:
    """A `tool_use` block calling `name` (a pydantic schema is named by its class) with `args` as
    its `input` object."""
    tool = name if isinstance(name, str) else name.__name__
    value = args.model_dump(mode="json") if isinstance(args, BaseModel) else args
    block = {"type": "tool_use", "id": f"toolu_fake{next(_ids):04d}", "name": tool, "input": value}
    return Reply(200, message([block], stop_reason="tool_use", model=model), headers=_ids_header())


def answer(value: BaseModel | dict[str, Any]) -> Callable[[Recorded], Reply]:
    """Calls the tool the request forces (`tool_choice: {"type": "tool", "name": ...}`) with `value`."""

    def reply(rec: Recorded) -> Reply:
        body = rec.json() or {}
        choice = body.get("tool_choice") or {}
        name = choice.get("name") if isinstance(choice, dict) else None
        if name is None:
            return text_reply(json.dumps(value if isinstance(value, dict) else value.model_dump(mode="json")))
        return tool_use_reply(name, value, model=body.get("model", MODEL))

    return reply


def error_reply(status: int, type_: str, text: str, headers: dict[str, str] | None = None) -> Reply:
    """The documented error body."""
    body = {"type": "error", "error": {"type": type_, "message": text}, "request_id": "req_fake_error"}
    return Reply(status, body, headers={**_ids_header(), **(headers or {})})


def rate_limited(retry_after_s: int = 1) -> Reply:
    return error_reply(
        429,
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute.",
        headers={"retry-after": str(retry_after_s)},
    )


def overloaded() -> Reply:
    return error_reply(529, "overloaded_error", "Overloaded")


def unauthorized() -> Reply:
    return error_reply(401, "authentication_error", "invalid x-api-key")


def _ids_header() -> dict[str, str]:
    return {"request-id": f"req_fake{next(_ids):04d}"}


@dataclass
class AnthropicChatFake:
    """Handler for `FakeServer`. `key`, when set, is the only key accepted, in the documented
    `x-api-key` header or as `Authorization: Bearer` (what the anthropic 2.x SDK sends)."""

    replies: list[Script] = field(default_factory=list)
    key: str | None = None
    requests: list[Recorded] = field(default_factory=list)

    def queue(self, *replies: Script) -> AnthropicChatFake:
        self.replies.extend(replies)
        return self

    def __call__(self, rec: Recorded) -> Reply:
        self.requests.append(rec)
        if rec.method != "POST" or rec.path != "/v1/messages":
            return error_reply(404, "not_found_error", f"Not found: {rec.method} {rec.path}")
        if self.key is not None and self.key not in (
            rec.headers.get("x-api-key"),
            rec.headers.get("authorization", "").removeprefix("Bearer "),
        ):
            return unauthorized()
        if not self.replies:
            return error_reply(400, "invalid_request_error", "AnthropicChatFake: no scripted reply left")
        script = self.replies.pop(0)
        return script(rec) if callable(script) else script

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.requests if r.path == "/v1/messages"]
