"""Contract tests for the image models: Seedream, GPT image and FLUX against loopback fakes of their
documented APIs (research §11, §15), and the offline sheet renderer."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from PIL import Image, ImageChops, ImageStat

from shotline.config import Settings
from shotline.errors import (
    ProviderError,
    ProviderUnavailable,
    RefusedPrompt,
    TransientProviderError,
    UnknownOutcome,
    UnknownProviderError,
)
from shotline.tools.image import configured_image_models, get_image_model
from shotline.tools.image.base import (
    HostedImage,
    ImageModel,
    ImageRequest,
    SheetSubject,
    render_images,
)
from shotline.tools.image.flux import Flux
from shotline.tools.image.local import VIEWS, LocalSheets, panel_boxes
from shotline.tools.image.openai_image import OpenAIImage
from shotline.tools.image.seedream import Seedream
from shotline.tools.video.base import MediaRef
from tests.fakes.comfyui import parse_multipart
from tests.fakes.images import FalFake, OpenAIImageFake, SeedreamFake, ark_error, openai_error, png_bytes
from tests.fakes.server import FakeServer, Recorded, Reply

KEY = "sk-TEST-imagekey-7f3a91"
T = TypeVar("T")


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeServer]:
    """One loopback server for the module; each test puts its own fake behind it."""
    with FakeServer(SeedreamFake()) as srv:
        yield srv


def serve(server: FakeServer, fake: Any) -> FakeServer:
    server.handler = fake
    server.requests.clear()
    return server


@pytest.fixture
def seedream_fake(_server: FakeServer) -> SeedreamFake:
    fake = SeedreamFake()
    serve(_server, fake)
    return fake


@pytest.fixture
def openai_fake(_server: FakeServer) -> OpenAIImageFake:
    fake = OpenAIImageFake()
    serve(_server, fake)
    return fake


@pytest.fixture
def fal_fake(_server: FakeServer) -> FalFake:
    fake = FalFake()
    serve(_server, fake)
    return fake


def run(model: Any, scenario: Callable[[Any], Awaitable[T]]) -> T:
    async def main() -> T:
        try:
            return await scenario(model)
        finally:
            if isinstance(model, HostedImage):
                await model.aclose()

    return asyncio.run(main())


def generate(model: Any, request: ImageRequest, dest: Path) -> list[Path]:
    return run(model, lambda m: m.generate(request, dest))


def local_ref(tmp_path: Path, i: int, name: str = "MEI, front view") -> MediaRef:
    path = tmp_path / f"ref{i}.png"
    path.write_bytes(png_bytes(i + 3))
    return MediaRef(sha256=hashlib.sha256(path.read_bytes()).hexdigest(), path=str(path), name=name)


def url_ref(i: int) -> MediaRef:
    return MediaRef(sha256=f"{i:02d}" * 32, url=f"https://cdn.example.com/ref{i}.png", name=f"ref {i}")


def sheet_request(**changes: Any) -> ImageRequest:
    base: dict[str, Any] = dict(
        prompt="MEI, character turnaround: face, front, side, back", width=1280, height=720
    )
    return ImageRequest(**{**base, **changes})


def only_post(server: FakeServer) -> Recorded:
    (call,) = [r for r in server.requests if r.method == "POST"]
    return call


def no_key_in(exc: BaseException) -> None:
    assert KEY not in str(exc) and KEY not in repr(exc.args)


# --- Seedream ---------------------------------------------------------------------------------


def seedream(server: FakeServer, **kw: Any) -> Seedream:
    return Seedream(api_key=KEY, base_url=server.url, **kw)


def test_seedream_text_to_image_request_and_stored_file(
    _server: FakeServer, seedream_fake: SeedreamFake, tmp_path: Path
) -> None:
    request = sheet_request()
    (path,) = generate(seedream(_server), request, tmp_path)

    call = only_post(_server)
    assert (call.path, call.headers["authorization"]) == ("/images/generations", f"Bearer {KEY}")
    assert call.json() == {
        "model": "seedream-5-0-260128",
        "prompt": request.prompt,
        "size": "2560x1440",  # 1280x720 is under 5.0's pixel floor: scaled up, same shape
        "sequential_image_generation": "disabled",
        "response_format": "url",
        "watermark": False,  # images default to a watermark
        "output_format": "png",
    }
    data = png_bytes(0)
    assert path == tmp_path / f"{hashlib.sha256(data).hexdigest()[:16]}.png"
    assert path.read_bytes() == data
    assert [r.path for r in _server.requests] == ["/images/generations", "/files/seedream-0.png"]


def test_seedream_turnaround_with_references(
    _server: FakeServer, seedream_fake: SeedreamFake, tmp_path: Path
) -> None:
    refs = (url_ref(1), local_ref(tmp_path, 2))
    request = sheet_request(n=3, references=refs)
    result = run(seedream(_server), lambda m: render_images(m, request, tmp_path / "out"))

    body = only_post(_server).json()
    assert body["image"][0] == "https://cdn.example.com/ref1.png"
    assert body["image"][1] == "data:image/png;base64," + base64.b64encode(png_bytes(5)).decode()
    assert body["sequential_image_generation"] == "auto"
    assert body["sequential_image_generation_options"] == {"max_images": 3}
    assert len({f.sha256 for f in result.files}) == 3
    for f in result.files:
        assert hashlib.sha256(Path(f.path).read_bytes()).hexdigest() == f.sha256
        assert (f.width, f.height, f.mime) == (48, 32, "image/png")
    assert (result.model, result.model_id, result.cost_usd) == ("seedream", "seedream-5-0-260128", 0.105)


def test_seedream_4_takes_smaller_sizes_and_no_output_format(
    _server: FakeServer, seedream_fake: SeedreamFake, tmp_path: Path
) -> None:
    generate(
        seedream(_server, model_id="seedream-4-0-250828"), sheet_request(width=1024, height=1024), tmp_path
    )
    generate(seedream(_server, model_id="seedream-4-0-250828"), sheet_request(size="2K"), tmp_path)
    first, second = (c.json() for c in _server.calls("POST"))
    assert first["size"] == "1024x1024" and "output_format" not in first
    assert second["size"] == "2K"


def test_seedream_follows_the_volcengine_host_and_ids() -> None:
    volc = "https://ark.cn-beijing.volces.com/api/v3"
    assert Seedream(api_key=KEY, base_url=volc).wire_model_id == "doubao-seedream-5-0-260128"
    model = Seedream(api_key=KEY, base_url=volc, model_id="doubao-seedream-4-5-251128")
    assert (model.card.model_id, model.wire_model_id) == ("seedream-4-5-251128", "doubao-seedream-4-5-251128")
    with pytest.raises(ProviderError, match="unknown model 'seedream-9'"):
        Seedream(api_key=KEY, model_id="seedream-9")


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        (
            ark_error(
                400,
                "InputTextSensitiveContentDetected",
                "The request failed because the input text may contain sensitive information.",
            ),
            RefusedPrompt,
            "refused by moderation: InputTextSensitiveContentDetected",
        ),
        (
            ark_error(400, "InputImageSensitiveContentDetected.PrivacyInformation", "real person"),
            RefusedPrompt,
            "refused by moderation",
        ),
        (
            ark_error(401, "AuthenticationError", "the API key is invalid"),
            ProviderError,
            "HTTP 401: AuthenticationError",
        ),
        (ark_error(429, "QuotaExceeded", "free quota used up"), ProviderError, "HTTP 429: QuotaExceeded"),
        (
            ark_error(400, "InvalidParameter", "size 100x100 out of range"),
            ProviderError,
            "HTTP 400: InvalidParameter",
        ),
    ],
)
def test_seedream_errors(
    _server: FakeServer, seedream_fake: SeedreamFake, tmp_path: Path, reply: Reply, error: type, words: str
) -> None:
    seedream_fake.canned("POST /images/generations", reply)
    with pytest.raises(error, match=words) as info:
        generate(seedream(_server), sheet_request(), tmp_path)
    assert not isinstance(info.value, TransientProviderError)
    no_key_in(info.value)


def test_seedream_rate_limit_and_server_errors_are_transient(
    _server: FakeServer, seedream_fake: SeedreamFake, tmp_path: Path
) -> None:
    seedream_fake.canned(
        "POST /images/generations",
        ark_error(429, "ModelAccountRpmRateLimitExceeded", "slow down", **{"Retry-After": "12"}),
        ark_error(500, "InternalServiceError", "try again"),
    )
    with pytest.raises(TransientProviderError) as info:
        generate(seedream(_server), sheet_request(), tmp_path)
    assert info.value.retry_after == 12.0
    with pytest.raises(TransientProviderError, match="HTTP 500"):
        generate(seedream(_server), sheet_request(), tmp_path)


def test_seedream_answer_with_every_image_moderated_is_a_refusal(
    _server: FakeServer, seedream_fake: SeedreamFake, tmp_path: Path
) -> None:
    seedream_fake.canned(
        "POST /images/generations",
        Reply(
            200,
            {
                "model": "seedream-5-0-260128",
                "created": 1757321139,
                "data": [
                    {
                        "error": {
                            "code": "OutputImageSensitiveContentDetected",
                            "message": "the output may be sensitive",
                        }
                    }
                ],
                "usage": {"generated_images": 0, "output_tokens": 0, "total_tokens": 0},
            },
        ),
    )
    with pytest.raises(RefusedPrompt, match="OutputImageSensitiveContentDetected"):
        generate(seedream(_server), sheet_request(), tmp_path)


def test_seedream_refuses_too_many_references_before_sending(
    _server: FakeServer, seedream_fake: SeedreamFake, tmp_path: Path
) -> None:
    with pytest.raises(ProviderError, match="at most 14 reference image"):
        generate(seedream(_server), sheet_request(references=tuple(url_ref(i) for i in range(15))), tmp_path)
    with pytest.raises(ProviderError, match="references plus images asked for must be at most 15"):
        generate(
            seedream(_server), sheet_request(n=5, references=tuple(url_ref(i) for i in range(11))), tmp_path
        )
    video = MediaRef(kind="video", sha256="cd" * 32, url="https://cdn.example.com/a.mp4")
    with pytest.raises(ProviderError, match="image references only"):
        generate(seedream(_server), sheet_request(references=(video,)), tmp_path)
    assert _server.requests == []


def test_seedream_submit_timeout_is_unknown_outcome(
    _server: FakeServer, seedream_fake: SeedreamFake, tmp_path: Path
) -> None:
    seedream_fake.canned("POST /images/generations", Reply(200, {"data": []}, delay_s=1.0))
    model = Seedream(api_key=KEY, base_url=_server.url, client=httpx.AsyncClient(timeout=0.5))
    with pytest.raises(UnknownOutcome) as info:
        generate(model, sheet_request(), tmp_path)
    no_key_in(info.value)


# --- OpenAI GPT image -----------------------------------------------------------------------------


def openai(server: FakeServer, **kw: Any) -> OpenAIImage:
    return OpenAIImage(api_key=KEY, base_url=f"{server.url}/v1", **kw)


def test_openai_generation_request_and_base64_files(
    _server: FakeServer, openai_fake: OpenAIImageFake, tmp_path: Path
) -> None:
    request = sheet_request(n=2)
    paths = generate(openai(_server), request, tmp_path)

    call = only_post(_server)
    assert (call.path, call.headers["authorization"]) == ("/v1/images/generations", f"Bearer {KEY}")
    assert call.json() == {
        "model": "gpt-image-2",
        "prompt": request.prompt,
        "n": 2,
        "size": "1280x720",  # gpt-image-2 takes any size in multiples of 16
        "quality": "medium",
        "output_format": "png",
    }
    assert [p.read_bytes() for p in paths] == [png_bytes(0), png_bytes(1)]
    assert len(_server.requests) == 1  # base64 in the answer: nothing to download


@pytest.mark.parametrize(
    ("w", "h", "size"), [(1280, 720, "1536x1024"), (720, 1280, "1024x1536"), (960, 960, "1024x1024")]
)
def test_openai_1x_models_take_their_three_sizes(
    _server: FakeServer, openai_fake: OpenAIImageFake, tmp_path: Path, w: int, h: int, size: str
) -> None:
    generate(openai(_server, model_id="gpt-image-1.5"), sheet_request(width=w, height=h), tmp_path)
    assert only_post(_server).json()["size"] == size


def test_openai_references_go_to_edits_as_multipart(
    _server: FakeServer, openai_fake: OpenAIImageFake, tmp_path: Path
) -> None:
    refs = (local_ref(tmp_path, 0), local_ref(tmp_path, 1, "MEI, side view"))
    (path,) = generate(openai(_server), sheet_request(references=refs), tmp_path / "out")

    call = only_post(_server)
    assert (call.path, call.headers["authorization"]) == ("/v1/images/edits", f"Bearer {KEY}")
    fields, files = parse_multipart(call)
    assert fields == {
        "model": "gpt-image-2",
        "prompt": sheet_request().prompt,
        "n": "1",
        "size": "1280x720",
        "quality": "medium",
        "output_format": "png",
    }
    assert files == [("image[]", "ref0.png", png_bytes(3)), ("image[]", "ref1.png", png_bytes(4))]
    assert path.read_bytes() == png_bytes(0)


def test_openai_reference_must_be_a_local_file(
    _server: FakeServer, openai_fake: OpenAIImageFake, tmp_path: Path
) -> None:
    with pytest.raises(ProviderError, match="must be a local file"):
        generate(openai(_server), sheet_request(references=(url_ref(1),)), tmp_path)
    assert _server.requests == []


@pytest.mark.parametrize(
    ("reply", "error", "transient"),
    [
        (
            openai_error(
                400,
                "moderation_blocked",
                "Your request was rejected by the safety system.",
                "image_generation_user_error",
            ),
            RefusedPrompt,
            False,
        ),
        (
            openai_error(429, "insufficient_quota", "You exceeded your current quota.", "insufficient_quota"),
            ProviderError,
            False,
        ),
        (
            openai_error(429, "rate_limit_exceeded", "Rate limit reached for images per minute.", "requests"),
            TransientProviderError,
            True,
        ),
        (
            openai_error(
                401,
                "invalid_api_key",
                "Incorrect API key provided: sk-TEST-****7f3a.",
                "invalid_request_error",
            ),
            ProviderError,
            False,
        ),
        (
            openai_error(503, "server_error", "The server is overloaded.", "server_error"),
            TransientProviderError,
            True,
        ),
    ],
)
def test_openai_errors(
    _server: FakeServer,
    openai_fake: OpenAIImageFake,
    tmp_path: Path,
    reply: Reply,
    error: type,
    transient: bool,
) -> None:
    openai_fake.canned("POST /v1/images/generations", reply)
    with pytest.raises(error) as info:
        generate(openai(_server), sheet_request(), tmp_path)
    assert isinstance(info.value, TransientProviderError) == transient
    assert str(info.value).startswith("openai: ")
    no_key_in(info.value)


def test_openai_edit_timeout_is_unknown_outcome(
    _server: FakeServer, openai_fake: OpenAIImageFake, tmp_path: Path
) -> None:
    openai_fake.canned("POST /v1/images/edits", Reply(200, {"data": []}, delay_s=1.0))
    model = OpenAIImage(api_key=KEY, base_url=f"{_server.url}/v1", client=httpx.AsyncClient(timeout=0.5))
    with pytest.raises(UnknownOutcome, match="may have run and been billed"):
        generate(model, sheet_request(references=(local_ref(tmp_path, 0),)), tmp_path)


# --- FLUX on fal ---------------------------------------------------------------------------------


def flux(server: FakeServer, **kw: Any) -> Flux:
    model = Flux(api_key=KEY, base_url=server.url, **kw)
    model.poll_interval_s = 0.01
    return model


def test_flux_queue_flow_text_to_image(_server: FakeServer, fal_fake: FalFake, tmp_path: Path) -> None:
    request = sheet_request(seed=7)
    (path,) = generate(flux(_server), request, tmp_path)

    submit = only_post(_server)
    assert (submit.path, submit.headers["authorization"]) == (
        "/fal-ai/flux-pro/kontext/text-to-image",
        f"Key {KEY}",
    )
    assert submit.json() == {
        "prompt": request.prompt,
        "num_images": 1,
        "output_format": "png",
        "aspect_ratio": "16:9",
        "seed": 7,
    }
    base = "/fal-ai/flux-pro/requests/fal-req-0001"
    gets = [r.path for r in _server.requests if r.method == "GET"]
    assert gets == [f"{base}/status"] * 3 + [base, "/files/fal-req-0001-0.png"]
    assert all(r.headers["authorization"] == f"Key {KEY}" for r in _server.requests[:-1])
    assert "authorization" not in _server.requests[-1].headers  # never send the key to a CDN
    assert path.read_bytes() == png_bytes(0)


@pytest.mark.parametrize(
    ("model_id", "refs", "app", "fields"),
    [
        (
            "fal-ai/flux-pro/kontext",
            1,
            "/fal-ai/flux-pro/kontext",
            {"image_url": "https://cdn.example.com/ref0.png"},
        ),
        (
            "fal-ai/flux-pro/kontext",
            2,
            "/fal-ai/flux-pro/kontext/multi",
            {"image_urls": ["https://cdn.example.com/ref0.png", "https://cdn.example.com/ref1.png"]},
        ),
        (
            "fal-ai/flux-pro/kontext/max",
            0,
            "/fal-ai/flux-pro/kontext/max/text-to-image",
            {"aspect_ratio": "16:9"},
        ),
        ("fal-ai/flux-2-pro", 0, "/fal-ai/flux-2-pro", {"image_size": {"width": 1280, "height": 720}}),
        (
            "fal-ai/flux-2-pro",
            1,
            "/fal-ai/flux-2-pro/edit",
            {"image_urls": ["https://cdn.example.com/ref0.png"]},
        ),
    ],
)
def test_flux_picks_the_app_by_references(
    _server: FakeServer,
    fal_fake: FalFake,
    tmp_path: Path,
    model_id: str,
    refs: int,
    app: str,
    fields: dict[str, Any],
) -> None:
    generate(
        flux(_server, model_id=model_id),
        sheet_request(references=tuple(url_ref(i) for i in range(refs))),
        tmp_path,
    )
    submit = only_post(_server)
    assert submit.path == app
    assert fields.items() <= submit.json().items()


def test_flux_drops_flagged_images_and_refuses_when_all_are(
    _server: FakeServer, fal_fake: FalFake, tmp_path: Path
) -> None:
    fal_fake.nsfw = [True, False]
    paths = generate(flux(_server), sheet_request(n=2), tmp_path)
    assert [p.read_bytes() for p in paths] == [png_bytes(1)]
    fal_fake.nsfw = [True]
    with pytest.raises(RefusedPrompt, match="flagged by the safety checker"):
        generate(flux(_server), sheet_request(), tmp_path)


@pytest.mark.parametrize(
    ("reply", "error", "words"),
    [
        (
            Reply(
                422,
                {
                    "detail": [
                        {
                            "loc": ["body", "prompt"],
                            "msg": "The content could not be processed because it contained material flagged by a content checker.",
                            "type": "content_policy_violation",
                            "url": "https://docs.fal.ai/errors#content_policy_violation",
                        }
                    ]
                },
            ),
            RefusedPrompt,
            "refused by moderation: content_policy_violation",
        ),
        (
            Reply(
                422,
                {
                    "detail": [
                        {
                            "loc": ["body", "num_images"],
                            "msg": "Input should be less than or equal to 4",
                            "type": "less_than_equal",
                        }
                    ]
                },
            ),
            ProviderError,
            "HTTP 422: less_than_equal: Input should be less than or equal to 4",
        ),
        (Reply(401, {"detail": "Invalid Key"}), ProviderError, "HTTP 401: Invalid Key"),
        (
            Reply(403, {"detail": "User is locked. Reason: Exhausted balance."}),
            ProviderError,
            "HTTP 403: User is locked",
        ),
    ],
)
def test_flux_submit_errors(
    _server: FakeServer, fal_fake: FalFake, tmp_path: Path, reply: Reply, error: type, words: str
) -> None:
    fal_fake.canned("POST *", reply)
    with pytest.raises(error, match=words) as info:
        generate(flux(_server), sheet_request(), tmp_path)
    assert not isinstance(info.value, TransientProviderError)
    no_key_in(info.value)


def test_flux_rate_limit_is_transient(_server: FakeServer, fal_fake: FalFake, tmp_path: Path) -> None:
    fal_fake.canned("POST *", Reply(429, {"detail": "Too many requests"}, {"Retry-After": "3"}))
    with pytest.raises(TransientProviderError) as info:
        generate(flux(_server), sheet_request(), tmp_path)
    assert info.value.retry_after == 3.0


def test_flux_completed_with_error_is_a_failure(
    _server: FakeServer, fal_fake: FalFake, tmp_path: Path
) -> None:
    fal_fake.statuses = [
        {
            "status": "COMPLETED",
            "error": "Internal error while generating",
            "error_type": "runner_server_error",
        }
    ]
    with pytest.raises(
        ProviderError, match="fal-req-0001 failed: runner_server_error Internal error"
    ) as info:
        generate(flux(_server), sheet_request(), tmp_path)
    assert not isinstance(info.value, RefusedPrompt)


def test_flux_waits_no_longer_than_its_limit(_server: FakeServer, fal_fake: FalFake, tmp_path: Path) -> None:
    fal_fake.statuses = [{"status": "IN_QUEUE", "queue_position": 40}]
    model = flux(_server)
    model.max_wait_s = 0.05
    with pytest.raises(UnknownOutcome, match="fal-req-0001 still IN_QUEUE after 0 s; it may still finish"):
        generate(model, sheet_request(), tmp_path)


# --- keys and base URLs, every hosted model ----------------------------------------------------------

HOSTED = [
    (Seedream, "ARK_API_KEY", "SHOTLINE_SEEDREAM_BASE_URL", "SHOTLINE_SEEDANCE_BASE_URL", SeedreamFake),
    (OpenAIImage, "OPENAI_API_KEY", "SHOTLINE_OPENAI_BASE_URL", None, OpenAIImageFake),
    (Flux, "FAL_KEY", "SHOTLINE_FLUX_BASE_URL", "SHOTLINE_FAL_BASE_URL", FalFake),
]


def _clear_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for _, key, own, shared, _ in HOSTED:
        for var in (key, own, shared):
            if var:
                monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize(("cls", "key_var", "own", "shared", "fake"), HOSTED)
def test_no_key_means_unavailable_and_nothing_is_sent(
    _server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    cls: type,
    key_var: str,
    own: str,
    shared: str | None,
    fake: type,
) -> None:
    serve(_server, fake())
    _clear_env(monkeypatch)
    monkeypatch.setenv(own, _server.url)  # the server is there; only the key is missing
    model = cls.from_settings(Settings(_env_file=None))
    assert key_var in (model.unavailable_reason() or "")
    with pytest.raises(ProviderUnavailable, match=key_var):
        generate(model, sheet_request(), tmp_path)
    assert _server.requests == []


@pytest.mark.parametrize(("cls", "key_var", "own", "shared", "fake"), HOSTED)
def test_base_url_override_and_shared_fallback(
    _server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    cls: type,
    key_var: str,
    own: str,
    shared: str | None,
    fake: type,
) -> None:
    serve(_server, fake())
    _clear_env(monkeypatch)
    monkeypatch.setenv(key_var, KEY)
    url = _server.url + ("/v1" if cls is OpenAIImage else "")
    monkeypatch.setenv(own, url)
    model = cls.from_settings(Settings(_env_file=None))
    assert model.base_url == url and model.unavailable_reason() is None
    if isinstance(model, Flux):
        model.poll_interval_s = 0.01
    assert len(generate(model, sheet_request(), tmp_path)) == 1
    if shared:
        monkeypatch.delenv(own)
        monkeypatch.setenv(shared, "http://127.0.0.1:9/shared")
        assert cls.from_settings(Settings(_env_file=None)).base_url == "http://127.0.0.1:9/shared"


@pytest.mark.parametrize("cls", [Seedream, OpenAIImage, Flux])
def test_hosted_cards_are_priced_and_sourced(cls: type) -> None:
    for card in cls.cards:
        assert card.usd_per_image > 0 and card.price_source and card.price_date and card.model_id
    model = cls(api_key=KEY)
    assert isinstance(model, ImageModel) and model.card is cls.cards[0]
    payload = model.key_payload(sheet_request(references=(url_ref(1),)))
    assert payload["references"] == [{"sha256": "01" * 32, "name": "ref 1"}]  # by content, not location


# --- the offline renderer --------------------------------------------------------------------------


def character(**changes: Any) -> ImageRequest:
    subject = SheetSubject(kind="character", name="MEI", color=changes.pop("color", "#d9534f"))
    return ImageRequest(prompt="MEI, reference sheet", width=1024, height=768, subject=subject, **changes)


def panels(path: Path) -> list[Image.Image]:
    with Image.open(path) as img:
        return [img.convert("RGB").crop(box) for box in panel_boxes(*img.size)]


@pytest.mark.parametrize("color", ["#d9534f", "#3b7dd8", "#2e8b57"])
def test_local_character_sheet_has_four_different_views_in_the_characters_colour(
    tmp_path: Path, color: str
) -> None:
    model = LocalSheets()
    (path,) = asyncio.run(model.generate(character(color=color), tmp_path))
    with Image.open(path) as img:
        assert (img.size, img.format) == ((1024, 768), "PNG")
        rgb = img.convert("RGB")
    views = panels(path)
    assert len(views) == len(VIEWS) == 4
    for i in range(4):
        for j in range(i + 1, 4):
            diff = ImageStat.Stat(ImageChops.difference(views[i], views[j])).mean
            assert sum(diff) / 3 > 2.0, f"{VIEWS[i]} and {VIEWS[j]} look the same"
    background = {rgb.getpixel((1, 1)), views[0].getpixel((views[0].width // 2, 2))}
    counts = Counter({c: n for n, c in rgb.getcolors(1 << 24) or [] if c not in background})
    dominant, _ = counts.most_common(1)[0]
    assert dominant == Image.new("RGB", (1, 1), color).getpixel((0, 0))


def test_local_sheets_are_deterministic_and_content_named(tmp_path: Path) -> None:
    model = LocalSheets()
    first = asyncio.run(model.generate(character(), tmp_path / "a"))[0]
    second = asyncio.run(model.generate(character(), tmp_path / "b"))[0]
    assert first.read_bytes() == second.read_bytes() and first.name == second.name
    assert first.name == hashlib.sha256(first.read_bytes()).hexdigest()[:16] + ".png"
    other = asyncio.run(model.generate(character(color="#3b7dd8"), tmp_path / "a"))[0]
    assert other != first


def test_local_set_plates_by_day_and_night(tmp_path: Path) -> None:
    model = LocalSheets()

    def plate(night: bool, interior: bool) -> Image.Image:
        subject = SheetSubject(
            kind="set", name="RAINY ALLEY", color="#556b7d", interior=interior, night=night
        )
        (path,) = asyncio.run(
            model.generate(ImageRequest(prompt="plate", width=640, height=360, subject=subject), tmp_path)
        )
        with Image.open(path) as img:
            return img.convert("RGB")

    for interior in (True, False):
        day, night = plate(False, interior), plate(True, interior)
        assert day.size == (640, 360)
        assert sum(ImageStat.Stat(night).mean) < 0.7 * sum(ImageStat.Stat(day).mean)
    assert ImageChops.difference(plate(False, True), plate(False, False)).getbbox() is not None


def test_local_renderer_needs_a_subject_and_makes_one_sheet(tmp_path: Path) -> None:
    model = LocalSheets()
    assert model.unavailable_reason() is None and isinstance(model, ImageModel)
    assert (model.card.local, model.card.cost(3)) == (True, 0.0)
    with pytest.raises(ProviderError, match="give the request a subject"):
        asyncio.run(model.generate(ImageRequest(prompt="a keyframe"), tmp_path))
    with pytest.raises(ProviderError, match="one sheet a request"):
        asyncio.run(model.generate(character(n=2), tmp_path))
    result = asyncio.run(render_images(model, character(), tmp_path))
    assert (result.model, result.cost_usd, result.files[0].mime) == ("local", 0.0, "image/png")


def test_a_provider_answering_with_a_non_image_fails_clearly(
    _server: FakeServer, seedream_fake: SeedreamFake, tmp_path: Path
) -> None:
    def broken(req: Recorded) -> Reply:
        if req.method == "GET":
            return Reply(200, b"<html>not an image</html>", {"Content-Type": "text/html"})
        return SeedreamFake.answer(seedream_fake, req)

    serve(_server, broken)
    with pytest.raises(ProviderError, match="seedream: returned a file that is not an image"):
        generate(seedream(_server), sheet_request(), tmp_path)
    assert not list(tmp_path.iterdir())  # no half-stored file left behind


def test_registry_lists_configured_models_with_the_offline_one_last(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_env(monkeypatch)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert [m.card.name for m in configured_image_models(settings)] == ["local"]
    monkeypatch.setenv("ARK_API_KEY", KEY)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert [m.card.name for m in configured_image_models(settings)] == ["seedream", "local"]
    model = get_image_model("Seedream", settings, model_id="seedream-4-5-251128")
    assert model.card.model_id == "seedream-4-5-251128"
    with pytest.raises(UnknownProviderError, match="known image providers: seedream, openai, flux, local"):
        get_image_model("midjourney", settings)
