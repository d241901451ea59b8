"""The chat model behind the crew: one factory for every provider, structured answers that either fit
their pydantic form or fail with a reason a person can read, and one error tree at this boundary.

`SHOTLINE_LLM` is ``provider:model`` (``none`` runs the line offline). Every provider but Anthropic
speaks the OpenAI chat-completions protocol and goes through the real `ChatOpenAI`:

=========  ===============================================================  ===================
provider   default base URL (``SHOTLINE_LLM_BASE_URL`` overrides it)         key
=========  ===============================================================  ===================
openai     https://api.openai.com/v1 (or any OpenAI-compatible server)       OPENAI_API_KEY
deepseek   https://api.deepseek.com/v1                                       DEEPSEEK_API_KEY
doubao     https://ark.cn-beijing.volces.com/api/v3 (Volcengine Ark)         ARK_API_KEY
ark        the same as doubao                                                ARK_API_KEY
qwen       https://dashscope.aliyuncs.com/compatible-mode/v1 (DashScope)      DASHSCOPE_API_KEY
vllm       none: set SHOTLINE_LLM_BASE_URL (e.g. http://localhost:8000/v1)   VLLM_API_KEY, optional
ollama     http://localhost:11434/v1 (its OpenAI-compatible endpoint)        none
anthropic  https://api.anthropic.com (`ChatAnthropic`)                       ANTHROPIC_API_KEY
=========  ===============================================================  ===================

With ``openai`` and SHOTLINE_LLM_BASE_URL set (LM Studio, llama.cpp, a company gateway...) the key
is optional. Outside mainland China, point ``qwen`` at https://dashscope-intl.aliyuncs.com/compatible-mode/v1
and ``doubao`` at https://ark.ap-southeast.bytepluses.com/api/v3.

Structured output uses ``with_structured_output(schema, include_raw=True, method=...)``. The method
is json_schema for openai, function_calling (a forced tool call) for the other OpenAI-compatible
servers, which differ in what they accept, and Anthropic's tool calling; SHOTLINE_LLM_STRUCTURED
overrides it. An answer that does not fit is sent back once with the validation error; a second
miss raises `LLMError`.

Keys are read through `Settings` as `SecretStr` and handed to the client as such: no repr, log line
or error message built here carries one.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from langchain_core import exceptions as lc
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, SecretStr, ValidationError

from shotline.config import Settings
from shotline.errors import LLMConfigError, LLMError, LLMRefused, LLMTransient, LLMUnavailable

M = TypeVar("M", bound=BaseModel)

STRUCTURED_METHODS = ("json_schema", "function_calling", "json_mode")
NO_KEY = "EMPTY"  # servers that need no key still get a non-empty one: the OpenAI SDK insists on it
_META = "shotline"  # our key in the chat model's `metadata`: provider, model, URL, key variable, method


@dataclass(frozen=True)
class Provider:
    """How to reach one kind of chat model."""

    name: str
    base_url: str | None  # None: SHOTLINE_LLM_BASE_URL is required
    key_env: str | None  # the provider's conventional variable for its key
    key_field: str | None  # the Settings field that reads that variable
    key_required: bool
    structured: str  # default structured-output method
    client: str = "openai"  # "openai": ChatOpenAI on chat completions; "anthropic": ChatAnthropic


_ARK = "https://ark.cn-beijing.volces.com/api/v3"
PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in (
        Provider(
            "openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "openai_api_key", True, "json_schema"
        ),
        Provider(
            "deepseek",
            "https://api.deepseek.com/v1",
            "DEEPSEEK_API_KEY",
            "deepseek_api_key",
            True,
            "function_calling",
        ),
        Provider("doubao", _ARK, "ARK_API_KEY", "ark_api_key", True, "function_calling"),
        Provider("ark", _ARK, "ARK_API_KEY", "ark_api_key", True, "function_calling"),
        Provider(
            "qwen",
            "https://dashscope.aliyuncs.com/compatible-mode/v1",
            "DASHSCOPE_API_KEY",
            "dashscope_api_key",
            True,
            "function_calling",
        ),
        Provider("vllm", None, "VLLM_API_KEY", "vllm_api_key", False, "function_calling"),
        Provider("ollama", "http://localhost:11434/v1", None, None, False, "function_calling"),
        Provider(
            "anthropic",
            "https://api.anthropic.com",
            "ANTHROPIC_API_KEY",
            "anthropic_api_key",
            True,
            "function_calling",
            client="anthropic",
        ),
    )
}
_KNOWN = ", ".join([*PROVIDERS, "none"])


@dataclass(frozen=True)
class LLMSpec:
    """SHOTLINE_LLM resolved against the settings. Holds no secret: only whether a key is there."""

    provider: str
    model: str
    base_url: str
    key_env: str | None
    has_key: bool
    structured: str
    timeout_s: float
    max_retries: int

    def describe(self) -> dict[str, Any]:
        """What the chat model's `metadata` carries, for error messages (never the key)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "base_url": _without_userinfo(self.base_url),
            "key_env": self.key_env,
            "structured": self.structured,
            "timeout_s": self.timeout_s,
        }


