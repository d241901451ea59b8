"""Runway wrapper contract: the exact requests it sends, and how it reads every documented answer.

Everything runs against `FakeRunway` on a real loopback HTTP server (tests/fakes/runway.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from PIL import Image

from shotline.config import Settings
from shotline.errors import (
    ProviderError,
    ProviderUnavailable,
    RefusedPrompt,
    TransientProviderError,
    UnknownOutcome,
)
from shotline.tools.ffmpeg import probe
from shotline.tools.video.base import MediaRef, RenderRequest, TaskStatus, VideoModel
from shotline.tools.video.runway import API_VERSION, Runway
from tests.fakes.runway import STATUSES, FakeRunway
from tests.fakes.server import FakeServer, Reply

KEY = "key_runway-test-9f8e7d6c5b4a39281706"
T = TypeVar("T")
Serve = Callable[[FakeRunway], FakeServer]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    """One loopback server for the module; each test puts its own fake behind it."""
    with FakeServer(FakeRunway(api_key=KEY)) as srv:
        yield srv


@pytest.fixture
def serve(server: FakeServer) -> Serve:
    def use(fake: FakeRunway) -> FakeServer:
        server.handler = fake
        server.requests.clear()
        return server

    return use


def run(server: FakeServer, body: Callable[[Runway, FakeServer], Awaitable[T]], **kw: Any) -> T:
    """Build the wrapper against the fake and run `body(wrapper, server)` in one event loop."""

    async def main() -> T:
        runway = Runway(api_key=kw.pop("api_key", KEY), base_url=server.url, **kw)
        try:
            return await body(runway, server)
        finally:
            await runway.aclose()

    return asyncio.run(main())


def request(**over: Any) -> RenderRequest:
    base: dict[str, Any] = {
        "shot_id": "012",
        "model": "runway",
        "prompt": "MEI turns from the rain-streaked window and smiles.",
        "duration_s": 5.0,
        "ratio": "16:9",
        "width": 1280,
        "height": 720,
    }
    return RenderRequest(**{**base, **over})


def keyframe(tmp_path: Path, name: str, role: str = "first_frame", url: str | None = None) -> MediaRef:
    """A real PNG on disk (sent inline as a data URI) or, with `url`, a hosted one."""
    path = tmp_path / f"{name}.png"
    Image.new("RGB", (64, 36), (200, 120, 40)).save(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return MediaRef(role=role, sha256=digest, path=str(path), url=url, name=name)  # type: ignore[arg-type]


# --- requests ------------------------------------------------------------------------------


def test_text_to_video_sends_the_documented_request(serve: Serve) -> None:
    fake = FakeRunway(api_key=KEY)
    task_id = run(serve(fake), lambda r, s: r.submit(request(seed=7)))
    (call,) = fake_calls(fake)
    assert call["endpoint"] == "/v1/text_to_video"
    assert call["body"] == {
        "model": "gen4.5",
        "promptText": "MEI turns from the rain-streaked window and smiles.",
        "ratio": "1280:720",
        "duration": 5,
        "seed": 7,
    }
    assert task_id in fake.tasks


def test_every_call_carries_bearer_key_and_api_version(serve: Serve) -> None:
    fake = FakeRunway(api_key=KEY, statuses=("SUCCEEDED",))

    async def body(runway: Runway, server: FakeServer) -> None:
        task_id = await runway.submit(request())
        await runway.poll(task_id)
        for rec in server.requests:
            assert rec.headers["authorization"] == f"Bearer {KEY}"
            assert rec.headers["x-runway-version"] == API_VERSION == "2024-11-06"
        assert [(r.method, r.path) for r in server.requests] == [
            ("POST", "/v1/text_to_video"),
            ("GET", f"/v1/tasks/{task_id}"),
        ]

    run(serve(fake), body)


def test_first_frame_goes_to_image_to_video_as_prompt_image(tmp_path: Path, serve: Serve) -> None:
    hosted = keyframe(tmp_path, "mei_start", url="https://cdn.example.com/mei_start.png")
    fake = FakeRunway(api_key=KEY)
    run(serve(fake), lambda r, s: r.submit(request(first_frame=hosted, ratio="1:1", duration_s=3.2)))
    (call,) = fake_calls(fake)
    assert call["endpoint"] == "/v1/image_to_video"
    assert call["body"] == {
        "model": "gen4.5",
        "promptText": "MEI turns from the rain-streaked window and smiles.",
        "ratio": "960:960",  # 1:1 exists on image_to_video only
        "duration": 4,  # whole seconds, rounded up: never shorter than the shot
        "promptImage": [{"uri": "https://cdn.example.com/mei_start.png", "position": "first"}],
    }


def test_a_local_keyframe_is_sent_inline_as_a_data_uri(tmp_path: Path, serve: Serve) -> None:
    local = keyframe(tmp_path, "mei_start")
    fake = FakeRunway(api_key=KEY)
    run(serve(fake), lambda r, s: r.submit(request(first_frame=local)))
    (call,) = fake_calls(fake)
    uri = call["body"]["promptImage"][0]["uri"]
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == Path(local.path or "").read_bytes()


def test_first_and_last_frame_on_veo31_with_audio_and_1080p(tmp_path: Path, serve: Serve) -> None:
    first = keyframe(tmp_path, "door_open", url="https://cdn.example.com/a.png")
    last = keyframe(tmp_path, "door_shut", role="last_frame", url="https://cdn.example.com/b.png")
    fake = FakeRunway(api_key=KEY)
    req = request(
        first_frame=first, last_frame=last, ratio="9:16", resolution="1080p", audio=True, seed=3, duration_s=5
    )
    run(serve(fake), lambda r, s: r.submit(req), model_id="veo3.1")
    (call,) = fake_calls(fake)
    assert call["endpoint"] == "/v1/image_to_video"
    assert call["body"] == {
        "model": "veo3.1",
        "promptText": req.prompt,
        "ratio": "1080:1920",
        "duration": 6,  # veo3.1 makes 4, 6 or 8 s: the shortest that covers 5 s
        "audio": True,
        "promptImage": [
            {"uri": "https://cdn.example.com/a.png", "position": "first"},
            {"uri": "https://cdn.example.com/b.png", "position": "last"},
        ],
    }  # no seed: the card says veo3.1 takes none here


def test_references_are_refused_before_any_request(tmp_path: Path, serve: Serve) -> None:
    ref = keyframe(tmp_path, "mei_front", role="reference", url="https://cdn.example.com/mei.png")
    fake = FakeRunway(api_key=KEY)

    async def body(runway: Runway, server: FakeServer) -> None:
        with pytest.raises(ProviderError, match="takes no reference images") as err:
            await runway.submit(request(references=(ref,)))
        assert not isinstance(err.value, TransientProviderError)
        assert str(err.value).startswith("runway:")
        assert server.requests == []

    run(serve(fake), body)


@pytest.mark.parametrize(
    ("model_id", "over", "message"),
    [
        ("gen4_turbo", {}, "only animates a first frame"),
        ("gen4.5", {"ratio": "1:1"}, "cannot make 1:1 at 720p from text alone"),
        ("gen4.5", {"resolution": "1080p"}, "renders 720p, not 1080p"),
        ("veo3.1", {"ratio": "1:1"}, "cannot make 1:1"),
        ("gen4.5", {"prompt": "x" * 1001}, "longer than 1000"),
    ],
)
def test_what_a_model_cannot_do_is_a_clear_error_without_a_request(
    model_id: str, over: dict[str, Any], message: str, serve: Serve
) -> None:
    fake = FakeRunway(api_key=KEY)

    async def body(runway: Runway, server: FakeServer) -> None:
        with pytest.raises(ProviderError, match=message):
            await runway.submit(request(**over))
        assert server.requests == []

    run(serve(fake), body, model_id=model_id)


def test_last_frame_needs_a_model_that_takes_it(tmp_path: Path, serve: Serve) -> None:
    first = keyframe(tmp_path, "a", url="https://cdn.example.com/a.png")
    last = keyframe(tmp_path, "b", role="last_frame", url="https://cdn.example.com/b.png")
    fake = FakeRunway(api_key=KEY)

    async def body(runway: Runway, server: FakeServer) -> None:
        with pytest.raises(ProviderError, match="takes no last frame"):
            await runway.submit(request(first_frame=first, last_frame=last))

    run(serve(fake), body)

    async def veo(runway: Runway, server: FakeServer) -> None:
        with pytest.raises(ProviderError, match="without a first frame"):
            await runway.submit(request(last_frame=last))

    run(serve(fake), veo, model_id="veo3.1")


# --- polling -------------------------------------------------------------------------------

EXPECTED = {
    "PENDING": "queued",
    "THROTTLED": "queued",
    "RUNNING": "running",
    "SUCCEEDED": "succeeded",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
}


@pytest.mark.parametrize("raw", STATUSES)
def test_poll_maps_every_documented_status(raw: str, serve: Serve) -> None:
    fake = FakeRunway(api_key=KEY, statuses=(raw,))

    async def body(runway: Runway, server: FakeServer) -> TaskStatus:
        return await runway.poll(await runway.submit(request()))

    status = run(serve(fake), body)
    assert status.state == EXPECTED[raw]
    assert status.raw_status == raw
    assert status.refused is False
    if raw == "RUNNING":
        assert status.progress == pytest.approx(0.42)
    if raw == "SUCCEEDED":
        assert status.url and "/outputs/" in status.url
    if raw == "FAILED":
        assert (status.error_code, status.error) == (
            "INTERNAL.BAD_OUTPUT.CODE01",
            "An unexpected error occurred.",
        )


@pytest.mark.parametrize("code", ["SAFETY.INPUT.TEXT", "SAFETY.INPUT.IMAGE", "SAFETY.OUTPUT.VIDEO"])
def test_a_safety_failure_is_a_refusal(code: str, serve: Serve) -> None:
    fake = FakeRunway(
        api_key=KEY, statuses=("RUNNING", "FAILED"), failure_code=code, failure="Content moderated"
    )

    async def body(runway: Runway, server: FakeServer) -> TaskStatus:
        task_id = await runway.submit(request())
        await runway.poll(task_id)
        return await runway.poll(task_id)

    status = run(serve(fake), body)
    assert (status.state, status.refused, status.error_code) == ("failed", True, code)


# --- fetch ---------------------------------------------------------------------------------


def test_fetch_downloads_the_real_mp4(tmp_path: Path, serve: Serve) -> None:
    fake = FakeRunway(api_key=KEY, statuses=("SUCCEEDED",), clip_seconds=1.0)
    dest = tmp_path / "take.mp4"

    async def body(runway: Runway, server: FakeServer) -> Path:
        return await runway.fetch(await runway.submit(request()), dest)

    assert run(serve(fake), body) == dest
    info = probe(dest)
    assert info.codec == "h264" and info.duration_s == pytest.approx(1.0, abs=0.05)
    assert not dest.with_name("take.mp4.part").exists()


def test_an_expired_output_url_is_fetched_again_from_a_fresh_poll(tmp_path: Path, serve: Serve) -> None:
    fake = FakeRunway(api_key=KEY, statuses=("SUCCEEDED",), expire_first_url=True)
    dest = tmp_path / "take.mp4"

    async def body(runway: Runway, server: FakeServer) -> None:
        await runway.fetch(await runway.submit(request()), dest)
        downloads = server.calls("GET", "/outputs/")
        assert len(downloads) == 2 and downloads[0].query["_jwt"] != downloads[1].query["_jwt"]
        assert len(server.calls("GET", "/v1/tasks/")) == 2  # the fresh URL came from a second poll

    run(serve(fake), body)
    assert probe(dest).frames > 0


# --- errors --------------------------------------------------------------------------------


def test_429_is_transient_with_retry_after(serve: Serve) -> None:
    fake = FakeRunway(
        api_key=KEY, create_reply=Reply(429, {"error": "Too many requests."}, {"Retry-After": "7"})
    )

    async def body(runway: Runway, server: FakeServer) -> None:
        with pytest.raises(TransientProviderError, match="HTTP 429: Too many requests") as err:
            await runway.submit(request())
        assert err.value.retry_after == 7.0

    run(serve(fake), body)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_5xx_is_transient(status: int, serve: Serve) -> None:
    fake = FakeRunway(api_key=KEY, create_reply=Reply(status, {"error": "Runway is shedding load."}))

    async def body(runway: Runway, server: FakeServer) -> None:
        with pytest.raises(TransientProviderError, match=f"HTTP {status}"):
            await runway.submit(request())

    run(serve(fake), body)


def test_401_is_a_plain_provider_error_that_never_shows_the_key(serve: Serve) -> None:
    wrong = "key_wrong-0000-never-print-me"
    fake = FakeRunway(api_key=KEY, echo_key_in_401=True)

    async def body(runway: Runway, server: FakeServer) -> None:
        with pytest.raises(ProviderError) as err:
            await runway.submit(request())
        assert not isinstance(err.value, TransientProviderError)
        assert "HTTP 401" in str(err.value) and "Invalid API key" in str(err.value)
        assert wrong not in str(err.value) and wrong not in repr(err.value)

    run(serve(fake), body, api_key=wrong)


def test_a_400_shows_runways_own_words(serve: Serve) -> None:
    fake = FakeRunway(
        api_key=KEY, create_reply=Reply(400, {"error": "promptImage: Invalid asset aspect ratio."})
    )

    async def body(runway: Runway, server: FakeServer) -> None:
        with pytest.raises(ProviderError, match="HTTP 400: promptImage: Invalid asset aspect ratio") as err:
            await runway.submit(request())
        assert not isinstance(err.value, (TransientProviderError, RefusedPrompt))

    run(serve(fake), body)


def test_a_submit_that_times_out_is_an_unknown_outcome(serve: Serve) -> None:
    fake = FakeRunway(api_key=KEY, create_reply=Reply(delay_s=1.0, drop=True))

    async def body(runway: Runway, server: FakeServer) -> None:
        with pytest.raises(UnknownOutcome, match="the task may exist") as err:
            await runway.submit(request())
        assert KEY not in str(err.value)
        assert len(server.calls("POST")) == 1

    run(serve(fake), body, client=httpx.AsyncClient(timeout=0.5))


# --- configuration -------------------------------------------------------------------------


def test_no_key_names_the_variable_and_sends_nothing(serve: Serve) -> None:
    fake = FakeRunway(api_key=KEY)

    async def body(runway: Runway, server: FakeServer) -> None:
        assert "RUNWAYML_API_SECRET" in (runway.unavailable_reason() or "")
        with pytest.raises(ProviderUnavailable, match="RUNWAYML_API_SECRET"):
            await runway.submit(request())
        with pytest.raises(ProviderUnavailable):
            await runway.poll("0f0e0d0c")
        assert server.requests == []

    run(serve(fake), body, api_key=None)


def test_base_url_and_key_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, serve: Serve) -> None:
    fake = FakeRunway(api_key=KEY)
    server = serve(fake)
    monkeypatch.setenv("RUNWAYML_API_SECRET", KEY)
    monkeypatch.setenv("SHOTLINE_RUNWAY_BASE_URL", server.url)

    async def main() -> str:
        runway = Runway.from_settings(Settings(), model_id="veo3.1_fast")
        assert runway.base_url == server.url
        try:
            return await runway.submit(request())
        finally:
            await runway.aclose()

    task_id = asyncio.run(main())
    assert task_id in fake.tasks
    assert fake.tasks[task_id]["body"]["model"] == "veo3.1_fast"


def test_cards_prices_and_protocol() -> None:
    runway = Runway(api_key=KEY)
    assert isinstance(runway, VideoModel)
    assert runway.base_url == "https://api.dev.runwayml.com"
    assert [c.model_id for c in Runway.cards] == ["gen4.5", "gen4_turbo", "veo3.1", "veo3.1_fast"]
    assert runway.card.cost(5.0) == pytest.approx(0.60)  # 12 credits/s x 5 s x $0.01
    assert runway.card.billed_seconds(3.2) == 4.0  # whole seconds, rounded up
    assert Runway(api_key=KEY, model_id="veo3.1").card.cost(5.0) == pytest.approx(2.40)  # billed 6 s x 40 cr
    assert all(c.price_source and c.price_date and c.typical_latency_s > 0 for c in Runway.cards)
    with pytest.raises(ProviderError, match="unknown model 'gen2'"):
        Runway(api_key=KEY, model_id="gen2")


def fake_calls(fake: FakeRunway) -> list[dict[str, Any]]:
    return list(fake.tasks.values())
