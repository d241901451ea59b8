"""A whole conversation through the graph with the real chat-model class: a brief, the script, the
storyboard, approval, the cut, three revisions and undo, every decision and every text made by a
`ChatOpenAI` whose HTTP client is injected and replays documented chat-completions responses
(tests/fakes/openai_chat.py): `response_format` json_schema answers for the first film, forced tool
calls (function calling) for the revisions, a misfit retried once, and misfits twice that end a turn.

What is real: langchain's ChatOpenAI and the OpenAI SDK building every request, parsing every answer
and its tool calls; the graph, the checkpointer, the take store and the ledger. The paid video model
is the animatic with a price card (real files, no network), so approvals happen as with a hosted one.

The conversation runs once per module (it renders three times); each test reads one part of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from shotline.agents.decisions import ChangeBible, Decision, ReviseScene, Trim, Undo, WriteScript
from shotline.agents.graph import CONTENT, Crew
from shotline.agents.screenwriter import (
    Enrichment,
    Screenplay,
    break_down_script,
    enrich,
    rewrite_scene,
    write_script,
)
from shotline.config import Settings
from shotline.errors import ScriptError
from shotline.memory.store import Ledger
from shotline.tools.llm import chat_model
from shotline.tools.video.animatic import Animatic
from shotline.ui.session import Reply, Studio
from tests.conftest import DELIVERABLES
from tests.fakes.openai_chat import (
    OpenAIChatFake,
    answer,
    forced_tool,
    json_reply,
    response_format,
    tool_reply,
)

KEY = "sk-proj-llmconversation-5f2c9a7e1b3d"
BRIEF = (
    "a 40-second anime short: a delivery girl named MEI in a yellow rain jacket races a giant robot "
    "through a rainy alley"
)
TITLE = "Rain Race"
SCENE_1 = """EXT. RAINY ALLEY - NIGHT

Rain hammers a narrow alley lit by one flickering lamp.

MEI (20s), a delivery girl in a yellow rain jacket with short black hair, pedals hard through the puddles.

ROBOT (ancient), a giant machine in rusted grey armour with one red eye, crashes through a fence behind her.

MEI
Not today."""
SCENE_2 = """EXT. ROOFTOP - NIGHT

Mei leaps her bike onto a fire escape. The robot reaches for her and grabs her back wheel.

ROBOT
Mine."""
NEW_SCENE_2 = """EXT. ROOFTOP - NIGHT

Mei leaps her bike onto a fire escape. The robot lunges, slips on the wet tiles and topples into the canal.

MEI
Too slow."""
ENRICHED = Enrichment(
    style="anime, rain-soaked neon, cyan and amber",
    characters={"MEI": "round face, bright brown eyes", "ROBOT": "dented chest plate, hydraulic arms"},
    locations={"RAINY ALLEY": "puddles mirror the neon", "ROOFTOP": "wet tiles, a rusted fire escape"},
)
SCRIPT_WORDS = ("yellow rain jacket", "giant robot", "RAINY ALLEY", "ROOFTOP", "fire escape", "canal")
BAD_DECISION = {"actions": [{"kind": "paint", "target": "ROBOT"}], "summary": "purple robot"}
USD_PER_SECOND = 0.05


class PaidAnimatic(Animatic):
    card = Animatic.card.model_copy(update={"name": "paid", "local": False, "usd_per_second": USD_PER_SECOND})
    cards = (card,)


@dataclass
class Step:
    """One message (or approval) of the conversation: what it answered, the state after it, the chat
    requests it made, and the line's events."""

    reply: Reply
    state: dict[str, Any]
    bodies: list[dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)
    spent: float = 0.0

    def rendered(self) -> bool:
        return any(e.get("stage") == "render" for e in self.events)