def resolve(settings: Settings) -> LLMSpec | None:
    """Parse SHOTLINE_LLM; None for ``none``. Raises `LLMConfigError` (one line) on a value that
    names no provider, an unknown provider, a missing key or a missing/invalid base URL."""
    value = (settings.llm or "").strip()
    if value.lower() in ("", "none"):
        return None
    name, sep, model = value.partition(":")
    name, model = name.strip().lower(), model.strip()
    if not sep or not model:
        raise LLMConfigError(
            f"SHOTLINE_LLM={value!r} is not 'provider:model' (e.g. openai:gpt-4.1-mini, ollama:qwen3); "
            f"known providers: {_KNOWN}"
        )
    provider = PROVIDERS.get(name)
    if provider is None:
        raise LLMConfigError(
            f"SHOTLINE_LLM={value!r} names an unknown provider {name!r}; known providers: {_KNOWN}"
        )
    base_url = _base_url(provider, settings.llm_base_url)
    key = _key(settings, provider)
    required = provider.key_required and not (provider.name == "openai" and settings.llm_base_url)
    if required and key is None:
        raise LLMConfigError(
            f"SHOTLINE_LLM={value!r} needs {provider.key_env}: set it in the environment or .env "
            "(or SHOTLINE_LLM=none to work offline)"
        )
    return LLMSpec(
        provider=provider.name,
        model=model,
        base_url=base_url,
        key_env=provider.key_env,
        has_key=key is not None,
        structured=_method(provider, settings.llm_structured),
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
    )


def structured_method(settings: Settings) -> str:
    """The structured-output method for the configured provider (SHOTLINE_LLM_STRUCTURED wins)."""
    spec = resolve(settings)
    if spec is not None:
        return spec.structured
    return _method(PROVIDERS["openai"], settings.llm_structured)


def chat_model(
    settings: Settings, *, http_client: Any = None, http_async_client: Any = None
) -> BaseChatModel | None:
    """The configured chat model, or None when SHOTLINE_LLM is ``none``.

    `http_client` / `http_async_client` (an ``httpx.Client`` / ``httpx.AsyncClient``, or their
    httpx2 twins) replace the OpenAI SDK's transport; tests use them to fake the endpoint in process.
    """
    spec = resolve(settings)
    if spec is None:
        return None
    provider = PROVIDERS[spec.provider]
    key = _key(settings, provider)
    metadata = {_META: spec.describe()}
    if provider.client == "anthropic":
        if http_client is not None or http_async_client is not None:
            raise TypeError(
                "ChatAnthropic takes no http_client; point SHOTLINE_LLM_BASE_URL at a fake instead"
            )
        from langchain_anthropic import ChatAnthropic

        return ChatAnthropic(  # type: ignore[call-arg]
            model=spec.model,
            api_key=key or SecretStr(NO_KEY),
            base_url=spec.base_url,
            timeout=spec.timeout_s,
            max_retries=spec.max_retries,
            metadata=metadata,
        )
    from langchain_openai import ChatOpenAI

    # the Responses API is OpenAI's own; compatible servers (and gateways) speak chat completions
    own_openai = spec.provider == "openai" and not settings.llm_base_url
    return ChatOpenAI(  # type: ignore[call-arg]
        model=spec.model,
        api_key=key or SecretStr(NO_KEY),
        base_url=spec.base_url,
        timeout=spec.timeout_s,
        max_retries=spec.max_retries,
        http_client=http_client,
        http_async_client=http_async_client,
        use_responses_api=None if own_openai else False,
        metadata=metadata,
    )


