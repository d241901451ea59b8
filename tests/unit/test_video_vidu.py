"""Contract tests for the Vidu wrapper against a loopback fake of the documented API (research §5)."""

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
from shotline.tools.video.vidu import Vidu
from tests.fakes.server import FakeServer, Handler, Reply
from tests.fakes.server import run_scenario as run
from tests.fakes.vidu import CREDITS, ViduFake, error

KEY = "vda-TEST-key-51e0c2"
T = TypeVar("T")
LATE_S = 0.8  # the fake's late answer to a submit; the client gives up after 0.5 s


def req(**changes: Any) -> RenderRequest:
    base: dict[str, Any] = dict(
        shot_id="s02",
        model="vidu",
        prompt="KAI turns under the neon sign",
        duration_s=5.0,
        ratio="16:9",
        width=1280,
        height=720,
    )
    return RenderRequest(**{**base, **changes})


def image(name: str, role: str = "reference", **changes: Any) -> MediaRef:
    fields: dict[str, Any] = dict(
        role=role, sha256=name * 8, url=f"https://cdn.example.com/{name}.png", name=name, **changes
    )
    return MediaRef(**fields)


@pytest.fixture
def fake() -> ViduFake:
    return ViduFake(KEY)


@pytest.fixture
def server(shared: tuple[FakeServer, list[Handler]], fake: ViduFake) -> FakeServer:
    srv, slot = shared
    slot[:] = [fake]
    srv.requests.clear()
    return srv


def vidu(server: FakeServer, **kw: Any) -> Vidu:
    return Vidu(api_key=kw.pop("api_key", KEY), base_url=f"{server.url}/ent/v2", **kw)


def submitted(server: FakeServer) -> tuple[str, dict[str, Any]]:
    (call,) = server.calls("POST")
    return call.path, call.json()


# --- requests -----------------------------------------------------------------------------------


def test_text_to_video_sends_the_documented_body_with_token_auth(server: FakeServer) -> None:
    task_id = run(vidu(server), lambda m: m.submit(req(seed=42)))
    path, body = submitted(server)
    assert path == "/ent/v2/text2video"
    assert server.requests[0].headers["authorization"] == f"Token {KEY}"
    assert body == {
        "model": "viduq3-pro",
        "prompt": "KAI turns under the neon sign",
        "duration": 5,
        "resolution": "720p",
        "seed": 42,
        "audio": False,  # q3 makes sound unless told not to
        "aspect_ratio": "16:9",
    }
    assert task_id == "850000000000000001"


def test_ratio_resolution_audio_and_duration_map_onto_vidu_fields(server: FakeServer) -> None:
    run(vidu(server), lambda m: m.submit(req(ratio="1:1", resolution="1080p", audio=True, duration_s=7.4)))
    _, body = submitted(server)
    assert (body["aspect_ratio"], body["resolution"], body["audio"], body["duration"]) == (
        "1:1",
        "1080p",
        True,
        8,
    )
    assert "seed" not in body  # no seed asked: Vidu picks one


def test_q1_is_five_seconds_at_1080p_without_audio(server: FakeServer) -> None:
    run(
        vidu(server, model_id="viduq1"), lambda m: m.submit(req(resolution="1080p", duration_s=3, audio=True))
    )
    _, body = submitted(server)
    assert body["model"] == "viduq1" and body["duration"] == 5 and "audio" not in body


def test_first_frame_goes_to_img2video_without_a_ratio(server: FakeServer) -> None:
    run(vidu(server), lambda m: m.submit(req(first_frame=image("key", "first_frame"))))
    path, body = submitted(server)
    assert path == "/ent/v2/img2video"
    assert body["images"] == ["https://cdn.example.com/key.png"] and "aspect_ratio" not in body


def test_inline_frames_are_data_uris(server: FakeServer, tmp_path: Path) -> None:
    png = tmp_path / "key.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n fake image bytes")
    frame = MediaRef(role="first_frame", sha256="ab" * 32, path=str(png))
    run(vidu(server), lambda m: m.submit(req(first_frame=frame)))
    (sent,) = submitted(server)[1]["images"]
    assert sent.startswith("data:image/png;base64,")
    assert base64.b64decode(sent.split(",", 1)[1]) == png.read_bytes()


