"""The one protocol every voice implements: text in, audio out, and a card of voices and prices.

A speech wrapper is a thin translation of its provider's text-to-speech API, like the video
wrappers: no retries, no fallbacks, no budget here (the caller decides). Every provider call is
synchronous (one request, one line of audio), so unlike a video submit a lost answer is only
`TransientProviderError`: asking again bills one line twice at worst, and no task is orphaned.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import httpx
from pydantic import BaseModel, ConfigDict, Field

from shotline.errors import ProviderError, TransientProviderError
from shotline.tools.video.http import Hosted

Gender = Literal["female", "male", "neutral"]
Age = Literal["child", "young", "adult", "old"]
REDACTED = "[redacted]"


class Voice(BaseModel):
    """One voice a provider offers, with the hints that match it to a character."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(description="what the provider's API calls it")
    gender: Gender = "neutral"
    age: Age = "adult"
    languages: tuple[str, ...] = Field(default=(), description="ISO 639-1 codes it is made for; () = any")
    label: str = Field(default="", description="what a person calls it")


class VoiceCard(BaseModel):
    """What one speech model offers and what it costs; read by voice casting and the estimate."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="provider name: 'openai', 'minimax', 'elevenlabs', 'volcengine', 'espeak'")
    display_name: str
    model_id: str = ""
    offline: bool = False
    usd_per_1k_chars: float = 0.0
    price_source: str = ""
    price_date: str = ""
    max_chars: int = Field(default=4096, description="longest text one request may carry")
    audio_format: Literal["mp3", "wav"] = "mp3"
    voices: tuple[Voice, ...] = ()
    open_voices: bool = Field(
        default=False, description="takes voice ids beyond `voices` (cloned or library voices)"
    )
    directed: bool = Field(
        default=False, description="acts on a delivery note ('whispering'); others ignore it"
    )

    def cost(self, text: str) -> float:
        """Dollars for saying `text` (providers bill per character)."""
        return round(len(text) / 1000 * self.usd_per_1k_chars, 6)

    def voice(self, voice_id: str) -> Voice | None:
        return next((v for v in self.voices if v.id == voice_id), None)


class Speech(BaseModel):
    """One line's audio as the provider returned it, and what it cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    audio: bytes = Field(repr=False)
    format: Literal["mp3", "wav"]
    provider: str
    model_id: str
    voice: str
    chars: int
    cost_usd: float
    duration_s: float | None = Field(default=None, description="when the provider says")

    def write(self, dest: Path | str) -> Path:
        """Write the audio (as `<dest>.part`, then renamed), with the suffix its format needs."""
        dest = Path(dest)
        if dest.suffix.lower() != f".{self.format}":
            dest = dest.with_name(dest.name + f".{self.format}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        part.write_bytes(self.audio)
        os.replace(part, dest)
        return dest


@runtime_checkable
class VoiceModel(Protocol):
    card: VoiceCard

    def unavailable_reason(self) -> str | None:
        """Why this voice cannot be used here (no key, no binary), or None when it can."""
        ...

    async def synthesize(
        self, text: str, voice: str, language: str | None = None, *, direction: str | None = None
    ) -> Speech:
        """Say `text` in `voice`; `language` is an ISO 639-1 hint, `direction` a delivery note
        ("lowering his voice") that models able to act on one use and the others ignore."""
        ...

    async def aclose(self) -> None: ...


def check_text(card: VoiceCard, text: str, voice: str) -> str:
    """Refuse, before anything is sent or billed, a line this model cannot say."""
    text = text.strip()
    if not text:
        raise ProviderError("nothing to say: the line is empty", provider=card.name)
    if len(text) > card.max_chars:
        raise ProviderError(
            f"{card.model_id or card.display_name} says at most {card.max_chars} characters a request, "
            f"the line has {len(text)}; split it",
            provider=card.name,
        )
    if not voice.strip():
        raise ProviderError("no voice given", provider=card.name)
    return text


class HostedVoice(Hosted):
    """`Hosted` for speech APIs: the same key, base URL override and error mapping; voice cards;
    answers that are audio bytes or JSON. Subclasses override `_words` (not `_error_message`), so
    every error message passes through `_scrub` and never carries a secret."""

    cards: ClassVar[tuple[VoiceCard, ...]]  # type: ignore[assignment]
    card: VoiceCard  # type: ignore[assignment]

    def secrets(self) -> tuple[str, ...]:
        return (self.api_key,) if self.api_key else ()

    def _scrub(self, text: str) -> str:
        for secret in self.secrets():
            if secret and len(secret) >= 4:
                text = text.replace(secret, REDACTED)
        return text

    def _error_message(self, body: Any) -> str:
        return self._scrub(self._words(body))

    def _words(self, body: Any) -> str:
        """The provider's own words for an error body."""
        return Hosted._error_message(self, body)

    def speech(self, text: str, voice: str, audio: bytes, *, duration_s: float | None = None) -> Speech:
        if not audio:
            raise ProviderError("the answer carried no audio", provider=self.provider)
        return Speech(
            audio=audio,
            format=self.card.audio_format,
            provider=self.provider,
            model_id=self.card.model_id,
            voice=voice,
            chars=len(text),
            cost_usd=self.card.cost(text),
            duration_s=duration_s,
        )

    async def send(
        self,
        path: str,
        *,
        json: Any,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """POST one synthesis request; a success comes back as the raw response (audio or JSON),
        a failure is raised as the error that says what happened."""
        self.require_available()
        try:
            response = await self.client.post(
                f"{self.base_url}{path}",
                json=json,
                params=params,
                headers={**self.auth_headers(), **(headers or {})},
            )
        except httpx.TransportError as exc:  # connect, timeout, reset: nothing to orphan, ask again
            raise TransientProviderError(
                f"no answer from the speech API ({type(exc).__name__})", provider=self.provider
            ) from exc
        if not response.is_success:
            self.decode(response)  # raises the mapped error
        return response

    async def send_json(self, path: str, *, json: Any, headers: dict[str, str] | None = None) -> Any:
        """POST and decode a JSON answer, running `_check_body` for errors inside HTTP 200s."""
        response = await self.send(path, json=json, headers=headers)
        return self.decode(response)