class Conversation:
    def __init__(self, studio: Studio, fake: OpenAIChatFake) -> None:
        self.studio, self.fake = studio, fake
        self.pid = studio.create(provider="paid")
        self.steps: dict[str, Step] = {}

    def say(self, name: str, message: str, *replies: Any) -> Step:
        """Send `message` with the model's answers for it queued; every one must be used."""
        self.fake.queue(*replies)
        asked = len(self.fake.bodies)
        events: list[dict[str, Any]] = []
        reply = self.studio.send(self.pid, message, on_event=events.append)
        assert not self.fake.replies, f"{message!r} left {len(self.fake.replies)} scripted answers unused"
        step = Step(reply, self.studio.state(self.pid), self.fake.bodies[asked:], events, self.spent())
        self.steps[name] = step
        return step

    def spent(self) -> float:
        return Ledger(self.studio.settings.root / "ledger.sqlite").spent_total()


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory):
    fake = OpenAIChatFake()
    home = tmp_path_factory.mktemp("llm-conversation") / "home"
    model = {"home": home, "llm": "openai:gpt-4.1-mini", "openai_api_key": SecretStr(KEY)}
    # two real ChatOpenAI clients on the same injected transport: OpenAI's default Structured Outputs
    # (response_format json_schema), and function calling (a forced tool call) as SHOTLINE_LLM_STRUCTURED sets it
    by_schema = chat_model(Settings(**model), http_client=httpx.Client(transport=fake.transport()))
    by_tool = chat_model(
        Settings(**model, llm_structured="function_calling"),
        http_client=httpx.Client(transport=fake.transport()),
    )
    settings = Settings(home=home)
    crew = Crew(settings=settings, models={"paid": PaidAnimatic()}, llm=by_schema)
    with Studio(settings, crew) as studio:
        c = Conversation(studio, fake)
        c.say(
            "brief",
            BRIEF,
            answer(Decision(actions=[WriteScript(brief=BRIEF, target_s=40)], summary="new film: Rain Race")),
            json_reply({"title": TITLE}),  # no screenplay in it: sent back once with the error
            answer(Screenplay(title=TITLE, fountain=f"{SCENE_1}\n\n{SCENE_2}")),
            answer(ENRICHED),
        )
        c.say("yes", "yes")
        crew.llm = by_tool
        jacket = ChangeBible(target="MEI", item="jacket", value="red")
        c.say(
            "red", "make her jacket red everywhere", answer(Decision(actions=[jacket], summary="red jacket"))
        )
        c.say("red yes", "yes")
        c.say(
            "trim",
            "shot 2 shorter",
            tool_reply(Decision, {"actions": [{"kind": "shorten", "shot": "2"}], "summary": "?"}),
            answer(Decision(actions=[Trim(shot="002", by_s=-1.0)], summary="shot 2 one second shorter")),
        )
        c.say(
            "rewrite",
            "rewrite scene 2 so that the robot loses",
            answer(
                Decision(actions=[ReviseScene(scene=2, instruction="the robot loses")], summary="scene 2")
            ),
            answer(Screenplay(title=TITLE, fountain=NEW_SCENE_2)),
            answer(ENRICHED),
        )
        c.say("rewrite yes", "yes")
        c.say("undo", "undo", answer(Decision(actions=[Undo()], summary="undo")))
        c.say(
            "bad decision",
            "make the robot purple",
            tool_reply(Decision, BAD_DECISION),
            tool_reply(Decision, BAD_DECISION),
        )
        c.say(
            "bad scene",
            "rewrite scene 1 with more rain",
            answer(Decision(actions=[ReviseScene(scene=1, instruction="more rain")], summary="scene 1")),
            answer({"title": TITLE}),
            answer({"title": TITLE}),
        )
        yield c


# --- helpers -----------------------------------------------------------------------------------


def _keys(state: dict[str, Any]) -> dict[str, str]:
    return {sid: take.render_key for sid, take in state["takes"].items()}


