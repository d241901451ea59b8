"""A scripted paid video model, in process, for the runner's policy tests.

It keeps the provider's side of the books: every task it created, every charge it billed, how
many jobs ran at once. Faults are injected by a seeded random source or by an explicit script, so
every run of a test sees the same story.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from shotline.errors import ProviderError, RefusedPrompt, TransientProviderError, UnknownOutcome
from shotline.tools.video.base import ModelCard, RenderRequest, TaskStatus, generic_key_payload
from tests.fakes.media import mp4_bytes


@dataclass
class Task:
    id: str
    shot_id: str
    external_id: str
    duration_s: float
    polls_left: int
    outcome: str  # succeeded | failed | refused
    fetched: bool = False
    billed: bool = False


@dataclass
class Faults:
    """Probabilities per call; `seed` makes the story repeatable."""

    transient: float = 0.0  # 429/5xx on any call
    timeout: float = 0.0  # the submit is sent, the answer is lost (the task exists)
    refuse: float = 0.0  # the task fails by moderation
    fail: float = 0.0  # the task fails for good (billed when `bill_failures`)
    seed: int = 7


@dataclass
class ScriptedModel:
    name: str = "paid"
    usd_per_second: float = 0.10
    faults: Faults = field(default_factory=Faults)
    polls: int = 2
    latency_s: float = 0.0
    bill_failures: bool = False
    can_find: bool = False
    script: list[str] = field(default_factory=list)  # explicit per-submit outcomes, consumed first
    tasks: dict[str, Task] = field(default_factory=dict)
    billed: list[float] = field(default_factory=list)
    submits: Counter = field(default_factory=Counter)  # shot id -> submit calls that reached us
    running: int = 0
    peak: int = 0

    def __post_init__(self) -> None:
        self.card = ModelCard(
            name=self.name,
            display_name=f"Scripted {self.name}",
            durations_s=(2.0, 10.0),
            usd_per_second=self.usd_per_second,
            price_source="test fixture",
            price_date="2026-11-23",
        )
        self._calls: Counter = Counter()
        if self.can_find:  # only some providers can look a task up by a client-chosen id
            self.find_task = self._find_task

    def key_payload(self, request: RenderRequest) -> dict:
        return generic_key_payload(request)

    def _roll(self, p: float, what: str) -> bool:
        """A fault decided by (seed, what, how many times `what` happened): the same story whatever
        order concurrent jobs reach the fake in."""
        self._calls[what] += 1
        return random.Random(f"{self.faults.seed}:{what}:{self._calls[what]}").random() < p

    async def submit(self, request: RenderRequest) -> str:
        self.submits[request.shot_id] += 1
        planned = self.script.pop(0) if self.script else None
        if planned == "transient" or (
            planned is None and self._roll(self.faults.transient, f"submit:{request.shot_id}")
        ):
            raise TransientProviderError("HTTP 429: slow down", provider=self.name, retry_after=0.0)
        if planned == "permanent":
            raise ProviderError("HTTP 400: InvalidParameter duration", provider=self.name)
        if planned == "refuse_submit":
            raise RefusedPrompt(
                "refused by moderation: InputTextSensitiveContentDetected", provider=self.name
            )
        outcome = "succeeded"
        if planned in {"refuse", "fail"}:
            outcome = {"refuse": "refused", "fail": "failed"}[planned]
        elif planned is None and self._roll(self.faults.refuse, f"refuse:{request.shot_id}"):
            outcome = "refused"
        elif planned is None and self._roll(self.faults.fail, f"fail:{request.shot_id}"):
            outcome = "failed"
        task = Task(
            id=f"task-{request.shot_id}-{self.submits[request.shot_id]}",
            shot_id=request.shot_id,
            external_id=f"{request.shot_id}:{request.prompt[:8]}",
            duration_s=self.card.billed_seconds(request.duration_s),
            polls_left=self.polls,
            outcome=outcome,
        )
        self.tasks[task.id] = task
        if planned == "lost" or (
            planned is None and self._roll(self.faults.timeout, f"lost:{request.shot_id}")
        ):
            raise UnknownOutcome(
                "no answer to the submit (ReadTimeout); the task may exist", provider=self.name
            )
        return task.id

    async def _find_task(self, request: RenderRequest) -> str | None:
        """Look a task up by the id the client gave it (Kling's external_task_id, ComfyUI's prompt_id)."""
        external = f"{request.shot_id}:{request.prompt[:8]}"
        return next((t.id for t in self.tasks.values() if t.external_id == external), None)

    async def poll(self, task_id: str) -> TaskStatus:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            if self._roll(self.faults.transient, f"poll:{task_id}"):
                raise TransientProviderError("HTTP 502", provider=self.name, retry_after=0.0)
            task = self.tasks[task_id]
            if task.polls_left > 0:
                task.polls_left -= 1
                return TaskStatus(task_id=task_id, state="running", raw_status="running")
            if task.outcome == "succeeded":
                self._bill(task)
                return TaskStatus(
                    task_id=task_id, state="succeeded", raw_status="succeeded", url=f"mem://{task_id}"
                )
            billed = None
            if self.bill_failures and task.outcome == "failed":
                billed = round(self.usd_per_second * task.duration_s, 4)
                self._bill(task)
            return TaskStatus(
                task_id=task_id,
                state="failed",
                raw_status="failed",
                refused=task.outcome == "refused",
                error_code="OutputVideoSensitiveContentDetected"
                if task.outcome == "refused"
                else "InternalError",
                error="output refused by moderation" if task.outcome == "refused" else "generation failed",
                billed_usd=billed if task.outcome == "failed" else None,
            )
        finally:
            self.running -= 1

    async def fetch(self, task_id: str, dest: Path) -> Path:
        if self._roll(self.faults.transient, f"fetch:{task_id}"):
            raise TransientProviderError("download broke off: ReadError", provider=self.name)
        task = self.tasks[task_id]
        dest.write_bytes(mp4_bytes(task.duration_s))
        task.fetched = True
        return dest

    def _bill(self, task: Task) -> None:
        """The provider charges a task once, when it finishes."""
        if not task.billed:
            task.billed = True
            self.billed.append(round(self.usd_per_second * task.duration_s, 4))

    def succeeded_per_shot(self) -> Counter:
        return Counter(t.shot_id for t in self.tasks.values() if t.fetched)
