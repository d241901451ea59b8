"""The REST API for bots, under /v1: projects, messages, approval, state, progress (SSE), files,
history and revert. Bearer tokens from SHOTLINE_API_TOKENS ("alice:token,bob:token"); each project
is visible to its owner only, and to anyone else it does not exist (404, never 403).

A message or an approval starts a turn in the background (202); its progress, replies and end
(`done`, `waiting` for approval, or `error`) come as numbered server-sent events that a client can
resume with Last-Event-ID. Errors are `{"error": {"code", "message"}}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import httpx
from fastapi import Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from shotline.agents.editor import DELIVERABLES, REFRAMED
from shotline.agents.graph import Crew
from shotline.config import Settings
from shotline.errors import InputError, ShotlineError
from shotline.memory.store import Ledger, atomic_write
from shotline.tools.uploads import UploadError, check_upload
from shotline.ui.runs import TERMINAL, Book, Busy, Runs
from shotline.ui.session import Reply, Studio

log = logging.getLogger(__name__)


# --- errors ------------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    message = " ".join(str(message).split())  # one line, whatever a caller put in an id or a name
    if len(message) > _MESSAGE_MAX:
        message = message[: _MESSAGE_MAX - 1] + "…"
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


_MESSAGE_MAX = 1000
_MAX_SEQ = 2**63 - 1  # event numbers are SQLite INTEGERs
_SEQ = re.compile(r"[0-9]{1,19}")
_END_GRACE_S = 5.0  # how long a stream whose project went idle waits for the turn's last event
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}  # the router's own refusals


def _validation_message(exc: RequestValidationError) -> str:
    """FastAPI's list of validation errors as one line that names the field, e.g. "ratio: Input
    should be '16:9', '9:16' or '1:1'" (the first error, and how many more there are)."""
    errors = list(exc.errors())
    if not errors:
        return "the request is not valid"
    loc = tuple(errors[0].get("loc") or ("request",))
    if loc[0] in {"body", "query", "header", "path", "cookie"} and len(loc) > 1:
        loc = loc[1:]
    message = f"{'.'.join(str(part) for part in loc)}: {errors[0].get('msg') or 'is not valid'}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return message


# --- models --------------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # as the schema says: no "1" for 1, no false for 0


class ProjectIn(_In):
    ratio: Literal["16:9", "9:16", "1:1"] = "16:9"
    provider: str = Field(default="animatic", max_length=40)
    budget_usd: float | None = Field(default=None, ge=0, le=1_000_000)
    webhook_url: str | None = Field(
        default=None, max_length=2000, description="https URL called when a turn ends"
    )


class MessageIn(_In):
    text: str = Field(min_length=1, max_length=200_000, description="a brief, a screenplay, or a revision")


class ApprovalIn(_In):
    approve: bool
    budget_usd: float | None = Field(default=None, ge=0, le=1_000_000)


class RevertIn(_In):
    version: int = Field(ge=0, le=1_000_000)


class ErrorBody(BaseModel):
    code: str = Field(description="stable, for programs: unauthorized, not_found, busy, bad_input ...")
    message: str = Field(description="one line, for people")


class ErrorOut(BaseModel):
    error: ErrorBody


def _errors(*statuses: int, by_ref: bool = False) -> dict[int | str, dict[str, Any]]:
    """What the OpenAPI schema says a route may answer besides success: always the error shape, as
    JSON (`by_ref` for a route whose own responses are not JSON, the event stream, so that FastAPI
    does not document its errors under that route's media type)."""
    if by_ref:
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
        return {status: {"description": _ERROR_TEXT[status], "content": content} for status in statuses}
    return {status: {"model": ErrorOut, "description": _ERROR_TEXT[status]} for status in statuses}


_ERROR_TEXT = {
    400: "Refused by the line",
    401: "No or an unknown bearer token",
    404: "No such project (or not yours), file or version",
    409: "The project is busy with a turn, or nothing waits for approval",
    413: "Upload too large",
    415: "Upload of the wrong kind",
    422: "Bad input; the message names the field",
}


class Accepted(BaseModel):
    project_id: str
    events: str = Field(description="URL of the project's event stream")
    after: int = Field(description="pass as ?after= (or Last-Event-ID) to get this turn's events only")


