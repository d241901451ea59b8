"""A local ComfyUI server running an image-to-video workflow (Wan 2.2 TI2V 5B by default).

ComfyUI's HTTP API, as its `server.py` serves it (research video-apis.md §10): queue an API-format
graph with `POST /prompt` under a prompt id we choose, follow it with `GET /history/{prompt_id}`
(and `GET /queue` while it has no history yet), fetch the file with `GET /view`, and upload a first
frame with `POST /upload/image`. No key: the provider is available when `COMFYUI_URL` (or
`SHOTLINE_COMFYUI_BASE_URL`) names a server. Progress over the `/ws` WebSocket is not used; polling
is enough for a job that takes minutes.

The workflow is a JSON template in `workflows/` (or a user's own, exported with "Export (API)").
The filler finds the nodes it sets by their titles (`_meta.title`): `shotline.prompt`,
`shotline.negative`, `shotline.sampler`, `shotline.latent`, `shotline.video`, `shotline.save` and,
for a first frame, `shotline.image`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, ConfigDict, Field

from shotline.config import Settings
from shotline.errors import ProviderError, UnknownOutcome
from shotline.memory.models import Ratio
from shotline.tools.image.base import send_multipart
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest, TaskStatus, render_key
from shotline.tools.video.http import Hosted
from shotline.tools.video.media import media_bytes
from shotline.tools.video.status import normalise

PROVIDER = "comfyui"
WORKFLOWS = Path(__file__).with_name("workflows")
# A fixed namespace: the prompt id of a request is the same on every machine and every run.
PROMPT_ID_NAMESPACE = uuid.UUID("5b0f2f8e-6c1d-4c55-9d51-2e6f3f0c7a11")
VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".gif", ".webp")
DEFAULT_NEGATIVE = (
    "blurry, low quality, jpeg artefacts, static frame, flicker, distorted face, deformed hands, "
    "extra fingers, extra limbs, subtitles, captions, text, watermark, logo"
)
MIME_SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
_SAFE = re.compile(r"[^A-Za-z0-9_-]")  # a shot id in an output file name: no folders, no surprises


# --- the workflow template and its filler -------------------------------------------------------

# role -> the inputs the filler sets on that node; each is a tuple of accepted input names
ROLES: dict[str, tuple[tuple[str, ...], ...]] = {
    "prompt": (("text",),),
    "negative": (("text",),),
    "sampler": (("seed", "noise_seed"),),
    "latent": (("width",), ("height",), ("length",)),
    "video": (("fps", "frame_rate"),),
    "save": (("filename_prefix",),),
    "image": (("image",),),
}
OPTIONAL_ROLES = frozenset({"image"})  # without it the workflow is text-to-video only
TITLE_PREFIX = "shotline."


class WorkflowInputs(BaseModel):
    """What the filler writes into a workflow for one take."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    prompt: str
    negative_prompt: str = DEFAULT_NEGATIVE
    seed: int = Field(ge=0, le=2**64 - 1)
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    frames: int = Field(gt=0)
    fps: int = Field(gt=0)
    image: str | None = Field(default=None, description="an uploaded image's name, for the first frame")
    filename_prefix: str


