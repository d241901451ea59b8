"""Contract tests for the Seedance wrapper against a loopback fake of Ark's documented task API.

Every test talks HTTP to a real local server (tests/fakes/seedance.py): the exact requests the
wrapper sends, how it reads each documented status and error, and the files it downloads.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

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
from shotline.tools.video import seedance
from shotline.tools.video.base import MediaRef, RenderRequest, VideoModel
from shotline.tools.video.seedance import (
    CARDS,
    TOKENS_PER_SECOND_720P,
    Seedance,
    legend,
    platform_for,
    strip_text_commands,
)
from tests.fakes.seedance import API, TASKS, FakeArk, error_body
from tests.fakes.server import FakeServer, Reply
from tests.fakes.server import run_scenario as run

KEY = "ark-4b1f0c2e-test-key-never-shown"
T = TypeVar("T")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def request(**over: Any) -> RenderRequest:
    base: dict[str, Any] = {
        "shot_id": "001",
        "model": "seedance",
        "prompt": 'MEI turns to camera and says "We\'re late."',
        "duration_s": 5.0,
        "ratio": "16:9",
        "width": 1280,
        "height": 720,
    }
    return RenderRequest(**{**base, **over})


def media(kind: str = "image", name: str = "", url: str | None = None, **over: Any) -> MediaRef:
    mime = {"image": "image/png", "video": "video/mp4", "audio": "audio/mpeg"}[kind]
    return MediaRef(kind=kind, sha256=f"{kind[0]}" * 64, name=name, url=url, mime=mime, **over)  # type: ignore[arg-type]


def wrapper(server: FakeServer, **over: Any) -> Seedance:
    return Seedance(api_key=KEY, base_url=server.url + API, **over)


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeServer]:
    """One loopback server for the module (stopping one costs half a second); each test swaps in its fake."""
    with FakeServer(FakeArk(KEY)) as server:
        yield server


@pytest.fixture
def server(shared_server: FakeServer) -> FakeServer:
    return shared_server


@contextmanager
def serving(server: FakeServer, fake: FakeArk) -> Iterator[FakeArk]:
    """Point the shared server at a fresh fake, with an empty request log."""
    server.handler = fake
    server.requests.clear()
    yield fake


def sent(server: FakeServer) -> dict[str, Any]:
    (create,) = server.calls("POST", TASKS)
    return create.json()


# --- requests ------------------------------------------------------------------------------------


def test_text_to_video_request_is_the_documented_body(server: FakeServer) -> None:
    with serving(server, FakeArk(KEY)):
        task_id = run(wrapper(server), lambda m: m.submit(request(audio=True)))
        (create,) = server.calls("POST", TASKS)
    assert task_id.startswith("cgt-")
    assert create.method == "POST" and create.path == "/api/v3/contents/generations/tasks"
    assert create.headers["authorization"] == f"Bearer {KEY}"
    assert create.headers["content-type"] == "application/json"
    assert create.json() == {
        "model": "dreamina-seedance-2-0-260128",
        "content": [{"type": "text", "text": 'MEI turns to camera and says "We\'re late."'}],
        "resolution": "720p",
        "ratio": "16:9",
        "duration": 5,
        "watermark": False,
        "return_last_frame": True,
        "generate_audio": True,
    }


def test_first_frame_is_sent_inline_when_it_has_no_url(tmp_path: Path, server: FakeServer) -> None:
    png = tmp_path / "first.png"
    png.write_bytes(PNG)
    first = media(role="first_frame", path=str(png))
    with serving(server, FakeArk(KEY)):
        run(wrapper(server), lambda m: m.submit(request(first_frame=first, ratio="9:16", resolution="1080p")))
        body = sent(server)
    assert body["content"][1] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(PNG).decode()},
        "role": "first_frame",
    }
    assert (body["ratio"], body["resolution"], len(body["content"])) == ("9:16", "1080p", 2)


def test_first_and_last_frames_go_by_url_in_order(server: FakeServer) -> None:
    first = media(role="first_frame", url="https://cdn.example/k1.png")
    last = media(role="last_frame", url="https://cdn.example/k2.png")
    with serving(server, FakeArk(KEY)):
        run(wrapper(server), lambda m: m.submit(request(first_frame=first, last_frame=last)))
        content = sent(server)["content"]
    assert content[1:] == [
        {"type": "image_url", "image_url": {"url": "https://cdn.example/k1.png"}, "role": "first_frame"},
        {"type": "image_url", "image_url": {"url": "https://cdn.example/k2.png"}, "role": "last_frame"},
    ]


def test_references_are_labelled_per_kind_in_content_order_with_a_legend(server: FakeServer) -> None:
    refs = (
        media("image", "MEI, front view", "https://cdn.example/mei_front.png"),
        media("video", "the push-in", "https://cdn.example/pushin.mp4"),
        media("image", "KITCHEN", "https://cdn.example/kitchen.png"),
        media("audio", "", "https://cdn.example/rain.mp3"),
    )
    with serving(server, FakeArk(KEY)):
        run(wrapper(server), lambda m: m.submit(request(references=refs, prompt="Image 1 cooks in Image 2.")))
        content = sent(server)["content"]
    assert content[0] == {
        "type": "text",
        "text": "Image 1 is MEI, front view. Video 1 is the push-in. Image 2 is KITCHEN.\nImage 1 cooks in Image 2.",
    }
    assert content[1:] == [
        {
            "type": "image_url",
            "image_url": {"url": "https://cdn.example/mei_front.png"},
            "role": "reference_image",
        },
        {
            "type": "video_url",
            "video_url": {"url": "https://cdn.example/pushin.mp4"},
            "role": "reference_video",
        },
        {
            "type": "image_url",
            "image_url": {"url": "https://cdn.example/kitchen.png"},
            "role": "reference_image",
        },
        {
            "type": "audio_url",
            "audio_url": {"url": "https://cdn.example/rain.mp3"},
            "role": "reference_audio",
        },
    ]


def test_seed_and_audio_only_where_the_card_has_them(server: FakeServer) -> None:
    with serving(server, FakeArk(KEY)):
        run(wrapper(server), lambda m: m.submit(request(seed=11, audio=True)))
        run(
            wrapper(server, model_id="seedance-1-0-pro-250528"),
            lambda m: m.submit(request(seed=11, audio=True)),
        )
        run(wrapper(server, model_id="seedance-1-5-pro-251215"), lambda m: m.submit(request(seed=11)))
        v20, v10, v15 = (c.json() for c in server.calls("POST", TASKS))
    assert "seed" not in v20 and v20["generate_audio"] is True  # 2.x: seed is not honoured
    assert v10["seed"] == 11 and "generate_audio" not in v10  # 1.0 pro: silent model
    assert v15["seed"] == 11 and v15["generate_audio"] is False
    assert v10["model"] == "seedance-1-0-pro-250528"


@pytest.mark.parametrize(("asked", "sent_s"), [(5.0, 5), (5.4, 6), (2.0, 4), (40.0, 15)])
def test_duration_is_the_models_own_whole_seconds(asked: float, sent_s: int, server: FakeServer) -> None:
    with serving(server, FakeArk(KEY)):
        run(wrapper(server), lambda m: m.submit(request(duration_s=asked)))
        assert sent(server)["duration"] == sent_s


def test_legacy_text_commands_are_stripped_from_the_prompt() -> None:
    assert strip_text_commands("A wide shot --rs 1080p --ratio 9:16 --dur 12 -- and more --wm") == (
        "A wide shot -- and more"
    )
    assert legend((media(name="MEI."), media(), media(name="BEN"))) == "Image 1 is MEI. Image 3 is BEN."


@pytest.mark.parametrize(
    ("over", "model_id", "words"),
    [
        (
            {"first_frame": media(url="https://x/a.png"), "references": (media(url="https://x/b.png"),)},
            None,
            "not both",
        ),
        ({"last_frame": media(url="https://x/b.png")}, None, "needs a first frame"),
        ({"references": tuple(media(url=f"https://x/{i}.png") for i in range(10))}, None, "at most 9"),
        ({"references": (media("video", url="https://x/a.mp4"),) * 4}, None, "at most 3"),
        ({"references": (media("audio", url="https://x/a.mp3"),)}, None, "only reference"),
        ({"references": (media("video", name="PUSH"),)}, None, "needs a public URL"),
        ({"references": (media(url="https://x/a.png"),)}, "seedance-1-5-pro-251215", "takes no"),
        ({"resolution": "4k"}, "dreamina-seedance-2-0-fast-260128", "resolution 4k"),
        ({"first_frame": media("video", url="https://x/a.mp4")}, None, "must be an image"),
    ],
)
def test_requests_the_model_cannot_take_fail_before_anything_is_sent(
    over: dict[str, Any], model_id: str | None, words: str, server: FakeServer
) -> None:
    with serving(server, FakeArk(KEY)):
        with pytest.raises(ProviderError, match=words) as err:
            run(wrapper(server, model_id=model_id), lambda m: m.submit(request(**over)))
        assert server.requests == []
    assert not isinstance(err.value, TransientProviderError)
    assert str(err.value).startswith("seedance: ")


def test_inline_media_over_the_64_mb_body_limit_is_refused_before_sending(
    tmp_path: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seedance, "MAX_INLINE_BODY_BYTES", 1_000)  # stands in for 64 MB of base64
    png = tmp_path / "sheet.png"
    png.write_bytes(PNG * 20)
    refs = (media(name="MEI", path=str(png)), media(name="BEN", path=str(png)))
    with serving(server, FakeArk(KEY)), pytest.raises(ProviderError, match="64 MB"):
        run(wrapper(server), lambda m: m.submit(request(references=refs)))
    assert server.requests == []


def test_seedance_2_5_takes_thirty_reference_images(server: FakeServer) -> None:
    refs = tuple(media(url=f"https://x/{i}.png") for i in range(30))
    with serving(server, FakeArk(KEY)):
        run(
            wrapper(server, model_id="dreamina-seedance-2-5-260628"),
            lambda m: m.submit(request(references=refs)),
        )
        body = sent(server)
    assert body["model"] == "dreamina-seedance-2-5-260628" and len(body["content"]) == 31


# --- polling ---------------------------------------------------------------------------------------


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
def test_every_documented_status_is_normalised(raw: str, state: str, server: FakeServer) -> None:
    async def scenario(m: Seedance) -> Any:
        return await m.poll(await m.submit(request()))

    with serving(server, FakeArk(KEY, statuses=(raw,))):
        status = run(wrapper(server), scenario)
        (get,) = server.calls("GET", TASKS + "/")
    assert get.path == f"{TASKS}/{status.task_id}" and get.headers["authorization"] == f"Bearer {KEY}"
    assert (status.state, status.raw_status) == (state, raw)
    assert (status.url is not None) == (raw == "succeeded")
    assert status.refused is False


def test_a_succeeded_task_gives_urls_and_the_billed_price(server: FakeServer) -> None:
    async def scenario(m: Seedance) -> Any:
        return await m.poll(await m.submit(request(resolution="1080p")))

    with serving(server, FakeArk(KEY, statuses=("succeeded",), completion_tokens=244_000)):
        status = run(wrapper(server), scenario)
    assert status.url and status.url.split("?")[0].endswith(".mp4")
    assert status.last_frame_url and ".png" in status.last_frame_url
    assert status.billed_usd == pytest.approx(244_000 * 7.7 / 1e6, abs=1e-4)  # 2.0 at 1080p: $7.7 per 1M


def test_billed_price_follows_the_audio_flag_on_1_5_pro(server: FakeServer) -> None:
    async def scenario(m: Seedance) -> tuple[Any, Any]:
        loud = await m.poll(await m.submit(request(audio=True)))
        quiet = await m.poll(await m.submit(request(audio=False)))
        return loud, quiet

    with serving(server, FakeArk(KEY, statuses=("succeeded",), completion_tokens=108_000)):
        loud, quiet = run(wrapper(server, model_id="seedance-1-5-pro-251215"), scenario)
    assert loud.billed_usd == pytest.approx(0.2592) and quiet.billed_usd == pytest.approx(0.1296)


def test_the_estimate_is_quoted_at_the_rate_the_task_is_billed_at(server: FakeServer) -> None:
    """People approve the estimate: 1.5 pro without audio is billed at half the audio rate, so the
    quote must not ask them to approve twice what they will pay."""
    m = wrapper(server, model_id="seedance-1-5-pro-251215")
    loud, quiet = m.quote_usd(request(audio=True)), m.quote_usd(request(audio=False))
    assert loud == pytest.approx(m.card.cost(5.0, "720p"))
    assert quiet == pytest.approx(loud / 2)
    two = wrapper(server, model_id="dreamina-seedance-2-0-260128")
    assert two.quote_usd(request()) == pytest.approx(two.card.cost(5.0, "720p"))


@pytest.mark.parametrize(
    ("code", "refused"),
    [
        ("OutputVideoSensitiveContentDetected", True),
        ("OutputAudioSensitiveContentDetected.PolicyViolation", True),
        ("InputImageSensitiveContentDetected.PrivacyInformation", True),
        ("InvalidParameter.TaskTypeConstraint", False),
    ],
)
def test_a_failed_task_says_whether_moderation_refused_it(
    code: str, refused: bool, server: FakeServer
) -> None:
    async def scenario(m: Seedance) -> Any:
        return await m.poll(await m.submit(request()))

    fake = FakeArk(KEY, statuses=("failed",), fail_code=code, fail_message="The request failed because ...")
    with serving(server, fake):
        status = run(wrapper(server), scenario)
    assert (status.state, status.error_code, status.refused) == ("failed", code, refused)
    assert status.error == "The request failed because ..." and status.billed_usd is None


def test_an_undocumented_status_is_an_error_not_a_guess(server: FakeServer) -> None:
    async def scenario(m: Seedance) -> Any:
        return await m.poll(await m.submit(request()))

    with serving(server, FakeArk(KEY, statuses=("paused",))), pytest.raises(ProviderError, match="paused"):
        run(wrapper(server), scenario)


# --- fetching ----------------------------------------------------------------------------------


def test_fetch_polls_and_downloads_a_real_mp4(tmp_path: Path, server: FakeServer) -> None:
    async def scenario(m: Seedance) -> Path:
        task_id = await m.submit(request())
        for _ in range(3):
            if (await m.poll(task_id)).state == "succeeded":
                break
        return await m.fetch(task_id, tmp_path / "take.mp4")

    with serving(server, FakeArk(KEY)):
        out = run(wrapper(server), scenario)
    info = probe(out)
    assert info.codec == "h264" and info.duration_s == pytest.approx(1.0, abs=0.1)
    assert not (tmp_path / "take.mp4.part").exists()


@pytest.mark.parametrize("expired_status", [403, 410])
def test_an_expired_result_url_is_fetched_again_from_a_fresh_poll(
    tmp_path: Path, expired_status: int, server: FakeServer
) -> None:
    async def scenario(m: Seedance) -> Path:
        return await m.fetch(await m.submit(request()), tmp_path / "take.mp4")

    fake = FakeArk(KEY, statuses=("succeeded",), expire_first_url=True, expired_status=expired_status)
    with serving(server, fake):
        out = run(wrapper(server), scenario)
        downloads = [r.query["X-Tos-Signature"][0] for r in server.calls("GET", "/tos/")]
        polls = server.calls("GET", TASKS + "/")
    assert downloads == ["sig1", "sig2"] and len(polls) == 2
    assert probe(out).frames > 0


def test_an_expired_url_with_no_fresh_one_is_reported(tmp_path: Path, server: FakeServer) -> None:
    async def scenario(m: Seedance) -> Path:
        return await m.fetch(await m.submit(request()), tmp_path / "take.mp4")

    fake = FakeArk(KEY, statuses=("succeeded",), expire_first_url=True)
    fake.task_object = _same_url(fake.task_object)  # type: ignore[method-assign]
    with serving(server, fake), pytest.raises(ExpiredURL, match="403"):
        run(wrapper(server), scenario)


def _same_url(task_object: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    first: dict[str, Any] = {}

    def wrapped(*args: Any) -> dict[str, Any]:
        obj = task_object(*args)
        first.setdefault("content", obj.get("content"))
        return {**obj, "content": first["content"]}

    return wrapped


# --- errors --------------------------------------------------------------------------------------


def failing_submit(server: FakeServer, reply: Reply, **over: Any) -> BaseException:
    """What submit raises when the create call is answered with `reply`."""
    with serving(server, FakeArk(KEY, create_reply=reply)):
        try:
            run(wrapper(server, **over), lambda m: m.submit(request()))
        except ProviderError as exc:
            return exc
    raise AssertionError("submit did not fail")


def test_429_rate_limit_is_transient_with_retry_after(server: FakeServer) -> None:
    body = error_body("ModelAccountRpmRateLimitExceeded", "Request rate limit exceeded", "TooManyRequests")
    exc = failing_submit(server, Reply(429, body, {"Retry-After": "7"}))
    assert isinstance(exc, TransientProviderError) and exc.retry_after == 7.0
    assert "ModelAccountRpmRateLimitExceeded" in str(exc)


@pytest.mark.parametrize("code", ["QuotaExceeded", "SetLimitExceeded"])
def test_429_quota_and_spend_cap_are_permanent(code: str, server: FakeServer) -> None:
    exc = failing_submit(
        server, Reply(429, error_body(code, "limit reached", "TooManyRequests"), {"Retry-After": "60"})
    )
    assert type(exc) is ProviderError and code in str(exc)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_transient(status: int, server: FakeServer) -> None:
    exc = failing_submit(
        server, Reply(status, error_body("InternalServiceError", "internal error", "InternalServerError"))
    )
    assert isinstance(exc, TransientProviderError) and f"HTTP {status}" in str(exc)


def test_401_is_a_provider_error_not_worth_retrying(server: FakeServer) -> None:
    with serving(server, FakeArk("another-key")), pytest.raises(ProviderError) as err:
        run(wrapper(server), lambda m: m.submit(request()))
    assert type(err.value) is ProviderError and "AuthenticationError" in str(err.value)


@pytest.mark.parametrize(
    "code", ["InputTextSensitiveContentDetected", "InputImageSensitiveContentDetected.PrivacyInformation"]
)
def test_400_moderation_is_a_refused_prompt(code: str, server: FakeServer) -> None:
    exc = failing_submit(
        server,
        Reply(
            400,
            error_body(code, "The request failed because the input text may contain sensitive information."),
        ),
    )
    assert isinstance(exc, RefusedPrompt) and code in str(exc) and "\n" not in str(exc)


def test_a_submit_that_times_out_is_an_unknown_outcome(server: FakeServer) -> None:
    exc = failing_submit(
        server, Reply(200, {"id": "cgt-late"}, delay_s=0.8), client=httpx.AsyncClient(timeout=0.5)
    )
    assert isinstance(exc, UnknownOutcome) and "may exist" in str(exc)


def test_no_key_means_unavailable_and_nothing_is_sent(
    monkeypatch: pytest.MonkeyPatch, server: FakeServer
) -> None:
    monkeypatch.delenv("ARK_API_KEY", raising=False)
    with serving(server, FakeArk(KEY)):
        monkeypatch.setenv("SHOTLINE_SEEDANCE_BASE_URL", server.url + API)
        model = Seedance.from_settings(Settings())
        assert model.unavailable_reason() is not None and "ARK_API_KEY" in model.unavailable_reason()  # type: ignore[operator]
        with pytest.raises(ProviderUnavailable, match="ARK_API_KEY"):
            run(model, lambda m: m.submit(request()))
        assert server.requests == []


def test_the_key_never_appears_in_an_error(tmp_path: Path, server: FakeServer) -> None:
    replies = [
        Reply(401, error_body("AuthenticationError", "bad key")),
        Reply(429, error_body("QuotaExceeded", "quota"), {"Retry-After": "3"}),
        Reply(400, error_body("InputTextSensitiveContentDetected", "sensitive")),
        Reply(500, b"<html>oops</html>"),
    ]
    messages = [str(failing_submit(server, reply)) for reply in replies]
    messages.append(
        str(failing_submit(server, Reply(200, {}, delay_s=0.8), client=httpx.AsyncClient(timeout=0.5)))
    )
    with serving(server, FakeArk(KEY)):
        with pytest.raises(ProviderError) as err:
            run(wrapper(server), lambda m: m.fetch("cgt-missing", tmp_path / "x.mp4"))
        messages.append(str(err.value))
    assert all(KEY not in m and m.startswith("seedance") for m in messages), messages


# --- hosts, settings and cards -------------------------------------------------------------------


def test_base_url_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, server: FakeServer) -> None:
    monkeypatch.setenv("ARK_API_KEY", KEY)
    with serving(server, FakeArk(KEY)):
        monkeypatch.setenv("SHOTLINE_SEEDANCE_BASE_URL", server.url + API + "/")
        model = Seedance.from_settings(Settings())
        assert model.base_url == server.url + API and model.unavailable_reason() is None
        run(model, lambda m: m.submit(request()))
        assert sent(server)["model"] == "dreamina-seedance-2-0-260128"
    assert Seedance(api_key=KEY).base_url == "https://ark.ap-southeast.bytepluses.com/api/v3"


def test_the_volcengine_host_gets_doubao_model_ids(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, server: FakeServer
) -> None:
    """The mainland host, reached through the fake acting as an HTTP proxy: same body, `doubao-` ids,
    and no USD price (Volcengine bills in CNY)."""

    async def scenario(m: Seedance) -> Any:
        task_id = await m.submit(request(audio=True))
        status = await m.poll(task_id)
        await m.fetch(task_id, tmp_path / "take.mp4")
        return status

    monkeypatch.setenv("ARK_API_KEY", KEY)
    monkeypatch.setenv("SHOTLINE_SEEDANCE_BASE_URL", "http://ark.cn-beijing.volces.com/api/v3")
    with serving(server, FakeArk(KEY, statuses=("succeeded",))):
        model = Seedance.from_settings(
            Settings(), model_id="seedance-1-5-pro-251215", client=httpx.AsyncClient(proxy=server.url)
        )
        status = run(model, scenario)
        (create,) = server.calls("POST", TASKS)
    assert create.headers["host"] == "ark.cn-beijing.volces.com"
    assert create.json()["model"] == "doubao-seedance-1-5-pro-251215"
    assert status.state == "succeeded" and status.billed_usd is None
    assert probe(tmp_path / "take.mp4").frames > 0


def test_host_to_platform_mapping_and_model_ids_of_both_platforms() -> None:
    assert platform_for("https://ark.cn-beijing.volces.com/api/v3") == "volcengine"
    assert platform_for("https://ark.ap-southeast.bytepluses.com/api/v3") == "byteplus"
    assert platform_for("https://llm-proxy.corp.example/ark") == "byteplus"
    volc = Seedance(
        api_key=KEY,
        base_url="https://ark.cn-beijing.volces.com/api/v3",
        model_id="doubao-seedance-2-0-260128",
    )
    assert (
        volc.card.model_id == "dreamina-seedance-2-0-260128"
        and volc.wire_model_id == "doubao-seedance-2-0-260128"
    )
    with pytest.raises(ProviderError, match="unknown model 'seedance-9'"):
        Seedance(api_key=KEY, model_id="seedance-9")


def test_cards_are_priced_sourced_and_the_default_is_seedance_2() -> None:
    assert isinstance(Seedance(api_key=KEY), VideoModel)
    assert [c.model_id for c in CARDS] == [
        "dreamina-seedance-2-0-260128",
        "dreamina-seedance-2-0-fast-260128",
        "dreamina-seedance-2-5-260628",
        "seedance-1-5-pro-251215",
        "seedance-1-0-pro-250528",
    ]
    assert TOKENS_PER_SECOND_720P == 21_600
    assert CARDS[0].cost(5) == pytest.approx(0.756)  # the documented "720p 5 s ≈ $0.76"
    for card in CARDS:
        assert (
            card.name == "seedance" and card.price_source and card.price_date and card.typical_latency_s > 0
        )
        assert card.usd_per_second > 0 and card.image_to_video and card.first_last_frame
    assert (CARDS[0].reference_images, CARDS[0].reference_videos, CARDS[0].reference_audios) == (9, 3, 3)
    assert CARDS[2].durations_s == (4, 30) and CARDS[4].billed_seconds(2) == 2
