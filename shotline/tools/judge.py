"""A vision-language judge for takes: frames and references in, a structured verdict out.

Works with any langchain-core chat model that reads images (OpenAI-compatible endpoints, Qwen-VL,
Doubao vision, Claude...). Images travel inline as base64 data URLs in the OpenAI-compatible
`image_url` content block, the shape langchain-core converts for every provider. The judge is an
opinion, not a gate: every failure (no structured answer, a model error) becomes a `JudgeError`
with a reason a person can read, and QC goes on without it.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from shotline.config import Settings
from shotline.memory.models import Character, Location, Shot
from shotline.tools.video.base import MediaRef

MAX_SIDE = 768  # long side of every image sent: enough to judge a face or a set, cheap in tokens

SYSTEM = (
    "You are the continuity supervisor of a film. You compare frames sampled from one take of a "
    "shot with the reference images of its characters and set. Judge identity (face, build, age, "
    "hair, marks, costume) and set (landmarks, layout, light) only; ignore image quality and style. "
    "Give a score from 0 (wrong people, wrong place) to 1 (clearly the same people in the same place) "
    "and one short reason for each problem you see, naming the character or landmark."
)


class JudgeVerdict(BaseModel):
    """What the judge thinks of one take."""

    model_config = ConfigDict(extra="forbid")
    identity_ok: bool = Field(description="every character is recognisably the one in their references")
    set_ok: bool = Field(description="the set matches its reference: landmarks, layout, light")
    score: float = Field(ge=0.0, le=1.0, description="overall continuity, 0 = wrong, 1 = a match")
    reasons: list[str] = Field(default_factory=list, description="one short sentence per problem seen")


class JudgeError(Exception):
    """The judge gave no usable verdict; the message says why, for the take's QC reasons."""


class Judge:
    """Asks a chat model whether a take's frames match the references, as a `JudgeVerdict`."""

    def __init__(self, model: BaseChatModel, *, max_side: int = MAX_SIDE) -> None:
        self.model = model
        self.max_side = max_side
        self._structured = model.with_structured_output(JudgeVerdict, include_raw=True)

    async def assess(
        self,
        *,
        frames: Sequence[Image.Image],
        references: Sequence[MediaRef],
        shot: Shot,
        prompt: str = "",
        characters: Sequence[Character] = (),
        location: Location | None = None,
    ) -> JudgeVerdict:
        """The verdict on one take; raises JudgeError when the model fails or answers off-form."""
        text = brief(shot, prompt or shot.prompt or shot.action, characters, location)
        messages = [SystemMessage(SYSTEM), HumanMessage(content=self.content(text, frames, references))]
        try:
            result: Any = await self._structured.ainvoke(messages)
        except Exception as exc:  # any provider fault: the judge is skipped, never QC itself
            raise JudgeError(f"the vision judge failed ({type(exc).__name__}: {_first_line(exc)})") from exc
        parsed = result.get("parsed") if isinstance(result, dict) else result
        if isinstance(parsed, JudgeVerdict):
            return parsed
        error = result.get("parsing_error") if isinstance(result, dict) else None
        detail = _first_line(error) if error else "no verdict in its answer"
        raise JudgeError(f"the vision judge gave no usable verdict ({detail})")

    def content(
        self, text: str, frames: Sequence[Image.Image], references: Sequence[MediaRef]
    ) -> list[str | dict[str, Any]]:
        """The user turn: the brief in words, then each reference and each frame with a label."""
        blocks: list[str | dict[str, Any]] = [{"type": "text", "text": text}]
        for ref in references:
            if ref.kind != "image" or not ref.path:
                continue
            blocks.append({"type": "text", "text": f"Reference: {ref.name or 'unnamed'}"})
            blocks.append(image_block(load_image(ref.path), self.max_side))
        for i, frame in enumerate(frames, 1):
            blocks.append({"type": "text", "text": f"Frame {i} of {len(frames)} from the take"})
            blocks.append(image_block(frame, self.max_side))
        return blocks


def brief(shot: Shot, prompt: str, characters: Sequence[Character], location: Location | None) -> str:
    """What the shot should show: the prompt the take was made from, then the bible's own words."""
    lines = [f"Shot {shot.id} ({shot.framing}, camera {shot.camera}).", f"Prompt: {prompt}"]
    lines += [f"Character {c.name}: {c.description}" for c in characters]
    if location is not None:
        lines.append(f"Set {location.name}: {location.description}")
    lines.append("Does the take keep these characters and this set as the references show them?")
    return "\n".join(lines)


def image_block(image: Image.Image, max_side: int = MAX_SIDE) -> dict[str, Any]:
    """An OpenAI-compatible image content block carrying the image inline as a JPEG data URL."""
    img = image.convert("RGB")
    img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=85)
    url = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return {"type": "image_url", "image_url": {"url": url}}


def load_image(path: str | Path) -> Image.Image:
    with Image.open(path) as img:
        return img.convert("RGB")


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def judge_from_settings(settings: Settings) -> Judge | None:
    """The judge on the configured chat model (SHOTLINE_LLM), or None when it is ``none``. It asks
    for its verdict with the provider's structured-output method (`llm.structured_method`), since
    many OpenAI-compatible servers accept a forced tool call but no json_schema `response_format`.
    A misconfigured SHOTLINE_LLM raises `LLMConfigError`."""
    from shotline.tools.llm import chat_model, structured_method

    model = chat_model(settings)
    if model is None:
        return None
    judge = Judge(model)
    judge._structured = model.with_structured_output(
        JudgeVerdict, include_raw=True, method=structured_method(settings)
    )
    return judge
