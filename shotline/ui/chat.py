"""The studio in a browser (Gradio): chat with the director, watch the storyboard fill in, play the
cut, fix a character, approve the spend, go back to any version.

Everything shown is read from the project (the checkpointed graph state, the event book); the page
holds nothing of its own but which project is open, kept in the browser, so a reload loses nothing.
Turns run in the background (`ui.runs`); the chat streams their events while they work.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image, ImageDraw

from shotline.agents.decisions import ChangeBible, Decision
from shotline.errors import ShotlineError
from shotline.memory.models import RESOLUTIONS
from shotline.memory.store import Ledger
from shotline.tools import ffmpeg
from shotline.tools.fonts import font
from shotline.tools.uploads import UploadError, check_upload
from shotline.tools.video import catalog
from shotline.ui.runs import TERMINAL
from shotline.ui.session import approval_text

LOCAL_USER = "local"
VIEWS = ("front", "side", "back", "face")  # the order offered in the picker
POLL_S = 0.25
PANELS = (
    "chat",
    "storyboard",
    "cut",
    "cost",
    "approval",
    "bible",
    "references",
    "history",
    "targets",
    "files",
)


def _user(request: gr.Request | None) -> str:
    return (request.username if request is not None else None) or LOCAL_USER


class StudioUI:
    """The panels of one project, computed from its state; shared by every event handler."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.studio = service.studio
        self.book = service.book
        self.settings = service.settings

    # --- projects -------------------------------------------------------------------------------

    def projects(self, user: str) -> list[str]:
        return self.book.projects(user)

    def owned(self, pid: str | None, user: str) -> str | None:
        return pid if pid and self.book.owner(pid) == user else None

    def new_project(self, user: str, provider: str, ratio: str, budget: float | None) -> str:
        pid = self.studio.create(provider=provider, ratio=ratio, budget_usd=budget or None)  # type: ignore[arg-type]
        self.book.own(pid, user)
        return pid

    # --- panels ---------------------------------------------------------------------------------

    def chat(self, pid: str | None) -> list[dict[str, str]]:
        if not pid:
            return []
        state = self.studio.state(pid)
        shown = [{"role": t["role"], "content": t["text"]} for t in state.get("messages", [])]
        if (waiting := self.studio.pending_approval(pid)) is not None:
            shown.append({"role": "assistant", "content": approval_text(waiting)})
        return shown

    def storyboard(self, pid: str | None) -> list[tuple[str, str]]:
        if not pid:
            return []
        state = self.studio.state(pid)
        board, takes = state.get("storyboard"), state.get("takes") or {}
        if not board:
            return []
        stills = self.settings.projects_dir / pid / "stills"
        tiles = []
        for shot in board.shots:
            take = takes.get(shot.id)
            if take and Path(take.path).exists():
                image = _still(Path(take.path), take.sha256, stills)
                status = f"{take.model} · ${take.cost_usd:.2f}" + (" · cached" if take.cache_hit else "")
            else:
                image = _card(shot, board.ratio, stills)
                status = "waiting for approval" if self.studio.pending_approval(pid) else "not rendered"
            caption = f"{int(shot.id)} · {shot.framing} · {shot.duration_s:.1f} s · {status}"
            tiles.append((str(image), caption))
        return tiles

    def cut(self, pid: str | None) -> tuple[str | None, str | None]:
        if not pid:
            return None, None
        cut = self.studio.state(pid).get("cut")
        if not cut:
            return None, None
        return cut.files.get("final.mp4"), cut.files.get("final.srt")

    def cost(self, pid: str | None, *, asking: bool = True) -> str:
        """Spent, budget, version; with `asking`, the estimate that waits for approval, if one does."""
        if not pid:
            return "No project open."
        state = self.studio.state(pid)
        spent = Ledger(self.settings.root / "ledger.sqlite").spent(pid)
        budget = state["order"].get("budget_usd") or 0.0
        line = f"**Spent ${spent:.2f}**" + (f" of a ${budget:.2f} budget" if budget else " (no budget set)")
        if asking and (waiting := self.studio.pending_approval(pid)) is not None:
            line += f" · **${waiting['estimate_usd']:.2f} waits for your approval**"
        return f"{line} · version {state.get('version', 0)} · {state['order']['provider']}"

    def bible(self, pid: str | None) -> tuple[list[list[str]], list[tuple[str, str]]]:
        if not pid:
            return [], []
        breakdown = self.studio.state(pid).get("breakdown")
        if not breakdown:
            return [], []
        rows = [["character", c.name, c.description] for c in breakdown.characters]
        rows += [["set", loc.name, loc.description] for loc in breakdown.locations]
        pictures = []
        from shotline.memory.bible import Bible  # Chroma loads only once a film exists

        linked = Bible.open(self.settings.bible_dir, pid).linked_views()
        for c in breakdown.characters:
            link = linked.characters.get(c.id, {}).get("front")
            if link and Path(link.path).exists():
                pictures.append((link.path, f"{c.name} (front)"))
        for loc in breakdown.locations:
            link = linked.locations.get(loc.id, {}).get("day") or linked.locations.get(loc.id, {}).get(
                "night"
            )
            if link and Path(link.path).exists():
                pictures.append((link.path, loc.name))
        return rows, pictures

    def history(self, pid: str | None) -> list[list[Any]]:
        if not pid:
            return []
        current = self.studio.state(pid).get("version", 0)
        return [
            [
                v["version"],
                v["summary"],
                "yes" if v["folder"] else "",
                "← current" if v["version"] == current else "",
            ]
            for v in self.studio.history(pid)
        ]

    def targets(self, pid: str | None) -> list[str]:
        if not pid:
            return []
        breakdown = self.studio.state(pid).get("breakdown")
        return (
            [c.name for c in breakdown.characters] + [loc.name for loc in breakdown.locations]
            if breakdown
            else []
        )

    def panels(self, pid: str | None) -> tuple:
        video, subtitles = self.cut(pid)
        rows, pictures = self.bible(pid)
        waiting = bool(pid) and self.studio.pending_approval(pid) is not None
        return (
            self.chat(pid),
            self.storyboard(pid),
            gr.update(value=video, subtitles=subtitles),
            self.cost(pid),
            gr.update(visible=waiting),
            rows,
            pictures,
            self.history(pid),
            gr.update(choices=self.targets(pid)),
            self.files(pid),
        )

    def files(self, pid: str | None) -> list[str]:
        """Everything the latest cut delivered, to download: the film, its reframed versions, the poster,
        subtitles and the timelines for Premiere, Resolve and Final Cut."""
        if not pid:
            return []
        cut = self.studio.state(pid).get("cut")
        return [path for path in (cut.files.values() if cut else []) if Path(path).is_file()]

    # --- turns ----------------------------------------------------------------------------------

    def run(self, pid: str, work, label: str) -> Iterator[tuple]:
        """Start a turn and stream it: while it works, the chat with a live progress bubble (cheap,
        a few times a second); when it ends, every panel."""
        try:
            seq = self.service.runs.start(pid, work)
        except ShotlineError as exc:
            gr.Warning(str(exc))
            yield self.panels(pid)
            return
        # one line per stage message and one per shot, updated in place: a shot's repeated
        # "running" events must not push everything else out of the bubble
        lines: dict[tuple[str, str], str] = {}

        def working(first: bool) -> tuple:
            """While it works nothing waits for approval: the buttons go, and the cost line's "waits"."""
            return tuple(
                gr.update(visible=False)
                if panel == "approval"
                else self.cost(pid, asking=False)
                if panel == "cost" and first
                else gr.update()
                for panel in PANELS[1:]
            )

        first = True
        while True:
            events = self.book.after(pid, seq)
            for event in events:
                seq = event.seq
                data = event.data
                if event.kind != "progress":
                    continue
                if data.get("stage") == "render" and data.get("shot_id"):
                    note = f" ({data['message']})" if data.get("message") else ""
                    lines[("shot", data["shot_id"])] = f"shot {data['shot_id']}: {data.get('status')}{note}"
                elif data.get("message"):
                    lines[("stage", str(len(lines)))] = f"{data.get('stage')}: {data['message']}"
            if any(e.kind in TERMINAL for e in events):
                for error in (e.data["message"] for e in events if e.kind == "error"):
                    gr.Warning(error)
                yield self.panels(pid)
                return
            if events or first:
                chat = self.chat(pid)
                bubble = {"title": label, "status": "pending"}
                shown = "\n".join(list(lines.values())[-12:]) or "…"
                chat.append({"role": "assistant", "content": shown, "metadata": bubble})
                yield (chat, *working(first))
                first = False
            time.sleep(POLL_S)


