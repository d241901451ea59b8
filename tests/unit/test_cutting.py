"""What each editor action does to the `Edit`: order, lengths, drops, transitions, sound, subtitles and
reframes, applied purely (no graph, no take, no ffmpeg)."""

from __future__ import annotations

import pytest

from shotline.agents.cutting import apply_edit, describe_finish
from shotline.agents.decisions import (
    Answer,
    ChangeBible,
    Drop,
    Move,
    Reframe,
    SetSound,
    SetSubtitles,
    SetTransition,
    SetVoice,
    Swap,
    Trim,
)
from shotline.memory.models import Edit, Shot, Sound, Storyboard, Transition
from shotline.tools.timeline import cut_shots, transition_into

SCENES = {"001": "sc1", "002": "sc1", "003": "sc2", "004": "sc2", "005": "sc3", "006": "sc3"}
BOARD = Storyboard(
    shots=[
        Shot(
            id=sid,
            number=i + 1,
            scene=scene,
            framing="medium",
            camera="static",
            duration_s=4.0,
            location="alley",
        )
        for i, (sid, scene) in enumerate(SCENES.items())
    ]
)
ALL = list(SCENES)
XF = Transition(kind="crossfade", seconds=0.5)
DIP = Transition(kind="dip", seconds=1.0)
CUT = Transition(kind="cut", seconds=0.0)


def edit(*actions, start: Edit | None = None) -> Edit:
    return apply_edit(start or Edit(), list(actions), BOARD)


def into(e: Edit) -> dict[str, str]:
    """What the editor will pass into each shot of the cut, as `tools.timeline` reads the edit."""
    shots = cut_shots(BOARD, e)
    out = {}
    for k, shot in enumerate(shots):
        t = transition_into(shots, k, e)
        if t is not None and t.kind != "cut":
            out[shot.id] = f"{t.kind} {t.seconds:g}"
    return out


# --- order, lengths and drops (as the graph's editor did them) -----------------------------------


def test_no_actions_writes_the_order_out_in_full() -> None:
    assert edit() == Edit(order=ALL)


def test_trim_sets_a_length_and_a_trim_to_the_full_length_clears_it() -> None:
    e = edit(Trim(shot="2", seconds=2.5))
    assert e.lengths == {"002": 2.5}
    assert edit(Trim(shot="2", seconds=4.0), start=e).lengths == {}


def test_an_unsettled_trim_is_relative_to_what_plays_and_stays_within_the_take() -> None:
    e = edit(Trim(shot="2", by_s=-1.0), Trim(shot="2", by_s=-0.5))
    assert e.lengths == {"002": 2.5}
    assert edit(Trim(shot="2", by_s=3.0), start=e).lengths == {}  # back to the whole take, no more


def test_swap_and_move() -> None:
    assert edit(Swap(shot="2", other="5")).order == ["001", "005", "003", "004", "002", "006"]
    assert edit(Move(shot="5", anchor="2")).order == ["001", "002", "005", "003", "004", "006"]
    assert edit(Move(shot="5", anchor="2", where="before")).order == [
        "001",
        "005",
        "002",
        "003",
        "004",
        "006",
    ]
    assert edit(Move(shot="5", anchor="5")).order == ALL


def test_drop_keeps_the_shot_last_in_the_order_and_out_of_the_cut() -> None:
    e = edit(Drop(shot="3"), Drop(shot="3"))
    assert e.dropped == ["003"] and e.order == ["001", "002", "004", "005", "006", "003"]
    assert [s.id for s in cut_shots(BOARD, e)] == ["001", "002", "004", "005", "006"]


def test_a_dropped_shot_is_not_swapped_or_moved() -> None:
    e = edit(Drop(shot="3"))
    assert edit(Swap(shot="3", other="1"), Move(shot="1", anchor="3"), start=e) == e


def test_actions_apply_in_order() -> None:
    e = edit(Swap(shot="1", other="2"), Move(shot="1", anchor="6"), Drop(shot="4"))
    assert e.order == ["002", "003", "005", "006", "001", "004"]


