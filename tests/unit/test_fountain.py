"""The Fountain parser, feature by feature, with the line numbers later stages point back at."""

from __future__ import annotations

import time
from pathlib import Path

import pydantic
import pytest

from shotline.errors import ScriptError
from shotline.tools.fountain import Element, Note, looks_like_fountain, parse, strip_emphasis

FIXTURES = Path(__file__).parent / "fountain_fixtures"


def kinds(text: str) -> list[tuple[str, str]]:
    """(kind, text) of every element: the shape most tests care about."""
    return [(e.kind, e.text) for e in parse(text).elements]


def only(text: str) -> Element:
    elements = parse(text).elements
    assert len(elements) == 1, elements
    return elements[0]


# --- scene headings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "heading",
    [
        "INT. KITCHEN - DAY",
        "EXT. BEACH - NIGHT",
        "EST. CITY SKYLINE",
        "INT./EXT. CAR - MOVING",
        "INT/EXT CAR - MOVING",
        "I/E CAR",
        "int. lowercase house - day",
        "EXT BUCKET LIST",
    ],
)
def test_scene_heading_prefixes(heading: str) -> None:
    element = parse(f"{heading}\n\nAction.").elements[0]
    assert (element.kind, element.text, element.forced) == ("scene_heading", heading, False)


@pytest.mark.parametrize("line", ["INTERIOR OF A HOUSE", "EXTRA CREDIT", "Internal thoughts."])
def test_words_that_start_like_a_heading_are_action(line: str) -> None:
    assert kinds(f"{line}\n\nMore.") == [("action", line), ("action", "More.")]


def test_heading_needs_a_blank_line_before_it() -> None:
    assert kinds("He walks.\nINT. HOUSE - DAY\n") == [("action", "He walks.\nINT. HOUSE - DAY")]


def test_forced_heading_and_ellipsis_action() -> None:
    assert parse(".SNIPER SCOPE POV\n\n...and waits.").elements == [
        Element(kind="scene_heading", text="SNIPER SCOPE POV", line=1, end_line=1, forced=True),
        Element(kind="action", text="...and waits.", line=3, end_line=3),
    ]
    assert kinds(". NOT A HEADER") == [("action", ". NOT A HEADER")]


def test_scene_numbers() -> None:
    elements = parse("INT. HOUSE - DAY #12A#\n\n.FLASHBACK #I-1-A#\n\nEXT. YARD #1.#\n").elements
    assert [(e.text, e.scene_number) for e in elements] == [
        ("INT. HOUSE - DAY", "12A"),
        ("FLASHBACK", "I-1-A"),
        ("EXT. YARD", "1."),
    ]
    assert parse("INT. HOUSE - DAY\n").elements[0].scene_number is None


# --- action --------------------------------------------------------------------------------------------


def test_action_keeps_line_breaks_and_splits_on_blank_lines() -> None:
    play = parse("He opens the card:\n\n    Scott --\n    Palace Hotel\n\n\nHe calls.")
    assert [(e.kind, e.text, e.line, e.end_line) for e in play.elements] == [
        ("action", "He opens the card:", 1, 1),
        ("action", "    Scott --\n    Palace Hotel", 3, 4),
        ("action", "He calls.", 7, 7),
    ]


def test_forced_action() -> None:
    element = only("!EXT. ACTION. FORCED.")
    assert (element.kind, element.text, element.forced) == ("action", "EXT. ACTION. FORCED.", True)
    assert kinds("!SCANNING THE AISLES\nWhere is that pit boss?") == [
        ("action", "SCANNING THE AISLES\nWhere is that pit boss?")
    ]


def test_two_spaces_keep_an_action_paragraph_going() -> None:
    assert kinds("First line.\n  \nSecond line.") == [("action", "First line.\n\nSecond line.")]


# --- characters and dialogue ---------------------------------------------------------------------------