# --- answers ---------------------------------------------------------------------------------


def text(llm: BaseChatModel, messages: Sequence[BaseMessage]) -> str:
    """A plain answer, as text. Model faults raise the `LLMError` family."""
    try:
        answer = llm.invoke(list(messages))
    except Exception as exc:
        _reraise(exc, llm)
    return _answer_text(answer)


async def atext(llm: BaseChatModel, messages: Sequence[BaseMessage]) -> str:
    """`text`, awaited."""
    try:
        answer = await llm.ainvoke(list(messages))
    except Exception as exc:
        _reraise(exc, llm)
    return _answer_text(answer)


def structured(
    llm: BaseChatModel, schema: type[M], messages: Sequence[BaseMessage], *, method: str | None = None
) -> M:
    """The answer as an instance of `schema`. An answer that does not parse or validate is sent
    back once, with the error, for a corrected one; a second miss raises `LLMError`. A refusal
    raises `LLMRefused`; model faults raise the rest of the `LLMError` family."""
    turn = _Structured(llm, schema, messages, method)
    for _ in range(2):
        try:
            outcome = turn.runnable.invoke(turn.messages)
        except Exception as exc:
            outcome = turn.failed_call(exc)
        parsed = turn.settle(outcome)
        if parsed is not None:
            return parsed
    raise AssertionError("unreachable: settle raises on the second miss")


async def astructured(
    llm: BaseChatModel, schema: type[M], messages: Sequence[BaseMessage], *, method: str | None = None
) -> M:
    """`structured`, awaited."""
    turn = _Structured(llm, schema, messages, method)
    for _ in range(2):
        try:
            outcome = await turn.runnable.ainvoke(turn.messages)
        except Exception as exc:
            outcome = turn.failed_call(exc)
        parsed = turn.settle(outcome)
        if parsed is not None:
            return parsed
    raise AssertionError("unreachable: settle raises on the second miss")


@dataclass
class _Miss:
    """An answer that came back but does not fit: what the model said, and why it does not fit."""

    raw: str
    reason: str


class _Structured:
    """One structured question and its single correction round, shared by the sync and async paths."""

    def __init__(
        self, llm: BaseChatModel, schema: type[BaseModel], messages: Sequence[BaseMessage], method: str | None
    ) -> None:
        self.llm = llm
        self.schema = schema
        self.name = schema.__name__
        method = method or _info(llm).get("structured")
        if method is not None and method not in STRUCTURED_METHODS:
            raise LLMConfigError(
                f"unknown structured-output method {method!r}; use one of {STRUCTURED_METHODS}"
            )
        kwargs: dict[str, Any] = {"include_raw": True}
        if method is not None:
            kwargs["method"] = method
        form: Any = schema
        if method == "json_schema" and type(llm).__module__.startswith("langchain_openai"):
            # sent as a ready response_format, in the subset OpenAI's strict mode accepts; the answer
            # comes back as a dict and is validated against `schema` here
            form = {"name": self.name, "strict": True, "schema": openai_strict_schema(schema)}
        self.runnable = llm.with_structured_output(form, **kwargs)
        self.messages = list(messages)
        if method == "json_mode":  # the server only promises JSON; the schema travels in the prompt
            self.messages.insert(_after_system(self.messages), SystemMessage(_json_mode_hint(schema)))
        self.misses = 0

    def failed_call(self, exc: Exception) -> _Miss:
        """The call raised. The OpenAI SDK validates json_schema answers itself, so a misfit can
        surface here; the answer is still on the response langchain attaches to the error."""
        if isinstance(exc, (ValidationError, lc.OutputParserException, json.JSONDecodeError)):
            return _Miss(_raw_from_error(exc), _reason(exc, self.name))
        return _reraise(exc, self.llm)

    def settle(self, outcome: Any) -> Any:
        """The parsed answer, or None after queueing the correction round; raises on a second miss."""
        miss = outcome if isinstance(outcome, _Miss) else self._check(outcome)
        if miss is None:
            return outcome["parsed"] if isinstance(outcome, dict) else outcome
        self.misses += 1
        if self.misses >= 2:
            raise LLMError(
                _scrub(f"the chat model's answer did not fit {self.name}: {miss.reason}", self.llm)
            )
        self.messages += [
            AIMessage(content=miss.raw or "(no answer)"),
            HumanMessage(
                content=f"That answer does not fit {self.name}: {miss.reason}. "
                f"Answer again with a corrected {self.name} only, keeping what was right."
            ),
        ]
        return None

    def _check(self, result: Any) -> _Miss | None:
        if isinstance(result, self.schema):
            return None
        if not isinstance(result, dict):
            return _Miss(str(result), f"no {self.name} in the answer")
        raw, parsed, error = result.get("raw"), result.get("parsed"), result.get("parsing_error")
        refusal = _refusal(raw, error)
        if refusal is not None:
            raise LLMRefused(_scrub(f"the chat model refused to answer: {refusal}", self.llm))
        if isinstance(parsed, self.schema):
            return None
        if isinstance(parsed, dict):  # a dict schema slipped through: validate it here
            try:
                result["parsed"] = self.schema.model_validate(parsed)
                return None
            except ValidationError as exc:
                error = exc
        if error is not None:
            reason = _reason(error, self.name)
        elif isinstance(raw, AIMessage) and raw.invalid_tool_calls:
            error_text = str(raw.invalid_tool_calls[0].get("error") or "")
            why = error_text.partition("Received JSONDecodeError")[2].strip().splitlines()
            detail = f" ({why[0]})" if why else ""
            reason = f"its {self.name} arguments are not valid JSON{detail}"
        else:
            reason = f"no {self.name} in the answer"
        return _Miss(_raw_text(raw), reason)


