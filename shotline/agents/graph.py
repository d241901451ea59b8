"""The LangGraph graph that runs the line: director -> screenwriter -> continuity -> approve -> render
-> editor, its state checkpointed per project (thread_id = project id).

Two ways in. An order (the CLI's `make`) runs the whole line once. A conversation sends one message
per run: the director decides what it asks for and enters the line at the first stage it touches
(a new look starts at continuity, a trim goes straight to the editor), so a revision redoes only
what it must; the render key cache then renders only shots whose request changed.

Dependencies (settings, chat model, bible, models, stores) travel in the run's context, never in
state, so nothing secret is checkpointed and tests swap them freely.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from shotline.agents import continuity, cutting, editor, screenwriter
from shotline.agents import director as direction
from shotline.agents.decisions import (
    BIBLE_ACTIONS,
    EDIT_ACTIONS,
    SCRIPT_ACTIONS,
    VOICE_ACTIONS,
    AddShot,
    Answer,
    ChangeBible,
    Decision,
    Render,
    Retime,
    Revert,
    ReviseScene,
    Route,
    SetBudget,
    SetSound,
    SetVoice,
    Undo,
    WriteScript,
)
from shotline.agents.state import LineState, Turn, Version
from shotline.config import Settings
from shotline.errors import BudgetExceeded, InputError, ProviderUnavailable, RefusedPrompt, RenderError
from shotline.memory.bible import Bible
from shotline.memory.models import Breakdown, Edit, Shot, Take
from shotline.memory.store import Ledger, TakeStore
from shotline.tools import ffmpeg, soundtrack
from shotline.tools.image import get_image_model
from shotline.tools.image.base import ImageModel
from shotline.tools.judge import Judge
from shotline.tools.qc import TakeVerdict, best_take, check_take
from shotline.tools.references import ImageAssets
from shotline.tools.render import Renderer, RenderEvent, RenderPolicy, ShotJob, model_key
from shotline.tools.render_plan import ShotImages, base_shot, make_images, retry_job, shot_jobs, with_variants
from shotline.tools.routing import RoutingPolicy
from shotline.tools.timeline import EVERY_SCENE, edit_decisions
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
    llm: BaseChatModel | None = None  # the agents' brain (None: the deterministic paths)
    recall: Callable[[str, int], dict[str, Any] | None] | None = None
    """(project id, version) -> that version's state as it was finished; set by whoever owns the
    checkpointer (`ui.session.Studio`), so undo is time travel through checkpoints."""
    _image: ImageModel | None = None
    _voice: tuple[Any, str] | None = None

    def voice(self) -> tuple[Any, str]:
        """The dialogue voice (a `VoiceModel`, or None for captions only) and, when there is none,
        the plain reason why."""
        if self._voice is None:
            self._voice = soundtrack.voice_from_settings(self.settings)
        return self._voice

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


CONTENT = (
    "order", "script", "breakdown", "storyboard", "conflicts", "takes", "verdicts", "references",
    "estimate_usd", "approved_usd", "cut", "edit", "routes", "bible_edits", "version", "lineage", "unrendered",
)  # fmt: skip
"""What a version is: undo restores these; the conversation and the history only ever grow."""


def _conversation(state: LineState) -> bool:
    return bool(state.get("messages"))


def _say(state: LineState, text: str, version: int | None = None) -> list[Turn]:
    v = state.get("version", 0) if version is None else version
    return [Turn(role="assistant", text=text, version=v)]


def director(state: LineState, runtime: Runtime[Crew]) -> Command:
    """Reads the order or the message and decides what happens next. An order means: make the film.
    A message becomes one decision; the line is entered at the first stage it touches."""
    crew, order = runtime.context, state["order"]
    if not _conversation(state):
        crew.cards(order["provider"])  # an unknown or keyless provider fails here, before any work
        _emit(
            "director",
            "done",
            message=f"making {order['source_name']!r} at {order['ratio']} on {order['provider']}",
        )
        return Command(
            goto="screenwriter",
            update={"rewrites": 0, "refused": {}, "decision": None, "version": 1, "lineage": [1]},
        )

    message = state["messages"][-1]["text"]
    situation = direction.situation_of(state, providers=_providers(crew))
    decision = state.get("command") or direction.decide(message, situation, crew.llm, crew.settings)
    decision = direction.settle(decision, state)
    decision.summary = " ".join(decision.summary.split())[:160]  # one line in the chat, whatever was pasted
    update: dict[str, Any] = {
        "command": None,
        "decision": decision,
        "rewrites": 0,
        "refused": {},
        "fresh": [],
    }
    _emit("director", "decided", message=decision.summary, actions=[a.kind for a in decision.actions])

    if back := decision.of(Undo, Revert):
        return _restore(state, crew, back[0], update)
    replies = [_answer(state, crew, a) for a in decision.of(Answer)]
    changes = [a for a in decision.actions if not isinstance(a, Answer)]
    if decision.of(ReviseScene) and crew.llm is None:
        replies.append("Rewriting a scene needs a chat model (set SHOTLINE_LLM); offline I can change looks, "
                       "lengths, order, providers and the budget.")  # fmt: skip
        changes = [a for a in changes if not isinstance(a, ReviseScene)]
    if changes and not state.get("script") and not decision.of(WriteScript):
        replies.append("There is no film yet: describe one first (or attach a screenplay).")
        changes = []
    if not changes or (changes == decision.of(Render) and state.get("cut") and not _pending(state)):
        if decision.of(Render):
            replies.append("Nothing changed since the last cut: there is nothing to render.")
        return Command(goto=END, update={**update, "messages": _say(state, " ".join(replies) or "OK.")})

    order = dict(order)
    routes = {k: dict(v) for k, v in (state.get("routes") or {"per_framing": {}, "per_shot": {}}).items()}
    for action in decision.of(Route, SetBudget, WriteScript):
        if isinstance(action, Route):
            crew.cards(action.provider)  # a keyless provider fails now, naming its key
            if action.framing:
                routes["per_framing"][action.framing] = action.provider
            for sid in action.shots:
                routes["per_shot"][sid] = action.provider
            if not action.framing and not action.shots:
                order["provider"], routes = action.provider, {"per_framing": {}, "per_shot": {}}
        elif isinstance(action, SetBudget):
            order["budget_usd"] = action.usd
        else:
            order.update(
                source_text=action.brief,
                source_name="screenplay.fountain"
                if screenwriter.is_screenplay(action.brief, "brief.txt")
                else "brief.txt",
                ratio=action.ratio or order["ratio"],
                target_s=action.target_s,
            )
    if changes == decision.of(SetBudget) and not _pending(state):  # money only: no new version
        text = " ".join([*replies, f"Budget set to ${order['budget_usd']:.2f}."])
        return Command(goto=END, update={**update, "order": order, "messages": _say(state, text)})
    version = max([state.get("version", 0), *(h["version"] for h in state.get("history", []))]) + 1
    update |= {
        "order": order,
        "routes": routes,
        "version": version,
        "lineage": [*state.get("lineage", []), version],
        "history": [
            Version(version=version, parent=state.get("version"), summary=decision.summary, folder=None)
        ],
    }
    if replies:
        update["messages"] = _say(state, " ".join(replies), version)
    goto = (
        "screenwriter" if decision.of(*SCRIPT_ACTIONS)
        else "continuity" if decision.of(*BIBLE_ACTIONS, *VOICE_ACTIONS)
        else "approve" if decision.of(Route, Render) or _pending(state) or _paid_speech(state, crew, decision)
        else "editor"
    )  # fmt: skip
    return Command(goto=goto, update=update)


def _paid_speech(state: LineState, crew: Crew, decision: Decision) -> bool:
    """An edit that would have lines spoken that were never paid for ('voices back on') asks first."""
    if not decision.of(*EDIT_ACTIONS) or not state.get("storyboard"):
        return False
    edit = cutting.apply_edit(state.get("edit") or Edit(), decision.of(*EDIT_ACTIONS), state["storyboard"])
    return _speech_usd(state, crew, edit) > 0


def _providers(crew: Crew) -> list[str]:
    return [info.name for info in catalog(crew.settings)]


def _pending(state: LineState) -> bool:
    """A change is waiting to be rendered: a render was declined, or a shot has no take yet."""
    board, takes = state.get("storyboard"), state.get("takes") or {}
    return bool(state.get("unrendered")) or (bool(board) and any(s.id not in takes for s in board.shots))


def _answer(state: LineState, crew: Crew, action: Answer) -> str:
    if action.topic in {"status", "cost"}:
        spent = Ledger(crew.settings.root / "ledger.sqlite").spent(state["project_id"])
        text = direction.status_answer(state, spent)
        if state.get("cut") and action.topic == "status":
            zh = (state.get("breakdown") and state["breakdown"].language == "zh") or False
            text += f" {'成片：' if zh else 'Finish: '}{cutting.describe_finish(state.get('edit') or Edit(), zh=zh)}."
        return text
    return action.text


def _restore(state: LineState, crew: Crew, action: Undo | Revert, update: dict[str, Any]) -> Command:
    """Undo and revert are time travel: the state of the version asked for comes back from its
    checkpoint, cut included; its files were never deleted. The conversation and history stay."""
    lineage = state.get("lineage", [])
    if isinstance(action, Undo):
        target = lineage[-1 - action.steps] if len(lineage) > action.steps else None
        missing = "there is nothing to undo" if target is None else None
    else:
        target, missing = action.version, None
    values = crew.recall(state["project_id"], target) if crew.recall and target is not None else None
    if values is None:
        made = sorted({h["version"] for h in state.get("history", [])})
        missing = (
            missing or f"there is no version {target}; versions are {', '.join(map(str, made)) or 'none yet'}"
        )
        return Command(goto=END, update={**update, "messages": _say(state, f"Nothing changed: {missing}.")})
    restored = {key: values.get(key) for key in CONTENT}
    restored["decision"] = None
    cut = values.get("cut")
    where = f" The cut is back: {cut.files.get(editor.FINAL_MP4)}." if cut else ""
    _emit("director", "restored", message=f"back to version {target}", version=target)
    return Command(
        goto=END,
        update={**update, **restored, "messages": _say(state, f"Back to version {target}.{where}", target)},
    )


def write(state: LineState, runtime: Runtime[Crew]) -> dict[str, Any]:
    """A new script (from the order or a brief), a scene rewritten, or shots added or retimed."""
    order, decision = state["order"], state.get("decision")
    _emit("screenwriter", "running")
    update: dict[str, Any] = {}
    board = state.get("storyboard")
    fresh = decision is None or decision.of(WriteScript, ReviseScene)
    if fresh:
        if decision is not None and (revise := decision.of(ReviseScene)):
            script = state["script"]
            for action in revise:
                script = screenwriter.rewrite_scene(
                    script, action.scene, action.instruction, runtime.context.llm
                )
        else:
            script = screenwriter.write_script(
                order["source_text"], filename=order["source_name"], llm=runtime.context.llm,
                target_s=order.get("target_s"), ratio=order["ratio"],
            )  # fmt: skip
        revised = [a.scene for a in decision.of(ReviseScene)] if decision is not None else []
        breakdown = screenwriter.enrich(screenwriter.break_down_script(script), runtime.context.llm)
        if (
            revised
        ):  # who and where the film already had keep their looks: a model's new words would re-render all
            breakdown = _kept_looks(state["breakdown"], breakdown)
        # a rewrite keeps the other scenes' shots as they were: no rescaling toward the first target
        target = None if revised else order.get("target_s")
        board = screenwriter.storyboard(breakdown, ratio=order["ratio"], target_s=target)
        if revised:
            board = _kept_shots(state, board, {f"sc{n}" for n in revised})
        kept = _kept_edit(state, board, {f"sc{n}" for n in revised}) if revised else _finish_of(state)
        update |= {"script": script, "breakdown": breakdown, "edit": kept}
        if decision is not None and decision.of(WriteScript):
            update |= {"bible_edits": [], "takes": {}, "cut": None}
    breakdown = update.get("breakdown", state.get("breakdown"))
    for action in decision.of(AddShot, Retime) if decision else []:
        if isinstance(action, AddShot):
            board, _new = screenwriter.add_shot(board, breakdown, action)
        else:
            board = screenwriter.retime(board, action.shot, action.duration_s)
    update["storyboard"] = board
    _emit(
        "screenwriter",
        "done",
        message=f"{len(breakdown.scenes)} scenes, {len(breakdown.characters)} characters, {len(board.shots)} shots",
    )
    return update


def _kept_looks(before: Breakdown, after: Breakdown) -> Breakdown:
    """Characters and sets a rewrite kept, described as they were (with their style); new ones as written."""
    people = {c.id: c for c in before.characters}
    places = {loc.id: loc for loc in before.locations}
    look = ("description", "attributes", "color")
    return after.model_copy(
        update={
            "style": before.style or after.style,
            "characters": [
                c.model_copy(update={k: getattr(people[c.id], k) for k in (*look, "voices")})
                if c.id in people
                else c
                for c in after.characters
            ],
            "locations": [
                loc.model_copy(update={k: getattr(places[loc.id], k) for k in look})
                if loc.id in places
                else loc
                for loc in after.locations
            ],
        }
    )


def _kept_shots(state: LineState, board, rewritten: set[str]):
    """After a rewrite, every shot of an untouched scene exactly as it was (its length too), so its
    render key, and its take, stay."""
    before = state.get("storyboard")
    was = {(s.id, s.scene, tuple(s.lines)): s for s in before.shots} if before else {}
    shots = [
        was.get((s.id, s.scene, tuple(s.lines)), s) if s.scene not in rewritten else s for s in board.shots
    ]
    return board.model_copy(update={"shots": shots})


def _kept_edit(state: LineState, board, rewritten: set[str]) -> Edit:
    """The person's trims, order and drops for shots of scenes a rewrite did not touch."""
    old, before = state.get("edit") or Edit(), state.get("storyboard")
    untouched = {s.id for s in board.shots if s.scene not in rewritten}
    if before is not None:  # the same id in an untouched scene must still be the same shot
        was = {s.id: (s.scene, s.lines) for s in before.shots}
        untouched = {
            sid
            for sid in untouched
            if was.get(sid) == next((x.scene, x.lines) for x in board.shots if x.id == sid)
        }
    return old.model_copy(
        update={
            "order": None if old.order is None else [sid for sid in old.order if sid in untouched],
            "lengths": {sid: v for sid, v in old.lengths.items() if sid in untouched},
            "dropped": [sid for sid in old.dropped if sid in untouched],
            "transitions": {sid: t for sid, t in old.transitions.items() if sid in untouched},
        }
    )


