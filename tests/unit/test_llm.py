"""The chat-model factory and structured answers, against the real ChatOpenAI / ChatAnthropic.

Unit tests, not end-to-end: no provider is reachable from CI, so each test drives the real client
classes against a loopback fake replaying the providers' documented payloads (tests/fakes/
openai_chat.py, anthropic_chat.py). What is real: the SDKs' request building, retries and error
classes, langchain's structured-output parsing, and our mapping of all of it.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Annotated, Literal

import httpx
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from shotline.config import Settings
from shotline.errors import (
    LLMConfigError,
    LLMError,
    LLMRefused,
    LLMTransient,
    LLMUnavailable,
    ShotlineError,
)
from shotline.memory.models import Shot
from shotline.tools import llm
from shotline.tools.judge import Judge, JudgeVerdict, judge_from_settings
from tests.fakes import anthropic_chat as anth
from tests.fakes import openai_chat as oai
from tests.fakes.server import FakeServer, Reply

# one distinct key per variable: a client holding the wrong one shows up at once
KEYS = {
    "OPENAI_API_KEY": "sk-openai-4e1f0c9b7a2d",
    "DEEPSEEK_API_KEY": "sk-deepseek-93b2c7d01e",
    "ARK_API_KEY": "ark-1f7d3c2b-9e8a-4b6c",
    "DASHSCOPE_API_KEY": "sk-dashscope-5c8e2a1f0",
    "VLLM_API_KEY": "token-vllm-abc123def",
    "ANTHROPIC_API_KEY": "sk-ant-api03-7d6c5b4a",
}
LLM_VARS = ("SHOTLINE_LLM", "SHOTLINE_LLM_BASE_URL", "SHOTLINE_LLM_STRUCTURED", "SHOTLINE_LLM_TIMEOUT_S")
ARK = "https://ark.cn-beijing.volces.com/api/v3"
DASHSCOPE = "https://dashscope.aliyuncs.com/compatible-mode/v1"


class Cut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["cut"] = "cut"
    shot: str


class Trim(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["trim"] = "trim"
    shot: str
    seconds: float = Field(gt=0)


class Decision(BaseModel):
    """What the director decides."""

    model_config = ConfigDict(extra="forbid")
    actions: list[Annotated[Cut | Trim, Field(discriminator="kind")]]
    reply: str


GOOD = Decision(actions=[Trim(shot="004", seconds=1.5)], reply="Shot 4 is shorter now.")
BAD = {"actions": [{"kind": "shorten", "shot": "004"}], "reply": "ok"}  # no such action kind
ASK = [SystemMessage("You are the director."), HumanMessage("make shot 4 shorter")]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*KEYS, *LLM_VARS, "SHOTLINE_LLM_MAX_RETRIES", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def settings(monkeypatch: pytest.MonkeyPatch, value: str, *, keys: bool = True, **env: str) -> Settings:
    """Settings read from the environment, as a user sets them."""
    monkeypatch.setenv("SHOTLINE_LLM", value)
    for name, secret in KEYS.items():
        if keys:
            monkeypatch.setenv(name, secret)
    for name, val in env.items():
        monkeypatch.setenv(name, val)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def served(
    monkeypatch: pytest.MonkeyPatch, server: FakeServer, value: str = "openai:gpt-4.1-mini", **env: str
):
    """A chat model from the settings, its base URL pointed at the fake, fast to fail."""
    env = {"SHOTLINE_LLM_BASE_URL": server.url + "/v1", "SHOTLINE_LLM_MAX_RETRIES": "0", **env}
    model = llm.chat_model(settings(monkeypatch, value, **env))
    assert model is not None
    return model


def messages_of(body: dict) -> list[tuple[str, str]]:
    return [
        (m["role"], m["content"] if isinstance(m["content"], str) else str(m["content"]))
        for m in body["messages"]
    ]


def assert_no_key(*texts: str) -> None:
    for text in texts:
        for secret in KEYS.values():
            assert secret not in text


# --- SHOTLINE_LLM ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["none", "NONE", " none ", ""])
def test_none_runs_offline(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    s = settings(monkeypatch, value)
    assert llm.resolve(s) is None
    assert llm.chat_model(s) is None
    assert judge_from_settings(s) is None


def test_the_default_is_offline() -> None:
    assert llm.chat_model(Settings(_env_file=None)) is None  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("value", "base_url", "key_env", "method"),
    [
        ("openai:gpt-4.1-mini", "https://api.openai.com/v1", "OPENAI_API_KEY", "json_schema"),
        ("deepseek:deepseek-chat", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", "function_calling"),
        ("doubao:doubao-seed-1-6-250615", ARK, "ARK_API_KEY", "function_calling"),
        ("ark:ep-20250101123456-abcde", ARK, "ARK_API_KEY", "function_calling"),
        ("qwen:qwen-plus", DASHSCOPE, "DASHSCOPE_API_KEY", "function_calling"),
        ("ollama:qwen3:8b", "http://localhost:11434/v1", None, "function_calling"),
        ("Ollama:llama3.2", "http://localhost:11434/v1", None, "function_calling"),
    ],
)
def test_openai_compatible_providers(
    monkeypatch: pytest.MonkeyPatch, value: str, base_url: str, key_env: str | None, method: str
) -> None:
    """Why not e2e: the base URL, key and method each provider gets is configuration, visible on the client."""
    s = settings(monkeypatch, value)
    model = llm.chat_model(s)
    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == base_url
    assert model.model_name == value.split(":", 1)[1]
    expected = KEYS[key_env] if key_env else llm.NO_KEY
    assert model.openai_api_key is not None and model.openai_api_key.get_secret_value() == expected
    assert (model.max_retries, model.request_timeout) == (2, 60.0)
    assert llm.structured_method(s) == method
    spec = llm.resolve(s)
    assert spec is not None and (spec.key_env, spec.structured) == (key_env, method)


def test_vllm_needs_a_base_url_and_takes_an_optional_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LLMConfigError, match="SHOTLINE_LLM_BASE_URL"):
        llm.chat_model(settings(monkeypatch, "vllm:Qwen/Qwen3-8B"))
    s = settings(monkeypatch, "vllm:Qwen/Qwen3-8B", SHOTLINE_LLM_BASE_URL="http://gpu-box:8000/v1/")
    model = llm.chat_model(s)
    assert isinstance(model, ChatOpenAI)
    assert model.openai_api_base == "http://gpu-box:8000/v1"
    assert model.openai_api_key.get_secret_value() == KEYS["VLLM_API_KEY"]  # type: ignore[union-attr]
    monkeypatch.delenv("VLLM_API_KEY")
    keyless = llm.chat_model(Settings(_env_file=None))  # type: ignore[call-arg]
    assert keyless.openai_api_key.get_secret_value() == llm.NO_KEY  # type: ignore[union-attr]


def test_anthropic(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, "anthropic:claude-sonnet-4-6")
    model = llm.chat_model(s)
    assert isinstance(model, ChatAnthropic)
    assert model.anthropic_api_url == "https://api.anthropic.com"
    assert model.anthropic_api_key.get_secret_value() == KEYS["ANTHROPIC_API_KEY"]
    assert (model.model, model.max_retries, model.default_request_timeout) == ("claude-sonnet-4-6", 2, 60.0)
    assert llm.structured_method(s) == "function_calling"
    with pytest.raises(TypeError):
        llm.chat_model(s, http_client=httpx.Client())


@pytest.mark.parametrize(
    ("value", "override", "expected"),
    [
        ("openai:gpt-4.1-mini", "http://gateway.corp:4000/v1", "http://gateway.corp:4000/v1"),
        ("deepseek:deepseek-chat", "https://api.deepseek.com", "https://api.deepseek.com"),
        (
            "doubao:doubao-seed-1-6",
            "https://ark.ap-southeast.bytepluses.com/api/v3/",
            "https://ark.ap-southeast.bytepluses.com/api/v3",
        ),
        (
            "qwen:qwen-plus",
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
        ),
        ("ollama:qwen3", "http://gpu-box:11434", "http://gpu-box:11434/v1"),  # the host as people write it
        ("ollama:qwen3", "http://gpu-box:11434/v1", "http://gpu-box:11434/v1"),
        (
            "anthropic:claude-sonnet-4-6",
            "https://llm-proxy.corp/anthropic",
            "https://llm-proxy.corp/anthropic",
        ),
    ],
)
def test_base_url_overrides_every_default(
    monkeypatch: pytest.MonkeyPatch, value: str, override: str, expected: str
) -> None:
    spec = llm.resolve(settings(monkeypatch, value, SHOTLINE_LLM_BASE_URL=override))
    assert spec is not None and spec.base_url == expected


def test_openai_with_a_base_url_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any OpenAI-compatible server (LM Studio, llama.cpp...) is `openai` plus its URL; many want no key."""
    with FakeServer(oai.OpenAIChatFake([oai.text_reply("hi")])) as server:
        monkeypatch.setenv("SHOTLINE_LLM_BASE_URL", server.url + "/v1")
        model = llm.chat_model(settings(monkeypatch, "openai:local-model", keys=False))
        assert model is not None
        assert llm.text(model, [HumanMessage("hello")]) == "hi"
        assert server.requests[0].headers["authorization"] == f"Bearer {llm.NO_KEY}"


