"""OpenAI speech: `POST /v1/audio/speech`, JSON in, audio bytes out (research video-apis.md §16,
[sdk] openai-python `types/audio/speech_create_params.py`, 2026-08-21).

Body: `model`, `input` (<= 4096 chars), `voice`, `response_format` (we ask for `wav`: lossless into
the mixer), and for the gpt-4o-mini-tts family `instructions`, which carries a line's delivery
note. There is no language field: the models read the language from the text.
Errors come as `{"error": {"message", "type", "code"}}`; a 429 with code `insufficient_quota` is an
empty account, not a rate limit, so it is not retried.
Key: OPENAI_API_KEY. Base URL: `SHOTLINE_OPENAI_BASE_URL` (default https://api.openai.com/v1),
shared with the image wrapper, for proxies and resellers that speak the same API.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, NotRequired, TypedDict

from shotline.tools.speech.base import HostedVoice, Speech, Voice, VoiceCard, check_text

PROVIDER = "openai"
SPEECH = "/audio/speech"
QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached"})
_PRICE = "[recalled] OpenAI pricing page (research video-apis.md §16 lists the API, not prices); verify"

# gender/age hints are ours, from OpenAI's voice samples; the API only takes the id
_CLASSIC = (
    Voice(id="alloy", gender="neutral", label="Alloy"),
    Voice(id="ash", gender="male", label="Ash"),
    Voice(id="coral", gender="female", label="Coral"),
    Voice(id="echo", gender="male", age="young", label="Echo"),
    Voice(id="fable", gender="male", age="young", label="Fable (British)"),
    Voice(id="onyx", gender="male", age="old", label="Onyx (deep)"),
    Voice(id="nova", gender="female", age="young", label="Nova"),
    Voice(id="sage", gender="female", label="Sage"),
    Voice(id="shimmer", gender="female", label="Shimmer"),
)
_NEWER = (
    Voice(id="ballad", gender="male", label="Ballad"),
    Voice(id="verse", gender="male", label="Verse"),
    Voice(id="marin", gender="female", label="Marin"),
    Voice(id="cedar", gender="male", label="Cedar"),
)

INSTRUCTED = frozenset({"gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15"})  # take `instructions`


def _card(model_id: str, display_name: str, usd: float, voices: tuple[Voice, ...]) -> VoiceCard:
    return VoiceCard(
        name=PROVIDER,
        display_name=display_name,
        model_id=model_id,
        usd_per_1k_chars=usd,
        price_source=_PRICE,
        price_date="2026",
        max_chars=4096,
        audio_format="wav",
        voices=voices,
        directed=model_id in INSTRUCTED,
    )


CARDS: tuple[VoiceCard, ...] = (
    # token-priced ($0.60/1M text in, $12/1M audio out); OpenAI's own estimate is ~$0.015 a minute,
    # about 1k characters of dialogue
    _card("gpt-4o-mini-tts", "OpenAI gpt-4o-mini-tts", 0.015, _CLASSIC + _NEWER),
    _card("tts-1", "OpenAI TTS-1", 0.015, _CLASSIC),  # $15 per 1M characters
    _card("tts-1-hd", "OpenAI TTS-1 HD", 0.030, _CLASSIC),  # $30 per 1M characters
)


class SpeechBody(TypedDict):
    """Body of POST /v1/audio/speech."""

    model: str
    input: str
    voice: str
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]
    instructions: NotRequired[str]


class OpenAISpeech(HostedVoice):
    """One OpenAI speech model. Key: OPENAI_API_KEY, sent as a Bearer token."""

    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"
    key_names: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    cards: ClassVar[tuple[VoiceCard, ...]] = CARDS

    def body(self, text: str, voice: str, direction: str | None) -> SpeechBody:
        body: SpeechBody = {
            "model": self.card.model_id,
            "input": text,
            "voice": voice,
            "response_format": "wav",
        }
        if direction and self.card.model_id in INSTRUCTED:
            body["instructions"] = direction
        return body

    async def synthesize(
        self, text: str, voice: str, language: str | None = None, *, direction: str | None = None
    ) -> Speech:
        text = check_text(self.card, text, voice)
        response = await self.send(SPEECH, json=self.body(text, voice, direction))
        return self.speech(text, voice, response.content)

    # --- errors -------------------------------------------------------------------------------

    def _permanent(self, status: int, body: Any) -> bool:
        return _code(body) in QUOTA_CODES

    def _words(self, body: Any) -> str:
        words = super()._words(body)
        code = _code(body)
        if code in QUOTA_CODES:
            return f"{words}: the OpenAI account has no credit left; top it up"
        if code == "invalid_api_key":
            return f"{words}: check OPENAI_API_KEY"
        return words


def _code(body: Any) -> str | None:
    err = body.get("error") if isinstance(body, dict) else None
    return str(err.get("code")) if isinstance(err, dict) and err.get("code") else None