def test_character_and_dialogue() -> None:
    play = parse("Action.\n\nSTEEL\nThe man's a myth!\nStill talking.\n\nAfter.")
    assert [(e.kind, e.text, e.line, e.end_line) for e in play.elements] == [
        ("action", "Action.", 1, 1),
        ("character", "STEEL", 3, 3),
        ("dialogue", "The man's a myth!\nStill talking.", 4, 5),
        ("action", "After.", 7, 7),
    ]


@pytest.mark.parametrize(
    ("cue", "name", "extensions"),
    [
        ("MOM (O. S.)", "MOM", ("O. S.",)),
        ("HANS (on the radio)", "HANS", ("on the radio",)),
        ("STEEL (V.O.) (CONT'D)", "STEEL", ("V.O.", "CONT'D")),
        ("STEEL (V.O.) (CONT’D)", "STEEL", ("V.O.", "CONT'D")),
        ("DR. BENNET", "DR. BENNET", ()),
        ("R2D2", "R2D2", ()),
        ("    DAVE", "DAVE", ()),
    ],
)
def test_character_extensions(cue: str, name: str, extensions: tuple[str, ...]) -> None:
    character = parse(f"\n{cue}\nHello.").elements[0]
    assert (character.kind, character.text, character.extensions, character.line) == (
        "character",
        name,
        extensions,
        2,
    )


def test_forced_character_keeps_its_case() -> None:
    character = parse("@McCLANE (V.O.)\nYippee ki-yay!").elements[0]
    assert (character.kind, character.text, character.extensions, character.forced) == (
        "character",
        "McCLANE",
        ("V.O.",),
        True,
    )


@pytest.mark.parametrize(
    "text",
    [
        "BOB\n\nNot dialogue, a blank line came between.",
        "Action.\nBOB\nNot a cue, no blank line before.",
        "23\nNumbers only.",
        "Han (O. S.)\nMixed case.",
        "AND ^ (Dual)\nThe caret must come last.",
    ],
)
def test_not_a_character(text: str) -> None:
    assert {e.kind for e in parse(text).elements} == {"action"}


def test_dual_dialogue() -> None:
    play = parse("BRICK\nScrew retirement.\n\nSTEEL ^\nScrew retirement.\n\nBUT (V.O.) ^\nYes.")
    cues = [e for e in play.elements if e.kind == "character"]
    assert [(c.text, c.dual, c.extensions) for c in cues] == [
        ("BRICK", False, ()),
        ("STEEL", True, ()),
        ("BUT", True, ("V.O.",)),
    ]


def test_parentheticals_inside_dialogue() -> None:
    play = parse("STEEL\n(starting the engine)\nSo much for retirement!\n  (beat)\nOr not.")
    assert [(e.kind, e.text, e.line) for e in play.elements] == [
        ("character", "STEEL", 1),
        ("parenthetical", "(starting the engine)", 2),
        ("dialogue", "So much for retirement!", 3),
        ("parenthetical", "(beat)", 4),
        ("dialogue", "Or not.", 5),
    ]


def test_two_spaces_keep_dialogue_going() -> None:
    play = parse("DEALER\nTen.\nFour.\n  \nHit or stand sir?\n\nMONKEY\nDude.")
    assert [(e.kind, e.text, e.end_line) for e in play.elements][:2] == [
        ("character", "DEALER", 1),
        ("dialogue", "Ten.\nFour.\n\nHit or stand sir?", 5),
    ]


def test_two_spaces_after_a_parenthetical_stay_in_the_speech() -> None:
    assert kinds("BOB\n(beat)\n  \nHi.") == [
        ("character", "BOB"),
        ("parenthetical", "(beat)"),
        ("dialogue", "Hi."),
    ]


def test_a_cue_at_the_end_of_the_script_is_action() -> None:
    assert kinds("But I'm an action.\n\nBOSS") == [("action", "But I'm an action."), ("action", "BOSS")]


# --- transitions and centered text ---------------------------------------------------------------------


def test_transitions() -> None:
    text = "Action.\n\nCUT TO:\n\nEXT. YARD\n\n    SMASH CUT TO:\n\n>fade to black\n\nboop boop TO:\n"
    assert kinds(text) == [
        ("action", "Action."),
        ("transition", "CUT TO:"),
        ("scene_heading", "EXT. YARD"),
        ("transition", "SMASH CUT TO:"),
        ("transition", "fade to black"),
        ("action", "boop boop TO:"),
    ]
    assert parse(">fade to black").elements[0].forced


