"""The editor: turns approved takes into the cut and every deliverable in the output folder.

One list of edit decisions (`tools.timeline.edit_decisions`) drives the MP4, the subtitles, the
OTIO timeline and the contact sheet, so they all agree on order and length. Every file is written
atomically (`memory.store.atomic_write`; ffmpeg writes `.part`, then renames), so an
interrupted run never leaves a half file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from shotline.memory.models import RESOLUTIONS, Breakdown, Conflict, Cut, Edit, Storyboard, Take
from shotline.memory.store import atomic_write, write_json
from shotline.tools import contact_sheet, ffmpeg, subtitles
from shotline.tools.qc import TakeVerdict
from shotline.tools.report_page import write_continuity_page
from shotline.tools.timeline import (
    EditDecision,
    cut_duration_s,
    edit_decisions,
    timeline_from_decisions,
    write_timeline,
)
from shotline.tools.video.base import MediaRef

Progress = Callable[[str, float], None]

FINAL_MP4 = "final.mp4"
FINAL_SRT = "final.srt"
TIMELINE = "timeline.otio"
FCPXML = "timeline.fcpxml"  # Final Cut Pro, DaVinci Resolve
EDL = "timeline.edl"  # CMX 3600: Premiere, Avid, anything
CONTACT_SHEET = "contact_sheet.png"
STORYBOARD = "storyboard.json"
BIBLE = "bible.json"
SCRIPT = "script.fountain"
REPORT = "report.json"
CONTINUITY_PAGE = "continuity.html"
DELIVERABLES = (
    FINAL_MP4,
    FINAL_SRT,
    TIMELINE,
    FCPXML,
    EDL,
    CONTACT_SHEET,
    STORYBOARD,
    BIBLE,
    SCRIPT,
    REPORT,
    CONTINUITY_PAGE,
)


def deliver(
    *,
    out_dir: Path,
    script_text: str,
    breakdown: Breakdown,
    storyboard: Storyboard,
    takes: dict[str, Take],
    conflicts: list[Conflict],
    verdicts: Mapping[str, TakeVerdict] | None = None,
    references: Mapping[str, Sequence[MediaRef]] | None = None,
    edit: Edit | None = None,
    views: Any = None,
    on_progress: Progress | None = None,
) -> Cut:
    """Cut the takes in the edit's order and lengths (storyboard order by default) and write every
    deliverable into `out_dir`.

    The cheap files come first and the encode last, so a bad take fails before a long render.
    `on_progress(deliverable, fraction)` is called as each file is done, and during the encode.
    Raises RenderError if a shot has no take or ffmpeg fails.
    """
    progress = on_progress or (lambda _name, _fraction: None)
    decisions = edit_decisions(storyboard, takes, edit)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in DELIVERABLES}

    atomic_write(paths[SCRIPT], script_text)
    write_json(paths[STORYBOARD], storyboard_document(storyboard))
    write_json(paths[BIBLE], bible_document(breakdown, views=views))
    report = report_document(decisions, conflicts, verdicts, references)
    write_json(paths[REPORT], report)
    for name in (SCRIPT, STORYBOARD, BIBLE, REPORT):
        progress(name, 1.0)

    timeline = timeline_from_decisions(decisions, name=breakdown.title, conflicts=conflicts)
    for name in (TIMELINE, FCPXML, EDL):  # one timeline, in the formats editors open
        write_timeline(timeline, paths[name])
        progress(name, 1.0)
    atomic_write(paths[FINAL_SRT], subtitles.to_srt(subtitles.dialogue_cues(decisions, breakdown)))
    progress(FINAL_SRT, 1.0)
    size = RESOLUTIONS[storyboard.ratio]
    sheet = contact_sheet.build_contact_sheet(_sheet_title(breakdown, decisions), _tiles(decisions), size)
    atomic_write(paths[CONTACT_SHEET], contact_sheet.png_bytes(sheet))
    progress(CONTACT_SHEET, 1.0)
    write_continuity_page(
        out_dir, storyboard=storyboard, breakdown=breakdown, report=report,
        verdicts=verdicts, references=references or {},
    )  # fmt: skip
    progress(CONTINUITY_PAGE, 1.0)

    segments = [ffmpeg.segment(Path(d.take.path), d.frames) for d in decisions]
    ffmpeg.render_cut(segments, paths[FINAL_MP4], size=size, on_progress=lambda f: progress(FINAL_MP4, f))

    return Cut(
        shots=[d.shot.id for d in decisions],
        duration_s=cut_duration_s(decisions),
        files={name: str(path) for name, path in paths.items()},
    )


# --- documents ----------------------------------------------------------------------------


def storyboard_document(storyboard: Storyboard) -> dict[str, Any]:
    """The approved storyboard; each shot dumps whole, so `Shot.model_validate` reads it back."""
    return {
        "ratio": storyboard.ratio,
        "style": storyboard.style,
        "duration_s": storyboard.duration_s,
        "shots": [shot.model_dump(mode="json") for shot in storyboard.shots],
    }


def bible_document(breakdown: Breakdown, views: Any = None) -> dict[str, Any]:
    """Canonical characters and locations, as the prompts used them. With `views` (a `LinkedViews`
    from `Bible.linked_views()`, or its JSON form), each entry also lists its reference pictures
    (character views per costume, set plates by day and night) by absolute path and sha256: the hash
    finds the picture again wherever the store moves."""
    if views is None:
        return {
            "characters": [c.model_dump(mode="json") for c in breakdown.characters],
            "locations": [loc.model_dump(mode="json") for loc in breakdown.locations],
        }
    from shotline.memory.bible import LinkedViews  # Chroma is only imported when views are asked for

    linked = LinkedViews.model_validate(views)
    pictures = {
        kind: {rid: {v: link.model_dump() for v, link in by_view.items()} for rid, by_view in by_id.items()}
        for kind, by_id in (("characters", linked.characters), ("locations", linked.locations))
    }
    return {
        "characters": [
            {**c.model_dump(mode="json"), "views": pictures["characters"].get(c.id, {})}
            for c in breakdown.characters
        ],
        "locations": [
            {**loc.model_dump(mode="json"), "views": pictures["locations"].get(loc.id, {})}
            for loc in breakdown.locations
        ],
    }


def report_document(
    decisions: Sequence[EditDecision],
    conflicts: Sequence[Conflict],
    verdicts: Mapping[str, TakeVerdict] | None = None,
    references: Mapping[str, Sequence[MediaRef]] | None = None,
) -> dict[str, Any]:
    """Per shot: which model made the take, what it cost, the references it was sent, the conflicts
    found before rendering and the take's QC after; then totals."""
    shots = []
    for d in decisions:
        take = d.take
        verdict = (verdicts or {}).get(d.shot.id)
        shots.append(
            {
                "id": d.shot.id,
                "model": take.model,
                "cache_hit": take.cache_hit,
                "cost_usd": take.cost_usd,
                "seconds": take.seconds,
                "render_key": take.render_key,
                "duration_s": round(d.duration_s, 3),
                "conflicts": [c.model_dump(mode="json") for c in conflicts if c.shot_id == d.shot.id],
                "references": [r.name for r in (references or {}).get(d.shot.id, [])],
                "qc": None
                if verdict is None
                else {"score": verdict.score, "passed": verdict.passed, "reasons": verdict.reasons},
            }
        )
    cache_hits = sum(1 for d in decisions if d.take.cache_hit)
    totals = {
        "rendered": len(decisions) - cache_hits,
        "cache_hits": cache_hits,
        "cost_usd": round(sum(d.take.cost_usd for d in decisions), 4),
        "seconds": round(sum(d.take.seconds for d in decisions), 3),
        "shots": len(decisions),
        "duration_s": cut_duration_s(decisions),
        "qc_failed": sorted(sid for sid, v in (verdicts or {}).items() if not v.passed),
    }
    return {"shots": shots, "totals": totals}


def _sheet_title(breakdown: Breakdown, decisions: Sequence[EditDecision]) -> str:
    return f"{breakdown.title}  -  {len(decisions)} shots, {cut_duration_s(decisions):.1f} s"


def _tiles(decisions: Sequence[EditDecision]) -> list[contact_sheet.Tile]:
    """A still from the middle of the part of each take that the cut uses."""
    tiles = []
    for d in decisions:
        used_s = min(d.duration_s, d.take.duration_s)
        still = ffmpeg.grab_frame(Path(d.take.path), used_s / 2)
        label = f"{d.shot.id}  {d.shot.framing}  {d.duration_s:.1f}s"
        tiles.append(contact_sheet.Tile(image=still, label=label))
    return tiles
