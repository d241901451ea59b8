"""The studio in a real browser (issue 6): Debian's headless Chromium, driven by Playwright, against
the app as it is served (`create_app(..., ui=True)` under uvicorn on loopback, signed in at /ui with
a user name and an API token).

One sitting, as a person works: sign in (a wrong token is refused), open a project on a priced model
(so every render asks first), attach the screenplay, approve the estimate, follow the render in the
chat (one line per shot; no approval buttons while it works), see the storyboard, open the cut's tab
and play it, then say "make Mei's jacket red" and approve again. Only her six shots may render
afresh, with new frames; the other four must come from the cache, and the storyboard says so.

A screenshot of every step (and of the page as it was when a step failed) goes to
$SHOTLINE_TEST_ARTIFACTS/browser/ when that is set, else to the test's tmp_path; the folder is printed.

Playwright cannot download its own browsers here, so the test launches the system's `chromium`
(`.ci/run` installs it) and is skipped, saying why, where there is none.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from pydantic import SecretStr

from shotline.agents.graph import Crew
from shotline.config import Settings
from shotline.ui.api import create_app
from tests.conftest import FIXTURES
from tests.integration.test_api import PaidAnimatic, Server

USER, TOKEN = "alice", "alice-browser-token-123"
ALL = set(range(1, 11))
MEI = {2, 4, 5, 8, 9, 10}  # her shots in courier.fountain
SECOND = 1_000  # Playwright counts in milliseconds
RENDER_WAIT = 240 * SECOND  # ten animatic shots take ~25 s on two busy cores; leave room
# "4 · two-shot · 2.5 s · paid · $0.13", and " · cached" for a take the cache gave back
CAPTION = re.compile(r"^(\d+) · [\w-]+ · [\d.]+ s · (\w+) · \$(\d+\.\d\d)( · cached)?$")
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no chromium on PATH (apt-get install chromium; .ci/run does): "
        "Playwright cannot download its own browser here",
    ),
]


@dataclass(frozen=True)
class Tile:
    """A storyboard tile: the take's model, its cost, whether the cache gave it, the still's URL."""

    model: str
    usd: float
    cached: bool
    still: str


class Sitting:
    """The page, plus a numbered screenshot after every step and one of the page where a step failed."""

    def __init__(self, page: Page, folder: Path) -> None:
        self.page, self.folder, self.n = page, folder, 0
        self.errors: list[str] = []  # uncaught JavaScript errors
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        self.n += 1
        try:
            yield
        except BaseException:
            self.snap(f"{self.n:02d}-{name}-FAILED")
            (self.folder / f"{self.n:02d}-{name}-FAILED.html").write_text(self.page.content(), "utf-8")
            raise
        self.snap(f"{self.n:02d}-{name}")

    def snap(self, name: str) -> None:
        self.page.screenshot(path=self.folder / f"{name}.png", full_page=True)

    # --- what the page shows --------------------------------------------------------------------

    @property
    def captions(self) -> Locator:
        return self.page.locator("#storyboard .caption-label")

    def tab(self, name: str) -> None:
        self.page.get_by_role("tab", name=name).click()

    def board(self) -> dict[int, Tile]:
        """Every rendered shot as the storyboard shows it now, by number."""
        self.tab("Storyboard")
        expect(self.captions).to_have_count(10)
        tiles = self.page.locator("#storyboard .thumbnail-item")
        shown = {}
        for i in range(tiles.count()):
            caption = tiles.nth(i).locator(".caption-label").inner_text()
            parts = CAPTION.match(caption)
            assert parts, f"not a rendered shot's caption: {caption!r}"
            still = tiles.nth(i).locator("img").get_attribute("src") or ""
            assert still, caption
            shown[int(parts[1])] = Tile(parts[2], float(parts[3]), bool(parts[4]), still)
        return shown

    def finished(self, version: int) -> None:
        """Wait for the turn to end: the director's closing reply for `version`, nothing streaming."""
        said = self.page.locator("#chat").get_by_text(re.compile(rf"^Version {version}: "))
        expect(said.last).to_be_visible(timeout=RENDER_WAIT)
        expect(self.page.locator(".generating")).to_have_count(0)

    def cut(self, *, not_src: str = "") -> str:
        """The player's source once the Cut tab is opened (a new film when `not_src` is given)."""
        self.tab("Cut")
        video = self.page.locator("#cut video")
        expect(video).to_have_attribute("src", re.compile(r"/final\.mp4$"))
        if not_src:
            expect(video).not_to_have_attribute("src", not_src)
        return video.get_attribute("src") or ""

    def working(self) -> None:
        """While a render works: a progress bubble with one line per shot (not a line per event),
        and nothing shown as waiting for approval. A turn that ends before the bubble has three
        shot lines (a much faster machine) leaves nothing to check here."""
        text = self.page.wait_for_function(
            r"""() => { const chat = document.querySelector('#chat').innerText;
                        if ((chat.match(/^shot \d+: /gm) || []).length >= 3) return chat;
                        return document.querySelector('.generating') ? false : ''; }""",
            timeout=RENDER_WAIT,
        ).json_value()
        if not text:
            return
        assert not self.page.locator("#approval").is_visible(), "approval buttons shown while rendering"
        assert "waits for your approval" not in self.page.locator("#cost").inner_text()
        shots = re.findall(r"^shot \d+: .*$", text, re.MULTILINE)
        assert len(shots) == len(set(shots)), f"one line per shot, updated in place: {shots}"

    def send(self, text: str = "", attach: Path | None = None) -> None:
        box = self.page.locator("#message")
        if attach is not None:
            box.locator("input[type=file]").set_input_files(attach)
            expect(box.get_by_role("listitem", name="File thumbnail")).to_have_count(1)  # uploaded
        if text:
            box.locator("textarea").fill(text)
        submit = box.get_by_role("button", name="Submit")
        expect(submit).to_be_enabled()
        submit.click()

    def approval(self) -> str:
        """Wait for the approval request; returns what the director asked."""
        expect(self.page.locator("#approve")).to_be_visible(timeout=RENDER_WAIT)
        asked = self.page.locator("#chat").get_by_text(re.compile(r"^Rendering \d+ shots on ")).last
        expect(asked).to_be_visible()
        return asked.inner_text()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    root = os.environ.get("SHOTLINE_TEST_ARTIFACTS")
    folder = (Path(root) / "browser" if root else tmp_path / "artifacts").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("[0-9][0-9]-*"):
        old.unlink()  # screenshots of an earlier run
    print(f"\nbrowser screenshots: {folder}")
    return folder


