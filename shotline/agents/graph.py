"""The LangGraph graph that runs the line: director -> screenwriter -> continuity -> approve -> render
-> editor, its state checkpointed per project (thread_id = project id).

Dependencies (settings, bible, models, stores) travel in the run's context, never in state, so
nothing secret is checkpointed and tests swap them freely.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from shotline.agents import continuity, editor, screenwriter
from shotline.agents.state import LineState
from shotline.config import Settings
from shotline.errors import BudgetExceeded
from shotline.memory.bible import Bible
from shotline.memory.store import Ledger, TakeStore
from shotline.tools.render import Renderer, RenderEvent
from shotline.tools.shot_request import build_request
from shotline.tools.video import get_model
from shotline.tools.video.base import VideoModel


@dataclass
class Crew:
    """What the agents work with; passed as the run context on every invoke and resume."""

    settings: Settings
    models: dict[str, VideoModel] = field(default_factory=dict)

    def model(self, name: str) -> VideoModel:
        if name not in self.models:
            self.models[name] = get_model(name)
        return self.models[name]


def _emit(stage: str, status: str, **data: Any) -> None:
    get_stream_writer()({"stage": stage, "status": status, **data})


def director(state: LineState, runtime: Runtime[Crew]) -> Command[Literal["screenwriter"]]:
    """Reads the order and decides what happens next. Offline, a new order means: make the film."""
    order = state["order"]
    runtime.context.model(order["provider"])  # an unknown provider fails here, before any work
    _emit(
        "director",
        "done",
        message=f"making {order['source_name']!r} at {order['ratio']} on {order['provider']}",
    )
    return Command(goto="screenwriter")


def write(state: LineState) -> dict[str, Any]:
    order = state["order"]
    _emit("screenwriter", "running")
    script = screenwriter.to_script(order["source_text"], filename=order["source_name"])
    breakdown = screenwriter.break_down_script(script)
    board = screenwriter.storyboard(breakdown, ratio=order["ratio"])
    _emit(
        "screenwriter",
        "done",
        message=f"{len(breakdown.scenes)} scenes, {len(breakdown.characters)} characters, {len(board.shots)} shots",
    )
    return {"script": script, "breakdown": breakdown, "storyboard": board}


def keep_continuity(state: LineState, runtime: Runtime[Crew]) -> dict[str, Any]:
    _emit("continuity", "running")
    breakdown = state["breakdown"]
    bible = Bible.open(runtime.context.settings.bible_dir, state["project_id"])
    bible.load(breakdown)
    board = continuity.apply_prompts(state["storyboard"], breakdown)
    conflicts = continuity.check(board, breakdown)
    _emit(
        "continuity",
        "done",
        message=f"{len(conflicts)} conflicts with the bible",
        conflicts=[c.message for c in conflicts],
    )
    return {"storyboard": board, "conflicts": conflicts}


def _renderer(state: LineState, crew: Crew, on_event=lambda e: None) -> tuple[Renderer, list]:
    order = state["order"]
    settings = crew.settings
    renderer = Renderer(
        store=TakeStore(settings.takes_dir),
        ledger=Ledger(settings.root / "ledger.sqlite"),
        models={order["provider"]: crew.model(order["provider"])},
        project_id=state["project_id"],
        concurrency=settings.concurrency,
        on_event=on_event,
    )
    board = state["storyboard"]
    requests = [build_request(s, state["breakdown"], board, order["provider"]) for s in board.shots]
    return renderer, requests


def approve(state: LineState, runtime: Runtime[Crew]) -> dict[str, Any]:
    """Nothing is spent without approval: a paid render stops here until a person says yes."""
    order = state["order"]
    renderer, requests = _renderer(state, runtime.context)
    estimate = renderer.estimate_usd(requests)
    if estimate > 0 and order["budget_usd"] and estimate > order["budget_usd"]:
        raise BudgetExceeded(
            f"the render is estimated at ${estimate:.2f}, over the ${order['budget_usd']:.2f} budget; "
            "raise --budget or render fewer shots"
        )
    if estimate > 0 and not order["approved"]:
        answer = interrupt({"estimate_usd": estimate, "shots": len(requests), "provider": order["provider"]})
        if not answer:
            raise BudgetExceeded("render declined: nothing was spent")
    return {"estimate_usd": estimate}


def render(state: LineState, runtime: Runtime[Crew]) -> dict[str, Any]:
    writer = get_stream_writer()

    def relay(event: RenderEvent) -> None:
        writer({"stage": "render", "status": event.stage, "shot_id": event.shot_id, "message": event.message})

    renderer, requests = _renderer(state, runtime.context, relay)
    _emit("render", "running", total=len(requests))
    takes = asyncio.run(renderer.render(requests))
    rendered = sum(1 for t in takes.values() if not t.cache_hit)
    _emit("render", "finished", message=f"{rendered} rendered, {len(takes) - rendered} from cache")
    return {"takes": takes}


def edit(state: LineState) -> dict[str, Any]:
    _emit("editor", "running")
    order = state["order"]

    def progress(step: str, fraction: float) -> None:
        _emit("editor", "progress", step=step, fraction=fraction)

    cut = editor.deliver(
        out_dir=Path(order["out_dir"]),
        script_text=state["script"],
        breakdown=state["breakdown"],
        storyboard=state["storyboard"],
        takes=state["takes"],
        conflicts=state.get("conflicts", []),
        on_progress=progress,
    )
    _emit("editor", "done", message=f"{cut.duration_s:.1f} s cut in {order['out_dir']}")
    return {"cut": cut}


def build_graph(checkpointer: BaseCheckpointSaver | None = None):
    """The compiled line. Pass a checkpointer to make projects survive restarts."""
    g = StateGraph(LineState, context_schema=Crew)
    g.add_node("director", director)
    g.add_node("screenwriter", write)
    g.add_node("continuity", keep_continuity)
    g.add_node("approve", approve)
    g.add_node("render", render)
    g.add_node("editor", edit)
    g.add_edge(START, "director")
    g.add_edge("screenwriter", "continuity")  # the director's Command sends work to the screenwriter
    g.add_edge("continuity", "approve")
    g.add_edge("approve", "render")
    g.add_edge("render", "editor")
    g.add_edge("editor", END)
    return g.compile(checkpointer=checkpointer)