def _shots_of(state: dict[str, Any], *, character: str | None = None, scene: str | None = None) -> set[str]:
    return {
        s.id
        for s in state["storyboard"].shots
        if (character is None or character in s.characters) and (scene is None or s.scene == scene)
    }


def _messages(body: dict[str, Any], role: str) -> list[str]:
    return [m["content"] or "" for m in body["messages"] if m["role"] == role]


def _fenced(text: str) -> list[str]:
    """The blocks of `text` between ``` fences."""
    return text.split("```")[1::2]


def _summary(body: dict[str, Any]) -> dict[str, Any]:
    """The project summary the director was shown: the ```json block of its user message."""
    block = _fenced(_messages(body, "user")[0])[0]
    assert block.startswith("json\n")
    return json.loads(block.removeprefix("json\n"))


def _structured_as(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """(forced tool, response_format type) of a request."""
    fmt = response_format(body)
    return forced_tool(body), (
        f"{fmt}:{body['response_format']['json_schema']['name']}" if fmt == "json_schema" else fmt
    )


# --- the conversation --------------------------------------------------------------------------


def test_every_answer_comes_through_the_real_client(talk: Conversation) -> None:
    assert isinstance(talk.studio.crew.llm, ChatOpenAI)
    assert [r.path for r in talk.fake.requests] == ["/v1/chat/completions"] * len(talk.fake.requests)
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in talk.fake.requests)
    assert not any(KEY in r.body.decode() for r in talk.fake.requests)  # the key travels in the header only
    assert all(body["model"] == "gpt-4.1-mini" for body in talk.fake.bodies)
    methods = [_structured_as(b) for b in talk.fake.bodies]
    assert any(tool and fmt is None for tool, fmt in methods)  # function calling, tool_choice forced
    assert any(tool is None and fmt and fmt.startswith("json_schema") for tool, fmt in methods)


def test_a_brief_becomes_a_screenplay_a_storyboard_and_an_estimate(talk: Conversation) -> None:
    step = talk.steps["brief"]
    assert [_structured_as(b) for b in step.bodies] == [
        (None, "json_schema:Decision"),
        (None, "json_schema:Screenplay"),
        (None, "json_schema:Screenplay"),  # the misfit, sent back once with what was wrong
        (None, "json_schema:Enrichment"),
    ]
    director, writer, again, _designer = step.bodies
    assert "fountain: Field required" in _messages(again, "user")[-1]
    assert _messages(again, "assistant") == ['{"title": "Rain Race"}']
    assert "about 40 seconds of film" in _messages(writer, "user")[0]
    for body in (director, writer):
        (user,) = _messages(body, "user")
        assert any(
            BRIEF in block for block in _fenced(user)
        )  # the brief, fenced as data, as the user said it
    assert _summary(director)["has_film"] is False

    state = step.state
    assert state["order"]["target_s"] == 40
    assert state["script"] == f"Title: {TITLE}\n\n{SCENE_1}\n\n{SCENE_2}\n"
    names = {c.name: c for c in state["breakdown"].characters}
    assert set(names) == {"MEI", "ROBOT"}
    assert "yellow rain jacket" in names["MEI"].description
    assert "round face" in names["MEI"].description  # the enrichment, after what the script says
    assert state["breakdown"].style == ENRICHED.style
    assert [s.number for s in state["breakdown"].scenes] == [1, 2]
    assert sum(s.duration_s for s in state["storyboard"].shots) == pytest.approx(40, abs=1.0)

    assert step.reply.waiting and step.spent == 0  # nothing is spent before the yes
    shots = {s.id for s in state["storyboard"].shots}
    assert set(step.reply.approval["per_shot_usd"]) == shots
    assert step.reply.approval["estimate_usd"] == pytest.approx(
        sum(step.reply.approval["per_shot_usd"].values()), abs=1e-3
    )
    assert "Approve?" in step.reply.messages[-1]


