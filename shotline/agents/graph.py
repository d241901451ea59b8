"""The LangGraph graph that runs the line: director -> screenwriter -> continuity -> approve -> render
-> editor, its state checkpointed per project (thread_id = project id).

Dependencies (settings, bible, models, stores) travel in the run's context, never in state, so
nothing secret is checkpointed and tests swap them freely.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
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
from shotline.errors import BudgetExceeded, ProviderUnavailable, RefusedPrompt, RenderError
from shotline.memory.bible import Bible
from shotline.memory.models import Shot, Take
from shotline.memory.store import Ledger, TakeStore
from shotline.tools.image import get_image_model
from shotline.tools.image.base import ImageModel
from shotline.tools.judge import Judge
from shotline.tools.qc import TakeVerdict, best_take, check_take
from shotline.tools.references import ImageAssets
from shotline.tools.render import Renderer, RenderEvent, RenderPolicy, ShotJob, model_key
from shotline.tools.render_plan import ShotImages, base_shot, make_images, retry_job, shot_jobs, with_variants
from shotline.tools.routing import RoutingPolicy
from shotline.tools.video import catalog, get_model
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, VideoModel

AUTO = "auto"  # route every shot across all usable providers
MAX_REWRITES = 1  # a refused shot is softened once; then a person decides
QC_PASS = 0.6
QC_THRESHOLD = {"establishing": 0.5, "wide": 0.5}  # small figures in a big set match their sheets less


@dataclass
class Crew:
    """What the agents work with; passed as the run context on every invoke and resume."""

    settings: Settings
    models: dict[str, VideoModel] = field(default_factory=dict)
    routing: RoutingPolicy = field(default_factory=RoutingPolicy)
    render_policy: RenderPolicy | None = None  # None: the defaults, with the settings' poll interval
    judge: Judge | None = None  # a vision-language model that looks at every take (None: local checks only)
    _image: ImageModel | None = None

    def model(self, name: str, model_id: str | None = None) -> VideoModel:
        """A model ready to call; one without a key fails here, before any work, saying which key."""
        key = f"{name}/{model_id}" if model_id else name
        if key not in self.models:
            self.models[key] = get_model(name, self.settings, model_id=model_id)
        model = self.models[key]
        reason = model.unavailable_reason() if hasattr(model, "unavailable_reason") else None
        if reason:
            raise ProviderUnavailable(reason, provider=name)
        return model

    def image_model(self) -> ImageModel:
        if self._image is None:
            self._image = get_image_model(self.settings.image_provider, self.settings)
        return self._image

    def cards(self, name: str) -> tuple[ModelCard, ...]:
        """The models a provider offers; `auto` means every provider usable here (but the animatic)."""
        if name == AUTO:
            usable = [
                info
                for info in catalog(self.settings)
                if info.unavailable is None and info.name != "animatic"
            ]
            if not usable:
                raise ProviderUnavailable(
                    "no video model has a key here; run `shotline providers`", provider=AUTO
                )
            return tuple(card for info in usable for card in info.cards)
        model = self.model(name)
        return tuple(getattr(type(model), "cards", None) or (model.card,))


def _emit(stage: str, status: str, **data: Any) -> None:
    get_stream_writer()({"stage": stage, "status": status, **data})


def director(state: LineState, runtime: Runtime[Crew]) -> Command[Literal["screenwriter"]]:
    """Reads the order and decides what happens next. Offline, a new order means: make the film."""
    order = state["order"]
    runtime.context.cards(order["provider"])  # an unknown or keyless provider fails here, before any work
    _emit(
        "director",
        "done",
        message=f"making {order['source_name']!r} at {order['ratio']} on {order['provider']}",
    )
    return Command(goto="screenwriter", update={"rewrites": 0, "refused": {}})


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


def _assets(crew: Crew) -> ImageAssets:
    return ImageAssets(crew.settings.root / "assets", crew.image_model())


def _plan(state: LineState, crew: Crew, *, make: bool) -> tuple[ShotImages, list[ShotJob]]:
    """The images each routed model will be sent, and one job per shot."""
    provider, board, breakdown = state["order"]["provider"], state["storyboard"], state["breakdown"]
    cards = crew.cards(provider)
    uploads = Path(state["order"]["refs_dir"]) if state["order"].get("refs_dir") else None
    images = make_images(
        breakdown, board, provider, cards, crew.routing, _assets(crew), make=make, uploads=uploads
    )
    return images, shot_jobs(breakdown, board, provider, cards, crew.routing, images)


def _renderer(
    state: LineState,
    crew: Crew,
    jobs: list[ShotJob],
    on_event=lambda e: None,
    budget_usd: float | None = None,
) -> Renderer:
    settings = crew.settings
    models = {model_key(r): crew.model(r.model, r.model_id) for job in jobs for r in job.candidates}
    policy = _policy(crew)
    providers = {r.model for job in jobs for r in job.candidates} - set(policy.per_provider)
    policy = replace(
        policy, per_provider={**policy.per_provider, **dict.fromkeys(providers, settings.concurrency)}
    )
    return Renderer(
        store=TakeStore(settings.takes_dir),
        ledger=Ledger(settings.root / "ledger.sqlite"),
        models=models,
        project_id=state["project_id"],
        policy=policy,
        budget_usd=budget_usd,
        on_event=on_event,
    )


def approve(state: LineState, runtime: Runtime[Crew]) -> dict[str, Any]:
    """Nothing is spent without approval: a paid render stops here until a person says yes. The
    estimate covers every take asked for (best of N) and the images; QC retries get an allowance on
    top, shown apart, so the person approves the most the run may spend."""
    order, crew = state["order"], runtime.context
    images, base_jobs = _plan(state, crew, make=False)
    policy = _policy(crew)
    jobs = with_variants(base_jobs, policy.takes_per_shot)
    renderer = _renderer(state, crew, jobs)
    estimate = round(renderer.estimate_usd(jobs) + images.unpaid_usd, 4)
    allowance = round(policy.qc_retries * renderer.estimate_usd(base_jobs), 4)
    if estimate > 0 and order["budget_usd"] and estimate > order["budget_usd"]:
        raise BudgetExceeded(
            f"the render is estimated at ${estimate:.2f}, over the ${order['budget_usd']:.2f} budget; "
            "raise --budget or render fewer shots"
        )
    if estimate > 0 and not order["approved"]:
        answer = interrupt(
            {
                "estimate_usd": estimate,
                "retry_allowance_usd": allowance,
                "shots": len(base_jobs),
                "takes": len(jobs),
                "provider": order["provider"],
            }
        )
        if not answer:
            raise BudgetExceeded("render declined: nothing was spent")
    return {"estimate_usd": estimate, "approved_usd": round(estimate + allowance, 4)}


def render(state: LineState, runtime: Runtime[Crew]) -> Command[Literal["editor", "rewrite"]]:
    """Render every shot (best of N when the policy asks), check every take, retry a shot whose best
    take fails QC with a corrected prompt while the approved budget allows, then flag what still
    fails for a person. A shot refused by moderation goes back to continuity, by name, for one
    rewrite; any other failure stops the run, naming each shot (finished takes stay stored)."""
    writer = get_stream_writer()

    def relay(event: RenderEvent) -> None:
        writer({"stage": "render", "status": event.stage, "shot_id": event.shot_id, "message": event.message})

    crew, order = runtime.context, state["order"]
    # never past what was approved: the budget if one was set, else the estimate the person accepted
    cap = order["budget_usd"] or state.get("approved_usd", 0.0)
    images, base_jobs = _plan(state, crew, make=True)
    policy = _policy(crew)
    jobs = with_variants(base_jobs, policy.takes_per_shot)
    renderer = _renderer(state, crew, jobs, relay, budget_usd=max(cap - images.spent_usd, 0.0))
    if images.spent_usd:  # reference sheets and keyframes are money spent too
        renderer.ledger.record(
            project_id=state["project_id"], shot_id="*", render_key="", model=crew.image_model().card.name,
            cost_usd=images.spent_usd, note="reference images",
        )  # fmt: skip
    _emit("render", "running", total=len(jobs))
    outcome = asyncio.run(renderer.run(jobs))
    refused = {base_shot(f.shot_id): f.message for f in outcome.failures if f.reason == "refused"}
    others = [f for f in outcome.failures if f.reason != "refused"]
    if others or (refused and state.get("rewrites", 0) >= MAX_REWRITES):
        details = "; ".join(f"shot {f.shot_id}: {f.message}" for f in outcome.failures)
        raise RenderError(
            f"{len(outcome.failures)} of {len(jobs)} takes failed ({details}); "
            f"{len(outcome.takes)} finished takes are kept and will not be rendered again"
        )
    if refused:
        _emit(
            "render",
            "refused",
            message=f"{len(refused)} shots refused by moderation: rewriting",
            shots=sorted(refused),
        )
        return Command(goto="rewrite", update={"refused": refused})
    rendered = sum(1 for t in outcome.takes.values() if not t.cache_hit)
    _emit("render", "finished", message=f"{rendered} rendered, {len(outcome.takes) - rendered} from cache")

    by_id = {job.shot_id: job for job in jobs}
    used = {jid: _used_request(by_id[jid], take) for jid, take in outcome.takes.items()}
    takes, verdicts = dict(outcome.takes), asyncio.run(_check_takes(state, outcome.takes, used, crew.judge))
    spent = images.spent_usd + sum(t.cost_usd for t in outcome.takes.values() if not t.cache_hit)
    for round_ in range(1, policy.qc_retries + 1):
        failing = {sid: pick for sid, pick in _best(verdicts).items() if not pick.verdict.passed}
        if not failing:
            break
        retry = [
            retry_job(by_id[sid], continuity.correct_prompt(
                used[pick.job_id].prompt, _shot(state, sid), state["breakdown"], pick.verdict.reasons), round_)
            for sid, pick in failing.items()
        ]  # fmt: skip
        _emit(
            "qc",
            "retry",
            message=f"retrying {len(retry)} shots with corrected prompts",
            shots=sorted(failing),
        )
        again = asyncio.run(_renderer(state, crew, retry, relay, budget_usd=max(cap - spent, 0.0)).run(retry))
        spent += sum(t.cost_usd for t in again.takes.values() if not t.cache_hit)
        by_id.update({job.shot_id: job for job in retry})
        used.update({jid: _used_request(by_id[jid], take) for jid, take in again.takes.items()})
        takes.update(again.takes)
        verdicts.update(asyncio.run(_check_takes(state, again.takes, used, crew.judge)))
    best = _best(verdicts)
    flagged = sorted(sid for sid, pick in best.items() if not pick.verdict.passed)
    _emit("qc", "done", message=f"{len(best) - len(flagged)} of {len(best)} takes pass", flagged=flagged)
    return Command(
        goto="editor",
        update={
            "takes": {sid: takes[p.job_id].model_copy(update={"shot_id": sid}) for sid, p in best.items()},
            "verdicts": {sid: p.verdict for sid, p in best.items()},
            "references": {sid: _sent(used[p.job_id]) for sid, p in best.items()},
            "refused": {},
        },
    )


@dataclass(frozen=True)
class _Pick:
    job_id: str
    verdict: TakeVerdict


def _best(verdicts: dict[str, TakeVerdict]) -> dict[str, _Pick]:
    """Per shot, the best of its takes (variants and retries); flagged when none passed."""
    groups: dict[str, list[tuple[str, TakeVerdict]]] = {}
    for jid, verdict in verdicts.items():
        groups.setdefault(base_shot(jid), []).append((jid, verdict))
    picks = {}
    for sid, items in groups.items():
        chosen = best_take([v for _, v in items])
        jid = next(j for j, v in items if v.take == chosen.take)
        picks[sid] = _Pick(job_id=jid, verdict=chosen.model_copy(update={"shot_id": sid}))
    return picks


def _sent(request: RenderRequest) -> list[MediaRef]:
    return [*request.references, *([request.first_frame] if request.first_frame else [])]


def _shot(state: LineState, job_id: str) -> Shot:
    return next(s for s in state["storyboard"].shots if s.id == base_shot(job_id))


def _policy(crew: Crew) -> RenderPolicy:
    settings = crew.settings
    return crew.render_policy or RenderPolicy(
        poll_s=settings.poll_s, takes_per_shot=settings.takes_per_shot, qc_retries=settings.qc_retries
    )


def _used_request(job: ShotJob, take: Take) -> RenderRequest:
    """The candidate that made the take (the primary, or the fallback that stepped in)."""
    return next((r for r in job.candidates if model_key(r) == take.model), job.candidates[0])


async def _check_takes(
    state: LineState, takes: dict[str, Take], used: dict[str, RenderRequest], judge: Judge | None = None
) -> dict[str, TakeVerdict]:
    """Every take is checked before it enters the cut: technically, and against the references it
    was made with. Keys are job ids: a shot's variants and retries each have their own."""
    breakdown = state["breakdown"]
    verdicts = {}
    for jid, take in takes.items():
        shot, request = _shot(state, jid), used[jid]
        verdicts[jid] = await check_take(
            Path(take.path),
            shot=shot,
            request=request,
            references=_sent(request),
            judge=judge,
            threshold=QC_THRESHOLD.get(shot.framing, QC_PASS),
            characters=[breakdown.character(c) for c in shot.characters],
            location=breakdown.location(shot.location),
        )
    return verdicts


def rewrite(state: LineState) -> Command[Literal["approve"]]:
    """Continuity softens the prompts of refused shots, once; what it cannot soften goes to a person."""
    board, stuck = continuity.rewrite_refused(state["storyboard"], state["refused"])
    if stuck:
        raise RefusedPrompt(
            "; ".join(f"shot {sid}: {why} (rewrite its action in the script)" for sid, why in stuck.items()),
            provider=state["order"]["provider"],
        )
    _emit(
        "continuity", "rewritten", message=f"softened {len(state['refused'])} refused prompts; asking again"
    )
    return Command(goto="approve", update={"storyboard": board, "rewrites": state.get("rewrites", 0) + 1})


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
        verdicts=state.get("verdicts"),
        references=state.get("references"),
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
    g.add_node("rewrite", rewrite)
    g.add_node("editor", edit)
    g.add_edge(START, "director")
    g.add_edge("screenwriter", "continuity")  # the director's Command sends work to the screenwriter
    g.add_edge("continuity", "approve")
    g.add_edge("approve", "render")
    g.add_edge("editor", END)
    return g.compile(checkpointer=checkpointer)
