"""The `shotline` command. Exit code 0 on success, 2 on bad input with a one-line reason."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from shotline.config import Settings
from shotline.errors import (
    BudgetExceeded,
    InputError,
    LLMConfigError,
    NotBuiltError,
    ProviderUnavailable,
    ShotlineError,
    UnknownProviderError,
)
from shotline.tools.video import PROVIDERS

app = typer.Typer(
    name="shotline",
    help="Shotline: an AI film production line. Screenplay or brief in, consistent short film out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)
SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "last_delivery.fountain"
STAGES = ("director", "screenwriter", "continuity", "render", "qc", "editor")
BAD_INPUT = (
    InputError,
    UnknownProviderError,
    NotBuiltError,
    BudgetExceeded,
    ProviderUnavailable,
    LLMConfigError,
)


class LineProgress:
    """A bar per stage and a bar per shot, fed by the graph's custom stream events."""

    def __init__(self, progress: Progress) -> None:
        self.p = progress
        self.stages = progress.add_task("line", total=len(STAGES), stage="starting")
        self.shots: dict[str, TaskID] = {}
        self.render_task: TaskID | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        stage, status = event.get("stage", ""), event.get("status", "")
        if stage == "render" and "shot_id" in event:
            self._shot(event["shot_id"], status)
            return
        if stage == "render" and status == "running":
            self.render_task = self.p.add_task("shots", total=event.get("total", 0), stage="render")
        if status in {"done", "finished"} and stage in STAGES:
            self.p.advance(self.stages)
            if event.get("message"):
                self.p.console.print(f"[green]✓[/] {stage}: {event['message']}")
            for conflict in event.get("conflicts", []):
                self.p.console.print(f"  [yellow]![/] {conflict}")
            if event.get("flagged"):
                self.p.console.print(
                    f"  [yellow]![/] for a person to review: shots {', '.join(event['flagged'])}"
                )
        self.p.update(self.stages, stage=stage)

    def _shot(self, shot_id: str, status: str) -> None:
        if shot_id not in self.shots:
            self.shots[shot_id] = self.p.add_task(f"shot {shot_id}", total=1, stage="queued")
        task = self.shots[shot_id]
        self.p.update(task, stage=status)
        if status in {"done", "cached"}:
            self.p.update(task, completed=1, visible=False)
            if self.render_task is not None:
                self.p.advance(self.render_task)
        if status == "failed":
            self.p.console.print(f"[red]✗[/] shot {shot_id} failed")


def _run(
    source: Path,
    out: Path,
    *,
    ratio: str,
    provider: str,
    budget: float | None,
    yes: bool,
    project_id: str | None = None,
    policy: str = "cheapest",
    refs: Path | None = None,
    finish: Any = None,
) -> None:
    from shotline.ui.session import make_film

    settings = Settings()
    started = time.monotonic()
    columns = (
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stage]}"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            state = make_film(
                source,
                out_dir=out,
                settings=settings,
                ratio=ratio,  # type: ignore[arg-type]
                provider=provider,
                budget_usd=budget,
                approved=yes,
                project_id=project_id,
                policy=policy,  # type: ignore[arg-type]
                refs_dir=refs,
                finish=finish,
                on_event=LineProgress(progress),
                ask_approval=lambda req: _ask(progress, req),
            )
    except BAD_INPUT as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    except ShotlineError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from None
    takes = state.get("takes", {})
    rendered = sum(1 for t in takes.values() if not t.cache_hit)
    console.print(
        f"[bold green]Done[/] in {time.monotonic() - started:.1f} s: {len(takes)} shots "
        f"({rendered} rendered, {len(takes) - rendered} from cache), "
        f"{state['cut'].duration_s:.1f} s film -> {out / 'final.mp4'}"
    )
    extra = [Path(p).name for name, p in state["cut"].files.items() if name.startswith("final_")]
    if extra:
        console.print(f"also: {', '.join(extra)}")
    if note := _sound_note(out):
        console.print(f"[yellow]{note}[/]")


