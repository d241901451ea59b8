"""The offline voice: espeak-ng, when it is installed (`apt-get install espeak-ng`).

Robotic, but free, local and instant: a cut made with no key still has its lines spoken in the
right places, each character in their own voice. Without the binary, `synthesize` raises
`ProviderUnavailable` with the reason, and the editor keeps the dialogue as captions only.
A voice id names an espeak-ng variant (`m3`, `f2`, `grandpa` ...), or one of ours that adds a pitch.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import wave
from pathlib import Path
from typing import ClassVar

from shotline.config import Settings
from shotline.errors import ProviderError, ProviderUnavailable
from shotline.tools.speech.base import Age, Gender, Speech, Voice, VoiceCard, check_text

PROVIDER = "espeak"
BINARY = "espeak-ng"
TIMEOUT_S = 60.0
DEFAULT_PITCH = 50  # espeak-ng's own default, 0..99
# ISO 639-1 (and a few BCP 47 tags) -> espeak-ng language voice; anything else is passed as is
LANGUAGES = {
    "en": "en-us",
    "zh": "cmn",
    "zh-cn": "cmn",
    "zh-tw": "cmn",
    "yue": "yue",
    "pt": "pt-br",
    "fr": "fr-fr",
}
# our voice id -> (espeak-ng variant, pitch)
VARIANTS: dict[str, tuple[str, int]] = {
    "m1": ("m1", 50),
    "m2": ("m2", 45),
    "m3": ("m3", 50),
    "m4": ("m4", 55),
    "m7": ("m7", 40),
    "f1": ("f1", 55),
    "f2": ("f2", 60),
    "f3": ("f3", 55),
    "f4": ("f4", 65),
    "f5": ("f5", 50),
    "grandpa": ("grandpa", 40),
    "grandma": ("grandma", 55),
    "boy": ("m3", 85),
    "girl": ("f4", 90),
}


def _v(voice_id: str, gender: Gender, age: Age, label: str) -> Voice:
    return Voice(id=voice_id, gender=gender, age=age, label=label)


VOICES: tuple[Voice, ...] = (
    _v("m1", "male", "adult", "espeak male 1"),
    _v("m2", "male", "adult", "espeak male 2"),
    _v("m3", "male", "young", "espeak male 3"),
    _v("m4", "male", "young", "espeak male 4"),
    _v("m7", "male", "adult", "espeak male 7"),
    _v("f1", "female", "adult", "espeak female 1"),
    _v("f2", "female", "young", "espeak female 2"),
    _v("f3", "female", "adult", "espeak female 3"),
    _v("f4", "female", "young", "espeak female 4"),
    _v("f5", "female", "adult", "espeak female 5"),
    _v("grandpa", "male", "old", "espeak grandpa"),
    _v("grandma", "female", "old", "espeak grandma"),
    _v("boy", "male", "child", "espeak boy (m3, high pitch)"),
    _v("girl", "female", "child", "espeak girl (f4, high pitch)"),
)

CARD = VoiceCard(
    name=PROVIDER,
    display_name="espeak-ng (offline)",
    model_id=BINARY,
    offline=True,
    usd_per_1k_chars=0.0,
    price_source="local",
    max_chars=20_000,
    audio_format="wav",
    voices=VOICES,
)


def espeak_binary() -> str | None:
    """The espeak-ng on PATH, or None."""
    return shutil.which(BINARY)


def espeak_command(binary: str, voice: str, language: str | None, out: Path) -> list[str]:
    """espeak-ng argv: language voice + variant, pitch, UTF-8 text from stdin, WAV to `out`."""
    variant, pitch = VARIANTS.get(voice, (voice, DEFAULT_PITCH))
    lang = (language or "en").lower()
    lang = LANGUAGES.get(lang, lang)
    return [binary, "-v", f"{lang}+{variant}", "-p", str(pitch), "-b", "1", "-w", str(out), "--stdin"]


class Espeak:
    """The offline voice model. Needs no key; needs the espeak-ng binary."""

    provider: ClassVar[str] = PROVIDER
    cards: ClassVar[tuple[VoiceCard, ...]] = (CARD,)

    def __init__(self, binary: str | None = None) -> None:
        self.card = CARD
        self.binary = binary if binary is not None else espeak_binary()

    @classmethod
    def from_settings(cls, settings: Settings | None = None, *, model_id: str | None = None, **_: object):
        return cls()

    def unavailable_reason(self) -> str | None:
        if self.binary:
            return None
        return "espeak-ng is not installed (apt-get install espeak-ng); dialogue stays captions only"

    async def synthesize(
        self, text: str, voice: str, language: str | None = None, *, direction: str | None = None
    ) -> Speech:
        reason = self.unavailable_reason()
        if reason or self.binary is None:
            raise ProviderUnavailable(reason or "no espeak-ng", provider=PROVIDER)
        text = check_text(self.card, text, voice)
        with tempfile.TemporaryDirectory(prefix="shotline-espeak-") as tmp:
            out = Path(tmp) / "line.wav"
            command = espeak_command(self.binary, voice, language, out)
            try:
                proc = await asyncio.create_subprocess_exec(
                    *command, stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
                )
            except OSError as exc:
                raise ProviderError(f"espeak-ng failed to start: {exc}", provider=PROVIDER) from exc
            try:
                _, stderr = await asyncio.wait_for(proc.communicate(text.encode("utf-8")), TIMEOUT_S)
            except TimeoutError as exc:
                proc.kill()
                await proc.wait()
                raise ProviderError(f"espeak-ng took over {TIMEOUT_S:.0f} s", provider=PROVIDER) from exc
            if proc.returncode != 0 or not out.is_file():
                said = stderr.decode("utf-8", "replace").strip() or f"exit code {proc.returncode}"
                raise ProviderError(
                    f"espeak-ng could not say it with voice {command[2]!r}: {said}", provider=PROVIDER
                )
            audio = out.read_bytes()
            with wave.open(str(out), "rb") as wav:
                seconds = wav.getnframes() / float(wav.getframerate() or 1)
        return Speech(
            audio=audio,
            format="wav",
            provider=PROVIDER,
            model_id=BINARY,
            voice=voice,
            chars=len(text),
            cost_usd=0.0,
            duration_s=round(seconds, 3),
        )

    async def aclose(self) -> None:
        return None
