"""The domain models that flow down the line: script -> breakdown -> bible -> storyboard -> takes -> cut.

Every agent and tool speaks these types at its boundary. Media never lives in these models:
takes point at files by relative path and content hash.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Ratio = Literal["16:9", "9:16", "1:1"]
RESOLUTIONS: dict[str, tuple[int, int]] = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (960, 960)}
FPS = 24

Framing = Literal["establishing", "wide", "medium", "two-shot", "close-up", "insert"]
Camera = Literal["static", "push-in", "pull-out", "pan-left", "pan-right", "tilt-up"]
Interior = Literal["INT", "EXT", "INT/EXT"]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- script ------------------------------------------------------------------------------


class Beat(Model):
    """One unit of a scene as written: an action paragraph or one speech."""

    kind: Literal["action", "dialogue"]
    text: str
    line: int = Field(description="1-based line in script.fountain where the beat starts")
    character: str | None = Field(default=None, description="character id of the speaker")
    parenthetical: str | None = None
    extension: str | None = Field(default=None, description="V.O., O.S., CONT'D ...")


class Scene(Model):
    id: str = Field(description="'sc1', 'sc2' ... in script order")
    number: int
    heading: str
    location: str = Field(description="location id")
    interior: Interior
    time_of_day: str = Field(description="as written, upper case: DAY, NIGHT, 夜 ...")
    night: bool
    line: int
    characters: list[str] = Field(default_factory=list, description="character ids, first seen order")
    beats: list[Beat] = Field(default_factory=list)
    placements: dict[str, str] = Field(
        default_factory=dict, description="character id -> named standing position in the set's layout"
    )


# --- bible -------------------------------------------------------------------------------


FIXED_SLOTS = ("age", "build", "hair", "eyes", "beard", "marks")
"""What a character keeps whatever they wear: age, face (hair, eyes, beard), build and marks."""


class Costume(Model):
    """A named costume variant: what a character wears from a scene on ('MEI, yellow raincoat')."""

    name: str = Field(description="'MEI, yellow raincoat': the character and the clothing")
    description: str = Field(description="the clothing as written, e.g. 'yellow raincoat'")
    scenes: list[str] = Field(default_factory=list, description="scene ids where this costume is worn")
    color: str | None = Field(default=None, description="display colour '#rrggbb' in those scenes")


class Character(Model):
    id: str = Field(description="stable slug, e.g. 'mei'")
    name: str = Field(description="name as the script writes it, e.g. 'MEI'")
    description: str = Field(description="canonical description, the words used in every prompt")
    attributes: dict[str, str] = Field(
        default_factory=dict,
        description="attribute -> value: age, hair, clothing, colour, marks, props ...",
    )
    color: str = Field(description="stable display colour '#rrggbb' for animatics and UI")
    line: int | None = Field(default=None, description="script line where the character is introduced")
    version: int = 1
    voices: dict[str, str] = Field(
        default_factory=dict, description="speech provider -> voice id, cast once and kept"
    )
    costumes: list[Costume] = Field(
        default_factory=list, description="costume variants by scene; the description's clothing elsewhere"
    )

    def costume_in(self, scene_id: str | None) -> Costume | None:
        """The variant worn in a scene, or None where the canonical description's clothing holds."""
        return next((c for c in self.costumes if scene_id in c.scenes), None)

    def fixed_traits(self) -> dict[str, str]:
        """The attributes that identify the character in any costume (age, face, build, marks)."""
        return {k: v for k, v in self.attributes.items() if k.split(":", 1)[0] in FIXED_SLOTS}


class Landmark(Model):
    """A fixed feature of a set that must stay where it is after every cut."""

    name: str = Field(description="as the script writes it: 'door', 'counter', '门'")
    kind: str = Field(description="door, window, counter, bar, stove, lamp, monitor, hatch, table ...")
    x: float = Field(ge=0.0, le=1.0, description="horizontal screen position along the camera axis")


class Layout(Model):
    """Where things are in a set, seen from the one camera axis the coverage keeps (180-degree rule)."""

    landmarks: list[Landmark] = Field(default_factory=list)
    camera_axis: str = Field(default="facing the far wall", description="where the master camera looks")
    positions: dict[str, float] = Field(
        default_factory=dict, description="named standing position ('by the door') -> screen x 0..1"
    )


class Location(Model):
    id: str
    name: str = Field(description="as in the scene heading, e.g. 'RAINY ALLEY'")
    interior: Interior
    description: str
    attributes: dict[str, str] = Field(default_factory=dict)
    color: str = Field(description="backdrop colour '#rrggbb' for the animatic")
    line: int | None = None
    version: int = 1
    layout: Layout = Field(default_factory=Layout)


