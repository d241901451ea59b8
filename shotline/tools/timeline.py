"""The cut as data: edit decisions in whole frames, and the OpenTimelineIO timeline built from them.

`edit_decisions` is the one place that decides shot order, in-points, lengths and transitions. The
MP4 (`tools/ffmpeg.render_cut`), the subtitles and the timeline exports all read the same decisions,
so what a user opens in their NLE matches the film frame for frame.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio

from shotline.errors import RenderError
from shotline.memory.models import FPS, Conflict, Edit, Shot, Storyboard, Take, Transition, TransitionKind
from shotline.memory.store import atomic_write

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange

MIN_TRANSITION_FRAMES = 2
DIP_TO_BLACK = "Shotline_DipToBlack"
"""OTIO has no dip-to-black type; the kind also travels in the transition's metadata."""


@dataclass(frozen=True)
class EditDecision:
    """One shot's place in the cut: its take, used from frame 0 for `frames` frames at FPS, its frame 0
    shown at output frame `start_frame`. A transition into the shot overlaps its first `overlap_in`
    frames with the previous shot's last ones, so the cut is sum(frames) - sum(overlap_in) long."""

    shot: Shot
    take: Take
    start_frame: int
    frames: int
    overlap_in: int = 0
    transition_in: TransitionKind = "cut"

    @property
    def start_s(self) -> float:
        return self.start_frame / FPS

    @property
    def duration_s(self) -> float:
        return self.frames / FPS

    @property
    def end_s(self) -> float:
        return (self.start_frame + self.frames) / FPS

    @property
    def take_frames(self) -> int:
        """The take's full length in frames at FPS (its available range)."""
        return max(1, round(self.take.duration_s * FPS))

    @property
    def held_frames(self) -> int:
        """Frames the cut holds the take's last frame for, when the take is shorter than its shot."""
        return max(0, self.frames - self.take_frames)


def edit_decisions(
    storyboard: Storyboard, takes: Mapping[str, Take], edit: Edit | None = None
) -> list[EditDecision]:
    """The cut: the edit's order (storyboard order by default), each take used from frame 0 for the
    length the edit gives its shot (the shot's own duration unless trimmed), joined by the edit's
    transitions (see `transition_into`).

    Shot lengths are rounded on the running total rather than per shot, so the sum of the lengths
    is exact to within half a frame however many shots there are; each transition then shortens the
    cut by its own whole number of frames.
    """
    shots = cut_shots(storyboard, edit)
    missing = [shot.id for shot in shots if shot.id not in takes]
    if missing:
        raise RenderError(f"no take for shot {', '.join(missing)}: render it before cutting")
    if not shots:
        raise RenderError("the storyboard has no shots to cut")
    lengths = edit.lengths if edit else {}
    frames: list[int] = []
    elapsed_s, end = 0.0, 0
    for shot in shots:
        elapsed_s += lengths.get(shot.id, shot.duration_s)
        new_end = max(round(elapsed_s * FPS), end + 1)
        frames.append(new_end - end)
        end = new_end
    decisions: list[EditDecision] = []
    start = 0
    for k, shot in enumerate(shots):
        kind: TransitionKind = "cut"
        overlap = 0
        transition = transition_into(shots, k, edit)
        if transition is not None and k > 0:
            kind, overlap = transition.kind, _overlap_frames(transition, frames[k - 1], frames[k])
        if overlap == 0:
            kind = "cut"
        start -= overlap
        decisions.append(
            EditDecision(
                shot=shot,
                take=takes[shot.id],
                start_frame=start,
                frames=frames[k],
                overlap_in=overlap,
                transition_in=kind,
            )
        )
        start += frames[k]
    return decisions


EVERY_SCENE = "*"
"""A scene-transition key meaning every scene change (`make --transition`, before scenes are known)."""


def transition_into(shots: Sequence[Shot], k: int, edit: Edit | None) -> Transition | None:
    """The transition the edit asks for into `shots[k]`: the shot's own, else its scene's when the
    shot opens that scene in the cut; never one into the film's first shot."""
    if edit is None or k == 0:
        return None
    shot = shots[k]
    if shot.id in edit.transitions:
        return edit.transitions[shot.id]
    opens_scene = all(s.scene != shot.scene for s in shots[:k])
    if not opens_scene:
        return None
    return edit.scene_transitions.get(shot.scene) or edit.scene_transitions.get(EVERY_SCENE)


