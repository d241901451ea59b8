"""fal queue wrapper contract: the exact requests it sends, and how it reads every documented answer.

Everything runs against `FakeFal` on a real loopback HTTP server (tests/fakes/fal.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from PIL import Image

from shotline.config import Settings
from shotline.errors import (
    ExpiredURL,
    ProviderError,
    ProviderUnavailable,
    RefusedPrompt,
    TransientProviderError,
    UnknownOutcome,
)
from shotline.tools.ffmpeg import probe
from shotline.tools.video.base import MediaRef, RenderRequest, TaskStatus, VideoModel
from shotline.tools.video.fal import MEDIA_LIFETIME_S, Fal
from tests.fakes.fal import STATES, FakeFal, model_error
from tests.fakes.server import FakeServer, Reply

KEY = "3f6c0d1e-fal-test-key:9a8b7c6d5e4f30211203"
PRO_FAST = "fal-ai/bytedance/seedance/v1/pro/fast"
T = TypeVar("T")
Serve = Callable[[FakeFal], FakeServer]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    """One loopback server for the module; each test puts its own fake behind it."""
    with FakeServer(FakeFal(api_key=KEY)) as srv:
        yield srv


@pytest.fixture
def serve(server: FakeServer) -> Serve:
    def use(fake: FakeFal) -> FakeServer:
        server.handler = fake
        server.requests.clear()
        return server

    return use


def run(server: FakeServer, body: Callable[[Fal, FakeServer], Awaitable[T]], **kw: Any) -> T:
    """Build the wrapper against the fake and run `body(wrapper, server)` in one event loop."""

    async def main() -> T:
        fal = Fal(api_key=kw.pop("api_key", KEY), base_url=server.url, **kw)
        try:
            return await body(fal, server)
        finally:
            await fal.aclose()

    return asyncio.run(main())


def request(**over: Any) -> RenderRequest:
    base: dict[str, Any] = {
        "shot_id": "021",
        "model": "fal",
        "prompt": "Two cyclists race down a wet cobbled street at dusk, neon reflections.",
        "duration_s": 5.0,
        "ratio": "16:9",
        "width": 1280,
        "height": 720,
    }
    return RenderRequest(**{**base, **over})


def image(tmp_path: Path, name: str, role: str = "first_frame", url: str | None = None) -> MediaRef:
    path = tmp_path / f"{name}.png"
    Image.new("RGB", (64, 36), (90, 20, 160)).save(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return MediaRef(role=role, sha256=digest, path=str(path), url=url, name=name)  # type: ignore[arg-type]


def submitted(fake: FakeFal) -> tuple[str, dict[str, Any]]:
    (req,) = fake.requests.values()
    return req["endpoint"], req["input"]


# --- requests ------------------------------------------------------------------------------


def test_text_to_video_posts_the_model_input_to_its_endpoint(serve: Serve) -> None:
    fake = FakeFal(api_key=KEY)

    async def body(fal: Fal, server: FakeServer) -> str:
        request_id = await fal.submit(request(seed=11))
        (rec,) = server.requests
        assert (rec.method, rec.path) == ("POST", f"/{PRO_FAST}/text-to-video")
        assert rec.headers["authorization"] == f"Key {KEY}"
        assert json.loads(rec.headers["x-fal-object-lifecycle-preference"]) == {
            "expiration_duration_seconds": MEDIA_LIFETIME_S
        }
        return request_id

    request_id = run(serve(fake), body)
    assert request_id in fake.requests
    assert submitted(fake) == (
        f"{PRO_FAST}/text-to-video",
        {
            "prompt": "Two cyclists race down a wet cobbled street at dusk, neon reflections.",
            "aspect_ratio": "16:9",
            "duration": "5",
            "resolution": "720p",
            "seed": 11,
        },
    )


def test_first_frame_goes_to_image_to_video(tmp_path: Path, serve: Serve) -> None:
    first = image(tmp_path, "start", url="https://cdn.example.com/start.png")
    fake = FakeFal(api_key=KEY)
    run(
        serve(fake),
        lambda f, s: f.submit(request(first_frame=first, ratio="1:1", resolution="1080p", duration_s=9.4)),
    )
    assert submitted(fake) == (
        f"{PRO_FAST}/image-to-video",
        {
            "prompt": request().prompt,
            "aspect_ratio": "1:1",
            "duration": "10",
            "resolution": "1080p",
            "image_url": "https://cdn.example.com/start.png",
        },
    )


def test_a_local_first_frame_is_sent_as_a_data_uri(tmp_path: Path, serve: Serve) -> None:
    fake = FakeFal(api_key=KEY)
    run(serve(fake), lambda f, s: f.submit(request(first_frame=image(tmp_path, "start"))))
    assert submitted(fake)[1]["image_url"].startswith("data:image/png;base64,iVBOR")


def test_first_and_last_frame_on_seedance_15_with_audio(tmp_path: Path, serve: Serve) -> None:
    first = image(tmp_path, "a", url="https://cdn.example.com/a.png")
    last = image(tmp_path, "b", "last_frame", url="https://cdn.example.com/b.png")
    fake = FakeFal(api_key=KEY)
    req = request(first_frame=first, last_frame=last, audio=True, duration_s=3, ratio="9:16")
    run(serve(fake), lambda f, s: f.submit(req), model_id="fal-ai/bytedance/seedance/v1.5/pro")
    assert submitted(fake) == (
        "fal-ai/bytedance/seedance/v1.5/pro/image-to-video",
        {
            "prompt": req.prompt,
            "aspect_ratio": "9:16",
            "duration": "4",  # 1.5 Pro makes 4-12 s
            "resolution": "720p",
            "generate_audio": True,
            "image_url": "https://cdn.example.com/a.png",
            "end_image_url": "https://cdn.example.com/b.png",
        },
    )


def test_first_and_last_frame_on_veo31_use_its_own_endpoint(tmp_path: Path, serve: Serve) -> None:
    first = image(tmp_path, "a", url="https://cdn.example.com/a.png")
    last = image(tmp_path, "b", "last_frame", url="https://cdn.example.com/b.png")
    fake = FakeFal(api_key=KEY)
    req = request(first_frame=first, last_frame=last, seed=4, resolution="1080p")
    run(serve(fake), lambda f, s: f.submit(req), model_id="fal-ai/veo3.1/fast")
    assert submitted(fake) == (
        "fal-ai/veo3.1/fast/first-last-frame-to-video",
        {
            "prompt": req.prompt,
            "aspect_ratio": "16:9",
            "duration": "6s",
            "resolution": "1080p",
            "generate_audio": False,
            "first_frame_url": "https://cdn.example.com/a.png",
            "last_frame_url": "https://cdn.example.com/b.png",
        },
    )  # no seed: the card does not claim one for Veo on fal


def test_veo31_text_to_video_is_the_bare_endpoint(serve: Serve) -> None:
    fake = FakeFal(api_key=KEY)
    run(serve(fake), lambda f, s: f.submit(request(duration_s=8, audio=True)), model_id="fal-ai/veo3.1/fast")
    endpoint, body = submitted(fake)
    assert endpoint == "fal-ai/veo3.1/fast"
    assert (body["duration"], body["generate_audio"]) == ("8s", True)


def test_reference_images_go_to_reference_to_video(tmp_path: Path, serve: Serve) -> None:
    refs = (
        image(tmp_path, "rider_front", "reference", url="https://cdn.example.com/front.png"),
        image(tmp_path, "rider_side", "reference"),
    )
    fake = FakeFal(api_key=KEY)
    run(
        serve(fake),
        lambda f, s: f.submit(request(references=refs)),
        model_id="fal-ai/bytedance/seedance/v1/lite",
    )
    endpoint, body = submitted(fake)
    assert endpoint == "fal-ai/bytedance/seedance/v1/lite/reference-to-video"
    assert body["reference_image_urls"][0] == "https://cdn.example.com/front.png"
    assert body["reference_image_urls"][1].startswith("data:image/png;base64,")
    assert "image_url" not in body


@pytest.mark.parametrize(
    ("model_id", "over", "message"),
    [
        (PRO_FAST, {"refs": 1}, "takes at most 0 reference images, not 1"),
        ("fal-ai/bytedance/seedance/v1/lite", {"refs": 5}, "at most 4 reference images, not 5"),
        ("fal-ai/bytedance/seedance/v1/lite", {"refs": 1, "first": True}, "cannot mix reference images"),
        (PRO_FAST, {"first": True, "last": True}, "takes no last frame"),
        ("fal-ai/veo3.1/fast", {"last": True}, "without a first frame"),
        ("fal-ai/veo3.1/fast", {"ratio": "1:1"}, "makes 16:9, 9:16, not 1:1"),
        ("fal-ai/bytedance/seedance/v1/lite", {"resolution": "1080p"}, "renders 480p, 720p, not 1080p"),
        ("fal-ai/bytedance/seedance/v1/lite", {"audio_ref": True}, "takes images only, not audio"),
    ],
)
def test_what_a_model_cannot_do_is_a_clear_error_without_a_request(
    tmp_path: Path, serve: Serve, model_id: str, over: dict[str, Any], message: str
) -> None:
    over = dict(over)
    kwargs: dict[str, Any] = {}
    if n := over.pop("refs", 0):
        kwargs["references"] = tuple(image(tmp_path, f"r{i}", "reference") for i in range(n))
    if over.pop("first", False):
        kwargs["first_frame"] = image(tmp_path, "f")
    if over.pop("last", False):
        kwargs["last_frame"] = image(tmp_path, "l", "last_frame")
    if over.pop("audio_ref", False):
        kwargs["references"] = (image(tmp_path, "line", "reference").model_copy(update={"kind": "audio"}),)
    fake = FakeFal(api_key=KEY)

    async def body(fal: Fal, server: FakeServer) -> None:
        with pytest.raises(ProviderError, match=message) as err:
            await fal.submit(request(**over, **kwargs))
        assert str(err.value).startswith("fal:")
        assert server.requests == []

    run(serve(fake), body, model_id=model_id)


# --- polling -------------------------------------------------------------------------------


def poll_to(state_index: int) -> Callable[[Fal, FakeServer], Awaitable[TaskStatus]]:
    async def body(fal: Fal, server: FakeServer) -> TaskStatus:
        request_id = await fal.submit(request())
        status = await fal.poll(request_id)
        for _ in range(state_index):
            status = await fal.poll(request_id)
        return status

    return body


@pytest.mark.parametrize(
    ("raw", "state", "url"),
    [("IN_QUEUE", "queued", False), ("IN_PROGRESS", "running", False), ("COMPLETED", "succeeded", True)],
)
def test_poll_maps_every_queue_status(serve: Serve, raw: str, state: str, url: bool) -> None:
    fake = FakeFal(api_key=KEY, states=("IN_QUEUE", "IN_PROGRESS", "COMPLETED"))
    status = run(serve(fake), poll_to(STATES.index(raw)))
    assert (status.state, status.raw_status, bool(status.url), status.refused) == (state, raw, url, False)


def test_poll_reads_the_status_and_result_urls_fal_handed_back(serve: Serve) -> None:
    fake = FakeFal(api_key=KEY, states=("COMPLETED",), url_prefix="/queue-v2")

    async def body(fal: Fal, server: FakeServer) -> TaskStatus:
        request_id = await fal.submit(request())
        status = await fal.poll(request_id)
        root = f"/queue-v2/fal-ai/bytedance/requests/{request_id}"
        assert [(r.method, r.path) for r in server.requests[1:]] == [("GET", f"{root}/status"), ("GET", root)]
        assert all(r.headers["authorization"] == f"Key {KEY}" for r in server.requests)
        return status

    assert run(serve(fake), body).state == "succeeded"


def test_a_new_process_rebuilds_the_queue_urls(serve: Serve) -> None:
    fake = FakeFal(api_key=KEY, states=("COMPLETED",))

    async def body(fal: Fal, server: FakeServer) -> TaskStatus:
        request_id = await fal.submit(request())
        fresh = Fal(api_key=KEY, base_url=server.url)  # what a resumed run holds: only the request id
        try:
            return await fresh.poll(request_id)
        finally:
            await fresh.aclose()

    status = run(serve(fake), body)
    assert status.state == "succeeded" and status.url and status.url.endswith("/output.mp4")


def test_queue_urls_on_another_origin_are_not_trusted_with_the_key(serve: Serve) -> None:
    fake = FakeFal(api_key=KEY)

    async def body(fal: Fal, server: FakeServer) -> None:
        fake.submit_reply = Reply(
            200,
            {
                "request_id": "abc",
                "status_url": "https://collector.example.net/abc/status",
                "response_url": "https://collector.example.net/abc",
            },
        )
        assert await fal.submit(request()) == "abc"
        assert fal.queue_urls("abc") == (
            f"{server.url}/fal-ai/bytedance/requests/abc/status",
            f"{server.url}/fal-ai/bytedance/requests/abc",
        )

    run(serve(fake), body)


def test_completed_with_an_error_is_a_failure(serve: Serve) -> None:
    status = run(serve(FakeFal(api_key=KEY, states=("IN_PROGRESS", "FAILED"))), poll_to(1))
    assert (status.state, status.raw_status, status.error_code) == ("failed", "COMPLETED", "request_timeout")
    assert status.error == "Request timed out after 3600 seconds." and not status.refused


def test_a_content_policy_violation_is_a_refusal(serve: Serve) -> None:
    status = run(serve(FakeFal(api_key=KEY, states=("REFUSED",))), poll_to(0))
    assert (status.state, status.refused, status.error_code) == ("failed", True, "content_policy_violation")
    assert "flagged by a content checker" in (status.error or "")


def test_another_model_error_is_a_plain_failure(serve: Serve) -> None:
    status = run(serve(FakeFal(api_key=KEY, states=("REJECTED",))), poll_to(0))
    assert (status.state, status.refused, status.error_code) == ("failed", False, "image_too_small")


def test_a_refusal_at_submit_is_refused_prompt(serve: Serve) -> None:
    reply = Reply(422, model_error("content_policy_violation", "The prompt was flagged."))
    fake = FakeFal(api_key=KEY, submit_reply=reply)

    async def body(fal: Fal, server: FakeServer) -> None:
        with pytest.raises(RefusedPrompt, match="fal: refused by moderation: The prompt was flagged"):
            await fal.submit(request())

    run(serve(fake), body)


# --- fetch ---------------------------------------------------------------------------------


def test_fetch_downloads_the_real_mp4(tmp_path: Path, serve: Serve) -> None:
    fake = FakeFal(api_key=KEY, states=("COMPLETED",), clip_seconds=1.0)
    dest = tmp_path / "take.mp4"
    run(serve(fake), lambda f, s: _fetch(f, dest))
    info = probe(dest)
    assert info.codec == "h264" and info.duration_s == pytest.approx(1.0, abs=0.05)


async def _fetch(fal: Fal, dest: Path) -> Path:
    return await fal.fetch(await fal.submit(request()), dest)


def test_an_expired_file_url_is_fetched_again_when_a_fresh_poll_names_a_new_one(
    tmp_path: Path, serve: Serve
) -> None:
    fake = FakeFal(api_key=KEY, states=("COMPLETED",), fresh_file_urls=True, gone_file_urls=1)
    dest = tmp_path / "take.mp4"

    async def body(fal: Fal, server: FakeServer) -> None:
        await _fetch(fal, dest)
        files = [r.path for r in server.calls("GET", "/files/")]
        assert len(files) == 2 and files[0] != files[1]
        assert len([r for r in server.requests if r.path.endswith("/status")]) == 2

    run(serve(fake), body)
    assert probe(dest).frames > 0


def test_a_gone_file_with_no_new_url_is_expired(tmp_path: Path, serve: Serve) -> None:
    fake = FakeFal(api_key=KEY, states=("COMPLETED",), gone_file_urls=1)

    async def body(fal: Fal, server: FakeServer) -> None:
        with pytest.raises(ExpiredURL, match="fal: result URL answered HTTP 410"):
            await _fetch(fal, tmp_path / "take.mp4")
        assert len([r for r in server.requests if r.path.endswith("/status")]) == 2  # it did ask again

    run(serve(fake), body)


# --- errors --------------------------------------------------------------------------------


def test_429_is_transient_with_retry_after(serve: Serve) -> None:
    fake = FakeFal(
        api_key=KEY, submit_reply=Reply(429, {"detail": "Too many requests"}, {"Retry-After": "3"})
    )

    async def body(fal: Fal, server: FakeServer) -> None:
        with pytest.raises(TransientProviderError, match="HTTP 429: Too many requests") as err:
            await fal.submit(request())
        assert err.value.retry_after == 3.0

    run(serve(fake), body)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(serve: Serve, status: int) -> None:
    fake = FakeFal(api_key=KEY, submit_reply=Reply(status, {"detail": "Internal Server Error"}))

    async def body(fal: Fal, server: FakeServer) -> None:
        with pytest.raises(TransientProviderError, match=f"HTTP {status}"):
            await fal.submit(request())

    run(serve(fake), body)


def test_401_is_a_plain_error_that_never_shows_the_key(serve: Serve) -> None:
    wrong = "fal-WRONG-key-id:never-print-this-secret"
    fake = FakeFal(api_key=KEY, echo_key=True)

    async def body(fal: Fal, server: FakeServer) -> None:
        with pytest.raises(ProviderError, match="HTTP 401: Authentication is required") as err:
            await fal.submit(request())
        assert not isinstance(err.value, TransientProviderError)
        assert wrong not in str(err.value) and "never-print" not in repr(err.value)

    run(serve(fake), body, api_key=wrong)


def test_a_submit_that_times_out_is_an_unknown_outcome(serve: Serve) -> None:
    fake = FakeFal(api_key=KEY, submit_reply=Reply(delay_s=1.0, drop=True))

    async def body(fal: Fal, server: FakeServer) -> None:
        with pytest.raises(UnknownOutcome, match="the task may exist") as err:
            await fal.submit(request())
        assert KEY not in str(err.value)

    run(serve(fake), body, client=httpx.AsyncClient(timeout=0.5))


# --- configuration -------------------------------------------------------------------------


def test_no_key_names_the_variable_and_sends_nothing(serve: Serve) -> None:
    fake = FakeFal(api_key=KEY)

    async def body(fal: Fal, server: FakeServer) -> None:
        assert "FAL_KEY" in (fal.unavailable_reason() or "")
        with pytest.raises(ProviderUnavailable, match="FAL_KEY"):
            await fal.submit(request())
        with pytest.raises(ProviderUnavailable):
            await fal.poll("abc")
        assert server.requests == []

    run(serve(fake), body, api_key=None)


def test_base_url_and_key_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, serve: Serve) -> None:
    fake = FakeFal(api_key=KEY)
    server = serve(fake)
    monkeypatch.setenv("FAL_KEY", KEY)
    monkeypatch.setenv("SHOTLINE_FAL_BASE_URL", server.url)

    async def main() -> str:
        fal = Fal.from_settings(Settings(), model_id="fal-ai/veo3.1/fast")
        try:
            return await fal.submit(request())
        finally:
            await fal.aclose()

    request_id = asyncio.run(main())
    assert fake.requests[request_id]["endpoint"] == "fal-ai/veo3.1/fast"


def test_cards_prices_and_protocol() -> None:
    fal = Fal(api_key=KEY)
    assert isinstance(fal, VideoModel)
    assert fal.base_url == "https://queue.fal.run"
    assert fal.card.model_id == PRO_FAST
    assert {c.model_id for c in Fal.cards} == {
        PRO_FAST,
        "fal-ai/bytedance/seedance/v1.5/pro",
        "fal-ai/bytedance/seedance/v1/lite",
        "fal-ai/veo3.1/fast",
    }
    assert fal.card.cost(5.0, "1080p") == pytest.approx(0.243, abs=0.001)  # fal's example: 1080p 5 s ≈ $0.243
    assert fal.card.cost(5.0, "720p") == pytest.approx(0.108)
    assert fal.card.cost(5.0) == fal.card.cost(5.0, "1080p")  # resolution unknown: the dearest is budgeted
    assert fal.card.billed_seconds(7.2) == 8.0  # whole seconds, rounded up
    s15 = Fal(api_key=KEY, model_id="fal-ai/bytedance/seedance/v1.5/pro").card
    assert s15.cost(5.0, "720p") == pytest.approx(0.26, abs=0.005)  # fal's example: 720p 5 s with audio
    assert Fal(api_key=KEY, model_id="fal-ai/veo3.1/fast").card.cost(5.0) == pytest.approx(
        0.90
    )  # 6 s x $0.15
    assert all(c.price_source and c.price_date and c.typical_latency_s > 0 for c in Fal.cards)
