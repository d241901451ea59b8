"""What the director may decide: a closed vocabulary of actions, one structured decision per message.

The chat model (or, offline, the command grammar) only ever chooses among these; each agent then
applies the actions that concern it. Nothing a person types, and nothing a script says, can make
the line do anything outside this list: the script is data, never instructions.

Shots are named by their number as the storyboard shows it ("shot 4" is shot id "004"); numbers
are labels that survive reorders, so "swap 2 and 3" then "shot 2 shorter" means the same shot 2.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FramingName = Literal["establishing", "wide", "medium", "two-shot", "close-up", "insert"]


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid")


def shot_id(value: str | int) -> str:
    """'4', 4, '004', 'shot 4' -> '004'."""
    text = str(value).strip().lower().removeprefix("shot").strip().lstrip("#")
    if not text.isdigit():
        raise ValueError(f"{value!r} is not a shot number")
    return f"{int(text):03d}"


class _ShotRef(_Action):
    @field_validator("shot", "other", "anchor", mode="before", check_fields=False)
    @classmethod
    def _normalise(cls, value: str | int | None) -> str | None:
        return None if value is None else shot_id(value)


# --- script and storyboard (the screenwriter applies these) ----------------------------------


class WriteScript(_Action):
    """Write a new screenplay from a brief (replaces the current film)."""

    kind: Literal["write_script"] = "write_script"
    brief: str = Field(description="the brief, in the person's words and language")
    target_s: float | None = Field(default=None, description="target length of the film in seconds")
    ratio: Literal["16:9", "9:16", "1:1"] | None = None


class ReviseScene(_Action):
    """Rewrite one scene of the screenplay as asked (needs a chat model)."""

    kind: Literal["revise_scene"] = "revise_scene"
    scene: int = Field(ge=1, description="scene number, 1-based")
    instruction: str


class AddShot(_ShotRef):
    """A new shot placed after an existing one; it is the only shot rendered."""

    kind: Literal["add_shot"] = "add_shot"
    anchor: str = Field(description="the new shot comes after this shot number")
    framing: FramingName = "close-up"
    subject: str | None = Field(default=None, description="character name the shot singles out")
    action: str = ""
    duration_s: float | None = Field(default=None, ge=2.0, le=10.0)


class Retime(_ShotRef):
    """Render a shot at a new length: only when the take is too short for the cut asked for."""

    kind: Literal["retime"] = "retime"
    shot: str
    duration_s: float = Field(ge=2.0, le=10.0)


# --- the bible (continuity applies these) ----------------------------------------------------


class ChangeBible(_Action):
    """Change what a character or set looks like; every shot they appear in follows."""

    kind: Literal["change_bible"] = "change_bible"
    target: str = Field(description="character or location name as the bible has it")
    item: str = Field(description="what changes: 'jacket', 'hair', 'eyes', 'lamp' ...")
    value: str = Field(description="the new value: 'red', 'short grey', ...")
    scenes: list[int] | None = Field(default=None, description="scene numbers; None means everywhere")


# --- routing and money (the director applies these) ------------------------------------------


class Route(_Action):
    """Render some shots with a given provider: by framing, by shot, or all."""

    kind: Literal["route"] = "route"
    provider: str
    framing: FramingName | None = None
    shots: list[str] = Field(default_factory=list)

    @field_validator("shots", mode="before")
    @classmethod
    def _ids(cls, value: list[str | int]) -> list[str]:
        return [shot_id(v) for v in value]


class SetBudget(_Action):
    kind: Literal["set_budget"] = "set_budget"
    usd: float = Field(ge=0)


class Render(_Action):
    """Render what changed (after approval when it costs money)."""

    kind: Literal["render"] = "render"


# --- the cut (the editor applies these; nothing is rendered) ---------------------------------


class Trim(_ShotRef):
    """Change how long a shot plays in the cut: `seconds` sets it, `by_s` adds (negative: shorter)."""

    kind: Literal["trim"] = "trim"
    shot: str
    seconds: float | None = Field(default=None, gt=0)
    by_s: float | None = None


class Swap(_ShotRef):
    kind: Literal["swap"] = "swap"
    shot: str
    other: str


class Move(_ShotRef):
    kind: Literal["move"] = "move"
    shot: str
    anchor: str
    where: Literal["before", "after"] = "after"


class Drop(_ShotRef):
    """Take a shot out of the cut (its take stays stored)."""

    kind: Literal["drop"] = "drop"
    shot: str


# --- the finish (the editor applies these; nothing is rendered) ------------------------------

TransitionStyle = Literal["cut", "crossfade", "dip"]
TRANSITION_SECONDS: dict[str, float] = {"cut": 0.0, "crossfade": 0.5, "dip": 1.0}
"""How long a transition lasts when the person gives no length."""
ReframeRatio = Literal["9:16", "1:1"]
VOICE_ID = re.compile(r"[A-Za-z0-9][\w.:-]{0,79}")
"""A voice id is a catalogue key, never a path or a URL: letters, digits and . _ : - only."""
MAX_HINT = 80


class SetTransition(_ShotRef):
    """How the cut passes into a shot, into a scene, or (neither given) at every scene change."""

    kind: Literal["transition"] = "transition"
    style: TransitionStyle = Field(description="cut, crossfade (dissolve) or dip (through black)")
    seconds: float | None = Field(
        default=None, ge=0.1, le=3.0, description="length; None: 0.5 s crossfade, 1 s dip"
    )
    shot: str | None = Field(default=None, description="the transition into this shot number")
    scene: int | None = Field(default=None, ge=1, description="the transition into this scene, 1-based")

    @model_validator(mode="after")
    def _one_place(self) -> SetTransition:
        if self.shot is not None and self.scene is not None:
            raise ValueError("a transition goes into a shot or into a scene, not both")
        return self

    @property
    def length_s(self) -> float:
        """The length asked for, or the style's default."""
        return 0.0 if self.style == "cut" else self.seconds or TRANSITION_SECONDS[self.style]


