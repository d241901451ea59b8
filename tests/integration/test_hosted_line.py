"""The whole line on a hosted model (Seedance, through a loopback fake of the Ark API): routed by
policy, approved, each shot sent with its characters' reference sheets, billed once."""

from __future__ import annotations

import json
from pathlib import Path

from shotline.agents.graph import Crew
from shotline.config import Settings
from shotline.memory.store import Ledger
from shotline.tools.render import RenderPolicy
from shotline.tools.routing import RoutingPolicy
from shotline.ui.session import make_film
from tests.conftest import FIXTURES
from tests.fakes.seedance import FakeArk
from tests.fakes.server import FakeServer

KEY = "ark-key-for-tests"


def test_best_model_gets_character_views_and_set_plates_and_the_books_balance(tmp_path: Path, monkeypatch):
    ark = FakeArk(api_key=KEY, statuses=("queued", "running", "succeeded"), clip_as_requested=True)
    with FakeServer(ark) as server:
        monkeypatch.setenv("ARK_API_KEY", KEY)
        monkeypatch.setenv("SHOTLINE_SEEDANCE_BASE_URL", f"{server.url}/api/v3")
        settings = Settings(home=tmp_path / "home")
        crew = Crew(
            settings=settings,
            routing=RoutingPolicy(order="best"),
            render_policy=RenderPolicy(poll_s=0.01, poll_max_s=0.02, backoff_s=0.01),
        )
        asked: list[dict] = []
        state = make_film(
            FIXTURES / "short.fountain",
            out_dir=tmp_path / "out",
            settings=settings,
            provider="seedance",
            crew=crew,
            ask_approval=lambda req: asked.append(req) or True,
        )
    bodies = [r.json() for r in server.requests if r.method == "POST"]
    assert len(bodies) == len(state["storyboard"].shots)  # one paid task per shot
    by_text = {b["content"][0]["text"]: b for b in bodies}
    for shot in state["storyboard"].shots:
        body = next(b for t, b in by_text.items() if t.endswith(shot.prompt))
        refs = [c for c in body["content"] if c.get("role") == "reference_image"]
        assert all(c["image_url"]["url"].startswith("data:image/png;base64,") for c in refs)
        legend = body["content"][0]["text"]
        assert legend.startswith("Image 1 is ")  # named the way Seedance reads them
        names = [state["breakdown"].character(c).name for c in shot.characters]
        assert all(f"is {name}, " in legend for name in names)  # a view of every character in frame
        assert f"{state['breakdown'].location(shot.location).name}, empty set" in legend  # and the set
        assert len(refs) == legend.count("Image ")
    report = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))
    ledger = Ledger(settings.root / "ledger.sqlite").spent(state["project_id"])
    assert round(ledger, 4) == round(report["totals"]["cost_usd"], 4) > 0
    assert asked and asked[0]["estimate_usd"] > 0