@pytest.mark.parametrize(
    ("value", "env", "names"),
    [
        (
            "gpt-4",
            {},
            ["'provider:model'", "openai, deepseek, doubao, ark, qwen, vllm, ollama, anthropic, none"],
        ),
        ("openai:", {}, ["'provider:model'"]),
        ("gemini:gemini-2.5-pro", {}, ["unknown provider 'gemini'", "known providers: openai"]),
        ("deepseek:deepseek-chat", {"keys": False}, ["DEEPSEEK_API_KEY", "SHOTLINE_LLM=none"]),
        ("doubao:doubao-seed-1-6", {"keys": False}, ["ARK_API_KEY"]),
        ("qwen:qwen-plus", {"keys": False}, ["DASHSCOPE_API_KEY"]),
        ("anthropic:claude-sonnet-4-6", {"keys": False}, ["ANTHROPIC_API_KEY"]),
        ("openai:gpt-4.1-mini", {"keys": False}, ["OPENAI_API_KEY"]),
        ("openai:gpt-4.1-mini", {"SHOTLINE_LLM_BASE_URL": "localhost:8000/v1"}, ["not an http(s) URL"]),
        (
            "openai:gpt-4.1-mini",
            {"SHOTLINE_LLM_STRUCTURED": "xml"},
            ["SHOTLINE_LLM_STRUCTURED='xml'", "json_mode"],
        ),
        (
            "anthropic:claude-sonnet-4-6",
            {"SHOTLINE_LLM_STRUCTURED": "json_mode"},
            ["SHOTLINE_LLM_STRUCTURED"],
        ),
    ],
)
def test_bad_settings_say_what_to_set(
    monkeypatch: pytest.MonkeyPatch, value: str, env: dict, names: list[str]
) -> None:
    keys = env.pop("keys", True)
    s = settings(monkeypatch, value, keys=keys, **env)
    with pytest.raises(LLMConfigError) as caught:
        llm.chat_model(s)
    message = str(caught.value)
    assert isinstance(caught.value, LLMError) and isinstance(caught.value, ShotlineError)
    assert "\n" not in message
    for name in names:
        assert name in message
    assert_no_key(message)


