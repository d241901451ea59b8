"""Runs in the background for the web ways in (the REST API and the Gradio app): one turn at a time per
project, every progress event numbered and kept, so a client that reconnects misses nothing.

The Studio does the work; this module only schedules it, records what it says, and remembers who
owns which project. Everything lives in one SQLite file beside the checkpoints.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shotline.errors import ShotlineError
from shotline.ui.session import Reply, Studio

TERMINAL = {"done", "waiting", "error"}  # a run's last event


class Busy(ShotlineError):
    """The project is already working on a message; wait for its `done` event."""


@dataclass(frozen=True)
class Event:
    seq: int
    project_id: str
    kind: str  # progress, reply, waiting, done, error
    data: dict[str, Any]
    at: float


class Book:
    """Owners and events, in SQLite (WAL), one connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._db() as db:
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS projects (
                    project_id TEXT PRIMARY KEY, owner TEXT NOT NULL, created REAL NOT NULL,
                    webhook TEXT);
                CREATE TABLE IF NOT EXISTS events (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, project_id TEXT NOT NULL, kind TEXT NOT NULL,
                    data TEXT NOT NULL, at REAL NOT NULL);
                CREATE INDEX IF NOT EXISTS events_by_project ON events (project_id, seq);
                """
            )

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def own(self, project_id: str, owner: str, webhook: str | None = None) -> None:
        self._db().execute(
            "INSERT INTO projects (project_id, owner, created, webhook) VALUES (?, ?, ?, ?)",
            (project_id, owner, time.time(), webhook),
        )

    def owner(self, project_id: str) -> str | None:
        row = self._db().execute("SELECT owner FROM projects WHERE project_id = ?", (project_id,)).fetchone()
        return row[0] if row else None

    def webhook(self, project_id: str) -> str | None:
        row = (
            self._db().execute("SELECT webhook FROM projects WHERE project_id = ?", (project_id,)).fetchone()
        )
        return row[0] if row else None

    def projects(self, owner: str) -> list[str]:
        rows = (
            self._db()
            .execute("SELECT project_id FROM projects WHERE owner = ? ORDER BY created", (owner,))
            .fetchall()
        )
        return [r[0] for r in rows]

    def append(self, project_id: str, kind: str, data: dict[str, Any]) -> int:
        cur = self._db().execute(
            "INSERT INTO events (project_id, kind, data, at) VALUES (?, ?, ?, ?)",
            (project_id, kind, json.dumps(data, ensure_ascii=False, default=str), time.time()),
        )
        return int(cur.lastrowid or 0)

    def after(self, project_id: str, seq: int = 0, limit: int = 500) -> list[Event]:
        rows = (
            self._db()
            .execute(
                "SELECT seq, project_id, kind, data, at FROM events WHERE project_id = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (project_id, seq, limit),
            )
            .fetchall()
        )
        return [Event(seq=r[0], project_id=r[1], kind=r[2], data=json.loads(r[3]), at=r[4]) for r in rows]


class Runs:
    """Turns run in worker threads, one per project at a time; their events go to the book."""

    def __init__(self, studio: Studio, book: Book, *, workers: int = 4,
                 on_finished: Callable[[str, Reply | None, str | None], None] | None = None) -> None:  # fmt: skip
        self.studio = studio
        self.book = book
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shotline-run")
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._on_finished = on_finished

    def busy(self, project_id: str) -> bool:
        with self._lock:
            return project_id in self._busy

    def start(self, project_id: str, work: Callable[[Callable[[dict[str, Any]], None]], Reply]) -> int:
        """Run `work(on_event)` for a project in the background; returns the seq of its `started` event."""
        with self._lock:
            if project_id in self._busy:
                raise Busy(f"project {project_id} is still working on the last message; follow its events")
            self._busy.add(project_id)
        seq = self.book.append(project_id, "started", {})
        self._pool.submit(self._run, project_id, work)
        return seq

    def _run(self, project_id: str, work: Callable[[Callable[[dict[str, Any]], None]], Reply]) -> None:
        reply: Reply | None = None
        error: str | None = None
        try:
            try:
                reply = work(lambda event: self.book.append(project_id, "progress", event))
                for text in reply.messages:
                    self.book.append(project_id, "reply", {"text": text, "version": reply.version})
                error = reply.error
            except ShotlineError as exc:
                error = str(exc)
            except Exception as exc:  # a bug must still end the run for the client, with its type
                error = f"internal error ({type(exc).__name__}); the project keeps everything it had"
            # the last event is written while the project still counts as busy: a stream that sees
            # it idle has seen everything
            if error:
                self.book.append(project_id, "error", {"message": error})
            elif reply is not None and reply.waiting:
                self.book.append(
                    project_id, "waiting", {"approval": reply.approval, "version": reply.version}
                )
            else:
                self.book.append(project_id, "done", {"version": reply.version if reply else None})
        finally:
            with self._lock:
                self._busy.discard(project_id)
        if self._on_finished:
            self._on_finished(project_id, reply, error)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