class Workflow(BaseModel):
    """An API-format ComfyUI graph whose nodes the filler finds by title; validated when loaded."""

    model_config = ConfigDict(frozen=True)
    name: str
    graph: dict[str, Any]
    roles: dict[str, str] = Field(description="role -> node id")
    frame_step: int = Field(default=4, description="the model takes step*n + 1 frames (Wan: 4n+1)")
    size_step: int = Field(default=32, description="width and height are multiples of this")

    @classmethod
    def load(cls, path: Path, *, frame_step: int = 4, size_step: int = 32) -> Workflow:
        try:
            graph = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise _workflow_error(path.name, f"cannot be read as JSON ({exc})") from None
        return cls.of(path.name, graph, frame_step=frame_step, size_step=size_step)

    @classmethod
    def of(cls, name: str, graph: Any, *, frame_step: int = 4, size_step: int = 32) -> Workflow:
        return cls(
            name=name, graph=graph, roles=find_roles(name, graph), frame_step=frame_step, size_step=size_step
        )

    @property
    def sha256(self) -> str:
        blob = json.dumps(self.graph, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    @property
    def fps(self) -> int:
        node = self.graph[self.roles["video"]]["inputs"]
        value = node.get("fps", node.get("frame_rate"))
        return round(value) if isinstance(value, int | float) else 24  # linked from another node: Wan's 24

    @property
    def takes_image(self) -> bool:
        return "image" in self.roles

    def fill(self, inputs: WorkflowInputs) -> dict[str, Any]:
        """A copy of the graph with `inputs` written in; without an image, the image node and every
        input linked to it are dropped (Wan 2.2 TI2V then runs text-to-video)."""
        if inputs.image is not None and not self.takes_image:
            raise _workflow_error(self.name, "has no node titled 'shotline.image' to load a first frame into")
        graph = copy.deepcopy(self.graph)
        node = {role: graph[node_id]["inputs"] for role, node_id in self.roles.items()}
        node["prompt"]["text"] = inputs.prompt
        node["negative"]["text"] = inputs.negative_prompt
        _set_first(node["sampler"], ("seed", "noise_seed"), inputs.seed)
        node["latent"].update(width=inputs.width, height=inputs.height, length=inputs.frames)
        _set_first(node["video"], ("fps", "frame_rate"), float(inputs.fps))
        node["save"]["filename_prefix"] = inputs.filename_prefix
        if inputs.image is not None:
            node["image"]["image"] = inputs.image
        elif self.takes_image:
            _drop_node(graph, self.roles["image"])
        return graph


def find_roles(name: str, graph: Any) -> dict[str, str]:
    """role -> node id, from node titles; a clear error for anything the filler would miss."""
    if not isinstance(graph, dict) or not graph:
        raise _workflow_error(name, "is not a ComfyUI workflow (expected an object of nodes)")
    if "nodes" in graph and "links" in graph:
        raise _workflow_error(name, "is in the UI format; save it with 'Export (API)' instead")
    found: dict[str, list[str]] = {}
    for node_id, node in graph.items():
        if not isinstance(node, dict) or "class_type" not in node or not isinstance(node.get("inputs"), dict):
            raise _workflow_error(name, f"node {node_id} has no class_type/inputs: not the API format")
        title = str((node.get("_meta") or {}).get("title", ""))
        if title.startswith(TITLE_PREFIX):
            found.setdefault(title.removeprefix(TITLE_PREFIX), []).append(node_id)
    roles: dict[str, str] = {}
    for role, wanted in ROLES.items():
        ids = found.get(role, [])
        if not ids:
            if role in OPTIONAL_ROLES:
                continue
            raise _workflow_error(
                name, f"has no node titled '{TITLE_PREFIX}{role}' (one with {_names(wanted)})"
            )
        if len(ids) > 1:
            raise _workflow_error(name, f"has {len(ids)} nodes titled '{TITLE_PREFIX}{role}'; title one only")
        inputs = graph[ids[0]]["inputs"]
        missing = [names for names in wanted if not any(n in inputs for n in names)]
        if missing:
            kind = graph[ids[0]]["class_type"]
            raise _workflow_error(
                name,
                f"node {ids[0]} '{TITLE_PREFIX}{role}' ({kind}) lacks the input {_names(tuple(missing))}",
            )
        roles[role] = ids[0]
    return roles


def _names(groups: tuple[tuple[str, ...], ...]) -> str:
    return ", ".join("/".join(g) for g in groups)


def _set_first(inputs: dict[str, Any], names: tuple[str, ...], value: Any) -> None:
    inputs[next(n for n in names if n in inputs)] = value


def _drop_node(graph: dict[str, Any], node_id: str) -> None:
    del graph[node_id]
    for node in graph.values():
        for key, value in list(node["inputs"].items()):
            if isinstance(value, list) and len(value) == 2 and str(value[0]) == node_id:
                del node["inputs"][key]


def _workflow_error(name: str, problem: str) -> ProviderError:
    return ProviderError(f"workflow {name} {problem}", provider=PROVIDER)


def frame_count(seconds: float, fps: int, step: int) -> int:
    """`step*n + 1` frames nearest to `seconds` at `fps` (Wan: 5 s at 24 fps = 121)."""
    n = max(1, round((seconds * fps - 1) / step))
    return step * n + 1


def frame_size(ratio: Ratio, resolution: str, step: int) -> tuple[int, int]:
    """(width, height) for a ratio at a resolution ('720p': the short side), in multiples of `step`:
    720p 16:9 is 1280x704, Wan 2.2's native size."""
    short = int(resolution.lower().removesuffix("p"))
    w, h = {"16:9": (short * 16 / 9, short), "9:16": (short, short * 16 / 9), "1:1": (short, short)}[ratio]
    return max(step, int(w) // step * step), max(step, int(h) // step * step)


# --- history and queue bodies -------------------------------------------------------------------


class OutputFile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    filename: str
    subfolder: str = ""
    type: str = "output"


class HistoryStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")
    status_str: str | None = None
    completed: bool = False
    messages: list[Any] = []


class HistoryEntry(BaseModel):
    """`GET /history/{id}` -> `{id: {prompt, outputs: {node: {images|gifs|videos: [file]}}, status}}`."""

    model_config = ConfigDict(extra="ignore")
    outputs: dict[str, dict[str, Any]] = {}
    status: HistoryStatus | None = None

    def raw_status(self) -> str:
        """ComfyUI writes history when a prompt ends: `success` or `error`. Servers older than the
        `status` field only wrote it on success."""
        if self.status is None:
            return "success" if self.outputs else "pending"
        if self.status.status_str in ("success", "error"):
            return self.status.status_str
        return "success" if self.status.completed else "pending"

    def failure(self) -> tuple[str, str]:
        """(error code, message) from the `execution_error` / `execution_interrupted` message."""
        for item in self.status.messages if self.status else []:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], dict)):
                continue
            event, data = item
            if event == "execution_error":
                where = f"{data.get('node_type', 'node')} (node {data.get('node_id', '?')})"
                return str(
                    data.get("exception_type") or "execution_error"
                ), f"{where}: {data.get('exception_message', '')}".strip()
            if event == "execution_interrupted":
                return "interrupted", "the run was interrupted on the server"
        return "execution_error", "the workflow failed on the server"

    def videos(self, prefer: str | None) -> list[OutputFile]:
        """Video files in the outputs, the save node's first. SaveVideo reports them under `images`
        (with `animated`), VideoHelperSuite under `gifs`."""
        nodes = sorted(self.outputs, key=lambda n: n != prefer)
        files = []
        for node_id in nodes:
            for key in ("videos", "gifs", "images"):
                for item in self.outputs[node_id].get(key) or []:
                    if isinstance(item, dict) and str(item.get("filename", "")).lower().endswith(
                        VIDEO_SUFFIXES
                    ):
                        files.append(OutputFile.model_validate(item))
        return files


