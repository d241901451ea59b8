"""Contract tests for the ComfyUI wrapper against a loopback fake of its HTTP API (research §10)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
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
from shotline.tools.video.base import MediaRef, RenderRequest, VideoModel
from shotline.tools.video.comfyui import (
    DEFAULT_NEGATIVE,
    WORKFLOWS,
    ComfyUI,
    Workflow,
    frame_count,
    frame_size,
)
from tests.fakes.comfyui import VALIDATION_ERROR, ComfyFake, parse_multipart
from tests.fakes.server import FakeServer, Reply
from tests.fakes.server import run_scenario as run

T = TypeVar("T")
TEMPLATE = json.loads((WORKFLOWS / "wan22_ti2v_5b.json").read_text())


def req(**changes: Any) -> RenderRequest:
    base: dict[str, Any] = dict(
        shot_id="s01",
        model="comfyui",
        prompt="MEI steps out into the rain, neon reflections",
        duration_s=5.0,
        ratio="16:9",
        width=1280,
        height=720,
    )
    return RenderRequest(**{**base, **changes})


def png_ref(tmp_path: Path, role: str = "first_frame", color: str = "#d9534f") -> MediaRef:
    path = tmp_path / f"{role}.png"
    Image.new("RGB", (64, 36), color).save(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return MediaRef(role=role, sha256=sha, path=str(path), name="MEI, keyframe")  # type: ignore[arg-type]


@pytest.fixture
def fake() -> ComfyFake:
    return ComfyFake()


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeServer]:
    """One loopback server for the module (stopping one takes half a second); each test gets a fresh
    fake behind it and an empty request log."""
    with FakeServer(ComfyFake()) as srv:
        yield srv


@pytest.fixture
def server(_server: FakeServer, fake: ComfyFake) -> FakeServer:
    _server.handler = fake
    _server.requests.clear()
    return _server


def comfy(server: FakeServer, **kw: Any) -> ComfyUI:
    return ComfyUI(base_url=server.url, **kw)


def queued_graph(server: FakeServer) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the POST /prompt body, its graph) of the only submit."""
    (call,) = server.calls("POST", "/prompt")
    body = call.json()
    return body, body["prompt"]


# --- submit: the exact request ------------------------------------------------------------------


def test_text_to_video_queues_the_filled_template(server: FakeServer) -> None:
    model = comfy(server)
    request = req(seed=1234)
    task_id = run(model, lambda m: m.submit(request))

    assert task_id == ComfyUI(base_url=server.url).prompt_id_for(request)
    assert str(uuid.UUID(task_id)) == task_id  # a canonical UUID, as ComfyUI wants
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/prompt")]
    call = server.requests[0]
    assert call.headers["content-type"] == "application/json"
    assert "authorization" not in call.headers and "origin" not in call.headers
    body, graph = queued_graph(server)
    assert set(body) == {"prompt", "client_id", "prompt_id"}
    assert body["prompt_id"] == task_id and body["client_id"]
    assert graph["5"]["inputs"]["text"] == request.prompt
    assert graph["6"]["inputs"]["text"] == DEFAULT_NEGATIVE
    assert graph["9"]["inputs"]["seed"] == 1234
    latent = graph["8"]["inputs"]
    assert (latent["width"], latent["height"], latent["length"]) == (1280, 704, 121)
    assert "7" not in graph and "start_image" not in latent  # no first frame: text-to-video
    assert graph["11"]["inputs"]["fps"] == 24.0
    assert graph["12"]["inputs"]["filename_prefix"] == f"shotline/s01_{task_id[:8]}"
    run(comfy(server), lambda m: m.submit(req(shot_id="../sc 2/004")))
    assert (
        server.calls("POST", "/prompt")[-1]
        .json()["prompt"]["12"]["inputs"]["filename_prefix"]
        .startswith("shotline/___sc_2_004_")
    )
    # everything else is the template, untouched
    assert graph["1"] == TEMPLATE["1"] and graph["9"]["inputs"]["steps"] == 20


def test_first_frame_is_uploaded_then_loaded(server: FakeServer, fake: ComfyFake, tmp_path: Path) -> None:
    first = png_ref(tmp_path)
    run(comfy(server), lambda m: m.submit(req(first_frame=first)))

    assert [(r.method, r.path) for r in server.requests] == [("POST", "/upload/image"), ("POST", "/prompt")]
    upload = server.requests[0]
    assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
    fields, files = parse_multipart(upload)
    assert fields == {"type": "input", "overwrite": "true"}
    name = f"shotline_{first.sha256[:16]}.png"
    assert files == [("image", name, Path(first.path or "").read_bytes())]
    _, graph = queued_graph(server)
    assert graph["7"] == {**TEMPLATE["7"], "inputs": {"image": name}}
    assert graph["8"]["inputs"]["start_image"] == ["7", 0]