def openai_strict_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """`schema`'s JSON Schema in the subset OpenAI's strict Structured Outputs accept.

    Strict mode refuses what pydantic writes for ordinary models: `oneOf` and the OpenAPI
    `discriminator` of a discriminated union, and every `default`. So unions become `anyOf`, single
    values (`const`) one-item enums, defaults go, and every object is closed with all its properties
    required (the model fills each field; optional ones are nullable already). A `$ref` with
    siblings is inlined. Pydantic still validates the answer against the real model.
    """
    root = schema.model_json_schema()
    defs = root.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("default", "discriminator"):
                continue
            if key in ("properties", "$defs"):  # name -> schema maps: the names are not keywords
                out[key] = {name: walk(sub) for name, sub in value.items()}
            else:
                out["anyOf" if key == "oneOf" else key] = walk(value)
        if "const" in out:
            out["enum"] = [out.pop("const")]
        if "$ref" in out and len(out) > 1:
            ref = out.pop("$ref")
            out = {**walk(defs[ref.rsplit("/", 1)[-1]]), **out}
        if len(out.get("allOf", ())) == 1 and len(out) > 1:
            out = {**walk(out.pop("allOf")[0]), **out}
        if "properties" in out or (out.get("type") == "object" and "additionalProperties" not in out):
            out["additionalProperties"] = False
            out["required"] = list(out.get("properties", {}))
        return out

    return walk(root)


def _after_system(messages: list[BaseMessage]) -> int:
    i = 0
    while i < len(messages) and isinstance(messages[i], SystemMessage):
        i += 1
    return i


def _json_mode_hint(schema: type[BaseModel]) -> str:
    return (
        f"Answer with one JSON object and nothing else: a {schema.__name__} that fits this JSON schema.\n"
        + json.dumps(schema.model_json_schema(), ensure_ascii=False)
    )


def _refusal(raw: Any, error: Any) -> str | None:
    if error is not None and type(error).__name__ == "OpenAIRefusalError":
        return _first_line(error)
    if isinstance(raw, AIMessage):
        refusal = raw.additional_kwargs.get("refusal")
        if refusal:
            return _first_line(refusal)
    return None


def _raw_text(raw: Any) -> str:
    """What the model said, as text to show it again: its tool call's arguments, or its content."""
    if not isinstance(raw, AIMessage):
        return "" if raw is None else str(raw)
    if raw.tool_calls:
        return json.dumps(raw.tool_calls[0]["args"], ensure_ascii=False)
    if raw.invalid_tool_calls:
        return str(raw.invalid_tool_calls[0].get("args") or "")
    return _answer_text(raw)