def queue_word(queue: Any, prompt_id: str) -> str | None:
    """`running` / `pending` when the prompt is in `GET /queue`'s lists (items are
    `[number, prompt_id, prompt, extra_data, outputs]`), else None."""
    if not isinstance(queue, dict):
        return None
    for key, word in (("queue_running", "running"), ("queue_pending", "pending")):
        for item in queue.get(key) or []:
            if isinstance(item, list) and len(item) > 1 and str(item[1]) == prompt_id:
                return word
    return None


# --- the card -----------------------------------------------------------------------------------

DEFAULT_TEMPLATE = "wan22_ti2v_5b.json"
CARDS: tuple[ModelCard, ...] = (
    ModelCard(
        name=PROVIDER,
        display_name="ComfyUI · Wan 2.2 TI2V 5B (local)",
        model_id="wan2.2-ti2v-5b",
        local=True,
        # Wan 2.2 TI2V 5B is trained on 121 frames at 24 fps (5 s); longer clips loop and drift
        durations_s=(1.0, 5.0),
        ratios=("16:9", "9:16", "1:1"),
        resolutions=("480p", "720p"),
        text_to_video=True,
        image_to_video=True,  # `start_image` of Wan22ImageToVideoLatent
        seed=True,
        usd_per_second=0.0,
        price_source="runs on your own GPU: no per-clip charge",
        price_date="2026-11",
        # "under 9 minutes for 5 s 720p on one consumer GPU" (Wan 2.2 release notes) [recalled]
        typical_latency_s=420.0,
    ),
)
TEMPLATES: dict[str, str] = {"wan2.2-ti2v-5b": DEFAULT_TEMPLATE}


# --- the wrapper --------------------------------------------------------------------------------