def test_start_and_end_frames_go_to_start_end2video(server: FakeServer) -> None:
    request = req(first_frame=image("a", "first_frame"), last_frame=image("b", "last_frame"))
    run(vidu(server), lambda m: m.submit(request))
    path, body = submitted(server)
    assert path == "/ent/v2/start-end2video"
    assert body["images"] == ["https://cdn.example.com/a.png", "https://cdn.example.com/b.png"]


def test_references_go_to_reference2video(server: FakeServer) -> None:
    refs = tuple(image(n) for n in ("mei", "kai", "alley"))
    run(vidu(server), lambda m: m.submit(req(references=refs, ratio="9:16")))
    path, body = submitted(server)
    assert path == "/ent/v2/reference2video"
    assert body["images"] == [f"https://cdn.example.com/{n}.png" for n in ("mei", "kai", "alley")]
    assert body["aspect_ratio"] == "9:16"


@pytest.mark.parametrize(
    ("model_id", "changes", "words"),
    [
        ("viduq3-pro", {"references": tuple(image(f"r{i}") for i in range(8))}, "at most 7"),
        ("viduq3-turbo", {"references": (image("mei"),)}, "reference images"),
        ("viduq3-pro", {"references": (image("v", kind="video"),)}, "only images"),
        ("viduq3-pro", {"references": (image("m"),), "first_frame": image("f", "first_frame")}, "mix"),
        ("viduq3-pro", {"last_frame": image("b", "last_frame")}, "without a start frame"),
        ("viduq3-pro", {"resolution": "4k"}, "resolution 4k"),
    ],
)
def test_what_the_model_cannot_take_is_refused_before_any_request(
    server: FakeServer, model_id: str, changes: dict[str, Any], words: str
) -> None:
    with pytest.raises(ProviderError, match=words) as info:
        run(vidu(server, model_id=model_id), lambda m: m.submit(req(**changes)))
    assert str(info.value).startswith("vidu: ")
    assert server.requests == []


# --- polling and results ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "state", "progress"),
    [
        ("created", "queued", 0.0),
        ("queueing", "queued", 0.0),
        ("processing", "running", 0.45),
        ("success", "succeeded", 1.0),
        ("failed", "failed", 0.0),
    ],
)
def test_poll_maps_every_documented_status(
    server: FakeServer, fake: ViduFake, raw: str, state: str, progress: float
) -> None:
    fake.states, fake.err_code = (raw,), "ModelUnavailable"

    async def scenario(m: Vidu):
        return await m.poll(await m.submit(req()))

    status = run(vidu(server), scenario)
    assert (status.state, status.raw_status, status.progress) == (state, raw, progress)
    assert server.calls("GET", "/ent/v2/tasks/850000000000000001/creations")
    assert (status.url is not None) == (raw == "success")
    assert status.billed_usd == (round(CREDITS * 0.005, 4) if raw == "success" else None)
    assert (status.error_code == "ModelUnavailable") == (raw == "failed")
    assert not status.refused


@pytest.mark.parametrize(
    "code", ["AuditSubmitIllegal", "CreationPolicyViolation", "TaskPromptPolicyViolation"]
)
def test_a_task_failed_by_moderation_is_refused(server: FakeServer, fake: ViduFake, code: str) -> None:
    fake.states, fake.err_code = ("failed",), code

    async def scenario(m: Vidu):
        return await m.poll(await m.submit(req()))

    status = run(vidu(server), scenario)
    assert status.state == "failed" and status.refused and status.error_code == code


def test_fetch_downloads_the_real_mp4(server: FakeServer, tmp_path: Path) -> None:
    async def scenario(m: Vidu) -> Path:
        task_id = await m.submit(req())
        while (await m.poll(task_id)).state != "succeeded":
            pass
        return await m.fetch(task_id, tmp_path / "take.mp4")

    info = probe(run(vidu(server), scenario))
    assert info.codec == "h264" and abs(info.duration_s - 5.0) < 0.1


def test_an_expired_url_is_fetched_again_from_a_fresh_poll(
    server: FakeServer, fake: ViduFake, tmp_path: Path
) -> None:
    fake.states, fake.expire_first_download = ("success",), True

    async def scenario(m: Vidu) -> Path:
        return await m.fetch(await m.submit(req()), tmp_path / "take.mp4")

    probe(run(vidu(server), scenario))
    downloads = server.calls("GET", "/files/")
    assert len(downloads) == 2 and downloads[0].path != downloads[1].path
    assert len(server.calls("GET", "/ent/v2/tasks/")) == 2


# --- errors -------------------------------------------------------------------------------------