def _finish_of(state: LineState) -> Edit:
    """A new script starts a new cut, but the person's finish (sound, subtitles, extra frames) stays:
    those are how they deliver, whatever the film says."""
    old = state.get("edit") or Edit()
    every = {k: t for k, t in old.scene_transitions.items() if k == EVERY_SCENE}
    return Edit(
        sound=old.sound,
        burn_subtitles=old.burn_subtitles,
        reframes=list(old.reframes),
        scene_transitions=every,
    )


def _cast(breakdown: Breakdown, crew: Crew, recasts: list[SetVoice]) -> tuple[Breakdown, list[str]]:
    """Every speaking character keeps one voice in the bible (cast once, by a stable draw that fits
    the description); a person's 'give MEI a deeper voice' recasts that character only."""
    voice, note = crew.voice()
    if voice is None:
        return breakdown, [f"voices need a speech provider ({note})"] if recasts else []
    breakdown = soundtrack.cast(breakdown, voice.card, language=breakdown.language)
    problems = []
    for change in recasts:
        key = change.character.strip().casefold()
        who = next((c for c in breakdown.characters if key in {c.id.casefold(), c.name.casefold()}), None)
        if who is None:
            problems.append(f"there is no character called {change.character!r}")
            continue
        try:
            breakdown = soundtrack.recast(breakdown, who.id, voice.card, voice=change.voice, hint=change.hint)
        except InputError as exc:
            problems.append(str(exc))
    return breakdown, problems


