"""MiniMax speech: `POST /v1/t2a_v2`, synchronous, audio returned hex-encoded in JSON (research
video-apis.md §16; [docs] platform.minimaxi.com T2A v2 HTTP page).

Body: `model`, `text` (< 10,000 chars), `stream: false`, `voice_setting {voice_id, speed, vol,
pitch}`, `audio_setting {sample_rate, bitrate, format, channel}`, `language_boost`, `output_format:
"hex"`. Answer: `{data: {audio: <hex>, status: 2}, extra_info: {audio_length (ms),
usage_characters, ...}, trace_id, base_resp: {status_code, status_msg}}`. Like MiniMax video v1,
errors arrive as HTTP 200 with `base_resp.status_code != 0`: 1000 unknown, 1001 timeout, 1002 and
1039 rate limits, 1004 auth, 1008 balance, 1026 sensitive input, 1042 too many illegal characters,
2013 bad parameters.
Key: MINIMAX_API_KEY (the one the Hailuo video wrapper uses). Base URL: `SHOTLINE_MINIMAX_BASE_URL`,
else `SHOTLINE_HAILUO_BASE_URL` (same host, same key); default https://api.minimax.io
(api.minimaxi.com in China).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypedDict

from pydantic import BaseModel, ConfigDict

from shotline.errors import ProviderError, RefusedPrompt, TransientProviderError
from shotline.tools.speech.base import Age, HostedVoice, Speech, Voice, VoiceCard, check_text
from shotline.tools.video.hailuo import BALANCE_CODE, MODERATION_CODES, minimax_code

PROVIDER = "minimax"
T2A = "/v1/t2a_v2"
TRANSIENT_CODES = frozenset({1000, 1001, 1002, 1039})
HINTS = {
    1002: "rate limited; slow down",
    1004: "check MINIMAX_API_KEY (and the host: api.minimax.io abroad, api.minimaxi.com in China)",
    1008: "the MiniMax balance is too low; top it up",
    1039: "token-per-minute limit; slow down",
    1042: "more than 10% of the text is characters the model cannot read",
    2013: "MiniMax rejected a parameter",
}
# language_boost values MiniMax documents, by ISO 639-1 code
LANGUAGE_BOOST = {
    "zh": "Chinese",
    "yue": "Chinese,Yue",
    "en": "English",
    "ar": "Arabic",
    "ru": "Russian",
    "es": "Spanish",
    "fr": "French",
    "pt": "Portuguese",
    "de": "German",
    "tr": "Turkish",
    "nl": "Dutch",
    "uk": "Ukrainian",
    "vi": "Vietnamese",
    "id": "Indonesian",
    "ja": "Japanese",
    "it": "Italian",
    "ko": "Korean",
    "th": "Thai",
    "pl": "Polish",
    "ro": "Romanian",
    "el": "Greek",
    "cs": "Czech",
    "fi": "Finnish",
    "hi": "Hindi",
}
_PRICE = (
    "turbo ~$60 per 1M characters ([3rd] OpenRouter, research video-apis.md §16); "
    "hd ~$100 per 1M [recalled]; verify on platform.minimax.io pricing"
)


def _v(voice_id: str, gender: Literal["female", "male"], age: Age = "adult", zh: bool = False) -> Voice:
    return Voice(id=voice_id, gender=gender, age=age, languages=("zh",) if zh else (), label=voice_id)


# system voices (platform.minimax.io system-voice-id list); the English-named ones are multilingual
VOICES: tuple[Voice, ...] = (
    _v("Wise_Woman", "female", "old"),
    _v("Calm_Woman", "female"),
    _v("Lively_Girl", "female", "young"),
    _v("Inspirational_girl", "female", "young"),
    _v("Exuberant_Girl", "female", "young"),
    _v("Sweet_Girl_2", "female", "young"),
    _v("Abbess", "female", "old"),
    _v("Lovely_Girl", "female", "child"),
    _v("Deep_Voice_Man", "male"),
    _v("Casual_Guy", "male", "young"),
    _v("Patient_Man", "male"),
    _v("Young_Knight", "male", "young"),
    _v("Determined_Man", "male"),
    _v("Elegant_Man", "male"),
    _v("Imposing_Manner", "male", "old"),
    _v("Decent_Boy", "male", "child"),
    _v("male-qn-qingse", "male", "young", zh=True),
    _v("male-qn-jingying", "male", "young", zh=True),
    _v("male-qn-badao", "male", zh=True),
    _v("presenter_male", "male", zh=True),
    _v("audiobook_male_1", "male", "old", zh=True),
    _v("clever_boy", "male", "child", zh=True),
    _v("female-shaonv", "female", "young", zh=True),
    _v("female-yujie", "female", zh=True),
    _v("female-chengshu", "female", "old", zh=True),
    _v("presenter_female", "female", zh=True),
    _v("lovely_girl", "female", "child", zh=True),
)


def _card(model_id: str, usd: float) -> VoiceCard:
    return VoiceCard(
        name=PROVIDER,
        display_name=f"MiniMax {model_id}",
        model_id=model_id,
        usd_per_1k_chars=usd,
        price_source=_PRICE,
        price_date="2026",
        max_chars=9999,  # "< 10000"
        audio_format="mp3",
        voices=VOICES,
        open_voices=True,  # cloned voices are passed by id
    )


CARDS: tuple[VoiceCard, ...] = tuple(
    _card(model_id, 0.06 if model_id.endswith("turbo") else 0.10)
    for model_id in (
        "speech-2.8-hd",
        "speech-2.8-turbo",
        "speech-2.6-hd",
        "speech-2.6-turbo",
        "speech-02-hd",
        "speech-02-turbo",
    )
)


class VoiceSetting(TypedDict):
    voice_id: str
    speed: float  # 0.5..2
    vol: float  # (0, 10]
    pitch: int  # -12..12


class AudioSetting(TypedDict):
    sample_rate: int  # 8000 16000 22050 24000 32000 44100
    bitrate: int  # mp3 only
    format: Literal["mp3", "pcm", "flac", "wav"]
    channel: int


class T2ABody(TypedDict):
    """Body of POST /v1/t2a_v2."""

    model: str
    text: str
    stream: bool
    voice_setting: VoiceSetting
    audio_setting: AudioSetting
    language_boost: str
    output_format: Literal["hex", "url"]


class T2AData(BaseModel):
    model_config = ConfigDict(extra="ignore")
    audio: str = ""
    status: int | None = None


class T2AExtra(BaseModel):
    model_config = ConfigDict(extra="ignore")
    audio_length: int | None = None  # ms
    usage_characters: int | None = None


class T2AAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    data: T2AData | None = None
    extra_info: T2AExtra | None = None
    trace_id: str = ""


class MiniMaxSpeech(HostedVoice):
    """One MiniMax speech model. Key: MINIMAX_API_KEY, sent as a Bearer token."""

    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "https://api.minimax.io"
    key_names: ClassVar[tuple[str, ...]] = ("MINIMAX_API_KEY",)
    cards: ClassVar[tuple[VoiceCard, ...]] = CARDS
    shared_base_url_var: ClassVar[str | None] = "SHOTLINE_HAILUO_BASE_URL"

    def body(self, text: str, voice: str, language: str | None) -> T2ABody:
        return {
            "model": self.card.model_id,
            "text": text,
            "stream": False,
            "voice_setting": {"voice_id": voice, "speed": 1.0, "vol": 1.0, "pitch": 0},
            "audio_setting": {"sample_rate": 32000, "bitrate": 128000, "format": "mp3", "channel": 1},
            "language_boost": LANGUAGE_BOOST.get((language or "").lower(), "auto"),
            "output_format": "hex",
        }

    async def synthesize(
        self, text: str, voice: str, language: str | None = None, *, direction: str | None = None
    ) -> Speech:
        text = check_text(self.card, text, voice)
        answer = T2AAnswer.model_validate(await self.send_json(T2A, json=self.body(text, voice, language)))
        try:
            audio = bytes.fromhex(answer.data.audio if answer.data else "")
        except ValueError as exc:
            raise ProviderError("the answer's audio is not hex", provider=self.provider) from exc
        length = answer.extra_info.audio_length if answer.extra_info else None
        return self.speech(text, voice, audio, duration_s=length / 1000 if length else None)

    # --- errors -------------------------------------------------------------------------------

    def _words(self, body: Any) -> str:
        code = minimax_code(body)
        base = body.get("base_resp") if isinstance(body, dict) else None
        words = str(base.get("status_msg") or "") if isinstance(base, dict) else super()._words(body)
        if code is not None:
            words = f"{words} (code {code})"
        return words + (f": {HINTS[code]}" if code in HINTS else "")

    def _refusal(self, status: int, body: Any) -> bool:
        return minimax_code(body) in MODERATION_CODES

    def _permanent(self, status: int, body: Any) -> bool:
        return minimax_code(body) == BALANCE_CODE

    def _check_body(self, body: Any) -> None:
        code = minimax_code(body)
        if code in (None, 0):
            return
        message = self._error_message(body)
        if code in MODERATION_CODES:
            raise RefusedPrompt(f"refused by moderation: {message}", provider=self.provider)
        if code in TRANSIENT_CODES:
            raise TransientProviderError(message, provider=self.provider)
        raise ProviderError(message, provider=self.provider)
