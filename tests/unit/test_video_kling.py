"""Contract tests for the Kling wrapper against a loopback fake of the documented API (research §4)."""

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
from shotline.tools.video.kling import JWT_TTL_S, Kling, kling_jwt
from tests.fakes.kling import KlingFake, error, verify_jwt
from tests.fakes.server import FakeServer, Handler, Reply
from tests.fakes.server import run_scenario as run

AK = "ak-TEST-access-4f1c"
SK = "sk-TEST-secret-9b7e"
T = TypeVar("T")
LATE_S = 0.8  # the fake's late answer to a submit; the client gives up after 0.5 s


def req(**changes: Any) -> RenderRequest:
    base: dict[str, Any] = dict(
        shot_id="s01",
        model="kling",
        prompt="MEI steps out into the rain",
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
def fake() -> KlingFake:
    return KlingFake(AK, SK)


@pytest.fixture
def server(shared: tuple[FakeServer, list[Handler]], fake: KlingFake) -> FakeServer:
    srv, slot = shared
    slot[:] = [fake]
    srv.requests.clear()
    return srv


def kling(server: FakeServer, **kw: Any) -> Kling:
    return Kling(access_key=AK, secret_key=kw.pop("secret_key", SK), base_url=server.url, **kw)


def submitted(server: FakeServer) -> tuple[str, dict[str, Any]]:
    (call,) = server.calls("POST")
    return call.path, call.json()


# --- requests -----------------------------------------------------------------------------------


def test_text_to_video_sends_the_documented_body_with_a_valid_jwt(
    server: FakeServer, fake: KlingFake
) -> None:
    model = kling(server)
    request = req()
    task_id = run(model, lambda m: m.submit(request))
    path, body = submitted(server)
    assert path == "/v1/videos/text2video"
    assert body == {
        "model_name": "kling-v3",
        "prompt": "MEI steps out into the rain",
        "mode": "std",
        "aspect_ratio": "16:9",
        "duration": "5",
        "sound": "off",
        "external_task_id": model.external_id(request),
    }
    assert body["external_task_id"].startswith("s01-")
    assert task_id == "text2video:866889456698785798"
    (claims,) = fake.tokens
    assert claims["iss"] == AK and claims["exp"] - claims["nbf"] == JWT_TTL_S + 5
    assert server.requests[0].headers["authorization"].startswith("Bearer ey")


def test_resolution_ratio_audio_and_duration_map_onto_kling_fields(server: FakeServer) -> None:
    run(kling(server), lambda m: m.submit(req(ratio="9:16", resolution="1080p", audio=True, duration_s=7.2)))
    _, body = submitted(server)
    assert (body["aspect_ratio"], body["mode"], body["sound"], body["duration"]) == ("9:16", "pro", "on", "8")


@pytest.mark.parametrize(("asked", "sent"), [(3.0, "5"), (5.0, "5"), (6.5, "10"), (12.0, "10")])
def test_v2_models_take_fixed_durations(server: FakeServer, asked: float, sent: str) -> None:
    run(kling(server, model_id="kling-v2-6"), lambda m: m.submit(req(duration_s=asked)))
    _, body = submitted(server)
    assert body["model_name"] == "kling-v2-6" and body["duration"] == sent


def test_first_frame_goes_to_image2video(server: FakeServer) -> None:
    task_id = run(kling(server), lambda m: m.submit(req(first_frame=image("key", "first_frame"))))
    path, body = submitted(server)
    assert path == "/v1/videos/image2video" and task_id.startswith("image2video:")
    assert body["image"] == "https://cdn.example.com/key.png" and "image_tail" not in body


def test_inline_first_frame_is_bare_base64(server: FakeServer, tmp_path: Path) -> None:
    png = tmp_path / "key.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n fake image bytes")
    frame = MediaRef(role="first_frame", sha256="ab" * 32, path=str(png))
    run(kling(server), lambda m: m.submit(req(first_frame=frame)))
    _, body = submitted(server)
    assert not body["image"].startswith("data:")
    assert base64.b64decode(body["image"]) == png.read_bytes()


def test_first_and_last_frame_send_image_and_image_tail(server: FakeServer) -> None:
    request = req(first_frame=image("a", "first_frame"), last_frame=image("b", "last_frame"))
    run(kling(server), lambda m: m.submit(request))
    path, body = submitted(server)
    assert path == "/v1/videos/image2video"
    assert (body["image"], body["image_tail"]) == (
        "https://cdn.example.com/a.png",
        "https://cdn.example.com/b.png",
    )


def test_references_go_to_multi_image2video(server: FakeServer) -> None:
    refs = (image("mei"), image("kai"), image("alley"))
    task_id = run(kling(server, model_id="kling-v1-6"), lambda m: m.submit(req(references=refs)))
    path, body = submitted(server)
    assert path == "/v1/videos/multi-image2video" and task_id.startswith("multi-image2video:")
    assert body["model_name"] == "kling-v1-6"
    assert body["image_list"] == [
        {"image": f"https://cdn.example.com/{n}.png"} for n in ("mei", "kai", "alley")
    ]
    assert "sound" not in body  # v1.6 has no native audio


