"""Benchmark: 24 shots on a simulated paid provider, concurrency 4, against the ideal lower bound
(max of the longest job and total work / concurrency) and a one-at-a-time baseline in the same run.

Latencies follow a realistic spread (lognormal around ~90 s for a 5 s clip, longer clips slower),
scaled down 200x so the benchmark takes seconds while per-job bookkeeping (download, probe, ledger) stays as small a share as it is for real. Prints JSON. Target: within 10% of the bound.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shotline.memory.store import Ledger, TakeStore
from shotline.tools.render import Renderer, RenderPolicy
from shotline.tools.video.base import ModelCard, RenderRequest, TaskStatus, generic_key_payload
from tests.fakes.media import mp4_bytes

SCALE = 1 / 200
DEFAULT = RenderPolicy()
SHOTS = 24
CONCURRENCY = 4


class SimulatedProvider:
    """Finishes each task after its own latency, measured in wall time from submit."""

    card = ModelCard(name="sim", display_name="Simulated", durations_s=(2, 10), usd_per_second=0.1)

    def __init__(self, latency: dict[str, float]) -> None:
        self.latency = latency
        self.started: dict[str, tuple[float, float]] = {}

    def key_payload(self, request: RenderRequest) -> dict:
        return generic_key_payload(request)

    async def submit(self, request: RenderRequest) -> str:
        self.started[request.shot_id] = (time.monotonic(), request.duration_s)
        return request.shot_id

    async def poll(self, task_id: str) -> TaskStatus:
        t0, _ = self.started[task_id]
        done = time.monotonic() - t0 >= self.latency[task_id]
        return TaskStatus(
            task_id=task_id, state="succeeded" if done else "running", raw_status="x", url="mem://"
        )

    async def fetch(self, task_id: str, dest: Path) -> Path:
        dest.write_bytes(mp4_bytes(self.started[task_id][1]))
        return dest


def workload(seed: int = 5) -> tuple[list[RenderRequest], dict[str, float]]:
    rng = random.Random(seed)
    requests, latency = [], {}
    for n in range(SHOTS):
        seconds = rng.choice([2, 3, 4, 5, 6, 8, 10])
        shot = f"{n:03d}"
        requests.append(
            RenderRequest(
                shot_id=shot,
                model="sim",
                prompt=f"shot {n}",
                duration_s=seconds,
                ratio="16:9",
                width=320,
                height=180,
            )
        )
        latency[shot] = 90 * (0.6 + seconds / 12.5) * rng.lognormvariate(0, 0.35) * SCALE
    return requests, latency


async def run(concurrency: int, requests: list[RenderRequest], latency: dict[str, float]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        renderer = Renderer(
            store=TakeStore(Path(tmp) / "takes"),
            ledger=Ledger(Path(tmp) / "ledger.sqlite"),
            models={"sim": SimulatedProvider(latency)},
            project_id="bench",
            policy=RenderPolicy(
                poll_s=0.002, poll_max_s=0.004, jitter=0.1, per_provider={"sim": concurrency}
            ),
        )
        t0 = time.monotonic()
        await renderer.render(requests)
        return time.monotonic() - t0


def lpt_schedule(latency: dict[str, float], lanes: int) -> float:
    """Makespan of longest-first list scheduling with no overhead: what ordering alone achieves."""
    ends = [0.0] * lanes
    for t in sorted(latency.values(), reverse=True):
        ends[ends.index(min(ends))] += t
    return max(ends)


def main() -> None:
    requests, latency = workload()
    for n in range(3):  # warm the fake's clip cache so encoding is not measured as provider time
        mp4_bytes(float(2 + n))
    for s in {r.duration_s for r in requests}:
        mp4_bytes(s)
    bound = max(max(latency.values()), sum(latency.values()) / CONCURRENCY)
    parallel = asyncio.run(run(CONCURRENCY, requests, latency))
    serial = asyncio.run(run(1, requests, latency))
    print(
        json.dumps(
            {
                "benchmark": "render_makespan",
                "shots": SHOTS,
                "concurrency": CONCURRENCY,
                "time_scale": SCALE,
                "ideal_lower_bound_s": round(bound, 3),
                "longest_first_schedule_s": round(lpt_schedule(latency, CONCURRENCY), 3),
                "makespan_s": round(parallel, 3),
                "over_bound": round(parallel / bound - 1, 3),
                "one_at_a_time_s": round(serial, 3),
                "speedup": round(serial / parallel, 2),
                "target_over_bound": 0.10,
                "ok": parallel <= bound * 1.10,
            }
        )
    )


if __name__ == "__main__":
    main()
