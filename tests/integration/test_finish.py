"""The finish, asked for in plain words: transitions, burned subtitles, music, loudness, reframed
versions and voices. Each is an edit: it re-cuts the film from the takes already made, renders no
take and spends nothing, and every claim is measured in the files with ffmpeg.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from shotline.agents.graph import Crew
from shotline.config import Settings
from shotline.memory.models import FPS
from shotline.memory.store import Ledger
from shotline.tools import fonts
from shotline.tools.audio import measure_loudness
from shotline.tools.ffmpeg import ffmpeg_exe, grab_frame, probe
from shotline.tools.video.animatic import Animatic
from shotline.ui.session import Studio
from tests.conftest import DELIVERABLES, FIXTURES
from tests.fakes.server import FakeServer
from tests.fakes.speech import OpenAISpeechFake

SHORT = (FIXTURES / "short.fountain").read_text("utf-8")
ESPEAK = shutil.which("espeak-ng") is not None


class PaidAnimatic(Animatic):
    card = Animatic.card.model_copy(update={"name": "paid", "local": False, "usd_per_second": 0.05})
    cards = (card,)


@pytest.fixture
def studio(tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    crew = Crew(settings=settings, models={"paid": PaidAnimatic()})
    with Studio(settings, crew) as s:
        yield s


@pytest.fixture
def music(tmp_path: Path) -> bytes:
    """A steady two-note bed, loud enough that ducking and levels are measurable."""
    path = tmp_path / "bed.wav"
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=f=110:d=3",
         "-f", "lavfi", "-i", "sine=f=165:d=3", "-filter_complex", "amix=inputs=2,volume=0.5",
         "-ac", "2", "-ar", "48000", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def _made(studio: Studio) -> str:
    pid = studio.create(provider="paid")
    assert studio.send(pid, SHORT).waiting
    studio.send(pid, "yes")
    return pid


def _folder(studio: Studio, pid: str) -> Path:
    return Path(studio.state(pid)["cut"].files["final.mp4"]).parent


def _report(studio: Studio, pid: str) -> dict:
    return json.loads((_folder(studio, pid) / "report.json").read_text("utf-8"))


def _spent(studio: Studio) -> float:
    return Ledger(studio.settings.root / "ledger.sqlite").spent_total()


def _no_render(reply, studio: Studio, pid: str, spent: float) -> None:
    assert not reply.waiting and not reply.error, reply.messages
    assert studio.state(pid)["fresh"] == []
    assert _spent(studio) == pytest.approx(spent)


def test_a_crossfade_into_scene_two_shortens_the_film_exactly_and_is_in_every_timeline(studio: Studio):
    pid = _made(studio)
    before = probe(_folder(studio, pid) / "final.mp4").frames
    spent = _spent(studio)

    reply = studio.send(pid, "crossfade into scene 2")
    _no_render(reply, studio, pid, spent)
    folder = _folder(studio, pid)
    assert all((folder / name).is_file() for name in DELIVERABLES)
    report = _report(studio, pid)
    (fade,) = report["finish"]["transitions"]
    assert fade["kind"] == "crossfade" and fade["frames"] == round(0.5 * FPS)
    board = studio.state(pid)["storyboard"]
    assert fade["into"] == next(s.id for s in board.shots if s.scene == "sc2")

    film = probe(folder / "final.mp4")
    assert film.frames == before - fade["frames"]  # exactly the overlap shorter
    assert report["totals"]["duration_s"] == pytest.approx(film.frames / FPS, abs=1e-3)
    timeline = otio.adapters.read_from_file(str(folder / "timeline.otio"))
    track = timeline.tracks[0]
    assert track.duration().to_frames() == film.frames
    assert [type(item).__name__ for item in track].count("Transition") == 1
    for name in ("timeline.fcpxml", "timeline.edl"):
        back = otio.adapters.read_from_file(str(folder / name))
        clips = [c for t in back.video_tracks() for c in t.find_clips()]
        assert sum(c.source_range.duration.to_frames() for c in clips) == film.frames, name

    status = studio.send(pid, "status")
    assert "Finish: crossfade into scene 2 (0.5 s)" in status.messages[-1], status.messages

    reply = studio.send(pid, "dip to black between scenes")
    _no_render(reply, studio, pid, spent)
    (dip,) = _report(studio, pid)["finish"]["transitions"]
    assert dip["kind"] == "dip" and dip["frames"] == FPS
    assert probe(_folder(studio, pid) / "final.mp4").frames == before - FPS
    # the dip really goes to black at the cut, and the crossfade did not
    at = (dip["at_s"] * FPS + dip["frames"] / 2) / FPS
    assert np.asarray(grab_frame(_folder(studio, pid) / "final.mp4", at).convert("L")).mean() < 12


def test_burned_subtitles_draw_the_lines_into_the_picture_and_the_vertical_version(studio: Studio):
    pid = _made(studio)
    plain = _folder(studio, pid) / "final.mp4"
    cue = _first_cue(_folder(studio, pid) / "final.srt")

    _no_render(studio.send(pid, "burn in the subtitles"), studio, pid, _spent(studio))
    burned = _folder(studio, pid) / "final.mp4"
    assert _report(studio, pid)["finish"]["burned_subtitles"] is True
    band = _band_difference(plain, burned, cue)
    assert band > 8, band  # text appeared at the bottom while the line is said

    _no_render(studio.send(pid, "make a vertical version too"), studio, pid, _spent(studio))
    folder = _folder(studio, pid)
    vertical = probe(folder / "final_9x16.mp4")
    assert (vertical.width, vertical.height) == (720, 1280)
    assert vertical.frames == probe(folder / "final.mp4").frames
    assert _report(studio, pid)["finish"]["reframes"] == {"9:16": "final_9x16.mp4"}
    assert "final_9x16.mp4" in studio.state(pid)["cut"].files


def test_music_louder_music_and_broadcast_loudness_are_measured_in_the_film(studio: Studio, music: bytes):
    pid = _made(studio)
    spent = _spent(studio)

    reply = studio.use_music(pid, music)
    _no_render(reply, studio, pid, spent)
    sound = _report(studio, pid)["sound"]
    assert sound["music"] and sound["music_db"] == -6.0
    online = measure_loudness(_folder(studio, pid) / "final.mp4")
    assert abs(online.integrated_lufs - -14.0) <= 1.0 and online.true_peak_dbtp < -1.0

    _no_render(studio.send(pid, "louder music"), studio, pid, spent)
    assert _report(studio, pid)["sound"]["music_db"] == -3.0

    _no_render(studio.send(pid, "use broadcast loudness"), studio, pid, spent)
    broadcast = measure_loudness(_folder(studio, pid) / "final.mp4")
    assert abs(broadcast.integrated_lufs - -23.0) <= 1.0 and broadcast.true_peak_dbtp < -1.0
    assert _report(studio, pid)["sound"]["target_lufs"] == -23.0

    _no_render(studio.send(pid, "no music"), studio, pid, spent)
    assert _report(studio, pid)["sound"]["music"] is None


@pytest.mark.skipif(not ESPEAK, reason="espeak-ng is not installed")
def test_voices_are_kept_in_the_bible_and_a_recast_speaks_only_that_characters_lines(studio: Studio):
    pid = _made(studio)
    state = studio.state(pid)
    voices = {c.id: c.voices.get("espeak") for c in state["breakdown"].characters}
    assert voices["ana"] and voices["ben"] and voices["ana"] != voices["ben"]
    lines = _report(studio, pid)["sound"]["lines"]
    assert {ln["source"] for ln in lines} == {"tts"}
    bible = json.loads((_folder(studio, pid) / "bible.json").read_text("utf-8"))
    assert {c["id"]: c["voices"]["espeak"] for c in bible["characters"]} == voices
    # each subtitle is up while its line is heard, starting where the voice starts
    cues = _cues(_folder(studio, pid) / "final.srt")
    assert len(cues) == len(lines)
    for (start, end), line in zip(cues, lines, strict=True):
        assert start == pytest.approx(line["start_s"], abs=0.002)
        assert end >= line["start_s"] + line["spoken_s"] - 0.002  # short lines: nothing caps them here
    # the timeline an editor opens carries the voices, each line where the film says it
    for name in ("timeline.otio", "timeline.fcpxml"):
        timeline = otio.adapters.read_from_file(str(_folder(studio, pid) / name))
        said = sorted(
            round(c.range_in_parent().start_time.to_frames())
            for t in timeline.audio_tracks()
            for c in t.find_clips()
        )
        assert said == sorted(round(ln["start_s"] * FPS) for ln in lines), name
        assert all(Path(c.media_reference.target_url.removeprefix("file://")).is_file()
                   for t in timeline.audio_tracks() for c in t.find_clips())  # fmt: skip

    reply = studio.send(pid, "give Ben a deeper voice")
    assert not reply.error and not reply.waiting, reply.messages
    after = {c.id: c.voices.get("espeak") for c in studio.state(pid)["breakdown"].characters}
    assert after["ana"] == voices["ana"] and after["ben"] != voices["ben"]
    again = {ln["character"]: ln for ln in _report(studio, pid)["sound"]["lines"]}
    assert again["ana"]["cached"] is True and again["ben"]["cached"] is False
    assert studio.state(pid)["fresh"] == []  # no take was rendered for a new voice


def _cues(srt: Path) -> list[tuple[float, float]]:
    stamps = [ln for ln in srt.read_text("utf-8").splitlines() if "-->" in ln]
    return [tuple(_seconds(part.strip()) for part in stamp.split("-->")) for stamp in stamps]


def _first_cue(srt: Path) -> tuple[float, float]:
    stamp = srt.read_text("utf-8").split("\n")[1]
    start, end = (_seconds(part.strip()) for part in stamp.split("-->"))
    return start, end


def _seconds(stamp: str) -> float:
    hms, ms = stamp.split(",")
    h, m, s = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + s + int(ms) / 1000


def _band_difference(plain: Path, burned: Path, cue: tuple[float, float]) -> float:
    """Mean absolute luma difference in the bottom fifth of the frame, mid-cue."""
    at = (cue[0] + cue[1]) / 2
    a = np.asarray(grab_frame(plain, at).convert("L"), dtype=np.float32)
    b = np.asarray(grab_frame(burned, at).convert("L"), dtype=np.float32)
    h = a.shape[0]
    top = float(np.abs(a[: h // 3] - b[: h // 3]).mean())
    assert top < 2.0, top  # nothing drawn over the picture itself
    return float(np.abs(a[-h // 5 :] - b[-h // 5 :]).max(axis=1).mean())


def test_with_no_voice_the_dialogue_is_captions_only_and_the_chat_says_so(tmp_path: Path):
    settings = Settings(home=tmp_path / "home", speech_provider="none")
    with Studio(settings, Crew(settings=settings)) as studio:
        pid = studio.create(provider="animatic")
        reply = studio.send(pid, SHORT)
        assert any("Captions only" in m for m in reply.messages), reply.messages
        sound = _report(studio, pid)["sound"]
        assert sound["lines"] and {ln["source"] for ln in sound["lines"]} == {"caption"}
        assert "captions only" in sound["note"]
        assert measure_loudness(_folder(studio, pid) / "final.mp4").silent  # no voice, no music, no sound
        assert "You're late." in (_folder(studio, pid) / "final.srt").read_text("utf-8")
        later = studio.send(pid, "shot 1 shorter")
        assert not any("Captions only" in m for m in later.messages)  # said once, not on every edit


@pytest.mark.skipif(fonts.cjk_font_path() is None, reason="no CJK font installed (fonts-wqy-microhei)")
def test_chinese_subtitles_burn_in_when_asked_in_chinese(studio: Studio):
    pid = studio.create(provider="paid")
    assert studio.send(pid, (FIXTURES / "zh.fountain").read_text("utf-8")).waiting
    studio.send(pid, "yes")
    plain = _folder(studio, pid) / "final.mp4"
    cue = _first_cue(_folder(studio, pid) / "final.srt")
    assert "你也来了" in (_folder(studio, pid) / "final.srt").read_text("utf-8")

    _no_render(studio.send(pid, "烧录字幕"), studio, pid, _spent(studio))
    assert _report(studio, pid)["finish"]["burned_subtitles"] is True
    assert _band_difference(plain, _folder(studio, pid) / "final.mp4", cue) > 8


SPEECH_KEY = "sk-test-voices-0123456789"


def test_paid_voices_wait_for_approval_and_a_recast_pays_for_that_characters_lines_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    fake = OpenAISpeechFake(api_key=SPEECH_KEY, seconds=0.5, freq=440.0)
    with FakeServer(fake) as server:
        monkeypatch.setenv("OPENAI_API_KEY", SPEECH_KEY)
        monkeypatch.setenv("SHOTLINE_OPENAI_BASE_URL", f"{server.url}/v1")
        settings = Settings(home=tmp_path / "home", speech_provider="openai")
        said = lambda: [r.json()["input"] for r in server.calls("POST", "/v1/audio/speech")]  # noqa: E731
        with Studio(settings, Crew(settings=settings)) as studio:  # the animatic: only the voices cost
            pid = studio.create(provider="animatic")
            first = studio.send(pid, SHORT)
            assert first.waiting and first.approval["speech_usd"] > 0, first.messages
            assert first.approval["estimate_usd"] == pytest.approx(first.approval["speech_usd"])
            assert "voices" in first.messages[-1] and said() == []  # nothing is said before the yes

            studio.send(pid, "yes")
            assert sorted(said()) == ["The bus broke down.", "You're late."]
            assert _spent(studio) == pytest.approx(first.approval["speech_usd"], abs=1e-4)  # to the cent/100
            assert {ln["source"] for ln in _report(studio, pid)["sound"]["lines"]} == {"tts"}

            recast = studio.send(pid, "give Ben the voice onyx")
            assert recast.waiting, recast.messages
            assert recast.approval["speech_usd"] < first.approval["speech_usd"]  # his line only
            studio.send(pid, "yes")
            assert said()[2:] == ["The bus broke down."]
            assert studio.state(pid)["breakdown"].character("ben").voices["openai"] == "onyx"

            trimmed = studio.send(pid, "shot 1 shorter")
            assert not trimmed.waiting and len(said()) == 3  # a trim says nothing again
            home = settings.root
            leaked = [p for p in home.rglob("*") if p.is_file() and SPEECH_KEY.encode() in p.read_bytes()]
            assert leaked == []
