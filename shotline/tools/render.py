"""The render runner: the one place where render policy lives.

Shots become takes through video models that are slow, flaky and paid by the second. The runner
makes that a production line:

- a take is stored under its render key (sha256 of what the provider receives): a rerun, a resume
  or a revision renders only the shots whose key changed, and nothing is paid twice;
- the provider's task id is persisted the moment a submit returns; a resumed run polls that task
  instead of submitting again; a submit with an unknown outcome is never blindly repeated;
- transient faults (429 with Retry-After, 5xx, timeouts, resets) are retried with backoff and
  jitter; a permanent fault falls back to the next model; a moderation refusal goes back to
  continuity by name (`RefusedPrompt`), never swallowed;
- concurrency is bounded per provider; polling backs off; every job has a deadline;
- the budget is reserved before every submit and never exceeded; the ledger records every
  charge, including failed attempts that the provider bills;
- results are downloaded as soon as a task succeeds, checked (decodes, right length) and land
  atomically.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from shotline.errors import (
    BudgetExceeded,
    ProviderError,
    RefusedPrompt,
    RenderError,
    ShotlineError,
    TransientProviderError,
    UnknownOutcome,
)
from shotline.memory.models import Take
from shotline.memory.store import Job, JobBook, Ledger, TakeStore
from shotline.tools.ffmpeg import probe
from shotline.tools.video.base import OPEN_STATES, RenderRequest, TaskStatus, VideoModel, render_key

DURATION_TOLERANCE_FRAMES = 1
CENT = 0.01


@dataclass(frozen=True)
class RenderPolicy:
    """How patient and how parallel the runner is. Tests shrink the times; nothing else changes."""

    max_attempts: int = 4
    """Tries per model for a transient fault (submit, poll or download) before falling back."""
    backoff_s: float = 2.0
    """First wait after a transient fault; doubles each time, with jitter, up to `backoff_max_s`."""
    backoff_max_s: float = 60.0
    poll_s: float = 2.0
    """Shortest poll interval. The interval is a fraction of the time the job has run so far (a task
    that has taken two minutes will not finish in the next second), so a finished task is noticed
    within `poll_fraction` of its run time, up to `poll_max_s` late."""
    poll_fraction: float = 0.05
    poll_max_s: float = 10.0
    local_poll_s: float = 0.05
    """Poll interval for in-process models (the animatic), whose tasks end in seconds."""
    jitter: float = 0.2
    """Fraction of random spread on every wait, so many jobs do not poll in lockstep."""
    deadline_s: float = 1800.0
    """Longest a job may run at its provider; after it the shot fails and the task stays recorded."""
    concurrency: int = 2
    """Jobs at once per provider, unless `per_provider` says otherwise."""
    per_provider: dict[str, int] = field(default_factory=dict)
    takes_per_shot: int = 1
    """Best of N: takes rendered per shot (differing by seed); QC keeps the best."""
    qc_retries: int = 0
    """Rounds in which a shot whose best take fails QC is rendered again with a corrected prompt,
    within the approved budget; after them it is flagged for a person."""


class RenderEvent(BaseModel):
    """Progress of one shot, streamed to the CLI bar, the UI and the API."""

    shot_id: str
    stage: Literal["cached", "submitted", "resumed", "running", "retry", "fallback", "done", "failed"]
    model: str
    progress: float | None = None
    message: str = ""


class ShotJob(BaseModel):
    """One shot to render: the routed candidates, best first; later ones are fallbacks."""

    shot_id: str
    candidates: list[RenderRequest]
    pinned: bool = False
    """A person chose the model: only its own stored take counts, not one a fallback made."""


class ShotFailure(BaseModel):
    shot_id: str
    reason: Literal["refused", "failed", "unknown_outcome", "deadline", "budget"]
    message: str


class RenderOutcome(BaseModel):
    takes: dict[str, Take]
    failures: list[ShotFailure]


def model_key(request: RenderRequest) -> str:
    """How the runner names a model: provider, plus the model id when one is chosen."""
    return f"{request.model}/{request.model_id}" if request.model_id else request.model


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Budget:
    """Money the run may still commit: spent + reserved never passes the approved cap."""

    def __init__(self, cap_usd: float | None) -> None:
        self.cap = cap_usd
        self.committed = 0.0

    def reserve(self, amount: float, shot_id: str) -> None:
        if (
            self.cap is not None and self.committed + amount > self.cap + CENT / 2
        ):  # money is counted in cents
            raise BudgetExceeded(
                f"shot {shot_id} would cost ${amount:.2f} with ${self.committed:.2f} already committed, "
                f"over the ${self.cap:.2f} approved; nothing more is submitted"
            )
        self.committed += amount

    def settle(self, reserved: float, charged: float) -> None:
        self.committed += charged - reserved


@dataclass
class Renderer:
    """Runs shot jobs against video models. Finished takes land in the store immediately, so a
    failure or a kill never loses them."""

    store: TakeStore
    ledger: Ledger
    models: dict[str, VideoModel]
    project_id: str
    jobs: JobBook | None = None
    policy: RenderPolicy = field(default_factory=RenderPolicy)
    budget_usd: float | None = None
    on_event: Callable[[RenderEvent], None] = field(default=lambda e: None)
    concurrency: int | None = None  # kept for callers that set one number for every provider

    def __post_init__(self) -> None:
        if self.jobs is None:
            self.jobs = JobBook(self.ledger.path.with_name("jobs.sqlite"))
        self._gates: dict[str, asyncio.Semaphore] = {}

    # --- estimates ---------------------------------------------------------------------------

    def model_for(self, request: RenderRequest) -> VideoModel:
        try:
            return self.models[model_key(request)]
        except KeyError:
            raise RenderError(
                f"no model {model_key(request)!r} is loaded for shot {request.shot_id}"
            ) from None

    def key_of(self, request: RenderRequest) -> str:
        return render_key(self.model_for(request).key_payload(request))

    def cost_of(self, request: RenderRequest) -> float:
        """What the provider will bill: its own quote for this request when it has one (prices that
        depend on audio, references ...), else its card's rate."""
        model = self.model_for(request)
        quote = getattr(model, "quote_usd", None)
        return quote(request) if quote else model.card.cost(request.duration_s, request.resolution)

    def estimate_usd(self, jobs: Sequence[ShotJob | RenderRequest]) -> float:
        """What rendering these will cost on their first choice, not counting takes already stored.
        A task still running at the provider from an earlier run counts once: it is billed when it
        finishes, and it is not submitted again."""
        total = 0.0
        for job in jobs:
            request = job.candidates[0] if isinstance(job, ShotJob) else job
            if self.store.get(self.key_of(request)) is None:
                total += self.cost_of(request)
        return round(total, 4)

    # --- the run -----------------------------------------------------------------------------

    async def render(self, jobs: Sequence[ShotJob | RenderRequest]) -> dict[str, Take]:
        """Every shot's take; raises RenderError naming each shot that failed (finished takes are kept)."""
        outcome = await self.run(jobs)
        if outcome.failures:
            details = "; ".join(f"shot {f.shot_id}: {f.message}" for f in outcome.failures)
            raise RenderError(
                f"{len(outcome.failures)} of {len(jobs)} shots failed ({details}); "
                f"{len(outcome.takes)} finished takes are kept and will not be rendered again"
            )
        return outcome.takes

    async def run(self, jobs: Sequence[ShotJob | RenderRequest]) -> RenderOutcome:
        """Render what can be rendered; report the rest by shot and reason instead of raising."""
        shot_jobs = [
            j if isinstance(j, ShotJob) else ShotJob(shot_id=j.shot_id, candidates=[j]) for j in jobs
        ]
        budget = _Budget(self.budget_usd)
        results = await asyncio.gather(
            *(self._shot(job, budget) for job in shot_jobs), return_exceptions=True
        )
        takes: dict[str, Take] = {}
        failures: list[ShotFailure] = []
        for job, result in zip(shot_jobs, results, strict=True):
            if isinstance(result, Take):
                takes[job.shot_id] = result
            elif isinstance(result, ShotFailure):
                failures.append(result)
            elif isinstance(result, BaseException) and not isinstance(result, Exception):
                raise result
            else:
                failures.append(
                    ShotFailure(
                        shot_id=job.shot_id, reason="failed", message=f"{type(result).__name__}: {result}"
                    )
                )
        return RenderOutcome(takes=takes, failures=failures)

    async def _shot(self, job: ShotJob, budget: _Budget) -> Take | ShotFailure:
        reusable = job.candidates[:1] if job.pinned else job.candidates
        for request in reusable:  # a take any candidate already made is as good as new
            cached = self.store.get(self.key_of(request))
            if cached is not None:
                self._emit(request, "cached")
                return cached.model_copy(
                    update={"shot_id": job.shot_id, "cache_hit": True, "seconds": 0.0, "cost_usd": 0.0}
                )
        last: ShotFailure | None = None
        for n, request in enumerate(job.candidates):
            if n:
                self._emit(request, "fallback", message=last.message if last else "")
            try:
                return await self._attempt(request, budget)
            except RefusedPrompt as exc:
                self._emit(request, "failed", message=str(exc))
                return ShotFailure(shot_id=job.shot_id, reason="refused", message=str(exc))
            except BudgetExceeded as exc:
                self._emit(request, "failed", message=str(exc))
                return ShotFailure(shot_id=job.shot_id, reason="budget", message=str(exc))
            except UnknownOutcome as exc:
                msg = f"{exc}; not submitted again (it may be billed): rerun to look for it, or check the provider"
                self._emit(request, "failed", message=msg)
                return ShotFailure(shot_id=job.shot_id, reason="unknown_outcome", message=msg)
            except _Deadline as exc:
                self._emit(request, "failed", message=str(exc))
                return ShotFailure(shot_id=job.shot_id, reason="deadline", message=str(exc))
            except ShotlineError as exc:  # permanent for this model: try the next one
                last = ShotFailure(shot_id=job.shot_id, reason="failed", message=str(exc))
                self._emit(request, "failed", message=str(exc))
        return last or ShotFailure(
            shot_id=job.shot_id, reason="failed", message="no model can render this shot"
        )

    def _gate(self, provider: str) -> asyncio.Semaphore:
        if provider not in self._gates:
            limit = self.policy.per_provider.get(provider, self.concurrency or self.policy.concurrency)
            self._gates[provider] = asyncio.Semaphore(limit)
        return self._gates[provider]

    async def _attempt(self, request: RenderRequest, budget: _Budget) -> Take:
        model = self.model_for(request)
        key = self.key_of(request)
        durable = getattr(model, "durable_tasks", True)  # in-process renderers' tasks die with us
        async with self._gate(request.model):  # bounds tasks at the provider: submit until it ends
            started = time.monotonic()  # a take's time is its own, not its wait for a free slot
            job = self.jobs.pending(key) if durable else None  # type: ignore[union-attr]
            if job is not None and job.state == "unknown":
                job = await self._recover(model, request, job)
            if job is not None:  # submitted by an earlier run: poll it, never submit it again
                reserved = self.cost_of(request)
                budget.reserve(reserved, request.shot_id)
                self._emit(request, "resumed", message=f"task {job.task_id}")
            else:
                reserved = self.cost_of(request)
                budget.reserve(reserved, request.shot_id)
                try:
                    job = await self._submit(model, request, key, reserved, durable=durable)
                except BaseException:
                    budget.settle(reserved, 0.0)
                    raise
                self._emit(request, "submitted", message=f"task {job.task_id}")
            status = await self._wait(model, request, job.task_id, started)
        if status.state != "succeeded":
            charged = status.billed_usd or 0.0
            self._charge(request, key, charged, note=f"failed: {status.error_code or status.raw_status}")
            budget.settle(reserved, charged)
            self.jobs.close(key, job.task_id, "failed", note=status.error or status.raw_status)  # type: ignore[union-attr]
            if status.refused:
                raise RefusedPrompt(
                    status.error or "the output was refused by moderation",
                    provider=request.model,
                    shot_id=request.shot_id,
                )
            raise ProviderError(
                f"task {status.state}: {status.error or status.raw_status}",
                provider=request.model,
                shot_id=request.shot_id,
            )
        take = await self._download(model, request, key, job.task_id, started)  # at once: URLs expire
        charged = status.billed_usd if status.billed_usd is not None else take.cost_usd
        take = self.store.put(Path(take.path), take.model_copy(update={"cost_usd": round(charged, 4)}))
        self.jobs.close(key, job.task_id, "done")  # type: ignore[union-attr]
        self._charge(request, key, take.cost_usd)
        budget.settle(reserved, take.cost_usd)
        self._emit(request, "done", progress=1.0)
        return take

    async def _recover(self, model: VideoModel, request: RenderRequest, job: Job) -> Job | None:
        """An earlier submit got no answer. Models that can look a task up by the id we gave it
        (`find_task`) tell us whether it exists; others cannot, so the shot waits for a person."""
        finder = getattr(model, "find_task", None)
        if finder is None:
            raise UnknownOutcome(
                "an earlier submit of this take got no answer and this provider cannot look tasks up",
                provider=request.model,
                shot_id=request.shot_id,
            )
        task_id = await finder(request)
        self.jobs.close(job.render_key, job.task_id, "resolved", note=task_id or "never created")  # type: ignore[union-attr]
        if task_id is None:
            return None  # it never reached the provider: submitting now pays once
        found = job.model_copy(update={"task_id": task_id, "state": "open"})
        self.jobs.open(found)  # type: ignore[union-attr]
        return found

    async def _submit(
        self, model: VideoModel, request: RenderRequest, key: str, reserved: float, *, durable: bool = True
    ) -> Job:
        """Submit with retries on transient faults; the task id is on disk before anything else."""
        job = Job(
            render_key=key,
            project_id=self.project_id,
            shot_id=request.shot_id,
            provider=request.model,
            model_id=request.model_id or "",
            task_id="",
            state="open",
            reserved_usd=reserved,
        )
        # write-ahead: from here until the answer, a killed process leaves an "unknown" record, so a
        # rerun looks the task up (or asks a person) instead of paying for it twice
        if durable:
            self.jobs.open(job.model_copy(update={"state": "unknown"}))  # type: ignore[union-attr]
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                task_id = await model.submit(request)
            except UnknownOutcome:
                raise  # the record stays "unknown"
            except TransientProviderError as exc:
                if attempt == self.policy.max_attempts:
                    self._forget(key, durable, str(exc))
                    raise
                await self._backoff(request, attempt, exc)
                continue
            except ShotlineError as exc:  # the provider answered no: nothing was created
                self._forget(key, durable, str(exc))
                raise
            job = job.model_copy(update={"task_id": task_id})
            if durable:
                self.jobs.started(key, task_id)  # type: ignore[union-attr]
            return job
        raise AssertionError("unreachable")

    async def _wait(
        self, model: VideoModel, request: RenderRequest, task_id: str, started: float
    ) -> TaskStatus:
        """Poll until the task ends, backing off; transient poll faults are ridden out."""
        # an in-process renderer answers in a blink; a server (hosted, or a local ComfyUI) takes minutes
        quick = not getattr(model, "durable_tasks", True)
        floor = self.policy.local_poll_s if quick else self.policy.poll_s
        ceiling = self.policy.local_poll_s if quick else self.policy.poll_max_s
        faults = 0
        while True:
            if time.monotonic() - started > self.policy.deadline_s:
                raise _Deadline(
                    f"task {task_id} still running after {self.policy.deadline_s:.0f} s; it stays recorded: "
                    "rerun to pick it up",
                    provider=request.model,
                    shot_id=request.shot_id,
                )
            try:
                status = await model.poll(task_id)
            except TransientProviderError as exc:
                faults += 1
                if faults >= self.policy.max_attempts * 3:
                    raise
                await self._backoff(request, min(faults, 6), exc)
                continue
            if status.state not in OPEN_STATES:
                return status
            self._emit(request, "running", progress=status.progress)
            elapsed = time.monotonic() - started
            await asyncio.sleep(self._jittered(min(max(floor, elapsed * self.policy.poll_fraction), ceiling)))

    async def _download(
        self, model: VideoModel, request: RenderRequest, key: str, task_id: str, started: float
    ) -> Take:
        for attempt in range(1, self.policy.max_attempts + 1):
            scratch = self.store.scratch(key)
            try:
                await model.fetch(task_id, scratch)
                return await asyncio.to_thread(
                    self._check, scratch, request, key, model, time.monotonic() - started
                )
            except TransientProviderError as exc:
                scratch.unlink(missing_ok=True)
                if attempt == self.policy.max_attempts:
                    raise
                await self._backoff(request, attempt, exc)
        raise AssertionError("unreachable")

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
            model=model_key(request),
            path=str(file),
            sha256=_sha256(file),
            duration_s=info.duration_s,
            width=info.width,
            height=info.height,
            cost_usd=self.cost_of(request),
            seconds=round(seconds, 3),
        )

    # --- small helpers -----------------------------------------------------------------------

    def _forget(self, key: str, durable: bool, why: str) -> None:
        """A submit the provider answered with an error created no task: drop its write-ahead record."""
        if durable:
            self.jobs.close(key, "", "failed", note=why)  # type: ignore[union-attr]

    def _charge(self, request: RenderRequest, key: str, cost: float, note: str = "") -> None:
        if cost or not note:
            self.ledger.record(
                project_id=self.project_id, shot_id=request.shot_id, render_key=key,
                model=model_key(request), cost_usd=cost, note=note,
            )  # fmt: skip

    def _jittered(self, seconds: float) -> float:
        spread = self.policy.jitter
        return max(0.0, seconds * (1 + random.uniform(-spread, spread)))

    async def _backoff(self, request: RenderRequest, attempt: int, exc: TransientProviderError) -> None:
        wait = (
            exc.retry_after
            if exc.retry_after is not None
            else min(self.policy.backoff_s * 2 ** (attempt - 1), self.policy.backoff_max_s)
        )
        self._emit(request, "retry", message=f"{exc} (waiting {wait:.1f} s)")
        await asyncio.sleep(self._jittered(wait) if exc.retry_after is None else wait)

    def _emit(self, request: RenderRequest, stage: str, **kw: object) -> None:
        self.on_event(RenderEvent(shot_id=request.shot_id, stage=stage, model=model_key(request), **kw))  # type: ignore[arg-type]


class _Deadline(ProviderError):
    """A job ran past its deadline at the provider; its task stays recorded for a later run."""

    code = "render_deadline"