def test_prompt_id_and_default_seed_are_stable_per_request(server: FakeServer) -> None:
    a, b = comfy(server), comfy(server)
    request = req()
    assert a.prompt_id_for(request) == b.prompt_id_for(request)
    assert a.prompt_id_for(request) != a.prompt_id_for(req(shot_id="s02"))
    assert a.prompt_id_for(request) != a.prompt_id_for(req(seed=5))
    run(a, lambda m: m.submit(request))
    run(b, lambda m: m.submit(request))
    seeds = [c.json()["prompt"]["9"]["inputs"]["seed"] for c in server.calls("POST", "/prompt")]
    assert seeds[0] == seeds[1] and seeds[0] > 0


@pytest.mark.parametrize(
    ("duration", "ratio", "resolution", "expected"),
    [
        (5.0, "16:9", "720p", (121, 1280, 704)),
        (3.0, "9:16", "480p", (73, 480, 832)),
        (8.0, "1:1", "720p", (121, 704, 704)),  # the card makes at most 5 s
        (0.5, "16:9", "480p", (25, 832, 480)),  # and at least 1 s
    ],
)
def test_duration_and_size_mapping(
    server: FakeServer, duration: float, ratio: str, resolution: str, expected: tuple[int, int, int]
) -> None:
    run(comfy(server), lambda m: m.submit(req(duration_s=duration, ratio=ratio, resolution=resolution)))
    latent = queued_graph(server)[1]["8"]["inputs"]
    assert (latent["length"], latent["width"], latent["height"]) == expected


def test_frame_and_size_helpers() -> None:
    assert [frame_count(s, 24, 4) for s in (1, 2, 5)] == [25, 49, 121]
    assert all((frame_count(s / 10, 24, 4) - 1) % 4 == 0 for s in range(5, 60))
    assert frame_size("16:9", "720p", 32) == (1280, 704)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"resolution": "1080p"}, "resolution 1080p"),
        ({"references": "ref"}, "reference files"),
        ({"last_frame": "last"}, "last frame"),
        ({"first_frame": "url-only"}, "must be a local file"),
    ],
)
def test_refuses_what_it_cannot_take_before_sending(
    server: FakeServer, tmp_path: Path, changes: dict[str, Any], words: str
) -> None:
    value = next(iter(changes.values()))
    if value == "ref":
        changes = {"references": (png_ref(tmp_path, "reference"),)}
    elif value == "last":
        changes = {"first_frame": png_ref(tmp_path), "last_frame": png_ref(tmp_path, "last_frame")}
    elif value == "url-only":
        ref = MediaRef(role="first_frame", sha256="ab" * 32, url="https://cdn.example.com/f.png")
        changes = {"first_frame": ref}
    with pytest.raises(ProviderError, match=words) as info:
        run(comfy(server), lambda m: m.submit(req(**changes)))
    assert str(info.value).startswith("comfyui: ")
    assert server.requests == []


# --- poll -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "state", "raw", "code"),
    [
        ("pending", "queued", "pending", None),
        ("running", "running", "running", None),
        ("success", "succeeded", "success", None),
        ("error", "failed", "error", "torch.OutOfMemoryError"),
        ("interrupted", "failed", "error", "interrupted"),
        ("no_video", "failed", "success", "no_output"),
    ],
)
def test_poll_maps_every_state(
    server: FakeServer, fake: ComfyFake, phase: str, state: str, raw: str, code: str | None
) -> None:
    async def scenario(m: ComfyUI):
        task_id = await m.submit(req())
        fake.phase = phase  # type: ignore[assignment]
        return task_id, await m.poll(task_id)

    task_id, status = run(comfy(server), scenario)
    assert (status.task_id, status.state, status.raw_status, status.error_code) == (task_id, state, raw, code)
    assert status.refused is False  # ComfyUI has no moderation
    if phase == "success":
        assert (
            status.url == f"{server.url}/view?filename=s01_0f1e2d3c_00001_.mp4&subfolder=shotline&type=output"
        )
    if phase == "error":
        assert "KSampler (node 9)" in (status.error or "") and "out of memory" in (status.error or "")


def test_poll_of_a_prompt_the_server_never_saw_is_not_found(server: FakeServer, fake: ComfyFake) -> None:
    fake.phase = "lost"
    status = run(comfy(server), lambda m: m.poll("0b6f3a4e-1111-4222-8333-944455566677"))
    assert (status.state, status.error_code) == ("failed", "not_found")
    assert "restarted" in (status.error or "")
    # history, then the queue, then history once more (the prompt may have ended between the reads)
    assert [r.path for r in server.requests] == [
        "/history/0b6f3a4e-1111-4222-8333-944455566677",
        "/queue",
        "/history/0b6f3a4e-1111-4222-8333-944455566677",
    ]