def submit_error(server: FakeServer, fake: ViduFake, reply: Reply, **kw: Any) -> ProviderError:
    fake.canned.append(reply)
    with pytest.raises(ProviderError) as info:
        run(vidu(server, **kw), lambda m: m.submit(req()))
    assert KEY not in str(info.value) and "Token" not in str(info.value)
    return info.value


@pytest.mark.parametrize("reason", ["TooManyRequests", "SystemThrottling", "QuotaExceeded"])
def test_429_is_transient_with_retry_after(server: FakeServer, fake: ViduFake, reason: str) -> None:
    exc = submit_error(server, fake, error(429, reason, "too many requests", **{"Retry-After": "12"}))
    assert isinstance(exc, TransientProviderError) and exc.retry_after == 12.0
    assert reason in str(exc)


def test_5xx_is_transient(server: FakeServer, fake: ViduFake) -> None:
    exc = submit_error(server, fake, error(500, "InternalServiceFailure", "internal service failure"))
    assert isinstance(exc, TransientProviderError)


def test_401_is_a_permanent_error_naming_the_key(server: FakeServer, fake: ViduFake) -> None:
    exc = submit_error(server, fake, Reply(), api_key="vda-WRONG-key")  # the fake rejects the token
    assert not isinstance(exc, TransientProviderError)
    assert "HTTP 401" in str(exc) and "VIDU_API_KEY" in str(exc) and "vda-WRONG-key" not in str(exc)


def test_insufficient_credits_is_permanent_and_says_what_to_do(server: FakeServer, fake: ViduFake) -> None:
    exc = submit_error(server, fake, error(400, "CreditInsufficient", "insufficient credits"))
    assert not isinstance(exc, TransientProviderError) and "top it up" in str(exc)


@pytest.mark.parametrize("reason", ["AuditSubmitIllegal", "TaskPromptPolicyViolation"])
def test_a_prompt_failing_the_safety_review_is_refused(
    server: FakeServer, fake: ViduFake, reason: str
) -> None:
    exc = submit_error(server, fake, error(400, reason, "submit is illegal"))
    assert isinstance(exc, RefusedPrompt) and reason in str(exc)


def test_a_task_failed_at_creation_by_moderation_is_refused(server: FakeServer, fake: ViduFake) -> None:
    answer = {"task_id": "850000000000000009", "state": "failed", "code": "AuditSubmitIllegal", "credits": 0}
    exc = submit_error(server, fake, Reply(200, answer))
    assert isinstance(exc, RefusedPrompt)


def test_a_submit_that_times_out_is_an_unknown_outcome(server: FakeServer, fake: ViduFake) -> None:
    fake.canned.append(Reply(200, {"task_id": "1", "state": "created"}, delay_s=LATE_S))
    with pytest.raises(UnknownOutcome, match="vidu: no answer"):
        run(vidu(server, client=httpx.AsyncClient(timeout=0.5)), lambda m: m.submit(req()))
    time.sleep(LATE_S - 0.5 + 0.05)  # let the fake send its late answer while this test still runs
    assert not hasattr(Vidu, "find_task")  # Vidu documents no lookup by a client id


# --- keys and configuration ---------------------------------------------------------------------


def test_without_a_key_nothing_is_sent(server: FakeServer) -> None:
    model = Vidu(api_key=None, base_url=f"{server.url}/ent/v2")
    assert model.unavailable_reason() == "no key: set VIDU_API_KEY"
    with pytest.raises(ProviderUnavailable, match="VIDU_API_KEY"):
        run(model, lambda m: m.submit(req()))
    assert server.requests == []


def test_key_from_the_environment_and_base_url_override(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDU_API_KEY", KEY)
    monkeypatch.setenv("SHOTLINE_VIDU_BASE_URL", f"{server.url}/ent/v2")
    model = Vidu.from_settings(Settings(), model_id="viduq3-turbo")
    assert model.api_key == KEY and model.card.model_id == "viduq3-turbo"
    run(model, lambda m: m.submit(req()))
    assert len(server.calls("POST", "/ent/v2/text2video")) == 1


def test_no_key_in_the_environment_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDU_API_KEY", raising=False)
    assert Vidu.from_settings(Settings(_env_file=None)).unavailable_reason() == "no key: set VIDU_API_KEY"


def test_default_host_is_the_global_one() -> None:
    assert Vidu(api_key=KEY).base_url == "https://api.vidu.com/ent/v2"
