"""ElevenLabs: `POST /v1/text-to-speech/{voice_id}?output_format=mp3_44100_128`, JSON in, audio
bytes out (research video-apis.md §16; [proxy] ComfyUI `comfy_api_nodes/apis/elevenlabs.py`).

Body: `text`, `model_id`, and `language_code` for the models that take one (flash/turbo v2.5, v3;
multilingual v2 reads the language from the text and rejects the field). Auth: header `xi-api-key`.
Errors ([docs] elevenlabs.io/docs/eleven-api/resources/errors): `{"detail": {"type", "code",
"message", "status" (legacy)}}`, or a list of validation errors under `detail`. 429 is
`rate_limit_exceeded` or `concurrent_limit_exceeded` (retry later); `quota_exceeded` (an empty
character quota, HTTP 401) is not worth retrying.
Key: ELEVENLABS_API_KEY. Base URL: `SHOTLINE_ELEVENLABS_BASE_URL` (default https://api.elevenlabs.io).
"""

from __future__ import annotations

from typing import Any, ClassVar, NotRequired, TypedDict
from urllib.parse import quote

from shotline.tools.speech.base import Age, Gender, HostedVoice, Speech, Voice, VoiceCard, check_text

PROVIDER = "elevenlabs"
OUTPUT_FORMAT = "mp3_44100_128"
QUOTA_CODES = frozenset({"quota_exceeded", "payment_required"})
_PRICE = "[recalled] ElevenLabs API pricing: $0.10 per 1k characters (v2/v3), $0.05 (flash/turbo); verify"


def _v(voice_id: str, label: str, gender: Gender, age: Age = "adult") -> Voice:
    return Voice(id=voice_id, gender=gender, age=age, label=label)


# ElevenLabs' default (premade) voices: ids are the same for every account. Gender and accent from
# their labels; age is our reading of the samples. Cloned or library voices are passed by id.
VOICES: tuple[Voice, ...] = (
    _v("9BWtsMINqrJLrRacOk9x", "Aria", "female"),
    _v("EXAVITQu4vr4xnSDxMaL", "Sarah", "female", "young"),
    _v("FGY2WhTYpPnrIDTdsKH5", "Laura", "female", "young"),
    _v("Xb7hH8MSUJpSbSDYk0k2", "Alice (British)", "female"),
    _v("XrExE9yKIg1WjnnlVkGX", "Matilda", "female"),
    _v("cgSgspJ2msm6clMCkdW9", "Jessica", "female", "young"),
    _v("pFZP5JQG7iQjIQuC4Bku", "Lily (British)", "female"),
    _v("CwhRBWXzGAHq8TQ4Fs17", "Roger", "male"),
    _v("IKne3meq5aSn9XLyUdCD", "Charlie (Australian)", "male", "young"),
    _v("JBFqnCBsd6RMkjVDRZzb", "George (British)", "male"),
    _v("N2lVS1w4EtoT3dr4eOWO", "Callum", "male"),
    _v("SOYHLrjzK2X1ezoPC6cr", "Harry", "male", "young"),
    _v("TX3LPaxmHKxFdv7VOQHJ", "Liam", "male", "young"),
    _v("bIHbv24MWmeRgasZH58o", "Will", "male", "young"),
    _v("cjVigY5qzO86Huf0OWal", "Eric", "male"),
    _v("iP95p4xoKVk53GoZ742B", "Chris", "male"),
    _v("nPczCjzI2devNBz1zQrb", "Brian", "male"),
    _v("onwK4e9ZLuTAKqWW03F9", "Daniel (British)", "male"),
    _v("pNInz6obpgDQGcFmaJgB", "Adam", "male"),
    _v("pqHfZKP75CvOlQylNhV4", "Bill", "male", "old"),
    _v("SAz9YHcvj6GT2YYXdXww", "River", "neutral"),
)


class ElevenLabsCard(VoiceCard):
    language_code: bool = False  # whether the model takes `language_code`


def _card(
    model_id: str, display_name: str, usd: float, max_chars: int, language_code: bool
) -> ElevenLabsCard:
    return ElevenLabsCard(
        name=PROVIDER,
        display_name=display_name,
        model_id=model_id,
        usd_per_1k_chars=usd,
        price_source=_PRICE,
        price_date="2026",
        max_chars=max_chars,
        audio_format="mp3",
        voices=VOICES,
        open_voices=True,  # cloned voices are passed by id
        language_code=language_code,
    )


CARDS: tuple[ElevenLabsCard, ...] = (
    _card("eleven_multilingual_v2", "ElevenLabs Multilingual v2", 0.10, 10_000, language_code=False),
    _card("eleven_v3", "ElevenLabs v3", 0.10, 5_000, language_code=True),
    _card("eleven_flash_v2_5", "ElevenLabs Flash v2.5", 0.05, 40_000, language_code=True),
    _card("eleven_turbo_v2_5", "ElevenLabs Turbo v2.5", 0.05, 40_000, language_code=True),
)


class TTSBody(TypedDict):
    """Body of POST /v1/text-to-speech/{voice_id}."""

    text: str
    model_id: str
    language_code: NotRequired[str]


class ElevenLabsSpeech(HostedVoice):
    """One ElevenLabs model. Key: ELEVENLABS_API_KEY, sent as `xi-api-key`."""

    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "https://api.elevenlabs.io"
    key_names: ClassVar[tuple[str, ...]] = ("ELEVENLABS_API_KEY",)
    cards: ClassVar[tuple[VoiceCard, ...]] = CARDS
    card: ElevenLabsCard  # type: ignore[assignment]

    def auth_headers(self) -> dict[str, str]:
        return {"xi-api-key": self.api_key or ""}

    def body(self, text: str, language: str | None) -> TTSBody:
        body: TTSBody = {"text": text, "model_id": self.card.model_id}
        if language and self.card.language_code:
            body["language_code"] = language.lower()
        return body

    async def synthesize(
        self, text: str, voice: str, language: str | None = None, *, direction: str | None = None
    ) -> Speech:
        text = check_text(self.card, text, voice)
        response = await self.send(
            f"/v1/text-to-speech/{quote(voice, safe='')}",
            json=self.body(text, language),
            params={"output_format": OUTPUT_FORMAT},
            headers={"Accept": "audio/mpeg"},
        )
        return self.speech(text, voice, response.content)

    # --- errors -------------------------------------------------------------------------------

    def _permanent(self, status: int, body: Any) -> bool:
        return _code(body) in QUOTA_CODES

    def _words(self, body: Any) -> str:
        detail = body.get("detail") if isinstance(body, dict) else None
        if isinstance(detail, dict):
            code = _code(body)
            words = f"{detail.get('message') or ''} ({code})" if code else str(detail.get("message") or "")
        elif isinstance(detail, list):  # validation errors: [{loc, msg, type}]
            words = "; ".join(
                f"{'.'.join(str(p) for p in item.get('loc', []))}: {item.get('msg', '')}"
                for item in detail
                if isinstance(item, dict)
            )
        else:
            words = super()._words(body)
        code = _code(body)
        if code in QUOTA_CODES:
            words += ": the ElevenLabs character quota is used up"
        elif code in ("invalid_api_key", "missing_api_key"):
            words += ": check ELEVENLABS_API_KEY"
        elif code == "voice_not_found":
            words += ": that voice id is not in this account (GET /v1/voices lists them)"
        return words


def _code(body: Any) -> str | None:
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, dict):
        return None
    code = detail.get("code") or detail.get("status")
    return str(code) if code else None
