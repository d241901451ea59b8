"""The runner's policy against a scripted paid model: what a producer paying per second would check.

Why not end to end: each fault (a lost submit answer, a refusal, a billed failure, a kill) has to be
placed exactly, and the provider's own books (tasks created, charges billed) compared with ours.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shotline.memory.models import Take
from shotline.memory.store import Job, JobBook, Ledger, TakeStore
from shotline.tools.render import Renderer, RenderEvent, RenderPolicy, ShotJob
from shotline.tools.video.base import RenderRequest
from tests.fakes.scripted import Faults, ScriptedModel

FAST = RenderPolicy(backoff_s=0.001, backoff_max_s=0.01, poll_s=0.001, poll_max_s=0.005, deadline_s=30)


def req(shot_id: str, model: str = "paid", seconds: float = 2.0, prompt: str | None = None) -> RenderRequest:
    return RenderRequest(
        shot_id=shot_id,
        model=model,
        prompt=prompt or f"shot {shot_id}: a courier runs through the rain",
        duration_s=seconds,
        ratio="16:9",
        width=320,
        height=180,
    )


def renderer(home: Path, *models: ScriptedModel, events: list | None = None, **kw) -> Renderer:
    return Renderer(
        store=TakeStore(home / "takes"),
        ledger=Ledger(home / "ledger.sqlite"),
        models={m.name: m for m in models},
        project_id="p1",
        policy=kw.pop("policy", FAST),
        on_event=(events.append if events is not None else lambda e: None),
        **kw,
    )


def spent(home: Path) -> float:
    return round(Ledger(home / "ledger.sqlite").spent("p1"), 4)


def test_transient_submit_faults_are_retried_and_paid_once(tmp_path: Path):
    model = ScriptedModel(script=["transient", "transient"])
    events: list[RenderEvent] = []
    takes = asyncio.run(renderer(tmp_path, model, events=events).render([req("001")]))
    assert isinstance(takes["001"], Take) and Path(takes["001"].path).exists()
    assert model.submits["001"] == 3 and len(model.tasks) == 1  # two 429s never created a task
    assert [e.stage for e in events].count("retry") == 2
    assert spent(tmp_path) == sum(model.billed) == 0.2


def test_retry_after_is_honoured(tmp_path: Path):
    model = ScriptedModel(script=["transient"])
    events: list[RenderEvent] = []
    asyncio.run(renderer(tmp_path, model, events=events).render([req("001")]))
    retry = next(e for e in events if e.stage == "retry")
    assert "waiting 0.0 s" in retry.message  # the provider's Retry-After, not our own backoff


def test_permanent_fault_falls_back_to_the_next_model(tmp_path: Path):
    primary, backup = ScriptedModel(name="primary", script=["permanent"]), ScriptedModel(name="backup")
    job = ShotJob(shot_id="001", candidates=[req("001", "primary"), req("001", "backup")])
    events: list[RenderEvent] = []
    takes = asyncio.run(renderer(tmp_path, primary, backup, events=events).render([job]))
    assert takes["001"].model == "backup"
    assert any(e.stage == "fallback" and e.model == "backup" for e in events)
    assert spent(tmp_path) == sum(backup.billed) and not primary.billed


def test_a_refusal_goes_back_by_name_and_is_not_swallowed(tmp_path: Path):
    model, backup = ScriptedModel(script=["refuse"]), ScriptedModel(name="backup")
    job = ShotJob(shot_id="004", candidates=[req("004"), req("004", "backup")])
    outcome = asyncio.run(renderer(tmp_path, model, backup).run([job]))
    assert outcome.takes == {}
    [failure] = outcome.failures
    assert failure.shot_id == "004" and failure.reason == "refused"
    assert "moderation" in failure.message
    assert backup.submits["004"] == 0  # a refused prompt needs a rewrite, not another model's money


def test_lost_submit_answer_is_never_blindly_resubmitted(tmp_path: Path):
    model = ScriptedModel(script=["lost"])
    outcome = asyncio.run(renderer(tmp_path, model).run([req("001")]))
    assert outcome.failures[0].reason == "unknown_outcome"
    again = asyncio.run(renderer(tmp_path, model).run([req("001")]))
    assert again.failures[0].reason == "unknown_outcome"
    assert model.submits["001"] == 1  # still one: it may already be billed


def test_lost_submit_is_found_again_where_the_provider_can_look_it_up(tmp_path: Path):
    model = ScriptedModel(script=["lost"], can_find=True)
    first = asyncio.run(renderer(tmp_path, model).run([req("001")]))
    assert first.failures[0].reason == "unknown_outcome"
    second = asyncio.run(renderer(tmp_path, model).run([req("001")]))
    assert "001" in second.takes and model.submits["001"] == 1  # polled the lost task, paid once
    assert spent(tmp_path) == sum(model.billed)


def test_a_resumed_run_polls_the_task_it_already_paid_for(tmp_path: Path):
    model = ScriptedModel()
    r = renderer(tmp_path, model)
    task_id = asyncio.run(model.submit(req("001")))  # submitted by a run that was then killed
    JobBook(tmp_path / "jobs.sqlite").open(
        Job(render_key=r.key_of(req("001")), project_id="p1", shot_id="001", provider="paid", model_id="",
            task_id=task_id, state="open", reserved_usd=0.2)
    )  # fmt: skip
    assert r.estimate_usd([req("001")]) == 0.2  # billed when it finishes: counted once, not twice
    takes = asyncio.run(renderer(tmp_path, model).render([req("001")]))
    assert model.submits["001"] == 1 and len(model.tasks) == 1
    assert Path(takes["001"].path).exists()


def test_budget_smaller_than_the_estimate_stops_before_the_first_submit(tmp_path: Path):
    model = ScriptedModel()
    outcome = asyncio.run(renderer(tmp_path, model, budget_usd=0.1).run([req("001"), req("002")]))
    assert {f.reason for f in outcome.failures} == {"budget"}
    assert "over the $0.10 approved" in outcome.failures[0].message
    assert sum(model.submits.values()) == 0 and spent(tmp_path) == 0


def test_budget_is_reserved_before_every_submit(tmp_path: Path):
    model = ScriptedModel()
    jobs = [req(f"00{n}") for n in range(1, 5)]  # 4 shots x $0.20, $0.50 approved
    outcome = asyncio.run(renderer(tmp_path, model, budget_usd=0.5).run(jobs))
    assert len(outcome.takes) == 2 and [f.reason for f in outcome.failures] == ["budget", "budget"]
    assert sum(model.submits.values()) == 2 and spent(tmp_path) == 0.4 <= 0.5


def test_failed_attempts_that_the_provider_bills_are_in_the_ledger(tmp_path: Path):
    model, backup = ScriptedModel(script=["fail"], bill_failures=True), ScriptedModel(name="backup")
    job = ShotJob(shot_id="001", candidates=[req("001"), req("001", "backup")])
    asyncio.run(renderer(tmp_path, model, backup).render([job]))
    assert model.billed == [0.2] and backup.billed == [0.2]
    assert spent(tmp_path) == 0.4  # the failed attempt is money spent too


def test_deadline_leaves_the_task_recorded_for_the_next_run(tmp_path: Path):
    slow = ScriptedModel(polls=10_000)
    policy = RenderPolicy(poll_s=0.001, poll_max_s=0.001, deadline_s=0.05)
    outcome = asyncio.run(renderer(tmp_path, slow, policy=policy).run([req("001")]))
    assert outcome.failures[0].reason == "deadline" and "rerun to pick it up" in outcome.failures[0].message
    slow.tasks[next(iter(slow.tasks))].polls_left = 0  # the provider finishes meanwhile
    takes = asyncio.run(renderer(tmp_path, slow).render([req("001")]))
    assert "001" in takes and slow.submits["001"] == 1


def test_concurrency_is_bounded_per_provider(tmp_path: Path):
    model = ScriptedModel(latency_s=0.01, polls=3)
    policy = RenderPolicy(poll_s=0.001, poll_max_s=0.001, per_provider={"paid": 3})
    asyncio.run(renderer(tmp_path, model, policy=policy).render([req(f"{n:03d}") for n in range(12)]))
    assert model.peak == 3


def test_a_cached_take_from_any_candidate_is_reused(tmp_path: Path):
    primary, backup = ScriptedModel(name="primary", script=["permanent"]), ScriptedModel(name="backup")
    job = ShotJob(shot_id="001", candidates=[req("001", "primary"), req("001", "backup")])
    asyncio.run(renderer(tmp_path, primary, backup).render([job]))
    again = asyncio.run(renderer(tmp_path, primary, backup).render([job]))
    assert again["001"].cache_hit and primary.submits["001"] == 1 and backup.submits["001"] == 1


def test_24_shots_through_a_flaky_provider(tmp_path: Path):
    """30% transient faults, 10% lost answers, 5% refusals: the film finishes or names each shot.
    The seed is one whose story includes refusals, lost answers and retries."""
    model = ScriptedModel(faults=Faults(transient=0.3, timeout=0.1, refuse=0.05, seed=4), can_find=True)
    jobs = [req(f"{n:03d}", seconds=2 + n % 3) for n in range(1, 25)]
    policy = RenderPolicy(**{**FAST.__dict__, "max_attempts": 8})
    refused: dict[str, str] = {}
    pending = jobs
    for _ in range(4):  # a person reruns; lost answers are looked up, never paid twice
        outcome = asyncio.run(renderer(tmp_path, model, policy=policy).run(pending))
        refused |= {f.shot_id: f.message for f in outcome.failures if f.reason == "refused"}
        pending = [j for j in pending if j.shot_id not in outcome.takes and j.shot_id not in refused]
        if not pending:
            break
    assert not pending  # every shot has a take, or a named reason to rewrite its prompt
    store, r = TakeStore(tmp_path / "takes"), renderer(tmp_path, model)
    done = {j.shot_id for j in jobs if store.get(r.key_of(j)) is not None}
    assert done | set(refused) == {j.shot_id for j in jobs} and not done & set(refused)
    assert refused and all("moderation" in message for message in refused.values())
    assert max(model.succeeded_per_shot().values()) == 1  # no shot rendered twice
    assert spent(tmp_path) == pytest.approx(sum(model.billed))  # our books equal the provider's


def test_a_kill_between_submit_and_its_answer_is_never_paid_twice(tmp_path: Path):
    """The write-ahead record: a process killed while its submit was in flight leaves 'unknown'."""
    model = ScriptedModel()
    r = renderer(tmp_path, model)
    JobBook(tmp_path / "jobs.sqlite").open(
        Job(render_key=r.key_of(req("001")), project_id="p1", shot_id="001", provider="paid", model_id="",
            task_id="", state="unknown", reserved_usd=0.2)
    )  # fmt: skip
    outcome = asyncio.run(r.run([req("001")]))
    assert outcome.failures[0].reason == "unknown_outcome" and model.submits["001"] == 0
    answered = ScriptedModel(script=["permanent"])  # an answered refusal leaves no record behind
    asyncio.run(renderer(tmp_path / "b", answered).run([req("002")]))
    assert JobBook(tmp_path / "b" / "jobs.sqlite").pending(r.key_of(req("002"))) is None
