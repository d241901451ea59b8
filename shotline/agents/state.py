"""The graph's state: one project, keyed by its id as the checkpointer's thread_id.

Each agent writes only its own keys. Media stays out of state: takes point at files by path and hash.
"""

from __future__ import annotations

import operator
from typing import Annotated, Literal, TypedDict

from shotline.agents.decisions import ChangeBible, Decision
from shotline.memory.models import Breakdown, Conflict, Cut, Edit, Ratio, Storyboard, Take
from shotline.tools.qc import TakeVerdict
from shotline.tools.video.base import MediaRef


class Order(TypedDict):
    """What the person asked for: the director reads it and routes."""

    source_name: str
    source_text: str
    ratio: Ratio
    provider: str
    out_dir: str
    budget_usd: float
    approved: bool
    refs_dir: str | None  # a person's own reference images: <NAME>.<view>.png
    target_s: float | None  # the length the person asked for, when they did


class Turn(TypedDict):
    """One message of the conversation."""

    role: Literal["user", "assistant"]
    text: str
    version: int  # the version of the film this message was said about (assistant) or to (user)


class Version(TypedDict):
    """One entry of the project's history: what made this version, and where its files are."""

    version: int
    parent: int | None
    summary: str
    folder: str | None  # the version's deliverables (None until it was cut)


class Routes(TypedDict):
    per_framing: dict[str, str]
    per_shot: dict[str, str]


class LineState(TypedDict, total=False):
    project_id: str
    order: Order  # director
    messages: Annotated[list[Turn], operator.add]  # everyone: the conversation, never rewritten
    history: Annotated[list[Version], operator.add]  # director, editor: every version made, never rewritten
    command: Decision | None  # input: a decision made by a button (approve, revert), read as is
    decision: Decision | None  # director: what this message asked for; each agent applies its part
    version: int  # director: the version the project is at (restored by undo)
    lineage: list[int]  # director: the versions this one descends from, oldest first (undo walks it)
    routes: Routes  # director: provider choices the person made per framing and per shot
    bible_edits: list[ChangeBible]  # continuity: look changes the person made, re-applied after a rewrite
    edit: Edit  # editor: order and trims on top of the storyboard
    unrendered: bool  # approve, render: a change waits for a render the person declined
    fresh: list[str]  # render: the shots rendered (not taken from the cache) in this turn
    script: str  # screenwriter
    breakdown: Breakdown  # screenwriter
    storyboard: Storyboard  # screenwriter, then continuity (prompts)
    conflicts: list[Conflict]  # continuity
    takes: dict[str, Take]  # render
    verdicts: dict[str, TakeVerdict]  # render: take QC, per shot
    references: dict[str, list[MediaRef]]  # render: the images each shot's take was made with
    refused: dict[str, str]  # render: shot id -> the provider's moderation reason
    rewrites: int  # continuity: rounds of softening refused prompts in this order
    estimate_usd: float  # approve: what the takes and images asked for will cost
    approved_usd: float  # approve: the most this order may spend (estimate plus the QC retry allowance)
    cut: Cut  # editor