@pytest.mark.parametrize("fade", ["FADE OUT.", "FADE TO BLACK.", "FONDU AU NOIR."])
def test_closing_fades_are_transitions(fade: str) -> None:
    assert kinds(f"The end.\n\n{fade}\n") == [("action", "The end."), ("transition", fade)]
    assert kinds(f"The end.\n\n{fade.lower()}\n")[1] == ("action", fade.lower())


@pytest.mark.parametrize(
    "text",
    ["NOT A TRANSITION TO:  \n\nTrailing spaces.", "Action.\nCUT TO:\n\nNo blank line before."],
)
def test_not_a_transition(text: str) -> None:
    assert {e.kind for e in parse(text).elements} == {"action"}


def test_centered() -> None:
    element = only("> **THE END** <")
    assert (element.kind, element.text, element.forced) == ("centered", "THE END", True)
    assert kinds(">Line one<\n>Line two<") == [("centered", "Line one\nLine two")]


# --- notes and boneyard ----------------------------------------------------------------------------------


def test_inline_notes_are_removed_and_collected() -> None:
    play = parse("INT. HOUSE\n\nDAN and JACK[[real names?]] drink beer.\n\nJACK\nHi.[[too short]]")
    assert [e.text for e in play.elements] == ["INT. HOUSE", "DAN and JACK drink beer.", "JACK", "Hi."]
    assert play.notes == [Note(text="real names?", line=3), Note(text="too short", line=6)]


def test_multi_line_note_joins_the_text_around_it() -> None:
    text = "He waits.[[This needs work.\nOr coffee.\n  \nCoffee.]] He looks around.\n\nBOB\nHi."
    play = parse(text)
    assert [(e.kind, e.text, e.line, e.end_line) for e in play.elements] == [
        ("action", "He waits. He looks around.", 1, 4),
        ("character", "BOB", 6, 6),
        ("dialogue", "Hi.", 7, 7),
    ]
    assert play.notes == [Note(text="This needs work.\nOr coffee.\n  \nCoffee.", line=1)]


def test_a_note_on_its_own_line_does_not_split_a_paragraph() -> None:
    play = parse("First.\n[[aside]]\nSecond.")
    assert [(e.text, e.line, e.end_line) for e in play.elements] == [("First.\nSecond.", 1, 3)]


def test_boneyard_keeps_line_numbers() -> None:
    text = "INT. HOUSE - DAY\n\n/*\nCut scene.\n*/\n\nBOB\nHello.\n\nEXT. YARD /* was: GARDEN */ - DAY\n"
    play = parse(text)
    assert [(e.kind, e.text, e.line) for e in play.elements] == [
        ("scene_heading", "INT. HOUSE - DAY", 1),
        ("character", "BOB", 7),
        ("dialogue", "Hello.", 8),
        ("scene_heading", "EXT. YARD  - DAY", 10),
    ]
    assert play.notes == []


def test_boneyard_inside_a_paragraph_does_not_split_it() -> None:
    play = parse("This is something.\n/*\nnope\nnope\n*/\nOK.")
    assert [(e.text, e.line, e.end_line) for e in play.elements] == [("This is something.\nOK.", 1, 6)]


def test_a_scene_heading_may_follow_a_commented_out_scene() -> None:
    text = "Action.\n\nCUT TO:\n/*\nINT. GARAGE - DAY\n\nGone.\n*/\nEXT. MANSION - DAY\n\nBeer."
    assert kinds(text) == [
        ("action", "Action."),
        ("action", "CUT TO:"),
        ("scene_heading", "EXT. MANSION - DAY"),
        ("action", "Beer."),
    ]


