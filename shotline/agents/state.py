"""The graph's state: one project, keyed by its id as the checkpointer's thread_id.

Each agent writes only its own keys. Media stays out of state: takes point at files by path and hash.
"""

from __future__ import annotations

from typing import TypedDict

from shotline.memory.models import Breakdown, Conflict, Cut, Ratio, Storyboard, Take
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


class LineState(TypedDict, total=False):
    project_id: str
    order: Order  # director
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