def _sound_note(out: Path) -> str:
    """The report's plain word on the dialogue when it is captions only (no voice here)."""
    import json

    try:
        sound = json.loads((out / "report.json").read_text("utf-8")).get("sound", {})
    except (OSError, ValueError):
        return ""
    return sound.get("note", "") if sound.get("lines") else ""


def _ask(progress: Progress, request: dict[str, Any]) -> bool:
    progress.stop()
    if not sys.stdin.isatty():
        console.print(
            f"[yellow]approval needed:[/] ${request['estimate_usd']:.2f} for {request['shots']} shots on "
            f"{request['provider']}; rerun with --yes to approve"
        )
        return False
    answer = typer.confirm(
        f"Render {request['shots']} shots on {request['provider']} for ${request['estimate_usd']:.2f}?"
    )
    progress.start()
    return answer


RatioOpt = Annotated[str, typer.Option("--ratio", help="16:9, 9:16 or 1:1")]


def _check_ratio(ratio: str) -> Literal["16:9", "9:16", "1:1"]:
    if ratio not in {"16:9", "9:16", "1:1"}:
        console.print(f"[red]error:[/] ratio {ratio!r} is not one of 16:9, 9:16, 1:1")
        raise typer.Exit(2)
    return ratio  # type: ignore[return-value]


@app.command()
def demo(out: Annotated[Path, typer.Option("--out", help="output folder")] = Path("out/demo")) -> None:
    """Make the bundled sample film offline, with no key and no network."""
    _run(SAMPLE, out, ratio="16:9", provider="animatic", budget=None, yes=True, project_id="demo")


@app.command()
def make(
    input: Annotated[Path, typer.Argument(help="a .fountain screenplay or a .txt/.md brief")],
    out: Annotated[Path | None, typer.Option("--out", help="output folder (default out/<name>)")] = None,
    ratio: RatioOpt = "16:9",
    provider: Annotated[
        str,
        typer.Option(
            "--provider", help="video model: " + ", ".join(PROVIDERS) + ", or auto (every usable one)"
        ),
    ] = "animatic",
    budget: Annotated[float | None, typer.Option("--budget", help="most this run may spend, in USD")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="approve the cost estimate without asking")] = False,
    policy: Annotated[
        str, typer.Option("--policy", help="how to pick a model per shot: cheapest, fastest or best")
    ] = "cheapest",
    refs: Annotated[
        Path | None,
        typer.Option("--refs", help="your own reference images, named <NAME>.<face|front|side|back>.png"),
    ] = None,
    music: Annotated[
        Path | None, typer.Option("--music", help="a music bed (WAV, MP3, ...), ducked under the dialogue")
    ] = None,
    loudness: Annotated[
        str, typer.Option("--loudness", help="online (-14 LUFS), broadcast (-23 LUFS), or a LUFS number")
    ] = "online",
    transition: Annotated[
        str, typer.Option("--transition", help="between scenes: cut, crossfade or dip (to black)")
    ] = "cut",
    burn_subtitles: Annotated[
        bool, typer.Option("--burn-subtitles", help="draw the subtitles into the picture too")
    ] = False,
    reframe: Annotated[
        list[str] | None, typer.Option("--reframe", help="also deliver a 9:16 or 1:1 version (repeatable)")
    ] = None,
    voices: Annotated[
        bool, typer.Option("--voices/--no-voices", help="speak the dialogue (else captions only)")
    ] = True,
) -> None:
    """Make a film from a screenplay or a brief."""
    if policy not in {"cheapest", "fastest", "best"}:
        console.print(f"[red]error:[/] policy {policy!r} is not one of cheapest, fastest, best")
        raise typer.Exit(2)
    try:
        finish = finish_options(
            music=music, loudness=loudness, transition=transition, burn_subtitles=burn_subtitles,
            reframe=reframe or [], voices=voices, ratio=ratio,
        )  # fmt: skip
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    _run(
        input, out or Path("out") / input.stem, ratio=_check_ratio(ratio), provider=provider, budget=budget,
        yes=yes, policy=policy, refs=refs, finish=finish,
    )  # fmt: skip


