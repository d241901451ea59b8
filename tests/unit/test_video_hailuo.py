"""Contract tests for the MiniMax Hailuo wrapper (v1 Hailuo 2.3 / 02, v2 H3) against a loopback fake
of the documented API (research §6)."""

from __future__ import annotations

import base64
import time
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
from shotline.tools.video.base import MediaRef, RenderRequest
from shotline.tools.video.hailuo import Hailuo
from tests.fakes.hailuo import HailuoFake, v1_error, v2_error
from tests.fakes.server import FakeServer, Handler, Reply
from tests.fakes.server import run_scenario as run

KEY = "mmx-TEST-key-7d2a90"
V1 = "MiniMax-Hailuo-2.3"
T = TypeVar("T")
LATE_S = 0.8  # the fake's late answer to a submit; the client gives up after 0.5 s


def req(**changes: Any) -> RenderRequest:
    base: dict[str, Any] = dict(
        shot_id="s03",
        model="hailuo",
        prompt="[Push in] MEI reads the letter by the window",
        duration_s=6.0,
        ratio="16:9",
        width=1280,
        height=720,
    )
    return RenderRequest(**{**base, **changes})


def media(name: str, role: str = "reference", kind: str = "image") -> MediaRef:
    ext = {"image": "png", "video": "mp4", "audio": "wav"}[kind]
    return MediaRef(
        kind=kind,  # type: ignore[arg-type]
        role=role,  # type: ignore[arg-type]
        sha256=name * 8,
        url=f"https://cdn.example.com/{name}.{ext}",
        name=name,
    )


@pytest.fixture
def fake() -> HailuoFake:
    return HailuoFake(KEY)


@pytest.fixture
def server(shared: tuple[FakeServer, list[Handler]], fake: HailuoFake) -> FakeServer:
    srv, slot = shared
    slot[:] = [fake]
    srv.requests.clear()
    return srv


def hailuo(server: FakeServer, **kw: Any) -> Hailuo:
    return Hailuo(api_key=kw.pop("api_key", KEY), base_url=server.url, **kw)


def submitted(server: FakeServer) -> tuple[str, dict[str, Any]]:
    (call,) = server.calls("POST")
    return call.path, call.json()


async def poll_once(m: Hailuo, request: RenderRequest | None = None):
    return await m.poll(await m.submit(request or req()))


# --- v2 (H3): requests --------------------------------------------------------------------------


def test_h3_is_the_default_and_sends_the_documented_content_body(server: FakeServer) -> None:
    task_id = run(hailuo(server), lambda m: m.submit(req(duration_s=8)))
    path, body = submitted(server)
    assert path == "/v2/video_generation"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert body == {
        "model": "MiniMax-H3",
        "content": [{"type": "text", "text": "[Push in] MEI reads the letter by the window"}],
        "duration": 8,
        "ratio": "16:9",
        "resolution": "768P",
    }
    assert task_id == "106916112212032"


@pytest.mark.parametrize(
    ("changes", "duration", "resolution", "ratio"),
    [
        ({"duration_s": 3.0}, 5, "768P", "16:9"),
        ({"duration_s": 20.0, "resolution": "2k", "ratio": "9:16"}, 15, "2K", "9:16"),
        ({"duration_s": 7.3, "resolution": "768p", "ratio": "1:1"}, 8, "768P", "1:1"),
    ],
)
def test_h3_duration_resolution_and_ratio(
    server: FakeServer, changes: dict[str, Any], duration: int, resolution: str, ratio: str
) -> None:
    run(hailuo(server), lambda m: m.submit(req(**changes)))
    _, body = submitted(server)
    assert (body["duration"], body["resolution"], body["ratio"]) == (duration, resolution, ratio)


def test_h3_first_and_last_frames_are_content_items_with_roles(server: FakeServer) -> None:
    run(
        hailuo(server),
        lambda m: m.submit(req(first_frame=media("a", "first_frame"), last_frame=media("b", "last_frame"))),
    )
    content = submitted(server)[1]["content"]
    assert content[1:] == [
        {"type": "image_url", "image_url": {"url": "https://cdn.example.com/a.png"}, "role": "first_frame"},
        {"type": "image_url", "image_url": {"url": "https://cdn.example.com/b.png"}, "role": "last_frame"},
    ]