class SetSound(_Action):
    """The sound of the cut. The music file itself is never chosen here: a path in a message could
    point anywhere, so the person attaches the file and the UI hands it to the editor."""

    kind: Literal["sound"] = "sound"
    music_db: float | None = Field(
        default=None, ge=-40.0, le=12.0, description="music level relative to the dialogue, dB (LU)"
    )
    music_by_db: float | None = Field(
        default=None, ge=-40.0, le=40.0, description="change of the music level: +3 louder, -3 quieter"
    )
    music_off: bool = Field(default=False, description="no music at all")
    target_lufs: float | None = Field(
        default=None, ge=-36.0, le=-8.0, description="loudness target: -14 online, -23 broadcast"
    )
    voices: bool | None = Field(
        default=None, description="speak the dialogue (True) or captions only (False)"
    )


class SetSubtitles(_Action):
    """Burn the subtitles into the picture, or deliver them only as a file."""

    kind: Literal["subtitles"] = "subtitles"
    burn: bool


class Reframe(_Action):
    """Extra versions of the cut reframed to other ratios (or, with `remove`, no longer made)."""

    kind: Literal["reframe"] = "reframe"
    ratios: list[ReframeRatio] = Field(description="'9:16' (vertical) and/or '1:1' (square)")
    remove: bool = False

    @field_validator("ratios")
    @classmethod
    def _some(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("name at least one ratio")
        return list(dict.fromkeys(value))


class SetVoice(_Action):
    """Recast a character's voice: a named voice, or a description the recasting matches."""

    kind: Literal["voice"] = "voice"
    character: str = Field(description="character name as the bible has it")
    voice: str | None = Field(default=None, description="an explicit voice id, e.g. 'nova'")
    hint: str | None = Field(default=None, description="'deeper', 'older', 'a woman's voice', '更低沉'")

    # checked here, not in the JSON schema: strict structured output accepts few string keywords
    @field_validator("voice")
    @classmethod
    def _catalogue_key(cls, value: str | None) -> str | None:
        if value is not None and not VOICE_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not a voice id")
        return value

    @field_validator("character")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("name the character")
        return value.strip()

    @field_validator("hint")
    @classmethod
    def _short(cls, value: str | None) -> str | None:
        if value is not None and len(value) > MAX_HINT:
            raise ValueError(f"a voice description is at most {MAX_HINT} characters")
        return value


# --- conversation and history ----------------------------------------------------------------


class Answer(_Action):
    """Reply without changing anything: a question, a status, or what the director understands."""

    kind: Literal["answer"] = "answer"
    text: str = ""
    topic: Literal["status", "cost", "help", "other"] = "other"


class Undo(_Action):
    kind: Literal["undo"] = "undo"
    steps: int = Field(default=1, ge=1)


class Revert(_Action):
    """Go back to version N as it was, cut included."""

    kind: Literal["revert"] = "revert"
    version: int = Field(ge=0)


Action = Annotated[
    WriteScript
    | ReviseScene
    | AddShot
    | Retime
    | ChangeBible
    | Route
    | SetBudget
    | Render
    | Trim
    | Swap
    | Move
    | Drop
    | SetTransition
    | SetSound
    | SetSubtitles
    | Reframe
    | SetVoice
    | Answer
    | Undo
    | Revert,
    Field(discriminator="kind"),
]

SCRIPT_ACTIONS = (WriteScript, ReviseScene, AddShot, Retime)
BIBLE_ACTIONS = (ChangeBible,)
ROUTING_ACTIONS = (Route, SetBudget, Render)
EDIT_ACTIONS = (Trim, Swap, Move, Drop, SetTransition, SetSound, SetSubtitles, Reframe)
VOICE_ACTIONS = (SetVoice,)  # voices live in the bible: continuity recasts them
HISTORY_ACTIONS = (Undo, Revert)


class Decision(BaseModel):
    """The director's reading of one message: what to do, in order, and what it understood."""

    model_config = ConfigDict(extra="forbid")

    actions: list[Action] = Field(default_factory=list)
    understood: bool = Field(default=True, description="False when the message asked for nothing known")
    summary: str = Field(default="", description="one line: what the director will do, for the chat")

    def of(self, *kinds: type[_Action]) -> list:
        return [a for a in self.actions if isinstance(a, kinds)]


class CastMember(BaseModel):
    """What the director knows of a character when reading a message."""

    id: str
    name: str = Field(description="as the script writes it: 'MEI', '梅'")
    description: str = ""


class Situation(BaseModel):
    """What the director sees of the project when it reads a message: enough to resolve names,
    pronouns and shot numbers, and nothing secret."""

    model_config = ConfigDict(extra="forbid")

    has_film: bool = Field(default=False, description="a script exists")
    characters: list[CastMember] = Field(default_factory=list)
    locations: list[str] = Field(default_factory=list, description="location names")
    shots: list[str] = Field(default_factory=list, description="shot ids in cut order: '001' ...")
    framings: dict[str, str] = Field(default_factory=dict, description="shot id -> framing")
    durations: dict[str, float] = Field(default_factory=dict, description="shot id -> seconds in the cut")
    scenes: int = 0
    providers: list[str] = Field(default_factory=list, description="provider names the line knows")
    last_character: str | None = Field(default=None, description="id of the character last talked about")
    version: int = 0