def test_a_note_inside_a_boneyard_is_not_collected() -> None:
    assert parse("/* [[hidden]] */Text.").notes == []


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("INT. ROOM - DAY\n\n/* this boneyard never ends\n\nJOHN\nHi.\n", 3, "boneyard"),
        ("Action.\n\nMore action.[[ a note\n\nthat never ends", 3, "note"),
        ("A */ closer alone is fine.\n\n[[ but this", 3, "note"),
    ],
)
def test_unclosed_markup_is_a_script_error(text: str, line: int, what: str) -> None:
    with pytest.raises(ScriptError) as caught:
        parse(text)
    assert caught.value.line == line
    assert what in str(caught.value) and f"line {line}" in str(caught.value)


# --- sections, synopses, page breaks, lyrics ---------------------------------------------------------------


def test_sections_synopses_page_breaks_and_lyrics() -> None:
    text = "# ACT I\n\n## Sequence\n\n= Set up the story.\n\n===\n\n~Willy Wonka!\n~The amazing chocolatier!"
    play = parse(text)
    assert [(e.kind, e.text, e.level, e.line) for e in play.elements] == [
        ("section", "ACT I", 1, 1),
        ("section", "Sequence", 2, 3),
        ("synopsis", "Set up the story.", 0, 5),
        ("page_break", "", 0, 7),
        ("lyrics", "Willy Wonka!\nThe amazing chocolatier!", 0, 9),
    ]
    assert play.elements[-1].end_line == 10


def test_lyrics_inside_dialogue() -> None:
    assert kinds("TESTING\n~What happens here?") == [
        ("character", "TESTING"),
        ("lyrics", "What happens here?"),
    ]


# --- emphasis ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("*italics*", "italics"),
        ("**bold**", "bold"),
        ("***bold italics***", "bold italics"),
        ("_underline_", "underline"),
        ("_Steel's face FILLS the *Leupold Mark 4* scope_.", "Steel's face FILLS the Leupold Mark 4 scope."),
        ("The code: **\\*9765\\***", "The code: *9765*"),
        ("He dialed *69 and then *23, and hung up.", "He dialed *69 and then *23, and hung up."),
        ("He dialed *69 and then 23\\*, and hung up.", "He dialed *69 and then 23*, and hung up."),
        ("He dialed _69 and then 23 _, and hung up.", "He dialed _69 and then 23 _, and hung up."),
        ("a snake_case_name stays", "a snake_case_name stays"),
        ("*no emphasis\nacross lines*", "*no emphasis\nacross lines*"),
    ],
)
def test_emphasis_is_removed(raw: str, clean: str) -> None:
    assert strip_emphasis(raw) == clean
    assert parse(f"Before.\n\n{raw}").elements[1].text == clean


def test_emphasis_is_removed_from_every_kind() -> None:
    play = parse("INT. *DARK* HOUSE\n\nBOB\n(*softly*)\n_Permanently_.\n\n>**THE END**<")
    assert [e.text for e in play.elements] == [
        "INT. DARK HOUSE",
        "BOB",
        "(softly)",
        "Permanently.",
        "THE END",
    ]


# --- title page ----------------------------------------------------------------------------------------


def test_title_page() -> None:
    text = (
        "Title:\n    _**BRICK & STEEL**_\n    _**FULL RETIRED**_\nCredit: Written by\nAuthor: Stu Maschwitz\n"
        "Draft date: 1/20/2012\nContact:\n\tNext Level Productions\n\t1588 Mission Dr.\n\n"
        "EXT. BRICK'S PATIO - DAY\n"
    )
    play = parse(text)
    assert play.title_page == {
        "title": "BRICK & STEEL\nFULL RETIRED",
        "credit": "Written by",
        "author": "Stu Maschwitz",
        "draft date": "1/20/2012",
        "contact": "Next Level Productions\n1588 Mission Dr.",
    }
    assert play.title == "BRICK & STEEL\nFULL RETIRED"
    assert [(e.kind, e.line) for e in play.elements] == [("scene_heading", 11)]


