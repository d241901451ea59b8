"""Contract tests for the Wan wrapper against a loopback fake of DashScope's documented task API.

Every test talks HTTP to a real local server (tests/fakes/wan.py): the exact requests the wrapper
sends for each mode (t2v, i2v, kf2v, r2v), how it reads each documented status and error, and the
files it downloads.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

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
from shotline.tools.video.wan import CARDS, Wan
from tests.fakes.server import FakeServer, Recorded, Reply
from tests.fakes.server import run_scenario as run
from tests.fakes.wan import API, KF2V, SYNTHESIS, TASKS, FakeDashScope, error_body

KEY = "sk-dashscope-test-91c7e0-never-shown"
T = TypeVar("T")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32


def request(**over: Any) -> RenderRequest:
    base: dict[str, Any] = {
        "shot_id": "001",
        "model": "wan",
        "prompt": "MEI runs through the rain.",
        "duration_s": 5.0,
        "ratio": "16:9",
        "width": 1280,
        "height": 720,
    }
    return RenderRequest(**{**base, **over})


def media(kind: str = "image", name: str = "", url: str | None = None, **over: Any) -> MediaRef:
    mime = {"image": "image/png", "video": "video/mp4", "audio": "audio/mpeg"}[kind]
    return MediaRef(kind=kind, sha256=f"{kind[0]}" * 64, name=name, url=url, mime=mime, **over)  # type: ignore[arg-type]


def wrapper(server: FakeServer, **over: Any) -> Wan:
    return Wan(api_key=KEY, base_url=server.url + API, **over)


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeServer]:
    """One loopback server for the module (stopping one costs half a second); each test swaps in its fake."""
    with FakeServer(FakeDashScope(KEY)) as server:
        yield server


@pytest.fixture
def server(shared_server: FakeServer) -> FakeServer:
    return shared_server


@contextmanager
def serving(server: FakeServer, fake: FakeDashScope) -> Iterator[FakeDashScope]:
    """Point the shared server at a fresh fake, with an empty request log."""
    server.handler = fake
    server.requests.clear()
    yield fake


def created(server: FakeServer) -> Recorded:
    (create,) = [r for r in server.requests if r.method == "POST"]
    return create


async def submit_and_poll(model: Wan, req: RenderRequest | None = None) -> TaskStatus:
    return await model.poll(await model.submit(req or request()))


# --- requests ------------------------------------------------------------------------------------


def test_text_to_video_request_is_the_documented_body(server: FakeServer) -> None:
    with serving(server, FakeDashScope(KEY)):
        task_id = run(wrapper(server), lambda m: m.submit(request(audio=True, seed=12345)))
        create = created(server)
    assert task_id.startswith("0385dc79-")
    assert create.method == "POST" and create.path == "/api/v1/services/aigc/video-generation/video-synthesis"
    assert create.headers["authorization"] == f"Bearer {KEY}"
    assert create.headers["x-dashscope-async"] == "enable"
    assert create.json() == {
        "model": "wan2.6-t2v",
        "input": {"prompt": "MEI runs through the rain."},
        "parameters": {
            "duration": 5,
            "watermark": False,
            "size": "1280*720",
            "prompt_extend": False,
            "audio": True,
            "seed": 12345,
        },
    }


@pytest.mark.parametrize(
    ("ratio", "resolution", "size"),
    [("16:9", "1080p", "1920*1080"), ("9:16", "720p", "720*1280"), ("1:1", "1080p", "1440*1440")],
)
def test_ratio_and_resolution_become_a_pixel_size(
    ratio: str, resolution: str, size: str, server: FakeServer
) -> None:
    with serving(server, FakeDashScope(KEY)):
        run(wrapper(server), lambda m: m.submit(request(ratio=ratio, resolution=resolution)))
        assert created(server).json()["parameters"]["size"] == size


def test_first_frame_goes_to_i2v_inline_when_it_has_no_url(tmp_path: Path, server: FakeServer) -> None:
    png = tmp_path / "first.png"
    png.write_bytes(PNG)
    first = media(role="first_frame", path=str(png))
    with serving(server, FakeDashScope(KEY)):
        run(
            wrapper(server, model_id="wan2.6-i2v"),
            lambda m: m.submit(request(first_frame=first, resolution="1080p")),
        )
        create = created(server)
    assert create.path == SYNTHESIS
    assert create.json() == {
        "model": "wan2.6-i2v",
        "input": {
            "prompt": "MEI runs through the rain.",
            "img_url": "data:image/png;base64," + base64.b64encode(PNG).decode(),
        },
        "parameters": {
            "duration": 5,
            "watermark": False,
            "resolution": "1080P",
            "prompt_extend": False,
            "audio": False,
        },
    }


def test_first_and_last_frames_go_to_the_kf2v_endpoint(server: FakeServer) -> None:
    first = media(role="first_frame", url="https://cdn.example/k1.png")
    last = media(role="last_frame", url="https://cdn.example/k2.png")
    req = request(first_frame=first, last_frame=last, resolution="480p", duration_s=8, seed=7, audio=True)
    with serving(server, FakeDashScope(KEY)):
        run(wrapper(server, model_id="wan2.2-kf2v-flash"), lambda m: m.submit(req))
        create = created(server)
    assert create.path == KF2V and create.headers["x-dashscope-async"] == "enable"
    assert create.json() == {
        "model": "wan2.2-kf2v-flash",
        "input": {
            "prompt": "MEI runs through the rain.",
            "first_frame_url": "https://cdn.example/k1.png",
            "last_frame_url": "https://cdn.example/k2.png",
        },
        "parameters": {
            "duration": 5,
            "watermark": False,
            "resolution": "480P",
            "prompt_extend": False,
            "seed": 7,
        },
    }


def test_references_go_to_r2v_as_characters_in_order(server: FakeServer) -> None:
    refs = (
        media("image", "MEI, front view", "https://cdn.example/mei.png"),
        media("video", "BEN", "https://cdn.example/ben.mp4"),
        media("image", "", "https://cdn.example/umbrella.png"),
    )
    req = request(
        references=refs, prompt="character1 hands character3 to character2.", duration_s=12, audio=True
    )
    with serving(server, FakeDashScope(KEY)):
        run(wrapper(server, model_id="wan2.6-r2v"), lambda m: m.submit(req))
        create = created(server)
    assert create.path == SYNTHESIS
    assert create.json() == {
        "model": "wan2.6-r2v",
        "input": {
            "prompt": "character1 is MEI, front view. character2 is BEN.\ncharacter1 hands character3 to character2.",
            "reference_urls": [
                "https://cdn.example/mei.png",
                "https://cdn.example/ben.mp4",
                "https://cdn.example/umbrella.png",
            ],
        },
        "parameters": {
            "duration": 10,
            "watermark": False,
            "size": "1280*720",
            "shot_type": "single",
            "audio": True,
        },
    }


@pytest.mark.parametrize(
    ("model_id", "asked", "sent_s"),
    [("wan2.6-t2v", 5.4, 6), ("wan2.6-t2v", 1.0, 2), ("wan2.6-t2v", 20.0, 15), ("wan2.6-i2v", 15.0, 15)],
)
def test_duration_is_the_models_own_whole_seconds(
    model_id: str, asked: float, sent_s: int, server: FakeServer
) -> None:
    first = media(url="https://cdn.example/k1.png") if model_id == "wan2.6-i2v" else None
    with serving(server, FakeDashScope(KEY)):
        run(
            wrapper(server, model_id=model_id),
            lambda m: m.submit(request(duration_s=asked, first_frame=first)),
        )
        assert created(server).json()["parameters"]["duration"] == sent_s


IMG = media(url="https://x/a.png")


@pytest.mark.parametrize(
    ("model_id", "over", "words"),
    [
        ("wan2.6-t2v", {"first_frame": IMG}, "cannot take keyframes"),
        ("wan2.6-t2v", {"references": (IMG,)}, "use wan2.6-i2v, wan2.2-kf2v-flash or wan2.6-r2v"),
        ("wan2.6-t2v", {"resolution": "480p"}, "resolution 480p"),
        ("wan2.6-i2v", {}, "wan2.6-i2v needs a first frame"),
        ("wan2.6-i2v", {"first_frame": IMG, "last_frame": IMG}, "use wan2.2-kf2v-flash"),
        ("wan2.2-kf2v-flash", {"first_frame": IMG}, "needs a last frame as well"),
        ("wan2.2-kf2v-flash", {"last_frame": IMG}, "needs a first frame"),
        ("wan2.6-i2v", {"first_frame": media("video", url="https://x/a.mp4")}, "must be images"),
        ("wan2.6-r2v", {"first_frame": IMG, "references": (IMG,)}, "not both"),
        ("wan2.6-r2v", {}, "needs at least one reference"),
        ("wan2.6-r2v", {"references": (IMG, media("audio", url="https://x/a.mp3"))}, "reference audio"),
        ("wan2.6-r2v", {"references": (IMG,) * 6}, "at most 5 references"),
        ("wan2.6-r2v", {"references": (media("video", url="https://x/a.mp4"),) * 4}, "at most 3 videos"),
        ("wan2.6-r2v", {"references": (media(name="MEI", path="/tmp/mei.png"),)}, "needs a public URL"),
    ],
)
def test_requests_the_model_cannot_take_fail_before_anything_is_sent(
    model_id: str, over: dict[str, Any], words: str, server: FakeServer
) -> None:
    with serving(server, FakeDashScope(KEY)):
        with pytest.raises(ProviderError, match=words) as err:
            run(wrapper(server, model_id=model_id), lambda m: m.submit(request(**over)))
        assert server.requests == []
    assert not isinstance(err.value, TransientProviderError) and str(err.value).startswith("wan: ")


# --- polling ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("PENDING", "queued"),
        ("RUNNING", "running"),
        ("SUCCEEDED", "succeeded"),
        ("FAILED", "failed"),
        ("CANCELED", "cancelled"),
        ("UNKNOWN", "failed"),
    ],
)
def test_every_documented_status_is_normalised(raw: str, state: str, server: FakeServer) -> None:
    with serving(server, FakeDashScope(KEY, statuses=(raw,))):
        status = run(wrapper(server), submit_and_poll)
        (get,) = server.calls("GET", TASKS)
    assert get.path == f"{TASKS}{status.task_id}" and get.headers["authorization"] == f"Bearer {KEY}"
    assert (status.state, status.raw_status, status.refused) == (state, raw, False)
    assert (status.url is not None) == (raw == "SUCCEEDED")


def test_a_task_dashscope_no_longer_knows_reads_as_unknown(server: FakeServer) -> None:
    with serving(server, FakeDashScope(KEY)):
        status = run(wrapper(server), lambda m: m.poll("0385dc79-gone"))
    assert (status.state, status.raw_status) == ("failed", "UNKNOWN") and "24 h" in (status.error or "")


@pytest.mark.parametrize(("code", "refused"), [("DataInspectionFailed", True), ("InternalError.Algo", False)])
def test_a_failed_task_says_whether_moderation_refused_it(
    code: str, refused: bool, server: FakeServer
) -> None:
    fake = FakeDashScope(
        KEY,
        statuses=("FAILED",),
        fail_code=code,
        fail_message="Output data may contain inappropriate content.",
    )
    with serving(server, fake):
        status = run(wrapper(server), submit_and_poll)
    assert (status.state, status.error_code, status.refused) == ("failed", code, refused)
    assert status.error == "Output data may contain inappropriate content."


# --- fetching ----------------------------------------------------------------------------------


def test_fetch_polls_and_downloads_a_real_mp4(tmp_path: Path, server: FakeServer) -> None:
    async def scenario(m: Wan) -> Path:
        task_id = await m.submit(request())
        states = [(await m.poll(task_id)).state for _ in range(2)]
        assert states == ["queued", "running"]
        return await m.fetch(task_id, tmp_path / "take.mp4")

    with serving(server, FakeDashScope(KEY)):
        out = run(wrapper(server), scenario)
    info = probe(out)
    assert info.codec == "h264" and info.duration_s == pytest.approx(1.0, abs=0.1)


def test_an_expired_result_url_is_fetched_again_from_a_fresh_poll(tmp_path: Path, server: FakeServer) -> None:
    async def scenario(m: Wan) -> Path:
        return await m.fetch(await m.submit(request()), tmp_path / "take.mp4")

    with serving(server, FakeDashScope(KEY, statuses=("SUCCEEDED",), expire_first_url=True)):
        out = run(wrapper(server), scenario)
        downloads = [r.query["Signature"][0] for r in server.calls("GET", "/oss/")]
        polls = server.calls("GET", TASKS)
    assert downloads == ["sig1", "sig2"] and len(polls) == 2
    assert probe(out).frames > 0


def test_fetching_an_unfinished_task_is_an_error(tmp_path: Path, server: FakeServer) -> None:
    async def scenario(m: Wan) -> Path:
        return await m.fetch(await m.submit(request()), tmp_path / "take.mp4")

    with (
        serving(server, FakeDashScope(KEY, statuses=("RUNNING",))),
        pytest.raises(ProviderError, match="RUNNING"),
    ):
        run(wrapper(server), scenario)
    assert not (tmp_path / "take.mp4").exists()


# --- errors --------------------------------------------------------------------------------------


def failing_submit(server: FakeServer, reply: Reply, **over: Any) -> BaseException:
    """What submit raises when the create call is answered with `reply`."""
    with serving(server, FakeDashScope(KEY, create_reply=reply)):
        try:
            run(wrapper(server, **over), lambda m: m.submit(request()))
        except ProviderError as exc:
            return exc
    raise AssertionError("submit did not fail")


@pytest.mark.parametrize("code", ["Throttling.RateQuota", "Throttling.AllocationQuota"])
def test_429_is_transient_with_retry_after(code: str, server: FakeServer) -> None:
    exc = failing_submit(
        server, Reply(429, error_body(code, "Requests rate limit exceeded"), {"Retry-After": "4"})
    )
    assert isinstance(exc, TransientProviderError) and exc.retry_after == 4.0 and code in str(exc)


def test_5xx_is_transient(server: FakeServer) -> None:
    exc = failing_submit(server, Reply(500, error_body("InternalError", "An internal error has occured")))
    assert isinstance(exc, TransientProviderError) and "InternalError" in str(exc)


def test_401_is_a_provider_error_not_worth_retrying(server: FakeServer) -> None:
    with serving(server, FakeDashScope("sk-another")), pytest.raises(ProviderError) as err:
        run(wrapper(server), lambda m: m.submit(request()))
    assert type(err.value) is ProviderError and "InvalidApiKey" in str(err.value)


def test_400_data_inspection_is_a_refused_prompt(server: FakeServer) -> None:
    body = error_body("DataInspectionFailed", "Input data may contain inappropriate content.")
    exc = failing_submit(server, Reply(400, body))
    assert isinstance(exc, RefusedPrompt) and "DataInspectionFailed" in str(exc)


def test_other_400s_are_plain_provider_errors(server: FakeServer) -> None:
    exc = failing_submit(
        server, Reply(400, error_body("InvalidParameter", "The size is not match the allowed size"))
    )
    assert type(exc) is ProviderError and "InvalidParameter: The size" in str(exc)


def test_a_submit_that_times_out_is_an_unknown_outcome(server: FakeServer) -> None:
    exc = failing_submit(
        server, Reply(200, {"output": {}}, delay_s=0.8), client=httpx.AsyncClient(timeout=0.5)
    )
    assert isinstance(exc, UnknownOutcome) and "may exist" in str(exc)


def test_no_key_means_unavailable_and_nothing_is_sent(
    monkeypatch: pytest.MonkeyPatch, server: FakeServer
) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with serving(server, FakeDashScope(KEY)):
        monkeypatch.setenv("SHOTLINE_WAN_BASE_URL", server.url + API)
        model = Wan.from_settings(Settings())
        assert "DASHSCOPE_API_KEY" in (model.unavailable_reason() or "")
        with pytest.raises(ProviderUnavailable, match="DASHSCOPE_API_KEY"):
            run(model, lambda m: m.submit(request()))
        with pytest.raises(ProviderUnavailable):
            run(model, lambda m: m.poll("0385dc79-1"))
        assert server.requests == []


def test_the_key_never_appears_in_an_error(tmp_path: Path, server: FakeServer) -> None:
    replies = [
        Reply(401, error_body("InvalidApiKey", "Invalid API-key provided.")),
        Reply(429, error_body("Throttling", "Requests throttling triggered."), {"Retry-After": "1"}),
        Reply(400, error_body("DataInspectionFailed", "Input data may contain inappropriate content.")),
        Reply(503, b"upstream connect error"),
    ]
    messages = [str(failing_submit(server, reply)) for reply in replies]
    messages.append(
        str(failing_submit(server, Reply(200, {}, delay_s=0.8), client=httpx.AsyncClient(timeout=0.5)))
    )
    with serving(server, FakeDashScope(KEY)), pytest.raises(ProviderError) as err:
        run(wrapper(server), lambda m: m.fetch("0385dc79-gone", tmp_path / "x.mp4"))
    messages.append(str(err.value))
    assert all(KEY not in m and m.startswith("wan") for m in messages), messages


# --- settings and cards --------------------------------------------------------------------------


def test_base_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, server: FakeServer) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    with serving(server, FakeDashScope(KEY)):
        monkeypatch.setenv("SHOTLINE_WAN_BASE_URL", server.url + API)
        model = Wan.from_settings(Settings(), model_id="wan2.6-i2v")
        assert model.base_url == server.url + API and model.unavailable_reason() is None
        run(model, lambda m: m.submit(request(first_frame=media(url="https://cdn.example/k1.png"))))
        assert created(server).json()["model"] == "wan2.6-i2v"
    assert Wan(api_key=KEY).base_url == "https://dashscope-intl.aliyuncs.com/api/v1"


def test_cards_are_priced_sourced_and_the_default_is_text_to_video() -> None:
    assert isinstance(Wan(api_key=KEY), VideoModel)
    assert [c.model_id for c in CARDS] == ["wan2.6-t2v", "wan2.6-i2v", "wan2.6-r2v", "wan2.2-kf2v-flash"]
    t2v, i2v, r2v, kf2v = CARDS
    assert t2v.text_to_video and not t2v.image_to_video
    assert i2v.image_to_video and not i2v.text_to_video and not i2v.first_last_frame
    assert (r2v.reference_images, r2v.reference_videos, r2v.reference_audios, r2v.durations_s) == (
        5,
        3,
        0,
        (2, 10),
    )
    assert kf2v.first_last_frame and kf2v.billed_seconds(8) == 5 and not kf2v.native_audio
    for card in CARDS:
        assert card.name == "wan" and card.price_source and card.price_date and card.typical_latency_s > 0
        assert card.usd_per_second > 0 and card.seed
    assert t2v.cost(5) == pytest.approx(0.5)
    with pytest.raises(ProviderError, match="unknown model 'wan9-t2v'"):
        Wan(api_key=KEY, model_id="wan9-t2v")
