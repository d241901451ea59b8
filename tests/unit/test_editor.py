"""The editor end to end on real ffmpeg: final.mp4, final.srt, timeline.otio, contact sheet, documents.

Takes are made with ffmpeg's lavfi sources in deliberately mixed shapes (longer than their shot,
another size or frame rate, with and without audio, one too short), so the normalisation is what
is under test.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import opentimelineio as otio
import pytest
from PIL import Image

from shotline.agents.editor import deliver
from shotline.errors import RenderError
from shotline.memory.models import (
    FPS,
    Beat,
    Breakdown,
    Character,
    Conflict,
    Cut,
    DialogueLine,
    Edit,
    Location,
    Scene,
    Shot,
    Storyboard,
    Take,
    Transition,
)
from shotline.tools import ffmpeg
from shotline.tools.contact_sheet import SheetLayout
from shotline.tools.subtitles import dialogue_cues, srt_timestamp
from shotline.tools.timeline import (
    build_timeline,
    cut_duration_s,
    edit_decisions,
    timeline_from_decisions,
    write_timeline,
)
from shotline.tools.timing import speech_windows

MakeTake = Callable[..., Take]


# --- fixtures -----------------------------------------------------------------------------


def _encode_take(path: Path, *, source: str, size: str, rate: int, seconds: float, audio: bool) -> None:
    """A small H.264 file from a lavfi source, optionally with a sine-tone AAC track."""
    args = [ffmpeg.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi"]
    options = f"s={size}:r={rate}:d={seconds}"
    args += ["-i", f"{source}:{options}" if "=" in source else f"{source}={options}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(args, check=True)


@pytest.fixture(scope="module")
def make_take(tmp_path_factory: pytest.TempPathFactory) -> MakeTake:
    folder = tmp_path_factory.mktemp("takes")

    def make(
        shot_id: str,
        *,
        seconds: float,
        size: str = "320x180",
        rate: int = 24,
        source: str = "testsrc2",
        audio: bool = False,
        cache_hit: bool = False,
        cost_usd: float = 0.0,
    ) -> Take:
        path = folder / f"{shot_id}-{size}-{rate}-{seconds}-{int(audio)}.mp4"
        if not path.exists():
            _encode_take(path, source=source, size=size, rate=rate, seconds=seconds, audio=audio)
        width, height = (int(v) for v in size.split("x"))
        return Take(
            shot_id=shot_id,
            render_key=f"key-{shot_id}",
            model="animatic" if cost_usd == 0 else "kling",
            path=str(path),
            sha256="0" * 64,
            duration_s=seconds,
            width=width,
            height=height,
            cost_usd=cost_usd,
            cache_hit=cache_hit,
            seconds=0.0 if cache_hit else 1.5,
        )

    return make


def _breakdown() -> Breakdown:
    characters = [
        Character(id="mei", name="MEI", description="a courier in a yellow raincoat", color="#e0b000"),
        Character(id="li", name="李雷", description="an old shopkeeper", color="#3060c0"),
    ]
    locations = [
        Location(
            id="alley", name="RAINY ALLEY", interior="EXT", description="wet neon alley", color="#203040"
        ),
        Location(id="shop", name="TEA SHOP", interior="INT", description="tiny tea shop", color="#604020"),
    ]
    scenes = [
        Scene(
            id="sc1",
            number=1,
            heading="EXT. RAINY ALLEY - NIGHT",
            location="alley",
            interior="EXT",
            time_of_day="NIGHT",
            night=True,
            line=1,
            characters=["mei"],
            beats=[Beat(kind="action", text="Mei runs.", line=3)],
        ),
        Scene(
            id="sc2",
            number=2,
            heading="INT. TEA SHOP - NIGHT",
            location="shop",
            interior="INT",
            time_of_day="NIGHT",
            night=True,
            line=8,
            characters=["mei", "li"],
        ),
    ]
    return Breakdown(title="Rain Delivery", scenes=scenes, characters=characters, locations=locations)


def _shot(
    shot_id: str, number: int, scene: str, location: str, seconds: float, dialogue=(), **kw: object
) -> Shot:
    return Shot(
        id=shot_id,
        number=number,
        scene=scene,
        framing=kw.pop("framing", "medium"),
        camera="static",
        duration_s=seconds,
        location=location,
        characters=["mei"],
        prompt=f"prompt for {shot_id}",
        dialogue=[DialogueLine(character=c, text=t, line=number * 3) for c, t in dialogue],
        **kw,
    )


def _storyboard(ratio: str = "16:9") -> Storyboard:
    return Storyboard(
        ratio=ratio,
        style="neo-noir",
        shots=[
            _shot("001", 1, "sc1", "alley", 2.5, framing="establishing"),
            _shot("002", 2, "sc1", "alley", 3.3, [("mei", "Nobody follows me here.")]),
            _shot("003", 3, "sc2", "shop", 2.0, [("li", "你又迟到了。")], framing="close-up"),
            _shot("004", 4, "sc2", "shop", 2.7, [("mei", "Rain."), ("li", "Sit down, then.")]),
        ],
    )


@pytest.fixture(scope="module")
def takes(make_take: MakeTake) -> dict[str, Take]:
    return {
        # longer than its shot, 30 fps, another size, with audio
        "001": make_take("001", seconds=3.5, size="640x360", rate=30, audio=True, cost_usd=0.4),
        # exact size and rate, plain colour, cache hit
        "002": make_take("002", seconds=3.3, size="1280x720", source="color=c=red", cache_hit=True),
        # square at 25 fps: pillarboxed
        "003": make_take("003", seconds=2.5, size="480x480", rate=25, cost_usd=0.25),
        # shorter than its shot: the last frame is held
        "004": make_take("004", seconds=2.2, size="320x180", cache_hit=True),
    }


@pytest.fixture(scope="module")
def delivered(tmp_path_factory: pytest.TempPathFactory, takes: dict[str, Take]) -> tuple[Cut, Path, list]:
    out = tmp_path_factory.mktemp("out")
    events: list[tuple[str, float]] = []
    conflicts = [
        Conflict(
            shot_id="002",
            subject="MEI",
            attribute="clothing",
            bible_value="yellow raincoat",
            shot_value="red raincoat",
            message="MEI wears a red raincoat; the bible says yellow",
        )
    ]
    cut = deliver(
        out_dir=out,
        script_text="Title: Rain Delivery\n\nEXT. RAINY ALLEY - NIGHT\n\n李雷\n你又迟到了。\n",
        breakdown=_breakdown(),
        storyboard=_storyboard(),
        takes=takes,
        conflicts=conflicts,
        on_progress=lambda name, fraction: events.append((name, fraction)),
    )
    return cut, out, events


# --- final.mp4 ----------------------------------------------------------------------------


def test_final_mp4_is_h264_aac_24fps_at_storyboard_size_and_length(delivered) -> None:
    cut, out, _ = delivered
    info = ffmpeg.probe(out / "final.mp4")
    assert (info.codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == (1280, 720)
    assert info.fps == pytest.approx(24.0)
    expected = _storyboard().duration_s
    assert info.duration_s == pytest.approx(expected, abs=0.1)
    assert cut.duration_s == pytest.approx(expected, abs=0.1)
    assert info.frames == round(expected * FPS)
    assert not (out / "final.mp4.part").exists()


def test_final_mp4_audio_is_stereo_48k_for_its_whole_length(delivered) -> None:
    import av

    _, out, _ = delivered
    with av.open(str(out / "final.mp4")) as container:
        audio = container.streams.audio[0]
        assert (audio.rate, audio.channels) == (48_000, 2)
        assert float(audio.duration * audio.time_base) == pytest.approx(_storyboard().duration_s, abs=0.1)


def test_cut_lists_shots_in_order_and_every_file(delivered) -> None:
    cut, out, events = delivered
    assert cut.shots == ["001", "002", "003", "004"]
    assert set(cut.files) == {
        "final.mp4",
        "final.srt",
        "timeline.otio",
        "timeline.fcpxml",
        "timeline.edl",
        "contact_sheet.png",
        "storyboard.json",
        "bible.json",
        "script.fountain",
        "report.json",
        "continuity.html",
        "poster.png",
    }
    assert all(Path(p).is_file() and Path(p).parent == out for p in cut.files.values())
    assert not list(out.glob(".*")) and not list(out.glob("*.part"))
    mp4 = [f for name, f in events if name == "final.mp4"]
    assert mp4 and mp4[-1] == 1.0 and mp4 == sorted(mp4)


# --- final.srt ----------------------------------------------------------------------------

_CUE = re.compile(r"(\d+)\n(\S+) --> (\S+)\n(.+?)\n(?:\n|$)", re.S)


def _seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.split(":")
    secs, ms = rest.split(",")
    return int(hours) * 3600 + int(minutes) * 60 + int(secs) + int(ms) / 1000


def test_srt_cues_sit_inside_their_shots_with_speaker_names(delivered) -> None:
    _, out, _ = delivered
    text = (out / "final.srt").read_text(encoding="utf-8")
    cues = _CUE.findall(text)
    assert [c[3] for c in cues] == [
        "MEI: Nobody follows me here.",
        "李雷: 你又迟到了。",
        "MEI: Rain.",
        "李雷: Sit down, then.",
    ]
    assert [int(c[0]) for c in cues] == [1, 2, 3, 4]
    shot_of_cue = ["002", "003", "004", "004"]
    starts = {
        s.id: sum(x.duration_s for x in _storyboard().shots[: s.number - 1]) for s in _storyboard().shots
    }
    durations = {s.id: s.duration_s for s in _storyboard().shots}
    previous_end = 0.0
    for (_, start, end, _), shot_id in zip(cues, shot_of_cue, strict=True):
        begin, finish = _seconds(start), _seconds(end)
        assert starts[shot_id] - 0.5 / FPS <= begin < finish <= starts[shot_id] + durations[shot_id] + 0.001
        assert begin >= previous_end
        previous_end = finish


def test_srt_cues_are_speech_windows_offset_by_the_shot_start() -> None:
    board = _storyboard()
    decisions = edit_decisions(board, {s.id: _fake_take(s.id) for s in board.shots})
    cues = dialogue_cues(decisions, _breakdown())
    last = decisions[3]
    expected = [last.start_s + t for window in speech_windows(last.shot) for t in window]
    assert [t for c in cues[2:] for t in (c.start_s, c.end_s)] == pytest.approx(expected)
    assert [c.speaker for c in cues] == ["MEI", "李雷", "MEI", "李雷"]


def test_srt_timestamp_format() -> None:
    assert srt_timestamp(0) == "00:00:00,000"
    assert srt_timestamp(3661.5) == "01:01:01,500"
    assert srt_timestamp(59.9996) == "00:01:00,000"


# --- timeline.otio ------------------------------------------------------------------------


def test_otio_reads_back_with_clips_matching_the_cut(delivered, takes) -> None:
    _, out, _ = delivered
    timeline = otio.adapters.read_from_file(str(out / "timeline.otio"))
    assert timeline.global_start_time.to_frames() == 0
    assert len(timeline.video_tracks()) == 1
    clips = list(timeline.find_clips())
    assert [c.name for c in clips] == ["001", "002", "003", "004"]
    for clip, shot in zip(clips, _storyboard().shots, strict=True):
        take = takes[shot.id]
        assert clip.source_range.start_time.value == 0
        assert clip.source_range.duration.rate == FPS
        assert clip.source_range.duration.value == pytest.approx(shot.duration_s * FPS, abs=1)
        assert clip.media_reference.target_url == otio.url_utils.url_from_filepath(take.path)
        assert clip.media_reference.available_range.duration.value == round(take.duration_s * FPS)
        meta = clip.metadata["shotline"]
        assert (meta["shot_id"], meta["render_key"], meta["model"]) == (shot.id, take.render_key, take.model)
        assert (meta["framing"], meta["prompt"], meta["cost_usd"]) == (
            shot.framing,
            shot.prompt,
            take.cost_usd,
        )
    duration = timeline.duration()
    assert duration.to_seconds() == pytest.approx(ffmpeg.probe(out / "final.mp4").duration_s, abs=1e-6)
    assert [m.color for m in clips[1].markers] == [otio.schema.MarkerColor.RED]


def test_edit_decisions_round_on_the_running_total() -> None:
    shots = [_shot(f"{i:03d}", i, "sc1", "alley", 2.33) for i in range(1, 17)]
    board = Storyboard(shots=shots)
    decisions = edit_decisions(board, {s.id: _fake_take(s.id) for s in shots})
    assert sum(d.frames for d in decisions) == round(board.duration_s * FPS)
    assert all(abs(d.frames - 2.33 * FPS) <= 1 for d in decisions)
    assert [d.start_frame for d in decisions[1:]] == [d.start_frame + d.frames for d in decisions[:-1]]


def test_build_timeline_agrees_with_edit_decisions() -> None:
    board = _storyboard()
    takes = {s.id: _fake_take(s.id) for s in board.shots}
    timeline = build_timeline(board, takes, name="t")
    frames = [c.source_range.duration.value for c in timeline.find_clips()]
    assert frames == [d.frames for d in edit_decisions(board, takes)]


@pytest.mark.parametrize("suffix", [".otio", ".fcpxml", ".edl"])
def test_every_timeline_export_reads_back_with_the_same_clips_and_timings(
    tmp_path: Path, suffix: str
) -> None:
    """What a studio opens in Resolve, Final Cut or Premiere must be the cut, frame for frame."""
    board = _storyboard()
    takes = {s.id: _fake_take(s.id) for s in board.shots}
    decisions = edit_decisions(board, takes)
    path = write_timeline(build_timeline(board, takes, name="t"), tmp_path / f"cut{suffix}")
    back = otio.adapters.read_from_file(str(path))
    clips = list(back.find_clips())
    assert [c.name for c in clips] == [d.shot.id for d in decisions]
    assert [round(c.source_range.duration.rescaled_to(FPS).value) for c in clips] == [
        d.frames for d in decisions
    ]
    placed = [round(c.range_in_parent().start_time.rescaled_to(FPS).value) for c in clips]
    assert placed == [d.start_frame for d in decisions]


# --- contact sheet and documents ----------------------------------------------------------


def test_contact_sheet_is_a_grid_of_one_frame_per_shot(delivered) -> None:
    _, out, _ = delivered
    with Image.open(out / "contact_sheet.png") as sheet:
        layout = SheetLayout(4, 1280, 720)
        assert (layout.columns, layout.rows) == (4, 1)
        assert sheet.size == layout.size
        assert sheet.width > sheet.height
        # shot 002 is a plain red take: the middle of its thumbnail is red
        x, y = layout.origin(1)
        red, green, blue = sheet.convert("RGB").getpixel((x + layout.thumb[0] // 2, y + layout.thumb[1] // 2))
        assert red > 200 and green < 60 and blue < 60


def test_report_totals_count_renders_and_cache_hits(delivered) -> None:
    _, out, _ = delivered
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["totals"] == {
        "rendered": 2,
        "cache_hits": 2,
        "cost_usd": 0.65,
        "seconds": 3.0,
        "shots": 4,
        "duration_s": pytest.approx(10.5, abs=0.05),
        "qc_failed": [],
    }
    by_id = {s["id"]: s for s in report["shots"]}
    assert [s["id"] for s in report["shots"]] == ["001", "002", "003", "004"]
    assert by_id["002"]["cache_hit"] is True and by_id["001"]["model"] == "kling"
    assert by_id["002"]["conflicts"][0]["attribute"] == "clothing"
    assert by_id["001"]["conflicts"] == []
    assert {"id", "model", "cache_hit", "cost_usd", "seconds", "render_key", "conflicts"} <= set(by_id["003"])


def test_storyboard_bible_and_script_documents(delivered) -> None:
    _, out, _ = delivered
    board = json.loads((out / "storyboard.json").read_text(encoding="utf-8"))
    assert (board["ratio"], board["style"], board["duration_s"]) == ("16:9", "neo-noir", 10.5)
    required = {"id", "scene", "framing", "camera", "duration_s", "characters", "location", "prompt"}
    assert all(required <= set(shot) for shot in board["shots"])
    assert [Shot.model_validate(s) for s in board["shots"]] == _storyboard().shots
    bible = json.loads((out / "bible.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in bible["characters"]] == ["MEI", "李雷"]
    assert [loc["id"] for loc in bible["locations"]] == ["alley", "shop"]
    assert "李雷" in (out / "bible.json").read_text(encoding="utf-8")  # ensure_ascii=False
    assert (out / "script.fountain").read_text(encoding="utf-8").endswith("你又迟到了。\n")


# --- failures and other ratios ------------------------------------------------------------


def test_missing_take_is_a_render_error_before_anything_is_written(tmp_path: Path, takes) -> None:
    partial = {k: v for k, v in takes.items() if k != "003"}
    with pytest.raises(RenderError, match="no take for shot 003"):
        deliver(
            out_dir=tmp_path / "out",
            script_text="",
            breakdown=_breakdown(),
            storyboard=_storyboard(),
            takes=partial,
            conflicts=[],
        )
    assert not (tmp_path / "out").exists()


def test_unreadable_take_is_a_render_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.mp4"
    bogus.write_text("not a video")
    with pytest.raises(RenderError, match=r"bogus\.mp4"):
        ffmpeg.segment(bogus, 48)


def test_ffmpeg_failure_raises_with_its_stderr_tail(tmp_path: Path, takes) -> None:
    segments = [ffmpeg.segment(Path(takes["002"].path), 48)]
    with pytest.raises(RenderError, match=r"ffmpeg failed to cut final\.mp4: .*No such file"):
        ffmpeg.render_cut(segments, tmp_path / "missing-dir" / "final.mp4", size=(1280, 720))


def test_interrupted_render_stops_ffmpeg_and_leaves_no_part_file(tmp_path: Path, takes) -> None:
    segments = [ffmpeg.segment(Path(takes["001"].path), 60)]

    def stop(fraction: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ffmpeg.render_cut(segments, tmp_path / "final.mp4", size=(1280, 720), on_progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_vertical_storyboard_renders_720x1280(tmp_path: Path, make_take: MakeTake) -> None:
    board = Storyboard(
        ratio="9:16",
        shots=[_shot("001", 1, "sc1", "alley", 2.0), _shot("002", 2, "sc2", "shop", 2.0, framing="close-up")],
    )
    takes = {
        "001": make_take("001", seconds=2.0, size="1280x720", audio=True),
        "002": make_take("002", seconds=2.0, size="360x640"),
    }
    cut = deliver(
        out_dir=tmp_path,
        script_text="x",
        breakdown=_breakdown(),
        storyboard=board,
        takes=takes,
        conflicts=[],
    )
    info = ffmpeg.probe(Path(cut.files["final.mp4"]))
    assert (info.width, info.height) == (720, 1280)
    assert info.duration_s == pytest.approx(4.0, abs=0.1)
    with Image.open(cut.files["contact_sheet.png"]) as sheet:
        assert sheet.size == SheetLayout(2, 720, 1280).size
    assert (tmp_path / "final.srt").read_text(encoding="utf-8") == ""


def _fake_take(shot_id: str, seconds: float = 5.0) -> Take:
    return Take(
        shot_id=shot_id,
        render_key=f"key-{shot_id}",
        model="animatic",
        path=f"/takes/{shot_id}.mp4",
        sha256="0" * 64,
        duration_s=seconds,
        width=1280,
        height=720,
    )


def test_takes_already_in_the_cut_format_are_joined_frame_exactly(tmp_path: Path):
    """Why not only the e2e demo: the stream-copy join must keep every frame and the exact length,
    or the OTIO timeline and the film drift apart."""
    paths = []
    for n, frames in enumerate((49, 60, 71)):
        path = tmp_path / f"t{n}.mp4"
        subprocess.run(
            [ffmpeg.ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=320x180:r=24",
             "-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-bf", "0",
             "-pix_fmt", "yuv420p", str(path)],
            check=True,
        )  # fmt: skip
        paths.append(path)
    segments = [ffmpeg.segment(p, f) for p, f in zip(paths, (49, 60, 71), strict=True)]
    assert ffmpeg._copyable(segments, (320, 180))
    out = ffmpeg.render_cut(segments, tmp_path / "cut.mp4", size=(320, 180))
    info = ffmpeg.probe(out)
    assert info.frames == 180 and info.fps == 24 and info.duration_s == pytest.approx(7.5, abs=1e-3)
    assert info.has_audio and info.audio_codec == "aac"
    assert not ffmpeg._copyable([ffmpeg.segment(paths[0], 48)], (320, 180))  # a trim needs a re-encode


# --- transitions in the edit decisions ------------------------------------------------------


def _scenes_board() -> Storyboard:
    """Two scenes of two shots; 002 is 2.0 s so that it limits transitions into and out of it."""
    return Storyboard(
        shots=[
            _shot("001", 1, "sc1", "alley", 3.0),
            _shot("002", 2, "sc1", "alley", 2.0),
            _shot("003", 3, "sc2", "shop", 3.0),
            _shot("004", 4, "sc2", "shop", 3.0),
        ]
    )


def _transitions(edit: Edit, board: Storyboard | None = None) -> list[tuple[str, str, int]]:
    board = board or _scenes_board()
    decisions = edit_decisions(board, {s.id: _fake_take(s.id) for s in board.shots}, edit)
    return [(d.shot.id, d.transition_in, d.overlap_in) for d in decisions]


def test_scene_transition_goes_into_the_scenes_first_shot_and_a_shots_own_wins() -> None:
    dip = Transition(kind="dip", seconds=1.0)
    edit = Edit(scene_transitions={"sc1": dip, "sc2": dip}, transitions={"004": Transition(kind="crossfade")})
    # never into the film's first shot; only into the first shot of sc2; 004's own crossfade (0.5 s)
    assert _transitions(edit) == [
        ("001", "cut", 0),
        ("002", "cut", 0),
        ("003", "dip", 24),
        ("004", "crossfade", 12),
    ]
    own_cut = edit.model_copy(update={"transitions": {"003": Transition(kind="cut")}})
    assert _transitions(own_cut)[2] == ("003", "cut", 0)


def test_scene_transition_follows_the_cut_order_after_a_reorder() -> None:
    edit = Edit(order=["001", "004", "003", "002"], scene_transitions={"sc2": Transition(kind="crossfade")})
    assert _transitions(edit) == [
        ("001", "cut", 0),
        ("004", "crossfade", 12),
        ("003", "cut", 0),
        ("002", "cut", 0),
    ]


def test_transition_lengths_are_whole_frames_clamped_to_half_of_either_neighbour() -> None:
    def into_003(seconds: float) -> int:
        return _transitions(Edit(transitions={"003": Transition(kind="crossfade", seconds=seconds)}))[2][2]

    assert into_003(0.01) == 0  # rounds to no frame: a plain cut
    assert into_003(0.05) == 2  # one frame asked: two, the least a blend can show
    assert into_003(0.75) == 18
    assert into_003(3.0) == 24  # half of 002's 48 frames
    edit = Edit(
        transitions={"002": Transition(seconds=3.0, kind="dip"), "003": Transition(seconds=3.0, kind="dip")}
    )
    decisions = edit_decisions(_scenes_board(), {s.id: _fake_take(s.id) for s in _scenes_board().shots}, edit)
    middle = decisions[1]
    assert middle.overlap_in + decisions[2].overlap_in <= middle.frames  # the two never overlap


def test_transitions_shorten_the_cut_by_exactly_their_frames() -> None:
    board = _scenes_board()
    edit = Edit(
        transitions={"002": Transition(kind="crossfade", seconds=0.5)},
        scene_transitions={"sc2": Transition(kind="dip", seconds=1.0)},
    )
    decisions = edit_decisions(board, {s.id: _fake_take(s.id) for s in board.shots}, edit)
    assert [d.frames for d in decisions] == [72, 48, 72, 72]  # lengths do not change
    assert [d.start_frame for d in decisions] == [0, 60, 84, 156]
    for k in range(1, len(decisions)):
        before, after = decisions[k - 1], decisions[k]
        assert after.start_frame == before.start_frame + before.frames - after.overlap_in
        assert after.start_s == pytest.approx(before.end_s - after.overlap_in / FPS)
    assert cut_duration_s(decisions) == (264 - 12 - 24) / FPS
    timeline = timeline_from_decisions(decisions)
    assert timeline.duration().value == 264 - 12 - 24
    assert [c.range_in_parent().start_time.value for c in timeline.find_clips()] == [0, 66, 96, 156]


def test_a_subtitle_stays_up_while_its_line_is_heard_but_not_into_the_next() -> None:
    from shotline.agents.editor import _heard
    from shotline.tools.soundtrack import LinePlan
    from shotline.tools.subtitles import Cue

    def line(text: str, spoken: float | None, source: str = "tts") -> LinePlan:
        return LinePlan(shot_id="001", index=0, character="ana", text=text, language="en", start_s=0.5,
                        end_s=2.0, window_end_s=1.0, source=source, spoken_s=spoken)  # fmt: skip

    cues = [Cue(0.5, 1.0, "ANA", t) for t in ("slow", "slower", "quick", "silent")]
    plan = [line("slow", 1.1), line("slower", 3.0), line("quick", 0.2), line("silent", None, "caption")]
    assert [c.end_s for c in _heard(cues, plan)] == [1.6, 2.0, 1.0, 1.0]