def finish_options(
    *,
    music: Path | None,
    loudness: str,
    transition: str,
    burn_subtitles: bool,
    reframe: list[str],
    voices: bool,
    ratio: str,
):
    """The `make` flags as the editor's finish; ValueError says which flag is wrong."""
    from shotline.memory.models import BROADCAST_LUFS, ONLINE_LUFS, Edit, Sound, Transition
    from shotline.tools.timeline import EVERY_SCENE

    named = {"online": ONLINE_LUFS, "broadcast": BROADCAST_LUFS, "ebu": BROADCAST_LUFS}
    try:
        target = named[loudness.lower()] if loudness.lower() in named else float(loudness)
    except ValueError:
        raise ValueError(
            f"--loudness {loudness!r}: say online, broadcast or a LUFS number like -16"
        ) from None
    if not -36.0 <= target <= -8.0:
        raise ValueError(f"--loudness {target:g} LUFS is outside -36..-8")
    if transition not in {"cut", "crossfade", "dip"}:
        raise ValueError(f"--transition {transition!r}: say cut, crossfade or dip")
    if music is not None and not music.is_file():
        raise ValueError(f"--music {music}: no such file")
    wanted = [r.strip() for item in reframe for r in item.split(",") if r.strip()]
    bad = [r for r in wanted if r not in {"9:16", "1:1", "16:9"}]
    if bad:
        raise ValueError(f"--reframe {bad[0]!r}: say 9:16 or 1:1")
    reframes = list(dict.fromkeys(r for r in wanted if r != ratio))
    everywhere = {EVERY_SCENE: Transition(kind=transition, seconds=1.0 if transition == "dip" else 0.5)}
    return Edit(
        scene_transitions=everywhere if transition != "cut" else {},
        sound=Sound(voices=voices, music=str(music.resolve()) if music else None, target_lufs=target),
        burn_subtitles=burn_subtitles,
        reframes=reframes,
    )


def _capabilities(card) -> str:
    parts = []
    if card.fixed_durations_s and len(card.fixed_durations_s) < 5:
        parts.append("/".join(f"{d:g}" for d in card.fixed_durations_s) + " s")
    else:
        parts.append(f"{card.durations_s[0]:g}-{card.durations_s[1]:g} s")
    parts.append(" ".join(card.ratios))
    if card.first_last_frame:
        parts.append("first+last frame")
    elif card.image_to_video:
        parts.append("first frame")
    if card.reference_images:
        parts.append(f"{card.reference_images} refs")
    if card.native_audio:
        parts.append("audio")
    return ", ".join(parts)


@app.command()
def providers() -> None:
    """List every video model: whether it can be used here (or why not), what it can do, its price."""
    from rich.table import Table

    from shotline.tools.video import catalog

    table = Table(title="Video models", show_lines=False)
    for column in ("provider", "model", "available", "can do", "USD/s", "price source"):
        table.add_column(column, overflow="fold")
    for info in catalog(Settings()):
        status = "[green]yes[/]" if info.unavailable is None else f"[yellow]{info.unavailable}[/]"
        for n, card in enumerate(info.cards):
            price = (
                f"{card.usd_per_second:.3f}"
                if card.usd_per_second or not card.usd_per_clip
                else f"{card.usd_per_clip:.2f}/clip"
            )
            table.add_row(
                info.name if n == 0 else "",
                card.model_id or card.display_name,
                status if n == 0 else "",
                _capabilities(card),
                price,
                f"{card.price_source.split(' (')[0][:60]} ({card.price_date})",
            )
        if not info.cards:
            table.add_row(info.name, "", f"[red]{info.unavailable}[/]", "", "", "")
    Console(width=200).print(table)


