"""The continuity page: `continuity.html` beside the contact sheet, one row per shot.

A producer opens it in any browser, offline: per shot the facts the prompt used, the conflicts
found before rendering, the QC score and its reasons, and the reference images next to a frame of
the take. Self-contained (inline CSS, no script, no network); images are copied into
`continuity_assets/` and linked relatively, so the output folder can be zipped and sent. Every
piece of text is escaped: a script is data, and an action that says `<script>` shows as words.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from shotline.errors import RenderError
from shotline.memory.models import Breakdown, Shot, Storyboard
from shotline.tools import ffmpeg
from shotline.tools.qc import TakeVerdict
from shotline.tools.video.base import MediaRef

PAGE = "continuity.html"
ASSETS = "continuity_assets"
FRAME_LONG_SIDE = 480

CSS = """
body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;
background:#16161a;color:#ececec}
h1{font-size:20px}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #333;padding:8px;vertical-align:top;text-align:left;font-size:14px}
th{color:#9a9aa6;font-weight:600}.id{font-weight:700;font-size:16px}
.pass{color:#6fd08c}.fail{color:#ff7b72}.flag{color:#f2cc60}.muted{color:#9a9aa6}
img{max-width:240px;max-height:160px;border-radius:4px;display:block;margin-bottom:4px}
figure{display:inline-block;margin:0 8px 8px 0}figcaption{font-size:12px;color:#9a9aa6}
ul{margin:0;padding-left:18px}
"""


def write_continuity_page(
    out_dir: Path,
    *,
    storyboard: Storyboard,
    breakdown: Breakdown,
    report: Mapping[str, Any],
    verdicts: Mapping[str, TakeVerdict] | None,
    references: Mapping[str, Sequence[MediaRef]],
) -> Path:
    """Write `out_dir/continuity.html` (and its images) and return its path."""
    out_dir = Path(out_dir)
    assets = out_dir / ASSETS
    assets.mkdir(parents=True, exist_ok=True)
    by_id = {s.get("id"): s for s in report.get("shots", []) if isinstance(s, Mapping)}
    rows = [
        _row(
            shot,
            breakdown,
            by_id.get(shot.id, {}),
            (verdicts or {}).get(shot.id),
            references.get(shot.id, ()),
            assets,
        )
        for shot in storyboard.shots
    ]
    title = escape(f"{breakdown.title} · continuity")
    page = (
        '<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{CSS}</style></head><body>"
        f"<h1>{title}</h1><table><thead><tr><th>Shot</th><th>Facts used</th>"
        "<th>Before rendering</th><th>QC</th><th>References and take</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></body></html>\n"
    ).replace("{lang}", escape(breakdown.language or "en"))
    path = out_dir / PAGE
    part = path.with_name(path.name + ".part")
    part.write_text(page, "utf-8")
    part.replace(path)
    return path


def _row(
    shot: Shot,
    breakdown: Breakdown,
    reported: Mapping[str, Any],
    verdict: TakeVerdict | None,
    refs: Sequence[MediaRef],
    assets: Path,
) -> str:
    cells = [
        f'<td><div class="id">{escape(shot.id)}</div>{escape(shot.framing)} · {escape(shot.camera)}'
        f'<div class="muted">{shot.duration_s:.1f} s</div></td>',
        f"<td>{_facts(shot, breakdown)}</td>",
        f"<td>{_conflicts(reported.get('conflicts', []))}</td>",
        f"<td>{_qc(verdict)}</td>",
        f"<td>{_pictures(shot, verdict, refs, assets)}</td>",
    ]
    return f'<tr id="shot-{escape(shot.id)}">{"".join(cells)}</tr>'


def _facts(shot: Shot, breakdown: Breakdown) -> str:
    """The bible's words the prompt carried: each character in frame, then the set."""
    items = []
    for cid in shot.characters:
        c = next((c for c in breakdown.characters if c.id == cid), None)
        if c is not None:
            items.append(f"<li><b>{escape(c.name)}</b>: {escape(c.description)}</li>")
    loc = next((loc for loc in breakdown.locations if loc.id == shot.location), None)
    if loc is not None:
        items.append(f"<li><b>{escape(loc.name)}</b>: {escape(loc.description)}</li>")
    action = f'<div class="muted">{escape(shot.action)}</div>' if shot.action else ""
    return f"<ul>{''.join(items)}</ul>{action}"


def _conflicts(conflicts: Sequence[Any]) -> str:
    if not conflicts:
        return '<span class="pass">none found</span>'
    messages = [c.get("message", "") if isinstance(c, Mapping) else str(c) for c in conflicts]
    return '<ul class="fail">' + "".join(f"<li>{escape(m)}</li>" for m in messages) + "</ul>"


def _qc(verdict: TakeVerdict | None) -> str:
    if verdict is None:
        return '<span class="muted">not checked</span>'
    if verdict.flagged:
        word, css = "flagged for review", "flag"
    else:
        word, css = ("passed", "pass") if verdict.passed else ("failed", "fail")
    sim = (
        "" if verdict.similarity is None else f'<div class="muted">similarity {verdict.similarity:.2f}</div>'
    )
    reasons = "".join(f"<li>{escape(r)}</li>" for r in verdict.reasons)
    return f'<div class="{css}">{verdict.score:.2f} · {word}</div>{sim}<ul>{reasons}</ul>'


def _pictures(shot: Shot, verdict: TakeVerdict | None, refs: Sequence[MediaRef], assets: Path) -> str:
    figures = []
    for ref in refs:
        name = _copy_reference(ref, assets)
        if name is not None:
            figures.append(_figure(name, ref.name or "reference"))
    frame = _take_frame(shot, verdict, assets)
    if frame is not None:
        figures.append(_figure(frame, "frame from the take"))
    return "".join(figures) or '<span class="muted">no images</span>'


def _figure(name: str, caption: str) -> str:
    src = escape(f"{ASSETS}/{name}", quote=True)
    alt = escape(caption, quote=True)
    return f'<figure><img src="{src}" alt="{alt}"><figcaption>{escape(caption)}</figcaption></figure>'


def _copy_reference(ref: MediaRef, assets: Path) -> str | None:
    """Copy a reference image under a content name (one copy however many shots use it)."""
    if ref.kind != "image" or not ref.path or not Path(ref.path).is_file():
        return None
    source = Path(ref.path)
    digest = ref.sha256 if len(ref.sha256) >= 16 and ref.sha256.isalnum() else _sha256(source)
    name = f"ref-{digest[:16]}{source.suffix.lower() or '.png'}"
    if not (assets / name).exists():
        shutil.copyfile(source, assets / name)
    return name


def _take_frame(shot: Shot, verdict: TakeVerdict | None, assets: Path) -> str | None:
    """A still from the middle of the take QC looked at; None when there is none to show."""
    if verdict is None or not Path(verdict.take).is_file():
        return None
    duration = verdict.technical.get("duration_s", shot.duration_s)
    try:
        still = ffmpeg.grab_frame(Path(verdict.take), float(duration) / 2)  # type: ignore[arg-type]
    except RenderError:
        return None
    still = still.convert("RGB")
    still.thumbnail((FRAME_LONG_SIDE, FRAME_LONG_SIDE))
    name = f"take-{_safe(shot.id)}.jpg"
    still.save(assets / name, format="JPEG", quality=85)
    return name


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text) or "shot"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
