"""The studio driven by a bot through gradio_client, against the real server (the API with the
Gradio app mounted at /ui): sign-in, a project, a screenplay, approval, the cut, a reload.

Why not only the browser test: this checks the Gradio endpoints a script would call, and that each
user sees their own projects only, without a browser in the loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client
from pydantic import SecretStr

from shotline.agents.graph import Crew
from shotline.config import Settings
from shotline.ui.api import create_app
from tests.integration.test_api import COURIER, PaidAnimatic, Server

ALICE, BOB = "alice-token-123", "bob-token-4567"


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    settings = Settings(home=tmp_path / "home", api_tokens=SecretStr(f"alice:{ALICE},bob:{BOB}"))
    crew = Crew(settings=settings, models={"paid": PaidAnimatic()})
    with Server(create_app(settings, crew, ui=True)) as base:
        yield f"{base}/ui/"


def _text(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else " ".join(b.get("text", "") for b in content)


def _captions(gallery: list[dict]) -> list[str]:
    return [tile["caption"] for tile in gallery]


def test_a_bot_makes_a_film_through_the_studio(url: str):
    with pytest.raises(Exception, match=r"(?i)auth|login|401"):
        Client(url, verbose=False)  # no sign-in, no studio
    alice = Client(url, auth=("alice", ALICE), verbose=False)
    project, pid, *_ = alice.predict("paid", "16:9", None, api_name="/new_project")
    assert pid and project["value"] == pid

    outputs = alice.submit({"text": COURIER, "files": []}, pid, api_name="/chat")
    *_, last = list(outputs)
    chat, board, cost = last[3], last[4], last[6]
    assert "Approve?" in _text(chat[-1])
    assert len(board) == 10 and all("waiting for approval" in c for c in _captions(board))
    assert "waits for your approval" in cost

    *_, done = list(alice.submit(pid, api_name="/approve"))
    chat, board, video, cost = done[0], done[1], done[2], done[3]
    assert all("paid · $" in c for c in _captions(board))
    assert str(video.get("value") or video).endswith("final.mp4") or "final.mp4" in str(video)
    assert "version 1" in cost

    reloaded = alice.predict(pid, api_name="/on_load")  # a reload finds the same project, as it was
    assert reloaded[1] == pid and len(reloaded[2]) == len(chat)

    bob = Client(url, auth=("bob", BOB), verbose=False)
    theirs = bob.predict(pid, api_name="/on_load")
    assert theirs[1] != pid and theirs[2] == []  # Bob does not get Alice's project