# --- fetch ------------------------------------------------------------------------------------


def test_fetch_downloads_the_real_video(server: FakeServer, tmp_path: Path) -> None:
    dest = tmp_path / "take.mp4"

    async def scenario(m: ComfyUI) -> Path:
        return await m.fetch(await m.submit(req()), dest)

    assert run(comfy(server), scenario) == dest
    info = probe(dest)
    assert (info.width, info.height, info.codec) == (320, 176, "h264")
    assert info.duration_s == pytest.approx(1.0, abs=0.05)
    (view,) = server.calls("GET", "/view")
    assert view.query == {
        "filename": ["s01_0f1e2d3c_00001_.mp4"],
        "subfolder": ["shotline"],
        "type": ["output"],
    }


def test_a_vanished_file_is_fetched_again_from_a_fresh_poll(
    server: FakeServer, fake: ComfyFake, tmp_path: Path
) -> None:
    fake.outputs = ["s01_0f1e2d3c_00001_.mp4", "s01_0f1e2d3c_00002_.mp4"]  # the prompt ran again
    fake.view_failures = [410]
    dest = tmp_path / "take.mp4"

    async def scenario(m: ComfyUI) -> Path:
        return await m.fetch(await m.submit(req()), dest)

    run(comfy(server), scenario)
    assert probe(dest).frames == 24
    names = [c.query["filename"][0] for c in server.calls("GET", "/view")]
    assert names == ["s01_0f1e2d3c_00001_.mp4", "s01_0f1e2d3c_00002_.mp4"]
    assert not list(tmp_path.glob("*.part"))


def test_a_file_gone_for_good_is_expired(server: FakeServer, fake: ComfyFake, tmp_path: Path) -> None:
    fake.view_failures = [403, 404]

    async def scenario(m: ComfyUI) -> Path:
        return await m.fetch(await m.submit(req()), tmp_path / "take.mp4")

    with pytest.raises(ExpiredURL, match="comfyui: result URL answered HTTP 403"):
        run(comfy(server), scenario)
    assert len(server.calls("GET", "/view")) == 1  # the fresh poll named the same file: not asked again
    assert fake.history_reads == 2


# --- errors -------------------------------------------------------------------------------------


def test_rate_limited_is_transient_with_retry_after(server: FakeServer, fake: ComfyFake) -> None:
    fake.canned("POST /prompt", Reply(429, {"error": "busy"}, {"Retry-After": "7"}))
    with pytest.raises(TransientProviderError) as info:
        run(comfy(server), lambda m: m.submit(req()))
    assert info.value.retry_after == 7.0


def test_server_error_is_transient(server: FakeServer, fake: ComfyFake) -> None:
    fake.canned("POST /prompt", Reply(500, {"error": "Internal Server Error"}))
    with pytest.raises(TransientProviderError, match="HTTP 500"):
        run(comfy(server), lambda m: m.submit(req()))


def test_unauthorised_proxy_is_permanent(server: FakeServer, fake: ComfyFake) -> None:
    """ComfyUI has no auth, but users put it behind an authenticating reverse proxy."""
    fake.canned("POST /prompt", Reply(401, {"message": "Unauthorized"}))
    with pytest.raises(ProviderError, match="HTTP 401: Unauthorized") as info:
        run(comfy(server), lambda m: m.submit(req()))
    assert not isinstance(info.value, TransientProviderError)


def test_invalid_workflow_names_the_node_and_the_missing_model(server: FakeServer, fake: ComfyFake) -> None:
    fake.canned("POST /prompt", Reply(400, VALIDATION_ERROR))
    with pytest.raises(ProviderError) as info:
        run(comfy(server), lambda m: m.submit(req()))
    message = str(info.value)
    assert not isinstance(info.value, TransientProviderError)
    assert message.startswith("comfyui: HTTP 400: Prompt outputs failed validation")
    assert "UNETLoader (node 1): Value not in list: unet_name: 'wan2.2_ti2v_5B_fp16.safetensors'" in message
    assert "\n" not in message


def test_submit_timeout_is_unknown_outcome_and_the_prompt_can_be_found(
    server: FakeServer, fake: ComfyFake
) -> None:
    fake.slow["POST /prompt"] = 1.0  # queued, but the answer comes too late
    fake.phase = "pending"
    request = req()

    async def scenario(m: ComfyUI) -> tuple[str, str | None]:
        with pytest.raises(UnknownOutcome) as info:
            await m.submit(request)
        return str(info.value), await m.find_task(request)

    model = ComfyUI(base_url=server.url, client=httpx.AsyncClient(timeout=0.5))
    message, found = run(model, scenario)
    prompt_id = model.prompt_id_for(request)
    assert prompt_id in message and message.startswith("comfyui: ")
    assert found == prompt_id