class ComfyUI(Hosted):
    """ComfyUI over HTTP. The task id is the prompt id, derived from the request, so a submit that
    got no answer can be found again (`find_task`)."""

    provider: ClassVar[str] = PROVIDER
    default_base_url: ClassVar[str] = "http://127.0.0.1:8188"
    key_names: ClassVar[tuple[str, ...]] = ("COMFYUI_URL",)
    cards: ClassVar[tuple[ModelCard, ...]] = CARDS

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model_id: str | None = None,
        workflow: Path | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if (
            base_url and "://" not in base_url
        ):  # COMFYUI_URL=127.0.0.1:8188, as ComfyUI's own scripts write it
            base_url = f"http://{base_url}"
        super().__init__(api_key=None, base_url=base_url, model_id=model_id, client=client)
        self.configured = bool(base_url)
        self.client_id = uuid.uuid4().hex  # ComfyUI's per-client id, for its WebSocket messages
        self.workflow = Workflow.load(workflow or WORKFLOWS / TEMPLATES[self.card.model_id])
        if workflow is not None:  # a user's graph: its own name and, by its nodes, its own abilities
            self.card = self.card.model_copy(
                update={
                    "model_id": f"workflow:{workflow.stem}",
                    "display_name": f"ComfyUI · {workflow.stem} (local)",
                    "image_to_video": self.workflow.takes_image,
                }
            )

    @classmethod
    def from_settings(
        cls, settings: Settings, *, model_id: str | None = None, client: httpx.AsyncClient | None = None
    ) -> ComfyUI:
        """The server from SHOTLINE_COMFYUI_BASE_URL, else COMFYUI_URL; a workflow of the user's own
        from SHOTLINE_COMFYUI_WORKFLOW (a path to an API-format JSON)."""
        base_url = os.environ.get("SHOTLINE_COMFYUI_BASE_URL") or settings.comfyui_url
        workflow = os.environ.get("SHOTLINE_COMFYUI_WORKFLOW")
        return cls(
            base_url=base_url, model_id=model_id, workflow=Path(workflow) if workflow else None, client=client
        )

    def unavailable_reason(self) -> str | None:
        if self.configured:
            return None
        return f"no ComfyUI server: set COMFYUI_URL (e.g. {self.default_base_url})"

    def auth_headers(self) -> dict[str, str]:
        return {}  # ComfyUI has no key; no Origin header either (its origin check answers 403)

    def key_payload(self, request: RenderRequest) -> dict[str, Any]:
        """The graph is part of what makes the take: another workflow is another render."""
        return {**super().key_payload(request), "workflow": self.workflow.sha256}

    def prompt_id_for(self, request: RenderRequest) -> str:
        """The prompt id this request is queued under: a UUID from the shot and the render key."""
        return str(
            uuid.uuid5(PROMPT_ID_NAMESPACE, f"{request.shot_id}:{render_key(self.key_payload(request))}")
        )

    # --- submit ---------------------------------------------------------------------------------

    async def submit(self, request: RenderRequest) -> str:
        self.require_available()
        self._check(request)
        prompt_id = self.prompt_id_for(request)
        image = await self.upload_image(request.first_frame) if request.first_frame else None
        body = {
            "prompt": self.workflow.fill(self.inputs(request, prompt_id, image)),
            "client_id": self.client_id,
            "prompt_id": prompt_id,
        }
        try:
            answer = await self.call("POST", "/prompt", json=body)
        except UnknownOutcome as exc:
            raise UnknownOutcome(
                f"no answer to the submit; look for prompt {prompt_id} before queueing it again",
                provider=self.provider,
            ) from exc
        return str(answer.get("prompt_id") or prompt_id) if isinstance(answer, dict) else prompt_id

    def inputs(self, request: RenderRequest, prompt_id: str, image: str | None) -> WorkflowInputs:
        width, height = frame_size(request.ratio, request.resolution, self.workflow.size_step)
        seconds = self.card.billed_seconds(request.duration_s)
        return WorkflowInputs(
            prompt=request.prompt,
            seed=request.seed if request.seed is not None else int(prompt_id.replace("-", "")[:12], 16),
            width=width,
            height=height,
            frames=frame_count(seconds, self.workflow.fps, self.workflow.frame_step),
            fps=self.workflow.fps,
            image=image,
            filename_prefix=f"shotline/{_SAFE.sub('_', request.shot_id)}_{prompt_id[:8]}",
        )

    def _check(self, request: RenderRequest) -> None:
        """What this workflow cannot take is refused before anything is sent."""
        card = self.card
        if request.resolution not in card.resolutions:
            raise self._refuse(f"resolution {request.resolution} (it takes {', '.join(card.resolutions)})")
        if request.ratio not in card.ratios:
            raise self._refuse(f"ratio {request.ratio}")
        if request.last_frame:
            raise self._refuse("a last frame (it starts from a first frame only)")
        if request.references:
            raise self._refuse(
                f"reference files ({len(request.references)} given); give a first frame instead"
            )
        if request.first_frame and not card.image_to_video:
            raise self._refuse("a first frame (the workflow has no 'shotline.image' node)")

    def _refuse(self, what: str) -> ProviderError:
        return ProviderError(f"{self.card.display_name} cannot take {what}", provider=self.provider)

    async def upload_image(self, ref: MediaRef) -> str:
        """Upload a first frame under a name from its hash (sending it again is harmless); returns the
        name LoadImage takes."""
        if ref.kind != "image":
            raise ProviderError(f"the first frame must be an image, not {ref.kind}", provider=self.provider)
        if not ref.path:
            raise ProviderError(
                f"first frame {ref.name or ref.sha256[:12]} must be a local file to upload it to ComfyUI",
                provider=self.provider,
            )
        name = f"shotline_{ref.sha256[:16]}{MIME_SUFFIX.get(ref.mime, '.png')}"
        answer = await send_multipart(
            self,
            "/upload/image",
            fields={"type": "input", "overwrite": "true"},
            files=[("image", (name, media_bytes(ref), ref.mime))],
            billable=False,
        )
        uploaded = answer.get("name", name) if isinstance(answer, dict) else name
        subfolder = answer.get("subfolder", "") if isinstance(answer, dict) else ""
        return f"{subfolder}/{uploaded}" if subfolder else str(uploaded)

    # --- poll -------------------------------------------------------------------------------------

    async def poll(self, task_id: str) -> TaskStatus:
        """History first; while a prompt has none, the queue says whether it waits or runs. A failed
        entry is checked against the queue too: the same prompt id may have been queued again."""
        entry = await self._history(task_id)
        if entry is not None and entry.raw_status() == "success":
            return self._status(task_id, entry)
        word = queue_word(await self.call("GET", "/queue"), task_id)
        if word is not None:
            return TaskStatus(task_id=task_id, state=normalise(self.provider, word), raw_status=word)
        entry = await self._history(task_id)  # it may have ended between the two reads
        if entry is None:
            return TaskStatus(
                task_id=task_id,
                state=normalise(self.provider, "error"),
                raw_status="error",
                error_code="not_found",
                error=f"prompt {task_id} is neither queued nor in the history (was the server restarted?)",
            )
        return self._status(task_id, entry)

    async def find_task(self, request: RenderRequest) -> str | None:
        """The prompt id of `request` if the server has it (queued, running or done), else None."""
        prompt_id = self.prompt_id_for(request)
        status = await self.poll(prompt_id)
        return None if status.error_code == "not_found" else prompt_id

    async def _history(self, prompt_id: str) -> HistoryEntry | None:
        body = await self.call("GET", f"/history/{quote(prompt_id)}")
        raw = body.get(prompt_id) if isinstance(body, dict) else None
        return HistoryEntry.model_validate(raw) if isinstance(raw, dict) else None

    def _status(self, prompt_id: str, entry: HistoryEntry) -> TaskStatus:
        word = entry.raw_status()
        state = normalise(self.provider, word)
        if word == "error":
            code, message = entry.failure()
            return TaskStatus(task_id=prompt_id, state=state, raw_status=word, error_code=code, error=message)
        if state != "succeeded":
            return TaskStatus(task_id=prompt_id, state=state, raw_status=word)
        files = entry.videos(prefer=self.workflow.roles["save"])
        if not files:
            return TaskStatus(
                task_id=prompt_id,
                state="failed",
                raw_status=word,
                error_code="no_output",
                error="the workflow finished without a video file; does it end in a video save node?",
            )
        return TaskStatus(
            task_id=prompt_id, state=state, raw_status=word, progress=1.0, url=self.view_url(files[0])
        )

    def view_url(self, file: OutputFile) -> str:
        query = urlencode(
            {"filename": file.filename, "subfolder": file.subfolder, "type": file.type}, quote_via=quote
        )
        return f"{self.base_url}/view?{query}"

    def _error_message(self, body: Any) -> str:
        """`400 {"error": {type, message, details}, "node_errors": {node: {errors: [...], class_type}}}`:
        the node errors say which model file or input is wrong."""
        base = super()._error_message(body)
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            base = ": ".join(str(err[k]) for k in ("message", "details") if err.get(k))
        elif isinstance(err, str):  # older servers: {"error": "no prompt", "node_errors": []}
            base = err
        nodes = body.get("node_errors") if isinstance(body, dict) else None
        if isinstance(nodes, dict):
            for node_id, info in nodes.items():
                for e in info.get("errors", []) if isinstance(info, dict) else []:
                    detail = ": ".join(
                        str(e[k]) for k in ("message", "details") if isinstance(e, dict) and e.get(k)
                    )
                    base += f"; {info.get('class_type', 'node')} (node {node_id}): {detail}"
        return base
