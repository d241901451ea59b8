"""A fake OpenAI chat-completions endpoint for the real `ChatOpenAI`, and so for every server that
copies the protocol (DeepSeek, Volcengine Ark, DashScope compatible mode, vLLM, Ollama's /v1).

It replays the documented shapes of `POST /chat/completions` (platform.openai.com/docs/api-reference/chat):
a `chat.completion` object whose message carries `content`, `tool_calls` (function calling) or
`refusal` (Structured Outputs), and the `{"error": {message, type, param, code}}` body of a failure
with its status and headers (`retry-after-ms` / `retry-after` on a 429).

Script it with a queue of replies, served in order, one per request; every request is recorded::

    fake = OpenAIChatFake([answer(Decision(...)), text_reply("Done.")])
    with FakeServer(fake) as server:                      # a real socket on loopback
        llm = chat_model(settings_with(base_url=server.url + "/v1"))
    httpx.Client(transport=fake.transport())              # or in process, no socket

A reply is a `Reply`, or a callable that builds one from the request (see `answer`, which answers
in whatever form the request asked for: a forced tool call, a json_schema `response_format`, or text).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import httpx
from pydantic import BaseModel

from tests.fakes.server import Recorded, Reply

Script = Reply | Callable[[Recorded], Reply]
MODEL = "gpt-4.1-mini"
CREATED = 1741569952  # a fixed clock: replies are byte-identical from run to run
_ids = count(1)


# --- replies ---------------------------------------------------------------------------------


def completion(message: dict[str, Any], *, finish_reason: str = "stop", model: str = MODEL) -> dict[str, Any]:
    """The documented `chat.completion` object around one assistant message."""
    n = next(_ids)
    return {
        "id": f"chatcmpl-fake{n:04d}",
        "object": "chat.completion",
        "created": CREATED + n,
        "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": 19,
            "completion_tokens": 10,
            "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fake0001",
    }


def _assistant(**fields: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": None, "refusal": None, "annotations": [], **fields}


def _json_text(value: BaseModel | dict[str, Any] | str) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def text_reply(content: str, *, model: str = MODEL) -> Reply:
    """A plain answer."""
    return Reply(200, completion(_assistant(content=content), model=model))


def json_reply(value: BaseModel | dict[str, Any] | str, *, model: str = MODEL) -> Reply:
    """A structured answer as message content (json_schema or json_mode); a str goes out verbatim,
    so a test can send JSON that does not fit, or no JSON at all."""
    return Reply(200, completion(_assistant(content=_json_text(value)), model=model))


def tool_reply(
    name: str | type[BaseModel],
    args: BaseModel | dict[str, Any] | str,
    *,
    call_id: str | None = None,
    model: str = MODEL,
) -> Reply:
    """A function-calling answer: one tool call to `name` (a pydantic schema is named by its class,
    as langchain names the tool) with `args` as its JSON `arguments` string."""
    tool = name if isinstance(name, str) else name.__name__
    call = {
        "id": call_id or f"call_fake{next(_ids):04d}",
        "type": "function",
        "function": {"name": tool, "arguments": _json_text(args)},
    }
    return Reply(200, completion(_assistant(tool_calls=[call]), finish_reason="tool_calls", model=model))


def refusal_reply(
    refusal: str = "I'm sorry, I cannot assist with that request.", *, model: str = MODEL
) -> Reply:
    """A Structured Outputs refusal: `content` null, the reason in `refusal`."""
    return Reply(200, completion(_assistant(refusal=refusal), model=model))


def answer(value: BaseModel | dict[str, Any] | str) -> Callable[[Recorded], Reply]:
    """Answers `value` in the form the request asked for: a call to the forced tool, JSON content for
    a `response_format`, else plain text. Lets one script drive any structured-output method."""

    def reply(rec: Recorded) -> Reply:
        body = rec.json() or {}
        tool = forced_tool(body)
        if tool is not None:
            return tool_reply(tool, value, model=body.get("model", MODEL))
        return json_reply(value, model=body.get("model", MODEL))

    return reply


def error_reply(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """The documented error body: `{"error": {"message", "type", "param", "code"}}`."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return Reply(status, body, headers={"x-request-id": "req_fake_error", **(headers or {})})