def test_yes_renders_the_first_cut(talk: Conversation) -> None:
    brief, step = talk.steps["brief"], talk.steps["yes"]
    assert step.bodies == []  # 'yes' answers the approval; the model is not asked
    assert not step.reply.waiting and step.reply.version == 1
    folder = Path(step.state["cut"].files["final.mp4"]).parent
    assert folder.name == "v001" and all((folder / name).exists() for name in DELIVERABLES)
    assert step.spent == pytest.approx(brief.reply.approval["estimate_usd"], abs=1e-3)
    assert step.state["cut"].duration_s == pytest.approx(40, abs=1.0)


def test_the_director_sees_the_project_not_the_secrets(talk: Conversation) -> None:
    v1 = talk.steps["yes"].state
    (body,) = talk.steps["red"].bodies
    (system,) = _messages(body, "system")
    (user,) = _messages(body, "user")
    summary = _summary(body)
    assert summary["has_film"] is True and summary["version"] == 1
    assert {c["name"] for c in summary["characters"]} == {"MEI", "ROBOT"}
    assert summary["shots"] == [s.id for s in v1["storyboard"].shots]
    assert summary["scenes"] == 2 and set(summary["locations"]) == {"RAINY ALLEY", "ROOFTOP"}
    assert "make her jacket red everywhere" in _fenced(user)[1]
    assert "never reveal keys" in system
    for step in talk.steps.values():
        for b in step.bodies:
            for text in _messages(b, "system"):  # what the person and the script say is never an instruction
                assert BRIEF not in text and not any(word in text for word in SCRIPT_WORDS)
                assert "jacket red" not in text and "robot loses" not in text
            for text in _messages(b, "user"):
                outside = "".join(text.split("```")[0::2])
                assert BRIEF not in outside and not any(word in outside for word in SCRIPT_WORDS)


def test_a_new_look_rerenders_exactly_the_characters_shots(talk: Conversation) -> None:
    v1, asked, step = talk.steps["yes"].state, talk.steps["red"], talk.steps["red yes"]
    (body,) = asked.bodies
    assert _structured_as(body) == ("Decision", None)
    assert body["tool_choice"] == {"type": "function", "function": {"name": "Decision"}}
    assert [t["function"]["name"] for t in body["tools"]] == ["Decision"]
    mei = _shots_of(v1, character="mei")
    assert mei and mei != {s.id for s in v1["storyboard"].shots}
    assert asked.reply.waiting and set(asked.reply.approval["per_shot_usd"]) == mei
    assert asked.spent == talk.steps["yes"].spent  # asked, not spent
    v2 = step.state
    assert step.reply.version == 2
    assert {sid for sid, key in _keys(v2).items() if _keys(v1)[sid] != key} == mei
    assert "red rain jacket" in v2["breakdown"].character("mei").description
    assert all("red rain jacket" in s.prompt for s in v2["storyboard"].shots if s.id in mei)


def test_a_trim_renders_nothing_and_asks_nothing(talk: Conversation) -> None:
    v2, step = talk.steps["red yes"].state, talk.steps["trim"]
    misfit, corrected = step.bodies  # a tool call that does not fit Decision, sent back once
    assert _structured_as(misfit) == _structured_as(corrected) == ("Decision", None)
    assert "does not fit Decision: actions.0" in _messages(corrected, "user")[-1]
    assert not step.reply.waiting and not step.rendered() and step.reply.error is None
    v3 = step.state
    assert v3["version"] == 3 and _keys(v3) == _keys(v2)
    assert v3["edit"].lengths["002"] == pytest.approx(v2["storyboard"].shots[1].duration_s - 1.0, abs=1 / 24)
    assert v3["cut"].duration_s == pytest.approx(v2["cut"].duration_s - 1.0, abs=1 / 24)
    assert step.spent == talk.steps["red yes"].spent


