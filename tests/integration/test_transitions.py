"""Transitions, reframes and the cut's own sound, measured on real ffmpeg output with PyAV.

What a user would notice: a film shorter or longer than its timeline, a dissolve in the wrong
place in Resolve or Premiere, lips out of sync after a cut, a vertical version that loses the
subject or shows black bars, a mux that drops the last frames.
"""

from __future__ import annotations

import hashlib
import subprocess
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import opentimelineio as otio
import pytest

from shotline.errors import RenderError
from shotline.memory.models import FPS, Edit, Shot, Storyboard, Take, Transition
from shotline.tools import ffmpeg
from shotline.tools.timeline import (
    cut_duration_s,
    cut_frames,
    edit_decisions,
    timeline_from_decisions,
    write_timeline,
)

SIZE = (160, 90)
RATE = ffmpeg.SAMPLE_RATE
DARK, BRIGHT = 32, 235
BEEP_S = 0.03


# --- takes --------------------------------------------------------------------------------


def _encode(
    path: Path,
    frames: int,
    *,
    size: tuple[int, int] = SIZE,
    flash: bool = True,
    beep: bool = True,
    level: int = DARK,
    marker_x: float | None = None,
) -> Path:
    """A take whose frame 0 is white (the rest flat grey `level`) and whose sound is a 1 kHz beep
    at 0 s, silence after: the flash and the beep mark where the take starts in a cut."""
    width, height = size
    seconds = frames / FPS
    video = f"color=c=0x{level:02x}{level:02x}{level:02x}:s={width}x{height}:r={FPS}:d={seconds}"
    if flash:
        video += ",drawbox=x=0:y=0:w=iw:h=ih:color=white:t=fill:enable='eq(n,0)'"
    if marker_x is not None:
        box = width // 16
        video += f",drawbox=x={round(marker_x * width) - box // 2}:y={height // 2 - box}:w={box}:h={2 * box}"
        video += ":color=white:t=fill"
    args = [ffmpeg.ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", video]
    if beep:
        tone = f"if(lt(t,{BEEP_S}),0.8*sin(2*PI*1000*t),0)"
        args += ["-f", "lavfi", "-i", f"aevalsrc='{tone}':s={RATE}:d={seconds}", "-c:a", "aac", "-ac", "2"]
    args += ["-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    subprocess.run([*args, str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("transitions")


def _take(shot_id: str, path: Path, frames: int) -> Take:
    return Take(
        shot_id=shot_id,
        render_key=f"key-{shot_id}",
        model="animatic",
        path=str(path),
        sha256="0" * 64,
        duration_s=frames / FPS,
        width=SIZE[0],
        height=SIZE[1],
    )


def _shot(shot_id: str, scene: str, seconds: float) -> Shot:
    return Shot(
        id=shot_id,
        number=int(shot_id),
        scene=scene,
        framing="medium",
        camera="static",
        duration_s=seconds,
        location="alley",
    )


# --- measuring ----------------------------------------------------------------------------


def _lumas(path: Path) -> np.ndarray:
    """Mean luma of every decoded frame."""
    with av.open(str(path)) as container:
        return np.array([f.to_ndarray(format="gray").mean() for f in container.decode(video=0)])


def _sound(path: Path) -> np.ndarray:
    """The decoded audio, left channel, as float samples (full scale 1.0) from 0 s."""
    to_float = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
    with av.open(str(path)) as container:
        frames = [g for f in container.decode(audio=0) for g in to_float.resample(f)]
    frames += to_float.resample(None)
    return np.concatenate([f.to_ndarray()[0] for f in frames]).astype(np.float64)


def _samples(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(f.samples for f in container.decode(audio=0))


def _onsets(sound: np.ndarray, window: int = 48, quiet: int = 20) -> list[float]:
    """Seconds where a beep starts: RMS over 1 ms windows rising after `quiet` ms of silence (so the
    codec's pre-echo just before a beep does not count twice)."""
    frames = len(sound) // window
    rms = np.sqrt((sound[: frames * window].reshape(frames, window) ** 2).mean(axis=1))
    loud = rms > 1e-3
    return [k * window / RATE for k in range(frames) if loud[k] and not loud[max(0, k - quiet) : k].any()]


def _flashes(lumas: np.ndarray) -> list[float]:
    """Seconds of the frames that are (nearly) white."""
    return [k / FPS for k in np.flatnonzero(lumas > 128)]


# --- exact length, and the timeline exports agree with the mp4 ------------------------------


@pytest.fixture(scope="module")
def four(folder: Path) -> tuple[Storyboard, dict[str, Take], Edit]:
    """2.0/2.5/3.0/2.0 s shots; a 0.5 s crossfade into 002, a 1 s dip into scene 2 (shot 003)."""
    seconds = {"001": 2.0, "002": 2.5, "003": 3.0, "004": 2.0}
    scenes = {"001": "sc1", "002": "sc1", "003": "sc2", "004": "sc2"}
    board = Storyboard(shots=[_shot(sid, scenes[sid], s) for sid, s in seconds.items()])
    takes = {
        sid: _take(sid, _encode(folder / f"four-{sid}.mp4", round(s * FPS), flash=False), round(s * FPS))
        for sid, s in seconds.items()
    }
    edit = Edit(
        transitions={"002": Transition(kind="crossfade", seconds=0.5)},
        scene_transitions={"sc2": Transition(kind="dip", seconds=1.0)},
    )
    return board, takes, edit


def _segments(decisions) -> list[ffmpeg.Segment]:
    return [
        ffmpeg.segment(Path(d.take.path), d.frames, overlap_in=d.overlap_in, transition_in=d.transition_in)
        for d in decisions
    ]


def test_transitions_shorten_the_film_by_exactly_their_frames(folder: Path, four) -> None:
    board, takes, edit = four
    decisions = edit_decisions(board, takes, edit)
    assert [(d.transition_in, d.overlap_in) for d in decisions] == [
        ("cut", 0),
        ("crossfade", 12),
        ("dip", 24),
        ("cut", 0),
    ]
    expected = 48 + 60 + 72 + 48 - 12 - 24
    assert [d.start_frame for d in decisions] == [0, 36, 72, 144]
    assert cut_frames(decisions) == expected and cut_duration_s(decisions) == expected / FPS

    wav = folder / "four.wav"
    out = ffmpeg.render_cut(_segments(decisions), folder / "four.mp4", size=SIZE, audio_out=wav)
    assert len(_lumas(out)) == expected
    assert ffmpeg.probe(out).frames == expected
    samples = expected * RATE // FPS
    assert abs(_samples(out) - samples) <= 1024  # one AAC frame
    assert _samples(wav) == samples  # the WAV for the mix is exact
    assert timeline_from_decisions(decisions).duration() == otio.opentime.RationalTime(expected, FPS)


def test_transition_regions_sit_where_the_timeline_says(folder: Path) -> None:
    """A light take dissolving into a dark one, then dipping to black into a light one: the picture
    changes only inside [start_frame, start_frame + overlap) of each incoming shot."""
    light = _encode(folder / "light.mp4", 48, flash=False, beep=False, level=200)
    dark = _encode(folder / "dark.mp4", 48, flash=False, beep=False, level=60)
    segments = [
        ffmpeg.segment(light, 48),
        ffmpeg.segment(dark, 48, overlap_in=12, transition_in="crossfade"),
        ffmpeg.segment(light, 48, overlap_in=12, transition_in="dip"),
    ]
    lumas = _lumas(ffmpeg.render_cut(segments, folder / "regions.mp4", size=SIZE))
    assert len(lumas) == 48 * 3 - 24
    fade, dip = range(36, 48), range(72, 84)
    assert all(abs(lumas[k] - 200) < 6 for k in range(0, 37))  # xfade's first frame is all outgoing
    assert all(abs(lumas[k] - 60) < 6 for k in range(48, 73))
    assert all(abs(lumas[k] - 200) < 6 for k in range(84, 120))
    assert all(60 < lumas[k] < 200 for k in fade[1:])
    assert list(lumas[fade]) == sorted(lumas[fade], reverse=True)
    assert min(lumas[k] for k in dip) < 30  # through black, darker than either shot


@pytest.mark.parametrize("suffix", [".otio", ".fcpxml", ".edl"])
def test_timeline_exports_place_clips_and_transitions_like_the_mp4(tmp_path: Path, four, suffix: str) -> None:
    board, takes, edit = four
    decisions = edit_decisions(board, takes, edit)
    timeline = timeline_from_decisions(decisions, name="t")
    back = otio.adapters.read_from_file(str(write_timeline(timeline, tmp_path / f"cut{suffix}")))
    track = back.video_tracks()[0]
    clips = list(track.find_clips())
    assert [c.name for c in clips] == ["001", "002", "003", "004"]
    placed = [
        (round(c.range_in_parent().start_time.rescaled_to(FPS).value), round(c.source_range.start_time.value))
        for c in clips
    ]
    lengths = [round(c.source_range.duration.rescaled_to(FPS).value) for c in clips]
    transitions = [(t.transition_type, t.in_offset.value, t.out_offset.value) for t in track.find_children(
        descended_from_type=otio.schema.Transition
    )]  # fmt: skip
    assert round(back.duration().rescaled_to(FPS).value) == 192  # the mp4's frame count
    if suffix == ".edl":
        # CMX 3600 events start where the dissolve starts (the incoming take's frame 0) and the
        # dissolve lies at the head of the incoming event; the EDL has no dip, so it reads back as
        # a dissolve of the same length and place
        assert placed == [(0, 0), (36, 0), (72, 0), (144, 0)]
        assert lengths == [36, 36, 72, 48]
        assert transitions == [("SMPTE_Dissolve", 0, 12), ("SMPTE_Dissolve", 0, 24)]
        return
    # each clip shows the part of its take seen outside transitions; a transition is centred on
    # the cut and reaches into both takes' handles: the mp4 blends take frames [f-d, f) with [0, d)
    assert placed == [(0, 0), (42, 6), (84, 12), (144, 0)]
    assert lengths == [42, 42, 60, 48]
    if suffix == ".otio":
        assert transitions == [("SMPTE_Dissolve", 6, 6), ("Shotline_DipToBlack", 12, 12)]
        kinds = [
            t.metadata["shotline"]["kind"]
            for t in track.find_children(descended_from_type=otio.schema.Transition)
        ]
        assert kinds == ["crossfade", "dip"]
        return
    # the FCPXML adapter reads no transitions back: they are checked in the XML Final Cut reads
    assert transitions == []
    spine = ET.parse(tmp_path / "cut.fcpxml").getroot().find("./project/sequence/spine")
    effects = {e.get("id"): e.get("uid") for e in ET.parse(tmp_path / "cut.fcpxml").getroot().iter("effect")}
    written = [(child.tag, child.get("name"), child.get("offset"), child.get("duration")) for child in spine]
    assert written == [
        ("clip", "001", "0s", "7/4s"),
        ("transition", "Cross Dissolve", "3/2s", "1/2s"),  # frames 36..48
        ("clip", "002", "7/4s", "7/4s"),
        ("transition", "Fade To Color", "3s", "1s"),  # frames 72..96
        ("clip", "003", "7/2s", "5/2s"),
        ("clip", "004", "6s", "2/1s"),
    ]
    refs = [t.find("filter-video").get("ref") for t in spine.iter("transition")]
    assert [effects[r] for r in refs] == [
        "FxPlug:4731E73A-8DAC-4113-9A30-AE85B1761265",
        "FxPlug:F779C565-486D-4633-8035-0374B4DB8F5C",
    ]


def test_writing_an_edl_leaves_the_timeline_untouched(tmp_path: Path, four) -> None:
    """The CMX 3600 writer edits the track it is given; the .otio written after must not change."""
    board, takes, edit = four
    timeline = timeline_from_decisions(edit_decisions(board, takes, edit), name="t")
    before = timeline.to_json_string()
    write_timeline(timeline, tmp_path / "cut.edl")
    assert timeline.to_json_string() == before


# --- sync ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def marked(folder: Path) -> list[Path]:
    """Takes of 40, 50 and 45 frames, each with a white first frame and a beep at 0 s."""
    return [_encode(folder / f"marked-{n}.mp4", n) for n in (40, 50, 45)]


def test_picture_and_sound_stay_in_sync_at_every_cut(folder: Path, marked: list[Path]) -> None:
    segments = [ffmpeg.segment(p, f) for p, f in zip(marked, (40, 50, 45), strict=True)]
    out = ffmpeg.render_cut(segments, folder / "sync-cuts.mp4", size=SIZE)
    flashes, onsets = _flashes(_lumas(out)), _onsets(_sound(out))
    assert flashes == [0.0, 40 / FPS, 90 / FPS]
    assert len(onsets) == 3
    for flash, onset in zip(flashes, onsets, strict=True):
        assert abs(onset - flash) <= 1 / FPS


def test_crossfades_keep_each_shot_in_sync_from_its_start_frame(folder: Path, marked: list[Path]) -> None:
    segments = [
        ffmpeg.segment(marked[0], 40),
        ffmpeg.segment(marked[1], 50, overlap_in=12, transition_in="crossfade"),
        ffmpeg.segment(marked[2], 45, overlap_in=10, transition_in="dip"),
    ]
    starts = [0, 40 - 12, 40 - 12 + 50 - 10]  # where each take's frame 0 (and its beep) plays
    wav = folder / "sync-fades.wav"
    out = ffmpeg.render_cut(segments, folder / "sync-fades.mp4", size=SIZE, audio_out=wav)
    assert len(_lumas(out)) == 40 + 50 + 45 - 22
    for sound in (_sound(out), _sound(wav)):
        onsets = _onsets(sound)
        assert len(onsets) == 3
        for start, onset in zip(starts, onsets, strict=True):
            assert abs(onset - start / FPS) <= 1 / FPS


def test_the_wav_has_the_cuts_sound_and_exact_length_on_the_copy_path_too(tmp_path: Path) -> None:
    paths = [_encode(tmp_path / f"silent-{n}.mp4", n, beep=False) for n in (30, 42)]
    segments = [ffmpeg.segment(p, n) for p, n in zip(paths, (30, 42), strict=True)]
    assert ffmpeg._copyable(segments, SIZE)
    out = ffmpeg.render_cut(segments, tmp_path / "copy.mp4", size=SIZE, audio_out=tmp_path / "copy.wav")
    assert ffmpeg.probe(out).frames == 72
    with av.open(str(tmp_path / "copy.wav")) as container:
        stream = container.streams.audio[0]
        assert (stream.rate, stream.channels) == (RATE, 2)
    assert _samples(tmp_path / "copy.wav") == 72 * RATE // FPS
    assert not np.any(_sound(tmp_path / "copy.wav"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "copy.mp4",
        "copy.wav",
        "silent-30.mp4",
        "silent-42.mp4",
    ]


def test_subtitles_filter_draws_on_the_joined_picture(folder: Path, marked: list[Path]) -> None:
    """The burn-in fragment comes last, so it covers the transitions too."""
    segments = [
        ffmpeg.segment(marked[0], 40),
        ffmpeg.segment(marked[1], 50, overlap_in=12, transition_in="dip"),
    ]
    out = ffmpeg.render_cut(
        segments, folder / "burnt.mp4", size=SIZE, subtitles="drawbox=x=0:y=0:w=40:h=20:color=white:t=fill"
    )
    with av.open(str(out)) as container:
        corners = [f.to_ndarray(format="gray")[:20, :40].mean() for f in container.decode(video=0)]
    assert len(corners) == 78 and min(corners) > 200


def test_a_transition_into_the_first_segment_or_longer_than_its_neighbour_is_refused(
    marked: list[Path], tmp_path: Path
) -> None:
    with pytest.raises(RenderError, match="first segment"):
        ffmpeg.render_cut(
            [ffmpeg.segment(marked[0], 40, overlap_in=4, transition_in="crossfade")],
            tmp_path / "x.mp4",
            size=SIZE,
        )
    with pytest.raises(RenderError, match="shorten the transition"):
        ffmpeg.render_cut(
            [
                ffmpeg.segment(marked[0], 10),
                ffmpeg.segment(marked[1], 50, overlap_in=20, transition_in="dip"),
            ],
            tmp_path / "x.mp4",
            size=SIZE,
        )
    with pytest.raises(RenderError, match="unknown transition"):
        ffmpeg.segment(marked[0], 40, overlap_in=4, transition_in="wipe")
    assert list(tmp_path.iterdir()) == []


def test_a_long_cut_encoded_in_pieces_stays_exact_and_in_sync(
    folder: Path, marked: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_INPUTS takes the cut is encoded in pieces: no frame, sample or sync may be lost."""
    monkeypatch.setattr(ffmpeg, "MAX_INPUTS", 2)
    frames = [40, 50, 45, 40, 50]
    takes = [marked[0], marked[1], marked[2], marked[0], marked[1]]
    segments = [
        ffmpeg.segment(
            path, n, overlap_in=12 if k == 2 else 0, transition_in="crossfade" if k == 2 else "cut"
        )
        for k, (path, n) in enumerate(zip(takes, frames, strict=True))
    ]
    assert [list(p) for p in ffmpeg._pieces(segments, 2)] == [[0, 1, 2], [3, 4]]  # a fade is never split
    starts = [0, 40, 78, 123, 163]
    wav, events = folder / "pieces.wav", []
    out = ffmpeg.render_cut(
        segments, folder / "pieces.mp4", size=SIZE, audio_out=wav, on_progress=events.append,
        subtitles="drawbox=x=0:y=0:w=40:h=20:color=white:t=fill",
    )  # fmt: skip
    with av.open(str(out)) as container:
        pictures = [f.to_ndarray(format="gray") for f in container.decode(video=0)]
    assert len(pictures) == sum(frames) - 12
    assert min(p[:20, :40].mean() for p in pictures) > 200  # subtitles on every piece
    flashes = [k / FPS for k, p in enumerate(pictures) if p[40:, 60:].mean() > 128]
    assert flashes == [s / FPS for k, s in enumerate(starts) if k != 2]  # a faded-in flash is not seen
    assert _samples(wav) == (sum(frames) - 12) * RATE // FPS
    for sound in (_sound(out), _sound(wav)):
        onsets = _onsets(sound)
        assert len(onsets) == 5
        assert all(abs(onset - start / FPS) <= 1 / FPS for onset, start in zip(onsets, starts, strict=True))
    assert events == sorted(events) and events[-1] == 1.0
    assert sorted(p.name for p in folder.glob("pieces*")) == ["pieces.mp4", "pieces.wav"]


# --- reframe ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide(folder: Path) -> Path:
    """A 16:9 take, mid-grey, with a white marker centred at x = 0.8."""
    return _encode(folder / "wide.mp4", 12, size=(320, 180), flash=False, beep=False, level=128, marker_x=0.8)


def _last_frame(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
    assert (frames[-1].width, frames[-1].height) == (720, 1280)
    return frames[-1].to_ndarray(format="gray").astype(float)


def test_vertical_reframe_follows_the_subject(folder: Path, wide: Path) -> None:
    segments = [ffmpeg.segment(wide, 12, crop_x=0.8)]
    out = ffmpeg.render_cut(segments, folder / "vertical.mp4", size=(720, 1280), base_size=(1280, 720))
    assert ffmpeg.probe(out).frames == 12
    picture = _last_frame(out)
    columns = np.flatnonzero(picture.max(axis=0) > 200)
    assert columns.size and abs((columns.min() + columns.max()) / 2 - 360) < 0.05 * 720
    assert picture[:, :4].mean() > 100 and picture[:, -4:].mean() > 100  # no black bars


def test_vertical_reframe_clamps_to_the_frame_edge(folder: Path, wide: Path) -> None:
    segments = [ffmpeg.segment(wide, 12, crop_x=0.05)]
    out = ffmpeg.render_cut(segments, folder / "clamped.mp4", size=(720, 1280), base_size=(1280, 720))
    picture = _last_frame(out)
    assert picture[:, :4].mean() > 100 and picture[:, -4:].mean() > 100  # no black bars
    assert picture.max() < 200  # the window sits at the left edge: the marker at 0.8 is out of it


# --- mux ----------------------------------------------------------------------------------


def _packets(path: Path) -> list[str]:
    with av.open(str(path)) as container:
        return [hashlib.sha1(bytes(p)).hexdigest() for p in container.demux(video=0) if p.size]


@pytest.mark.parametrize("wav_seconds", [1.0, 9.0])
def test_mux_keeps_every_video_frame_and_replaces_the_sound(
    tmp_path: Path, marked: list[Path], wav_seconds: float
) -> None:
    video = ffmpeg.render_cut([ffmpeg.segment(marked[1], 50)], tmp_path / "cut.mp4", size=SIZE)
    wav = tmp_path / "mix.wav"
    subprocess.run(
        [ffmpeg.ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"sine=frequency=2000:sample_rate=44100:duration={wav_seconds}", "-ac", "1", str(wav)],
        check=True,
    )  # fmt: skip
    out = ffmpeg.mux(video, wav, tmp_path / "final.mp4")
    assert _packets(out) == _packets(video)
    assert ffmpeg.probe(out).frames == 50
    with av.open(str(out)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.name, stream.rate, stream.channels) == ("aac", RATE, 2)
    video_samples = int(Fraction(50, FPS) * RATE)
    assert abs(_samples(out) - video_samples) <= 1024
    sound = _sound(out)
    tone = sound[: int(min(wav_seconds, 50 / FPS) * RATE) - 2048]
    assert np.sqrt((tone[2048:] ** 2).mean()) > 0.05  # the new sound, not the old beep-then-silence
    if wav_seconds < 50 / FPS:
        assert not np.any(np.abs(sound[int(wav_seconds * RATE) + 2048 :]) > 1e-3)  # padded with silence
    assert not (tmp_path / "final.mp4.part").exists()


# --- the editor's whole path: picture, the takes' sound mixed and normalised, muxed ----------------


def test_the_delivered_film_keeps_picture_and_sound_in_sync_and_on_target(tmp_path: Path) -> None:
    """Through `editor.deliver`: the takes' own sound goes through the mix, loudness normalisation
    and the mux, and still lands within a frame of its picture at every cut and after a crossfade;
    the film is exactly as long as the timeline says, at the loudness asked for."""
    from shotline.agents import editor
    from shotline.memory.models import Breakdown, Location, Scene, Sound
    from shotline.tools.audio import measure_loudness

    frames = (48, 60, 54)
    marked = [_encode(tmp_path / f"take-{n}.mp4", n) for n in frames]
    board = Storyboard(
        ratio="16:9",
        shots=[_shot(f"00{k + 1}", "sc1" if k < 2 else "sc2", n / FPS) for k, n in enumerate(frames)],
    )
    scenes = [
        Scene(id=sid, number=k + 1, heading=f"INT. ALLEY {k}", location="alley", interior="INT",
              time_of_day="DAY", night=False, line=1 + k)
        for k, sid in enumerate(("sc1", "sc2"))
    ]  # fmt: skip
    breakdown = Breakdown(
        title="Sync", scenes=scenes, characters=[],
        locations=[Location(id="alley", name="ALLEY", interior="INT", description="an alley", color="#334455")],
    )  # fmt: skip
    takes = {s.id: _take(s.id, path, n) for s, path, n in zip(board.shots, marked, frames, strict=True)}
    edit = Edit(
        scene_transitions={"sc2": Transition(kind="crossfade", seconds=0.5)},
        sound=Sound(target_lufs=-23.0),
    )
    cut = editor.deliver(
        out_dir=tmp_path / "out", script_text="", breakdown=breakdown, storyboard=board, takes=takes,
        conflicts=[], edit=edit,
    )  # fmt: skip
    film = Path(cut.files["final.mp4"])
    overlap = round(0.5 * FPS)
    assert len(_lumas(film)) == sum(frames) - overlap
    assert cut.duration_s == pytest.approx((sum(frames) - overlap) / FPS, abs=1e-3)
    starts = [0, 48, 108 - overlap]  # the third take's frame 0 plays inside the crossfade
    onsets = _onsets(_sound(film))
    assert len(onsets) == 3, onsets
    for start, onset in zip(starts, onsets, strict=True):
        assert abs(onset - start / FPS) <= 1 / FPS
    assert _flashes(_lumas(film))[:2] == [0.0, 48 / FPS]  # the third flash is blended by the fade
    loudness = measure_loudness(film)
    assert abs(loudness.integrated_lufs - -23.0) <= 1.0 and loudness.true_peak_dbtp < -1.0