def test_h3_references_of_every_kind(server: FakeServer, tmp_path: Path) -> None:
    png = tmp_path / "mei.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n fake image bytes")
    inline = MediaRef(sha256="cd" * 32, path=str(png), name="MEI, front")
    refs = (inline, media("kai"), media("walk", kind="video"), media("line", kind="audio"))
    run(hailuo(server), lambda m: m.submit(req(references=refs)))
    content = submitted(server)[1]["content"]
    assert content[0]["type"] == "text"
    assert content[1]["role"] == "reference_image"
    assert (
        base64.b64decode(content[1]["image_url"]["url"].removeprefix("data:image/png;base64,"))
        == png.read_bytes()
    )
    assert content[2:] == [
        {
            "type": "image_url",
            "image_url": {"url": "https://cdn.example.com/kai.png"},
            "role": "reference_image",
        },
        {
            "type": "video_url",
            "video_url": {"url": "https://cdn.example.com/walk.mp4"},
            "role": "reference_video",
        },
        {
            "type": "audio_url",
            "audio_url": {"url": "https://cdn.example.com/line.wav"},
            "role": "reference_audio",
        },
    ]


@pytest.mark.parametrize(
    ("model_id", "changes", "words"),
    [
        (
            "MiniMax-H3",
            {"references": tuple(media(f"i{n}") for n in range(10))},
            "10 reference images; at most 9",
        ),
        ("MiniMax-H3", {"references": tuple(media(f"v{n}", kind="video") for n in range(4))}, "at most 3"),
        ("MiniMax-H3", {"references": (media("m"),), "first_frame": media("f", "first_frame")}, "cannot mix"),
        ("MiniMax-H3", {"resolution": "1080p"}, "resolution 1080p"),
        (V1, {"references": (media("m"),)}, "reference images"),
        (
            V1,
            {"last_frame": media("b", "last_frame"), "first_frame": media("a", "first_frame")},
            "a last frame",
        ),
        (V1, {"ratio": "9:16"}, "ratio 9:16 from text alone"),
        (V1, {"duration_s": 10.0, "resolution": "1080p"}, "10 s at 1080P"),
        ("MiniMax-Hailuo-2.3-Fast", {}, "text alone"),
        ("MiniMax-Hailuo-02", {"last_frame": media("b", "last_frame")}, "without a first frame"),
    ],
)
def test_what_the_model_cannot_take_is_refused_before_any_request(
    server: FakeServer, model_id: str, changes: dict[str, Any], words: str
) -> None:
    with pytest.raises(ProviderError, match=words) as info:
        run(hailuo(server, model_id=model_id), lambda m: m.submit(req(**changes)))
    assert str(info.value).startswith("hailuo: ")
    assert server.requests == []


# --- v2 (H3): polling, results, errors ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("queued", "queued"),
        ("running", "running"),
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("cancelled", "cancelled"),
        ("expired", "expired"),
    ],
)
def test_h3_poll_maps_every_documented_status(
    server: FakeServer, fake: HailuoFake, raw: str, state: str
) -> None:
    fake.v2_statuses = (raw,)
    status = run(hailuo(server), poll_once)
    assert (status.state, status.raw_status) == (state, raw)
    assert server.calls("GET", "/v2/query/video_generation/106916112212032")
    assert (status.url is not None) == (raw == "succeeded")
    assert (status.error_code == "1000") == (raw == "failed") and not status.refused


@pytest.mark.parametrize("code", [1026, 1027])
def test_h3_task_failed_by_moderation_is_refused(server: FakeServer, fake: HailuoFake, code: int) -> None:
    fake.v2_statuses, fake.fail_code, fake.fail_msg = ("failed",), code, "sensitive content"
    status = run(hailuo(server), poll_once)
    assert status.state == "failed" and status.refused and status.error_code == str(code)


def test_h3_fetch_downloads_the_real_mp4_and_refetches_an_expired_url(
    server: FakeServer, fake: HailuoFake, tmp_path: Path
) -> None:
    fake.v2_statuses, fake.expire_first_download = ("succeeded",), True

    async def scenario(m: Hailuo) -> Path:
        return await m.fetch(await m.submit(req()), tmp_path / "take.mp4")

    info = probe(run(hailuo(server), scenario))
    assert info.codec == "h264" and abs(info.duration_s - 6.0) < 0.1
    downloads = server.calls("GET", "/files/")
    assert len(downloads) == 2 and downloads[0].path != downloads[1].path
    assert len(server.calls("GET", "/v2/query/")) == 2


def submit_error(server: FakeServer, fake: HailuoFake, reply: Reply, **kw: Any) -> ProviderError:
    fake.canned.append(reply)
    with pytest.raises(ProviderError) as info:
        run(hailuo(server, **kw), lambda m: m.submit(req()))
    assert KEY not in str(info.value) and "Bearer" not in str(info.value)
    return info.value