def test_title_page_ends_at_a_line_that_is_not_a_key() -> None:
    play = parse("Title: Short\nNot a title entry.\nStill: Not a title entry.\n")
    assert play.title_page == {"title": "Short"}
    assert kinds("Title: Short\nNot a title entry.\nStill: Not a title entry.\n") == [
        ("action", "Not a title entry.\nStill: Not a title entry.")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "CUT TO:\n\nINT. HOUSE",
        "INT. HOUSE: KITCHEN - DAY\n\nAction.",
        "Steel enters the code on the keypad: 9765",
    ],
)
def test_no_title_page(text: str) -> None:
    play = parse(text)
    assert play.title_page == {}
    assert play.title == ""


# --- other languages ---------------------------------------------------------------------------------------


def test_chinese_screenplay() -> None:
    play = parse((FIXTURES / "zh_sample.fountain").read_text("utf-8"))
    assert play.title_page == {"标题": "雨夜咖啡馆", "作者": "测试编剧", "草稿日期": "二〇二四年五月"}
    assert play.title == "雨夜咖啡馆"
    assert [(e.kind, e.text, e.line) for e in play.elements] == [
        ("scene_heading", "内景。咖啡馆 - 夜", 5),
        ("action", "雨点敲打着玻璃窗。林小雨独自坐在角落，面前的咖啡早已凉透。", 7),
        ("character", "林小雨", 9),
        ("parenthetical", "（低声）", 10),
        ("dialogue", "他不会来了。", 11),
        ("character", "服务员", 13),
        ("dialogue", "要再续一杯吗？", 14),
        ("character", "林小雨", 16),
        ("dialogue", "不用了，谢谢。", 17),
        ("scene_heading", "外景 雨中小巷 — 夜晚", 21),
        ("action", "一把红伞在巷口停下。", 23),
        ("character", "陈默", 25),
        ("dialogue", "小雨，我来晚了。", 26),
        ("character", "老王", 28),
        ("dialogue", "两位，打烊了。", 29),
        ("transition", "切至：", 31),
        ("scene_heading", "内/外 出租车", 33),
        ("synopsis", "两人终于坐在一起。", 35),
        ("lyrics", "月亮代表我的心\n你问我爱你有多深", 37),
        ("transition", "淡出", 40),
    ]
    by_line = {e.line: e for e in play.elements}
    assert by_line[16].dual and by_line[25].extensions == ("画外音",) and by_line[28].forced
    assert by_line[33].scene_number == "3"
    assert play.notes == [Note(text="这里可以加一段钢琴曲。", line=19)]


@pytest.mark.parametrize(
    "heading",
    ["内景。咖啡馆 - 夜", "外景 雨中小巷 — 夜晚", "内外景．车内 - 日", "内/外：出租车", "外景.码头"],
)
def test_chinese_scene_headings(heading: str) -> None:
    assert parse(f"{heading}\n\n动作。").elements[0].kind == "scene_heading"


@pytest.mark.parametrize(
    "text",
    [
        "外景拍摄很辛苦。\n大家都累了。",  # a sentence, not a heading
        "她说：\n我们走吧。",  # sentence punctuation
        "这是一个非常非常长的名字\n后面还有。",  # more than 8 characters
        "林小雨\n\n她走了。",  # a blank line follows
    ],
)
def test_chinese_lines_that_are_not_cues_or_headings(text: str) -> None:
    assert {e.kind for e in parse(text).elements} == {"action"}


def test_chinese_cue_with_ascii_extension_and_dual() -> None:
    cue = parse("动作。\n\n小明 (V.O.) ^\n你好。").elements[1]
    assert (cue.kind, cue.text, cue.extensions, cue.dual) == ("character", "小明", ("V.O.",), True)


