"""An approval survives a process restart: `shotline chat` as a person runs it, one real process per
sitting, against a loopback fake of the Ark (Seedance) API. The first process pastes a screenplay and
ends at the approval prompt; the next one finds the request waiting, answers it and renders; later
ones revise, decline, undo. Nothing is paid for without a yes, and the key is never written down."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import DELIVERABLES, FIXTURES
from tests.fakes.seedance import FakeArk
from tests.fakes.server import FakeServer

KEY = "ark-chat-test-key-do-not-log"
PROJECT = "courier"
ALL = {f"{n:03d}" for n in range(1, 11)}
MEI = {"002", "004", "005", "008", "009", "010"}  # her shots in courier.fountain
WAITING = f"waiting for approval: run `shotline chat --project {PROJECT}` to answer"
ESTIMATE = re.compile(r"cost about \$(\d+\.\d\d)")
PER_SHOT = re.compile(r"shot (\d+) \$(\d+\.\d\d)")


@dataclass
class Sitting:
    """One `shotline chat` process, and what the fake Ark and the ledger saw by the time it ended."""

    stdin: str
    run: subprocess.CompletedProcess[str]
    seconds: float
    posts: int  # task creates received by the fake Ark, all processes so far
    requests: int  # every request received by the fake Ark, all processes so far
    spent_usd: float
    folders: list[str]  # the project's version folders when it ended

    @property
    def lines(self) -> list[str]:
        return self.run.stdout.splitlines()


@dataclass
class Conversation:
    home: Path
    ark: FakeArk
    sittings: list[Sitting] = field(default_factory=list)


def _shotline(*args: str, env: dict[str, str], stdin: str = "", timeout: float = 240):
    return subprocess.run(
        [sys.executable, "-m", "shotline.ui.cli", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "ARK_API_KEY" and not k.startswith("SHOTLINE_")}
    return env | {"SHOTLINE_HOME": str(home), "ANONYMIZED_TELEMETRY": "False", **extra}


def _estimate(text: str) -> tuple[float, dict[str, float]]:
    """The total and the per-shot figures of the approval request as printed."""
    total = ESTIMATE.search(text)
    assert total, text
    return float(total[1]), {f"{int(n):03d}": float(usd) for n, usd in PER_SHOT.findall(text)}


def _spent(ledger: Path) -> float:
    """What the ledger has charged, read without keeping a connection (nor a -wal file) open."""
    if not ledger.exists():
        return 0.0
    with closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)) as db:
        return float(db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM charges").fetchone()[0])


@pytest.fixture(scope="module")
def conversation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Conversation]:
    """Five sittings on one project, each a fresh process; each must exit 0."""
    home = tmp_path_factory.mktemp("chat") / "home"
    ark = FakeArk(api_key=KEY, statuses=("running", "succeeded"), clip_as_requested=True)
    talk = Conversation(home=home, ark=ark)
    with FakeServer(ark) as server:
        env = _env(
            home,
            ARK_API_KEY=KEY,
            SHOTLINE_SEEDANCE_BASE_URL=f"{server.url}/api/v3",
            SHOTLINE_POLL_S="0.05",
            SHOTLINE_CONCURRENCY="5",
        )
        sittings = [
            ("", ("--provider", "seedance", "--script", str(FIXTURES / "courier.fountain"))),
            ("yes\n", ()),
            ("make her jacket red everywhere\n", ()),
            ("no\n", ()),
            ("undo\nstatus\n", ()),
        ]
        for stdin, extra in sittings:
            started = time.monotonic()
            run = _shotline("chat", "--project", PROJECT, *extra, env=env, stdin=stdin)
            seconds = time.monotonic() - started
            assert run.returncode == 0, f"chat with {stdin!r}:\n{run.stdout}\n{run.stderr}"
            spent = _spent(home / "ledger.sqlite")
            posts = len(server.calls("POST"))
            folders = sorted(p.name for p in (home / "projects" / PROJECT).glob("v*"))
            talk.sittings.append(Sitting(stdin, run, seconds, posts, len(server.requests), spent, folders))
        yield talk


def test_a_pasted_screenplay_ends_at_the_approval_and_spends_nothing(conversation: Conversation):
    first = conversation.sittings[0]
    assert first.requests == 0  # Ark was not even asked: nothing submitted before a yes
    assert first.spent_usd == 0
    assert first.lines[0] == f"project {PROJECT} (version 0)"
    ask = next(line for line in first.lines if "Approve?" in line)
    total, per_shot = _estimate(ask)
    assert set(per_shot) == ALL and "on seedance" in ask
    assert total == pytest.approx(sum(per_shot.values()), abs=0.01 * len(per_shot))
    assert first.lines[-1] == WAITING
    assert first.folders == []  # no cut, no version folder


def test_the_next_process_shows_the_request_again_and_renders_each_shot_once(conversation: Conversation):
    first, second = conversation.sittings[:2]
    assert second.lines[0] == f"project {PROJECT} (version 1)"  # the version waiting for its render
    assert "Approve?" in second.lines[1]  # the waiting request, shown before anything is read
    assert _estimate(second.lines[1]) == _estimate(next(x for x in first.lines if "Approve?" in x))
    assert WAITING not in second.run.stdout
    assert second.posts == len(ALL) == len(conversation.ark.tasks)  # one Ark task per shot
    cut = conversation.home / "projects" / PROJECT / "v001"
    for name in DELIVERABLES:
        assert (cut / name).stat().st_size > 0, name
    assert "Version 1" in second.run.stdout and second.folders == ["v001"]
    report = json.loads((cut / "report.json").read_text("utf-8"))
    assert {shot["id"] for shot in report["shots"]} == ALL
    assert all(shot["model"].startswith("seedance/") and not shot["cache_hit"] for shot in report["shots"])
    assert report["totals"]["cost_usd"] == pytest.approx(second.spent_usd, abs=1e-3)
    assert 0 < second.spent_usd <= _estimate(second.lines[1])[0] + 0.01


def test_a_revision_after_a_restart_asks_again_for_her_shots_only(conversation: Conversation):
    second, third = conversation.sittings[1:3]
    assert third.lines[0] == f"project {PROJECT} (version 1)"
    ask = next(line for line in third.lines if "Approve?" in line)
    total, per_shot = _estimate(ask)
    assert set(per_shot) == MEI
    assert total == pytest.approx(sum(per_shot.values()), abs=0.01 * len(per_shot))
    assert third.lines[-1] == WAITING
    assert third.posts == second.posts and third.spent_usd == second.spent_usd
    assert third.folders == ["v001"]


def test_no_in_the_next_process_spends_nothing(conversation: Conversation):
    third, fourth = conversation.sittings[2:4]
    assert "Approve?" in fourth.lines[1]  # the request waited for this process too
    assert _estimate(fourth.lines[1])[1].keys() == MEI
    assert "nothing was spent" in fourth.lines[-1]
    assert WAITING not in fourth.run.stdout
    assert fourth.posts == third.posts and fourth.spent_usd == third.spent_usd
    assert fourth.folders == ["v001"]


def test_undo_goes_back_to_version_1(conversation: Conversation):
    fourth, fifth = conversation.sittings[3:5]
    assert "Approve?" not in fifth.run.stdout and WAITING not in fifth.run.stdout
    assert any(line.startswith("Back to version 1") for line in fifth.lines)
    assert fifth.lines[-1].startswith("Version 1:")  # the status
    assert fifth.posts == fourth.posts and fifth.spent_usd == fourth.spent_usd
    assert (conversation.home / "projects" / PROJECT / "v001" / "final.mp4").exists()


def test_the_key_is_never_shown_or_written_down(conversation: Conversation):
    for sitting in conversation.sittings:
        assert KEY not in sitting.run.stdout and KEY not in sitting.run.stderr
    files = [p for p in conversation.home.rglob("*") if p.is_file()]
    assert any(p.name == "checkpoints.sqlite" for p in files)
    assert any(p.name == "final.mp4" for p in files)
    leaked = [str(p) for p in files if KEY.encode() in p.read_bytes()]
    assert leaked == []


def test_chat_with_a_bad_llm_setting_exits_2_in_one_line(tmp_path: Path):
    run = _shotline("chat", env=_env(tmp_path / "home", SHOTLINE_LLM="bogus"), stdin="hello\n", timeout=60)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "SHOTLINE_LLM" in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


def test_chat_with_a_bad_script_exits_2_in_one_line_and_starts_nothing(tmp_path: Path):
    home = tmp_path / "home"
    run = _shotline("chat", "--project", "p", "--script", str(tmp_path / "missing.fountain"), env=_env(home))
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "no such file" in run.stderr
    assert run.stdout == "" and not (home / "checkpoints.sqlite").exists()


def test_messages_are_shown_as_written_not_read_as_markup(tmp_path: Path):
    text = "[/x] a courier at dusk :smile: [bold]fast"  # rich markup and an emoji code, offline
    run = _shotline("chat", "--project", "p", env=_env(tmp_path / "home"), stdin=text + "\n")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert text in run.stdout and text in run.stderr