def keep_continuity(state: LineState, runtime: Runtime[Crew]) -> dict[str, Any]:
    """The bible, with every look change the person made, and every prompt assembled from it."""
    _emit("continuity", "running")
    decision = state.get("decision")
    edits = list(state.get("bible_edits") or [])
    for change in decision.of(ChangeBible) if decision else []:
        edits = [
            e for e in edits if (e.target, e.item, e.scenes) != (change.target, change.item, change.scenes)
        ]
        edits.append(change)
    breakdown, problems = continuity.apply_bible_edits(state["breakdown"], edits)
    breakdown, said = _cast(breakdown, runtime.context, decision.of(*VOICE_ACTIONS) if decision else [])
    problems += said
    bible = Bible.open(runtime.context.settings.bible_dir, state["project_id"])
    bible.load(breakdown)
    board = continuity.restate(state["storyboard"], state["breakdown"], breakdown)
    board = continuity.apply_prompts(board, breakdown)
    conflicts = continuity.check(board, breakdown)
    _emit(
        "continuity",
        "done",
        message=f"{len(conflicts)} conflicts with the bible",
        conflicts=[c.message for c in conflicts],
    )
    update: dict[str, Any] = {
        "storyboard": board,
        "conflicts": conflicts,
        "breakdown": breakdown,
        "bible_edits": edits,
    }
    if problems:
        update["messages"] = _say(state, "Not changed: " + "; ".join(problems) + ".")
    return update


