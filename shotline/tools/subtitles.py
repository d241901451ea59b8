"""Dialogue subtitles for the cut, as SubRip (.srt).

Each line of dialogue is placed where the animatic and the voice timing put it
(`tools.timing.speech_windows`), shifted by its shot's start in the cut (`EditDecision`), so the
sidecar subtitles line up with the film.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shotline.memory.models import Breakdown
from shotline.tools.timeline import EditDecision
from shotline.tools.timing import speech_windows


@dataclass(frozen=True)
class Cue:
    """One subtitle: who says what, and when, in seconds from the start of the cut."""

    start_s: float
    end_s: float
    speaker: str
    text: str

    @property
    def caption(self) -> str:
        return f"{self.speaker}: {self.text}" if self.speaker else self.text


def dialogue_cues(decisions: Sequence[EditDecision], breakdown: Breakdown) -> list[Cue]:
    """A cue per dialogue line, in cut order, kept inside its shot even if the cut rounded it shorter."""
    names = {character.id: character.name for character in breakdown.characters}
    cues: list[Cue] = []
    for decision in decisions:
        windows = speech_windows(decision.shot)
        for line, (start, end) in zip(decision.shot.dialogue, windows, strict=True):
            cue_start = decision.start_s + start
            cue_end = min(decision.start_s + end, decision.end_s)
            text = " ".join(line.text.split())  # a blank line would end the SRT cue early
            cues.append(Cue(cue_start, cue_end, names.get(line.character, line.character), text))
    return cues


def srt_timestamp(seconds: float) -> str:
    """`HH:MM:SS,mmm`, the SubRip time format."""
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{ms:03d}"


def to_srt(cues: Sequence[Cue]) -> str:
    """The SubRip document for `cues`: numbered blocks separated by blank lines."""
    blocks = [
        f"{i}\n{srt_timestamp(cue.start_s)} --> {srt_timestamp(cue.end_s)}\n{cue.caption}\n"
        for i, cue in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)
