"""Which shots speak for themselves: a take with its own sound, from a model that makes sound, of a
shot with dialogue. Those lines are kept as the model said them and not spoken again over it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from shotline.agents.graph import Crew, _native_voiced
from shotline.config import Settings
from shotline.memory.models import DialogueLine, Shot, Storyboard, Take
from shotline.tools.ffmpeg import ffmpeg_exe
from shotline.tools.video import catalog


def _clip(path: Path, sound: bool) -> Path:
    args = [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=64x36:r=24:d=2"]
    if sound:
        args += ["-f", "lavfi", "-i", "sine=f=440:d=2", "-c:a", "aac"]
    subprocess.run([*args, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-shortest", str(path)], check=True)
    return path


def _shot(sid: str, talks: bool) -> Shot:
    lines = [DialogueLine(character="ana", text="You're late.", line=3)] if talks else []
    return Shot(id=sid, number=int(sid), scene="sc1", framing="medium", camera="static", duration_s=2.0,
                location="kitchen", dialogue=lines)  # fmt: skip


def _take(sid: str, model: str, path: Path) -> Take:
    return Take(shot_id=sid, render_key=sid, model=model, path=str(path), sha256="0" * 64, duration_s=2.0,
                width=64, height=36)  # fmt: skip


def test_only_sounding_takes_from_sounding_models_of_talking_shots_speak_for_themselves(tmp_path: Path):
    settings = Settings(home=tmp_path / "home")
    veo = next(info for info in catalog(settings) if info.name == "veo").cards[0]
    assert veo.native_audio
    loud, mute = _clip(tmp_path / "loud.mp4", True), _clip(tmp_path / "mute.mp4", False)
    board = Storyboard(
        shots=[_shot("001", True), _shot("002", True), _shot("003", False), _shot("004", True)]
    )
    takes = {
        "001": _take("001", f"veo/{veo.model_id}", loud),  # the model said the line
        "002": _take("002", "animatic", loud),  # sound, but not from a model that speaks
        "003": _take("003", "veo", loud),  # nothing to say
        "004": _take("004", "veo", mute),  # a sounding model's take without sound
    }
    state = {"storyboard": board, "takes": takes}
    assert _native_voiced(state, Crew(settings=settings)) == {"001"}
    takes["004"] = _take("004", "veo", loud)  # the provider's default model, named by provider only
    assert _native_voiced(state, Crew(settings=settings)) == {"001", "004"}