def test_find_task_is_none_when_the_submit_never_arrived(server: FakeServer, fake: ComfyFake) -> None:
    fake.phase = "lost"
    assert run(comfy(server), lambda m: m.find_task(req())) is None


# --- configuration ------------------------------------------------------------------------------


def test_no_server_configured_means_unavailable(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("COMFYUI_URL", "SHOTLINE_COMFYUI_BASE_URL", "SHOTLINE_COMFYUI_WORKFLOW"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(ComfyUI, "default_base_url", server.url)  # a server is up, just not configured
    model = ComfyUI.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    reason = model.unavailable_reason() or ""
    assert "COMFYUI_URL" in reason
    with pytest.raises(ProviderUnavailable, match="COMFYUI_URL"):
        run(model, lambda m: m.submit(req()))
    assert server.requests == []


def test_comfyui_url_and_base_url_override(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOTLINE_COMFYUI_BASE_URL", raising=False)
    monkeypatch.setenv("COMFYUI_URL", server.url + "/")
    model = ComfyUI.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert model.base_url == server.url and model.unavailable_reason() is None
    monkeypatch.setenv(
        "COMFYUI_URL", server.url.removeprefix("http://")
    )  # host:port, as ComfyUI scripts write it
    assert ComfyUI.from_settings(Settings(_env_file=None)).base_url == server.url  # type: ignore[call-arg]

    monkeypatch.setenv("COMFYUI_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("SHOTLINE_COMFYUI_BASE_URL", server.url)
    model = ComfyUI.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    assert model.base_url == server.url
    run(model, lambda m: m.submit(req()))
    assert len(server.calls("POST", "/prompt")) == 1


def test_satisfies_the_video_model_protocol(server: FakeServer) -> None:
    model = comfy(server)
    assert isinstance(model, VideoModel)
    card = model.card
    assert (card.name, card.local, card.cost(5.0), card.model_id) == ("comfyui", True, 0.0, "wan2.2-ti2v-5b")
    assert card.image_to_video and card.text_to_video and card.price_source and card.price_date


# --- workflow templates -------------------------------------------------------------------------


def test_shipped_template_has_every_node_the_filler_needs() -> None:
    workflow = Workflow.load(WORKFLOWS / "wan22_ti2v_5b.json")
    assert workflow.roles == {
        "prompt": "5",
        "negative": "6",
        "sampler": "9",
        "latent": "8",
        "video": "11",
        "save": "12",
        "image": "7",
    }
    assert workflow.fps == 24 and workflow.takes_image


def _without_title(role: str) -> dict[str, Any]:
    graph = json.loads(json.dumps(TEMPLATE))
    for node in graph.values():
        if node["_meta"]["title"] == f"shotline.{role}":
            node["_meta"]["title"] = "Untitled"
    return graph


@pytest.mark.parametrize(
    ("graph", "words"),
    [
        (_without_title("prompt"), "has no node titled 'shotline.prompt' (one with text)"),
        (_without_title("save"), "has no node titled 'shotline.save'"),
        ({"nodes": [], "links": [], "version": 0.4}, "UI format; save it with 'Export (API)'"),
        ({"3": {"inputs": {}}}, "node 3 has no class_type/inputs"),
        (
            {**TEMPLATE, "9": {**TEMPLATE["9"], "inputs": {"steps": 20}}},
            "node 9 'shotline.sampler' (KSampler) lacks the input seed/noise_seed",
        ),
        (
            {**TEMPLATE, "99": {**TEMPLATE["5"]}},
            "has 2 nodes titled 'shotline.prompt'",
        ),
    ],
)
def test_a_template_missing_what_the_filler_needs_is_a_clear_error(graph: Any, words: str) -> None:
    with pytest.raises(ProviderError, match=r"^comfyui: workflow mine\.json ") as info:
        Workflow.of("mine.json", graph)
    assert words in str(info.value)


def test_a_users_own_text_only_workflow(server: FakeServer, tmp_path: Path) -> None:
    path = tmp_path / "hunyuan_t2v.json"
    graph = json.loads(json.dumps(TEMPLATE))
    del graph["7"], graph["8"]["inputs"]["start_image"]
    graph["11"]["inputs"]["fps"] = 16.0
    path.write_text(json.dumps(graph))
    model = comfy(server, workflow=path)
    assert model.card.model_id == "workflow:hunyuan_t2v" and not model.card.image_to_video
    assert model.key_payload(req())["workflow"] != comfy(server).key_payload(req())["workflow"]
    with pytest.raises(ProviderError, match="cannot take a first frame"):
        run(model, lambda m: m.submit(req(first_frame=png_ref(tmp_path))))
    run(comfy(server, workflow=path), lambda m: m.submit(req(duration_s=5.0)))
    latent = queued_graph(server)[1]["8"]["inputs"]
    assert latent["length"] == 81  # 5 s at the workflow's own 16 fps