def test_french_screenplay() -> None:
    play = parse((FIXTURES / "fr_sample.fountain").read_text("utf-8"))
    assert play.title == "La Dernière Séance"
    assert play.title_page["credit"] == "Écrit par"
    assert [(e.kind, e.text, e.line) for e in play.elements] == [
        ("scene_heading", "INT. CINÉMA DU QUARTIER - NUIT", 6),
        ("action", "La salle est presque vide. ÉLODIE, trente ans, range les bobines.", 8),
        ("character", "ÉLODIE", 10),
        ("dialogue", "Encore une soirée sans public...", 11),
        ("character", "JOSÉ", 13),
        ("parenthetical", "(au téléphone)", 14),
        ("dialogue", "Tu fermes bientôt ?", 15),
        ("character", "ÉLODIE", 17),
        ("dialogue", "Dans dix minutes. Promis.", 18),
        ("scene_heading", "EXT. RUE DES ÉCOLES - NUIT", 20),
        ("action", "Il pleut. Une affiche « Fermeture définitive » claque au vent.", 22),
        ("character", "GÉRALDINE", 24),
        ("dialogue", "Attends-moi !", 25),
        ("transition", "COUPÉ À :", 27),
        ("transition", "FONDU AU NOIR.", 29),
        ("centered", "FIN", 31),
    ]
    by_line = {e.line: e for e in play.elements}
    assert by_line[13].extensions == ("V.O.",)
    assert by_line[17].extensions == ("CONT'D",)
    assert by_line[20].scene_number == "2"
    assert by_line[24].dual


# --- looks_like_fountain ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Title: Short\nAuthor: Me\n",
        "INT. KITCHEN - DAY\n\nA kettle whistles.",
        "A kettle whistles.\n\nANA\nYou're late.",
        "@梅\n你也来了。",
        "内景。信号塔 - 夜\n\n显示器在闪烁。",
        "INT. ROOM\n\n/* never closed",
    ],
)
def test_looks_like_fountain(text: str) -> None:
    assert looks_like_fountain(text)


@pytest.mark.parametrize(
    "text",
    [
        "A lonely robot finds a cat in Tokyo. It is raining, and the robot is late.\n\n"
        "The cat follows it home. By morning they are friends.",
        "一个孤独的机器人在东京的雨夜里遇见了一只猫。\n\n第二天早上，它们成了朋友。",
        "",
        "Une jeune femme ouvre un cinéma. Personne ne vient.\nPuis un soir, la salle est pleine.",
    ],
)
def test_prose_does_not_look_like_fountain(text: str) -> None:
    assert not looks_like_fountain(text)


# --- input hygiene and speed ---------------------------------------------------------------------------


def test_windows_line_endings_and_bom() -> None:
    play = parse("\ufeffTitle: X\r\n\r\nINT. HOUSE\r\n\r\nBOB\r\nHi.\r\n")
    assert play.title == "X"
    assert [(e.kind, e.line) for e in play.elements] == [
        ("scene_heading", 3),
        ("character", 5),
        ("dialogue", 6),
    ]


def test_empty_input() -> None:
    play = parse("")
    assert (play.title_page, play.elements, play.notes) == ({}, [], [])


def test_elements_are_frozen() -> None:
    element = parse("Action.").elements[0]
    with pytest.raises(pydantic.ValidationError):
        element.text = "changed"  # type: ignore[misc]


def _long_script(scenes: int) -> str:
    scene = (
        "INT. OFFICE {n} - DAY #{n}#\n\n"
        "Rain *hammers* the window. MARA (30s) reads a letter.[[check props]]\n"
        "She folds it twice.\n\n"
        "MARA (V.O.)\n(quietly)\nIt was never about the money.\nNever.\n\n"
        "JONAS ^\nThen what?\n\n"
        "/* an old beat\nthat was cut */\n"
        "CUT TO:\n\n"
    )
    return "Title: Long\nAuthor: Bench\n\n" + "".join(scene.format(n=n) for n in range(scenes))


def test_a_feature_length_script_parses_fast() -> None:
    text = _long_script(360)  # about 6,000 lines, a 120-page feature
    assert text.count("\n") >= 6000
    best = min(_timed(text) for _ in range(3))
    assert best < 0.5, f"parsing 6,000 lines took {best:.3f}s"
    play = parse(text)
    headings = [e for e in play.elements if e.kind == "scene_heading"]
    assert len(headings) == 360 and headings[-1].line == 3 + 359 * 17 + 1


def _timed(text: str) -> float:
    start = time.perf_counter()
    parse(text)
    return time.perf_counter() - start
