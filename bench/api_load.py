"""Benchmark: 20 bots at once against the REST API (`shotline serve`'s app, animatic model).

The server runs in a subprocess (uvicorn on loopback, a temp SHOTLINE_HOME, offline brains); each
bot, in its own thread with its own token: creates a project, posts a tiny screenplay of its own
(1 scene, 3 shots, words varied per bot so that no bot rides another's render cache), follows the
turn's server-sent events to `done`, checks that no event was lost (the streamed ids must equal the
project's backlog for that turn, fetched after the end), reads the state and downloads final.mp4.

Prints JSON: wall time, errors and lost events (both must be 0), p50/p95/max latency of the
non-streaming endpoints (create, post message, GET state, download) and of a whole turn, and the
server's peak resident memory (VmHWM from /proc, or psutil sampling where there is no /proc).

    .venv/bin/python bench/api_load.py [--clients 20]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

CLIENTS = 20
TERMINAL = {"done", "waiting", "error"}
READ_TIMEOUT_S = 600.0  # a turn queues behind the others' renders; the stream is quiet meanwhile
COLOURS = ["red", "blue", "green", "yellow", "orange", "purple", "white", "black", "grey", "brown"]
NAMES = [
    "ANA",
    "BEN",
    "CARA",
    "DEV",
    "ELLA",
    "FINN",
    "GIA",
    "HUGO",
    "IRIS",
    "JONAH",
    "KAI",
    "LENA",
    "MILO",
    "NORA",
    "OTTO",
    "PIA",
    "QUINN",
    "RUBY",
    "SAM",
    "TESS",
]


def screenplay(i: int) -> str:
    """One scene, three shots (an establishing shot, a character, a line): a film in seconds."""
    name, colour = NAMES[i % len(NAMES)], COLOURS[i % len(COLOURS)]
    return (
        f"Title: Load {i}\nStyle: pencil storyboard\n\n"
        "INT. KITCHEN - DAY\n\n"
        f"A small kitchen with a {colour} kettle on the stove.\n\n"
        f"{name} (30s), in a {colour} apron, pours tea.\n\n"
        f"{name}\nBot number {i} is ready.\n"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`create_app()` from the environment, under uvicorn, in a subprocess of its own."""

    def __init__(self, home: Path, tokens: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        env = {
            **os.environ,
            "SHOTLINE_HOME": str(home),
            "SHOTLINE_API_TOKENS": tokens,
            "SHOTLINE_LLM": "none",
            "ANONYMIZED_TELEMETRY": "False",
        }
        command = [sys.executable, "-m", "uvicorn", "shotline.ui.api:create_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        self.process = subprocess.Popen(
            command,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1],
        )
        self._peak_sampled = 0
        self._stop = threading.Event()

    def wait_ready(self, timeout: float = 120.0) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited ({self.process.returncode}): {self.output()}")
            try:
                if httpx.get(f"{self.url}/v1/openapi.json", timeout=2).status_code == 200:
                    threading.Thread(target=self._sample, daemon=True).start()
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start in {timeout:.0f} s: {self.output()}")

    def _sample(self) -> None:  # only where there is no /proc: psutil's RSS, sampled
        try:
            import psutil
        except ImportError:
            return
        proc = psutil.Process(self.process.pid)
        while not self._stop.wait(0.1):
            try:
                self._peak_sampled = max(self._peak_sampled, proc.memory_info().rss)
            except psutil.Error:
                return

    def peak_rss_mb(self) -> tuple[float | None, str]:
        status = Path(f"/proc/{self.process.pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1), "/proc VmHWM"
        if self._peak_sampled:
            return round(self._peak_sampled / 2**20, 1), "psutil rss sampled every 0.1 s"
        return None, "unavailable"

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")[-2000:]

    def stop(self) -> None:
        self._stop.set()
        self.process.terminate()  # SIGTERM: uvicorn shuts down gracefully (lifespan, runs)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        finally:
            self.log.close()


def events(http: httpx.Client, pid: str, after: int, *, live: bool = True) -> list[tuple[int, str]]:
    """(id, kind) of the project's events after `after`, in order: `live`, as a client follows a
    turn until the server ends the stream; otherwise the backlog as it stands."""
    found: list[tuple[int, str]] = []
    fields: dict[str, str] = {}
    params = {"after": after, "follow": live}
    with http.stream("GET", f"/v1/projects/{pid}/events", params=params) as response:
        if response.status_code != 200:
            raise RuntimeError(f"events: {response.status_code} {response.read()[:200]!r}")
        for line in response.iter_lines():
            if not line:
                if "id" in fields:
                    found.append((int(fields["id"]), fields.get("event", "message")))
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
    return found


def backlog(http: httpx.Client, pid: str, after: int, timeout: float = 30.0) -> list[tuple[int, str]]:
    """The turn's events as the server keeps them, once they include its end."""
    deadline = time.monotonic() + timeout
    while True:
        kept = events(http, pid, after, live=False)
        if (kept and kept[-1][1] in TERMINAL) or time.monotonic() > deadline:
            return kept
        time.sleep(0.2)


def timed(latencies: dict[str, list[float]], name: str, call, *args, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    response = call(*args, **kwargs)
    latencies[name].append((time.perf_counter() - t0) * 1000)
    return response


def bot(i: int, url: str, token: str, start: threading.Barrier) -> dict[str, Any]:
    latencies: dict[str, list[float]] = {"create": [], "message": [], "state": [], "download": []}
    result: dict[str, Any] = {"bot": i, "latencies": latencies, "error": None, "lost": 0, "duplicates": 0}
    timeout = httpx.Timeout(60.0, read=READ_TIMEOUT_S)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout) as http:
        try:
            start.wait()
            created = timed(latencies, "create", http.post, "/v1/projects", json={"provider": "animatic"})
            assert created.status_code == 201, f"create: {created.status_code} {created.text[:200]}"
            pid = created.json()["id"]

            t0 = time.perf_counter()
            accepted = timed(
                latencies, "message", http.post, f"/v1/projects/{pid}/messages", json={"text": screenplay(i)}
            )
            assert accepted.status_code == 202, f"message: {accepted.status_code} {accepted.text[:200]}"
            after = accepted.json()["after"]
            streamed = events(http, pid, after)
            result["turn_s"] = time.perf_counter() - t0
            kept = backlog(http, pid, after)
            ids, kept_ids = [seq for seq, _ in streamed], [seq for seq, _ in kept]
            missing = [(seq, kind) for seq, kind in kept if seq not in set(ids)]
            result["events"] = len(ids)
            result["lost"] = len(missing)
            result["duplicates"] = len(ids) - len(set(ids))
            assert not missing, (
                f"the stream ended at {streamed[-1:]} without {missing[:3]} (of {len(missing)})"
            )
            assert ids == kept_ids, "the stream's ids differ from the backlog's (order or extra events)"
            assert streamed[-1][1] == "done", f"the turn ended with {streamed[-1]}"

            state = timed(latencies, "state", http.get, f"/v1/projects/{pid}")
            assert state.status_code == 200, f"state: {state.status_code}"
            body = state.json()
            assert body["version"] == 1 and body["cut"], f"no cut: version {body['version']}"
            result["shots"] = len(body["shots"])

            film = timed(latencies, "download", http.get, f"/v1/projects/{pid}/files/final.mp4")
            assert film.status_code == 200 and film.content[4:8] == b"ftyp", f"download: {film.status_code}"
            result["film_bytes"] = len(film.content)
        except Exception as exc:  # every failure is counted and named in the report, not raised
            result["error"] = f"bot {i}: {type(exc).__name__}: {exc}"[:300]
    return result


def percentiles(values: list[float], digits: int = 1) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    xs = sorted(values)

    def rank(p: float) -> float:  # nearest rank
        return round(xs[min(len(xs) - 1, max(0, math.ceil(p * len(xs)) - 1))], digits)

    return {"n": len(xs), "p50": rank(0.50), "p95": rank(0.95), "max": round(xs[-1], digits)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=CLIENTS)
    args = parser.parse_args()
    tokens = {f"bot{i}": f"bench-token-{i:03d}-{os.urandom(4).hex()}" for i in range(args.clients)}
    with tempfile.TemporaryDirectory(prefix="shotline-api-load-") as tmp:
        server = Server(Path(tmp) / "home", ",".join(f"{user}:{token}" for user, token in tokens.items()))
        try:
            startup_s = server.wait_ready()
            start = threading.Barrier(args.clients)
            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                futures = [
                    pool.submit(bot, i, server.url, token, start) for i, token in enumerate(tokens.values())
                ]
                results = [f.result() for f in futures]
            wall = time.perf_counter() - t0
            rss_mb, rss_source = server.peak_rss_mb()
        except BaseException:
            print(server.output(), file=sys.stderr)
            raise
        finally:
            server.stop()

    errors = [r["error"] for r in results if r["error"]]
    lost = sum(r["lost"] for r in results)
    by_endpoint = {
        name: [ms for r in results for ms in r["latencies"][name]] for name in results[0]["latencies"]
    }
    report = {
        "benchmark": "api_load",
        "cpus": os.cpu_count(),
        "clients": args.clients,
        "provider": "animatic",
        "shots_per_film": sorted({r["shots"] for r in results if "shots" in r}),
        "server_startup_s": round(startup_s, 2),
        "wall_s": round(wall, 2),
        "films": sum(1 for r in results if "film_bytes" in r),
        "errors": len(errors),
        "error_messages": errors[:5],
        "lost_events": lost,
        "duplicate_events": sum(r["duplicates"] for r in results),
        "events_streamed": sum(r.get("events", 0) for r in results),
        "latency_ms": {name: percentiles(values) for name, values in by_endpoint.items()}
        | {"all_non_streaming": percentiles([ms for values in by_endpoint.values() for ms in values])},
        "turn_s": percentiles([r["turn_s"] for r in results if "turn_s" in r], digits=2),
        "server_rss_peak_mb": rss_mb,
        "server_rss_source": rss_source,
        "ok": not errors and lost == 0,
    }
    print(json.dumps(report))
    if not report["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