def _overlap_frames(transition: Transition, frames_before: int, frames_after: int) -> int:
    """Whole frames of overlap: at least MIN_TRANSITION_FRAMES, at most half of either neighbour, so
    two transitions never overlap each other; 0 (a cut) when the shots are too short to share any."""
    asked = round(transition.seconds * FPS)
    if transition.kind == "cut" or asked <= 0:
        return 0
    overlap = min(max(asked, MIN_TRANSITION_FRAMES), frames_before // 2, frames_after // 2)
    return overlap if overlap >= MIN_TRANSITION_FRAMES else 0


def cut_shots(storyboard: Storyboard, edit: Edit | None = None) -> list[Shot]:
    """The storyboard's shots in the edit's order, less the dropped ones. A shot the edit has not seen
    yet (added after a reorder) comes right after the shot it follows in the storyboard."""
    if edit is None:
        return list(storyboard.shots)
    by_id = {s.id: s for s in storyboard.shots}
    order = [sid for sid in (edit.order or [s.id for s in storyboard.shots]) if sid in by_id]
    for k, shot in enumerate(storyboard.shots):
        if shot.id in order:
            continue
        before = next((p.id for p in reversed(storyboard.shots[:k]) if p.id in order), None)
        order.insert(order.index(before) + 1 if before else 0, shot.id)
    return [by_id[sid] for sid in order if sid not in edit.dropped]


def cut_frames(decisions: Sequence[EditDecision]) -> int:
    """Length of the cut in frames: where the last shot ends (transitions overlap their shots)."""
    return decisions[-1].start_frame + decisions[-1].frames if decisions else 0


def cut_duration_s(decisions: Sequence[EditDecision]) -> float:
    """Length of the cut in seconds (whole frames)."""
    return round(cut_frames(decisions) / FPS, 3)


def build_timeline(
    storyboard: Storyboard,
    takes: Mapping[str, Take],
    *,
    name: str = "Shotline cut",
    conflicts: Iterable[Conflict] = (),
) -> otio.schema.Timeline:
    """The OTIO timeline of `storyboard` cut from `takes` (see `edit_decisions`)."""
    return timeline_from_decisions(edit_decisions(storyboard, takes), name=name, conflicts=conflicts)


@dataclass(frozen=True)
class AudioPlacement:
    """A sound file laid on the cut's clock: a spoken line, or one pass of the music bed."""

    track: str  # "dialogue" or "music": each becomes its own audio track (lines that overlap, more)
    name: str
    path: Path
    start_frame: int
    frames: int


def timeline_from_decisions(
    decisions: Sequence[EditDecision],
    *,
    name: str = "Shotline cut",
    conflicts: Iterable[Conflict] = (),
    sound: Sequence[AudioPlacement] = (),
) -> otio.schema.Timeline:
    """One video track starting at 0: a clip per shot, showing the part of its take that is seen
    outside any transition, and an OTIO transition centred on each cut that has one. The track is as
    long as the MP4, and each transition blends the same take frames as the MP4's (the outgoing
    take's last `d` frames with the incoming take's first `d`). Conflicts become red markers."""
    timeline = otio.schema.Timeline(name=name, global_start_time=RT(0, FPS))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    by_shot: dict[str, list[Conflict]] = {}
    for conflict in conflicts:
        by_shot.setdefault(conflict.shot_id, []).append(conflict)
    for k, decision in enumerate(decisions):
        head = decision.overlap_in // 2  # the transition's in_offset: its part before the cut
        tail = _out_offset(decisions[k + 1]) if k + 1 < len(decisions) else 0
        if decision.overlap_in:
            track.append(_transition(decision))
        track.append(_clip(decision, head, decision.frames - head - tail, by_shot.get(decision.shot.id, [])))
    for audio in _audio_tracks(sound, cut_frames(decisions)):
        timeline.tracks.append(audio)
    return timeline


def _audio_tracks(sound: Sequence[AudioPlacement], length: int) -> list[otio.schema.Track]:
    """The spoken lines and the music as audio tracks under the picture, so an editor opening the
    timeline hears what the film has: each file at its place, gaps between; lines that overlap go to
    a second dialogue track. (The takes' own sound travels with their video clips.)"""
    lanes: dict[str, list[list[AudioPlacement]]] = {}
    for item in sorted(sound, key=lambda a: (a.track, a.start_frame)):
        if item.frames <= 0 or item.start_frame >= length:
            continue
        lane = lanes.setdefault(item.track, [])
        free = next((ln for ln in lane if ln[-1].start_frame + ln[-1].frames <= item.start_frame), None)
        if free is None:
            lane.append(free := [])
        free.append(item)
    tracks = []
    for kind, lane_list in lanes.items():
        for n, items in enumerate(lane_list, start=1):
            track = otio.schema.Track(name=f"A {kind} {n}", kind=otio.schema.TrackKind.Audio)
            at = 0
            for item in items:
                frames = min(item.frames, length - item.start_frame)
                if item.start_frame > at:
                    track.append(otio.schema.Gap(source_range=TR(RT(0, FPS), RT(item.start_frame - at, FPS))))
                reference = otio.schema.ExternalReference(
                    target_url=otio.url_utils.url_from_filepath(str(Path(item.path).resolve())),
                    available_range=TR(RT(0, FPS), RT(item.frames, FPS)),
                )
                clip = otio.schema.Clip(
                    name=item.name, media_reference=reference, source_range=TR(RT(0, FPS), RT(frames, FPS))
                )
                clip.metadata["shotline"] = {"track": kind}
                track.append(clip)
                at = item.start_frame + frames
            tracks.append(track)
    return tracks


def _out_offset(decision: EditDecision) -> int:
    """The part of the transition into `decision` that lies after the cut."""
    return decision.overlap_in - decision.overlap_in // 2


def _transition(decision: EditDecision) -> otio.schema.Transition:
    """The transition into `decision`'s shot, centred on the cut; a dip keeps its kind in metadata."""
    dip = decision.transition_in == "dip"
    transition = otio.schema.Transition(
        name=f"{'Dip to Black' if dip else 'Cross Dissolve'} into {decision.shot.id}",
        transition_type=DIP_TO_BLACK if dip else otio.schema.TransitionTypes.SMPTE_Dissolve,
        in_offset=RT(decision.overlap_in // 2, FPS),
        out_offset=RT(_out_offset(decision), FPS),
    )
    transition.metadata["shotline"] = {"kind": decision.transition_in, "frames": decision.overlap_in}
    return transition


def _clip(decision: EditDecision, first: int, frames: int, conflicts: Sequence[Conflict]) -> otio.schema.Clip:
    """A clip named by shot id, pointing at the take's absolute path, showing take frames
    [first, first + frames), with Shotline's facts attached."""
    shot, take = decision.shot, decision.take
    reference = otio.schema.ExternalReference(
        target_url=otio.url_utils.url_from_filepath(str(Path(take.path).resolve())),
        available_range=TR(RT(0, FPS), RT(decision.take_frames, FPS)),
    )
    visible = TR(RT(first, FPS), RT(frames, FPS))
    clip = otio.schema.Clip(name=shot.id, media_reference=reference, source_range=visible)
    clip.metadata["cmx_3600"] = {"reel": f"SHOT{shot.id}"}  # an EDL reel names the shot, not a hash
    clip.metadata["shotline"] = {
        "shot_id": shot.id,
        "render_key": take.render_key,
        "model": take.model,
        "cost_usd": take.cost_usd,
        "framing": shot.framing,
        "prompt": shot.prompt,
    }
    if decision.held_frames:
        clip.metadata["shotline"]["held_frames"] = decision.held_frames
    for conflict in conflicts:
        marker = otio.schema.Marker(
            name=f"continuity: {conflict.message}", marked_range=visible, color=otio.schema.MarkerColor.RED
        )
        marker.metadata["shotline"] = conflict.model_dump()
        clip.markers.append(marker)
    return clip


def write_timeline(timeline: otio.schema.Timeline, path: Path) -> Path:
    """Write `timeline` atomically in the text format its suffix names.

    `.otio` always works; `.xml`/`.edl`/`.fcpxml` work once their OTIO adapter plugins are installed.
    Adapters get a copy: the CMX 3600 writer rewrites the track it is given in place. The CMX 3600
    EDL has no dip: a dip to black is written as a dissolve ("D") of the same length and position.
    The FCPXML adapter writes no transitions, so they are added to its spine here (`_fcpxml_transitions`).
    """
    path = Path(path)
    adapter = otio.adapters.from_filepath(str(path)).name
    text = otio.adapters.write_to_string(timeline.deepcopy(), adapter_name=adapter)
    if adapter == "fcpx_xml":
        text = _fcpxml_transitions(text, timeline)
    return atomic_write(path, text)


FCPX_EFFECTS = {  # Final Cut Pro's built-in effects, by the uid FCP and Resolve write and read
    "crossfade": ("Cross Dissolve", "FxPlug:4731E73A-8DAC-4113-9A30-AE85B1761265"),
    "dip": ("Fade To Color", "FxPlug:F779C565-486D-4633-8035-0374B4DB8F5C"),  # black by default
    "audio": ("Audio Crossfade", "FFAudioTransition"),
}


def _fcpxml_transitions(text: str, timeline: otio.schema.Timeline) -> str:
    """Add a `<transition>` to the FCPXML spine for each OTIO transition: it starts `in_offset`
    before the cut and lasts the whole overlap, as Final Cut's own transitions do; the clips keep
    their offsets, and the transition overlaps them through their handles."""
    items = list(timeline.video_tracks()[0]) if timeline.video_tracks() else []
    transitions = [(k, it) for k, it in enumerate(items) if isinstance(it, otio.schema.Transition)]
    if not transitions:
        return text
    header, _, body = text.partition("<fcpxml")
    root = ET.fromstring("<fcpxml" + body)
    resources, spine = root.find("resources"), root.find("./project/sequence/spine")
    if resources is None or spine is None:
        raise RenderError("the FCPXML adapter wrote no spine: cannot add the cut's transitions")
    used = [int(m) for m in re.findall(r"\br(\d+)\b", " ".join(e.get("id", "") for e in resources))]
    ids: dict[str, str] = {}
    for key in ("crossfade", "dip", "audio"):
        if key == "audio" or any(_kind(t) == key for _, t in transitions):
            ids[key] = f"r{max(used, default=0) + len(ids) + 1}"
            effect_name, uid = FCPX_EFFECTS[key]
            ET.SubElement(resources, "effect", {"id": ids[key], "name": effect_name, "uid": uid})
    for k, transition in reversed(transitions):
        after = items[k + 1]
        cut = after.range_in_parent().start_time.rescaled_to(FPS).value
        length = transition.in_offset + transition.out_offset
        effect_name, _ = FCPX_EFFECTS[_kind(transition)]
        element = ET.Element(
            "transition",
            {
                "name": effect_name,
                "offset": _fcpx_time(round(cut - transition.in_offset.rescaled_to(FPS).value)),
                "duration": _fcpx_time(round(length.rescaled_to(FPS).value)),
            },
        )
        ET.SubElement(element, "filter-video", {"ref": ids[_kind(transition)], "name": effect_name})
        ET.SubElement(element, "filter-audio", {"ref": ids["audio"], "name": FCPX_EFFECTS["audio"][0]})
        clips_before = sum(1 for it in items[:k] if not isinstance(it, otio.schema.Transition))
        spine.insert(clips_before, element)
    ET.indent(root, space="    ")
    return header + ET.tostring(root, encoding="unicode") + "\n"


def _kind(transition: otio.schema.Transition) -> str:
    kind = dict(transition.metadata.get("shotline", {})).get("kind")
    if kind in ("crossfade", "dip"):
        return kind
    return "dip" if transition.transition_type == DIP_TO_BLACK else "crossfade"


def _fcpx_time(frames: int) -> str:
    """Frames at FPS as FCPXML rational seconds ('43/24s', '2s')."""
    value = Fraction(frames, FPS)
    return f"{value.numerator}s" if value.denominator == 1 else f"{value.numerator}/{value.denominator}s"
