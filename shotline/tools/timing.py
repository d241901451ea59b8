"""How long words take to say, and when each speech sits inside its shot.

One place for reading speed, so shot durations, animatic captions and subtitles agree.
"""

from __future__ import annotations

from shotline.memory.models import Shot
from shotline.tools.text import CJK_RE

WORDS_PER_SECOND = 2.6  # unhurried screen dialogue
CJK_CHARS_PER_SECOND = 4.5
SPEECH_GAP_S = 0.25


def reading_seconds(text: str) -> float:
    """Seconds to speak `text` aloud; CJK counted by character, other scripts by word."""
    cjk = len(CJK_RE.findall(text))
    words = len(CJK_RE.sub(" ", text).split())
    return cjk / CJK_CHARS_PER_SECOND + words / WORDS_PER_SECOND


def speech_windows(shot: Shot) -> list[tuple[float, float]]:
    """(start_s, end_s) for each line of `shot.dialogue`, proportional to its reading time."""
    if not shot.dialogue:
        return []
    needs = [max(reading_seconds(d.text), 0.6) for d in shot.dialogue]
    usable = max(shot.duration_s - SPEECH_GAP_S * (len(needs) + 1), 0.5 * shot.duration_s)
    scale = usable / sum(needs)
    gap = (shot.duration_s - usable) / (len(needs) + 1)
    windows, t = [], gap
    for need in needs:
        end = t + need * scale
        windows.append((round(t, 3), round(min(end, shot.duration_s), 3)))
        t = end + gap
    return windows