def test_order_edits_keep_the_finish() -> None:
    finished = edit(SetTransition(style="dip", scene=2), SetSubtitles(burn=True), Reframe(ratios=["1:1"]))
    e = edit(Swap(shot="1", other="2"), Trim(shot="3", seconds=2.0), start=finished)
    assert e.scene_transitions == {"sc2": DIP} and e.burn_subtitles and e.reframes == ["1:1"]


def test_unknown_shots_and_other_actions_are_ignored() -> None:
    others = [
        ChangeBible(target="MEI", item="jacket", value="red"),
        Answer(text="hi"),
        SetVoice(character="MEI"),
    ]
    assert edit(*others, Trim(shot="40", seconds=2.0), Drop(shot="40")) == Edit(order=ALL)


def test_pure() -> None:
    start = Edit(order=ALL, transitions={"003": XF}, reframes=["9:16"])
    before = start.model_dump()
    edit(
        SetTransition(style="cut", shot="3"),
        Reframe(ratios=["9:16"], remove=True),
        Drop(shot="1"),
        start=start,
    )
    assert start.model_dump() == before


# --- transitions --------------------------------------------------------------------------------


def test_into_a_shot() -> None:
    e = edit(SetTransition(style="crossfade", shot="4"))
    assert e.transitions == {"004": XF} and into(e) == {"004": "crossfade 0.5"}


def test_into_a_scene() -> None:
    e = edit(SetTransition(style="dip", scene=2))
    assert e.scene_transitions == {"sc2": DIP} and into(e) == {"003": "dip 1"}


def test_given_seconds() -> None:
    e = edit(SetTransition(style="crossfade", seconds=1.5, scene=3))
    assert e.scene_transitions == {"sc3": Transition(kind="crossfade", seconds=1.5)}


def test_every_scene_change_is_every_scene_but_the_first_of_the_cut() -> None:
    e = edit(SetTransition(style="crossfade"))
    assert set(e.scene_transitions) == {"sc2", "sc3"}
    assert into(e) == {"003": "crossfade 0.5", "005": "crossfade 0.5"}
    moved = edit(
        Move(shot="5", anchor="1", where="before"), Move(shot="6", anchor="5"), SetTransition(style="dip")
    )
    assert set(moved.scene_transitions) == {"sc1", "sc2"}  # scene 3 opens this cut


def test_a_scene_then_its_first_shot_the_shot_wins() -> None:
    e = edit(SetTransition(style="dip", scene=2), SetTransition(style="crossfade", seconds=1.0, shot="3"))
    assert into(e) == {"003": "crossfade 1"}


def test_a_shot_then_its_scene_the_scene_wins() -> None:
    e = edit(SetTransition(style="crossfade", shot="3"), SetTransition(style="dip", scene=2))
    assert e.transitions == {} and into(e) == {"003": "dip 1"}


def test_every_scene_change_clears_the_openers_own_transitions_but_not_others() -> None:
    start = edit(SetTransition(style="crossfade", shot="3"), SetTransition(style="crossfade", shot="4"))
    e = edit(SetTransition(style="dip"), start=start)
    assert e.transitions == {"004": XF}
    assert into(e) == {"003": "dip 1", "004": "crossfade 0.5", "005": "dip 1"}


def test_a_cut_into_a_scene_removes_its_transition() -> None:
    start = edit(SetTransition(style="dip"), SetTransition(style="crossfade", shot="5"))
    e = edit(SetTransition(style="cut", scene=3), start=start)
    assert e.scene_transitions == {"sc2": DIP} and e.transitions == {}
    assert into(e) == {"003": "dip 1"}


def test_cuts_between_scenes_remove_them_all() -> None:
    e = edit(SetTransition(style="cut"), start=edit(SetTransition(style="dip")))
    assert e.scene_transitions == {} and into(e) == {}


def test_a_cut_into_a_shot_is_stored_only_where_a_scene_transition_would_apply() -> None:
    start = edit(SetTransition(style="dip", scene=2), SetTransition(style="crossfade", shot="4"))
    e = edit(SetTransition(style="cut", shot="3"), SetTransition(style="cut", shot="4"), start=start)
    assert e.transitions == {"003": CUT}  # 003 opens scene 2: an explicit cut overrides the scene's dip
    assert e.scene_transitions == {"sc2": DIP} and into(e) == {}