def _assets(crew: Crew) -> ImageAssets:
    return ImageAssets(crew.settings.root / "assets", crew.image_model())


def _routing(state: LineState, crew: Crew) -> RoutingPolicy:
    """The crew's policy with the person's own choices (per framing, per shot) on top."""
    routes, provider = state.get("routes") or {}, state["order"]["provider"]
    return replace(
        crew.routing,
        per_framing={**crew.routing.per_framing, **routes.get("per_framing", {})},
        per_shot={**crew.routing.per_shot, **routes.get("per_shot", {})},
        home=() if provider == AUTO else (provider,),
    )


def _plan(state: LineState, crew: Crew, *, make: bool) -> tuple[ShotImages, list[ShotJob]]:
    """The images each routed model will be sent, and one job per shot."""
    provider, board, breakdown = state["order"]["provider"], state["storyboard"], state["breakdown"]
    routing = _routing(state, crew)
    chosen = {*routing.per_framing.values(), *routing.per_shot.values()} - {provider}
    cards = crew.cards(provider) + tuple(c for name in sorted(chosen) for c in crew.cards(name.split("/")[0]))
    uploads = Path(state["order"]["refs_dir"]) if state["order"].get("refs_dir") else None
    bible = Bible.open(crew.settings.bible_dir, state["project_id"])
    images = make_images(
        breakdown, board, provider, cards, routing, _assets(crew), make=make, uploads=uploads,
        described=bible.described,
    )  # fmt: skip
    if make:  # the views drawn are linked from the bible version they were drawn from
        bible.load(breakdown)
        bible.link_views(images.view_links(breakdown))
    jobs = shot_jobs(
        breakdown, board, provider, cards, routing, images, described=bible.described,
        native_audio=crew.settings.native_audio,
    )  # fmt: skip
    return images, jobs


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


