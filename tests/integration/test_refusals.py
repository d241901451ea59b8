"""A shot refused by moderation goes back to continuity by name: softened once, approved again,
rendered; what cannot be softened stops with the shot and the provider's reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shotline.agents.graph import Crew
from shotline.config import Settings
from shotline.errors import RefusedPrompt
from shotline.memory.store import Ledger
from shotline.tools.render import RenderPolicy
from shotline.ui.session import make_film
from tests.fakes.scripted import ScriptedModel

SCRIPT = """Title: Standoff

INT. WAREHOUSE - NIGHT

RIN (30s), in a yellow raincoat, waits by the door.

Rin points a gun at the door.

RIN
Come out.
"""


class Moderated(ScriptedModel):
    """Refuses any task whose prompt contains one of `banned`, as a provider's output filter does."""

    banned: tuple[str, ...] = ("gun",)

    async def submit(self, request):
        self.script.append("refuse" if any(w in request.prompt.lower() for w in self.banned) else "ok")
        return await super().submit(request)


def _make(tmp_path: Path, model: ScriptedModel, asked: list):
    source = tmp_path / "standoff.fountain"
    source.write_text(SCRIPT, "utf-8")
    settings = Settings(home=tmp_path / "home")
    crew = Crew(
        settings=settings, models={"paid": model}, render_policy=RenderPolicy(poll_s=0.001, poll_max_s=0.002)
    )
    state = make_film(
        source, out_dir=tmp_path / "out", settings=settings, provider="paid", crew=crew,
        ask_approval=lambda req: asked.append(req) or True,
    )  # fmt: skip
    return settings, state


def test_a_refused_shot_is_softened_approved_again_and_rendered(tmp_path: Path):
    model, asked = Moderated(), []
    settings, state = _make(tmp_path, model, asked)
    board = json.loads((tmp_path / "out" / "storyboard.json").read_text("utf-8"))
    softened = [s for s in board["shots"] if "points a device" in s["prompt"]]
    assert softened and not any(" gun " in s["prompt"] for s in board["shots"])
    assert len(asked) == 2 and asked[1]["estimate_usd"] < asked[0]["estimate_usd"]  # only the rewrite
    assert Ledger(settings.root / "ledger.sqlite").spent(state["project_id"]) == pytest.approx(
        sum(model.billed)
    )


def test_what_cannot_be_softened_goes_to_a_person_with_the_reason(tmp_path: Path):
    model = Moderated()
    model.banned = ("raincoat",)
    with pytest.raises(RefusedPrompt, match=r"shot \d+: .*moderation.*rewrite its action"):
        _make(tmp_path, model, [])