def test_structured_override(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(monkeypatch, "deepseek:deepseek-chat", SHOTLINE_LLM_STRUCTURED="json_mode")
    assert llm.structured_method(s) == "json_mode"
    s = settings(monkeypatch, "ollama:qwen3", SHOTLINE_LLM_STRUCTURED="json_schema")
    assert llm.structured_method(s) == "json_schema"


# --- structured answers over a real socket -------------------------------------------------


def test_json_schema_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake([oai.answer(GOOD)])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server)
        assert llm.structured(model, Decision, ASK) == GOOD
    body = fake.last
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "Decision"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert "tools" not in body and "tool_choice" not in body
    assert body["model"] == "gpt-4.1-mini"
    assert messages_of(body) == [("system", "You are the director."), ("user", "make shot 4 shorter")]


def test_json_schema_is_sent_in_openais_strict_subset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Strict Structured Outputs refuse `oneOf`, `discriminator` and `default`, all of which pydantic
    writes for a discriminated union with defaults, and want every object closed and fully required."""
    fake = oai.OpenAIChatFake([oai.answer(GOOD)])
    with FakeServer(fake) as server:
        assert llm.structured(served(monkeypatch, server), Decision, ASK) == GOOD
    sent = fake.last["response_format"]["json_schema"]["schema"]
    assert sent == llm.openai_strict_schema(Decision)
    objects = []

    def visit(node: object) -> None:
        if isinstance(node, dict):
            assert not {"oneOf", "discriminator", "default", "const"} & set(node)
            if "properties" in node:
                objects.append(node)
            for key, value in node.items():
                if key in ("properties", "$defs"):
                    for sub in value.values():
                        visit(sub)
                else:
                    visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(sent)
    assert len(objects) == 3  # Decision, Cut, Trim
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    assert sent["properties"]["actions"]["items"]["anyOf"] == [
        {"$ref": "#/$defs/Cut"},
        {"$ref": "#/$defs/Trim"},
    ]
    assert sent["$defs"]["Cut"]["properties"]["kind"] == {"enum": ["cut"], "title": "Kind", "type": "string"}


def test_json_mode_misfit_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake([oai.json_reply(BAD), oai.json_reply(BAD)])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server, "deepseek:deepseek-chat", SHOTLINE_LLM_STRUCTURED="json_mode")
        with pytest.raises(LLMError, match=r"did not fit Decision: actions\.0: Input tag 'shorten'"):
            llm.structured(model, Decision, ASK)
    assert "actions.0: Input tag 'shorten'" in fake.bodies[1]["messages"][-1]["content"]


def test_function_calling_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake([oai.answer(GOOD)])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server, "deepseek:deepseek-chat")
        assert llm.structured(model, Decision, ASK) == GOOD
    body = fake.last
    assert "response_format" not in body
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Decision"}}
    assert [t["function"]["name"] for t in body["tools"]] == ["Decision"]
    assert server.requests[0].headers["authorization"] == f"Bearer {KEYS['DEEPSEEK_API_KEY']}"


def test_json_mode_answer_carries_the_schema_in_the_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake([oai.json_reply(GOOD)])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server, "deepseek:deepseek-chat", SHOTLINE_LLM_STRUCTURED="json_mode")
        assert llm.structured(model, Decision, ASK) == GOOD
    body = fake.last
    assert body["response_format"] == {"type": "json_object"}
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "system", "user"]
    assert "JSON" in body["messages"][1]["content"] and '"Decision"' in body["messages"][1]["content"]


def test_explicit_method_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake([oai.answer(GOOD)])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server)
        assert llm.structured(model, Decision, ASK, method="function_calling") == GOOD
    assert "tools" in fake.last and "response_format" not in fake.last


@pytest.mark.parametrize(
    ("value", "bad", "good", "why"),
    [
        ("openai:gpt-4.1-mini", oai.json_reply(BAD), oai.json_reply(GOOD), "actions.0: Input tag 'shorten'"),
        (
            "deepseek:deepseek-chat",
            oai.tool_reply(Decision, BAD),
            oai.tool_reply(Decision, GOOD),
            "actions.0",
        ),
        (
            "deepseek:deepseek-chat",
            oai.tool_reply(Decision, '{"actions": [{"kind": "tr'),
            oai.answer(GOOD),
            "its Decision arguments are not valid JSON (Unterminated string",
        ),
        (
            "openai:gpt-4.1-mini",
            oai.json_reply("Sure! I shortened shot 4."),
            oai.answer(GOOD),
            "it is not valid JSON",
        ),
    ],
    ids=["json_schema", "function_calling", "broken-json-args", "prose"],
)
def test_a_misfit_is_sent_back_once_with_its_error(
    monkeypatch: pytest.MonkeyPatch, value: str, bad: Reply, good: Reply, why: str
) -> None:
    fake = oai.OpenAIChatFake([bad, good])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server, value)
        assert llm.structured(model, Decision, ASK) == GOOD
    assert len(fake.requests) == 2
    first, second = fake.bodies
    assert second["messages"][: len(first["messages"])] == first["messages"]
    (role_a, said), (role_u, correction) = messages_of(second)[-2:]
    assert (role_a, role_u) == ("assistant", "user")
    assert said  # the model's own answer, shown back to it
    assert f"does not fit Decision: {why}" in correction  # pydantic's path to what is wrong, or the parser's


def test_two_misfits_raise_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake([oai.json_reply(BAD), oai.json_reply(BAD)])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server)
        with pytest.raises(LLMError) as caught:
            llm.structured(model, Decision, ASK)
    message = str(caught.value)
    assert message.startswith("the chat model's answer did not fit Decision: actions.0")
    assert "\n" not in message
    assert len(fake.requests) == 2


def test_two_misfits_by_tool_call(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake([oai.tool_reply(Decision, BAD), oai.text_reply("I cannot decide.")])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server, "qwen:qwen-plus")
        with pytest.raises(LLMError, match="did not fit Decision: no Decision in the answer"):
            llm.structured(model, Decision, ASK)


@pytest.mark.parametrize("value", ["openai:gpt-4.1-mini", "deepseek:deepseek-chat"])
def test_a_refusal_is_not_retried(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    fake = oai.OpenAIChatFake([oai.refusal_reply(), oai.answer(GOOD)])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server, value)
        with pytest.raises(LLMRefused, match="refused to answer: I'm sorry"):
            llm.structured(model, Decision, ASK)
    assert len(fake.requests) == 1


def test_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake([oai.text_reply("INT. KITCHEN - NIGHT")])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server, "doubao:doubao-seed-1-6")
        assert llm.text(model, ASK) == "INT. KITCHEN - NIGHT"
    assert "response_format" not in fake.last and "tools" not in fake.last


def test_async_twins(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake([oai.json_reply(BAD), oai.answer(GOOD), oai.text_reply("ok")])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server)

        async def both() -> tuple[Decision, str]:
            return await llm.astructured(model, Decision, ASK), await llm.atext(model, ASK)

        assert asyncio.run(both()) == (GOOD, "ok")
    assert len(fake.requests) == 3


# --- faults ----------------------------------------------------------------------------------


def test_429_then_200_is_retried_by_the_client(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake([oai.rate_limited(0.05), oai.answer(GOOD)])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server, SHOTLINE_LLM_MAX_RETRIES="2")
        assert llm.structured(model, Decision, ASK) == GOOD
    assert len(fake.requests) == 2
    assert fake.requests[1].headers["x-stainless-retry-count"] == "1"


def test_429_maps_to_transient_with_its_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake([oai.rate_limited(0.05)])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server)
        with pytest.raises(LLMTransient) as caught:
            llm.structured(model, Decision, ASK)
    assert caught.value.retry_after == pytest.approx(0.05)
    assert "rate-limited (429" in str(caught.value) and "Rate limit reached" in str(caught.value)
    assert caught.value.code == "llm_transient"


def test_500_maps_to_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake([oai.server_error(500)])
    with FakeServer(fake) as server:
        model = served(monkeypatch, server)
        with pytest.raises(LLMTransient, match=r"server error \(500\)"):
            llm.text(model, ASK)


def test_401_names_the_variable_and_never_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = KEYS["OPENAI_API_KEY"]
    fake = oai.OpenAIChatFake([oai.unauthorized(echo=key)])  # a provider that echoes the key in full
    with FakeServer(fake) as server:
        model = served(monkeypatch, server)
        with pytest.raises(LLMUnavailable) as caught:
            llm.structured(model, Decision, ASK)
    err = caught.value
    assert "OPENAI_API_KEY" in str(err) and "401" in str(err)
    trace = "".join(traceback.format_exception(err))
    assert_no_key(str(err), repr(err), trace)
    # the key travels in the Authorization header only, never in a body
    assert fake.requests[0].headers["authorization"] == f"Bearer {key}"
    assert_no_key(*(r.body.decode() for r in fake.requests))


def test_unreachable_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer(oai.OpenAIChatFake()) as server:
        url = server.url
    monkeypatch.setenv("SHOTLINE_LLM_MAX_RETRIES", "0")
    s = settings(monkeypatch, "ollama:qwen3", SHOTLINE_LLM_BASE_URL=url)
    model = llm.chat_model(s)
    assert model is not None
    with pytest.raises(LLMUnavailable, match=r"cannot reach the chat model at http://127\.0\.0\.1:\d+/v1"):
        llm.text(model, ASK)


def test_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    slow = oai.text_reply("late")
    slow.delay_s = 1.0
    with FakeServer(oai.OpenAIChatFake([slow])) as server:
        model = served(monkeypatch, server, SHOTLINE_LLM_TIMEOUT_S="0.2")
        with pytest.raises(LLMTransient, match=r"did not answer within 0\.2 s"):
            llm.text(model, ASK)


@pytest.mark.filterwarnings("ignore:This model does not support:UserWarning")  # langchain-openai's own hint
def test_400_on_response_format_suggests_another_method(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake(
        [
            oai.error_reply(
                400,
                "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
                param="response_format",
            )
        ]
    )
    with FakeServer(fake) as server:
        model = served(monkeypatch, server, "vllm:Qwen/Qwen3-8B", SHOTLINE_LLM_STRUCTURED="json_schema")
        with pytest.raises(
            LLMError, match=r"rejected the request \(400\).*SHOTLINE_LLM_STRUCTURED=function_calling"
        ):
            llm.structured(model, Decision, ASK)


def test_unknown_model(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = oai.OpenAIChatFake(
        [
            oai.error_reply(
                404,
                "The model `gpt-9` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        ]
    )
    with FakeServer(fake) as server:
        model = served(monkeypatch, server)
        with pytest.raises(LLMUnavailable, match=r"not found .* check the model name in SHOTLINE_LLM"):
            llm.text(model, ASK)


def test_a_bug_stays_a_bug() -> None:
    assert llm.llm_error(ValueError("boom")) is None
    assert llm.llm_error(KeyError("x")) is None


def test_secrets_stay_out_of_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("openai:gpt-4.1-mini", "deepseek:deepseek-chat", "anthropic:claude-sonnet-4-6"):
        s = settings(monkeypatch, value)
        model = llm.chat_model(s)
        spec = llm.resolve(s)
        assert_no_key(repr(s), str(s), repr(model), str(model), repr(spec), str(model.metadata))  # type: ignore[union-attr]
        assert_no_key(str(s.model_dump()), model.model_dump_json())  # type: ignore[union-attr]


def test_a_proxy_password_in_the_base_url_stays_out_of_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeServer(oai.OpenAIChatFake()) as server:
        port = server.url.rsplit(":", 1)[1]
    url = f"http://shotline:hunter2-proxy-pass@127.0.0.1:{port}/v1"
    s = settings(monkeypatch, "vllm:Qwen/Qwen3-8B", SHOTLINE_LLM_BASE_URL=url, SHOTLINE_LLM_MAX_RETRIES="0")
    model = llm.chat_model(s)
    assert model is not None
    assert "hunter2" not in str(model.metadata)
    with pytest.raises(LLMUnavailable) as caught:
        llm.text(model, ASK)
    assert "hunter2" not in str(caught.value) and "***@127.0.0.1" in str(caught.value)


# --- an injected transport ---------------------------------------------------------------------


def test_injected_httpx_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """openai 3.x talks httpx2, but still takes a plain httpx.Client/AsyncClient as `http_client`."""
    fake = oai.OpenAIChatFake([oai.answer(GOOD), oai.json_reply(BAD), oai.answer(GOOD)])
    transport = fake.transport()
    # a host that resolves nowhere: only the injected transport can answer it
    s = settings(monkeypatch, "openai:gpt-4.1-mini", SHOTLINE_LLM_BASE_URL="http://llm.test/v1")
    model = llm.chat_model(
        s,
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
    )
    assert model is not None
    assert llm.structured(model, Decision, ASK) == GOOD
    assert asyncio.run(llm.astructured(model, Decision, ASK)) == GOOD
    assert [r.path for r in fake.requests] == ["/v1/chat/completions"] * 3
    assert fake.bodies[0]["response_format"]["type"] == "json_schema"


# --- Anthropic -------------------------------------------------------------------------------


def anthropic_model(monkeypatch: pytest.MonkeyPatch, server: FakeServer):
    s = settings(
        monkeypatch,
        "anthropic:claude-sonnet-4-6",
        SHOTLINE_LLM_BASE_URL=server.url,
        SHOTLINE_LLM_MAX_RETRIES="0",
    )
    return llm.chat_model(s)


def test_anthropic_tool_use_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = anth.AnthropicChatFake(
        [anth.tool_use_reply(Decision, BAD), anth.answer(GOOD)], key=KEYS["ANTHROPIC_API_KEY"]
    )
    with FakeServer(fake) as server:
        model = anthropic_model(monkeypatch, server)
        assert llm.structured(model, Decision, ASK) == GOOD  # type: ignore[arg-type]
    first, second = fake.bodies
    assert first["tool_choice"] == {"type": "tool", "name": "Decision"}
    assert [t["name"] for t in first["tools"]] == ["Decision"]
    assert first["system"] == "You are the director."
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "user"]
    assert "actions.0" in second["messages"][-1]["content"]
    assert_no_key(*(r.body.decode() for r in fake.requests))


def test_anthropic_text_and_faults(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = anth.AnthropicChatFake(
        [anth.text_reply("FADE IN:"), anth.rate_limited(3), anth.overloaded()], key=KEYS["ANTHROPIC_API_KEY"]
    )
    with FakeServer(fake) as server:
        model = anthropic_model(monkeypatch, server)
        assert llm.text(model, ASK) == "FADE IN:"  # type: ignore[arg-type]
        with pytest.raises(LLMTransient) as caught:
            llm.text(model, ASK)  # type: ignore[arg-type]
        assert caught.value.retry_after == 3
        with pytest.raises(LLMTransient, match="server error"):
            llm.text(model, ASK)  # type: ignore[arg-type]


def test_anthropic_wrong_key(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = anth.AnthropicChatFake([anth.text_reply("never")], key="sk-ant-api03-someone-else")
    with FakeServer(fake) as server:
        model = anthropic_model(monkeypatch, server)
        with pytest.raises(LLMUnavailable, match="check ANTHROPIC_API_KEY") as caught:
            llm.text(model, ASK)  # type: ignore[arg-type]
    assert_no_key(str(caught.value), "".join(traceback.format_exception(caught.value)))


# --- the judge -------------------------------------------------------------------------------


def test_judge_from_settings_uses_the_providers_method(monkeypatch: pytest.MonkeyPatch) -> None:
    verdict = JudgeVerdict(identity_ok=True, set_ok=False, score=0.6, reasons=["the window moved"])
    fake = oai.OpenAIChatFake([oai.answer(verdict)])
    with FakeServer(fake) as server:
        monkeypatch.setenv("SHOTLINE_LLM_BASE_URL", server.url + "/v1")
        judge = judge_from_settings(settings(monkeypatch, "qwen:qwen-vl-max"))
        assert isinstance(judge, Judge)
        shot = Shot(
            id="001", number=1, scene="sc1", framing="medium", camera="static", duration_s=2.0, location="k"
        )
        frame = Image.new("RGB", (64, 36), (200, 40, 40))
        got = asyncio.run(judge.assess(frames=[frame], references=[], shot=shot, prompt="a red room"))
    assert got == verdict
    body = fake.last
    assert body["model"] == "qwen-vl-max"
    assert body["tool_choice"]["function"]["name"] == "JudgeVerdict"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEYS['DASHSCOPE_API_KEY']}"
    image = body["messages"][-1]["content"][-1]
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/jpeg;base64,")
