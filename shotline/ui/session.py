"""Drive the line for one order: shared by the CLI, the chat UI and the API so that every way in
behaves the same."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.types import Command

from shotline.agents import screenwriter
from shotline.agents.breakdown import slug
from shotline.agents.graph import Crew, build_graph
from shotline.agents.state import LineState, Order
from shotline.config import Settings
from shotline.errors import ScriptError
from shotline.memory.models import Ratio
from shotline.memory.store import checkpointer
from shotline.tools.fountain import parse
from shotline.tools.routing import Order as RoutingOrder
from shotline.tools.routing import RoutingPolicy

Event = dict[str, Any]


def project_id_for(path: Path) -> str:
    """A stable id per input file, so the same command reruns the same project."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    return f"{slug(path.stem)}-{digest}"


def make_film(
    source: Path,
    *,
    out_dir: Path,
    settings: Settings,
    ratio: Ratio = "16:9",
    provider: str = "animatic",
    budget_usd: float | None = None,
    approved: bool = False,
    project_id: str | None = None,
    crew: Crew | None = None,
    policy: RoutingOrder = "cheapest",
    refs_dir: Path | None = None,
    on_event: Callable[[Event], None] = lambda e: None,
    ask_approval: Callable[[dict[str, Any]], bool] = lambda request: False,
) -> LineState:
    """Screenplay or brief in, deliverables in `out_dir`. Bad input fails before anything is written."""
    text = screenwriter.read_source(source)
    try:  # a broken script fails here, in one clear line, before anything is written
        parse(screenwriter.to_script(text, filename=source.name))
    except ScriptError as exc:
        raise ScriptError(f"{source}: {exc}") from exc
    crew = crew or Crew(settings=settings, routing=RoutingPolicy(order=policy))
    crew.cards(provider)  # an unknown, unbuilt or keyless provider fails here, before anything is written
    order = Order(
        source_name=source.name,
        source_text=text,
        ratio=ratio,
        provider=provider,
        out_dir=str(out_dir),
        budget_usd=settings.budget_usd if budget_usd is None else budget_usd,
        approved=approved,
        refs_dir=str(refs_dir.resolve()) if refs_dir else None,
    )
    pid = project_id or project_id_for(source)
    config = {"configurable": {"thread_id": pid}}
    with checkpointer(settings.checkpoints_path) as saver:
        graph = build_graph(saver)
        payload: Any = {"project_id": pid, "order": order}
        while True:
            for mode, data in graph.stream(payload, config, context=crew, stream_mode=["custom", "updates"]):
                if mode == "custom":
                    on_event(data)
            snapshot = graph.get_state(config)
            if not snapshot.interrupts:
                return snapshot.values
            payload = Command(resume=ask_approval(snapshot.interrupts[0].value))
