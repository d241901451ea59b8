"""Drive the line for one order: shared by the CLI, the chat UI and the API so that every way in
behaves the same."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.types import Command
from PIL import Image

from shotline.agents import screenwriter
from shotline.agents.breakdown import slug
from shotline.agents.decisions import Decision, Revert, SetSound
from shotline.agents.graph import CONTENT, Crew, build_graph
from shotline.agents.state import LineState, Order, Turn, Version
from shotline.config import Settings
from shotline.errors import InputError, ScriptError, ShotlineError
from shotline.memory.models import Edit, Ratio
from shotline.memory.store import atomic_write, checkpointer
from shotline.tools.fountain import parse
from shotline.tools.judge import judge_from_settings
from shotline.tools.llm import chat_model
from shotline.tools.references import VIEWS
from shotline.tools.routing import Order as RoutingOrder
from shotline.tools.routing import RoutingPolicy
from shotline.tools.uploads import check_upload

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
    finish: Edit | None = None,
    on_event: Callable[[Event], None] = lambda e: None,
    ask_approval: Callable[[dict[str, Any]], bool] = lambda request: False,
) -> LineState:
    """Screenplay or brief in, deliverables in `out_dir`. Bad input fails before anything is written.
    `finish` carries how to deliver: transitions between scenes, sound, burned subtitles, reframes."""
    text = screenwriter.read_source(source)
    if finish is not None and finish.sound.music and not Path(finish.sound.music).is_file():
        raise InputError(f"the music file {finish.sound.music} does not exist")
    try:  # a broken script fails here, in one clear line, before anything is written
        parse(screenwriter.to_script(text, filename=source.name))
    except ScriptError as exc:
        raise ScriptError(f"{source}: {exc}") from exc
    crew = crew or Crew(
        settings=settings,
        routing=RoutingPolicy(order=policy),
        llm=chat_model(settings),
        judge=judge_from_settings(settings),
    )
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
        target_s=None,
    )
    pid = project_id or project_id_for(source)
    config = {"configurable": {"thread_id": pid}}
    with checkpointer(settings.checkpoints_path) as saver:
        graph = build_graph(saver)
        payload: Any = {"project_id": pid, "order": order}
        if finish is not None:
            payload["edit"] = finish
        while True:
            for mode, data in graph.stream(payload, config, context=crew, stream_mode=["custom", "updates"]):
                if mode == "custom":
                    on_event(data)
            snapshot = graph.get_state(config)
            if not snapshot.interrupts:
                return snapshot.values
            payload = Command(resume=ask_approval(snapshot.interrupts[0].value))


# --- conversations --------------------------------------------------------------------------

_YES = re.compile(
    r"^\s*(y|yes|yep|ok|okay|approve[d]?|go( ahead)?|do it|render( it)?|sure|批准|同意|好的?|是|可以|开始|渲染)\s*[.!。！]*\s*$",
    re.I,
)
_NO = re.compile(
    r"^\s*(n|no|nope|cancel|decline[d]?|stop|don'?t|不|不要|取消|拒绝|算了)\s*[.!。！]*\s*$", re.I
)
_BUDGET = re.compile(r"(?:budget|预算)\D{0,12}?\$?\s*(\d+(?:\.\d+)?)", re.I)


def read_approval(text: str) -> bool | dict[str, Any] | None:
    """A chat answer to a pending approval: yes, no, a budget (which approves within it), or None
    when the message is about something else."""
    if _YES.match(text):
        return True
    if _NO.match(text):
        return False
    if m := _BUDGET.search(text):
        return {"approve": True, "budget_usd": float(m.group(1))}
    return None


@dataclass
class Reply:
    """What one message (or one approval) produced, for whoever shows it: CLI, Gradio, API."""

    project_id: str
    messages: list[str]
    version: int
    approval: dict[str, Any] | None = None  # the pending request when the line waits for a yes
    error: str | None = None

    @property
    def waiting(self) -> bool:
        return self.approval is not None


class Studio:
    """Projects as conversations, each a checkpointed thread. Shared by the chat CLI, the Gradio app
    and the API so that every way in behaves the same. Use as a context manager (it holds the
    checkpointer open)."""

    def __init__(self, settings: Settings, crew: Crew | None = None) -> None:
        self.settings = settings
        if crew is None:
            crew = Crew(settings=settings, llm=chat_model(settings), judge=judge_from_settings(settings))
        self.crew = crew
        self.crew.recall = self._recall
        self._saver_cm = None

    def __enter__(self) -> Studio:
        self._saver_cm = checkpointer(self.settings.checkpoints_path)
        self.graph = build_graph(self._saver_cm.__enter__())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saver_cm is not None:
            self._saver_cm.__exit__(*exc)
            self._saver_cm = None

    @staticmethod
    def _config(pid: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": pid}}

    def exists(self, pid: str) -> bool:
        return bool(self.graph.get_state(self._config(pid)).values)

    def create(
        self,
        *,
        project_id: str | None = None,
        ratio: Ratio = "16:9",
        provider: str = "animatic",
        budget_usd: float | None = None,
    ) -> str:
        """A new, empty project (version 0); its files live under SHOTLINE_HOME/projects/<id>/."""
        pid = project_id or uuid.uuid4().hex[:12]
        if not _PROJECT_ID.match(pid):
            raise InputError(f"{pid!r} is not a project id: use letters, digits, '-' and '_' (at most 64)")
        if self.exists(pid):
            raise InputError(f"project {pid} already exists")
        self.crew.cards(provider)  # an unknown or keyless provider fails now, naming the key
        order = Order(
            source_name="",
            source_text="",
            ratio=ratio,
            provider=provider,
            out_dir=str(self.settings.projects_dir / pid),
            budget_usd=self.settings.budget_usd if budget_usd is None else budget_usd,
            approved=False,
            refs_dir=None,
            target_s=None,
        )
        start = {"project_id": pid, "order": order, "version": 0, "lineage": [0]}
        start |= {"history": [Version(version=0, parent=None, summary="new project", folder=None)]}
        self.graph.update_state(self._config(pid), start, as_node="editor")
        return pid

    def state(self, pid: str) -> dict[str, Any]:
        values = self.graph.get_state(self._config(pid)).values
        if not values:
            raise InputError(f"there is no project {pid}")
        return values

    def pending_approval(self, pid: str) -> dict[str, Any] | None:
        snapshot = self.graph.get_state(self._config(pid))
        return snapshot.interrupts[0].value if snapshot.interrupts else None

    def history(self, pid: str) -> list[Version]:
        """Every version made, once each (its latest record), oldest first."""
        latest: dict[int, Version] = {}
        for entry in self.state(pid).get("history", []):
            latest[entry["version"]] = entry
        return [latest[v] for v in sorted(latest) if latest[v]["summary"] != "(failed)"]

    def send(
        self,
        pid: str,
        text: str,
        *,
        command: Decision | None = None,
        on_event: Callable[[Event], None] = lambda e: None,
    ) -> Reply:
        """One message from the person. While the line waits for approval, 'yes', 'no' or a budget
        answers it; anything else declines the pending render first, then is read as a new message."""
        state = self.state(pid)
        if self.pending_approval(pid) is not None and command is None:
            answer = read_approval(text)
            if answer is not None:
                return self.approve(pid, answer, on_event=on_event)
            declined = self._run(pid, Command(resume=False), on_event)
            state = self.state(pid)
            turn = Turn(role="user", text=text, version=state.get("version", 0))
            reply = self._run(pid, {"messages": [turn], "command": command}, on_event)
            reply.messages = [*declined.messages, *reply.messages]  # say that the waiting render was dropped
            return reply
        turn = Turn(role="user", text=text, version=state.get("version", 0))
        return self._run(pid, {"messages": [turn], "command": command}, on_event)

    def approve(
        self,
        pid: str,
        answer: bool | dict[str, Any] = True,
        *,
        on_event: Callable[[Event], None] = lambda e: None,
    ) -> Reply:
        if self.pending_approval(pid) is None:
            return Reply(pid, ["Nothing is waiting for approval."], self.state(pid).get("version", 0))
        return self._run(pid, Command(resume=answer), on_event)

    def revert(self, pid: str, version: int, *, on_event: Callable[[Event], None] = lambda e: None) -> Reply:
        """The history's revert button: the same path as 'go back to version N'."""
        return self.send(pid, f"go back to version {version}", command=Decision(
            actions=[Revert(version=version)], summary=f"back to version {version}"), on_event=on_event)  # fmt: skip

    def use_reference(self, pid: str, who: str, view: str, image: bytes) -> Path:
        """A person's own picture for one view of a character: re-encoded as PNG (nothing of the
        upload but its pixels is kept) under the project's refs folder, used from the next render."""
        if view not in VIEWS:
            raise InputError(f"view must be one of {', '.join(VIEWS)}")
        if self.pending_approval(pid) is not None:
            raise InputError("answer the pending approval first")
        state = self.state(pid)
        breakdown = state.get("breakdown")
        key = who.strip().casefold()
        character = next(
            (
                c
                for c in (breakdown.characters if breakdown else [])
                if key in {c.id.casefold(), c.name.casefold()}
            ),
            None,
        )
        if character is None:
            raise InputError(f"there is no character called {who!r}")
        folder = self.settings.projects_dir / pid / "refs"
        with Image.open(io.BytesIO(image)) as picture:
            buffer = io.BytesIO()
            picture.convert("RGB").save(buffer, format="PNG")
        path = atomic_write(folder / f"{character.id}.{view}.png", buffer.getvalue())
        if state["order"].get("refs_dir") != str(folder):
            order = {**state["order"], "refs_dir": str(folder)}
            self.graph.update_state(self._config(pid), {"order": order}, as_node="editor")
        return path

    def use_music(
        self, pid: str, data: bytes, *, on_event: Callable[[Event], None] = lambda e: None
    ) -> Reply:
        """A person's music bed: checked as audio, stored under its hash in the project's folder, and the
        film re-cut with it (ducked under the dialogue). Renders no take."""
        if self.pending_approval(pid) is not None:
            raise InputError("answer the pending approval first")
        state = self.state(pid)
        checked = check_upload(
            data, kind="music", declared_type=None, max_bytes=self.settings.upload_max_bytes
        )
        path = atomic_write(
            self.settings.projects_dir / pid / "music" / f"{checked.sha256[:32]}{checked.suffix}", data
        )
        edit = state.get("edit") or Edit()
        self.graph.update_state(
            self._config(pid), {"edit": edit.model_copy(update={"sound": edit.sound.model_copy(update={"music": str(path)})})},
            as_node="editor",
        )  # fmt: skip
        if not state.get("cut"):
            return Reply(pid, ["Music kept: the film will use it when it is cut."], state.get("version", 0))
        decision = Decision(actions=[SetSound()], summary="music bed added, ducked under the dialogue")
        return self.send(pid, "use this music", command=decision, on_event=on_event)

    def _run(self, pid: str, payload: Any, on_event: Callable[[Event], None]) -> Reply:
        config = self._config(pid)
        start = self.state(pid)
        before = len(start.get("messages", []))
        error = None
        try:
            for mode, data in self.graph.stream(
                payload, config, context=self.crew, stream_mode=["custom", "updates"]
            ):
                if mode == "custom":
                    on_event(data)
        except ShotlineError as exc:  # the turn stops; the project is as it was before it
            error = str(exc)
            now = self.state(pid)
            restored = {key: start.get(key) for key in CONTENT}
            turn = Turn(role="assistant", text=f"That did not work: {error}", version=start.get("version", 0))
            update: dict[str, Any] = {**restored, "messages": [turn]}
            if now.get("version") != start.get("version"):  # the version this turn began is void
                void = Version(
                    version=now["version"], parent=start.get("version"), summary="(failed)", folder=None
                )
                update["history"] = [void]
            self.graph.update_state(config, update, as_node="editor")
        state = self.state(pid)
        said = [t["text"] for t in state.get("messages", [])[before:] if t["role"] == "assistant"]
        approval = self.pending_approval(pid)
        if approval is not None:
            said.append(approval_text(approval))
        return Reply(pid, said, state.get("version", 0), approval=approval, error=error)

    def _recall(self, pid: str, version: int) -> dict[str, Any] | None:
        """The state version N ended in: the newest finished checkpoint at that version."""
        for snapshot in self.graph.get_state_history(self._config(pid)):
            if snapshot.values.get("version") == version and not snapshot.next:
                return snapshot.values
        return None


_PROJECT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def approval_text(request: dict[str, Any]) -> str:
    """The approval request as a person reads it: total, per shot, and how to answer."""
    shots = request.get("per_shot_usd", {})
    listed = ", ".join(f"shot {int(sid)} ${usd:.2f}" for sid, usd in sorted(shots.items())[:12])
    more = f" and {len(shots) - 12} more" if len(shots) > 12 else ""
    extra = f" (+${request['images_usd']:.2f} reference images)" if request.get("images_usd") else ""
    if request.get("speech_usd"):
        extra += f" (+${request['speech_usd']:.2f} voices)"
    retry = (
        f"; up to ${request['retry_allowance_usd']:.2f} more if QC asks for retries"
        if request.get("retry_allowance_usd")
        else ""
    )
    return (
        f"Rendering {len(shots)} shots on {request.get('provider')} will cost about "
        f"${request['estimate_usd']:.2f}{extra}{retry}: {listed}{more}. "
        "Approve? Answer yes, no, or a budget (e.g. 'budget $5')."
    )