def _raw_from_error(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    try:
        return str(response.json()["choices"][0]["message"]["content"] or "")  # type: ignore[union-attr]
    except Exception:
        pass
    if isinstance(exc, lc.OutputParserException) and exc.llm_output:
        return exc.llm_output
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if errors and errors[0]["type"] == "json_invalid":
            return str(errors[0]["input"])
    return ""


def _reason(error: BaseException, name: str) -> str:
    """One line on why an answer does not fit: pydantic's paths and messages, or the parser's."""
    if isinstance(error, ValidationError):
        parts = []
        for e in error.errors()[:3]:
            loc = ".".join(str(p) for p in e["loc"])
            parts.append(f"{loc}: {e['msg']}" if loc else e["msg"])
        if error.error_count() > 3:
            parts.append(f"and {error.error_count() - 3} more")
        return "; ".join(parts)
    if isinstance(error, json.JSONDecodeError):
        return f"it is not valid JSON ({error.msg})"
    if isinstance(error, lc.OutputParserException):
        if isinstance(error.__cause__, ValidationError):  # PydanticOutputParser wraps pydantic's error
            return _reason(error.__cause__, name)
        if str(error).startswith("Invalid json output"):  # JsonOutputParser repeats the whole answer
            return "it is not valid JSON"
    return _first_line(error) or f"no {name} in the answer"


def _answer_text(answer: Any) -> str:
    if isinstance(answer, BaseMessage):
        return str(answer.text)
    return str(answer)


# --- errors ----------------------------------------------------------------------------------


def llm_error(exc: BaseException, llm: BaseChatModel | None = None) -> LLMError | None:
    """The `LLMError` a chat-model fault means to a user, or None when `exc` is no model fault (a
    bug stays a bug). Messages say what to do, and never carry a key: any secret of `llm` that the
    provider echoed is blanked."""
    if isinstance(exc, LLMError):
        return exc
    info = _info(llm)
    who = (
        f"the {info.get('provider', 'chat')} model {info['model']!r}" if "model" in info else "the chat model"
    )
    key_env = info.get("key_env") or "the provider's key"
    where = info.get("base_url") or "its endpoint"
    detail = _detail(exc)
    status = getattr(exc, "status_code", None)
    mapped: LLMError
    if type(exc).__name__ == "OpenAIRefusalError":
        mapped = LLMRefused(f"the chat model refused to answer: {detail}")
    elif isinstance(exc, lc.ModelAuthenticationError):
        mapped = LLMUnavailable(
            f"{who} rejected its key (401): check {key_env}, or set SHOTLINE_LLM=none to work offline"
        )
    elif isinstance(exc, lc.ModelPermissionDeniedError):
        mapped = LLMUnavailable(f"{who} is not open to the key in {key_env} (403): {detail}")
    elif isinstance(exc, lc.ModelNotFoundError):
        mapped = LLMUnavailable(f"{who} was not found at {where} (404): check the model name in SHOTLINE_LLM")
    elif isinstance(exc, lc.ModelConnectionError) and not isinstance(exc, lc.ModelTimeoutError):
        mapped = LLMUnavailable(
            f"cannot reach the chat model at {where} ({detail}): is it running, and is SHOTLINE_LLM_BASE_URL right?"
        )
    elif isinstance(exc, lc.ModelTimeoutError):
        timeout = info.get("timeout_s")
        within = f" within {timeout:g} s" if timeout else ""
        mapped = LLMTransient(f"{who} did not answer{within}; try again, or raise SHOTLINE_LLM_TIMEOUT_S")
    elif isinstance(exc, lc.ModelRateLimitError):
        retry_after = _retry_after(exc)
        wait = f", retry after {retry_after:g} s" if retry_after is not None else ""
        mapped = LLMTransient(f"{who} is rate-limited (429{wait}): {detail}", retry_after=retry_after)
    elif isinstance(exc, lc.ModelAPIError):
        mapped = LLMTransient(f"{who} had a server error ({status or '5xx'}): {detail}; try again later")
    elif isinstance(exc, lc.ContextOverflowError):
        mapped = LLMError(f"the conversation is too long for {who}: {detail}")
    elif isinstance(exc, lc.ModelInvalidRequestError):
        hint = ""
        if any(word in detail for word in ("response_format", "json_schema", "tool_choice", "tools")):
            hint = "; try SHOTLINE_LLM_STRUCTURED=function_calling or json_mode"
        mapped = LLMError(f"{who} rejected the request ({status or 400}): {detail}{hint}")
    elif isinstance(exc, lc.ModelError) or _from_sdk(exc):
        mapped = LLMError(f"{who} failed ({status or type(exc).__name__}): {detail}")
    else:
        return None
    mapped.message = _scrub(mapped.message, llm)
    mapped.args = (mapped.message,)
    return mapped


def _reraise(exc: BaseException, llm: BaseChatModel | None) -> NoReturn:
    mapped = llm_error(exc, llm)
    if mapped is None:
        raise exc
    if mapped is exc:
        raise mapped
    # keep the provider's error as the cause for debugging, unless it would carry a key into a log
    leaks = any(secret in str(exc) or secret in repr(getattr(exc, "body", "")) for secret in _secrets(llm))
    raise mapped from None if leaks else exc


def _from_sdk(exc: BaseException) -> bool:
    module = type(exc).__module__.split(".")[0]
    return module in ("openai", "anthropic", "langchain_openai", "langchain_anthropic")


def _detail(exc: BaseException) -> str:
    """The provider's own words: the `message` of its JSON error body, else the first line."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        message = inner.get("message") if isinstance(inner, dict) else None
        if message:
            return _first_line(message)
    return _first_line(exc)


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    try:
        if ms := headers.get("retry-after-ms"):
            return float(ms) / 1000
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _info(llm: BaseChatModel | None) -> dict[str, Any]:
    metadata = getattr(llm, "metadata", None) or {}
    info = metadata.get(_META) if isinstance(metadata, dict) else None
    return dict(info) if isinstance(info, dict) else {}


def _secrets(llm: BaseChatModel | None) -> list[str]:
    """The secret values a chat model holds (its key), to keep them out of messages."""
    if llm is None:
        return []
    found = []
    for name in type(llm).model_fields:
        value = getattr(llm, name, None)
        if isinstance(value, SecretStr):
            secret = value.get_secret_value()
            if len(secret) >= 8 and secret != NO_KEY:  # shorter is no real key, and blanking it garbles text
                found.append(secret)
    return found


def _scrub(message: str, llm: BaseChatModel | None) -> str:
    for secret in _secrets(llm):
        message = message.replace(secret, "***")
    return message


def _first_line(value: object) -> str:
    text_ = str(value).strip()
    return text_.splitlines()[0][:300] if text_ else ""


# --- settings --------------------------------------------------------------------------------


def _base_url(provider: Provider, override: str | None) -> str:
    url = (override or "").strip() or provider.base_url
    if not url:
        raise LLMConfigError(
            f"SHOTLINE_LLM={provider.name}:... needs SHOTLINE_LLM_BASE_URL, the server's OpenAI-compatible "
            "address (e.g. http://localhost:8000/v1)"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LLMConfigError(f"SHOTLINE_LLM_BASE_URL={url!r} is not an http(s) URL")
    if provider.name == "ollama" and parts.path in ("", "/"):
        url = url.rstrip("/") + "/v1"  # the Ollama host as people write it; its OpenAI API lives at /v1
    return url.rstrip("/")


def _without_userinfo(url: str) -> str:
    """The URL to show in messages: a proxy's ``user:password@`` is a secret too."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]).geturl()


def _key(settings: Settings, provider: Provider) -> SecretStr | None:
    if provider.key_field is None:
        return None
    value = getattr(settings, provider.key_field, None)
    if isinstance(value, SecretStr) and value.get_secret_value().strip():
        return value
    return None


def _method(provider: Provider, override: str | None) -> str:
    method = (override or "").strip().lower() or provider.structured
    allowed = ("function_calling", "json_schema") if provider.client == "anthropic" else STRUCTURED_METHODS
    if method not in allowed:
        raise LLMConfigError(
            f"SHOTLINE_LLM_STRUCTURED={override!r} is not one of {', '.join(allowed)} for {provider.name}"
        )
    return method


__all__ = [
    "PROVIDERS",
    "STRUCTURED_METHODS",
    "LLMSpec",
    "Provider",
    "astructured",
    "atext",
    "chat_model",
    "llm_error",
    "openai_strict_schema",
    "resolve",
    "structured",
    "structured_method",
    "text",
]