def test_a_scene_rewrite_changes_that_scene_only(talk: Conversation) -> None:
    v3, asked, step = talk.steps["trim"].state, talk.steps["rewrite"], talk.steps["rewrite yes"]
    _decision, writer, _designer = asked.bodies
    assert [_structured_as(b)[0] for b in asked.bodies] == ["Decision", "Screenplay", "Enrichment"]
    (user,) = _messages(writer, "user")
    blocks = _fenced(user)
    assert blocks[0] == f"text\n{SCENE_2}\n" and blocks[1] == "text\nthe robot loses\n"
    assert "RAINY ALLEY" not in user  # the model sees the scene it rewrites, nothing else
    script = asked.state["script"]
    assert script == f"Title: {TITLE}\n\n{SCENE_1}\n\n{NEW_SCENE_2}\n"
    assert script.split("EXT. ROOFTOP")[0] == v3["script"].split("EXT. ROOFTOP")[0]  # scene 1 byte for byte
    assert "red rain jacket" in asked.state["breakdown"].character("mei").description  # the bible edit stays
    assert asked.reply.waiting and asked.spent == talk.steps["trim"].spent
    assert step.reply.version == 4 and not step.reply.waiting
    assert Path(step.state["cut"].files["final.mp4"]).parent.name == "v004"


def test_a_scene_rewrite_rerenders_that_scene_only(talk: Conversation) -> None:
    v3, asked, v4 = talk.steps["trim"].state, talk.steps["rewrite"], talk.steps["rewrite yes"].state
    scene_1, scene_2 = _shots_of(v4, scene="sc1"), _shots_of(v4, scene="sc2")
    assert set(asked.reply.approval["per_shot_usd"]) == scene_2
    assert {sid: _keys(v4)[sid] for sid in scene_1} == {sid: _keys(v3)[sid] for sid in scene_1}


def test_a_scene_rewrite_keeps_the_cut_of_the_other_scenes(talk: Conversation) -> None:
    v3, v4 = talk.steps["trim"].state, talk.steps["rewrite yes"].state
    assert v4["edit"].lengths.get("002") == v3["edit"].lengths["002"]


def test_undo_goes_back_to_the_version_before_the_rewrite(talk: Conversation) -> None:
    v3, v4, step = talk.steps["trim"].state, talk.steps["rewrite yes"].state, talk.steps["undo"]
    assert [_structured_as(b) for b in step.bodies] == [("Decision", None)]
    assert step.reply.version == 3 and not step.rendered()
    back = step.state
    assert back["script"] == v3["script"] and _keys(back) == _keys(v3)
    assert back["cut"].files == v3["cut"].files
    assert all(Path(path).exists() for path in back["cut"].files.values())
    assert Path(v4["cut"].files["final.mp4"]).exists()  # the later version's files stay too
    assert "v003" in step.reply.messages[-1]


def test_two_misfits_end_the_turn_and_change_nothing(talk: Conversation) -> None:
    before, step = talk.steps["undo"].state, talk.steps["bad decision"]
    assert len(step.bodies) == 2  # asked once more, with what was wrong, then given up
    assert step.reply.error and "did not fit Decision" in step.reply.error
    assert step.reply.messages[-1].startswith(
        "That did not work: the chat model's answer did not fit Decision"
    )
    assert step.reply.version == 3 and not step.reply.waiting
    assert {k: step.state.get(k) for k in CONTENT} == {k: before.get(k) for k in CONTENT}


def test_a_rewrite_the_model_cannot_write_changes_no_content(talk: Conversation) -> None:
    before, step = talk.steps["bad decision"].state, talk.steps["bad scene"]
    assert [_structured_as(b)[0] for b in step.bodies] == ["Decision", "Screenplay", "Screenplay"]
    assert step.reply.error and "did not fit Screenplay: fountain: Field required" in step.reply.error
    assert not step.reply.waiting and not step.rendered() and step.spent == talk.steps["undo"].spent
    for key in ("script", "breakdown", "storyboard", "takes", "cut", "edit", "bible_edits", "order"):
        assert step.state.get(key) == before.get(key), key


