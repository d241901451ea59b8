"""Take QC in the line: best of N keeps the best take, a failing shot is retried once with a
corrected prompt, the retry stays inside the approved budget, and what still fails is flagged."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from PIL import Image

from shotline.agents import screenwriter
from shotline.agents.coverage import plan_shots
from shotline.agents.graph import Crew
from shotline.config import Settings
from shotline.memory.store import Ledger
from shotline.tools.ffmpeg import ffmpeg_exe
from shotline.tools.render import RenderPolicy
from shotline.ui.session import make_film
from tests.conftest import FIXTURES
from tests.fakes.scripted import ScriptedModel

FAST = {"poll_s": 0.001, "poll_max_s": 0.002, "backoff_s": 0.001}


class Painter(ScriptedModel):
    """A paid model whose takes are good (they look like their references) or bad (grey), as scripted per
    request: `good(request)` decides. Takes reference images, so QC compares them."""

    def __init__(self, good, **kw) -> None:
        super().__init__(**kw)
        self.card = self.card.model_copy(update={"reference_images": 2})
        self.good = good
        self.requests: dict[str, object] = {}
        self.prompts: list[str] = []

    async def submit(self, request):
        task_id = await super().submit(request)
        self.requests[task_id] = request
        self.prompts.append(request.prompt)
        return task_id

    async def fetch(self, task_id, dest: Path) -> Path:
        request = self.requests[task_id]
        refs = [r for r in request.references if r.path] if self.good(request) else []
        frame = Image.new("RGB", (320, 180), (128, 128, 128))  # a bad take: grey, like nothing asked for
        for k, ref in enumerate(refs):  # a good take looks like its references, side by side
            with Image.open(ref.path) as picture:
                band = picture.convert("RGB").resize((320 // len(refs), 180))
            frame.paste(band, (k * 320 // len(refs), 0))
        still = dest.with_name(dest.name + ".png")
        frame.save(still, "PNG")
        seconds = self.tasks[task_id].duration_s
        subprocess.run(
            [ffmpeg_exe(), "-loglevel", "error", "-y", "-loop", "1", "-framerate", "24", "-t", str(seconds),
             "-i", str(still), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", "mp4", str(dest)],
            check=True,
        )  # fmt: skip
        still.unlink()
        self.tasks[task_id].fetched = True
        return dest


def _make(tmp_path: Path, model: Painter, policy: RenderPolicy, **kw):
    settings = Settings(home=tmp_path / "home")
    crew = Crew(settings=settings, models={"paid": model}, render_policy=policy)
    state = make_film(
        FIXTURES / "short.fountain",
        out_dir=tmp_path / "out",
        settings=settings,
        provider="paid",
        crew=crew,
        **kw,
    )
    report = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))
    return settings, state, report


def test_best_of_n_keeps_the_take_that_matches_its_references(tmp_path: Path):
    model = Painter(good=lambda r: r.seed == 1)  # the second of two takes is the good one
    settings, state, report = _make(tmp_path, model, RenderPolicy(takes_per_shot=2, **FAST), approved=True)
    shots = state["storyboard"].shots
    assert len(model.tasks) == 2 * len(shots)  # every variant rendered and paid
    assert report["totals"]["qc_failed"] == [] and all(s["qc"]["passed"] for s in report["shots"])
    assert Ledger(settings.root / "ledger.sqlite").spent(state["project_id"]) == sum(model.billed)
    page = (tmp_path / "out" / "continuity.html").read_text("utf-8")
    assert all(s.id in page for s in shots)


def test_a_failing_shot_is_retried_with_a_corrected_prompt(tmp_path: Path):
    model = Painter(
        good=lambda r: (
            "must look exactly like the reference" in r.prompt or "must match its reference" in r.prompt
        )
    )
    _, state, report = _make(tmp_path, model, RenderPolicy(qc_retries=1, **FAST), approved=True)
    retried = [p for p in model.prompts if "must look exactly like the reference" in p]
    with_cast = [s for s in state["storyboard"].shots if s.characters]
    assert len(retried) == len(with_cast)  # each failing shot with people, once, with its cast pinned
    assert all(s["qc"]["passed"] for s in report["shots"] if s["id"] in {x.id for x in with_cast})


def test_retries_stay_inside_the_budget_and_the_rest_is_flagged(tmp_path: Path):
    model = Painter(good=lambda r: False)
    board = plan_shots(screenwriter.break_down_script((FIXTURES / "short.fountain").read_text("utf-8")))
    budget = (
        round(sum(s.duration_s for s in board.shots) * model.usd_per_second, 2) + 0.05
    )  # no room to retry
    settings, state, report = _make(
        tmp_path, model, RenderPolicy(qc_retries=1, **FAST), budget_usd=budget, approved=True
    )
    shots = state["storyboard"].shots
    assert len(model.tasks) == len(shots)  # the budget left no room for a retry
    assert report["totals"]["qc_failed"] == [s.id for s in shots]  # flagged, never silently accepted
    assert Ledger(settings.root / "ledger.sqlite").spent(state["project_id"]) <= budget


def test_the_approval_shows_every_take_and_the_retry_allowance(tmp_path: Path):
    model, asked = Painter(good=lambda r: True), []
    policy = RenderPolicy(takes_per_shot=2, qc_retries=1, **FAST)
    _make(tmp_path, model, policy, ask_approval=lambda r: asked.append(r) or True)
    [request] = asked
    assert request["takes"] == 2 * request["shots"]
    assert request["retry_allowance_usd"] == round(request["estimate_usd"] / 2, 4)  # one more take per shot


def test_a_vision_judge_can_sink_a_take_that_only_looks_right_in_colour(tmp_path: Path):
    from shotline.tools.judge import Judge
    from tests.unit.test_qc import verdict_call, vision

    shots = len(
        plan_shots(screenwriter.break_down_script((FIXTURES / "short.fountain").read_text("utf-8"))).shots
    )
    answers = [
        verdict_call(identity_ok=False, set_ok=True, score=0.2, reasons=["the face is not ANA's"])
    ] * shots
    model = Painter(good=lambda r: True)
    settings = Settings(home=tmp_path / "home")
    crew = Crew(
        settings=settings,
        models={"paid": model},
        render_policy=RenderPolicy(**FAST),
        judge=Judge(vision(*answers)),
    )
    make_film(
        FIXTURES / "short.fountain",
        out_dir=tmp_path / "out",
        settings=settings,
        provider="paid",
        crew=crew,
        approved=True,
    )
    report = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))
    with_cast = [
        s.id
        for s in plan_shots(
            screenwriter.break_down_script((FIXTURES / "short.fountain").read_text("utf-8"))
        ).shots
        if s.characters
    ]
    assert set(with_cast) <= set(report["totals"]["qc_failed"])  # right colours, wrong face: not accepted
    assert all(any("the face is not ANA's" in r for r in s["qc"]["reasons"]) for s in report["shots"])
