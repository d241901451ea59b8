"""The render runner: turns shots into takes with bounded concurrency, a content-addressed cache
and a cost ledger. The one place where render policy lives.

A take is stored under its render key (sha256 of what the provider receives), so a rerun, a resume
after a crash, or a revision renders exactly the shots whose key changed, and nothing is paid twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from shotline.errors import RenderError, ShotlineError
from shotline.memory.models import RESOLUTIONS, Breakdown, Shot, Storyboard, Take
from shotline.memory.store import Ledger, TakeStore
from shotline.tools.ffmpeg import probe
from shotline.tools.timing import speech_windows
from shotline.tools.video.base import Caption, Figure, RenderRequest, ShotVisual, VideoModel, render_key

POLL_S = 0.05
DURATION_TOLERANCE_FRAMES = 1


class RenderEvent(BaseModel):
    """Progress of one shot, streamed to the CLI bar, the UI and the API."""

    shot_id: str
    stage: Literal["cached", "submitted", "running", "done", "failed"]
    model: str
    progress: float | None = None
    message: str = ""


def shot_visual(shot: Shot, breakdown: Breakdown, night: bool) -> ShotVisual:
    """What the animatic draws for a shot, straight from the bible and the storyboard."""
    loc = breakdown.location(shot.location)
    speaking = {d.character for d in shot.dialogue}
    figures = tuple(
        Figure(
            name=breakdown.character(cid).name,
            color=breakdown.character(cid).color,
            x=shot.positions.get(cid, 0.5),
            speaking=cid in speaking,
        )
        for cid in shot.characters
    )
    captions = tuple(
        Caption(speaker=breakdown.character(d.character).name, text=d.text, start_s=a, end_s=b)
        for d, (a, b) in zip(shot.dialogue, speech_windows(shot), strict=True)
    )
    subject = shot.subject
    if shot.framing != "insert" and subject in {c.id for c in breakdown.characters}:
        subject = breakdown.character(subject).name
    return ShotVisual(
        shot_id=shot.id,
        framing=shot.framing,
        camera=shot.camera,
        location=loc.name,
        backdrop=loc.color,
        night=night,
        interior=loc.interior != "EXT",
        figures=figures,
        captions=captions,
        subject=subject,
    )


def build_request(shot: Shot, breakdown: Breakdown, storyboard: Storyboard, model: str) -> RenderRequest:
    scene = next(s for s in breakdown.scenes if s.id == shot.scene)
    width, height = RESOLUTIONS[storyboard.ratio]
    return RenderRequest(
        shot_id=shot.id,
        model=model,
        prompt=shot.prompt,
        duration_s=shot.duration_s,
        ratio=storyboard.ratio,
        width=width,
        height=height,
        visual=shot_visual(shot, breakdown, scene.night),
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Renderer:
    """Runs render requests against video models. Finished takes land in the store immediately, so a
    failure or a kill never loses them."""

    store: TakeStore
    ledger: Ledger
    models: dict[str, VideoModel]
    project_id: str
    concurrency: int = 2
    on_event: Callable[[RenderEvent], None] = field(default=lambda e: None)

    def key_of(self, request: RenderRequest) -> str:
        return render_key(self.models[request.model].key_payload(request))

    def estimate_usd(self, requests: list[RenderRequest]) -> float:
        """What rendering these would cost, not counting takes already in the store."""
        return round(
            sum(
                self.models[r.model].card.cost(r.duration_s)
                for r in requests
                if self.store.get(self.key_of(r)) is None
            ),
            4,
        )

    async def render(self, requests: list[RenderRequest]) -> dict[str, Take]:
        gate = asyncio.Semaphore(self.concurrency)
        results = await asyncio.gather(*(self._one(r, gate) for r in requests), return_exceptions=True)
        takes: dict[str, Take] = {}
        failures: list[str] = []
        for request, result in zip(requests, results, strict=True):
            if isinstance(result, Take):
                takes[request.shot_id] = result
            elif isinstance(result, ShotlineError):
                failures.append(f"shot {request.shot_id}: {result}")
            else:
                failures.append(f"shot {request.shot_id}: {type(result).__name__}: {result}")
        if failures:
            raise RenderError(
                f"{len(failures)} of {len(requests)} shots failed ({'; '.join(failures)}); "
                f"{len(takes)} finished takes are kept and will not be rendered again"
            )
        return takes

    async def _one(self, request: RenderRequest, gate: asyncio.Semaphore) -> Take:
        model = self.models[request.model]
        key = self.key_of(request)
        cached = self.store.get(key)
        if cached is not None:
            self.on_event(RenderEvent(shot_id=request.shot_id, stage="cached", model=request.model))
            return cached.model_copy(
                update={"shot_id": request.shot_id, "cache_hit": True, "seconds": 0.0, "cost_usd": 0.0}
            )
        async with gate:
            started = time.monotonic()
            try:
                task_id = await model.submit(request)
                self.on_event(RenderEvent(shot_id=request.shot_id, stage="submitted", model=request.model))
                while (status := await model.poll(task_id)).state in {"queued", "running"}:
                    await asyncio.sleep(POLL_S)
                if status.state == "failed":
                    raise RenderError(status.error or "the model reported a failure")
                scratch = self.store.scratch(key)
                await model.fetch(task_id, scratch)
                take = self._check(scratch, request, key, model, time.monotonic() - started)
            except ShotlineError as exc:
                self.on_event(
                    RenderEvent(
                        shot_id=request.shot_id, stage="failed", model=request.model, message=str(exc)
                    )
                )
                raise
            take = self.store.put(scratch, take)
            self.ledger.record(
                project_id=self.project_id,
                shot_id=request.shot_id,
                render_key=key,
                model=request.model,
                cost_usd=take.cost_usd,
            )
            self.on_event(
                RenderEvent(shot_id=request.shot_id, stage="done", model=request.model, progress=1.0)
            )
            return take

    def _check(self, file: Path, request: RenderRequest, key: str, model: VideoModel, seconds: float) -> Take:
        """A take enters the store only if it decodes and lasts what was asked."""
        info = probe(file)
        tolerance = DURATION_TOLERANCE_FRAMES / request.fps + 1e-3
        if info.duration_s + tolerance < request.duration_s:
            file.unlink(missing_ok=True)
            raise RenderError(
                f"take is {info.duration_s:.2f} s, shorter than the {request.duration_s:.2f} s asked"
            )
        return Take(
            shot_id=request.shot_id,
            render_key=key,
            model=request.model,
            path=str(file),
            sha256=_sha256(file),
            duration_s=info.duration_s,
            width=info.width,
            height=info.height,
            cost_usd=model.card.cost(request.duration_s),
            seconds=round(seconds, 3),
        )