def test_h3_rate_limit_is_transient_with_retry_after(server: FakeServer, fake: HailuoFake) -> None:
    exc = submit_error(server, fake, v2_error(1002, "rate limit, please retry later", **{"Retry-After": "3"}))
    assert isinstance(exc, TransientProviderError) and exc.retry_after == 3.0
    assert "HTTP 429" in str(exc) and "(1002)" in str(exc)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(server: FakeServer, fake: HailuoFake, status: int) -> None:
    exc = submit_error(
        server, fake, Reply(status, {"type": "error", "error": {"type": "api_error", "message": "busy"}})
    )
    assert isinstance(exc, TransientProviderError)


def test_h3_bad_key_is_a_permanent_401(server: FakeServer, fake: HailuoFake) -> None:
    exc = submit_error(server, fake, Reply(), api_key="mmx-WRONG")  # the fake checks the Bearer key
    assert not isinstance(exc, TransientProviderError)
    assert "HTTP 401" in str(exc) and "MINIMAX_API_KEY" in str(exc) and "mmx-WRONG" not in str(exc)


def test_h3_insufficient_balance_is_permanent(server: FakeServer, fake: HailuoFake) -> None:
    exc = submit_error(server, fake, v2_error(1008, "insufficient balance"))
    assert not isinstance(exc, TransientProviderError) and "top it up" in str(exc)


def test_h3_sensitive_input_is_a_refused_prompt(server: FakeServer, fake: HailuoFake) -> None:
    exc = submit_error(server, fake, v2_error(1026, "input new_sensitive"))
    assert isinstance(exc, RefusedPrompt) and "HTTP" not in str(exc)


def test_a_submit_that_times_out_is_an_unknown_outcome(server: FakeServer, fake: HailuoFake) -> None:
    fake.canned.append(Reply(200, {"task_id": "1"}, delay_s=LATE_S))
    with pytest.raises(UnknownOutcome, match="hailuo: no answer"):
        run(hailuo(server, client=httpx.AsyncClient(timeout=0.5)), lambda m: m.submit(req()))
    time.sleep(LATE_S - 0.5 + 0.05)  # let the fake send its late answer while this test still runs


# --- v1 (Hailuo 2.3 / 02) -----------------------------------------------------------------------


def test_v1_text_to_video_sends_the_documented_body(server: FakeServer) -> None:
    task_id = run(hailuo(server, model_id=V1), lambda m: m.submit(req(duration_s=4.0, audio=True)))
    path, body = submitted(server)
    assert path == "/v1/video_generation"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert body == {
        "model": V1,
        "prompt": "[Push in] MEI reads the letter by the window",
        "duration": 6,
        "resolution": "768P",
    }
    assert task_id == "106916112212032"


@pytest.mark.parametrize(
    ("asked", "resolution", "sent"), [(8.0, "720p", (10, "768P")), (6.0, "1080p", (6, "1080P"))]
)
def test_v1_fixed_durations_and_resolutions(
    server: FakeServer, asked: float, resolution: str, sent: tuple[int, str]
) -> None:
    run(hailuo(server, model_id=V1), lambda m: m.submit(req(duration_s=asked, resolution=resolution)))
    _, body = submitted(server)
    assert (body["duration"], body["resolution"]) == sent


def test_v1_first_frame_and_hailuo_02_first_and_last_frame(server: FakeServer) -> None:
    run(
        hailuo(server, model_id=V1),
        lambda m: m.submit(req(first_frame=media("a", "first_frame"), ratio="9:16")),
    )
    assert submitted(server)[1]["first_frame_image"] == "https://cdn.example.com/a.png"
    server.requests.clear()
    request = req(
        first_frame=media("a", "first_frame"), last_frame=media("b", "last_frame"), resolution="512p"
    )
    run(hailuo(server, model_id="MiniMax-Hailuo-02"), lambda m: m.submit(request))
    _, body = submitted(server)
    assert body["model"] == "MiniMax-Hailuo-02" and body["resolution"] == "512P"
    assert (body["first_frame_image"], body["last_frame_image"]) == (
        "https://cdn.example.com/a.png",
        "https://cdn.example.com/b.png",
    )


@pytest.mark.parametrize(
    ("raw", "state"),
    [
        ("Preparing", "queued"),
        ("Queueing", "queued"),
        ("Processing", "running"),
        ("Success", "succeeded"),
        ("Fail", "failed"),
    ],
)
def test_v1_poll_maps_every_documented_status(
    server: FakeServer, fake: HailuoFake, raw: str, state: str
) -> None:
    fake.v1_statuses = (raw,)
    status = run(hailuo(server, model_id=V1), poll_once)
    assert (status.state, status.raw_status) == (state, raw)
    (query,) = server.calls("GET", "/v1/query/video_generation")
    assert query.query == {"task_id": ["106916112212032"]}
    retrieves = server.calls("GET", "/v1/files/retrieve")
    if raw == "Success":  # a finished v1 task is a file: its URL comes from files/retrieve
        assert [r.query for r in retrieves] == [{"file_id": ["2054106916112212032"]}]
        assert status.url and "/files/106916112212032-1.mp4" in status.url
    else:
        assert retrieves == [] and status.url is None


