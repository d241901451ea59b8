"""The continuity page: one row per shot, images that resolve, text that stays text."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from shotline.memory.models import RESOLUTIONS, Breakdown, Character, Location, Scene, Shot, Storyboard
from shotline.tools.image.base import ImageRequest, SheetSubject
from shotline.tools.image.local import render_png
from shotline.tools.qc import TakeVerdict
from shotline.tools.report_page import write_continuity_page
from shotline.tools.video.animatic import render_animatic
from shotline.tools.video.base import Figure, MediaRef, RenderRequest, ShotVisual

RED = "#c03030"
MEI = Character(id="mei", name="美", description="穿红色雨衣的快递员", color=RED)
ALLEY = Location(
    id="alley", name="RAINY ALLEY", interior="EXT", description="a narrow wet alley", color="#405060"
)
SCENE = Scene(
    id="sc1", number=1, heading="EXT. RAINY ALLEY - NIGHT", location="alley", interior="EXT",
    time_of_day="NIGHT", night=True, line=1,
)  # fmt: skip
BREAKDOWN = Breakdown(title="雨夜", language="zh", scenes=[SCENE], characters=[MEI], locations=[ALLEY])


def shot(sid: str, action: str) -> Shot:
    return Shot(
        id=sid, number=int(sid), scene="sc1", framing="medium", camera="static", duration_s=2.0,
        characters=["mei"], location="alley", action=action,
    )  # fmt: skip


BOARD = Storyboard(shots=[shot("001", "美 waits <script>alert('x')</script> & runs"), shot("002", "她转身")])


def take(tmp_path: Path) -> Path:
    w, h = RESOLUTIONS["16:9"]
    visual = ShotVisual(
        shot_id="001", framing="medium", camera="static", location="RAINY ALLEY", backdrop="#405060",
        interior=False, night=True, figures=(Figure(name="美", color=RED, x=0.4),),
    )  # fmt: skip
    req = RenderRequest(
        shot_id="001", model="animatic", prompt="p", duration_s=1.0, ratio="16:9", width=w, height=h, visual=visual
    )  # fmt: skip
    return render_animatic(req, tmp_path / "takes" / "001.mp4")


def sheet(tmp_path: Path) -> MediaRef:
    png = render_png(
        ImageRequest(
            prompt="s", width=384, height=256, subject=SheetSubject(kind="character", name="美", color=RED)
        )
    )
    path = tmp_path / "bible" / "mei.png"
    path.parent.mkdir(parents=True)
    path.write_bytes(png)
    return MediaRef(sha256="ab" * 32, path=str(path), name="美, reference sheet")


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.srcs += [v for k, v in attrs if k in ("src", "href") and v]


def write(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    ref = sheet(tmp_path)
    verdict = TakeVerdict(
        shot_id="001", take=str(take(tmp_path)), score=0.42, passed=False, similarity=0.42,
        reasons=["the colours of 美, reference sheet are missing from the take (similarity 0.31)"],
        technical={"decodes": True, "duration_s": 1.0},
    )  # fmt: skip
    report = {
        "shots": [
            {"id": "001", "conflicts": [{"message": "shot says blue coat <b>, bible says 红色雨衣"}]},
            {"id": "002", "conflicts": []},
        ]
    }
    return write_continuity_page(
        out,
        storyboard=BOARD,
        breakdown=BREAKDOWN,
        report=report,
        verdicts={"001": verdict},
        references={"001": [ref], "002": [ref]},
    )


def test_page_has_a_row_per_shot_with_facts_conflicts_and_qc(tmp_path: Path) -> None:
    page = write(tmp_path)
    assert page == tmp_path / "out" / "continuity.html"
    html = page.read_text("utf-8")
    assert '<meta charset="utf-8">' in html
    for sid in ("001", "002"):
        assert f'id="shot-{sid}"' in html
    assert "穿红色雨衣的快递员" in html and "她转身" in html  # Chinese stays readable, not entity soup
    assert "0.42 · failed" in html and "similarity 0.31" in html
    assert "bible says 红色雨衣" in html and "none found" in html  # 002 had no conflicts


def test_every_image_link_resolves_to_a_copied_file(tmp_path: Path) -> None:
    page = write(tmp_path)
    links = Links()
    links.feed(page.read_text("utf-8"))
    assert len(links.srcs) == 3  # the sheet beside shot 001's frame, the sheet again for 002
    for src in links.srcs:
        assert not re.match(r"^[a-z]+:|^/", src)  # relative: the folder can be moved or zipped
        assert (page.parent / src).is_file()
    assert len(list((page.parent / "continuity_assets").iterdir())) == 2  # one sheet, one frame


def test_text_is_escaped_and_the_page_runs_nothing(tmp_path: Path) -> None:
    html = write(tmp_path).read_text("utf-8")
    assert "<script>" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; runs" in html
    assert "blue coat &lt;b&gt;" in html
    links = Links()
    links.feed(html)
    assert links.scripts == 0
    assert "http://" not in html and "https://" not in html


def test_without_verdicts_or_references_the_page_still_reads(tmp_path: Path) -> None:
    page = write_continuity_page(
        tmp_path, storyboard=BOARD, breakdown=BREAKDOWN, report={}, verdicts=None, references={}
    )
    html = page.read_text("utf-8")
    assert html.count("not checked") == 2 and html.count("no images") == 2
