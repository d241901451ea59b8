"""What the line keeps on disk: content-addressed takes, the cost ledger, the graph checkpointer.

Every write lands atomically (temp file, then `os.replace`), so a killed process leaves either the
whole file or nothing, and a rerun finds every take that finished.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver
from pydantic import BaseModel

from shotline.memory.models import Take


def atomic_write(path: Path, data: bytes | str) -> Path:
    """Write `data` to `path` so that readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, obj: object) -> Path:
    return atomic_write(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def _connect(path: Path) -> sqlite3.Connection:
    """WAL with NORMAL sync: every commit survives a killed process (what resume needs) without an
    fsync per write; only a power cut can lose the last instant."""
    db = sqlite3.connect(path, timeout=30, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    return db


class TakeStore:
    """Takes by render key: `<root>/<k[:2]>/<k>.mp4` plus its record `<k>.json`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def media_path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.mp4"

    def _record_path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def scratch(self, key: str) -> Path:
        """Where a take downloads before it is checked and lands."""
        path = self.root / "tmp" / f"{key}.{os.getpid()}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def get(self, key: str) -> Take | None:
        media, record = self.media_path(key), self._record_path(key)
        if not (media.exists() and record.exists()):
            return None
        return Take.model_validate_json(record.read_text("utf-8"))

    def put(self, file: Path, take: Take) -> Take:
        """Move a checked file into the store, then write its record (the record marks it done)."""
        media = self.media_path(take.render_key)
        media.parent.mkdir(parents=True, exist_ok=True)
        os.replace(file, media)
        take = take.model_copy(update={"path": str(media)})
        atomic_write(self._record_path(take.render_key), take.model_dump_json(indent=2))
        return take


class Ledger:
    """Every charge, per project and shot; the budget is checked against it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db: sqlite3.Connection | None = None
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS charges (ts REAL, project_id TEXT, shot_id TEXT, "
                "render_key TEXT, model TEXT, cost_usd REAL, note TEXT)"
            )

    def _connect(self) -> sqlite3.Connection:
        """One connection per book, kept open: a commit per write, no reconnect (the runner writes
        from its event loop, so every millisecond here is a millisecond no job is polled)."""
        if self._db is None:
            self._db = _connect(self.path)
        return self._db

    def record(
        self, *, project_id: str, shot_id: str, render_key: str, model: str, cost_usd: float, note: str = ""
    ) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO charges VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time.time(), project_id, shot_id, render_key, model, cost_usd, note),
            )

    def spent_total(self) -> float:
        with self._connect() as db:
            return float(db.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM charges").fetchone()[0])

    def spent(self, project_id: str) -> float:
        with self._connect() as db:
            row = db.execute(
                "SELECT COALESCE(SUM(cost_usd), 0) FROM charges WHERE project_id = ?", (project_id,)
            ).fetchone()
        return float(row[0])


class Job(BaseModel):
    """A paid task at a provider, recorded the moment its submit returns."""

    render_key: str
    project_id: str
    shot_id: str
    provider: str
    model_id: str
    task_id: str
    state: str  # open | done | failed | unknown
    reserved_usd: float = 0.0
    note: str = ""


class JobBook:
    """Provider task ids, persisted before anything else happens after a submit, so a resumed run
    polls the task it already paid for instead of submitting again."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db: sqlite3.Connection | None = None
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS jobs (render_key TEXT, project_id TEXT, shot_id TEXT, provider TEXT, "
                "model_id TEXT, task_id TEXT, state TEXT, reserved_usd REAL, note TEXT, ts REAL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS jobs_key ON jobs (render_key, state)")

    def _connect(self) -> sqlite3.Connection:
        """One connection per book, kept open: a commit per write, no reconnect (the runner writes
        from its event loop, so every millisecond here is a millisecond no job is polled)."""
        if self._db is None:
            self._db = _connect(self.path)
        return self._db

    def open(self, job: Job) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job.render_key, job.project_id, job.shot_id, job.provider, job.model_id, job.task_id,
                 job.state, job.reserved_usd, job.note, time.time()),
            )  # fmt: skip

    def close(self, render_key: str, task_id: str, state: str, note: str = "") -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET state = ?, note = ?, ts = ? WHERE render_key = ? AND task_id = ?",
                (state, note, time.time(), render_key, task_id),
            )

    def started(self, render_key: str, task_id: str) -> None:
        """The submit answered: the write-ahead record becomes an open task with its id."""
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET task_id = ?, state = 'open', ts = ? WHERE render_key = ? AND task_id = '' "
                "AND state = 'unknown'",
                (task_id, time.time(), render_key),
            )

    def pending(self, render_key: str) -> Job | None:
        """The task still open (or of unknown outcome) for this render key, if any."""
        with self._connect() as db:
            row = db.execute(
                "SELECT render_key, project_id, shot_id, provider, model_id, task_id, state, reserved_usd, note "
                "FROM jobs WHERE render_key = ? AND state IN ('open', 'unknown') ORDER BY ts DESC LIMIT 1",
                (render_key,),
            ).fetchone()
        if row is None:
            return None
        keys = (
            "render_key",
            "project_id",
            "shot_id",
            "provider",
            "model_id",
            "task_id",
            "state",
            "reserved_usd",
            "note",
        )
        return Job(**dict(zip(keys, row, strict=True)))

    def count(self, state: str | None = None) -> int:
        with self._connect() as db:
            if state is None:
                return int(db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
            return int(db.execute("SELECT COUNT(*) FROM jobs WHERE state = ?", (state,)).fetchone()[0])


@contextmanager
def checkpointer(path: Path) -> Iterator[SqliteSaver]:
    """The SQLite checkpointer: a project's graph state, keyed by its id as thread_id."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with SqliteSaver.from_conn_string(str(path)) as saver:
        yield saver
