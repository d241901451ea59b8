"""Benchmark: parse + breakdown + storyboard of a 120-page screenplay built from the sample.

Prints JSON. Target: under 2 s on 2 cores.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from shotline.agents.breakdown import break_down
from shotline.agents.coverage import plan_shots
from shotline.tools.fountain import parse

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "last_delivery.fountain"
LINES_PER_PAGE = 55
# a feature has a cast of dozens, not three: every tenth of the script brings new people
CASTS = [
    ("MEI", "OLD TAN", "KAITO"), ("ROSA", "OLD BRUNO", "IDRIS"), ("LENA", "OLD MAREK", "TOMAS"),
    ("AIKO", "OLD JUN", "RENJI"), ("NORA", "OLD SAUL", "FELIX"), ("ZARA", "OLD OMAR", "KOFI"),
    ("INES", "OLD PAU", "DIEGO"), ("HANA", "OLD GIL", "YURI"), ("VERA", "OLD ABE", "NICO"),
    ("ELLA", "OLD CY", "RAFE"),
]  # fmt: skip


def build_screenplay(pages: int) -> str:
    """The sample's body repeated with fresh set names until it fills `pages` pages."""
    text = SAMPLE.read_text("utf-8")
    title, body = text.split("\n\n", 1)
    chunks, n = [title, ""], 0
    while sum(c.count("\n") + 1 for c in chunks) < pages * LINES_PER_PAGE:
        n += 1
        block = re.sub(r"^(INT|EXT)\. ([A-Z ]+) -", rf"\1. \2 {n} -", body, flags=re.MULTILINE)
        for old, new in zip(CASTS[0], CASTS[n * 10 // 130 % len(CASTS)], strict=True):
            block = block.replace(old, new).replace(old.title(), new.title())
        chunks.append(block)
    return "\n\n".join(chunks)


def main() -> None:
    script = build_screenplay(120)
    t0 = time.perf_counter()
    play = parse(script)
    t1 = time.perf_counter()
    breakdown = break_down(play)
    t2 = time.perf_counter()
    board = plan_shots(breakdown)
    t3 = time.perf_counter()
    print(
        json.dumps(
            {
                "benchmark": "breakdown_120_pages",
                "pages": 120,
                "lines": script.count("\n") + 1,
                "scenes": len(breakdown.scenes),
                "characters": len(breakdown.characters),
                "shots": len(board.shots),
                "parse_s": round(t1 - t0, 3),
                "breakdown_s": round(t2 - t1, 3),
                "storyboard_s": round(t3 - t2, 3),
                "total_s": round(t3 - t0, 3),
                "target_s": 2.0,
                "ok": (t3 - t0) < 2.0,
            }
        )
    )


if __name__ == "__main__":
    main()