@pytest.mark.parametrize(
    ("model_id", "changes", "words"),
    [
        ("kling-v3", {"references": (image("mei"),)}, "reference images"),
        ("kling-v1-6", {"references": tuple(image(f"r{i}") for i in range(5))}, "at most 4"),
        ("kling-v1-6", {"references": (image("clip", kind="video"),)}, "only images"),
        ("kling-v1-6", {"references": (image("m"),), "first_frame": image("f", "first_frame")}, "mix"),
        ("kling-v2-6", {"first_frame": image("a", "first_frame"), "last_frame": image("b")}, "image_tail"),
        ("kling-v3", {"last_frame": image("b", "last_frame")}, "without a first frame"),
        ("kling-v3", {"resolution": "480p"}, "resolution 480p"),
    ],
)
def test_what_the_model_cannot_take_is_refused_before_any_request(
    server: FakeServer, model_id: str, changes: dict[str, Any], words: str
) -> None:
    with pytest.raises(ProviderError, match=words) as info:
        run(kling(server, model_id=model_id), lambda m: m.submit(req(**changes)))
    assert str(info.value).startswith("kling: ")
    assert server.requests == []


# --- polling and results ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "state"),
    [("submitted", "queued"), ("processing", "running"), ("succeed", "succeeded"), ("failed", "failed")],
)
def test_poll_maps_every_documented_status(server: FakeServer, fake: KlingFake, raw: str, state: str) -> None:
    fake.statuses, fake.status_msg = (raw,), "Failure to pass the risk control system"

    async def scenario(m: Kling):
        return await m.poll(await m.submit(req(first_frame=image("a", "first_frame"))))

    status = run(kling(server), scenario)
    assert (status.state, status.raw_status) == (state, raw)
    assert server.calls("GET", "/v1/videos/image2video/866889456698785798")
    assert (status.url is not None) == (raw == "succeed")
    assert (status.error == "Failure to pass the risk control system") == (raw == "failed")


def test_fetch_downloads_the_real_mp4(server: FakeServer, tmp_path: Path) -> None:
    async def scenario(m: Kling) -> Path:
        task_id = await m.submit(req())
        while (await m.poll(task_id)).state != "succeeded":
            pass
        return await m.fetch(task_id, tmp_path / "take.mp4")

    out = run(kling(server), scenario)
    info = probe(out)
    assert info.codec == "h264" and abs(info.duration_s - 5.0) < 0.1
    assert not (tmp_path / "take.mp4.part").exists()


def test_an_expired_url_is_fetched_again_from_a_fresh_poll(
    server: FakeServer, fake: KlingFake, tmp_path: Path
) -> None:
    fake.statuses, fake.expire_first_download = ("succeed",), True

    async def scenario(m: Kling) -> Path:
        return await m.fetch(await m.submit(req()), tmp_path / "take.mp4")

    probe(run(kling(server), scenario))
    downloads = server.calls("GET", "/files/")
    assert len(downloads) == 2 and downloads[0].path != downloads[1].path
    assert len(server.calls("GET", "/v1/videos/text2video/")) == 2


# --- errors -------------------------------------------------------------------------------------


def submit_error(server: FakeServer, fake: KlingFake, reply: Reply, **kw: Any) -> ProviderError:
    fake.canned.append(reply)
    with pytest.raises(ProviderError) as info:
        run(kling(server, **kw), lambda m: m.submit(req()))
    for secret in (AK, SK, "Bearer"):
        assert secret not in str(info.value)
    return info.value


def test_429_rate_limit_is_transient_with_retry_after(server: FakeServer, fake: KlingFake) -> None:
    exc = submit_error(server, fake, error(1302, "request too fast", status=429, **{"Retry-After": "7"}))
    assert isinstance(exc, TransientProviderError) and exc.retry_after == 7.0
    assert "code 1302" in str(exc)


def test_parallel_limit_in_an_http_200_body_is_transient(server: FakeServer, fake: KlingFake) -> None:
    exc = submit_error(server, fake, error(1303, "parallel task over resource pack limit"))
    assert isinstance(exc, TransientProviderError) and exc.retry_after == 1.0


@pytest.mark.parametrize("status", [429, 200])
def test_a_used_up_resource_pack_is_not_retried(server: FakeServer, fake: KlingFake, status: int) -> None:
    exc = submit_error(server, fake, error(1102, "resource pack exhausted", status=status))
    assert not isinstance(exc, TransientProviderError)
    assert "resource pack" in str(exc) and "code 1102" in str(exc)


@pytest.mark.parametrize(("status", "code"), [(500, 5000), (503, 5001), (504, 5002)])
def test_5xx_is_transient(server: FakeServer, fake: KlingFake, status: int, code: int) -> None:
    exc = submit_error(server, fake, error(code, "server error", status=status))
    assert isinstance(exc, TransientProviderError)


