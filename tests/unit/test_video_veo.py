"""Veo (Gemini API) wrapper contract: the exact requests it sends, and how it reads every answer.

Everything runs against `FakeGemini` on a real loopback HTTP server (tests/fakes/veo.py).
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
    ExpiredURL,
    ProviderError,
    ProviderUnavailable,
    TransientProviderError,
    UnknownOutcome,
)
from shotline.tools.ffmpeg import probe
from shotline.tools.video.base import MediaRef, RenderRequest, TaskStatus, VideoModel
from shotline.tools.video.veo import Veo
from tests.fakes.server import FakeServer, Reply
from tests.fakes.veo import RAI_REASON, FakeGemini, rpc_error

KEY = "AIzaSyFAKE-veo-test-key-5d4c3b2a1908"
MODEL = "veo-3.1-generate-preview"
T = TypeVar("T")
Serve = Callable[[FakeGemini], FakeServer]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    """One loopback server for the module; each test puts its own fake behind it."""
    with FakeServer(FakeGemini(api_key=KEY)) as srv:
        yield srv


@pytest.fixture
def serve(server: FakeServer) -> Serve:
    def use(fake: FakeGemini) -> FakeServer:
        server.handler = fake
        server.requests.clear()
        return server

    return use


def run(server: FakeServer, body: Callable[[Veo, FakeServer], Awaitable[T]], **kw: Any) -> T:
    """Build the wrapper against the fake (base URL `<server>/v1beta`) and run `body` in one loop."""

    async def main() -> T:
        veo = Veo(api_key=kw.pop("api_key", KEY), base_url=f"{server.url}/v1beta", **kw)
        try:
            return await body(veo, server)
        finally:
            await veo.aclose()

    return asyncio.run(main())


def request(**over: Any) -> RenderRequest:
    base: dict[str, Any] = {
        "shot_id": "007",
        "model": "veo",
        "prompt": "A lighthouse keeper climbs the spiral stairs, lantern swinging.",
        "duration_s": 5.0,
        "ratio": "16:9",
        "width": 1280,
        "height": 720,
    }
    return RenderRequest(**{**base, **over})


def image(tmp_path: Path, name: str, role: str = "first_frame", *, local: bool = True) -> MediaRef:
    """A real PNG on disk; with `local=False` only a hosted URL, which the Gemini API cannot take."""
    path = tmp_path / f"{name}.png"
    Image.new("RGB", (64, 36), (30, 60, 90)).save(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if not local:
        return MediaRef(role=role, sha256=digest, url=f"https://cdn.example.com/{name}.png", name=name)  # type: ignore[arg-type]
    return MediaRef(role=role, sha256=digest, path=str(path), name=name)  # type: ignore[arg-type]


def inline(ref: MediaRef) -> dict[str, str]:
    return {
        "bytesBase64Encoded": base64.b64encode(Path(ref.path or "").read_bytes()).decode(),
        "mimeType": "image/png",
    }


def created_body(fake: FakeGemini) -> dict[str, Any]:
    (op,) = fake.operations.values()
    return op["body"]


# --- requests ------------------------------------------------------------------------------


def test_text_to_video_sends_the_documented_request(serve: Serve) -> None:
    fake = FakeGemini(api_key=KEY)

    async def body(veo: Veo, server: FakeServer) -> str:
        name = await veo.submit(request(seed=5, audio=False))
        (rec,) = server.requests
        assert (rec.method, rec.path) == ("POST", f"/v1beta/models/{MODEL}:predictLongRunning")
        assert rec.headers["x-goog-api-key"] == KEY
        assert "authorization" not in rec.headers
        assert rec.query == {}  # the key is never in the URL
        return name

    name = run(serve(fake), body)
    assert name.startswith(f"models/{MODEL}/operations/")
    assert created_body(fake) == {
        "instances": [{"prompt": "A lighthouse keeper climbs the spiral stairs, lantern swinging."}],
        "parameters": {"aspectRatio": "16:9", "durationSeconds": 6, "resolution": "720p"},
    }  # no seed and no audio switch: both are Vertex-only; Veo 3 always makes sound here


def test_first_frame_is_sent_inline_as_image(tmp_path: Path, serve: Serve) -> None:
    first = image(tmp_path, "stairs")
    fake = FakeGemini(api_key=KEY)
    run(serve(fake), lambda v, s: v.submit(request(first_frame=first, ratio="9:16", duration_s=3)))
    assert created_body(fake) == {
        "instances": [{"prompt": request().prompt, "image": inline(first)}],
        "parameters": {"aspectRatio": "9:16", "durationSeconds": 4, "resolution": "720p"},
    }


def test_first_and_last_frame_at_1080p(tmp_path: Path, serve: Serve) -> None:
    first, last = image(tmp_path, "bottom"), image(tmp_path, "top", "last_frame")
    fake = FakeGemini(api_key=KEY)
    req = request(first_frame=first, last_frame=last, resolution="1080p", duration_s=7.5)
    run(serve(fake), lambda v, s: v.submit(req), model_id="veo-3.1-fast-generate-preview")
    assert fake.operations[next(iter(fake.operations))]["model"] == "veo-3.1-fast-generate-preview"
    assert created_body(fake) == {
        "instances": [{"prompt": req.prompt, "image": inline(first), "lastFrame": inline(last)}],
        "parameters": {"aspectRatio": "16:9", "durationSeconds": 8, "resolution": "1080p"},
    }


def test_reference_images_are_asset_references(tmp_path: Path, serve: Serve) -> None:
    refs = tuple(image(tmp_path, f"keeper_{side}", "reference") for side in ("front", "side", "back"))
    fake = FakeGemini(api_key=KEY)
    run(serve(fake), lambda v, s: v.submit(request(references=refs, duration_s=8)))
    assert created_body(fake) == {
        "instances": [
            {
                "prompt": request().prompt,
                "referenceImages": [{"image": inline(r), "referenceType": "asset"} for r in refs],
            }
        ],
        "parameters": {"aspectRatio": "16:9", "durationSeconds": 8, "resolution": "720p"},
    }


@pytest.mark.parametrize(
    ("model_id", "over", "message"),
    [
        (MODEL, {"ratio": "1:1"}, "makes 16:9 or 9:16 video, not 1:1"),
        (MODEL, {"resolution": "1080p", "duration_s": 4}, "1080p only as 8 s clips"),
        (MODEL, {"resolution": "4k"}, "renders 720p, 1080p, not 4k"),
        (MODEL, {"refs": 4, "duration_s": 8}, "at most 3 reference images, not 4"),
        (MODEL, {"refs": 1, "duration_s": 5}, "only as 8 s 16:9 clips"),
        (MODEL, {"refs": 1, "duration_s": 8, "ratio": "9:16"}, "only as 8 s 16:9 clips"),
        (MODEL, {"refs": 1, "duration_s": 8, "first": True}, "cannot mix reference images"),
        (MODEL, {"last": True}, "a last frame needs a first frame"),
        (MODEL, {"first_url_only": True}, "takes images inline only"),
        (MODEL, {"video_ref": True, "duration_s": 8}, "not video"),
        ("veo-3.1-fast-generate-preview", {"refs": 1, "duration_s": 8}, "at most 0 reference images"),
    ],
)
def test_what_veo_cannot_do_is_a_clear_error_without_a_request(
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
    if over.pop("first_url_only", False):
        kwargs["first_frame"] = image(tmp_path, "hosted", local=False)
    if over.pop("video_ref", False):
        kwargs["references"] = (image(tmp_path, "clip", "reference").model_copy(update={"kind": "video"}),)
    fake = FakeGemini(api_key=KEY)

    async def body(veo: Veo, server: FakeServer) -> None:
        with pytest.raises(ProviderError, match=message) as err:
            await veo.submit(request(**over, **kwargs))
        assert str(err.value).startswith("veo:")
        assert server.requests == []

    run(serve(fake), body, model_id=model_id)


# --- polling -------------------------------------------------------------------------------


def poll_after_create(polls: int = 1) -> Callable[[Veo, FakeServer], Awaitable[TaskStatus]]:
    async def body(veo: Veo, server: FakeServer) -> TaskStatus:
        name = await veo.submit(request())
        status = await veo.poll(name)
        for _ in range(polls - 1):
            status = await veo.poll(name)
        assert server.requests[-1].path == f"/v1beta/{name}"
        assert server.requests[-1].headers["x-goog-api-key"] == KEY
        return status

    return body


def test_a_pending_operation_is_running(serve: Serve) -> None:
    status = run(serve(FakeGemini(api_key=KEY, states=("pending",))), poll_after_create())
    assert (status.state, status.raw_status, status.url) == ("running", "pending", None)


def test_a_done_operation_has_the_video_uri(serve: Serve) -> None:
    status = run(serve(FakeGemini(api_key=KEY)), poll_after_create(polls=2))
    assert (status.state, status.raw_status) == ("succeeded", "done")
    assert status.url and status.url.endswith(":download?alt=media") and "key=" not in status.url


def test_an_operation_error_is_a_failure(serve: Serve) -> None:
    status = run(serve(FakeGemini(api_key=KEY, states=("error",))), poll_after_create())
    assert (status.state, status.raw_status, status.refused) == ("failed", "error", False)
    assert (status.error_code, status.error) == ("13", "Video generation failed.")


def test_rai_filtered_media_is_a_refusal(serve: Serve) -> None:
    status = run(serve(FakeGemini(api_key=KEY, states=("pending", "filtered"))), poll_after_create(polls=2))
    assert (status.state, status.refused, status.error_code) == ("failed", True, "RAI_MEDIA_FILTERED")
    assert status.error == RAI_REASON


# --- fetch ---------------------------------------------------------------------------------


def test_fetch_sends_the_key_to_the_api_only_and_follows_the_redirect_without_it(
    tmp_path: Path, serve: Serve
) -> None:
    fake = FakeGemini(api_key=KEY, states=("done",), clip_seconds=1.0)
    dest = tmp_path / "take.mp4"

    async def body(veo: Veo, server: FakeServer) -> None:
        await veo.fetch(await veo.submit(request()), dest)
        (file_hop,) = server.calls("GET", "/v1beta/files/")
        (signed_hop,) = server.calls("GET", "/signed/")
        assert file_hop.headers["x-goog-api-key"] == KEY and file_hop.query == {"alt": ["media"]}
        assert signed_hop.headers["host"].startswith("localhost:")
        assert "x-goog-api-key" not in signed_hop.headers  # the key never leaves the API's origin

    run(serve(fake), body)
    info = probe(dest)
    assert info.codec == "h264" and info.duration_s == pytest.approx(1.0, abs=0.05)


def test_an_expired_signed_link_is_fetched_again_after_a_fresh_poll(tmp_path: Path, serve: Serve) -> None:
    fake = FakeGemini(api_key=KEY, states=("done",), expire_first_link=True)
    dest = tmp_path / "take.mp4"

    async def body(veo: Veo, server: FakeServer) -> None:
        await veo.fetch(await veo.submit(request()), dest)
        assert [r.query["sig"] for r in server.calls("GET", "/signed/")] == [["1"], ["2"]]
        assert len(server.calls("GET", "/v1beta/models/")) == 2  # the operation was polled again

    run(serve(fake), body)
    assert probe(dest).frames > 0
    assert not dest.with_name("take.mp4.part").exists()


def test_a_gone_file_stays_expired(tmp_path: Path, serve: Serve) -> None:
    fake = FakeGemini(api_key=KEY, states=("done",))
    fake._signed = lambda rec: Reply(404, b"")  # type: ignore[method-assign]

    async def body(veo: Veo, server: FakeServer) -> None:
        with pytest.raises(ExpiredURL, match="veo: video link answered HTTP 404"):
            await veo.fetch(await veo.submit(request()), tmp_path / "take.mp4")
        assert len(server.calls("GET", "/signed/")) == 2

    run(serve(fake), body)
    assert list(tmp_path.iterdir()) == []


# --- errors --------------------------------------------------------------------------------


def test_429_is_transient_with_retry_after(serve: Serve) -> None:
    reply = Reply(
        429, rpc_error(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted."), {"Retry-After": "12"}
    )
    fake = FakeGemini(api_key=KEY, create_reply=reply)

    async def body(veo: Veo, server: FakeServer) -> None:
        with pytest.raises(TransientProviderError, match="HTTP 429: RESOURCE_EXHAUSTED") as err:
            await veo.submit(request())
        assert err.value.retry_after == 12.0

    run(serve(fake), body)


def test_a_per_day_quota_429_is_not_worth_retrying(serve: Serve) -> None:
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": "generativelanguage.googleapis.com/generate_requests_per_model_per_day",
                    "quotaId": "GenerateRequestsPerDayPerProjectPerModel",
                }
            ],
        }
    ]
    reply = Reply(429, rpc_error(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota.", details))
    fake = FakeGemini(api_key=KEY, create_reply=reply)

    async def body(veo: Veo, server: FakeServer) -> None:
        with pytest.raises(ProviderError, match="exceeded your current quota") as err:
            await veo.submit(request())
        assert not isinstance(err.value, TransientProviderError)

    run(serve(fake), body)


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_is_transient(serve: Serve, status: int) -> None:
    fake = FakeGemini(
        api_key=KEY, create_reply=Reply(status, rpc_error(status, "UNAVAILABLE", "The service is busy."))
    )

    async def body(veo: Veo, server: FakeServer) -> None:
        with pytest.raises(TransientProviderError, match=f"HTTP {status}: UNAVAILABLE"):
            await veo.submit(request())

    run(serve(fake), body)


def test_401_is_a_plain_provider_error(serve: Serve) -> None:
    reply = Reply(401, rpc_error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials."))
    fake = FakeGemini(api_key=KEY, create_reply=reply)

    async def body(veo: Veo, server: FakeServer) -> None:
        with pytest.raises(ProviderError, match="HTTP 401: UNAUTHENTICATED") as err:
            await veo.submit(request())
        assert not isinstance(err.value, TransientProviderError)

    run(serve(fake), body)


def test_a_bad_key_is_a_plain_error_that_never_shows_the_key(serve: Serve) -> None:
    wrong = "AIzaSyWRONG-never-print-this-0000"
    fake = FakeGemini(api_key=KEY, echo_key=True)

    async def body(veo: Veo, server: FakeServer) -> None:
        with pytest.raises(ProviderError, match="API key not valid") as err:
            await veo.submit(request())
        assert not isinstance(err.value, TransientProviderError)
        assert wrong not in str(err.value) and wrong not in repr(err.value)

    run(serve(fake), body, api_key=wrong)


def test_a_submit_that_times_out_is_an_unknown_outcome(serve: Serve) -> None:
    fake = FakeGemini(api_key=KEY, create_reply=Reply(delay_s=1.0, drop=True))

    async def body(veo: Veo, server: FakeServer) -> None:
        with pytest.raises(UnknownOutcome, match="the task may exist") as err:
            await veo.submit(request())
        assert KEY not in str(err.value)

    run(serve(fake), body, client=httpx.AsyncClient(timeout=0.5))


# --- configuration -------------------------------------------------------------------------


def test_no_key_names_the_variable_and_sends_nothing(tmp_path: Path, serve: Serve) -> None:
    fake = FakeGemini(api_key=KEY)

    async def body(veo: Veo, server: FakeServer) -> None:
        assert "GEMINI_API_KEY" in (veo.unavailable_reason() or "")
        with pytest.raises(ProviderUnavailable, match="GEMINI_API_KEY"):
            await veo.submit(request())
        with pytest.raises(ProviderUnavailable):
            await veo.download(f"{server.url}/v1beta/files/x:download?alt=media", tmp_path / "x.mp4")
        assert server.requests == []

    run(serve(fake), body, api_key=None)


def test_base_url_and_key_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, serve: Serve) -> None:
    fake = FakeGemini(api_key=KEY)
    server = serve(fake)
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("SHOTLINE_VEO_BASE_URL", f"{server.url}/v1beta")

    async def main() -> str:
        veo = Veo.from_settings(Settings())
        try:
            return await veo.submit(request())
        finally:
            await veo.aclose()

    assert asyncio.run(main()) in fake.operations


def test_cards_prices_and_protocol() -> None:
    veo = Veo(api_key=KEY)
    assert isinstance(veo, VideoModel)
    assert veo.base_url == "https://generativelanguage.googleapis.com/v1beta"
    assert [c.model_id for c in Veo.cards] == [MODEL, "veo-3.1-fast-generate-preview"]
    assert veo.card.fixed_durations_s == (4.0, 6.0, 8.0) and veo.card.ratios == ("16:9", "9:16")
    assert veo.card.cost(5.0) == pytest.approx(2.40)  # billed 6 s x $0.40
    fast = Veo(api_key=KEY, model_id="veo-3.1-fast-generate-preview").card
    assert (fast.cost(8.0, "720p"), fast.cost(8.0, "1080p"), fast.cost(8.0)) == pytest.approx(
        (0.80, 0.96, 0.96)
    )
    assert all(c.price_source and c.price_date and c.typical_latency_s > 0 for c in Veo.cards)
