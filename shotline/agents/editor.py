"""The editor: turns approved takes into the cut and every deliverable in the output folder.

One list of edit decisions (`tools.timeline.edit_decisions`) drives the MP4, the subtitles, the
OTIO timeline and the contact sheet, so they all agree on order, length and transitions. The film is
made in three passes: the picture (with the takes' own sound on the side), the sound (that native
bed, the spoken lines and the music, mixed and normalised), then the two muxed; reframed versions
reuse the same sound. Every file is written atomically (`memory.store.atomic_write`; ffmpeg writes
`.part`, then renames), so an interrupted run never leaves a half file.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shotline.memory.models import FPS, RESOLUTIONS, Breakdown, Conflict, Cut, Edit, Shot, Storyboard, Take
from shotline.memory.store import Ledger, atomic_write, write_json
from shotline.tools import contact_sheet, ffmpeg, poster, soundtrack, subtitles
from shotline.tools.audio import audio_duration
from shotline.tools.qc import TakeVerdict
from shotline.tools.report_page import write_continuity_page
from shotline.tools.timeline import (
    AudioPlacement,
    EditDecision,
    cut_duration_s,
    cut_frames,
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
POSTER = "poster.png"
REFRAMED = {"9:16": "final_9x16.mp4", "1:1": "final_1x1.mp4", "16:9": "final_16x9.mp4"}
"""Reframed versions, made when the edit asks for them (not in every folder)."""
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
    POSTER,
)


@dataclass(frozen=True)
class Voicing:
    """What the editor speaks the dialogue with, and where spoken lines are kept and billed."""

    voice: Any = None  # a `tools.speech.VoiceModel`, or None: captions only
    note: str = ""  # why there is no voice, said plainly in the report and the chat
    cache_dir: Path | None = None
    native: Collection[str] = field(default_factory=frozenset)  # shots whose take speaks its own lines
    ledger: Ledger | None = None
    project_id: str | None = None


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
    voicing: Voicing | None = None,
    on_progress: Progress | None = None,
) -> Cut:
    """Cut the takes in the edit's order, lengths and transitions (storyboard order by default), give
    the film its sound, and write every deliverable into `out_dir`.

    The cheap files come first and the encodes last, so a bad take fails before a long render.
    `on_progress(deliverable, fraction)` is called as each file is done, and during the encodes.
    Raises RenderError if a shot has no take or ffmpeg fails.
    """
    progress = on_progress or (lambda _name, _fraction: None)
    edit = edit or Edit()
    voicing = voicing or Voicing(note=soundtrack.NO_VOICE_NOTE)
    decisions = edit_decisions(storyboard, takes, edit)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in DELIVERABLES}
    duration_s = cut_duration_s(decisions)

    atomic_write(paths[SCRIPT], script_text)
    write_json(paths[STORYBOARD], storyboard_document(storyboard))
    write_json(paths[BIBLE], bible_document(breakdown, views=views))
    for name in (SCRIPT, STORYBOARD, BIBLE):
        progress(name, 1.0)

    lines = _voice_lines(decisions, breakdown, edit, voicing, progress)
    placed = audio_placements(lines, edit, cut_frames(decisions))
    timeline = timeline_from_decisions(decisions, name=breakdown.title, conflicts=conflicts, sound=placed)
    for name in (TIMELINE, FCPXML, EDL):  # one timeline, in the formats editors open
        write_timeline(timeline, paths[name])
        progress(name, 1.0)
    cues = _heard(subtitles.dialogue_cues(decisions, breakdown), lines)
    atomic_write(paths[FINAL_SRT], subtitles.to_srt(cues))
    progress(FINAL_SRT, 1.0)
    size = RESOLUTIONS[storyboard.ratio]
    sheet = contact_sheet.build_contact_sheet(_sheet_title(breakdown, decisions), _tiles(decisions), size)
    atomic_write(paths[CONTACT_SHEET], contact_sheet.png_bytes(sheet))
    progress(CONTACT_SHEET, 1.0)
    chosen = poster.make_poster(decisions, verdicts or {}, breakdown.title, size, paths[POSTER])
    progress(POSTER, 1.0)

    files = {name: str(path) for name, path in paths.items()}
    with tempfile.TemporaryDirectory(prefix=".cut-", dir=out_dir) as tmp:
        work = Path(tmp)
        burn = _burn(cues, size, work / "subtitles.ass") if edit.burn_subtitles and cues else None
        picture, native = work / "picture.mp4", work / "native.wav"
        segments = _segments(decisions)
        ffmpeg.render_cut(
            segments, picture, size=size, subtitles=burn, audio_out=native,
            on_progress=lambda f: progress(FINAL_MP4, 0.8 * f),
        )  # fmt: skip
        mixed = work / "mix.wav"
        loudness = soundtrack.mix(lines, duration_s, mixed, native=native, sound=edit.sound)
        ffmpeg.mux(picture, mixed, paths[FINAL_MP4])
        progress(FINAL_MP4, 1.0)
        for ratio in edit.reframes:
            if ratio == storyboard.ratio:
                continue
            name, frame = REFRAMED[ratio], RESOLUTIONS[ratio]
            framed = work / f"picture-{frame[0]}x{frame[1]}.mp4"
            crop = [_with_crop(seg, d.shot) for seg, d in zip(segments, decisions, strict=True)]
            burned = _burn(cues, frame, work / f"subtitles-{frame[0]}.ass") if burn else None
            ffmpeg.render_cut(
                crop, framed, size=frame, base_size=size, subtitles=burned,
                on_progress=lambda f, n=name: progress(n, 0.9 * f),
            )  # fmt: skip
            ffmpeg.mux(framed, mixed, out_dir / name)
            files[name] = str(out_dir / name)
            progress(name, 1.0)

    report = report_document(decisions, conflicts, verdicts, references)
    report["sound"] = sound_document(lines, loudness, edit, voicing)
    report["finish"] = finish_document(decisions, edit, files, poster_shot=chosen.shot.id)
    write_json(paths[REPORT], report)
    progress(REPORT, 1.0)
    write_continuity_page(
        out_dir, storyboard=storyboard, breakdown=breakdown, report=report,
        verdicts=verdicts, references=references or {},
    )  # fmt: skip
    progress(CONTINUITY_PAGE, 1.0)
    return Cut(shots=[d.shot.id for d in decisions], duration_s=duration_s, files=files)


def _heard(cues: list[subtitles.Cue], lines: Sequence[Any]) -> list[subtitles.Cue]:
    """A spoken line's subtitle stays up while it is heard: a voice slower than the reading time keeps
    its cue on (up to where the next line or the shot begins), so text and voice end together."""
    if len(cues) != len(lines):
        return cues
    out = []
    for cue, line in zip(cues, lines, strict=True):
        if line.source == "tts" and line.spoken_s and " ".join(line.text.split()) == cue.text:
            end = min(max(cue.end_s, line.start_s + line.spoken_s), line.end_s)
            cue = replace(cue, end_s=round(max(end, cue.end_s), 3))
        out.append(cue)
    return out


def audio_placements(lines: Sequence[Any], edit: Edit, length: int) -> list[AudioPlacement]:
    """The spoken lines, and the music bed pass by pass, where the mix lays them: the timeline's
    audio tracks, so an editor opening it has the voices and the music in place."""
    placed = [
        AudioPlacement(
            track="dialogue", name=f"{ln.shot_id} {ln.character}", path=Path(ln.path),
            start_frame=round(ln.start_s * FPS), frames=max(1, round(ln.spoken_s * FPS)),
        )
        for ln in lines
        if ln.source == "tts" and ln.path is not None and ln.spoken_s
    ]  # fmt: skip
    if edit.sound.music and Path(edit.sound.music).is_file():
        bed = Path(edit.sound.music)
        loop = max(1, round(audio_duration(bed) * FPS))
        placed += [
            AudioPlacement(
                track="music", name=bed.name, path=bed, start_frame=at, frames=min(loop, length - at)
            )
            for at in range(0, length, loop)
        ]
    return placed


def _segments(decisions: Sequence[EditDecision]) -> list[ffmpeg.Segment]:
    return [
        ffmpeg.segment(Path(d.take.path), d.frames, overlap_in=d.overlap_in, transition_in=d.transition_in)
        for d in decisions
    ]


def crop_centre(shot: Shot) -> float:
    """Where a reframed version looks in a shot: at the character it singles out, else between the
    characters in frame (their screen positions are fixed per scene), else the middle."""
    xs = shot.positions
    if shot.subject and shot.subject in xs:
        return xs[shot.subject]
    placed = [xs[c] for c in shot.characters if c in xs]
    return sum(placed) / len(placed) if placed else 0.5


def _with_crop(seg: ffmpeg.Segment, shot: Shot) -> ffmpeg.Segment:
    return replace(seg, crop_x=crop_centre(shot))


def _burn(cues: Sequence[subtitles.Cue], size: tuple[int, int], path: Path) -> str:
    atomic_write(path, subtitles.to_ass(cues, size))
    return subtitles.burn_filter(path)


def _voice_lines(
    decisions: Sequence[EditDecision], breakdown: Breakdown, edit: Edit, voicing: Voicing, progress: Progress
) -> list[soundtrack.LinePlan]:
    """Every line of dialogue placed on the cut's clock, spoken where a voice is available (cached:
    a line said before costs nothing), else kept as a caption."""
    cache = voicing.cache_dir or Path(tempfile.gettempdir()) / "shotline-speech"
    plan = soundtrack.plan_lines(
        decisions, breakdown, voicing.voice, cache, native=voicing.native, enabled=edit.sound.voices
    )
    if voicing.voice is None or not any(line.source == "tts" for line in plan):
        return plan
    voice = voicing.voice

    async def spoken() -> list[soundtrack.LinePlan]:
        try:
            return await soundtrack.speak(
                plan, voice, cache, ledger=voicing.ledger, project_id=voicing.project_id,
                on_progress=lambda done, total: progress("voices", done / max(total, 1)),
            )  # fmt: skip
        finally:  # its HTTP client belongs to this event loop; the next cut opens a fresh one
            await voice.aclose()

    return asyncio.run(spoken())


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


def sound_document(lines: Sequence[Any], loudness: Any, edit: Edit, voicing: Voicing) -> dict[str, Any]:
    """How the film sounds and what its voices cost: per line who said it, with which voice, from
    where (spoken, the model's own take, or caption only), and the loudness measured in the mix."""
    spoken = [ln for ln in lines if ln.source == "tts"]
    return {
        "provider": voicing.voice.card.name if voicing.voice is not None else None,
        "note": voicing.note if voicing.voice is None or not edit.sound.voices else "",
        "voices_on": edit.sound.voices,
        "music": Path(edit.sound.music).name if edit.sound.music else None,
        "music_db": edit.sound.music_db,
        "target_lufs": edit.sound.target_lufs,
        "integrated_lufs": round(loudness.integrated_lufs, 2),
        "true_peak_dbtp": round(loudness.true_peak_dbtp, 2),
        "speech_usd": round(sum(ln.cost_usd for ln in spoken if not ln.cached), 4),
        "lines": [
            {
                "shot": ln.shot_id,
                "character": ln.character,
                "source": ln.source,
                "voice": ln.voice,
                "start_s": round(ln.start_s, 3),
                "spoken_s": None if ln.spoken_s is None else round(ln.spoken_s, 3),
                "tempo": ln.tempo,
                "cost_usd": ln.cost_usd,
                "cached": ln.cached,
                "note": ln.note,
            }
            for ln in lines
        ],
    }


def finish_document(
    decisions: Sequence[EditDecision], edit: Edit, files: Mapping[str, str], *, poster_shot: str
) -> dict[str, Any]:
    """The finish as delivered: every transition at its place in the cut, subtitles, extra frames."""
    return {
        "transitions": [
            {"into": d.shot.id, "kind": d.transition_in, "frames": d.overlap_in, "at_s": round(d.start_s, 3)}
            for d in decisions
            if d.overlap_in
        ],
        "burned_subtitles": edit.burn_subtitles,
        "reframes": {
            ratio: Path(files[REFRAMED[ratio]]).name for ratio in edit.reframes if REFRAMED[ratio] in files
        },
        "poster_shot": poster_shot,
    }


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
