"""Fake speech APIs for contract tests: OpenAI `/v1/audio/speech`, MiniMax `/v1/t2a_v2`, ElevenLabs
`/v1/text-to-speech/{voice_id}` and Volcengine `/api/v1/tts`, replaying the documented requests,
answers and error bodies (research video-apis.md §16 and the sources cited in each wrapper), and
serving real audio (a WAV or an MP3 made by ffmpeg), since a provider returns real audio."""

from __future__ import annotations

import base64
import io
import math
import struct
import subprocess
import tempfile
import wave
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from shotline.tools.ffmpeg import ffmpeg_exe
from tests.fakes.server import Recorded, Reply

OPENAI_VOICES = frozenset(
    {
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "onyx",
        "nova",
        "sage",
        "shimmer",
        "verse",
        "marin",
        "cedar",
    }
)


@lru_cache(maxsize=8)
def wav_bytes(seconds: float = 0.5, rate: int = 24_000, freq: float = 220.0) -> bytes:
    """A mono 16-bit WAV tone, as OpenAI's `response_format: wav` returns (24 kHz)."""
    frames = b"".join(
        struct.pack("<h", round(8000 * math.sin(2 * math.pi * freq * i / rate)))
        for i in range(round(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return buffer.getvalue()


@lru_cache(maxsize=8)
def mp3_bytes(seconds: float = 0.5, rate: int = 32_000) -> bytes:
    """A mono MP3 tone, as MiniMax, ElevenLabs and Volcengine return."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "line.mp3"
        subprocess.run(
            [
                ffmpeg_exe(),
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"sine=f=330:d={seconds}",
                "-ar",
                str(rate),
                "-ac",
                "1",
                "-c:a",
                "libmp3lame",
                "-b:a",
                "64k",
                str(out),
            ],
            check=True,
        )
        return out.read_bytes()


@dataclass
class SpeechFake(ABC):
    """Shared plumbing: canned replies first (errors, slow answers), then the normal answer."""

    canned: list[Reply] = field(default_factory=list)

    def __call__(self, rec: Recorded) -> Reply:
        denied = self.auth(rec)
        if denied is not None:
            return denied
        if self.canned:
            return self.canned.pop(0)
        return self.answer(rec)

    @abstractmethod
    def auth(self, rec: Recorded) -> Reply | None:
        """The provider's answer to a request without the right key, or None when it may pass."""

    @abstractmethod
    def answer(self, rec: Recorded) -> Reply:
        """The provider's documented answer to a good request."""


# --- OpenAI ---------------------------------------------------------------------------------------


def openai_error(status: int, message: str, type_: str, code: str | None, **headers: str) -> Reply:
    return Reply(
        status,
        {"error": {"message": message, "type": type_, "param": None, "code": code}},
        headers=headers,
    )


@dataclass
class OpenAISpeechFake(SpeechFake):
    api_key: str = ""
    seconds: float = 0.5  # how long each answer's tone lasts
    freq: float = 220.0  # its pitch, so a test can hear the lines apart from other sound by band

    def auth(self, rec: Recorded) -> Reply | None:
        if rec.headers.get("authorization") != f"Bearer {self.api_key}":
            given = rec.headers.get("authorization", "").removeprefix("Bearer ")
            # the real API masks the key it quotes; this fake quotes it whole, to prove we scrub
            return openai_error(
                401, f"Incorrect API key provided: {given}.", "invalid_request_error", "invalid_api_key"
            )
        return None

    def answer(self, rec: Recorded) -> Reply:
        if (rec.method, rec.path) != ("POST", "/v1/audio/speech"):
            return openai_error(404, "Not found", "invalid_request_error", None)
        body = rec.json() or {}
        for required in ("model", "input", "voice"):
            if not body.get(required):
                return openai_error(
                    400, f"Missing required parameter: '{required}'.", "invalid_request_error", None
                )
        if body["voice"] not in OPENAI_VOICES:
            return openai_error(
                400,
                f"Invalid value for 'voice': '{body['voice']}'.",
                "invalid_request_error",
                "invalid_value",
            )
        if len(body["input"]) > 4096:
            return openai_error(
                400,
                "Invalid 'input': string too long. Expected a string with maximum length 4096.",
                "invalid_request_error",
                "string_above_max_length",
            )
        if body.get("instructions") and body["model"].startswith("tts-1"):
            return openai_error(
                400, "instructions are not supported for tts-1", "invalid_request_error", None
            )
        return Reply(200, wav_bytes(self.seconds, freq=self.freq), headers={"Content-Type": "audio/wav"})


# --- MiniMax --------------------------------------------------------------------------------------


def minimax_error(code: int, msg: str) -> Reply:
    """A T2A error: HTTP 200, the error in `base_resp`, `data` null."""
    return Reply(
        200, {"data": None, "trace_id": "0303fake", "base_resp": {"status_code": code, "status_msg": msg}}
    )


@dataclass
class MiniMaxSpeechFake(SpeechFake):
    api_key: str = ""
    seconds: float = 0.5

    def auth(self, rec: Recorded) -> Reply | None:
        if rec.headers.get("authorization") != f"Bearer {self.api_key}":
            return minimax_error(
                1004, "login fail: Please carry the API secret key in the 'Authorization' field"
            )
        return None

    def answer(self, rec: Recorded) -> Reply:
        if (rec.method, rec.path) != ("POST", "/v1/t2a_v2"):
            return Reply(404, {"base_resp": {"status_code": 404, "status_msg": "not found"}})
        body = rec.json() or {}
        voice = (body.get("voice_setting") or {}).get("voice_id")
        if not body.get("model") or not voice or not body.get("text"):
            return minimax_error(2013, "invalid params, missing model, text or voice_setting.voice_id")
        if len(body["text"]) >= 10_000:
            return minimax_error(2013, "invalid params, text too long")
        audio = mp3_bytes(self.seconds)
        return Reply(
            200,
            {
                "data": {"audio": audio.hex(), "status": 2, "ced": ""},
                "extra_info": {
                    "audio_length": round(self.seconds * 1000),
                    "audio_sample_rate": 32000,
                    "audio_size": len(audio),
                    "bitrate": 128000,
                    "word_count": len(body["text"].split()),
                    "invisible_character_ratio": 0,
                    "usage_characters": len(body["text"]),
                    "audio_format": "mp3",
                    "audio_channel": 1,
                },
                "trace_id": "01b8bf9bb7433cc75c18eee6cfa8fe21",
                "base_resp": {"status_code": 0, "status_msg": "success"},
            },
        )


# --- ElevenLabs -----------------------------------------------------------------------------------


def elevenlabs_error(
    status: int, code: str, message: str, type_: str = "invalid_request", **headers: str
) -> Reply:
    """The documented envelope: `detail` with type, code, message, legacy status, request id."""
    detail = {"type": type_, "code": code, "message": message, "status": code, "request_id": "3c807fakec01"}
    return Reply(status, {"detail": detail}, headers=headers)


@dataclass
class ElevenLabsFake(SpeechFake):
    api_key: str = ""
    voices: frozenset[str] = frozenset({"JBFqnCBsd6RMkjVDRZzb", "EXAVITQu4vr4xnSDxMaL", "custom-clone-7"})
    language_models: frozenset[str] = frozenset({"eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_v3"})

    def auth(self, rec: Recorded) -> Reply | None:
        if rec.headers.get("xi-api-key") != self.api_key:
            return elevenlabs_error(401, "invalid_api_key", "Invalid API key", "authentication_error")
        return None

    def answer(self, rec: Recorded) -> Reply:
        prefix = "/v1/text-to-speech/"
        if rec.method != "POST" or not rec.path.startswith(prefix):
            return Reply(404, {"detail": "Not Found"})
        voice = rec.path.removeprefix(prefix)
        body: dict[str, Any] = rec.json() or {}
        if not body.get("text"):
            return Reply(
                422, {"detail": [{"loc": ["body", "text"], "msg": "field required", "type": "missing"}]}
            )
        if voice not in self.voices:
            return elevenlabs_error(
                400, "voice_not_found", f"A voice with the voice_id {voice} was not found."
            )
        if "language_code" in body and body.get("model_id") not in self.language_models:
            return elevenlabs_error(
                400,
                "invalid_parameters",
                f"Model '{body.get('model_id')}' does not support the language_code parameter.",
                "validation_error",
            )
        return Reply(
            200,
            mp3_bytes(),
            headers={"Content-Type": "audio/mpeg", "character-cost": str(len(body["text"]))},
        )


# --- Volcengine -----------------------------------------------------------------------------------


def volcengine_error(code: int, message: str, status: int = 200, reqid: str = "") -> Reply:
    return Reply(
        status, {"reqid": reqid, "code": code, "operation": "query", "message": message, "sequence": 0}
    )


@dataclass
class VolcengineFake(SpeechFake):
    token: str = ""
    app_id: str = ""
    voices: frozenset[str] = frozenset(
        {"BV700_streaming", "BV158_streaming", "zh_male_M392_conversation_wvae_bigtts"}
    )
    seen_reqids: set[str] = field(default_factory=set)
    seconds: float = 0.5

    def auth(self, rec: Recorded) -> Reply | None:
        body = rec.json() or {}
        app = body.get("app") or {}
        if rec.headers.get("authorization") != f"Bearer;{self.token}" or app.get("appid") != self.app_id:
            # quoting what it was given, to prove the wrapper scrubs secrets from messages
            return volcengine_error(
                3001,
                f"authenticate request: load grant: requested grant not found (appid={app.get('appid')}, "
                f"token={app.get('token')})",
                status=401,
            )
        return None

    def answer(self, rec: Recorded) -> Reply:
        if (rec.method, rec.path) != ("POST", "/api/v1/tts"):
            return Reply(404, {"code": 404, "message": "not found"})
        body = rec.json() or {}
        request, audio = body.get("request") or {}, body.get("audio") or {}
        reqid = str(request.get("reqid") or "")
        if (body.get("app") or {}).get("cluster") != "volcano_tts" or request.get("operation") != "query":
            return volcengine_error(3001, "invalid request: cluster or operation", reqid=reqid)
        if not reqid or reqid in self.seen_reqids:
            return volcengine_error(3006, "request already finished with this reqid", reqid=reqid)
        self.seen_reqids.add(reqid)
        text = str(request.get("text") or "")
        if not text.strip():
            return volcengine_error(3011, "illegal input text!", reqid=reqid)
        if len(text.encode()) > 1024:
            return volcengine_error(3010, "text too long", reqid=reqid)
        if audio.get("voice_type") not in self.voices:
            return volcengine_error(
                3050, "Fail to feed text, reason Init Engine Instance failed", reqid=reqid
            )
        return Reply(
            200,
            {
                "reqid": reqid,
                "code": 3000,
                "operation": "query",
                "message": "Success",
                "sequence": -1,
                "data": base64.b64encode(mp3_bytes(self.seconds)).decode(),
                "addition": {"duration": str(round(self.seconds * 1000))},
            },
        )
