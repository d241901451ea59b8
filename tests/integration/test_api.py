"""The REST API as a bot uses it: httpx against a real uvicorn server on loopback.

Covers the contract in DESIGN.md: create a project, post a message, follow the events (SSE) to the
end, approve, read state, download files, list history, revert; and what must be refused: no or a
bad token (401), another user's project, files and events (404), oversized or mislabelled uploads
(413/415, nothing stored), names that try to leave the project folder, webhooks to private hosts.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from shotline.agents.graph import Crew
from shotline.config import Settings
from shotline.tools.video.animatic import Animatic
from shotline.ui.api import create_app
from tests.conftest import DELIVERABLES, FIXTURES

COURIER = (FIXTURES / "courier.fountain").read_text("utf-8")
ALICE, BOB = "alice-token-123", "bob-token-4567"
MEI = {"002", "004", "005", "008", "009", "010"}


class PaidAnimatic(Animatic):
    card = Animatic.card.model_copy(update={"name": "paid", "local": False, "usd_per_second": 0.05})
    cards = (card,)


class Server:
    def __init__(self, app) -> None:
        self.config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def base(home: Path) -> Iterator[str]:
    settings = Settings(home=home, api_tokens=SecretStr(f"alice:{ALICE},bob:{BOB}"), upload_max_bytes=200_000)
    crew = Crew(settings=settings, models={"paid": PaidAnimatic()})
    with Server(create_app(settings, crew)) as url:
        yield url


def client(base: str, token: str | None = ALICE) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base, headers=headers, timeout=120)


def follow(http: httpx.Client, pid: str, after: int) -> list[tuple[str, dict, int]]:
    """Every event of the turn, in order, until the stream ends."""
    events: list[tuple[str, dict, int]] = []
    fields: dict[str, str] = {}
    with http.stream("GET", f"/v1/projects/{pid}/events", params={"after": after}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if "data" in fields:
                    events.append(
                        (fields.get("event", "message"), json.loads(fields["data"]), int(fields["id"]))
                    )
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
    return events


def turn(http: httpx.Client, pid: str, path: str, body: dict) -> list[tuple[str, dict, int]]:
    accepted = http.post(f"/v1/projects/{pid}/{path}", json=body)
    assert accepted.status_code == 202, accepted.text
    events = follow(http, pid, accepted.json()["after"])
    assert events[-1][0] in {"done", "waiting", "error"}, events[-1]
    seqs = [s for _, _, s in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # numbered, none lost or repeated
    return events


def test_a_bot_makes_a_film_revises_it_and_goes_back(base: str):
    with client(base) as http:
        created = http.post("/v1/projects", json={"provider": "paid", "ratio": "16:9"})
        assert created.status_code == 201, created.text
        pid = created.json()["id"]

        events = turn(http, pid, "messages", {"text": COURIER})
        assert events[-1][0] == "waiting"
        approval = events[-1][1]["approval"]
        assert approval["estimate_usd"] > 0 and len(approval["per_shot_usd"]) == 10
        state = http.get(f"/v1/projects/{pid}").json()
        assert state["waiting"] and state["spent_usd"] == 0

        events = turn(http, pid, "approval", {"approve": True})
        assert events[-1][0] == "done"
        assert any(kind == "progress" and e.get("stage") == "render" for kind, e, _ in events)
        state = http.get(f"/v1/projects/{pid}").json()
        assert state["version"] == 1 and state["cut"] and state["spent_usd"] > 0
        names = {f["name"] for f in http.get(f"/v1/projects/{pid}/files").json()}
        assert names == set(DELIVERABLES)
        film = http.get(f"/v1/projects/{pid}/files/final.mp4")
        assert film.status_code == 200 and film.content[4:8] == b"ftyp"

        events = turn(http, pid, "messages", {"text": "make Mei's jacket red everywhere"})
        assert set(events[-1][1]["approval"]["per_shot_usd"]) == MEI
        turn(http, pid, "approval", {"approve": True, "budget_usd": 100})
        events = turn(http, pid, "messages", {"text": "shot 4 shorter"})
        assert events[-1][0] == "done"
        assert not any(e.get("stage") == "render" for _, e, _ in events)  # a trim renders nothing

        history = http.get(f"/v1/projects/{pid}/history").json()
        assert [h["version"] for h in history] == [0, 1, 2, 3] and history[-1]["current"]
        turn(http, pid, "revert", {"version": 1})
        assert http.get(f"/v1/projects/{pid}").json()["version"] == 1
        old = http.get(f"/v1/projects/{pid}/files/final.mp4", params={"version": 3})
        assert old.status_code == 200  # a later version's files stay downloadable


def test_tokens_are_required_and_projects_are_private(base: str):
    with client(base) as alice, client(base, BOB) as bob, client(base, None) as nobody:
        assert nobody.get("/v1/projects").status_code == 401
        assert nobody.get("/v1/projects").headers["www-authenticate"] == "Bearer"
        with client(base, "not-a-real-token") as stranger:
            response = stranger.post("/v1/projects", json={})
            assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
        pid = alice.post("/v1/projects", json={}).json()["id"]
        turn(alice, pid, "messages", {"text": COURIER})
        for path in ("", "/files", "/files/final.mp4", "/events", "/history"):
            assert bob.get(f"/v1/projects/{pid}{path}").status_code == 404, path
        assert bob.post(f"/v1/projects/{pid}/messages", json={"text": "undo"}).status_code == 404
        assert bob.get("/v1/projects").json() == []
        assert alice.get("/v1/projects").json() == [pid]


def test_uploads_are_checked_by_content_and_never_stored_by_name(base: str, home: Path):
    with client(base) as http:
        pid = http.post("/v1/projects", json={}).json()["id"]
        uploads = home / "projects" / pid / "uploads"
        big = http.post(f"/v1/projects/{pid}/uploads", files={"file": ("big.fountain", b"a" * 300_000)})
        assert big.status_code == 413
        fake = http.post(
            f"/v1/projects/{pid}/uploads",
            files={"file": ("face.png", b"%PDF-1.7 not an image", "image/png")},
            data={"kind": "reference"},
        )
        assert fake.status_code == 415
        binary = http.post(f"/v1/projects/{pid}/uploads", files={"file": ("s.fountain", b"\x00\x01\x02")})
        assert binary.status_code == 415
        assert not uploads.exists() or not any(uploads.iterdir())  # nothing refused was stored
        sneaky = http.post(
            f"/v1/projects/{pid}/uploads",
            files={"file": ("../../etc/passwd", COURIER.encode(), "text/plain")},
        )
        assert sneaky.status_code == 201
        stored = list(uploads.iterdir())
        assert [p.name for p in stored] == [sneaky.json()["stored_as"]] and stored[0].suffix == ".fountain"
        assert not (home / "etc").exists() and not (home / "projects" / "etc").exists()
        for name in ("../../etc/passwd", "..%2F..%2Fcheckpoints.sqlite", "%2e%2e/studio.sqlite"):
            assert http.get(f"/v1/projects/{pid}/files/{name}").status_code == 404


def test_webhooks_refuse_private_addresses_and_bad_input_is_one_clear_line(base: str):
    with client(base) as http:
        for url in (
            "http://example.com/hook",
            "https://127.0.0.1/hook",
            "https://10.0.0.7/x",
            "https://localhost/x",
        ):
            response = http.post("/v1/projects", json={"webhook_url": url})
            assert response.status_code == 422 and "webhook_url" in response.json()["error"]["message"], url
        unknown = http.post("/v1/projects", json={"provider": "nosuchmodel"})
        assert unknown.status_code in {400, 422} and "nosuchmodel" in unknown.json()["error"]["message"]
        assert http.get("/v1/openapi.json").json()["info"]["title"] == "Shotline"


def test_a_bot_adds_music_asks_for_a_vertical_version_and_downloads_it(base: str, tmp_path: Path):
    short = (FIXTURES / "short.fountain").read_text("utf-8")
    bed = tmp_path / "bed.wav"
    import subprocess

    from shotline.tools.ffmpeg import ffmpeg_exe

    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=220:d=2", str(bed)], check=True
    )
    with client(base) as http:
        pid = http.post("/v1/projects", json={"provider": "animatic"}).json()["id"]
        assert turn(http, pid, "messages", {"text": short})[-1][0] == "done"

        noise = http.post(f"/v1/projects/{pid}/uploads", files={"file": ("x.mp3", b"ID3" + b"\x00" * 500)},
                          data={"kind": "music"})  # fmt: skip
        assert noise.status_code == 415 and noise.json()["error"]["code"] == "unsupported_type"
        up = http.post(f"/v1/projects/{pid}/uploads", files={"file": ("bed.wav", bed.read_bytes())},
                       data={"kind": "music"})  # fmt: skip
        assert up.status_code == 201, up.text
        events = follow(http, pid, 0)
        assert events[-1][0] == "done", events[-1]
        report = http.get(f"/v1/projects/{pid}/files/report.json").json()
        assert report["sound"]["music"] == up.json()["stored_as"]

        assert turn(http, pid, "messages", {"text": "make a square version"})[-1][0] == "done"
        names = {f["name"] for f in http.get(f"/v1/projects/{pid}/files").json()}
        assert names == {*DELIVERABLES, "final_1x1.mp4"}
        square = http.get(f"/v1/projects/{pid}/files/final_1x1.mp4")
        assert square.status_code == 200 and square.content[4:8] == b"ftyp"
        assert http.get(f"/v1/projects/{pid}/files/final_9x16.mp4").status_code == 404