def test_401_is_a_permanent_error_naming_the_keys(server: FakeServer, fake: KlingFake) -> None:
    exc = submit_error(server, fake, Reply(), secret_key="sk-WRONG-secret")  # the fake rejects the JWT
    assert not isinstance(exc, TransientProviderError)
    assert "HTTP 401" in str(exc) and "KLING_SECRET_KEY" in str(exc)
    assert "sk-WRONG-secret" not in str(exc)


@pytest.mark.parametrize("status", [400, 200])
def test_content_security_code_1301_is_a_refused_prompt(
    server: FakeServer, fake: KlingFake, status: int
) -> None:
    exc = submit_error(server, fake, error(1301, "content security check failed", status=status))
    assert isinstance(exc, RefusedPrompt) and "moderation" in str(exc)


def test_a_submit_that_times_out_is_an_unknown_outcome_that_can_be_found(
    server: FakeServer, fake: KlingFake
) -> None:
    fake.create_delay_s = LATE_S
    request = req(first_frame=image("a", "first_frame"))
    model = kling(server, client=httpx.AsyncClient(timeout=0.5))
    with pytest.raises(UnknownOutcome, match="kling: no answer"):
        run(model, lambda m: m.submit(request))
    time.sleep(LATE_S - 0.5 + 0.05)  # let the fake send its late answer while this test still runs
    found = run(kling(server), lambda m: m.find_task(request))
    assert found == "image2video:866889456698785798"
    (lookup,) = server.calls("GET")
    assert lookup.path == f"/v1/videos/image2video/{Kling(access_key=AK, secret_key=SK).external_id(request)}"


def test_find_by_external_id_answers_none_when_no_task_has_it(server: FakeServer) -> None:
    assert run(kling(server), lambda m: m.find_by_external_id("s09-nothing")) is None
    assert [c.path.split("/")[3] for c in server.calls("GET")] == [
        "text2video",
        "image2video",
        "multi-image2video",
    ]


def test_resubmitting_a_render_can_carry_a_new_external_id(server: FakeServer) -> None:
    run(kling(server), lambda m: m.submit(req(), external_id="s01-retry-2"))
    assert submitted(server)[1]["external_task_id"] == "s01-retry-2"


# --- keys, auth, configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("access", "secret", "missing"),
    [
        (None, None, "KLING_ACCESS_KEY and KLING_SECRET_KEY"),
        (AK, None, "KLING_SECRET_KEY"),
        (None, SK, "KLING_ACCESS_KEY"),
    ],
)
def test_without_both_keys_nothing_is_sent(
    server: FakeServer, access: str | None, secret: str | None, missing: str
) -> None:
    model = Kling(access_key=access, secret_key=secret, base_url=server.url)
    assert model.unavailable_reason() == f"no key: set {missing}"
    with pytest.raises(ProviderUnavailable, match=missing):
        run(model, lambda m: m.submit(req()))
    assert server.requests == []


def test_settings_keys_and_base_url_override(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING_ACCESS_KEY", AK)
    monkeypatch.setenv("KLING_SECRET_KEY", SK)
    monkeypatch.setenv("SHOTLINE_KLING_BASE_URL", server.url)
    model = Kling.from_settings(Settings(), model_id="kling-v2-6")
    assert model.base_url == server.url and model.card.model_id == "kling-v2-6"
    assert Kling.key_from(Settings()) == AK
    run(model, lambda m: m.submit(req()))
    assert len(server.calls("POST", "/v1/videos/text2video")) == 1


def test_half_a_key_pair_in_settings_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING_ACCESS_KEY", AK)
    monkeypatch.delenv("KLING_SECRET_KEY", raising=False)
    settings = Settings(_env_file=None)
    assert Kling.key_from(settings) is None
    assert Kling.from_settings(settings).unavailable_reason() == "no key: set KLING_SECRET_KEY"


def test_the_jwt_is_reused_between_calls_and_verifies(server: FakeServer, fake: KlingFake) -> None:
    async def scenario(m: Kling) -> None:
        await m.poll(await m.submit(req()))

    run(kling(server), scenario)
    first, second = (r.headers["authorization"] for r in server.requests)
    assert first == second
    token = kling_jwt(AK, SK, now=1_000_000.0)
    assert verify_jwt(token, AK, SK, now=1_000_000.0) == {"iss": AK, "exp": 1_001_800, "nbf": 999_995}
    with pytest.raises(ValueError, match="signature"):
        verify_jwt(token, AK, "another-secret", now=1_000_000.0)


def test_key_payload_names_the_model() -> None:
    payload = Kling(access_key=AK, secret_key=SK, model_id="kling-v1-6").key_payload(req())
    assert payload["model_id"] == "kling-v1-6" and AK not in str(payload) and SK not in str(payload)


def test_unknown_model_id_lists_the_known_ones() -> None:
    with pytest.raises(ProviderError, match="kling-v3, kling-v2-6, kling-v1-6"):
        Kling(access_key=AK, secret_key=SK, model_id="kling-v9")
