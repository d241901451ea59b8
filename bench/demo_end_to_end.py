"""Benchmark: `shotline demo` end to end in a fresh SHOTLINE_HOME (cold), then again (warm cache).

Prints JSON. Target: cold run under 60 s on 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(home: Path, out: Path) -> float:
    env = {**os.environ, "SHOTLINE_HOME": str(home)}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "shotline.ui.cli", "demo", "--out", str(out)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home, out = Path(tmp) / "home", Path(tmp) / "out"
        cold = run(home, out)
        warm = run(home, out)
        report = json.loads((out / "report.json").read_text("utf-8"))
    print(
        json.dumps(
            {
                "benchmark": "demo_end_to_end",
                "cpus": os.cpu_count(),
                "shots": report["totals"].get("shots", len(report["shots"])),
                "film_s": report["totals"].get("duration_s"),
                "cold_s": round(cold, 2),
                "warm_s": round(warm, 2),
                "warm_rendered": report["totals"]["rendered"],
                "target_cold_s": 60.0,
                "ok": cold < 60.0,
            }
        )
    )


if __name__ == "__main__":
    main()
