"""A webhook is called when a turn ends, with what a bot needs to fetch the result; it is only ever
called on addresses the operator allows (here: loopback, allowed for the test)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from pydantic import SecretStr

from shotline.config import Settings
from shotline.ui.api import create_app
from tests.fakes.server import FakeServer, Recorded, Reply
from tests.integration.test_api import COURIER, Server

TOKEN = "alice-token-123"


def test_the_webhook_hears_when_the_film_is_done(tmp_path: Path):
    heard: list[Recorded] = []

    def receiver(rec: Recorded) -> Reply:
        heard.append(rec)
        return Reply(204)

    settings = Settings(
        home=tmp_path / "home", api_tokens=SecretStr(f"alice:{TOKEN}"), webhook_allow_private=True
    )
    with FakeServer(receiver) as hook, Server(create_app(settings)) as base:
        http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
        pid = http.post("/v1/projects", json={"webhook_url": f"{hook.url}/done"}).json()["id"]
        assert http.post(f"/v1/projects/{pid}/messages", json={"text": COURIER}).status_code == 202
        deadline = time.monotonic() + 120
        while not heard and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(heard) == 1 and heard[0].method == "POST" and heard[0].path == "/done"
    body = heard[0].json()
    assert body == {"project_id": pid, "status": "done", "version": 1, "error": None}
    assert TOKEN not in heard[0].body.decode() and "authorization" not in heard[0].headers