def approve(state: LineState, runtime: Runtime[Crew]) -> Command[Literal["render", "__end__"]]:
    """Nothing is spent without approval: a paid render stops here until a person says yes, sees
    the estimate per shot and in total, and may set a budget instead. The estimate covers every take
    asked for (best of N) and the images, not counting takes already stored; QC retries get an
    allowance on top, shown apart, so the person approves the most the run may spend."""
    order, crew = dict(state["order"]), runtime.context
    images, base_jobs = _plan(state, crew, make=False)
    policy = _policy(crew)
    jobs = with_variants(base_jobs, policy.takes_per_shot)
    renderer = _renderer(state, crew, jobs)
    speech = _speech_usd(state, crew)
    estimate = round(renderer.estimate_usd(jobs) + images.unpaid_usd + speech, 4)
    allowance = round(policy.qc_retries * renderer.estimate_usd(base_jobs), 4)
    per_shot: dict[str, float] = {}
    for job in jobs:
        if cost := renderer.estimate_usd([job]):
            sid = base_shot(job.shot_id)
            per_shot[sid] = round(per_shot.get(sid, 0.0) + cost, 4)
    over = estimate > 0 and order["budget_usd"] and estimate > order["budget_usd"]
    if over and not _conversation(state):
        raise BudgetExceeded(
            f"the render is estimated at ${estimate:.2f}, over the ${order['budget_usd']:.2f} budget; "
            "raise --budget or render fewer shots"
        )
    if estimate > 0 and not order["approved"]:
        request = {
            "estimate_usd": estimate,
            "retry_allowance_usd": allowance,
            "per_shot_usd": per_shot,
            "images_usd": round(images.unpaid_usd, 4),
            "speech_usd": round(speech, 4),
            "shots": len(base_jobs),
            "to_render": len(per_shot),
            "takes": len(jobs),
            "provider": order["provider"],
            "budget_usd": order["budget_usd"],
            "version": state.get("version", 0),
        }
        answer = Approval.read(interrupt(request))
        if answer.budget_usd is not None:
            order["budget_usd"] = answer.budget_usd
        if not answer.approve or (order["budget_usd"] and estimate > order["budget_usd"]):
            why = (
                f"${estimate:.2f} is over the ${order['budget_usd']:.2f} budget"
                if answer.approve else "declined"
            )  # fmt: skip
            if not _conversation(state):
                raise BudgetExceeded(f"render {why}: nothing was spent")
            text = (
                f"Not rendered ({why}): nothing was spent. The change stays in the storyboard; "
                "say 'render' to approve it, or 'undo' to drop it."
            )
            return Command(
                goto=END, update={"order": order, "unrendered": True, "messages": _say(state, text)}
            )
    elif over:
        text = (f"Not rendered: the estimate ${estimate:.2f} is over the ${order['budget_usd']:.2f} budget; "
                "raise the budget ('budget $N') or change fewer shots.")  # fmt: skip
        return Command(goto=END, update={"unrendered": True, "messages": _say(state, text)})
    return Command(
        goto="render",
        update={"order": order, "estimate_usd": estimate, "approved_usd": round(estimate + allowance, 4)},
    )


