"""Dialogue voices: each speech wrapper against a loopback fake of its documented API (requests,
answers, errors), the offline espeak-ng voice, and voice casting per character."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from shotline.config import Settings
from shotline.errors import (
    InputError,
    NotBuiltError,
    ProviderError,
    ProviderUnavailable,
    RefusedPrompt,
    TransientProviderError,
    UnknownProviderError,
)
from shotline.memory.models import Character
from shotline.tools.audio import audio_duration, measure_loudness
from shotline.tools.speech import (
    SPEECH_PROVIDERS,
    cast_voices,
    get_voice_model,
    pick_voice,
    voice_catalog,
    voice_for_hint,
    voice_hint,
    voice_wish,
)
from shotline.tools.speech.base import REDACTED, Speech
from shotline.tools.speech.elevenlabs import ElevenLabsSpeech
from shotline.tools.speech.espeak import Espeak, espeak_command
from shotline.tools.speech.minimax import MiniMaxSpeech
from shotline.tools.speech.openai import OpenAISpeech
from shotline.tools.speech.volcengine import VolcengineSpeech
from tests.fakes.server import FakeServer, Handler, Reply
from tests.fakes.server import run_scenario as run
from tests.fakes.speech import (
    ElevenLabsFake,
    MiniMaxSpeechFake,
    OpenAISpeechFake,
    VolcengineFake,
    elevenlabs_error,
    minimax_error,
    mp3_bytes,
    openai_error,
    volcengine_error,
    wav_bytes,
)

OPENAI_KEY = "sk-test-speech-4f9a2c"
MINIMAX_KEY = "mmx-speech-test-81b0"
ELEVEN_KEY = "xi-test-key-5c7e19"
VOLC_TOKEN = "volc-token-test-93d1"
VOLC_APP = "app-8843120"
LINE = "That locket has waited thirty years for the right courier."


def plug(shared: tuple[FakeServer, list[Handler]], fake: Handler) -> FakeServer:
    srv, slot = shared
    slot[:] = [fake]
    srv.requests.clear()
    return srv


def say(model: Any, text: str = LINE, voice: str = "onyx", language: str | None = "en", **kw: Any) -> Speech:
    return run(model, lambda m: m.synthesize(text, voice, language, **kw))


def no_secret(exc: BaseException, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in str(exc)


# --- OpenAI ---------------------------------------------------------------------------------------


@pytest.fixture
def openai_server(shared: tuple[FakeServer, list[Handler]]) -> tuple[FakeServer, OpenAISpeechFake]:
    fake = OpenAISpeechFake(api_key=OPENAI_KEY)
    return plug(shared, fake), fake


def openai_model(server: FakeServer, **kw: Any) -> OpenAISpeech:
    return OpenAISpeech(api_key=kw.pop("api_key", OPENAI_KEY), base_url=f"{server.url}/v1", **kw)


def test_openai_sends_the_documented_body_and_returns_wav(openai_server, tmp_path: Path) -> None:
    server, _ = openai_server
    speech = say(openai_model(server), voice="onyx", direction="lowering his voice")
    (call,) = server.calls("POST", "/v1/audio/speech")
    assert call.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert call.json() == {
        "model": "gpt-4o-mini-tts",
        "input": LINE,
        "voice": "onyx",
        "response_format": "wav",
        "instructions": "lowering his voice",
    }
    assert (speech.format, speech.voice, speech.chars, speech.provider) == (
        "wav",
        "onyx",
        len(LINE),
        "openai",
    )
    assert speech.cost_usd == pytest.approx(len(LINE) / 1000 * 0.015)
    path = speech.write(tmp_path / "tan-001")
    assert path.name == "tan-001.wav" and path.read_bytes() == wav_bytes()
    assert audio_duration(path) == pytest.approx(0.5, abs=0.01)


def test_openai_tts1_gets_no_instructions(openai_server) -> None:
    server, _ = openai_server
    say(openai_model(server, model_id="tts-1-hd"), direction="whispering")
    (call,) = server.calls("POST")
    assert "instructions" not in call.json() and call.json()["model"] == "tts-1-hd"


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        (
            openai_error(
                429, "Rate limit reached", "requests", "rate_limit_exceeded", **{"retry-after": "7"}
            ),
            TransientProviderError,
            "Rate limit",
        ),
        (
            openai_error(429, "You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
            ProviderError,
            "no credit left",
        ),
        (
            openai_error(500, "The server had an error", "server_error", None),
            TransientProviderError,
            "HTTP 500",
        ),
        (
            openai_error(400, "Invalid value for 'voice'", "invalid_request_error", "invalid_value"),
            ProviderError,
            "Invalid value",
        ),
    ],
)
def test_openai_errors_are_mapped(openai_server, reply: Reply, error: type, words: str) -> None:
    server, fake = openai_server
    fake.canned.append(reply)
    with pytest.raises(ProviderError) as caught:
        say(openai_model(server))
    assert type(caught.value) is error and words in str(caught.value)
    if error is TransientProviderError and "Rate" in words:
        assert caught.value.retry_after == 7.0


def test_openai_bad_key_is_explained_without_the_key(openai_server) -> None:
    server, _ = openai_server
    wrong = "sk-wrong-key-000111222"
    with pytest.raises(ProviderError) as caught:
        say(openai_model(server, api_key=wrong))
    assert not isinstance(caught.value, TransientProviderError)
    assert "check OPENAI_API_KEY" in str(caught.value) and REDACTED in str(caught.value)
    no_secret(caught.value, wrong)


def test_openai_checks_before_sending_and_needs_a_key(openai_server) -> None:
    server, _ = openai_server
    with pytest.raises(ProviderError, match="at most 4096"):
        say(openai_model(server), text="x" * 5000)
    with pytest.raises(ProviderError, match="empty"):
        say(openai_model(server), text="   ")
    with pytest.raises(ProviderUnavailable, match="OPENAI_API_KEY"):
        say(openai_model(server, api_key=None))
    assert server.requests == []


def test_openai_slow_answer_is_transient(openai_server) -> None:
    server, fake = openai_server
    fake.canned.append(Reply(200, wav_bytes(), delay_s=0.6))
    client = httpx.AsyncClient(timeout=httpx.Timeout(0.3))
    with pytest.raises(TransientProviderError, match="no answer"):
        say(openai_model(server, client=client))


def test_base_url_and_key_come_from_the_environment(openai_server, monkeypatch: pytest.MonkeyPatch) -> None:
    server, _ = openai_server
    monkeypatch.setenv("SHOTLINE_OPENAI_BASE_URL", f"{server.url}/v1")
    model = get_voice_model("openai", Settings(OPENAI_API_KEY=OPENAI_KEY), model_id="tts-1")
    assert say(model, voice="nova").format == "wav"
    assert server.calls("POST", "/v1/audio/speech")[0].json()["model"] == "tts-1"


# --- MiniMax --------------------------------------------------------------------------------------


@pytest.fixture
def minimax_server(shared: tuple[FakeServer, list[Handler]]) -> tuple[FakeServer, MiniMaxSpeechFake]:
    fake = MiniMaxSpeechFake(api_key=MINIMAX_KEY, seconds=0.5)
    return plug(shared, fake), fake


def minimax_model(server: FakeServer, **kw: Any) -> MiniMaxSpeech:
    return MiniMaxSpeech(api_key=kw.pop("api_key", MINIMAX_KEY), base_url=server.url, **kw)


def test_minimax_sends_t2a_v2_and_decodes_hex_audio(minimax_server, tmp_path: Path) -> None:
    server, _ = minimax_server
    speech = say(minimax_model(server), text="你好，我是梅。", voice="female-shaonv", language="zh")
    (call,) = server.calls("POST", "/v1/t2a_v2")
    assert call.headers["authorization"] == f"Bearer {MINIMAX_KEY}"
    assert call.json() == {
        "model": "speech-2.8-hd",
        "text": "你好，我是梅。",
        "stream": False,
        "voice_setting": {"voice_id": "female-shaonv", "speed": 1.0, "vol": 1.0, "pitch": 0},
        "audio_setting": {"sample_rate": 32000, "bitrate": 128000, "format": "mp3", "channel": 1},
        "language_boost": "Chinese",
        "output_format": "hex",
    }
    assert speech.audio == mp3_bytes(0.5) and speech.format == "mp3" and speech.duration_s == 0.5
    assert audio_duration(speech.write(tmp_path / "mei.mp3")) == pytest.approx(0.5, abs=0.08)


def test_minimax_unknown_language_boosts_auto(minimax_server) -> None:
    server, _ = minimax_server
    say(minimax_model(server, model_id="speech-02-turbo"), voice="Wise_Woman", language="xx")
    body = server.calls("POST")[0].json()
    assert (body["language_boost"], body["model"]) == ("auto", "speech-02-turbo")


@pytest.mark.parametrize(
    ("code", "error", "words"),
    [
        (1002, TransientProviderError, "rate limited"),
        (1039, TransientProviderError, "token-per-minute"),
        (1026, RefusedPrompt, "moderation"),
        (1008, ProviderError, "balance"),
        (2013, ProviderError, "rejected a parameter"),
    ],
)
def test_minimax_base_resp_errors_in_http_200(minimax_server, code: int, error: type, words: str) -> None:
    server, fake = minimax_server
    fake.canned.append(minimax_error(code, "failed"))
    with pytest.raises(ProviderError) as caught:
        say(minimax_model(server), voice="Deep_Voice_Man")
    assert type(caught.value) is error and words in str(caught.value) and f"code {code}" in str(caught.value)


def test_minimax_bad_key_and_shared_hailuo_host(minimax_server, monkeypatch: pytest.MonkeyPatch) -> None:
    server, _ = minimax_server
    monkeypatch.setenv("SHOTLINE_HAILUO_BASE_URL", server.url)  # one MiniMax host for video and speech
    model = get_voice_model("minimax", Settings(MINIMAX_API_KEY="mmx-wrong-key-2222"))
    with pytest.raises(ProviderError, match="check MINIMAX_API_KEY") as caught:
        say(model, voice="Deep_Voice_Man")
    no_secret(caught.value, "mmx-wrong-key-2222")
    assert server.calls("POST", "/v1/t2a_v2")


# --- ElevenLabs -----------------------------------------------------------------------------------


@pytest.fixture
def eleven_server(shared: tuple[FakeServer, list[Handler]]) -> tuple[FakeServer, ElevenLabsFake]:
    fake = ElevenLabsFake(api_key=ELEVEN_KEY)
    return plug(shared, fake), fake


def eleven_model(server: FakeServer, **kw: Any) -> ElevenLabsSpeech:
    return ElevenLabsSpeech(api_key=kw.pop("api_key", ELEVEN_KEY), base_url=server.url, **kw)


def test_elevenlabs_sends_voice_in_path_and_key_in_header(eleven_server) -> None:
    server, _ = eleven_server
    speech = say(eleven_model(server), voice="JBFqnCBsd6RMkjVDRZzb", language="en")
    (call,) = server.calls("POST", "/v1/text-to-speech/JBFqnCBsd6RMkjVDRZzb")
    assert call.query == {"output_format": ["mp3_44100_128"]}
    assert call.headers["xi-api-key"] == ELEVEN_KEY and "authorization" not in call.headers
    # multilingual v2 reads the language from the text and rejects language_code
    assert call.json() == {"text": LINE, "model_id": "eleven_multilingual_v2"}
    assert speech.audio == mp3_bytes() and speech.cost_usd == pytest.approx(len(LINE) / 1000 * 0.10)


def test_elevenlabs_flash_takes_a_language_code(eleven_server) -> None:
    server, _ = eleven_server
    say(eleven_model(server, model_id="eleven_flash_v2_5"), voice="custom-clone-7", language="FR")
    assert server.calls("POST")[0].json() == {
        "text": LINE,
        "model_id": "eleven_flash_v2_5",
        "language_code": "fr",
    }


@pytest.mark.parametrize(
    ("reply", "voice", "error", "words"),
    [
        (None, "no-such-voice", ProviderError, "GET /v1/voices"),
        (
            elevenlabs_error(401, "quota_exceeded", "You have insufficient quota"),
            "JBFqnCBsd6RMkjVDRZzb",
            ProviderError,
            "quota is used up",
        ),
        (
            elevenlabs_error(
                429, "concurrent_limit_exceeded", "Too many concurrent requests", "rate_limit_error"
            ),
            "JBFqnCBsd6RMkjVDRZzb",
            TransientProviderError,
            "concurrent_limit_exceeded",
        ),
        (
            Reply(422, {"detail": [{"loc": ["body", "text"], "msg": "field required", "type": "missing"}]}),
            "JBFqnCBsd6RMkjVDRZzb",
            ProviderError,
            "body.text: field required",
        ),
    ],
)
def test_elevenlabs_errors_are_mapped(
    eleven_server, reply: Reply | None, voice: str, error: type, words: str
) -> None:
    server, fake = eleven_server
    if reply is not None:
        fake.canned.append(reply)
    with pytest.raises(ProviderError) as caught:
        say(eleven_model(server), voice=voice)
    assert type(caught.value) is error and words in str(caught.value)


def test_elevenlabs_bad_key(eleven_server) -> None:
    server, _ = eleven_server
    with pytest.raises(ProviderError, match="check ELEVENLABS_API_KEY"):
        say(eleven_model(server, api_key="xi-wrong"), voice="JBFqnCBsd6RMkjVDRZzb")


# --- Volcengine -----------------------------------------------------------------------------------


@pytest.fixture
def volc_server(shared: tuple[FakeServer, list[Handler]]) -> tuple[FakeServer, VolcengineFake]:
    fake = VolcengineFake(token=VOLC_TOKEN, app_id=VOLC_APP)
    return plug(shared, fake), fake


def volc_model(server: FakeServer, **kw: Any) -> VolcengineSpeech:
    return VolcengineSpeech(
        api_key=kw.pop("api_key", VOLC_TOKEN), app_id=kw.pop("app_id", VOLC_APP), base_url=server.url, **kw
    )


def test_volcengine_sends_the_v1_body_with_a_fresh_reqid(volc_server) -> None:
    server, _ = volc_server
    model = volc_model(server)

    async def twice(m: VolcengineSpeech) -> list[Speech]:
        return [await m.synthesize("字节跳动语音合成", "BV700_streaming", "zh") for _ in range(2)]

    speeches = run(model, twice)
    first, second = (call.json() for call in server.calls("POST", "/api/v1/tts"))
    assert server.requests[0].headers["authorization"] == f"Bearer;{VOLC_TOKEN}"
    assert first["app"] == {"appid": VOLC_APP, "token": VOLC_TOKEN, "cluster": "volcano_tts"}
    assert first["audio"] == {
        "voice_type": "BV700_streaming",
        "encoding": "mp3",
        "speed_ratio": 1.0,
        "explicit_language": "zh",
    }
    assert first["request"]["operation"] == "query" and first["request"]["text"] == "字节跳动语音合成"
    assert first["request"]["reqid"] != second["request"]["reqid"]
    assert speeches[0].audio == mp3_bytes(0.5) and speeches[0].duration_s == 0.5


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        (
            volcengine_error(3050, "Fail to feed text, reason Init Engine Instance failed"),
            ProviderError,
            "no such voice_type",
        ),
        (
            volcengine_error(3003, "quota exceeded for types: concurrency"),
            TransientProviderError,
            "code 3003",
        ),
        (volcengine_error(3005, "server busy", status=503), TransientProviderError, "server busy"),
        (
            volcengine_error(3031, "quota exceeded for types: xxx_lifetime", status=500),
            ProviderError,
            "lifetime",
        ),
        (volcengine_error(3011, "illegal input text!"), ProviderError, "no text the voice can read"),
    ],
)
def test_volcengine_codes_are_mapped(volc_server, reply: Reply, error: type, words: str) -> None:
    server, fake = volc_server
    fake.canned.append(reply)
    with pytest.raises(ProviderError) as caught:
        say(volc_model(server), text="你好", voice="BV700_streaming", language="zh")
    assert type(caught.value) is error and words in str(caught.value)


def test_volcengine_auth_failure_hides_app_id_and_token(volc_server) -> None:
    server, _ = volc_server
    wrong = "volc-token-wrong-5555"
    with pytest.raises(ProviderError, match="check VOLCENGINE_TTS_APP_ID") as caught:
        say(volc_model(server, api_key=wrong), text="你好", voice="BV700_streaming")
    no_secret(caught.value, wrong, VOLC_APP)


def test_volcengine_needs_both_keys_and_short_lines(volc_server) -> None:
    server, _ = volc_server
    model = get_voice_model("volcengine", Settings(VOLCENGINE_TTS_ACCESS_TOKEN=VOLC_TOKEN))
    assert "VOLCENGINE_TTS_APP_ID" in (model.unavailable_reason() or "")
    with pytest.raises(ProviderUnavailable):
        say(model, text="你好", voice="BV700_streaming")
    with pytest.raises(ProviderError, match="1024 bytes"):
        say(volc_model(server), text="语" * 400, voice="BV700_streaming")  # 400 characters, 1200 bytes
    assert server.requests == []


# --- espeak-ng (offline) --------------------------------------------------------------------------


def test_espeak_absent_says_captions_only() -> None:
    model = Espeak(binary="")
    assert "captions only" in (model.unavailable_reason() or "")
    assert "apt-get install espeak-ng" in (model.unavailable_reason() or "")
    with pytest.raises(ProviderUnavailable, match="captions only"):
        say(model, voice="m3")


def test_espeak_command_maps_language_variant_and_pitch(tmp_path: Path) -> None:
    out = tmp_path / "x.wav"
    command = espeak_command("espeak-ng", "grandpa", "zh", out)
    assert " ".join(command) == f"espeak-ng -v cmn+grandpa -p 40 -b 1 -w {out} --stdin"
    assert espeak_command("espeak-ng", "girl", None, out)[2:5] == ["en-us+f4", "-p", "90"]


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)"
)
def test_espeak_speaks_each_voice_differently(tmp_path: Path) -> None:
    model = get_voice_model("espeak")
    tan = say(model, voice="grandpa", language="en")
    mei = say(model, text="-- Then it can wait until after my shift.", voice="f4", language="en")
    chinese = say(model, text="你好，我是梅。", voice="f2", language="zh")
    for speech in (tan, mei, chinese):
        path = speech.write(tmp_path / f"{speech.voice}.wav")
        assert speech.format == "wav" and speech.cost_usd == 0.0
        assert audio_duration(path) == pytest.approx(speech.duration_s, abs=0.01)
        assert speech.duration_s is not None and speech.duration_s > 0.8
        assert measure_loudness(path).integrated_lufs > -40  # actually speech, not silence
    assert tan.audio != mei.audio


# --- casting --------------------------------------------------------------------------------------

CAST = [
    Character(
        id="mei", name="MEI", description="MEI (20s), a courier; she rides a red cargo bike", color="#d33"
    ),
    Character(id="old-tan", name="OLD TAN", description="a stooped vendor with a white beard", color="#3d3"),
    Character(
        id="kaito", name="KAITO", description="KAITO (30s), a tall courier; his grey coat", color="#33d"
    ),
    Character(id="ling", name="玲", description="一个十岁的小女孩 (10岁)", color="#dd3"),
]


@pytest.mark.parametrize(
    ("description", "attributes", "gender", "age"),
    [
        ("OLD TAN (70s), a stooped vendor with a white beard and round glasses", {}, "male", "old"),
        (
            "MEI, in a red bomber jacket; she weaves her cargo bike through the crowd",
            {"age": "20s"},
            "female",
            "young",
        ),
        ("慈祥的老奶奶", {}, "female", "old"),
        ("A figure in a long coat", {}, None, None),
        ("KAITO (30s), a tall courier", {}, None, "adult"),
    ],
)
def test_voice_hints_from_descriptions(
    description: str, attributes: dict, gender: str | None, age: str | None
) -> None:
    hint = voice_hint(description, attributes)
    assert (hint.gender, hint.age) == (gender, age)


@pytest.mark.parametrize("provider", SPEECH_PROVIDERS)
def test_casting_fits_hints_is_stable_and_distinct(provider: str) -> None:
    card = get_voice_model(provider, Settings()).card
    cast = cast_voices(card, CAST)
    assert cast == cast_voices(card, list(CAST))  # same script, same voices, every time
    assert len(set(cast.values())) == len(CAST)  # everyone sounds different while voices last
    voices = {cid: card.voice(vid) for cid, vid in cast.items()}
    assert voices["mei"].gender == "female" and voices["old-tan"].gender == "male"
    assert voices["kaito"].gender == "male"
    assert voices["old-tan"].age in ("old", "adult")


def test_kept_voices_stay_and_override_wins() -> None:
    card = get_voice_model("openai", Settings()).card
    first = cast_voices(card, CAST[:2])
    later = cast_voices(card, CAST, kept=first)  # a new character joins: nobody is re-cast
    assert {k: later[k] for k in first} == first
    assert later["kaito"] not in first.values()
    assert pick_voice(card, "mei", description="she", override="my-clone-1").id == "my-clone-1"
    assert pick_voice(card, "mei", description="she", override="shimmer").label == "Shimmer"
    assert pick_voice(card, "x", description="a man").id == pick_voice(card, "x", description="a man").id


def test_registry_and_catalog() -> None:
    with pytest.raises(UnknownProviderError, match="espeak, openai"):
        get_voice_model("bark")
    infos = {info.name: info for info in voice_catalog(Settings())}
    assert list(infos) == list(SPEECH_PROVIDERS)
    assert infos["openai"].unavailable == "no key: set OPENAI_API_KEY"
    assert all(card.usd_per_1k_chars > 0 for card in infos["elevenlabs"].cards)
    assert infos["espeak"].cards[0].offline and infos["espeak"].cards[0].usd_per_1k_chars == 0
    empty = get_voice_model("openai", Settings()).card.model_copy(update={"voices": ()})
    with pytest.raises(NotBuiltError):
        pick_voice(empty, "mei")


@pytest.mark.parametrize(
    ("hint", "gender", "deeper", "older"),
    [
        ("deeper", None, 1, 0),
        ("a bit higher, and younger", None, -1, -1),
        ("a woman's voice", "female", 0, 0),
        ("an older man", "male", 0, 1),
        ("更低沉", None, 1, 0),
        ("换成女声", "female", 0, 0),
    ],
)
def test_voice_wish_reads_recasting_notes(hint: str, gender: str | None, deeper: int, older: int) -> None:
    wish = voice_wish(hint)
    assert (wish.gender, wish.deeper, wish.older) == (gender, deeper, older)


def test_voice_for_hint_steps_the_way_asked_and_says_when_it_cannot() -> None:
    card = get_voice_model("minimax", Settings()).card
    young = voice_for_hint(card, "mei", "Lively_Girl", "older")
    assert young.gender == "female" and young.age == "adult"  # one step, not the oldest voice
    oldest = voice_for_hint(card, "mei", young.id, "older")
    assert oldest.age == "old" and oldest.gender == "female"
    with pytest.raises(InputError, match=r"no other voice that fits 'older'.*Wise_Woman"):
        voice_for_hint(card, "mei", oldest.id, "older", language="en")
    assert voice_for_hint(card, "x", "Deep_Voice_Man", "a woman's voice").gender == "female"
    other = voice_for_hint(card, "x", "Patient_Man", "", taken=["Determined_Man"])
    assert (
        other.id not in ("Patient_Man", "Determined_Man") and other.gender == "male" and other.age == "adult"
    )
    assert voice_for_hint(card, "x", "Patient_Man", "deeper") == voice_for_hint(
        card, "x", "Patient_Man", "deeper"
    )