def _still(take: Path, sha256: str, folder: Path) -> Path:
    path = folder / f"{sha256[:24]}.jpg"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        info = ffmpeg.probe(take)
        frame = ffmpeg.grab_frame(take, info.duration_s / 2)
        frame.thumbnail((480, 480))
        frame.convert("RGB").save(path, quality=85)
    return path


def _card(shot: Any, ratio: str, folder: Path) -> Path:
    """A card for a shot with no take yet: its number, framing and who is in it."""
    text = f"{int(shot.id)}  {shot.framing}\n{', '.join(shot.characters) or '(the set)'}\n{shot.duration_s:.1f} s"
    path = folder / f"card-{hashlib.sha256((text + ratio).encode()).hexdigest()[:16]}.png"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        w, h = RESOLUTIONS[ratio]
        image = Image.new("RGB", (w // 3, h // 3), "#2b2d31")
        ImageDraw.Draw(image).multiline_text((16, 16), text, fill="#e8e8e8", font=font(22), spacing=8)
        image.save(path)
    return path


def build_ui(service: Any) -> gr.Blocks:
    """The Gradio app over a `ui.api.Service` (the same studio, runs and events as the REST API)."""
    ui = StudioUI(service)
    usable = [i.name for i in catalog(service.settings) if i.unavailable is None] or ["animatic"]
    extra = sorted(
        {key.split("/")[0] for key in service.studio.crew.models} - set(usable)
    )  # models put in the crew
    providers = usable + extra

    with gr.Blocks(title="Shotline studio") as app:
        current = gr.BrowserState(None, storage_key="shotline-project")
        with gr.Row():
            project = gr.Dropdown(label="Project", choices=[], interactive=True, scale=3, elem_id="project")
            provider = gr.Dropdown(providers, value=providers[0], label="Video model", scale=2)
            ratio = gr.Radio(["16:9", "9:16", "1:1"], value="16:9", label="Ratio", scale=2)
            budget = gr.Number(label="Budget (USD)", value=None, minimum=0, scale=1)
            new = gr.Button("New project", scale=1, elem_id="new-project")
        cost = gr.Markdown("No project open.", elem_id="cost")
        with gr.Row():
            with gr.Column(scale=5):
                chatbot = gr.Chatbot(label="Director", height=520, elem_id="chat")
                box = gr.MultimodalTextbox(
                    placeholder="A brief, a screenplay, or a change: 'make her jacket red', 'shot 4 shorter', 'undo'",
                    file_types=[".fountain", ".txt", ".md", "image", *MUSIC_SUFFIXES],
                    file_count="multiple",
                    label="Message",
                    show_label=False,  # else Gradio shows its class name, "MultimodalTextbox"
                    elem_id="message",
                )
                with gr.Row(visible=False, elem_id="approval") as approval:
                    approve = gr.Button("Approve", variant="primary", elem_id="approve")
                    decline = gr.Button("Decline", elem_id="decline")
            with gr.Column(scale=6):
                with gr.Tab("Storyboard"):
                    board = gr.Gallery(
                        label="Shots", columns=4, height=520, object_fit="contain", elem_id="storyboard"
                    )  # whole frames: cropped to squares, a 16:9 card loses its text
                with gr.Tab("Cut") as cut_tab:
                    video = gr.Video(label="Latest cut", elem_id="cut", interactive=False)
                    downloads = gr.File(
                        label="Files: film, reframes, poster, subtitles, timelines",
                        file_count="multiple", interactive=False, elem_id="files",
                    )  # fmt: skip
                with gr.Tab("Bible"):
                    bible_rows = gr.Dataframe(
                        headers=["kind", "name", "description"], interactive=False, wrap=True
                    )
                    bible_pictures = gr.Gallery(label="References", columns=4)
                    with gr.Row():
                        target = gr.Dropdown(label="Who or what", choices=[], scale=2)
                        item = gr.Textbox(label="Item (jacket, hair, lamp…)", scale=2)
                        value = gr.Textbox(label="New look (red, short grey…)", scale=2)
                        change = gr.Button("Change look", scale=1)
                    with gr.Row():
                        view = gr.Dropdown(list(VIEWS), value="front", label="View", scale=1)
                        picture = gr.Image(type="filepath", label="Your reference image", scale=3)
                        use = gr.Button("Use this image", scale=1)
                with gr.Tab("History"):
                    versions = gr.Dataframe(headers=["version", "what changed", "cut", ""], interactive=False)
                    with gr.Row():
                        back_to = gr.Number(label="Version", precision=0, minimum=0)
                        revert = gr.Button("Revert to this version")

        outputs = [
            chatbot,
            board,
            video,
            cost,
            approval,
            bible_rows,
            bible_pictures,
            versions,
            target,
            downloads,
        ]

        def on_load(saved: str | None, request: gr.Request):
            user = _user(request)
            pid = ui.owned(saved, user) or (ui.projects(user) or [None])[-1]
            return (gr.update(choices=ui.projects(user), value=pid), pid, *ui.panels(pid))

        app.load(on_load, [current], [project, current, *outputs])

        def on_new(provider_name: str, ratio_value: str, budget_usd: float | None, request: gr.Request):
            user = _user(request)
            pid = ui.new_project(user, provider_name, ratio_value, budget_usd)
            return (gr.update(choices=ui.projects(user), value=pid), pid, *ui.panels(pid))

        new.click(on_new, [provider, ratio, budget], [project, current, *outputs], api_name="new_project")

        def on_pick(pid: str | None, request: gr.Request):
            pid = ui.owned(pid, _user(request))
            return (pid, *ui.panels(pid))

        project.change(on_pick, [project], [current, *outputs], api_name=False)

        def on_cut_tab(pid: str | None, request: gr.Request):
            # Gradio 6 drops a video given with subtitles while its tab is hidden (the player stays
            # empty when the tab opens): give it again once the tab shows; playback is not reset
            film, subtitles = ui.cut(ui.owned(pid, _user(request)))
            return gr.update(value=film, subtitles=subtitles)

        cut_tab.select(on_cut_tab, [current], [video], api_name=False, show_progress="hidden")

        def on_message(message: dict, pid: str | None, request: gr.Request):
            user = _user(request)
            pid = ui.owned(pid, user)
            if pid is None:
                pid = ui.new_project(user, providers[0], "16:9", None)
                yield (gr.update(choices=ui.projects(user), value=pid), pid, None, *ui.panels(pid))
            text = (message or {}).get("text", "").strip()
            for path in (message or {}).get("files", []):
                if Path(path).suffix.lower() in MUSIC_SUFFIXES:  # a music bed: the film is re-cut with it
                    data = Path(path).read_bytes()
                    for panels in ui.run(
                        pid,
                        lambda on_event, d=data: ui.studio.use_music(pid, d, on_event=on_event),
                        "Adding music",
                    ):
                        yield (gr.update(), pid, None, *panels)
                    text = "" if MUSIC_WORDS.search(text) else text
                    continue
                try:
                    text = _attached(ui, pid, Path(path), text)
                except UploadError as exc:
                    gr.Warning(str(exc))
                    return
            if not text:
                return
            for panels in ui.run(
                pid, lambda on_event: ui.studio.send(pid, text, on_event=on_event), "Working"
            ):
                yield (gr.update(), pid, None, *panels)

        box.submit(on_message, [box, current], [project, current, box, *outputs], api_name="chat")

        def on_answer(yes: bool):
            def handler(pid: str | None, request: gr.Request):
                pid = ui.owned(pid, _user(request))
                if pid is None:
                    return
                label = "Rendering" if yes else "Declining"
                yield from ui.run(pid, lambda on_event: ui.studio.approve(pid, yes, on_event=on_event), label)

            return handler

        approve.click(on_answer(True), [current], outputs, api_name="approve")
        decline.click(on_answer(False), [current], outputs, api_name="decline")

        def on_change(pid: str | None, who: str | None, what: str, new_look: str, request: gr.Request):
            pid = ui.owned(pid, _user(request))
            if not (pid and who and what.strip() and new_look.strip()):
                gr.Warning("Pick who or what, an item and a new look.")
                return
            decision = Decision(
                actions=[ChangeBible(target=who, item=what.strip(), value=new_look.strip())],
                summary=f"{who}: {what.strip()} -> {new_look.strip()}",
            )
            said = f"make {who}'s {what.strip()} {new_look.strip()}"
            yield from ui.run(
                pid,
                lambda on_event: ui.studio.send(pid, said, command=decision, on_event=on_event),
                "Changing",
            )

        change.click(on_change, [current, target, item, value], outputs, api_name="change_look")

        def on_reference(
            pid: str | None, who: str | None, which: str, image: str | None, request: gr.Request
        ):
            pid = ui.owned(pid, _user(request))
            if not (pid and who and image):
                gr.Warning("Pick a character and an image.")
                return ui.panels(pid)
            try:
                data = Path(image).read_bytes()
                check_upload(
                    data, kind="reference", declared_type=None, max_bytes=ui.settings.upload_max_bytes
                )
                ui.studio.use_reference(pid, who, which, data)
            except ShotlineError as exc:
                gr.Warning(str(exc))
            return ui.panels(pid)

        use.click(on_reference, [current, target, view, picture], outputs, api_name="use_reference")

        def on_revert(pid: str | None, version: float | None, request: gr.Request):
            pid = ui.owned(pid, _user(request))
            if pid is None or version is None:
                return
            number = int(version)
            yield from ui.run(
                pid,
                lambda on_event: ui.studio.revert(pid, number, on_event=on_event),
                f"Back to version {number}",
            )

        revert.click(on_revert, [current, back_to], outputs, api_name="revert")
    return app


MUSIC_SUFFIXES = (".wav", ".mp3", ".flac", ".ogg", ".m4a")
MUSIC_WORDS = re.compile(
    r"^\s*(use )?(this|it)?\s*(as )?(the )?(music|soundtrack|score|音乐|配乐)?[.!。]?\s*$", re.I
)
"""A message that only says what the attached music is for; anything else is read as a message too."""


def _attached(ui: StudioUI, pid: str, path: Path, text: str) -> str:
    """An attachment: a screenplay becomes the message; an image becomes a character's reference
    (named in the message: 'MEI front'), checked by content first."""
    data = path.read_bytes()
    if path.suffix.lower() in {".fountain", ".txt", ".md", ".spmd"}:
        check_upload(data, kind="screenplay", declared_type=None, max_bytes=ui.settings.upload_max_bytes)
        return data.decode("utf-8-sig")
    check_upload(data, kind="reference", declared_type=None, max_bytes=ui.settings.upload_max_bytes)
    words = text.split()
    who = next((t for t in ui.targets(pid) if t.casefold() in text.casefold()), None)
    which = next((w for w in words if w.lower() in VIEWS), "front")
    if who is None:
        raise UploadError("say whose reference the image is, e.g. 'MEI front'", status=422, code="bad_input")
    ui.studio.use_reference(pid, who, which, data)
    return ""