class ShotOut(BaseModel):
    id: str
    framing: str
    duration_s: float
    characters: list[str]
    model: str | None
    cost_usd: float
    rendered: bool


class ProjectOut(BaseModel):
    id: str
    version: int
    busy: bool
    waiting: bool
    approval: dict[str, Any] | None
    provider: str
    ratio: str
    budget_usd: float
    spent_usd: float
    shots: list[ShotOut]
    cut: dict[str, Any] | None
    messages: list[dict[str, Any]]


class VersionOut(BaseModel):
    version: int
    parent: int | None
    summary: str
    has_cut: bool
    current: bool


class FileOut(BaseModel):
    name: str
    size: int
    url: str


class UploadOut(BaseModel):
    kind: Literal["screenplay", "reference", "music"]
    sha256: str
    size: int
    stored_as: str
    events: str | None = Field(default=None, description="music re-cuts the film: follow this turn's events")


FILES = (*DELIVERABLES, *REFRAMED.values())
"""Every file a version folder may hold, by name: the deliverables, and reframed versions when asked."""


# --- auth ----------------------------------------------------------------------------------------


def parse_tokens(raw: str | None) -> dict[str, str]:
    """'alice:tok1,bob:tok2' -> {token: user}. A bare token is its own user, named by its hash."""
    tokens: dict[str, str] = {}
    for part in (raw or "").replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        user, sep, token = part.partition(":")
        if not sep:
            user, token = "token-" + hashlib.sha256(part.encode()).hexdigest()[:8], part
        if len(token) < 8:
            raise InputError("SHOTLINE_API_TOKENS: every token needs at least 8 characters")
        tokens[token.strip()] = user.strip()
    return tokens


# --- webhooks ------------------------------------------------------------------------------------


def check_webhook(url: str, *, allow_private: bool = False) -> str:
    """An https URL whose host resolves to public addresses only (unless allowed): a webhook must
    not let a caller make this server reach its own network."""
    try:  # a malformed URL ("https://[::1", a port out of range) raises ValueError here
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError:
        raise InputError("webhook_url is not a valid URL") from None
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise InputError("webhook_url must be an https:// URL")
    if not hostname or parts.username or parts.password:
        raise InputError("webhook_url needs a host and no credentials")
    if not allow_private:
        try:
            infos = socket.getaddrinfo(hostname, port or 443, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, ValueError):
            raise InputError(f"webhook_url host {hostname!r} does not resolve") from None
        for info in infos:
            ip = ipaddress.ip_address(info[4][0])
            if not ip.is_global:
                raise InputError("webhook_url points at a private, loopback or reserved address")
    return url


# --- the app -------------------------------------------------------------------------------------


class Service:
    """What the routes share: the studio, the book of owners and events, the runs."""

    def __init__(self, settings: Settings, crew: Crew | None = None, *, workers: int = 4) -> None:
        self.settings = settings
        self.tokens = parse_tokens(settings.api_tokens.get_secret_value() if settings.api_tokens else None)
        self.studio = Studio(settings, crew)
        self.book = Book(settings.root / "studio.sqlite")
        self.runs = Runs(self.studio, self.book, workers=workers, on_finished=self._finished)

    def __enter__(self) -> Service:
        self.studio.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.runs.shutdown()
        self.studio.__exit__(*exc)

    def user(self, authorization: str | None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401, "unauthorized", "send Authorization: Bearer <token>", {"WWW-Authenticate": "Bearer"}
            )
        for known, user in self.tokens.items():
            if hmac.compare_digest(known.encode(), token.strip().encode()):
                return user
        raise ApiError(401, "unauthorized", "unknown token", {"WWW-Authenticate": "Bearer"})

    def project(self, pid: str, user: str) -> str:
        if self.book.owner(pid) != user:
            raise ApiError(404, "not_found", f"no project {pid}")
        return pid

    def _finished(self, pid: str, reply: Reply | None, error: str | None) -> None:
        url = self.book.webhook(pid)
        if not url:
            return
        try:
            check_webhook(
                url, allow_private=self.settings.webhook_allow_private
            )  # again: DNS may have changed
            body = {
                "project_id": pid,
                "status": "error" if error else ("waiting" if reply and reply.waiting else "done"),
                "version": reply.version if reply else None,
                "error": error,
            }
            httpx.post(url, json=body, timeout=10, follow_redirects=False)
        except (InputError, httpx.HTTPError) as exc:
            log.warning("webhook for project %s failed: %s", pid, type(exc).__name__)