def test_a_cut_into_a_shot_with_nothing_to_override_stores_nothing() -> None:
    assert edit(SetTransition(style="cut", shot="3")).transitions == {}


# --- sound, subtitles, reframes -------------------------------------------------------------------


def test_music_level_absolute_then_relative() -> None:
    e = edit(SetSound(music_db=-12.0), SetSound(music_by_db=3.0))
    assert e.sound.music_db == -9.0


@pytest.mark.parametrize(("by", "level"), [(30.0, 12.0), (-40.0, -40.0), (6.0, 0.0)])
def test_music_changes_are_clamped(by: float, level: float) -> None:
    assert edit(SetSound(music_by_db=by)).sound.music_db == level


def test_music_off_forgets_the_bed() -> None:
    start = Edit(sound=Sound(music="/music/bed.wav"))
    assert edit(SetSound(music_off=True), start=start).sound.music is None


def test_loudness_and_voices() -> None:
    e = edit(SetSound(target_lufs=-23.0), SetSound(voices=False))
    assert e.sound.target_lufs == -23.0 and e.sound.voices is False
    assert edit(SetSound(voices=True), start=e).sound.voices is True


def test_an_empty_sound_action_changes_nothing() -> None:
    assert edit(SetSound()).sound == Sound()


def test_subtitles() -> None:
    e = edit(SetSubtitles(burn=True))
    assert e.burn_subtitles
    assert not edit(SetSubtitles(burn=False), start=e).burn_subtitles


def test_reframes_dedupe_keep_their_order_and_come_off() -> None:
    e = edit(Reframe(ratios=["1:1"]), Reframe(ratios=["9:16", "1:1"]), Reframe(ratios=["1:1"]))
    assert e.reframes == ["1:1", "9:16"]
    assert edit(Reframe(ratios=["1:1"], remove=True), start=e).reframes == ["9:16"]
    assert edit(Reframe(ratios=["9:16", "1:1"], remove=True), start=e).reframes == []


# --- in words ---------------------------------------------------------------------------------------


def test_describe_the_default_finish() -> None:
    assert describe_finish(Edit()) == "straight cuts; no music; -14 LUFS"


def test_describe_a_finish() -> None:
    e = edit(
        SetTransition(style="crossfade", scene=2),
        SetTransition(style="dip", seconds=1.5, shot="5"),
        SetSound(music_by_db=3.0, target_lufs=-23.0),
        SetSubtitles(burn=True),
        Reframe(ratios=["9:16"]),
        start=Edit(sound=Sound(music="/music/bed.wav")),
    )
    assert describe_finish(e) == (
        "crossfade into scene 2 (0.5 s); dip to black into shot 5 (1.5 s); music -3 dB; -23 LUFS; "
        "subtitles burned in; 9:16 version"
    )
    assert describe_finish(e, zh=True) == (
        "第2场叠化（0.5秒）；镜头5黑场过渡（1.5秒）；音乐-3分贝；-23 LUFS；字幕烧录进画面；另出9:16版"
    )


def test_describe_a_level_set_before_any_music_and_muted_voices() -> None:
    e = edit(SetSound(music_by_db=-3.0, voices=False), Reframe(ratios=["9:16", "1:1"]))
    assert (
        describe_finish(e)
        == "straight cuts; no music yet (level -9 dB); voices muted; -14 LUFS; 9:16 and 1:1 versions"
    )


def test_a_cut_into_one_scene_overrides_a_transition_at_every_scene_change():
    from shotline.tools.timeline import EVERY_SCENE

    start = Edit(scene_transitions={EVERY_SCENE: DIP})
    assert into(start) == {"003": "dip 1", "005": "dip 1"}
    cut_two = edit(SetTransition(style="cut", scene=2), start=start)
    assert into(cut_two) == {"005": "dip 1"}
    assert into(edit(SetTransition(style="cut", shot="005"), start=cut_two)) == {}
    again = edit(SetTransition(style="crossfade"), start=cut_two)  # every scene change, again
    assert EVERY_SCENE not in again.scene_transitions
    assert into(again) == {"003": "crossfade 0.5", "005": "crossfade 0.5"}
