"""The cut as data: edit decisions in whole frames, and the OpenTimelineIO timeline built from them.

`edit_decisions` is the one place that decides shot order, in-points and lengths. The MP4
(`tools/ffmpeg.render_cut`), the subtitles and the `.otio` export all read the same decisions,
so what a user opens in their NLE matches the film frame for frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio

from shotline.errors import RenderError
from shotline.memory.models import FPS, Conflict, Edit, Shot, Storyboard, Take
from shotline.memory.store import atomic_write

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange


@dataclass(frozen=True)
class EditDecision:
    """One shot's place in the cut: its take, used from frame 0 for `frames` frames at FPS."""

    shot: Shot
    take: Take
    start_frame: int
    frames: int

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
    length the edit gives its shot (the shot's own duration unless trimmed).

    Shot boundaries are rounded on the running total rather than per shot, so the cut's length
    is the sum of the lengths to within half a frame however many shots there are.
    """
    shots = cut_shots(storyboard, edit)
    missing = [shot.id for shot in shots if shot.id not in takes]
    if missing:
        raise RenderError(f"no take for shot {', '.join(missing)}: render it before cutting")
    if not shots:
        raise RenderError("the storyboard has no shots to cut")
    lengths = edit.lengths if edit else {}
    decisions: list[EditDecision] = []
    elapsed_s, start = 0.0, 0
    for shot in shots:
        elapsed_s += lengths.get(shot.id, shot.duration_s)
        end = max(round(elapsed_s * FPS), start + 1)
        decisions.append(EditDecision(shot=shot, take=takes[shot.id], start_frame=start, frames=end - start))
        start = end
    return decisions


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


def cut_duration_s(decisions: Sequence[EditDecision]) -> float:
    """Length of the cut in seconds (whole frames)."""
    return round(sum(d.frames for d in decisions) / FPS, 3)


def build_timeline(
    storyboard: Storyboard,
    takes: Mapping[str, Take],
    *,
    name: str = "Shotline cut",
    conflicts: Iterable[Conflict] = (),
) -> otio.schema.Timeline:
    """The OTIO timeline of `storyboard` cut from `takes` (see `edit_decisions`)."""
    return timeline_from_decisions(edit_decisions(storyboard, takes), name=name, conflicts=conflicts)


def timeline_from_decisions(
    decisions: Sequence[EditDecision], *, name: str = "Shotline cut", conflicts: Iterable[Conflict] = ()
) -> otio.schema.Timeline:
    """One video track, a clip per shot, starting at 0; conflicts become red markers on their clip."""
    timeline = otio.schema.Timeline(name=name, global_start_time=RT(0, FPS))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    by_shot: dict[str, list[Conflict]] = {}
    for conflict in conflicts:
        by_shot.setdefault(conflict.shot_id, []).append(conflict)
    for decision in decisions:
        track.append(_clip(decision, by_shot.get(decision.shot.id, [])))
    return timeline


def _clip(decision: EditDecision, conflicts: Sequence[Conflict]) -> otio.schema.Clip:
    """A clip named by shot id, pointing at the take's absolute path, with Shotline's facts attached."""
    shot, take = decision.shot, decision.take
    reference = otio.schema.ExternalReference(
        target_url=otio.url_utils.url_from_filepath(str(Path(take.path).resolve())),
        available_range=TR(RT(0, FPS), RT(decision.take_frames, FPS)),
    )
    clip = otio.schema.Clip(
        name=shot.id, media_reference=reference, source_range=TR(RT(0, FPS), RT(decision.frames, FPS))
    )
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
            name=f"continuity: {conflict.message}",
            marked_range=TR(RT(0, FPS), RT(decision.frames, FPS)),
            color=otio.schema.MarkerColor.RED,
        )
        marker.metadata["shotline"] = conflict.model_dump()
        clip.markers.append(marker)
    return clip


def write_timeline(timeline: otio.schema.Timeline, path: Path) -> Path:
    """Write `timeline` atomically in the text format its suffix names.

    `.otio` always works; `.xml`/`.edl`/`.fcpxml` work once their OTIO adapter plugins are installed.
    """
    path = Path(path)
    adapter = otio.adapters.from_filepath(str(path)).name
    return atomic_write(path, otio.adapters.write_to_string(timeline, adapter_name=adapter))