class Breakdown(Model):
    title: str
    style: str = ""
    language: str = Field(default="en", description="'en', 'zh', 'fr' ... detected from the text")
    scenes: list[Scene]
    characters: list[Character]
    locations: list[Location]

    def character(self, cid: str) -> Character:
        return next(c for c in self.characters if c.id == cid)

    def location(self, lid: str) -> Location:
        return next(loc for loc in self.locations if loc.id == lid)


# --- storyboard --------------------------------------------------------------------------


class DialogueLine(Model):
    character: str = Field(description="character id")
    text: str
    parenthetical: str | None = None
    line: int


class Shot(Model):
    id: str = Field(description="stable shot id, '001' ...; survives reorders")
    number: int = Field(description="position in the film, 1-based")
    scene: str = Field(description="scene id")
    framing: Framing
    camera: Camera
    duration_s: float = Field(ge=2.0, le=10.0)
    characters: list[str] = Field(default_factory=list, description="character ids in frame")
    location: str = Field(description="location id")
    action: str = ""
    dialogue: list[DialogueLine] = Field(default_factory=list)
    subject: str | None = Field(default=None, description="who or what the shot singles out")
    positions: dict[str, float] = Field(
        default_factory=dict,
        description="character id -> horizontal screen position 0..1, fixed within a scene",
    )
    lines: list[int] = Field(default_factory=list, description="script lines this shot covers")
    prompt: str = ""


class Storyboard(Model):
    ratio: Ratio = "16:9"
    style: str = ""
    shots: list[Shot]

    @property
    def duration_s(self) -> float:
        return round(sum(s.duration_s for s in self.shots), 3)


class Conflict(Model):
    """A shot's own text contradicts the bible; found before any money is spent."""

    shot_id: str
    subject: str = Field(description="character or location name")
    attribute: str
    bible_value: str
    shot_value: str
    line: int | None = None
    message: str


# --- takes and cut -----------------------------------------------------------------------


class Take(Model):
    shot_id: str
    render_key: str
    model: str
    path: str = Field(description="absolute path of the take file in the take store")
    sha256: str
    duration_s: float
    width: int
    height: int
    cost_usd: float = 0.0
    cache_hit: bool = False
    seconds: float = Field(default=0.0, description="wall time spent producing it")


TransitionKind = Literal["cut", "crossfade", "dip"]
ONLINE_LUFS = -14.0
BROADCAST_LUFS = -23.0


class Transition(Model):
    """How the cut passes into a shot. A crossfade or a dip to black of `seconds` overlaps the two
    takes by that long, centred on the cut: the film gets shorter by exactly that much."""

    kind: TransitionKind = "cut"
    seconds: float = Field(default=0.5, ge=0.0, le=3.0, description="overlap, ignored for a cut")


class Sound(Model):
    """The editor's sound decisions: voices, the music bed and the loudness target."""

    voices: bool = Field(default=True, description="speak the dialogue when a voice is available")
    music: str | None = Field(default=None, description="the music bed the person gave (path), or None")
    music_db: float = Field(
        default=-6.0, ge=-40.0, le=12.0, description="music level relative to the dialogue, LU"
    )
    target_lufs: float = Field(
        default=ONLINE_LUFS, ge=-36.0, le=-8.0, description="-14 online, -23 broadcast"
    )


class Edit(Model):
    """The editor's decisions on top of the storyboard: order, lengths, transitions, sound, subtitles
    and extra frames. Changing them renders no take (speech lines may be spoken, from the cache)."""

    order: list[str] | None = Field(default=None, description="shot ids in cut order; None: storyboard order")
    lengths: dict[str, float] = Field(
        default_factory=dict, description="shot id -> seconds it plays in the cut, when trimmed"
    )
    dropped: list[str] = Field(default_factory=list, description="shot ids taken out of the cut")
    transitions: dict[str, Transition] = Field(
        default_factory=dict, description="shot id -> how the cut passes into that shot (wins over scenes)"
    )
    scene_transitions: dict[str, Transition] = Field(
        default_factory=dict, description="scene id -> how the cut passes into the scene's first shot"
    )
    sound: Sound = Field(default_factory=Sound)
    burn_subtitles: bool = Field(default=False, description="draw the subtitles into the picture")
    reframes: list[Ratio] = Field(
        default_factory=list, description="extra versions reframed from the cut: '9:16', '1:1'"
    )


class Cut(Model):
    shots: list[str] = Field(description="shot ids in cut order")
    duration_s: float
    files: dict[str, str] = Field(default_factory=dict, description="deliverable name -> path")
