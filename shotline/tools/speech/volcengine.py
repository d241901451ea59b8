"""Volcengine (Doubao) speech, China: the V1 HTTP API, `POST /api/v1/tts`, synchronous, audio
returned base64 in JSON (research video-apis.md §16, [recalled]; checked against a stored copy of
volcengine.com/docs/6561 "HTTP" in MatthewHA233/LingFlow).

Header `Authorization: Bearer;<access token>` (a semicolon, not a space). Body: `app {appid, token,
cluster: "volcano_tts"}`, `user {uid}`, `audio {voice_type, encoding, speed_ratio,
explicit_language}`, `request {reqid (unique per call), text, operation: "query"}`. Answer:
`{reqid, code, message, sequence, data: <base64>, addition: {duration: "<ms>"}}`; `code` 3000 is
success. Retry 3003 (concurrency), 3005 (busy), 3030-3032 and 3040 (backend); 3001 (bad request),
3010 (text too long), 3011 (invalid text), 3050 (unknown voice) and auth failures ("load grant")
are the caller's to fix. "quota exceeded ... lifetime" is a used-up trial.
Keys: VOLCENGINE_TTS_APP_ID and VOLCENGINE_TTS_ACCESS_TOKEN (console: Doubao speech app).
Base URL: `SHOTLINE_VOLCENGINE_BASE_URL` (default https://openspeech.bytedance.com).
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid
from typing import Any, ClassVar, Literal, NotRequired, TypedDict

import httpx
from pydantic import BaseModel, ConfigDict

from shotline.config import Settings
from shotline.errors import ProviderError, TransientProviderError
from shotline.tools.speech.base import Age, Gender, HostedVoice, Speech, Voice, VoiceCard, check_text

PROVIDER = "volcengine"
TTS = "/api/v1/tts"
CLUSTER = "volcano_tts"
SUCCESS = 3000
TRANSIENT_CODES = frozenset({3003, 3005, 3030, 3031, 3032, 3040})
EXPLICIT_LANGUAGES = frozenset({"zh", "en", "ja", "id"})  # explicit_language values for plain ISO codes
HINTS = {
    3001: "a parameter is invalid",
    3010: "the text is too long for one request (1024 bytes of UTF-8)",
    3011: "no text the voice can read (only punctuation, or the wrong language for the voice)",
    3050: "no such voice_type; check the voice id and that the app has it",
}
MAX_TEXT_BYTES = 1024
_PRICE = (
    "[recalled] Doubao speech ~CNY 5 per 10k characters (~$0.07 per 1k); verify on volcengine.com/docs/6561"
)


def _v(voice_id: str, label: str, gender: Gender, age: Age = "adult") -> Voice:
    return Voice(id=voice_id, gender=gender, age=age, languages=("zh",), label=label)


# voice ids from the Doubao voice list (volcengine.com/docs/6561/1257544), as quoted in public code;
# BV001/BV002 are free, the others must be enabled (free ones at a 0 yuan order) in the console
VOICES: tuple[Voice, ...] = (
    _v("BV001_streaming", "通用女声", "female"),
    _v("BV002_streaming", "通用男声", "male"),
    _v("BV700_streaming", "灿灿", "female", "young"),
    _v("BV701_streaming", "擎苍", "male"),
    _v("BV104_streaming", "温柔淑女", "female"),
    _v("BV113_streaming", "甜宠少御", "female", "young"),
    _v("BV005_streaming", "活泼女声", "female", "young"),
    _v("BV102_streaming", "儒雅青年", "male", "young"),
    _v("BV004_streaming", "开朗青年", "male", "young"),
    _v("BV056_streaming", "阳光男声", "male", "young"),
    _v("BV107_streaming", "霸气青叔", "male"),
    _v("BV158_streaming", "智慧老者", "male", "old"),
    _v("BV157_streaming", "慈爱姥姥", "female", "old"),
    _v("BV051_streaming", "奶气萌娃", "male", "child"),
    _v("BV064_streaming", "小萝莉", "female", "child"),
    _v("zh_male_M392_conversation_wvae_bigtts", "大模型 男声 (M392)", "male"),
    _v("zh_male_yuanboxiaoshu_moon_bigtts", "渊博小叔", "male"),
    _v("zh_female_xinlingjitang_moon_bigtts", "心灵鸡汤", "female"),
)

CARDS: tuple[VoiceCard, ...] = (
    VoiceCard(
        name=PROVIDER,
        display_name="Volcengine Doubao TTS",
        model_id=CLUSTER,
        usd_per_1k_chars=0.07,
        price_source=_PRICE,
        price_date="2026",
        max_chars=MAX_TEXT_BYTES,  # the limit is 1024 bytes of UTF-8 (checked too); docs advise < 300 chars
        audio_format="mp3",
        voices=VOICES,
        open_voices=True,  # hundreds of voice types and cloned voices (S_...) by id
    ),
)


class App(TypedDict):
    appid: str
    token: str
    cluster: str


class Audio(TypedDict):
    voice_type: str
    encoding: Literal["wav", "pcm", "ogg_opus", "mp3"]
    speed_ratio: float
    explicit_language: NotRequired[str]


class Request(TypedDict):
    reqid: str
    text: str
    operation: Literal["query"]


class TTSBody(TypedDict):
    """Body of POST /api/v1/tts."""

    app: App
    user: dict[str, str]
    audio: Audio
    request: Request


class TTSAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reqid: str = ""
    code: int
    message: str = ""
    data: str = ""
    addition: dict[str, Any] | None = None


class VolcengineSpeech(HostedVoice):
    """The Doubao speech V1 HTTP API. Keys: VOLCENGINE_TTS_APP_ID and VOLCENGINE_TTS_ACCESS_TOKEN."""

    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "https://openspeech.bytedance.com"
    key_names: ClassVar[tuple[str, ...]] = ("VOLCENGINE_TTS_ACCESS_TOKEN", "VOLCENGINE_TTS_APP_ID")
    cards: ClassVar[tuple[VoiceCard, ...]] = CARDS

    def __init__(
        self,
        *,
        api_key: str | None,
        app_id: str | None = None,
        base_url: str | None = None,
        model_id: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(api_key=api_key, base_url=base_url, model_id=model_id, client=client)
        self.app_id = app_id

    @classmethod
    def from_settings(
        cls, settings: Settings, *, model_id: str | None = None, client: httpx.AsyncClient | None = None
    ):
        token = settings.volcengine_tts_access_token
        return cls(
            api_key=token.get_secret_value() if token is not None else None,
            app_id=settings.volcengine_tts_app_id,
            base_url=os.environ.get("SHOTLINE_VOLCENGINE_BASE_URL") or None,
            model_id=model_id,
            client=client,
        )

    def unavailable_reason(self) -> str | None:
        return None if self.api_key and self.app_id else f"no key: set {' and '.join(self.key_names)}"

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer;{self.api_key}"}

    def body(self, text: str, voice: str, language: str | None) -> TTSBody:
        audio: Audio = {"voice_type": voice, "encoding": "mp3", "speed_ratio": 1.0}
        if language and language.lower() in EXPLICIT_LANGUAGES:
            audio["explicit_language"] = language.lower()
        return {
            "app": {"appid": self.app_id or "", "token": self.api_key or "", "cluster": self.card.model_id},
            "user": {"uid": "shotline"},
            "audio": audio,
            "request": {"reqid": str(uuid.uuid4()), "text": text, "operation": "query"},
        }

    async def synthesize(
        self, text: str, voice: str, language: str | None = None, *, direction: str | None = None
    ) -> Speech:
        text = check_text(self.card, text, voice)
        if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
            raise ProviderError(
                f"a line may carry at most {MAX_TEXT_BYTES} bytes of UTF-8; split it", provider=self.provider
            )
        answer = TTSAnswer.model_validate(await self.send_json(TTS, json=self.body(text, voice, language)))
        try:
            audio = base64.b64decode(answer.data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProviderError("the answer's audio is not base64", provider=self.provider) from exc
        duration = (answer.addition or {}).get("duration")
        seconds = int(duration) / 1000 if str(duration or "").isdigit() else None
        return self.speech(text, voice, audio, duration_s=seconds)

    # --- errors -------------------------------------------------------------------------------

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.api_key, self.app_id) if s)

    def _words(self, body: Any) -> str:
        code = _code(body)
        words = str(body.get("message") or "") if isinstance(body, dict) else ""
        words = words or super()._words(body)
        if code is not None:
            words = f"{words} (code {code})"
        if "grant" in words and "not found" in words:
            return f"{words}: check VOLCENGINE_TTS_APP_ID and VOLCENGINE_TTS_ACCESS_TOKEN"
        if "access denied" in words:
            return f"{words}: the app has no licence for this voice; enable it in the console"
        return words + (f": {HINTS[code]}" if code in HINTS else "")

    def decode(self, response: httpx.Response) -> Any:
        """Errors are told by `code` whatever the HTTP status, so map those first."""
        if not response.is_success:
            try:
                body = response.json()
            except ValueError:
                body = None
            if _code(body) not in (None, SUCCESS):
                self._check_body(body)
        return super().decode(response)

    def _permanent(self, status: int, body: Any) -> bool:
        message = str(body.get("message") or "") if isinstance(body, dict) else ""
        return "quota exceeded" in message and "lifetime" in message

    def _check_body(self, body: Any) -> None:
        code = _code(body)
        if code in (None, SUCCESS):
            return
        message = self._error_message(body)
        if code in TRANSIENT_CODES and not self._permanent(200, body):
            raise TransientProviderError(message, provider=self.provider)
        raise ProviderError(message, provider=self.provider)


def _code(body: Any) -> int | None:
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None
