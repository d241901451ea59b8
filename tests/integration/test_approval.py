"""No spend without approval: a paid render stops for a person, and never runs past the budget.

The paid model is the animatic with a price card (a fake at the edge: no network, real files), so
the whole graph, the ledger and the take store are exercised as they are with a hosted model.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shotline.agents.graph import Crew
from shotline.config import Settings
from shotline.errors import BudgetExceeded
from shotline.memory.store import Ledger
from shotline.tools.video.animatic import Animatic
from shotline.ui.session import make_film
from tests.conftest import FIXTURES

USD_PER_SECOND = 0.05


class PaidAnimatic(Animatic):
    card = Animatic.card.model_copy(update={"name": "paid", "local": False, "usd_per_second": USD_PER_SECOND})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def _make(settings: Settings, tmp_path: Path, **kw):
    crew = Crew(settings=settings, models={"paid": PaidAnimatic()})
    return make_film(
        FIXTURES / "short.fountain",
        out_dir=tmp_path / "out",
        settings=settings,
        provider="paid",
        crew=crew,
        **kw,
    )


def _spent(settings: Settings) -> float:
    return Ledger(settings.root / "ledger.sqlite").spent_total()


def test_declined_estimate_spends_nothing(settings: Settings, tmp_path: Path):
    asked: list[dict] = []
    with pytest.raises(BudgetExceeded, match="declined"):
        _make(settings, tmp_path, ask_approval=lambda req: asked.append(req) or False)
    assert len(asked) == 1 and asked[0]["estimate_usd"] > 0
    assert not list((settings.takes_dir).glob("*/*.mp4"))
    assert _spent(settings) == 0
    assert not (tmp_path / "out" / "final.mp4").exists()


def test_approved_estimate_is_what_the_ledger_charges(settings: Settings, tmp_path: Path):
    asked: list[dict] = []
    state = _make(settings, tmp_path, ask_approval=lambda req: asked.append(req) or True)
    expected = round(sum(s.duration_s for s in state["storyboard"].shots) * USD_PER_SECOND, 4)
    assert asked[0]["estimate_usd"] == pytest.approx(expected)
    assert _spent(settings) == pytest.approx(expected)

    again = _make(settings, tmp_path, ask_approval=lambda req: pytest.fail("nothing new to pay for"))
    assert again["estimate_usd"] == 0
    assert _spent(settings) == pytest.approx(expected)  # a rerun pays nothing twice


def test_budget_below_the_estimate_stops_before_any_render(settings: Settings, tmp_path: Path):
    with pytest.raises(BudgetExceeded, match=r"over the \$0.50 budget"):
        _make(settings, tmp_path, budget_usd=0.5, approved=True)
    assert not list((settings.takes_dir).glob("*/*.mp4"))
    assert _spent(settings) == 0
