"""A paid render killed mid-flight resumes the tasks still running at the provider instead of
paying for them again: a real `shotline` process against a loopback fake of the Ark API."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import FIXTURES
from tests.fakes.seedance import FakeArk
from tests.fakes.server import FakeServer

KEY = "ark-test-key-do-not-log"


def _open_tasks(path: Path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'open'").fetchone()[0]
        except sqlite3.OperationalError:  # the table is not there yet
            return 0


def test_killed_paid_render_resumes_its_tasks_and_pays_once(tmp_path: Path):
    ark = FakeArk(
        api_key=KEY, statuses=("queued",) + ("running",) * 25 + ("succeeded",), clip_as_requested=True
    )
    with FakeServer(ark) as server:
        env = {
            **os.environ,
            "SHOTLINE_HOME": str(tmp_path / "home"),
            "ARK_API_KEY": KEY,
            "SHOTLINE_SEEDANCE_BASE_URL": f"{server.url}/api/v3",
            "SHOTLINE_POLL_S": "0.05",
            "SHOTLINE_CONCURRENCY": "2",  # with two tasks open the provider slots are full: no submit in flight
        }
        cmd = [sys.executable, "-m", "shotline.ui.cli", "make", str(FIXTURES / "short.fountain")]
        cmd += ["--provider", "seedance", "--yes", "--out", str(tmp_path / "out")]
        first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        jobs = tmp_path / "home" / "jobs.sqlite"
        while _open_tasks(jobs) < 2 and time.monotonic() < deadline:  # kill while two tasks run at Ark
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait()
        submitted_before_kill = len(ark.tasks)
        assert submitted_before_kill >= 2

        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
        assert second.returncode == 0, second.stderr
        report = json.loads((tmp_path / "out" / "report.json").read_text("utf-8"))

    shots = len(report["shots"])
    assert len(ark.tasks) == shots  # every shot created exactly once across both runs
    creates = [r for r in server.requests if r.method == "POST"]
    assert len(creates) == shots
    assert report["totals"]["cost_usd"] > 0
    assert KEY not in second.stderr and KEY not in json.dumps(report)  # the key never leaks
