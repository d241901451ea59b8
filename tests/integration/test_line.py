"""The graph end to end on a small screenplay: real Chroma, real SQLite, real ffmpeg, the animatic."""

from __future__ import annotations

import json
from pathlib import Path

import opentimelineio as otio
import pytest

from shotline.config import Settings
from shotline.errors import UnknownProviderError
from shotline.tools.ffmpeg import probe
from shotline.ui.session import make_film
from tests.conftest import DELIVERABLES, FIXTURES


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("line")
    settings = Settings(home=root / "home")
    out = root / "out"
    events: list[dict] = []
    state = make_film(FIXTURES / "short.fountain", out_dir=out, settings=settings, on_event=events.append)
    return settings, out, state, events


def test_every_deliverable_is_written(made):
    _, out, _, _ = made
    for name in DELIVERABLES:
        assert (out / name).stat().st_size > 0, name


def test_final_mp4_is_a_readable_film_of_the_storyboard_length(made):
    _, out, state, _ = made
    info = probe(out / "final.mp4")
    board = json.loads((out / "storyboard.json").read_text("utf-8"))
    assert info.codec == "h264" and info.fps == 24 and (info.width, info.height) == (1280, 720)
    assert info.has_audio and info.audio_codec == "aac"
    assert abs(info.duration_s - sum(s["duration_s"] for s in board["shots"])) <= 0.1
    assert state["cut"].shots == [s["id"] for s in board["shots"]]


def test_timeline_points_at_the_takes(made):
    _, out, state, _ = made
    timeline = otio.adapters.read_from_file(str(out / "timeline.otio"))
    clips = [c for track in timeline.video_tracks() for c in track.find_clips()]
    assert [c.name for c in clips] == [s.id for s in state["storyboard"].shots]
    lines = [c for track in timeline.audio_tracks() for c in track.find_clips()]
    spoken = [
        ln for ln in json.loads((out / "report.json").read_text())["sound"]["lines"] if ln["source"] == "tts"
    ]
    assert len(lines) == len(spoken)  # the voices ride along on audio tracks, one clip per spoken line
    for clip in clips:
        take = state["takes"][clip.name]
        assert Path(otio.url_utils.filepath_from_url(clip.media_reference.target_url)) == Path(take.path)


def test_progress_is_reported_per_stage_and_per_shot(made):
    _, _, state, events = made
    stages = [e["stage"] for e in events if e.get("status") == "done" and "shot_id" not in e]
    assert stages == ["director", "screenwriter", "continuity", "qc", "editor"]
    done = {e["shot_id"] for e in events if e.get("stage") == "render" and e.get("status") == "done"}
    assert done == {s.id for s in state["storyboard"].shots}


def test_second_run_renders_nothing(made):
    settings, out, state, _ = made
    again = make_film(FIXTURES / "short.fountain", out_dir=out, settings=settings)
    report = json.loads((out / "report.json").read_text("utf-8"))
    assert report["totals"]["rendered"] == 0
    assert report["totals"]["cache_hits"] == len(state["storyboard"].shots)
    assert all(s["cache_hit"] for s in report["shots"])
    assert again["cut"].duration_s == state["cut"].duration_s


def test_state_is_checkpointed_under_the_project_id(made):
    settings, _, state, _ = made
    from shotline.agents.graph import build_graph
    from shotline.memory.store import checkpointer

    with checkpointer(settings.checkpoints_path) as saver:
        graph = build_graph(saver)
        snapshot = graph.get_state({"configurable": {"thread_id": state["project_id"]}})
    assert snapshot.values["cut"].duration_s == state["cut"].duration_s
    assert len(snapshot.values["storyboard"].shots) == len(state["storyboard"].shots)


def test_a_bible_change_rerenders_only_the_shots_it_touches(made, tmp_path: Path):
    settings, _, state, _ = made
    script = (FIXTURES / "short.fountain").read_text("utf-8").replace("green apron", "blue apron")
    edited = tmp_path / "short.fountain"
    edited.write_text(script, "utf-8")
    out = tmp_path / "out"
    make_film(edited, out_dir=out, settings=settings)
    report = json.loads((out / "report.json").read_text("utf-8"))
    rerendered = {s["id"] for s in report["shots"] if not s["cache_hit"]}
    with_ana = {s.id for s in state["storyboard"].shots if "ana" in s.characters}
    assert rerendered and rerendered <= with_ana  # Ben alone under the lamp is not paid again


def test_unknown_provider_fails_before_any_work(tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    with pytest.raises(UnknownProviderError, match="unknown provider 'sora9'"):
        make_film(FIXTURES / "short.fountain", out_dir=tmp_path / "out", settings=settings, provider="sora9")
    assert not (tmp_path / "out").exists()