@dataclass(frozen=True)
class Approval:
    """A person's answer to an approval request: yes, no, or yes within a budget."""

    approve: bool
    budget_usd: float | None = None

    @classmethod
    def read(cls, answer: Any) -> Approval:
        if isinstance(answer, dict):
            budget = answer.get("budget_usd")
            return cls(approve=bool(answer.get("approve", budget is not None)),
                       budget_usd=None if budget is None else float(budget))  # fmt: skip
        return cls(approve=bool(answer))


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
            "unrendered": False,
            "fresh": sorted(sid for sid, p in best.items() if not takes[p.job_id].cache_hit),
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
    earlier = state.get("verdicts") or {}
    for jid, take in takes.items():
        shot, request = _shot(state, jid), used[jid]
        known = earlier.get(base_shot(jid))
        if take.cache_hit and known is not None and known.take == take.path:
            verdicts[jid] = (
                known  # the same file was judged before: a revision elsewhere re-checks nothing here
            )
            continue
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


def edit(state: LineState, runtime: Runtime[Crew]) -> dict[str, Any]:
    """The cut, with the person's order and trims; in a conversation each version gets its own
    folder, so going back to a version finds its files where they were."""
    _emit("editor", "running")
    order, decision, crew = state["order"], state.get("decision"), runtime.context
    actions = decision.of(*EDIT_ACTIONS) if decision else []
    cut_edit = cutting.apply_edit(state.get("edit") or Edit(), actions, state["storyboard"])
    version = state.get("version", 1)
    out_dir = Path(order["out_dir"])
    if _conversation(state):
        out_dir = out_dir / f"v{version:03d}"

    def progress(step: str, fraction: float) -> None:
        _emit("editor", "progress", step=step, fraction=fraction)

    cut = editor.deliver(
        out_dir=out_dir,
        script_text=state["script"],
        breakdown=state["breakdown"],
        storyboard=state["storyboard"],
        takes=state["takes"],
        conflicts=state.get("conflicts", []),
        verdicts=state.get("verdicts"),
        references=state.get("references"),
        edit=cut_edit,
        views=Bible.open(crew.settings.bible_dir, state["project_id"]).linked_views(),
        voicing=_voicing(state, crew),
        on_progress=progress,
    )
    _emit("editor", "done", message=f"{cut.duration_s:.1f} s cut in {out_dir}")
    update: dict[str, Any] = {"cut": cut, "edit": cut_edit}
    if _conversation(state):
        made = [t for sid, t in state["takes"].items() if sid in (state.get("fresh") or [])]
        cost = sum(t.cost_usd for t in made)
        text = (
            f"Version {version}: {decision.summary + '. ' if decision and decision.summary else ''}"
            f"The cut runs {cut.duration_s:.1f} s over {len(cut.shots)} shots; "
            f"{len(made)} rendered (${cost:.2f}), the rest unchanged."
        )
        if note := _captions_only(state, crew, cut_edit):
            text += f" {note[:1].upper()}{note[1:]}."
        last = (state.get("history") or [None])[-1]
        update["messages"] = _say(state, text, version)
        update["history"] = [Version(version=version, parent=last["parent"] if last else None,
                                     summary=last["summary"] if last else "", folder=str(out_dir))]  # fmt: skip
    return update