def rate_limited(retry_after_s: float = 0.05) -> Reply:
    """429 with the waits the OpenAI SDK reads: `retry-after-ms` first, then `retry-after` (seconds)."""
    return error_reply(
        429,
        "Rate limit reached for gpt-4.1-mini in organization org-fake on requests per min (RPM): "
        "Limit 3, Used 3, Requested 1. Please try again in 20s.",
        type_="requests",
        code="rate_limit_exceeded",
        headers={
            "retry-after-ms": str(int(retry_after_s * 1000)),
            "retry-after": str(max(1, math.ceil(retry_after_s))),
        },
    )


def server_error(status: int = 500) -> Reply:
    return error_reply(
        status,
        "The server had an error while processing your request. Sorry about that!",
        type_="server_error",
    )


def unauthorized(echo: str = "sk-fake") -> Reply:
    """401 as OpenAI sends it. OpenAI masks the key it echoes; `echo` is sent as given, so a test can
    make the provider echo a key in full and check that it never reaches our messages."""
    return error_reply(
        401,
        f"Incorrect API key provided: {echo}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    )


# --- reading requests ------------------------------------------------------------------------


def forced_tool(body: dict[str, Any]) -> str | None:
    """The function a request forces with `tool_choice` (how function_calling asks for a form)."""
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        return (choice.get("function") or {}).get("name")
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        return choice
    if choice == "required" and len(body.get("tools") or []) == 1:
        return body["tools"][0]["function"]["name"]
    return None


def response_format(body: dict[str, Any]) -> str | None:
    """`json_schema`, `json_object` or None."""
    fmt = body.get("response_format")
    return fmt.get("type") if isinstance(fmt, dict) else None


# --- the endpoint ----------------------------------------------------------------------------


@dataclass
class OpenAIChatFake:
    """Handler for `FakeServer` (base URL ``server.url + "/v1"``), or an in-process transport.

    `key`, when set, is the only bearer token accepted; others get the documented 401. A request
    with no scripted reply left gets a 400 (never retried by the SDK) naming the problem."""

    replies: list[Script] = field(default_factory=list)
    key: str | None = None
    requests: list[Recorded] = field(default_factory=list)

    def queue(self, *replies: Script) -> OpenAIChatFake:
        self.replies.extend(replies)
        return self

    def __call__(self, rec: Recorded) -> Reply:
        self.requests.append(rec)
        if rec.method != "POST" or not rec.path.endswith("/chat/completions"):
            return error_reply(404, f"Invalid URL ({rec.method} {rec.path})")
        if self.key is not None and rec.headers.get("authorization") != f"Bearer {self.key}":
            return unauthorized(echo="sk-****")
        if not self.replies:
            return error_reply(400, "OpenAIChatFake: no scripted reply left for this request")
        script = self.replies.pop(0)
        return script(rec) if callable(script) else script

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The JSON body of every chat request, in order."""
        return [r.json() for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def last(self) -> dict[str, Any]:
        return self.bodies[-1]

    def transport(self) -> httpx.MockTransport:
        """The same fake as an httpx transport, for ``httpx.Client`` and ``httpx.AsyncClient``."""

        def handle(request: httpx.Request) -> httpx.Response:
            rec = Recorded(
                method=request.method,
                path=request.url.path,
                query={k: request.url.params.get_list(k) for k in request.url.params},
                headers={k.lower(): v for k, v in request.headers.items()},
                body=request.read(),
            )
            reply = self(rec)
            body = reply.body
            if isinstance(body, bytes):
                return httpx.Response(reply.status, content=body, headers=reply.headers)
            return httpx.Response(reply.status, json=body, headers=reply.headers)

        return httpx.MockTransport(handle)
