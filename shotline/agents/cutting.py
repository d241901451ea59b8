"""The editor's decisions applied to the `Edit`: a pure function, so that what a message does to the
cut can be tested without a graph, a take or ffmpeg, and undo stays a matter of checkpoints.

Order, lengths and drops change which frames play; transitions, sound, burned subtitles and reframes
change how the cut is finished. None of them renders a take.

A transition "cut" is stored as the absence of a transition, except where an explicit cut is needed
to override a broader one: a shot that opens a scene whose scene transition is not a cut (per-shot
transitions win over scene ones, see `tools.timeline.transition_into`). The latest request wins:
setting a scene's transition clears the per-shot one on the scene's first shot in the cut.
"""

from __future__ import annotations

from collections.abc import Sequence

from shotline.agents.decisions import Drop, Move, Reframe, SetSound, SetSubtitles, SetTransition, Swap, Trim
from shotline.memory.models import FPS, Edit, Shot, Sound, Storyboard, Transition
from shotline.tools.timeline import EVERY_SCENE, cut_shots

__all__ = ["apply_edit", "describe_finish"]

_MUSIC_DB = Sound.model_fields["music_db"].metadata
_MUSIC_MIN = next(m.ge for m in _MUSIC_DB if hasattr(m, "ge"))
_MUSIC_MAX = next(m.le for m in _MUSIC_DB if hasattr(m, "le"))


def apply_edit(edit: Edit, actions: Sequence, storyboard: Storyboard) -> Edit:
    """`edit` with the editor's actions applied in order; anything else in `actions` is ignored.
    The order is always written out in full, dropped shots last (as they were dropped)."""
    by_id = {s.id: s for s in storyboard.shots}
    order = [s.id for s in cut_shots(storyboard, edit)]
    lengths, dropped = dict(edit.lengths), list(edit.dropped)
    transitions, scene_transitions = dict(edit.transitions), dict(edit.scene_transitions)
    sound, burn, reframes = edit.sound, edit.burn_subtitles, list(edit.reframes)
    for action in actions:
        if isinstance(action, Trim) and action.shot in by_id:
            shot = by_id[action.shot]
            seconds = action.seconds
            if seconds is None:  # unsettled: relative to what plays now, within the take
                now = lengths.get(shot.id, shot.duration_s) + (action.by_s or 0.0)
                seconds = min(shot.duration_s, max(1, round(now * FPS)) / FPS)
            if abs(seconds - shot.duration_s) < 1e-6:
                lengths.pop(shot.id, None)
            else:
                lengths[shot.id] = seconds
        elif isinstance(action, Swap) and {action.shot, action.other} <= set(order):
            i, j = order.index(action.shot), order.index(action.other)
            order[i], order[j] = order[j], order[i]
        elif (
            isinstance(action, Move)
            and {action.shot, action.anchor} <= set(order)
            and action.shot != action.anchor
        ):
            order.remove(action.shot)
            at = order.index(action.anchor) + (1 if action.where == "after" else 0)
            order.insert(at, action.shot)
        elif isinstance(action, Drop) and action.shot in order:
            order.remove(action.shot)
            dropped.append(action.shot)
        elif isinstance(action, SetTransition):
            shots = [by_id[sid] for sid in order]
            _transition(action, shots, transitions, scene_transitions)
        elif isinstance(action, SetSound):
            sound = _sound(sound, action)
        elif isinstance(action, SetSubtitles):
            burn = action.burn
        elif isinstance(action, Reframe):
            if action.remove:
                reframes = [r for r in reframes if r not in action.ratios]
            else:
                reframes += [r for r in action.ratios if r not in reframes]
    return edit.model_copy(
        update={
            "order": order + dropped,
            "lengths": lengths,
            "dropped": dropped,
            "transitions": transitions,
            "scene_transitions": scene_transitions,
            "sound": sound,
            "burn_subtitles": burn,
            "reframes": reframes,
        }
    )


def _openers(shots: list[Shot]) -> dict[str, str]:
    """Scene id -> the shot that opens it in the cut (its first appearance), in cut order."""
    out: dict[str, str] = {}
    for shot in shots:
        out.setdefault(shot.scene, shot.id)
    return out