def _captions_only(state: LineState, crew: Crew, cut_edit: Edit) -> str:
    """Said plainly, on the first cut and when the sound is touched: the dialogue is not spoken."""
    voice, note = crew.voice()
    decision = state.get("decision")
    first = state.get("cut") is None
    touched = bool(decision and decision.of(SetSound))
    speaks = any(s.dialogue for s in state["storyboard"].shots)
    if voice is None and cut_edit.sound.voices and speaks and (first or touched):
        return note
    return ""


def _voicing(state: LineState, crew: Crew) -> editor.Voicing:
    """The voice the film speaks with, where its lines are kept and billed, and which shots speak
    for themselves (a take with its own sound from a model that makes it)."""
    voice, note = crew.voice()
    return editor.Voicing(
        voice=voice,
        note=note,
        cache_dir=crew.settings.root / "speech",
        native=_native_voiced(state, crew),
        ledger=Ledger(crew.settings.root / "ledger.sqlite"),
        project_id=state["project_id"],
    )


def _native_voiced(state: LineState, crew: Crew) -> frozenset[str]:
    """Shots with dialogue whose take carries sound from a model that makes sound: the model said
    the lines itself, so they are kept, not spoken again over it."""
    native = set()
    for info in catalog(crew.settings):
        native |= {f"{card.name}/{card.model_id}" for card in info.cards if card.native_audio}
        if info.cards and info.cards[0].native_audio:  # the provider's default model
            native.add(info.name)
    voiced = set()
    for shot in state["storyboard"].shots:
        take = (state.get("takes") or {}).get(shot.id)
        if not shot.dialogue or take is None:
            continue
        if take.model in native and ffmpeg.has_audio(Path(take.path)):
            voiced.add(shot.id)
    return frozenset(voiced)


def _speech_usd(state: LineState, crew: Crew, edit: Edit | None = None) -> float:
    """What speaking the cut's lines will cost: lines said before are in the cache and free."""
    voice, _note = crew.voice()
    edit = edit or state.get("edit") or Edit()
    if voice is None or not edit.sound.voices or not voice.card.usd_per_1k_chars:
        return 0.0
    board, takes = state["storyboard"], dict(state.get("takes") or {})
    for shot in board.shots:  # a shot not rendered yet still has lines to say
        takes.setdefault(shot.id, Take(shot_id=shot.id, render_key="", model="", path="", sha256="",
                                       duration_s=shot.duration_s, width=1, height=1))  # fmt: skip
    plan = soundtrack.plan_lines(
        edit_decisions(board, takes, edit), state["breakdown"], voice, crew.settings.root / "speech",
        enabled=edit.sound.voices,
    )  # fmt: skip
    return soundtrack.speech_cost_usd(plan)


def build_graph(checkpointer: BaseCheckpointSaver | None = None):
    """The compiled line. Pass a checkpointer to make projects survive restarts."""
    g = StateGraph(LineState, context_schema=Crew)
    g.add_node("director", director, destinations=("screenwriter", "continuity", "approve", "editor", END))
    g.add_node("screenwriter", write)
    g.add_node("continuity", keep_continuity)
    g.add_node("approve", approve)
    g.add_node("render", render)
    g.add_node("rewrite", rewrite)
    g.add_node("editor", edit)
    g.add_edge(START, "director")
    g.add_edge("screenwriter", "continuity")  # the director's Command sends work to the screenwriter
    g.add_edge("continuity", "approve")
    g.add_edge("editor", END)
    return g.compile(checkpointer=checkpointer)
