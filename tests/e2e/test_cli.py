"""The `shotline` command as a person runs it: a real process, real files, real kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shotline.tools.ffmpeg import probe
from tests.conftest import DELIVERABLES, FIXTURES


def shotline(*args: str, home: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    keys = {"ARK_API_KEY", "KLING_ACCESS_KEY", "KLING_SECRET_KEY", "VIDU_API_KEY", "MINIMAX_API_KEY",
            "RUNWAYML_API_SECRET", "GEMINI_API_KEY", "DASHSCOPE_API_KEY", "FAL_KEY", "COMFYUI_URL"}  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in keys} | {"SHOTLINE_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "shotline.ui.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("demo")
    home, out = root / "home", root / "out"
    first = shotline("demo", "--out", str(out), home=home)
    assert first.returncode == 0, first.stderr
    report = json.loads((out / "report.json").read_text("utf-8"))
    return home, out, report


def test_demo_writes_every_deliverable(demo):
    _, out, _ = demo
    for name in DELIVERABLES:
        assert (out / name).stat().st_size > 0, name


def test_demo_film_lasts_the_storyboard_at_24_fps(demo):
    _, out, report = demo
    board = json.loads((out / "storyboard.json").read_text("utf-8"))
    info = probe(out / "final.mp4")
    assert 12 <= len(board["shots"]) <= 20
    assert info.fps == 24
    assert abs(info.duration_s - sum(s["duration_s"] for s in board["shots"])) <= 0.1
    assert report["totals"]["rendered"] == len(board["shots"])


def test_demo_again_renders_nothing(demo):
    home, out, first = demo
    again = shotline("demo", "--out", str(out), home=home)
    assert again.returncode == 0, again.stderr
    report = json.loads((out / "report.json").read_text("utf-8"))
    assert report["totals"]["rendered"] == 0
    assert report["totals"]["cache_hits"] == len(first["shots"])
    assert all(s["cache_hit"] for s in report["shots"])


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.fountain", None, "no such file"),
        ("empty.fountain", b"", "is empty"),
        ("photo.fountain", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("broken.fountain", b"INT. ROOM - DAY\n\n/* this boneyard never ends\n\nJOHN\nHi.\n", "line 3"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_loses_nothing(demo, tmp_path: Path, name, content, reason):
    home, out, _ = demo
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    result = shotline("make", str(path), "--out", str(out), home=home)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and reason in lines[0], result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing earlier is lost


def test_unknown_provider_and_bad_ratio_exit_2(tmp_path: Path):
    home = tmp_path / "home"
    result = shotline("make", str(FIXTURES / "short.fountain"), "--provider", "sora9", home=home)
    assert result.returncode == 2 and "unknown provider 'sora9'" in result.stderr
    result = shotline("make", str(FIXTURES / "short.fountain"), "--ratio", "4:3", home=home)
    assert result.returncode == 2 and "4:3" in result.stderr


def test_kill_during_render_then_rerun_reuses_every_finished_take(tmp_path: Path):
    home, out = tmp_path / "home", tmp_path / "out"
    env = {**os.environ, "SHOTLINE_HOME": str(home), "SHOTLINE_CONCURRENCY": "1"}
    sample = Path(__file__).resolve().parents[2] / "samples" / "last_delivery.fountain"
    proc = subprocess.Popen(
        [sys.executable, "-m", "shotline.ui.cli", "make", str(sample), "--out", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    records = home / "takes"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list(records.glob("*/*.json"))) < 3:
        assert proc.poll() is None, "the run finished before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.stem for p in records.glob("*/*.json")}
    assert len(finished) >= 3
    assert not (out / "final.mp4").exists()

    result = shotline("make", str(sample), "--out", str(out), home=home)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text("utf-8"))
    cached = {s["render_key"] for s in report["shots"] if s["cache_hit"]}
    assert finished <= cached  # every take finished before the kill is reused, none rendered twice
    assert report["totals"]["rendered"] == len(report["shots"]) - len(cached)
    assert abs(probe(out / "final.mp4").duration_s - report["totals"]["duration_s"]) <= 0.1


def test_a_provider_without_its_key_is_refused_before_any_work(tmp_path: Path):
    env_home = tmp_path / "home"
    result = shotline(
        "make",
        str(FIXTURES / "short.fountain"),
        "--provider",
        "kling",
        "--out",
        str(tmp_path / "o"),
        home=env_home,
    )
    assert result.returncode == 2 and "KLING_ACCESS_KEY" in result.stderr
    assert not (tmp_path / "o").exists()
    result = shotline("make", str(FIXTURES / "short.fountain"), "--policy", "priciest", home=env_home)
    assert result.returncode == 2 and "priciest" in result.stderr


def test_providers_lists_every_model_with_availability_and_price(tmp_path: Path):
    result = shotline("providers", home=tmp_path / "home")
    assert result.returncode == 0, result.stderr
    for name in ("animatic", "seedance", "kling", "vidu", "hailuo", "runway", "veo", "wan", "fal", "comfyui"):
        assert f"│ {name}" in result.stdout
    assert "no key: set ARK_API_KEY" in result.stdout and "COMFYUI_URL" in result.stdout
    assert "0.151" in result.stdout  # Seedance 2.0 at 720p, USD per second


def test_make_with_a_finish_delivers_transitions_loudness_subtitles_and_a_square_version(tmp_path: Path):
    home, out = tmp_path / "home", tmp_path / "out"
    made = shotline(
        "make", str(FIXTURES / "short.fountain"), "--out", str(out), "--transition", "dip",
        "--loudness", "broadcast", "--burn-subtitles", "--reframe", "1:1", home=home,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "final_1x1.mp4" in made.stdout + made.stderr
    report = json.loads((out / "report.json").read_text("utf-8"))
    (dip,) = report["finish"]["transitions"]  # one scene change in the short script
    assert dip["kind"] == "dip" and report["finish"]["burned_subtitles"]
    assert report["sound"]["target_lufs"] == -23.0
    film, square = probe(out / "final.mp4"), probe(out / "final_1x1.mp4")
    assert (square.width, square.height) == (960, 960) and square.frames == film.frames
    assert film.frames == round(sum(s["duration_s"] for s in json.loads((out / "storyboard.json").read_text())["shots"]) * 24) - dip["frames"]  # fmt: skip


@pytest.mark.parametrize(
    ("flag", "value", "reason"),
    [("--loudness", "loud", "--loudness"), ("--transition", "wipe", "--transition"),
     ("--reframe", "4:3", "--reframe"), ("--music", "nope.wav", "--music")],
)  # fmt: skip
def test_bad_finish_flags_exit_2_with_one_line(tmp_path: Path, flag: str, value: str, reason: str):
    made = shotline("make", str(FIXTURES / "short.fountain"), "--out", str(tmp_path / "o"), flag, value,
                    home=tmp_path / "home")  # fmt: skip
    assert made.returncode == 2 and reason in made.stderr, made.stdout + made.stderr
    assert not (tmp_path / "o").exists()