def _transition(
    action: SetTransition,
    shots: list[Shot],
    transitions: dict[str, Transition],
    scene_transitions: dict[str, Transition],
) -> None:
    openers = _openers(shots)
    wanted = None if action.style == "cut" else Transition(kind=action.style, seconds=action.length_s)
    every = scene_transitions.get(EVERY_SCENE)  # `make --transition`: every scene change
    if action.shot is not None:
        transitions.pop(action.shot, None)
        scene = next((s.scene for s in shots if s.id == action.shot), None)
        over = scene_transitions.get(scene or "") or every
        covered = scene is not None and openers.get(scene) == action.shot and over is not None
        if wanted is not None:
            transitions[action.shot] = wanted
        elif covered and over.kind != "cut":
            transitions[action.shot] = Transition(kind="cut", seconds=0.0)  # override the scene's
        return
    # every scene change: all the scenes but the one that opens the cut
    if action.scene is None:
        scene_transitions.pop(EVERY_SCENE, None)
    scenes = [f"sc{action.scene}"] if action.scene is not None else list(openers)[1:]
    for scene in scenes:
        if scene in openers:
            transitions.pop(openers[scene], None)
        if wanted is None and scene_transitions.get(EVERY_SCENE) is None:
            scene_transitions.pop(scene, None)
        else:
            scene_transitions[scene] = wanted or Transition(kind="cut", seconds=0.0)


def _sound(sound: Sound, action: SetSound) -> Sound:
    update: dict = {}
    if action.music_off:
        update["music"] = None
    level = sound.music_db if action.music_db is None else action.music_db
    if action.music_by_db is not None:
        level += action.music_by_db
    level = round(min(_MUSIC_MAX, max(_MUSIC_MIN, level)), 2)
    if level != sound.music_db:
        update["music_db"] = level
    if action.target_lufs is not None:
        update["target_lufs"] = action.target_lufs
    if action.voices is not None:
        update["voices"] = action.voices
    return sound.model_copy(update=update) if update else sound


# --- in words --------------------------------------------------------------------------------


def _place(key: str, scene: bool, zh: bool) -> str:
    if scene:
        n = key.removeprefix("sc")
        return f"第{n}场" if zh else f"scene {n}"
    label = str(int(key)) if key.isdigit() else key
    return f"镜头{label}" if zh else f"shot {label}"


_STYLE = {"crossfade": ("crossfade", "叠化"), "dip": ("dip to black", "黑场过渡"), "cut": ("cut", "直接切")}


def _g(x: float) -> str:
    return f"{x:g}"


def describe_finish(edit: Edit, *, zh: bool = False) -> str:
    """One line of how the cut is finished, for a chat reply:
    'crossfade into scene 2 (0.5 s); music -3 dB; -14 LUFS; subtitles burned in; 9:16 version'."""
    parts: list[str] = []
    entries = [(k, t, True) for k, t in sorted(edit.scene_transitions.items(), key=lambda kv: _num(kv[0]))]
    entries += [(k, t, False) for k, t in sorted(edit.transitions.items(), key=lambda kv: _num(kv[0]))]
    for key, t, scene in entries:
        style = _STYLE[t.kind][zh]
        place = _place(key, scene, zh)
        if t.kind == "cut":
            parts.append(f"{place}{style}" if zh else f"{style} into {place}")
        else:
            parts.append(
                f"{place}{style}（{_g(t.seconds)}秒）" if zh else f"{style} into {place} ({_g(t.seconds)} s)"
            )
    if not entries:
        parts.append("全部直接切" if zh else "straight cuts")
    s = edit.sound
    default_db = Sound.model_fields["music_db"].default
    if s.music is not None:
        parts.append(f"音乐{_g(s.music_db)}分贝" if zh else f"music {_g(s.music_db)} dB")
    elif s.music_db != default_db:
        parts.append(
            f"暂无音乐（音量{_g(s.music_db)}分贝）" if zh else f"no music yet (level {_g(s.music_db)} dB)"
        )
    else:
        parts.append("无音乐" if zh else "no music")
    if not s.voices:
        parts.append("对白静音" if zh else "voices muted")
    parts.append(f"{_g(s.target_lufs)} LUFS")
    if edit.burn_subtitles:
        parts.append("字幕烧录进画面" if zh else "subtitles burned in")
    if edit.reframes:
        ratios = ("、" if zh else " and ").join(edit.reframes)
        parts.append(f"另出{ratios}版" if zh else f"{ratios} version{'s' if len(edit.reframes) > 1 else ''}")
    return ("；" if zh else "; ").join(parts)


def _num(key: str) -> tuple[int, str]:
    digits = "".join(c for c in key if c.isdigit())
    return (int(digits) if digits else 0, key)