@pytest.mark.parametrize("code", [1026, 1027])
def test_v1_task_failed_by_moderation_is_refused(server: FakeServer, fake: HailuoFake, code: int) -> None:
    fake.v1_statuses, fake.fail_code, fake.fail_msg = ("Fail",), code, "output video sensitive"
    status = run(hailuo(server, model_id=V1), poll_once)
    assert status.state == "failed" and status.refused and status.error_code == str(code)
    assert status.error == "output video sensitive"


def test_v1_fetch_downloads_the_real_mp4_and_refetches_an_expired_url(
    server: FakeServer, fake: HailuoFake, tmp_path: Path
) -> None:
    fake.expire_first_download = True

    async def scenario(m: Hailuo) -> Path:
        task_id = await m.submit(req())
        while (await m.poll(task_id)).state != "succeeded":
            pass
        return await m.fetch(task_id, tmp_path / "take.mp4")

    info = probe(run(hailuo(server, model_id=V1), scenario))
    assert info.codec == "h264" and abs(info.duration_s - 6.0) < 0.1
    downloads = server.calls("GET", "/files/")
    assert len(downloads) == 2 and downloads[0].path != downloads[1].path
    assert fake.retrieves == 3  # the polling loop's success, fetch's poll, and the fresh poll


def test_v1_rate_limit_in_an_http_200_body_is_transient(server: FakeServer, fake: HailuoFake) -> None:
    exc = submit_error(server, fake, v1_error(1002, "rate limit exceeded"), model_id=V1)
    assert isinstance(exc, TransientProviderError) and "code 1002" in str(exc)


def test_v1_gateway_429_with_retry_after_is_transient(server: FakeServer, fake: HailuoFake) -> None:
    exc = submit_error(
        server, fake, Reply(429, {"message": "too many requests"}, {"Retry-After": "9"}), model_id=V1
    )
    assert isinstance(exc, TransientProviderError) and exc.retry_after == 9.0


def test_v1_insufficient_balance_is_permanent(server: FakeServer, fake: HailuoFake) -> None:
    exc = submit_error(server, fake, v1_error(1008, "insufficient balance"), model_id=V1)
    assert not isinstance(exc, TransientProviderError) and "top it up" in str(exc)


def test_v1_sensitive_input_is_a_refused_prompt(server: FakeServer, fake: HailuoFake) -> None:
    exc = submit_error(server, fake, v1_error(1026, "input new_sensitive"), model_id=V1)
    assert isinstance(exc, RefusedPrompt) and "code 1026" in str(exc)


def test_v1_bad_key_is_permanent_and_names_the_key(server: FakeServer, fake: HailuoFake) -> None:
    exc = submit_error(server, fake, Reply(), model_id=V1, api_key="mmx-WRONG")
    assert not isinstance(exc, TransientProviderError)
    assert "code 1004" in str(exc) and "MINIMAX_API_KEY" in str(exc) and "mmx-WRONG" not in str(exc)


# --- keys and configuration ---------------------------------------------------------------------


def test_without_a_key_nothing_is_sent(server: FakeServer) -> None:
    model = Hailuo(api_key=None, base_url=server.url)
    assert model.unavailable_reason() == "no key: set MINIMAX_API_KEY"
    with pytest.raises(ProviderUnavailable, match="MINIMAX_API_KEY"):
        run(model, lambda m: m.submit(req()))
    assert server.requests == []


def test_settings_key_and_base_url_override(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIMAX_API_KEY", KEY)
    monkeypatch.setenv("SHOTLINE_HAILUO_BASE_URL", server.url)
    model = Hailuo.from_settings(Settings(), model_id=V1)
    assert model.base_url == server.url and model.api_key == KEY
    run(model, lambda m: m.submit(req()))
    assert len(server.calls("POST", "/v1/video_generation")) == 1


def test_default_host_and_cards() -> None:
    model = Hailuo(api_key=KEY)
    assert model.base_url == "https://api.minimax.io" and model.card.model_id == "MiniMax-H3"
    assert [c.model_id for c in Hailuo.cards] == [
        "MiniMax-H3",
        "MiniMax-Hailuo-2.3",
        "MiniMax-Hailuo-2.3-Fast",
        "MiniMax-Hailuo-02",
    ]
    assert model.card.cost(10) == 0.8  # $0.08/s at 768P