@app.command()
def chat(
    project: Annotated[
        str | None, typer.Option("--project", help="continue this project (or start it)")
    ] = None,
    ratio: RatioOpt = "16:9",
    provider: Annotated[str, typer.Option("--provider", help="video model for a new project")] = "animatic",
    budget: Annotated[
        float | None, typer.Option("--budget", help="most a new project may spend, USD")
    ] = None,
    script: Annotated[
        Path | None,
        typer.Option(
            "--script", help="a .fountain screenplay or a .txt/.md brief, sent as the first message"
        ),
    ] = None,
) -> None:
    """Talk to the director: one message per line on stdin; answers on stdout.

    A screenplay spans many lines: give it with --script FILE, sent whole as the first message.

    While a render waits for approval, answer yes, no, or a budget (e.g. 'budget $5').

    If the input ends first, the approval waits in the project: `shotline chat --project ID` answers it.
    """
    from itertools import chain

    from rich.markup import escape

    from shotline.agents.screenwriter import read_source
    from shotline.errors import LLMConfigError
    from shotline.ui.session import Studio, approval_text  # the line loads only for commands that run it

    out = Console(soft_wrap=True, markup=False, highlight=False, emoji=False)  # shown as written
    try:
        first = read_source(script) if script is not None else None  # a bad file fails before any project
        settings = Settings()
        with Studio(settings) as studio:
            pid = project if project and studio.exists(project) else studio.create(
                project_id=project, ratio=_check_ratio(ratio), provider=provider, budget_usd=budget)  # fmt: skip
            out.print(f"project {pid} (version {studio.state(pid).get('version', 0)})")
            if (waiting := studio.pending_approval(pid)) is not None:
                out.print(approval_text(waiting))
            messages = chain([first] if first is not None else [], (ln.strip() for ln in sys.stdin))
            for message in messages:
                if not message.strip():
                    continue
                reply = studio.send(pid, message, on_event=_chat_event)
                for text in reply.messages:
                    out.print(text)
            if studio.pending_approval(pid) is not None:
                out.print(f"waiting for approval: run `shotline chat --project {pid}` to answer")
    except (*BAD_INPUT, LLMConfigError) as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(2) from None
    except ShotlineError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}")
        raise typer.Exit(1) from None


def _chat_event(event: dict[str, Any]) -> None:
    """Progress on stderr, as plain text (a message may hold brackets that are not rich markup)."""
    if event.get("status") not in {"done", "finished", "decided", "retry", "refused"}:
        return
    plain: dict[str, Any] = {"markup": False, "highlight": False, "emoji": False}
    if event.get("message"):
        console.print(f"{event.get('stage')}: {event['message']}", style="dim", **plain)
    for conflict in event.get("conflicts", []):
        console.print(f"  ! {conflict}", style="yellow", **plain)
    if event.get("flagged"):
        console.print(
            f"  ! for a person to review: shots {', '.join(event['flagged'])}", style="yellow", **plain
        )


@app.command()
def ui(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 7860,
) -> None:
    """Open the studio in a browser (Gradio), for this machine's user; no sign-in."""
    from shotline.ui.api import Service  # the web stack loads only for the commands that use it
    from shotline.ui.chat import build_ui

    settings = Settings()
    with Service(settings) as service:
        build_ui(service).launch(server_name=host, server_port=port, allowed_paths=[str(settings.root)])


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
) -> None:
    """Serve the HTTP API for bots under /v1, with the studio at /ui (SHOTLINE_API_TOKENS required)."""
    import uvicorn

    from shotline.ui.api import create_app, parse_tokens

    settings = Settings()
    try:
        if not parse_tokens(settings.api_tokens.get_secret_value() if settings.api_tokens else None):
            raise InputError("set SHOTLINE_API_TOKENS (e.g. 'alice:<token>,bob:<token>') before serving")
    except InputError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    uvicorn.run(create_app(settings, ui=True), host=host, port=port, log_level="info")


def main() -> None:  # pragma: no cover - console entry point
    logging.basicConfig(level=logging.WARNING)
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