def test_a_rewrite_the_model_cannot_write_makes_no_version(talk: Conversation) -> None:
    before, step = talk.steps["bad decision"].state, talk.steps["bad scene"]
    assert step.reply.version == 3
    assert {k: step.state.get(k) for k in CONTENT} == {k: before.get(k) for k in CONTENT}


# --- the screenwriter's answers, checked before the line uses them -------------------------------


@pytest.fixture
def writer() -> tuple[OpenAIChatFake, ChatOpenAI]:
    fake = OpenAIChatFake()
    settings = Settings(llm="openai:gpt-4.1-mini", openai_api_key=SecretStr(KEY))
    return fake, chat_model(settings, http_client=httpx.Client(transport=fake.transport()))


def test_a_screenplay_with_no_scene_is_asked_for_again(writer: tuple[OpenAIChatFake, ChatOpenAI]) -> None:
    fake, llm = writer
    fake.queue(
        answer(Screenplay(title=TITLE, fountain="Mei races the robot through the rain and wins.")),
        answer(Screenplay(title=TITLE, fountain=SCENE_1)),
    )
    assert write_script(BRIEF, filename="brief.txt", llm=llm) == f"Title: {TITLE}\n\n{SCENE_1}\n"
    assert "it has no scene heading" in _messages(fake.bodies[1], "user")[-1]
    fake.queue(*[answer(Screenplay(title=TITLE, fountain="Mei wins."))] * 2)
    with pytest.raises(ScriptError, match="unusable screenplay twice: it has no scene heading"):
        write_script(BRIEF, filename="brief.txt", llm=llm)


def test_a_rewritten_scene_must_be_one_scene(writer: tuple[OpenAIChatFake, ChatOpenAI]) -> None:
    fake, llm = writer
    script = f"Title: {TITLE}\n\n{SCENE_1}\n\n{SCENE_2}\n"
    fake.queue(
        answer(Screenplay(title=TITLE, fountain="The robot slips and falls into the canal.")),  # no heading
        answer(Screenplay(title=TITLE, fountain=NEW_SCENE_2)),
    )
    assert (
        rewrite_scene(script, 2, "the robot loses", llm) == f"Title: {TITLE}\n\n{SCENE_1}\n\n{NEW_SCENE_2}\n"
    )
    assert "exactly one scene" in _messages(fake.bodies[1], "user")[-1]
    fake.queue(*[answer(Screenplay(title=TITLE, fountain=f"{NEW_SCENE_2}\n\n{SCENE_1}"))] * 2)  # two scenes
    with pytest.raises(ScriptError, match="unusable scene 2 twice"):
        rewrite_scene(script, 2, "the robot loses", llm)


def test_what_the_model_writes_carries_no_key(writer: tuple[OpenAIChatFake, ChatOpenAI]) -> None:
    """A model that writes its own key into the film: it never reaches the script or the bible."""
    fake, llm = writer
    fake.queue(answer(Screenplay(title=f"{TITLE} {KEY}", fountain=f"{SCENE_1}\n\nMEI\nThe key is {KEY}.")))
    script = write_script(BRIEF, filename="brief.txt", llm=llm)
    assert KEY not in script and "The key is ***." in script and f"Title: {TITLE} ***" in script
    fake.queue(answer(Screenplay(title=TITLE, fountain=f"{NEW_SCENE_2}\n\nMEI\n{KEY}")))
    assert KEY not in rewrite_scene(script, 1, "the robot loses", llm)
    fake.queue(answer(Enrichment(style=KEY, characters={"MEI": f"a tattoo reading {KEY}"})))
    enriched = enrich(break_down_script(script), llm)
    assert (
        KEY not in enriched.model_dump_json()
        and "a tattoo reading ***" in enriched.character("mei").description
    )