@pytest.fixture
def studio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The API and the /ui studio under uvicorn on loopback; a priced model so renders ask first."""
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    settings = Settings(home=tmp_path / "home", api_tokens=SecretStr(f"{USER}:{TOKEN}"))
    crew = Crew(settings=settings, models={"paid": PaidAnimatic()})
    with Server(create_app(settings, crew, ui=True)) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def test_a_person_makes_a_film_in_the_browser_and_recolours_a_character(
    studio: str, browser: Browser, artifacts: Path
):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30 * SECOND)
    expect.set_options(timeout=30 * SECOND)
    me = Sitting(page, artifacts)

    with me.step("sign-in"):
        page.goto(f"{studio}/ui/", wait_until="domcontentloaded")  # not waiting on any web fonts
        page.get_by_label("username").fill(USER)
        page.get_by_label("password").fill("not-the-token")
        page.get_by_role("button", name="Login").click()
        expect(page.get_by_text("Incorrect Credentials")).to_be_visible()
        page.get_by_label("username").fill(USER)  # the form forgets it after a refusal
        page.get_by_label("password").fill(TOKEN)
        page.get_by_role("button", name="Login").click()
        expect(page.locator("#cost")).to_have_text("No project open.")

    with me.step("new-project"):
        page.get_by_label("Video model").click()
        page.get_by_role("option", name="paid").click()  # the crew's priced model is offered
        page.locator("#new-project").click()
        expect(page.locator("#cost")).to_contain_text("version 0 · paid")
        expect(page.get_by_label("Project")).not_to_have_value("")

    with me.step("screenplay-attached"):
        me.send(attach=FIXTURES / "courier.fountain")
        asked = me.approval()
        assert {int(n) for n in re.findall(r"shot (\d+) \$", asked)} == ALL, asked
        expect(page.locator("#cost")).to_contain_text("waits for your approval")
        expect(page.locator("#cost")).to_contain_text("Spent $0.00")
        expect(me.captions.filter(has_text="waiting for approval")).to_have_count(10)

    with me.step("rendering"):
        page.locator("#approve").click()
        me.working()

    with me.step("rendered"):
        me.finished(version=1)
        first = me.board()  # the storyboard tab was showing all along; the cut's tab not yet opened
        assert all(t.model == "paid" and t.usd > 0 and not t.cached for t in first.values()), first
        expect(page.locator("#cost")).not_to_contain_text("Spent $0.00")
        first_cut = me.cut()

    with me.step("playing"):
        duration = page.evaluate(
            """async () => { const v = document.querySelector('#cut video');
                             v.muted = true; await v.play(); return v.duration; }"""
        )
        assert duration > 10, duration  # ten shots, ~48 s
        page.wait_for_function(
            "() => { const v = document.querySelector('#cut video'); return v.currentTime > 0.5 && !v.paused; }",
            timeout=20 * SECOND,
        )
        assert page.evaluate("() => document.querySelector('#cut video').error") is None

    with me.step("recolour-asked"):
        page.evaluate("() => document.querySelector('#cut video').pause()")
        me.tab("Storyboard")
        me.send("make Mei's jacket red")
        asked = me.approval()
        assert {int(n) for n in re.findall(r"shot (\d+) \$", asked)} == MEI, asked

    with me.step("recolouring"):
        page.locator("#approve").click()
        me.working()

    with me.step("recoloured"):
        me.finished(version=2)
        second = me.board()
        fresh = {n for n, t in second.items() if t.usd > 0 and not t.cached}
        cached = {n for n, t in second.items() if t.cached and t.usd == 0}
        assert (fresh, cached) == (MEI, ALL - MEI), second
        redrawn = {n for n in ALL if second[n].still != first[n].still}
        assert redrawn == MEI, f"only Mei's shots may show a new frame, not {sorted(redrawn - MEI)}"
        expect(page.locator("#cost")).to_contain_text("version 2 · paid")
        me.cut(not_src=first_cut)

    assert not me.errors, me.errors