def _user(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
    return request.app.state.service.user(authorization)


User = Annotated[str, Depends(_user)]


def _owned(pid: str, request: Request, who: User) -> str:
    """The project id, when it is the caller's; otherwise it does not exist (checked before any
    response starts, so a stream never opens on someone else's project)."""
    return request.app.state.service.project(pid, who)


Owned = Annotated[str, Depends(_owned)]


def create_app(
    settings: Settings | None = None, crew: Crew | None = None, *, workers: int = 4, ui: bool = False
) -> FastAPI:
    """The API as an ASGI app; with `ui`, the Gradio studio mounted at /ui on the same projects
    (sign in there with your user name and your API token)."""
    settings = settings or Settings()
    service = Service(settings, crew, workers=workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with service:
            yield

    app = FastAPI(
        title="Shotline",
        version="1",
        description=__doc__,
        lifespan=lifespan,
        openapi_url="/v1/openapi.json",
        docs_url="/v1/docs",
        redoc_url=None,
        responses=_errors(400, 401, 422),
    )
    app.state.service = service

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not just those of the first route matched
            allowed = {
                method
                for route in app.router.routes
                if getattr(route, "methods", None) and route.matches(request.scope)[0] is not Match.NONE
                for method in route.methods
            }
            headers["Allow"] = ", ".join(sorted(allowed)) or headers.get("Allow", "")
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return _error(exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, "bad_input", _validation_message(exc))

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(Busy)
    async def _busy(request: Request, exc: Busy) -> JSONResponse:
        return _error(409, "busy", str(exc))

    @app.exception_handler(UploadError)
    async def _upload(request: Request, exc: UploadError) -> JSONResponse:
        return _error(exc.status, exc.code, str(exc))

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return _error(422, "bad_input", str(exc))

    @app.exception_handler(ShotlineError)
    async def _shotline(request: Request, exc: ShotlineError) -> JSONResponse:
        return _error(400, "refused", str(exc))

    def events_url(pid: str) -> str:
        return f"/v1/projects/{pid}/events"

    @app.post("/v1/projects", status_code=201, response_model=ProjectOut, tags=["projects"])
    def create_project(body: ProjectIn, who: User) -> ProjectOut:
        """A new, empty project; send it a brief or a screenplay as its first message."""
        webhook = (
            check_webhook(body.webhook_url, allow_private=settings.webhook_allow_private)
            if body.webhook_url
            else None
        )
        pid = service.studio.create(ratio=body.ratio, provider=body.provider, budget_usd=body.budget_usd)
        service.book.own(pid, who, webhook)
        return _project_out(service, pid)

    @app.get("/v1/projects", response_model=list[str], tags=["projects"])
    def list_projects(who: User) -> list[str]:
        return service.book.projects(who)

    @app.get("/v1/projects/{pid}", response_model=ProjectOut, tags=["projects"], responses=_errors(404))
    def read_project(pid: str, who: User) -> ProjectOut:
        return _project_out(service, service.project(pid, who))

    @app.post(
        "/v1/projects/{pid}/messages",
        status_code=202,
        response_model=Accepted,
        tags=["conversation"],
        responses=_errors(404, 409),
    )
    def post_message(pid: str, body: MessageIn, who: User) -> Accepted:
        """Read by the director; the turn runs in the background. Follow `events` to its end."""
        service.project(pid, who)
        seq = service.runs.start(pid, lambda on_event: service.studio.send(pid, body.text, on_event=on_event))
        return Accepted(project_id=pid, events=events_url(pid), after=seq - 1)

    @app.post(
        "/v1/projects/{pid}/approval",
        status_code=202,
        response_model=Accepted,
        tags=["conversation"],
        responses=_errors(404, 409),
    )
    def answer_approval(pid: str, body: ApprovalIn, who: User) -> Accepted:
        """Approve or decline the render the project waits on (optionally within a budget)."""
        service.project(pid, who)
        if service.studio.pending_approval(pid) is None:
            raise ApiError(409, "not_waiting", "nothing is waiting for approval")
        answer: Any = (
            {"approve": body.approve, "budget_usd": body.budget_usd}
            if body.budget_usd is not None
            else body.approve
        )
        seq = service.runs.start(pid, lambda on_event: service.studio.approve(pid, answer, on_event=on_event))
        return Accepted(project_id=pid, events=events_url(pid), after=seq - 1)

    @app.get(
        "/v1/projects/{pid}/events",
        response_class=EventSourceResponse,
        tags=["conversation"],
        responses=_errors(400, 401, 404, 422, by_ref=True),
    )
    async def follow_events(
        pid: Owned,
        after: Annotated[int, Query(ge=0, le=_MAX_SEQ)] = 0,
        follow: bool = True,
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> AsyncIterator[ServerSentEvent]:
        """Numbered events: progress, reply, then one of done / waiting / error. With `follow`, the
        stream stays open while the project works and ends when it is idle and everything is sent."""
        # ASCII digits that fit SQLite's INTEGER only ("²".isdigit() is true; 2**63 overflows), or `after`
        resume = last_event_id.strip() if last_event_id else ""
        seq = int(resume) if _SEQ.fullmatch(resume) and int(resume) <= _MAX_SEQ else after
        last: str | None = None  # the kind of the last event sent
        grace_until: float | None = None
        while True:
            # idle sampled *before* reading: ending on an empty read taken after a turn has finished
            # writing, never on one taken while it still could (which lost its reply and `done`)
            idle = not service.runs.busy(pid)
            batch = await asyncio.to_thread(service.book.after, pid, seq)
            for event in batch:
                seq, last = event.seq, event.kind
                yield ServerSentEvent(data=event.data, event=event.kind, id=str(event.seq))
            if batch:
                continue
            if not follow:
                return
            if idle:
                if last is None or last in TERMINAL:
                    return
                # a turn stops being busy a moment before its end (done / waiting / error) is written
                now = asyncio.get_running_loop().time()
                grace_until = grace_until or now + _END_GRACE_S
                if now > grace_until:
                    return
            await asyncio.sleep(0.1)

    @app.get(
        "/v1/projects/{pid}/history",
        response_model=list[VersionOut],
        tags=["history"],
        responses=_errors(404),
    )
    def history(pid: str, who: User) -> list[VersionOut]:
        service.project(pid, who)
        current = service.studio.state(pid).get("version", 0)
        return [
            VersionOut(
                version=v["version"],
                parent=v["parent"],
                summary=v["summary"],
                has_cut=bool(v["folder"]),
                current=v["version"] == current,
            )
            for v in service.studio.history(pid)
        ]

    @app.post(
        "/v1/projects/{pid}/revert",
        status_code=202,
        response_model=Accepted,
        tags=["history"],
        responses=_errors(404, 409),
    )
    def revert(pid: str, body: RevertIn, who: User) -> Accepted:
        service.project(pid, who)
        seq = service.runs.start(
            pid, lambda on_event: service.studio.revert(pid, body.version, on_event=on_event)
        )
        return Accepted(project_id=pid, events=events_url(pid), after=seq - 1)

    @app.get("/v1/projects/{pid}/files", response_model=list[FileOut], tags=["files"], responses=_errors(404))
    def list_files(pid: str, who: User, version: int | None = None) -> list[FileOut]:
        folder = _folder(service, service.project(pid, who), version)
        return [
            FileOut(
                name=name,
                size=(folder / name).stat().st_size,
                url=f"/v1/projects/{pid}/files/{name}"
                + (f"?version={version}" if version is not None else ""),
            )
            for name in FILES
            if (folder / name).is_file()
        ]

    @app.get(
        "/v1/projects/{pid}/files/{name}", tags=["files"], response_class=FileResponse, responses=_errors(404)
    )
    def download(pid: str, name: str, who: User, version: int | None = None) -> FileResponse:
        """A deliverable by its name (final.mp4, final.srt, timeline.otio ...); never a path."""
        folder = _folder(service, service.project(pid, who), version)
        if name not in FILES or not (folder / name).is_file():
            raise ApiError(404, "not_found", f"no file {name!r}; files are {', '.join(FILES)}")
        return FileResponse(folder / name, filename=name)

    @app.post(
        "/v1/projects/{pid}/uploads",
        status_code=201,
        response_model=UploadOut,
        tags=["files"],
        responses=_errors(404, 413, 415),
    )
    async def upload(
        pid: str,
        who: User,
        file: Annotated[
            UploadFile,
            File(
                description="a screenplay (text), a reference image (PNG, JPEG, WebP) or music (WAV, MP3 ...)"
            ),
        ],
        kind: Annotated[Literal["screenplay", "reference", "music"], Form()] = "screenplay",
    ) -> UploadOut:
        """Checked by content and size before anything is stored; the file's own name is never used."""
        service.project(pid, who)
        data = await file.read(settings.upload_max_bytes + 1)
        checked = check_upload(
            data, kind=kind, declared_type=file.content_type, max_bytes=settings.upload_max_bytes
        )
        if kind == "music":  # the project's music bed: stored and the film re-cut with it
            service.runs.start(pid, lambda on_event: service.studio.use_music(pid, data, on_event=on_event))
            stored = f"{checked.sha256[:32]}{checked.suffix}"
            return UploadOut(kind=kind, sha256=checked.sha256, size=len(data), stored_as=stored,
                             events=events_url(pid))  # fmt: skip
        folder = settings.projects_dir / pid / "uploads"
        target = folder / f"{checked.sha256[:32]}{checked.suffix}"
        atomic_write(target, data)
        return UploadOut(kind=kind, sha256=checked.sha256, size=len(data), stored_as=target.name)

    if ui:
        import gradio as gr

        from shotline.ui.chat import build_ui

        def sign_in(username: str, password: str) -> bool:
            return any(
                hmac.compare_digest(token.encode(), password.encode()) and user == username
                for token, user in service.tokens.items()
            )

        app = gr.mount_gradio_app(
            app,
            build_ui(service),
            path="/ui",
            auth=sign_in,
            auth_message="Sign in with your user name and your Shotline API token.",
            allowed_paths=[str(settings.root)],
            max_file_size=settings.upload_max_bytes,
        )
    return app


def _folder(service: Service, pid: str, version: int | None) -> Path:
    state = service.studio.state(pid)
    if version is None:
        cut = state.get("cut")
        if not cut:
            raise ApiError(404, "not_found", "the project has no cut yet")
        return Path(cut.files["final.mp4"]).parent
    entries = [v for v in service.studio.history(pid) if v["version"] == version and v["folder"]]
    if not entries:
        raise ApiError(404, "not_found", f"version {version} has no files")
    return Path(entries[-1]["folder"])


def _project_out(service: Service, pid: str) -> ProjectOut:
    state = service.studio.state(pid)
    order, board, takes = state["order"], state.get("storyboard"), state.get("takes") or {}
    cut = state.get("cut")
    shots = [
        ShotOut(
            id=s.id,
            framing=s.framing,
            duration_s=s.duration_s,
            characters=s.characters,
            model=takes[s.id].model if s.id in takes else None,
            cost_usd=takes[s.id].cost_usd if s.id in takes else 0.0,
            rendered=s.id in takes,
        )
        for s in (board.shots if board else [])
    ]
    approval = service.studio.pending_approval(pid)
    return ProjectOut(
        id=pid,
        version=state.get("version", 0),
        busy=service.runs.busy(pid),
        waiting=approval is not None,
        approval=approval,
        provider=order["provider"],
        ratio=order["ratio"],
        budget_usd=order.get("budget_usd") or 0.0,
        spent_usd=Ledger(service.settings.root / "ledger.sqlite").spent(pid),
        shots=shots,
        cut={"duration_s": cut.duration_s, "shots": cut.shots} if cut else None,
        messages=[dict(m) for m in state.get("messages", [])],
    )


__all__ = ["TERMINAL", "create_app", "parse_tokens"]
