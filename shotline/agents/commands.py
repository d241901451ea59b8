"""The offline command grammar: how the director reads a chat message when no chat model is configured.

One table of patterns, English and Chinese side by side, each family with a handler that turns a match
into actions from the closed vocabulary of `decisions`. Deterministic, offline and fast, so the whole
line can be revised with no model; and, like the chat model, it can only ever choose among those
actions: whatever it does not understand gets the help answer (or, before any film exists, becomes
the brief, which is data and never instructions).

A message may hold several commands ("make her jacket red and shot 4 shorter"): it is cut at
connectors (commas, "and", "then", 和, 然后...) only where every piece reads as a command, so that
"swap 2 and 3" and "short and grey" stay whole.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal, cast

from shotline.agents.decisions import (
    MAX_HINT,
    VOICE_ID,
    Action,
    AddShot,
    Answer,
    ChangeBible,
    Decision,
    Drop,
    FramingName,
    Move,
    Reframe,
    Render,
    Retime,
    Revert,
    Route,
    SetBudget,
    SetSound,
    SetSubtitles,
    SetTransition,
    SetVoice,
    Situation,
    Swap,
    Trim,
    Undo,
    WriteScript,
    shot_id,
)
from shotline.memory.models import BROADCAST_LUFS, ONLINE_LUFS
from shotline.tools.attributes import extract_attributes, value_facets
from shotline.tools.text import CJK, has_cjk
from shotline.tools.video import PROVIDERS

__all__ = ["read_command"]

# --- vocabulary ------------------------------------------------------------------------------


def _ws(text: str) -> list[str]:
    """A word list written as one string: compact, and diff-friendly."""
    return text.split()


# Brand and product names people use -> the provider name the line uses.
_BRANDS = {
    "可灵": "kling", "快手可灵": "kling", "klingai": "kling",
    "即梦": "seedance", "豆包": "seedance", "火山": "seedance", "doubao": "seedance", "jimeng": "seedance",
    "海螺": "hailuo", "minimax": "hailuo",
    "万相": "wan", "通义万相": "wan", "通义": "wan", "wanx": "wan",
    "生数": "vidu", "谷歌": "veo", "google": "veo", "comfy": "comfyui",
    "动画小样": "animatic", "小样": "animatic", "local": "animatic",
}  # fmt: skip
_ZH_BRAND = "|".join(sorted((b for b in _BRANDS if has_cjk(b)), key=len, reverse=True))

_FRAMINGS_EN: dict[str, FramingName] = {
    "extreme close-up": "close-up", "extreme closeup": "close-up", "medium close-up": "medium",
    "close-up": "close-up", "closeup": "close-up", "close up": "close-up", "cu": "close-up",
    "ecu": "close-up", "mcu": "medium", "medium": "medium", "medium shot": "medium", "mid shot": "medium",
    "midshot": "medium", "mid-shot": "medium", "wide": "wide", "wide shot": "wide", "long shot": "wide",
    "ws": "wide", "establishing": "establishing", "establishing shot": "establishing",
    "two-shot": "two-shot", "two shot": "two-shot", "twoshot": "two-shot", "insert": "insert",
    "insert shot": "insert", "detail": "insert", "detail shot": "insert", "cutaway": "insert",
}  # fmt: skip
_FRAMINGS_ZH: dict[str, FramingName] = {
    "大特写": "close-up", "特写": "close-up", "近景": "close-up", "中近景": "medium", "中景": "medium",
    "全景": "wide", "远景": "wide", "大远景": "establishing", "大全景": "establishing",
    "建立镜头": "establishing", "空镜": "establishing", "双人镜头": "two-shot", "双人": "two-shot",
    "插入镜头": "insert", "细节": "insert", "镜头": "close-up",
}  # fmt: skip


def _alt(words: list[str] | dict[str, object]) -> str:
    """Longest first, so 'close-up' wins over 'close'."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_FRAMING_EN = rf"(?:{_alt(_FRAMINGS_EN)})"
_FRAMING_ZH = rf"(?:{_alt([w for w in _FRAMINGS_ZH if w != '镜头'])})"

# Pronoun -> gender ('f', 'm', 'n'; None: any), and the words that give a description its gender.
_PRONOUNS: dict[str, str | None] = {
    "she": "f", "her": "f", "hers": "f", "herself": "f", "he": "m", "him": "m", "his": "m",
    "himself": "m", "it": "n", "its": "n", "itself": "n", "they": None, "them": None, "their": None,
    "她": "f", "他": "m", "它": "n", "她们": None, "他们": None, "它们": None,
}  # fmt: skip
_GENDER_WORDS = {
    "f": (
        _ws(
            "she her hers girl girls woman women lady mother mom mum daughter sister wife queen princess aunt "
            "grandmother grandma actress waitress heroine female nun witch bride girlfriend widow"
        ),
        _ws("她 女 母 妈 姐 妹 婆 奶奶 姑娘 妻 娘 婶 姨"),
    ),
    "m": (
        _ws(
            "he him his boy boys man men guy gentleman father dad son brother husband king prince uncle "
            "grandfather grandpa actor waiter hero male monk groom boyfriend widower"
        ),
        _ws("他 男 父 爸 哥 弟 爷 叔 伯 夫 公子 先生 小伙"),
    ),
    "n": (
        _ws(
            "it its robot robots machine android droid cyborg ai creature animal dog cat bird monster drone "
            "beast mech automaton"
        ),
        _ws("它 机器人 机器 机甲 动物 猫 狗 鸟 怪物 怪兽 无人机"),
    ),
}
# Nouns that name a character by what they are ("the girl", "the delivery girl", "the robot").
_KIND_NOUNS = {w for latin, _ in _GENDER_WORDS.values() for w in latin} - set(_PRONOUNS)
# Words that start a value in "make her rain jacket bright red" (besides colour and length words).
_VALUE_WORDS = set(
    _ws(
        "bright dark light pale deep very more less shorter longer curly straight wavy messy neat spiky "
        "shaved glowing shiny matte faded torn clean dirty striped checked plain"
    )
)
_FRAMING_LABEL = {  # framing -> (English, Chinese), for summaries
    "close-up": ("close-up", "特写"), "wide": ("wide shot", "全景"), "medium": ("medium shot", "中景"),
    "establishing": ("establishing shot", "大全景"), "two-shot": ("two-shot", "双人镜头"),
    "insert": ("insert", "插入镜头"),
}  # fmt: skip
_SLOT_ZH = {"jacket": "外套", "hair": "头发", "eyes": "眼睛", "dress": "裙子", "shirt": "上衣", "hat": "帽子"}

# --- numbers ---------------------------------------------------------------------------------

_ZN = "零〇一二两三四五六七八九十百"
_NUM = rf"(?:\d+(?:\.\d+)?|[{_ZN}]+(?:点[{_ZN}]+)?|半)"
_EN_WORDS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
_EN_WORDS += "fifteen sixteen seventeen eighteen nineteen twenty"
_EN_NUMBERS = {w: i for i, w in enumerate(_EN_WORDS.split())} | {"a": 1, "an": 1, "once": 1, "twice": 2}
_EN_NUMBERS |= {"thrice": 3, "half": 0.5, "half a": 0.5, "half an": 0.5}
_EN_NUM = rf"(?:\d+(?:\.\d+)?|half an?|half|an?|{'|'.join(sorted(_EN_WORDS.split(), key=len, reverse=True))})"
_SHOT_WORD = "|".join(sorted(_ws(_EN_WORDS)[1:], key=len, reverse=True))
_ORDINALS = _ws("first second third fourth fifth sixth seventh eighth ninth tenth")
_ZH_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}

_DUR = rf"{_EN_NUM}\s*-?\s*(?:s|secs?|seconds?)\b"  # '1.5s', '2 seconds', 'a second', '3-second'
_ZDUR = rf"{_NUM}\s*(?:秒钟?|s)"  # '3秒', '一点五秒', '半秒'
_N = rf"(?:\d+|[{_ZN}]+)"


def _number(text: str) -> float:
    """'3', '1.5', 'two', 'half a', '十二', '两', '一点五', '半' -> a number."""
    t = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", t):
        return float(t)
    if t in _EN_NUMBERS:
        return float(_EN_NUMBERS[t])
    if t == "半":
        return 0.5
    whole, _, frac = t.partition("点")
    value = float(_zh_int(whole))
    if frac:
        value += float("0." + "".join(str(_ZH_DIGIT.get(c, 0)) for c in frac))
    return value


def _zh_int(text: str) -> int:
    total, digit = 0, 0
    for c in text:
        if c in "十百":
            total += (digit or 1) * (10 if c == "十" else 100)
            digit = 0
        else:
            digit = _ZH_DIGIT.get(c, 0)
    return total + digit


def _seconds(text: str) -> float:
    """'1.5s', 'half a second', '3秒' -> seconds."""
    m = re.match(rf"\d+(?:\.\d+)?|(?:{_EN_NUM})\b|{_NUM}", text.strip())
    return _number(m.group()) if m else 0.0


def _numbers(text: str) -> list[int]:
    return [int(_number(n)) for n in re.findall(rf"\d+|[{_ZN}]+|\b(?:{'|'.join(_EN_WORDS.split())})\b", text)]


# --- normalising: one spelling for every way of naming a shot ---------------------------------

_SPACE_CJK = re.compile(rf"\s+(?=[{CJK}§])|(?<=[{CJK}])\s+")
_SHOT_MARKS = [
    # 'shot 4', 'shots 2 and 3', 'shot #4', 'clip four' -> '§4 ...'; not 'a shot 5 seconds long'
    (
        rf"\b(?:the\s+)?(?:shot|clip)s?\s*(?:number\s*|no\.\s*|#\s*)?(?P<n>(?>\d+)|{_SHOT_WORD})\b"
        r"(?!\s*-?\s*(?:s|secs?|seconds?)\b)",
        None,
    ),
    (r"#\s*(?P<n>\d+)\b", None),
    (
        r"\b(?:the\s+)?(?P<n>\d+)(?:st|nd|rd|th)(?=\s*(?:and|&|,)\s*(?:the\s+)?\d+(?:st|nd|rd|th)\s+shots\b)",
        None,
    ),
    (r"\b(?:the\s+)?(?P<n>\d+)(?:st|nd|rd|th)\s+shots?\b", None),
    (rf"\b(?:the\s+)?(?P<o>{'|'.join(_ORDINALS)})\s+shot\b", None),
    (r"\b(?:the\s+)?(?:last|final)\s+shot\b|最后(?:一个|那个)镜头", "last"),
    # '第4个镜头', '第四个', '第2个和第3个镜头'; never '第2场' (scene) or '第2版' (version)
    (rf"第\s*(?P<n>(?>\d+|[{_ZN}]+))\s*(?:个|号)?\s*(?:镜头|镜)?(?![场版次幕集遍步章节秒分条幅页])", None),
    (rf"(?P<n>(?>\d+|[{_ZN}]+))\s*号镜头", None),
    (rf"镜头\s*(?P<n>(?>\d+|[{_ZN}]+))", None),
    (r"(?<=[、和与,])\s*(?P<n>\d+)\s*个?镜头", None),  # the tail of a list: '§2、3个镜头'
]
_SHOT_RES = [(re.compile(p), special) for p, special in _SHOT_MARKS]


def _normalise(message: str, shots: list[str]) -> str:
    """NFKC (full-width digits and punctuation), lower case, straight quotes, shots as '§N'."""
    text = unicodedata.normalize("NFKC", message).replace("’", "'").replace("‘", "'")
    text = re.sub(r"\s+", " ", text.lower()).strip()
    last = str(int(shots[-1])) if shots else "0"

    def mark(m: re.Match[str], special: str | None) -> str:
        if special == "last":
            return f"§{last}"
        if m.groupdict().get("o"):
            return f"§{_ORDINALS.index(m.group('o')) + 1}"
        return f"§{int(_number(m.group('n')))}"

    for pattern, special in _SHOT_RES:
        text = pattern.sub(lambda m, s=special: mark(m, s), text)
    return text


# --- what went wrong, and the reader that knows the project -----------------------------------


class _Problem(Exception):
    """A command understood but impossible as asked: the answer says why, or asks which.

    `needs_film`: impossible only because nothing exists yet (no shots, no characters).
    """

    def __init__(self, text: str, needs_film: bool = False) -> None:
        super().__init__(text)
        self.needs_film = needs_film


@dataclass(frozen=True)
class _Ref:
    name: str
    kind: str  # 'character' | 'location'
    description: str = ""


@lru_cache(maxsize=1024)
def _words(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[\w'-]+", text.casefold()))


def _contains(hay: str, needle: str) -> bool:
    """Every word of needle is a word of hay (CJK: a substring)."""
    if has_cjk(needle):
        return needle in hay
    words = _words(hay)
    return bool(needle.split()) and all(w in words for w in needle.split())


@lru_cache(maxsize=1024)
def _genders(description: str) -> frozenset[str]:
    words = _words(description)
    return frozenset(
        gender
        for gender, (latin, zh) in _GENDER_WORDS.items()
        if words & set(latin) or any(w in description for w in zh)
    )


def _shot_ranges(ids: list[str]) -> str:
    """['001', '002', '003', '005'] -> '1-3, 5'."""
    nums = sorted(int(i) for i in ids)
    parts: list[str] = []
    start = prev = None
    for n in [*nums, None]:
        if start is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = n
    return ", ".join(parts)


class _Reader:
    """Resolves what a command names (shots, characters, providers) against the situation."""

    def __init__(self, situation: Situation, zh: bool) -> None:
        self.s = situation
        self.zh = zh
        self.message = ""  # the message as written (NFKC), for what case matters in: voice ids
        # Who was named earlier in this message: "make Mei's jacket red and her hair grey".
        self.recent: _Ref | None = None

    def say(self, en: str, zh: str) -> str:
        return zh if self.zh else en

    # shots ---------------------------------------------------------------------------------

    def shot(self, n: str | int) -> str:
        sid = shot_id(int(_number(str(n))))
        if sid not in self.s.shots:
            if not self.s.shots:
                raise _Problem(self.say("There are no shots yet.", "还没有镜头。"), needs_film=True)
            label, ranges = int(sid), _shot_ranges(self.s.shots)
            raise _Problem(
                self.say(
                    f"There is no shot {label}; shots are {ranges}.", f"没有镜头{label}；现有镜头：{ranges}。"
                )
            )
        return sid

    def shot_list(self, text: str) -> list[str]:
        """'§2, 3 and 5', '§2-4', '§2到§4' -> ids; a range takes the shots numbered in between."""
        out: list[str] = []
        for a, b in re.findall(r"(\d+)(?:\s*(?:-|–|to|through|到|至)\s*§?(\d+))?", text):
            if not b:
                out.append(self.shot(a))
                continue
            lo, hi = sorted((int(self.shot(a)), int(self.shot(b))))
            out += [sid for sid in sorted(self.s.shots) if lo <= int(sid) <= hi]
        return list(dict.fromkeys(out))

    def before(self, sid: str) -> str:
        """The shot a new one must follow to come before `sid`."""
        i = self.s.shots.index(sid)
        if i == 0:
            raise _Problem(
                self.say(
                    "A new shot goes after an existing one: say 'after shot N'.",
                    "新镜头只能加在某个镜头之后：请说“在第N个镜头后”。",
                )
            )
        return self.s.shots[i - 1]

    def scenes(self, scope: str) -> list[int] | None:
        nums = _numbers(scope)
        if not nums:
            return None
        for n in nums:
            if n < 1 or (self.s.scenes and n > self.s.scenes):
                raise _Problem(
                    self.say(
                        f"There is no scene {n}; scenes are 1-{self.s.scenes}.",
                        f"没有第{n}场；共有{self.s.scenes}场。",
                    )
                )
        return sorted(set(nums))

    # providers -----------------------------------------------------------------------------

    def provider(self, word: str) -> str:
        known = list(self.s.providers) or list(PROVIDERS)
        w = word.strip().casefold()
        name = _BRANDS.get(w) or w
        if name not in PROVIDERS:
            base = re.sub(r"[-\s.]?\d[\d.]*$", "", name)  # 'veo3', 'kling-2.1'
            name = _BRANDS.get(base) or base
        if name not in known:
            raise _Problem(
                self.say(
                    f"I don't know the provider '{word}'; providers: {', '.join(known)}.",
                    f"没有“{word}”这个渲染服务；可用的有：{', '.join(known)}。",
                )
            )
        return name

    # characters and locations --------------------------------------------------------------

    def refs(self) -> list[_Ref]:
        return [_Ref(c.name, "character", c.description) for c in self.s.characters] + [
            _Ref(loc, "location") for loc in self.s.locations
        ]

    def which(self, candidates: list[_Ref]) -> _Problem:
        names = [c.name for c in candidates]
        if self.zh:
            return _Problem(f"你指的是哪个角色：{'、'.join(names[:-1])}还是{names[-1]}？")
        return _Problem(f"Which one do you mean: {', '.join(names[:-1])} or {names[-1]}?")

    def unknown(self, name: str) -> _Problem:
        names = ", ".join(r.name for r in self.refs()) or self.say("none yet", "暂无")
        return _Problem(
            self.say(
                f"There is no one called '{name}'; the film has: {names}.",
                f"没有叫“{name}”的角色或场景；现有：{names}。",
            ),
            needs_film=not self.refs(),
        )

    def pronoun(self, gender: str | None) -> _Ref:
        """The character named earlier in the message, else the last one talked about, unless their
        description says otherwise; else the only one of that gender; else the only character; else ask."""
        chars = self.refs()[: len(self.s.characters)]
        if not chars:
            raise _Problem(self.say("There are no characters yet.", "还没有角色。"), needs_film=True)
        last = next(
            (
                r
                for r, c in zip(chars, self.s.characters, strict=True)
                if self.s.last_character in (c.id, c.name)
            ),
            None,
        )
        for ref in (self.recent, last):
            if (
                ref
                and ref.kind == "character"
                and (gender is None or gender in _genders(ref.description) or not _genders(ref.description))
            ):
                return ref
        fits = [c for c in chars if gender and gender in _genders(c.description)]
        if len(fits) == 1:
            return fits[0]
        if len(chars) == 1:
            return chars[0]
        raise self.which(fits or chars)

    def resolve(self, phrase: str, loose: bool = True) -> _Ref | None:
        """'Mei's', 'the robot', 'her', '梅', 'the alley' -> who or where; None when it names no one.

        By id or name (any case), then by part of a name ('robot' -> 'GIANT ROBOT'), then, for 'the
        girl'-like phrases, by description; ambiguity asks instead of guessing.
        """
        p = re.sub(r"(?:'s|s'|')$", "", phrase.strip()).removesuffix("的").strip()
        p = re.sub(r"^(?:the|that|this|our|my|your)\s+", "", p).strip()
        if not p or "§" in p:
            return None
        if p in _PRONOUNS:
            return self.pronoun(_PRONOUNS[p])
        refs = self.refs()
        ids = {c.name: c.id.casefold() for c in self.s.characters}
        exact = [r for r in refs if p in (r.name.casefold(), ids.get(r.name))]
        if exact:
            return exact[0]
        partial = [r for r in refs if _contains(r.name.casefold(), p)]
        if len(partial) > 1:
            raise self.which(partial)
        if partial:
            return partial[0]
        if loose and (p.split() or [""])[-1] in _KIND_NOUNS | {
            w for _, zh in _GENDER_WORDS.values() for w in zh
        }:
            described = [r for r in refs if r.kind == "character" and _contains(r.description.casefold(), p)]
            if len(described) > 1:
                raise self.which(described)
            if described:
                return described[0]
        return None

    def split_owner(self, words: list[str], keep: int) -> tuple[_Ref | None, list[str]]:
        """'the robot's eyes blue' -> (ROBOT, ['eyes', 'blue']): the longest leading phrase that names
        someone, leaving at least `keep` words."""
        for n in range(len(words) - keep, 0, -1):
            ref = self.resolve(" ".join(words[:n]))
            if ref:
                return ref, words[n:]
        return None, words

    def split_owner_zh(self, text: str) -> tuple[_Ref | None, str]:
        """'梅的夹克' -> (梅, '夹克'); '她外套' -> (她, '外套')."""
        for i, c in enumerate(text):
            if c == "的" and i and (ref := self.resolve(text[:i])):
                return ref, text[i + 1 :]
        for n in range(len(text) - 1, 0, -1):
            if ref := self.resolve(text[:n], loose=False):
                return ref, text[n:]
        return None, text

    def implied_owner(self, slot: str) -> _Ref:
        """'make the jacket red': the only character who wears one, else as for 'her'."""
        if self.recent and self.recent.kind == "character":
            return self.recent
        wearers = [
            r for r in self.refs() if r.kind == "character" and slot in extract_attributes(r.description)
        ]
        return wearers[0] if len(wearers) == 1 else self.pronoun(None)


# --- handlers: one per command family ---------------------------------------------------------

_Groups = dict[str, str]  # a match's named groups; "" for those that did not take part
_Handler = Callable[[_Reader, _Groups], list[Action] | None]


def _answer(topic: str) -> _Handler:
    def handler(r: _Reader, g: _Groups) -> list[Action]:
        if topic == "help":
            return [Answer(topic="help", text=_help_text(r.zh, understood=True))]
        return [Answer(topic=cast(Literal["status", "cost"], topic))]

    return handler


def _undo(r: _Reader, g: _Groups) -> list[Action]:
    n = g.get("n", "")
    return [Undo(steps=max(1, int(_number(n))) if n and n not in ("that", "it", "this") else 1)]


def _revert(r: _Reader, g: _Groups) -> list[Action]:
    version = int(_number(g["n"]))
    if version > r.s.version:
        raise _Problem(
            r.say(
                f"There is no version {version}; the latest is {r.s.version}.",
                f"没有版本{version}；最新的是版本{r.s.version}。",
            )
        )
    return [Revert(version=version)]


def _render(r: _Reader, g: _Groups) -> list[Action]:
    return [Render()]


def _budget(r: _Reader, g: _Groups) -> list[Action] | None:
    money = g["m"]
    if re.search(r"[¥€£]|元|块|人民币|rmb|yuan|eur|pound", money) and not re.search(r"美元|美金", money):
        raise _Problem(
            r.say("Budgets are in US dollars: say 'budget $5'.", "预算以美元计：请说“预算5美元”。")
        )
    amount = re.search(_NUM, money)
    return [SetBudget(usd=_number(amount.group()))] if amount else None


_LONGER = {"longer", "lengthen", "extend", "add", "长", "延长", "加长", "增加", "加"}


def _trim_by(r: _Reader, g: _Groups) -> list[Action] | None:
    amount = _seconds(g["n"]) if g.get("n") else 1.0
    if amount <= 0:
        return None
    return [Trim(shot=r.shot(g["a"]), by_s=amount if g["dir"] in _LONGER else -amount)]


def _trim_to(r: _Reader, g: _Groups) -> list[Action] | None:
    seconds = _seconds(g["n"])
    return [Trim(shot=r.shot(g["a"]), seconds=seconds)] if seconds > 0 else None


def _retime(r: _Reader, g: _Groups) -> list[Action]:
    seconds = _seconds(g["n"])
    if not 2 <= seconds <= 10:
        raise _Problem(r.say("A shot renders at 2 to 10 seconds.", "镜头渲染时长须在2到10秒之间。"))
    return [Retime(shot=r.shot(g["a"]), duration_s=seconds)]


def _swap(r: _Reader, g: _Groups) -> list[Action] | None:
    a, b = r.shot(g["a"]), r.shot(g["b"])
    return [Swap(shot=a, other=b)] if a != b else None


_Where = Literal["before", "after"]


def _where(word: str) -> _Where:
    return "before" if word in {"before", "in front of", "ahead of"} or "前" in word else "after"


def _move(r: _Reader, g: _Groups) -> list[Action] | None:
    a = r.shot(g["a"])
    where: _Where
    if end := g.get("end"):
        where = "before" if end in {"start", "beginning", "front", "最前", "最前面", "开头"} else "after"
        anchor = r.s.shots[0] if where == "before" else r.s.shots[-1]
    else:
        anchor, where = r.shot(g["b"]), _where(g.get("where", ""))
    return [Move(shot=a, anchor=anchor, where=where)] if a != anchor else None


def _drop(r: _Reader, g: _Groups) -> list[Action]:
    return [Drop(shot=sid) for sid in r.shot_list(g["list"])]


def _subject(r: _Reader, text: str) -> tuple[str | None, str]:
    """'Mei eating' -> ('MEI', 'eating'); 'the noodles' -> (None, 'the noodles')."""
    if has_cjk(text):
        ref, rest = r.split_owner_zh(text) if (ref := r.resolve(text)) is None else (ref, "")
    else:
        ref, words = r.split_owner(text.split(), keep=1) if (ref := r.resolve(text)) is None else (ref, [])
        rest = " ".join(words)
    return (ref.name, rest) if ref and ref.kind == "character" else (None, text)


def _add_shot(r: _Reader, g: _Groups) -> list[Action]:
    word = g.get("framing", "").strip()
    framing = _FRAMINGS_EN.get(word) or _FRAMINGS_ZH.get(word) or "close-up"
    if g.get("a"):
        sid = r.shot(g["a"])
        anchor = r.before(sid) if _where(g.get("where", "")) == "before" else sid
    elif r.s.shots:
        anchor = r.s.shots[-1]
    else:
        raise _Problem(r.say("There are no shots yet.", "还没有镜头。"), needs_film=True)
    subject, action = _subject(r, text) if (text := g.get("subj", "").strip()) else (None, "")
    dur = g.get("dur")
    return [
        AddShot(
            anchor=anchor,
            framing=framing,
            subject=subject,
            action=action,
            duration_s=_seconds(dur) if dur else None,
        )
    ]


_EVERYTHING = re.compile(
    r"(?:everything|all|all shots|all the shots|all of them|every shot|each shot|the whole (?:film|thing|movie|video)"
    r"|the (?:film|movie|video)|the rest|全部|全部镜头|所有镜头|所有的镜头|所有|全片|整部片子?|每个镜头|全部的镜头)"
)
_FRAMING_PART = re.compile(
    rf"(?:the\s+|all\s+(?:the\s+)?|every\s+|所有的?)?(?P<f>{_FRAMING_EN}|{_FRAMING_ZH})(?:e?s)?(?:\s+shots?)?(?:镜头)?"
)


def _targets(r: _Reader, what: str) -> list[tuple[FramingName | None, list[str]]] | None:
    """'the close-ups' / 'shots 2 and 5' / 'everything' / '特写和全景' -> [(framing, shots)]; None: not a target."""
    what = what.strip()
    if not what or _EVERYTHING.fullmatch(what):
        return [(None, [])]
    if re.fullmatch(r"§\d+(?:\s*(?:,\s*and|,|、|and|&|和|与|跟|以及|-|–|to|through|到|至)\s*§?\d+)*", what):
        return [(None, r.shot_list(what))]
    out: list[tuple[FramingName | None, list[str]]] = []
    for part in re.split(r"\s*(?:,\s*and|,|、|\band\b|&|和|与)\s*", what):
        m = _FRAMING_PART.fullmatch(part.strip())
        if not m:
            return None
        f = m.group("f")
        out.append((_FRAMINGS_EN.get(f) or _FRAMINGS_ZH.get(f), []))
    return out


def _route(r: _Reader, g: _Groups) -> list[Action] | None:
    targets = _targets(r, g.get("what", ""))
    if targets is None:
        return None
    if (g.get("known") or not g.get("what")) and g["p"] not in {*PROVIDERS, *_BRANDS}:
        return None  # 'use blue', 'try again', 'a girl on mars': not about providers at all
    provider = r.provider(g["p"])
    return [Route(provider=provider, framing=f, shots=list(shots)) for f, shots in targets]


# An item is a noun or two ('jacket', 'rain jacket', '路灯'), never a clause; a bible command is short.
_ITEM = re.compile(
    rf"(?!.*\b(?:and|then|with|to|give|make|of)\b)[\w'-]+(?: [\w'-]+){{0,2}}|(?:(?![和与及])[{CJK}\w]){{1,8}}"
)
_MAX_WORDS = 14


def _clean_value(value: str) -> str:
    """'a short and grey' -> 'short grey'; 'red and blue' keeps its 'and' (two colours, not one)."""
    value = re.sub(r"^(?:an?|some)\s+|\s+(?:instead|now|again|too)$", "", value.strip())

    def join(m: re.Match[str]) -> str:
        same = set(value_facets("hair", m.group(1))) & set(value_facets("hair", m.group(2)))
        return m.group() if same else f"{m.group(1)} {m.group(2)}"

    return re.sub(r"(\S+)\s+and\s+(\S+)", join, value).removesuffix("的").strip(" .")


def _slot(item: str, value: str) -> str | None:
    """The bible slot an item is ('coat' -> 'jacket', '头发' -> 'hair'); None when it is none of them."""
    tries = (
        [f"{value}{item}"] if has_cjk(item) else [f"{value} {item}", f"{value} {item}s"]
    )  # 'eye' -> 'eyes'
    for joined in tries:
        slots = [
            k for k in extract_attributes(joined) if k not in {"age", "build", "weather"} and ":" not in k
        ]
        if len(slots) == 1:
            return slots[0]
    return None


@lru_cache(maxsize=4096)
def _valueish(word: str) -> bool:
    return word in _VALUE_WORDS or bool(value_facets("hair", word))


def _change(r: _Reader, owner: _Ref | None, item: str, value: str, scope: str) -> list[Action] | None:
    item, value = re.sub(r"^(?:the|a|an)\s+", "", item.strip()), _clean_value(value)
    if not item or not value or "§" in item + value or not _ITEM.fullmatch(item):
        return None
    slot = _slot(item, value)
    if owner is None:
        if unknown := re.match(r"(?:the\s+)?([\w-]+)'s?\s", item):
            raise r.unknown(unknown.group(1))  # "make bob's jacket red"
        if slot is None:
            return None  # 'make the weather nice': no one owns an unknown item
        owner = r.implied_owner(slot)
    r.recent = owner
    return [ChangeBible(target=owner.name, item=slot or item, value=value, scenes=r.scenes(scope))]


def _bible_make(r: _Reader, g: _Groups) -> list[Action] | None:
    """'make her jacket red', 'make the alley lamp green', 'make her rain jacket bright red'; with no
    verb ('... and her hair grey') only for a named owner and a value of colour and length words."""
    words = g["x"].split()
    if len(words) > _MAX_WORDS:
        return None
    owner, rest = r.split_owner(words, keep=2)
    if len(rest) < 2 or (g.get("strict") and owner is None):
        return None
    j = next((j for j in range(1, len(rest)) if _valueish(rest[j])), len(rest) - 1)
    if g.get("strict") and not all(_valueish(w) or w == "and" for w in rest[j:]):
        return None
    return _change(r, owner, " ".join(rest[:j]), " ".join(rest[j:]), g.get("scope", ""))


def _bible_set(r: _Reader, g: _Groups) -> list[Action] | None:
    """'change Mei's jacket to red', "Mei's hair should be short and grey" (an owner must be named)."""
    x = re.sub(r"^(?:the\s+)?colou?r\s+of\s+", "", g["x"])
    if len(x.split()) > _MAX_WORDS:
        return None
    owner, rest = r.split_owner(x.split(), keep=1)
    if owner is None and g.get("strict"):
        return None
    return _change(r, owner, " ".join(rest), g["value"], g.get("scope", ""))


def _bible_give(r: _Reader, g: _Groups) -> list[Action] | None:
    """'give the robot blue eyes', 'give her a red jacket'; 'put Mei in a red jacket', 'the robot should
    have blue eyes' (x: who, what: the rest)."""
    words = g["x"].split()
    if len(words) > _MAX_WORDS:
        return None
    if g.get("what"):
        owner, rest = r.resolve(g["x"]), g["what"].split()
    else:
        owner, rest = r.split_owner(words, keep=1)
    if owner is None or not rest:
        return None
    said = " ".join(rest)
    rest = [w for w in rest if w not in {"a", "an", "some", "the"}]
    j = next((j for j in range(len(rest)) if not _valueish(rest[j])), len(rest))
    if j == 0:
        j = len(rest) - 1
    value, item = " ".join(rest[:j]), " ".join(rest[j:])
    return _change(r, owner, item, value or said, g.get("scope", ""))


def _bible_zh(r: _Reader, g: _Groups) -> list[Action] | None:
    """'把梅的夹克改成红色', '梅的头发换成白色', '她的外套要蓝色'."""
    owner, item = r.split_owner_zh(g["x"])
    if owner is None and g.get("strict"):
        return None
    return _change(r, owner, item, g["value"], g.get("scope", ""))


def _bible_give_zh(r: _Reader, g: _Groups) -> list[Action] | None:
    """'给机器人换上蓝色的眼睛', '给她换一件红色夹克'."""
    owner = r.resolve(g["x"])
    rest = re.sub(r"^(?:一|两)?[件条顶双副只个对]", "", g["value"])
    m = re.fullmatch(r"(?P<v>.+?)的(?P<i>[^的]+)|(?P<v2>.*?色)(?P<i2>.+)", rest)
    if owner is None or not m:
        return None
    return _change(r, owner, m.group("i") or m.group("i2"), m.group("v") or m.group("v2"), g.get("scope", ""))


# --- the finish: transitions, sound, subtitles, reframes, voices -------------------------------

_EN_NUMBER_WORDS = "|".join(sorted(_EN_WORDS.split(), key=len, reverse=True))
_SCENE_N = rf"(?:\d+|{_EN_NUMBER_WORDS})\b"
_SCENE_REF = rf"(?:scene\s*{_SCENE_N}|(?:the\s+)?(?:{'|'.join(_ORDINALS)}|last|final)\s+scene\b)"
_INTO = (
    r"(?:into|in to|to|before|ahead of|at the (?:start|beginning|top|head|opening) of|at|on|for|going into"
    r"|leading into|entering)"
)
_ALL_SCENES_EN = (
    r"(?:between|at|on|for|across|in|with)\s+(?:all\s+|each\s+|every\s+)?(?:of\s+)?(?:the\s+)?"
    r"(?:scenes?|scene\s+(?:changes?|cuts?|breaks?|transitions?)|changes?\s+of\s+scene)"
    r"|everywhere|throughout(?:\s+the\s+(?:film|movie|video))?"
)
_ZSC = rf"(?:第\s*{_N}\s*场(?:戏)?|场景\s*{_N})"
_ALL_SCENES_ZH = (
    r"(?:所有|每个|每一?|各)?(?:场景|场次|场戏|场)(?:(?:与|和|跟)(?:场景|场次|场))?(?:之间|中间|间)"
    r"|(?:每次|所有的?)?(?:换场|转场|场景切换|场景转换)(?:时|的时候|处)?|全片|整部片子?"
)
_ALL_SCENES = re.compile(rf"{_ALL_SCENES_EN}|{_ALL_SCENES_ZH}")
_PLACE_EN = (
    rf"{_INTO}\s+(?:the\s+)?(?:{_SCENE_REF}|§\d+)"
    rf"|between\s+(?:scenes\s*{_SCENE_N}|{_SCENE_REF})\s*(?:and|&|,)\s*(?:scene\s*)?{_SCENE_N}"
    rf"|from\s+{_SCENE_REF}\s+(?:in)?to\s+(?:scene\s*)?{_SCENE_N}"
    rf"|between\s+§\d+\s*(?:and|&|,)\s*§?\d+|from\s+§\d+\s+(?:in)?to\s+§?\d+"
    rf"|{_ALL_SCENES_EN}"
)
_PLACE_ZH = (
    rf"(?:转到|进入|切到|切入|转入|进|到)?{_ZSC}(?:(?:和|与|跟|到|、)(?:第\s*)?{_N}\s*场(?:戏)?(?:之间|中间)?)?"
    r"(?:时|的时候|之前|前|开头|开始时|开场)?"
    r"|(?:转到|进入|切到|切入|转入|进|到)?§\d+(?:(?:和|与|跟|到|、)§?\d+(?:之间|中间)?)?(?:时|的时候|之前|前|开头)?"
    rf"|{_ALL_SCENES_ZH}"
)
_XFADE_EN = r"cross[- ]?fades?|cross[- ]?dissolves?|dissolves?|fades?"
_DIP_EN = (
    r"(?:dips?|fades?)(?:\s+(?:out\s+)?(?:to|through|via|thru)\s+black)?|black\s+(?:dips?|fades?|frames?)"
    r"|fade out and (?:back )?in"
)
_CUT_EN = (
    r"(?:straight|hard|direct|plain|simple|clean)\s+cuts?|cuts?(?:\s+(?:straight|directly|right|hard))?"
    r"|no\s+(?:transitions?|cross[- ]?fades?|dissolves?|fades?|dips?)|just\s+(?:a\s+)?cuts?"
    r"|without\s+(?:a\s+|any\s+)?transitions?"
)
_STYLE_EN = rf"(?:{_DIP_EN}|{_XFADE_EN}|{_CUT_EN})"
_XFADE_ZH = r"叠化|交叉淡化|交叉溶解|交叉渐变|溶解|叠画|渐变|淡化"
_DIP_ZH = r"淡入淡出|淡出淡入|黑场过渡|黑场|过黑场?|闪黑|渐黑|黑屏过渡|黑屏|淡出到黑"
_CUT_ZH = (
    r"直接切换?|直接剪接|硬切|直切|不要转场(?:效果)?|不用转场|不加转场|无转场|不要过渡|不要叠化|不要淡入淡出"
)
_STYLE_ZH = rf"(?:{_CUT_ZH}|{_DIP_ZH}|{_XFADE_ZH})"
_TRANSITION_S = (0.1, 3.0)

_MUSIC_EN = r"(?:the\s+)?(?:background\s+)?(?:music(?:\s+bed)?|soundtrack|score|bgm)"
_DB = r"[-+−]?\s*\d+(?:\.\d+)?\s*(?:db|decibels?)\b"
_AMT = r"(?:a\s+)?(?:bit|little|touch|tad|notch|lot)|much|way|slightly|far|lots"
_UP = {
    "louder",
    "higher",
    "up",
    "raise",
    "boost",
    "lift",
    "increase",
    "pump",
    "crank",
    "大声",
    "大",
    "响",
    "高",
}
_UP |= {"提高", "调高", "调大", "开大", "加大", "增加", "提升", "加"}
_MUSIC_ZH = r"(?:背景音乐|背景乐|配乐|音乐|bgm)"
_ZUP = r"大声|大|响|高|提高|调高|调大|开大|加大|增加|提升|加"
_ZDOWN = r"小声|小|轻|低|弱|降低|调低|调小|关小|减小|减少|压低|减"
_STD_EN = (
    r"broadcast|tv|television|ebu(?:\s*r\s*\.?\s*128)?|r\s*\.?\s*128|online|streaming|web|internet|youtube"
    r"|spotify|social(?:\s+media)?|podcasts?"
)
_LUFS = r"[-+−]?\s*\d+(?:\.\d+)?"
_SUBS = r"(?:the\s+)?(?:subtitles?|subs|captions?|srt)"
_PICTURE = r"(?:the\s+)?(?:picture|video|image|frames?|film|screen)"
_VERTICAL = r"vertical|portrait|9\s*[:x/]\s*16"
_SQUARE = r"square|1\s*[:x/]\s*1"
_RATIOS_EN = (
    rf"(?:{_VERTICAL}|{_SQUARE})(?:\s*(?:and|&|,|plus|\+|or)\s*(?:an?\s+)?(?:{_VERTICAL}|{_SQUARE}))*"
)
_VERSION = r"(?:versions?|cuts?|edits?|copy|copies|editions?|formats?|exports?|renders?|deliverables?|one)"
_PLATFORM = (
    r"(?:\s+(?:for|on)\s+(?:tiktok|douyin|kuaishou|instagram(?:\s+(?:reels|feed|stories))?|reels|"
    r"(?:youtube\s+)?shorts|stories|social(?:\s+media)?|mobile|phones?|the\s+feed|wechat|xiaohongshu|snapchat"
    r"|facebook|twitter|x))?"
)
_VERTICAL_ZH = r"竖屏|竖幅|竖向|9:16|9比16|竖"
_SQUARE_ZH = r"正方形|方形|方屏|1:1|1比1|方"
_RATIOS_ZH = rf"(?:{_VERTICAL_ZH}|{_SQUARE_ZH})(?:(?:和|与|跟|、|及|以及|加)(?:{_VERTICAL_ZH}|{_SQUARE_ZH}))*"
_ZVOICE = r"(?:声音|嗓音|声线|音色|配音|嗓子)"
_ZVOICE_KIND = r"女声|男声|童声|老人声|少女音|少年音|御姐音|大叔音|萝莉音|正太音|娃娃音|低音|高音|烟嗓"
# Words that describe a voice; a single other word ('nova', 'shimmer') is taken for a voice id.
_VOICE_WORDS = set(
    _ws(
        "deep high low old young soft warm cold bright dark rough smooth gentle calm husky raspy gravelly "
        "breathy nasal robotic mechanical metallic childlike boyish girlish mature elderly teenage male female "
        "masculine feminine sweet harsh loud quiet slow fast cheerful serious menacing sinister friendly tired "
        "energetic british american australian accent different new other another kind stern strong weak thin "
        "thick rich light heavy crisp clear lively playful sad happy angry excited whispery whisper croaky "
        "squeaky booming resonant silky velvety airy posh"
    )
)


def _voice_word(word: str) -> bool:
    """'deeper' (deep), 'gentler' (gentle), 'huskier' (husky), 'older' ... describe a voice."""
    stems = {word, word.removesuffix("er"), word.removesuffix("r"), word.removesuffix("ier") + "y"}
    return bool(stems & _VOICE_WORDS)


def _style(word: str) -> Literal["cut", "crossfade", "dip"]:
    """The transition a phrase names: 'no transition', 'straight cut', '直接切' are cuts."""
    if re.search(r"\bno\b|without|\bcuts?\b|不要|不用|不加|无|直接|硬切|直切", word):
        return "cut"
    if re.search(r"black|\bdips?\b|out and|黑|淡入淡出|淡出", word):
        return "dip"
    return "crossfade"


def _transition_place(r: _Reader, where: str) -> tuple[str | None, int | None]:
    """Where a transition goes: (shot, None), (None, scene) or (None, None) for every scene change."""
    if "§" in where:
        ids = [r.shot(n) for n in re.findall(r"\d+", where)]
        if len(ids) == 1:
            return ids[0], None
        a, b = sorted(ids[:2], key=r.s.shots.index)
        if r.s.shots.index(b) - r.s.shots.index(a) != 1:
            raise _Problem(
                r.say(
                    f"Shots {int(a)} and {int(b)} are not next to each other in the cut.",
                    f"镜头{int(a)}和镜头{int(b)}在剪辑里并不相邻。",
                )
            )
        return b, None
    if _ALL_SCENES.fullmatch(where):
        return None, None
    if m := re.search(rf"\b({'|'.join(_ORDINALS)}|last|final)\s+scene", where):
        word = m.group(1)
        if word in {"last", "final"}:
            if not r.s.scenes:
                raise _Problem(r.say("There are no scenes yet.", "还没有场景。"), needs_film=True)
            return None, r.s.scenes
        scenes = r.scenes(str(_ORDINALS.index(word) + 1))
    else:
        scenes = r.scenes(where)
    if not scenes:
        return None, None
    return None, max(scenes)


def _transition(r: _Reader, g: _Groups) -> list[Action] | None:
    style = _style(g["style"])
    said = g.get("n") or g.get("n2") or g.get("n3")
    where = g.get("where", "").strip()
    if not where:
        if style == "cut":
            return None  # 'cut' alone is no command
        raise _Problem(
            r.say(
                "Where? Say 'crossfade into scene 2', 'crossfade between scenes' or 'crossfade into shot 5'.",
                "加在哪里？例如“第2场用叠化转场”、“场景之间叠化”或“镜头5用叠化”。",
            )
        )
    seconds = _seconds(said) if said and style != "cut" else None
    lo, hi = _TRANSITION_S
    if seconds is not None and not lo <= seconds <= hi:
        raise _Problem(
            r.say(f"A transition lasts {lo:g} to {hi:g} seconds.", f"转场时长须在{lo:g}到{hi:g}秒之间。")
        )
    shot, scene = _transition_place(r, where)
    return [SetTransition(style=style, seconds=seconds, shot=shot, scene=scene)]


def _db(text: str) -> float:
    """'+3 db', '-12 dB', '三分贝' -> a number (signed as written)."""
    m = re.search(rf"([-+−])?\s*(\d+(?:\.\d+)?|[{_ZN}]+(?:点[{_ZN}]+)?)", text)
    if not m:
        return 0.0
    value = _number(m.group(2))
    return -value if m.group(1) in {"-", "−"} else value


def _music(r: _Reader, g: _Groups) -> list[Action] | None:
    if g.get("off"):
        return [SetSound(music_off=True)]
    if said := g.get("abs"):
        level = _db(said)
        if re.search(r"under|below|lower than|quieter than", g.get("rel", "")):
            level = -abs(level)
        if not -40 <= level <= 12:
            raise _Problem(
                r.say(
                    "The music level goes from -40 to +12 dB against the dialogue.",
                    "音乐音量须在-40到+12分贝之间（相对对白）。",
                )
            )
        return [SetSound(music_db=level)]
    amt = g.get("amt", "")
    if said := g.get("db"):
        amount = abs(_db(said))
    elif re.search(r"much|lot|way|far|lots|很多|得多|多", amt):
        amount = 6.0
    elif re.search(r"bit|little|touch|tad|notch|slightly|一点点|稍", amt + g.get("soft", "")):
        amount = 1.5
    else:
        amount = 3.0
    if not 0 < amount <= 40:
        return None
    up = g["dir"] in _UP
    return [SetSound(music_by_db=amount if up else -amount)]


def _loudness(r: _Reader, g: _Groups) -> list[Action] | None:
    if said := g.get("lufs"):
        value = -abs(_db(said))  # loudness is below full scale whichever way it is written
        if not -36 <= value <= -8:
            raise _Problem(
                r.say("Loudness targets go from -36 to -8 LUFS.", "响度目标须在-36到-8 LUFS之间。")
            )
        return [SetSound(target_lufs=value)]
    std = g.get("std", "")
    if re.search(r"broadcast|tv|television|ebu|r\s*\.?\s*128|广播|电视", std):
        return [SetSound(target_lufs=BROADCAST_LUFS)]
    if re.search(r"podcast", std):
        return [SetSound(target_lufs=-16.0)]
    return [SetSound(target_lufs=ONLINE_LUFS)]


def _voices(on: bool) -> _Handler:
    def handler(r: _Reader, g: _Groups) -> list[Action]:
        return [SetSound(voices=on)]

    return handler


def _subtitles(burn: bool) -> _Handler:
    def handler(r: _Reader, g: _Groups) -> list[Action]:
        return [SetSubtitles(burn=burn)]

    return handler


def _reframe(r: _Reader, g: _Groups) -> list[Action] | None:
    said = g.get("ratios", "")
    ratios: list[Literal["9:16", "1:1"]] = []
    for part in re.findall(rf"{_VERTICAL}|{_SQUARE}|{_VERTICAL_ZH}|{_SQUARE_ZH}", said):
        ratio: Literal["9:16", "1:1"] = "9:16" if re.search(r"vertical|portrait|9|竖", part) else "1:1"
        if ratio not in ratios:
            ratios.append(ratio)
    if g.get("every"):
        ratios = ["9:16", "1:1"]
    return [Reframe(ratios=ratios, remove=bool(g.get("remove")))] if ratios else None


def _music_file(r: _Reader, g: _Groups) -> list[Action]:
    """Music comes only as a file the person attaches: a path in the text is never opened."""
    return [
        Answer(
            topic="help",
            text=r.say(
                "To use your own music, attach an audio file to your message; I never open a file named in "
                "the text. Then say 'louder music' or 'quieter music' to set its level.",
                "要用你自己的音乐，请把音频文件作为附件发过来；我不会打开消息里写的文件路径。之后可以说“音乐大声点”或“音乐小一点”。",
            ),
        )
    ]


def _vague_louder(r: _Reader, g: _Groups) -> list[Action]:
    raise _Problem(
        r.say(
            "Louder what? Say 'louder music', 'quieter music', 'turn the voices back on' or 'online loudness'.",
            "哪个声音？可以说“音乐大声点”、“音乐小一点”、“恢复对白”或“响度用网络标准”。",
        )
    )


def _clean_hint(hint: str) -> str:
    """'a bit deeper' -> 'deeper'; "a woman's" -> "woman's voice"; '更低沉一点' -> '更低沉'."""
    h = re.sub(r"^(?:an?|the|some)\s+", "", hint.strip(" '\"")).strip()
    h = re.sub(r"^(?:a\s+)?(?:bit|little|touch|tad|slightly)\s+", "", h)
    h = re.sub(r"\s+(?:voice|one)$", "", h).strip()
    h = re.sub(r"(?:一点|一些|些|点|的)+$", "", h).strip()
    if h in {"new", "different", "another", "other", "不同", "新"}:
        return "不同" if has_cjk(hint) else "different"
    return f"{h} voice" if h.endswith("'s") else h


def _voice(r: _Reader, g: _Groups) -> list[Action] | None:
    who = g["who"].strip()
    if not g.get("explicit") and re.fullmatch(r"(?:it|this|that|they|them|everything|everyone|all)", who):
        return None  # 'make it sound better' is not about a character's voice
    ref = r.resolve(who)
    if ref is None or ref.kind != "character":
        if g.get("explicit"):
            raise r.unknown(re.sub(r"(?:'s|s'|')$", "", who).removeprefix("the ").removesuffix("的"))
        return None
    r.recent = ref
    voice, hint = g.get("voice") or None, g.get("hint") or None
    if said := g.get("x", "").strip(" '\""):
        named = re.fullmatch(r"(?:the\s+)?voice\s+(?:id\s+)?['\"]?([\w.:-]+)['\"]?", said)
        if named:
            voice = named.group(1)
        elif re.fullmatch(r"[a-z0-9][\w.:-]*", said) and not _voice_word(said):
            voice = said
        else:
            hint = said
    if voice:
        if not VOICE_ID.fullmatch(voice):
            return None
        original = re.search(re.escape(voice), r.message, re.IGNORECASE)  # ids are case-sensitive
        voice = original.group() if original else voice
        return [SetVoice(character=ref.name, voice=voice)]
    hint = _clean_hint(hint or r.say("different", "不同"))
    if not hint or len(hint) > MAX_HINT:
        return None
    return [SetVoice(character=ref.name, hint=hint)]


# --- the table --------------------------------------------------------------------------------
# Shots arrive as '§N' (see _normalise). Each family: English patterns, then Chinese, one handler.

_A = r"§(?P<a>\d+)"  # the shot a command is about
_B = r"§?(?P<b>\d+)"  # the other one: 'swap 2 and 3' may leave it bare
_TO_RANGE = r"(?:\s*(?:-|–|to|through|到|至)\s*§?\d+)?"
_LIST = rf"§?\d+{_TO_RANGE}(?:\s*(?:,\s*and|,|、|and|&|和|与|跟|以及)\s*§?\d+{_TO_RANGE})*"
_WHERE_ZH = r"(?P<where>后面|后边|之后|后|前面|前边|之前|前)"
_SCOPE = (  # 'everywhere', 'in scene 2', 'in scenes 2 and 3 only'
    r"\s+(?:everywhere|throughout|always|in (?:every|all|each) scenes?|in all (?:the )?scenes|from now on"
    r"|(?:for|in) the (?:whole|entire) (?:film|movie|video)|(?:only )?in scenes?\s+[\w\s,&]+?(?: only)?)"
)
_ZSCOPE = (  # '在第2场', '第2、3场里', '全片'
    rf"(?:在)?(?:第{_N}(?:[、和,]{_N})*场(?:戏)?|场景{_N}(?:[、和,]{_N})*|所有场景|全部场景|每一?场戏?|全片"
    r"|整部片子?|到处)(?:里面|里|中|的)?(?:都)?"
)
_ZH_TO = r"(?:改成|换成|变成|染成|改为|换为|变为|设为|设成|弄成|涂成|刷成|调成|做成)"
_P = r"(?P<p>[a-z][\w.-]*)"
_PZ = rf"(?P<p>{_ZH_BRAND}|[a-z][\w.-]*)"
_USD = r"(?:usd|dollars?|bucks|\$)"
_MONEY = rf"(?:\$|us\$|¥|€)?\s*{_NUM}\s*(?:{_USD}|eur(?:os?)?|€|rmb|yuan|美元|美金|刀|块钱|块|元|人民币)?"
_THIS = r"(?:it|that|this)"


@dataclass(frozen=True)
class _Rule:
    family: str
    handler: _Handler
    patterns: tuple[re.Pattern[str], ...]
    extra: tuple[tuple[str, str], ...] = ()  # constant groups passed to the handler


def _rule(family: str, handler: _Handler, *patterns: str, **extra: str) -> _Rule:
    return _Rule(family, handler, tuple(re.compile(p) for p in patterns), tuple(extra.items()))


# First match wins: questions and history before edits, the free-form bible phrasings last.
_RULES: tuple[_Rule, ...] = (
    _rule(
        "help", _answer("help"),
        r"help|commands|what can you do|what do you understand|what can i say|how does (?:this|it) work"
        r"|how do i use (?:this|it)|usage|options|menu",
        r"帮助|帮帮我|怎么用|如何使用|你能做什么|能做什么|命令|有哪些命令|说明|用法",
    ),
    _rule(
        "status", _answer("status"),
        r"status|state|progress|where are we|what(?:'s| is) the (?:status|progress)|how(?:'s| is) it going"
        r"|what(?:'s| is) happening|show (?:me )?(?:the )?status|report",
        r"状态|进度|进展|进展如何|现在怎么样|怎么样了|到哪了|现在什么状态|情况如何",
    ),
    _rule(
        "cost", _answer("cost"),
        rf"(?:so )?what (?:did|does|will) {_THIS} cost|how much(?: did (?:it|that|this|we) (?:cost|spend)"
        rf"| (?:does|will) {_THIS} cost| have (?:we|i) spent| so far| is it| was it| money)?"
        r"|cost|costs|the cost|spend|spent|spending|price|what(?:'s| is) the (?:cost|damage|bill)"
        r"|how expensive(?: is it)?|(?:cost )?estimate",
        r"花了多少钱?|多少钱|费用|费用多少|成本|花费|花了多少|用了多少钱|要花多少钱?|还剩多少钱?|预算还剩多少",
    ),
    _rule(
        "undo", _undo,
        r"undo(?:\s+(?P<n>that|it|this|once|twice|thrice|\d+|two|three|four|five))?"
        r"(?:\s+(?:times|steps?|changes?|edits?))?",
        r"undo (?:the )?last (?:(?P<n>\d+|two|three|four|five) )?(?:changes?|edits?|steps?|one)",
        r"(?:go |step )?back (?:one step|a step)|take (?:that|it) back|revert (?:that|it|the last change)",
        r"(?:撤销|撤回|撤消|回退|后退)(?:上一步|刚才的?修改|上次的?修改)?(?:(?P<n>\d+|[两二三四五六七八九十])\s*(?:步|次))?",
        r"返回上一步|上一步",
    ),
    _rule(
        "revert", _revert,
        r"(?:go back|revert|roll back|rollback|return|restore|switch back|jump back|reset|back)(?:\s+to)?\s+"
        r"(?:version|ver\.?|v)\s*#?(?P<n>\d+)",
        rf"(?:回到|回退到|退回到?|恢复到?|返回到?|还原到?|回滚到?|切回到?)(?:版本\s*|v|第)(?P<n>{_N})\s*(?:版|个版本)?",
    ),
    _rule(
        "render", _render,
        r"(?:render|re-?render|go|go ahead|make it|do it|approve|approved|i approve|start|start rendering|shoot"
        r"|shoot it|proceed|let's go|run it|action|roll|roll camera|generate|make the (?:film|movie|video)"
        r"|render (?:it|the (?:film|movie|video|changes)|everything|all|now|again))(?: now| again)?",
        r"渲染|开始|开始渲染|开拍|开工|生成|开始生成|出片|制作|开始制作|确认|批准|同意|就这样|可以开始|重新渲染"
        r"|渲染视频|生成视频|做吧|开始吧",
    ),
    _rule(
        "budget", _budget,
        r"(?:(?:set|change|raise|lower|make) )?(?:(?:the|my|a|our) )?(?:max(?:imum)? )?budget"
        rf"(?:\s+(?:to|is|of|at|=|limit(?: to)?))?\s*:?\s*(?P<m>{_MONEY})",
        rf"(?P<m>(?:\$|us\$)\s*{_NUM}|{_NUM}\s*{_USD})\s+budget",
        r"(?:spend|keep it|stay|cap it)\s+(?:at most|no more than|under|below|max|up to|within|at)\s+"
        rf"(?P<m>\$?\s*{_NUM}\s*{_USD}?)",
        rf"(?:把)?预算(?:改成|改为|设为|设成|设置为|设置成|定为|定在|调到|调成|是|为|:)?\s*(?P<m>{_MONEY})",
        rf"(?:最多只?花|不超过|不要超过|花费不超过|最多)\s*(?P<m>\$?\s*{_NUM}\s*(?:美元|美金|刀|usd|\$))",
    ),
    _rule(
        "trim by", _trim_by,
        rf"(?:make\s+)?{_A}\s+(?:(?P<n>{_DUR})\s+|(?:a\s+)?(?:bit|little|touch|tad)\s+|much\s+)?"
        rf"(?P<dir>shorter|longer)(?:\s+by\s+(?P<n2>{_DUR}))?",
        rf"(?P<dir>shorten|trim|tighten|lengthen|extend)\s+{_A}(?:\s+by\s+(?P<n>{_DUR}))?",
        rf"(?P<dir>cut|shave)\s+{_A}\s+(?:down\s+)?by\s+(?P<n>{_DUR})",
        rf"(?P<dir>cut|trim|take|shave|remove|lose|add)\s+(?P<n>{_DUR})\s+(?:off\s+of|off|from|out of|to|onto)\s+{_A}",
        rf"把?{_A}(?:再)?(?P<dir>短|长)(?:一点|一些|点|些)?",
        rf"把?{_A}(?:再)?(?P<dir>缩短|剪短|延长|加长)(?:(?P<n>{_ZDUR})|一点|一些)?",
        rf"把?{_A}(?:再)?(?P<dir>减少|减掉|减|剪掉|去掉|增加|加)(?P<n>{_ZDUR})",
    ),
    _rule(
        "trim to", _trim_to,
        rf"(?:(?:make|set|trim|cut|change|shorten|lengthen|extend)\s+)?{_A}\s+"
        rf"(?:(?:down |up )?to\s+|at\s+|=\s*|last\s+|(?:should|must|needs to) be\s+|to be\s+)?(?P<n>{_DUR})(?:\s+long)?",
        rf"把?{_A}(?:的?时长|的?长度)?(?:改成|改为|设为|设成|变成|调成|调到|改到|剪到|剪成|缩短到|缩短为|缩到"
        rf"|延长到|延长为|定为|为)?(?P<n>{_ZDUR})(?:长)?",
    ),
    _rule(
        "retime", _retime,
        rf"re-?render\s+{_A}\s+(?:at|to|as|with|for)\s+(?P<n>{_DUR})",
        rf"把?{_A}重新(?:渲染|生成)(?:成|为)?(?P<n>{_ZDUR})",
    ),
    _rule(
        "swap", _swap,
        rf"(?:swap|switch|exchange|flip|trade)\s+(?:§|shot\s*)?(?P<a>\d+)\s*(?:and|with|&|,|<->)\s*{_B}(?:\s+around)?",
        rf"(?:交换|调换|对调|互换){_A}(?:和|与|跟|、){_B}(?:个?镜头)?(?:的位置)?",
        rf"把?{_A}(?:和|与|跟|、){_B}(?:个?镜头)?(?:对调|交换|互换|调换)(?:位置)?",
    ),
    _rule(
        "move", _move,
        r"(?:move|put|place|bring|shift)\s+§?(?P<a>\d+)\s+(?:to\s+)?(?:right\s+|just\s+|directly\s+)?"
        rf"(?P<where>before|after|behind|in front of|ahead of)\s+{_B}",
        r"(?:move|put|place|bring|shift)\s+§?(?P<a>\d+)\s+(?:to|at)\s+the\s+(?P<end>end|start|beginning|front|back)",
        rf"把?{_A}(?:移到|放到|挪到|移动到|调到|放在|移至|插到|搬到){_B}(?:的)?{_WHERE_ZH}",
        rf"把?{_A}(?:移到|放到|挪到|移动到|调到|放在|移至)(?P<end>最后|最前面|最前|开头|结尾|末尾)",
    ),
    _rule(
        "drop", _drop,
        rf"(?:delete|remove|drop|cut|lose|kill|scrap|ditch|get rid of|take out|cut out)\s+(?P<list>{_LIST})"
        r"(?:\s+(?:from|out of)\s+the\s+(?:cut|film|edit|movie|video))?",
        rf"(?:删掉|删除|去掉|删|去除|拿掉|剪掉|砍掉|不要)(?P<list>{_LIST})",
        rf"把(?P<list>{_LIST})(?:删掉|删除|去掉|删|去除|拿掉|剪掉|砍掉)",
    ),
    _rule(
        "add shot", _add_shot,
        rf"(?:add|insert|put in|include)\s+(?:(?:a|an|one|another|a new|new)\s+)?(?:(?P<dur>{_DUR})\s+)?"
        rf"(?:(?P<framing>{_FRAMING_EN})(?:\s+shot)?|shot)(?:\s+(?:of|on|showing|with)\s+(?P<subj>.+?))?"
        r"(?:\s+(?P<where>after|before|behind)\s+§?(?P<a>\d+)|\s+(?:at|to) the end)?",
        rf"(?:在)?{_A}{_WHERE_ZH}(?:再)?(?:加|添加|插入|增加|补|补充|加上)(?:一个|一|个)?"
        rf"(?:(?P<subj>.+?)的)?(?P<framing>{_FRAMING_ZH}|镜头)(?:镜头)?",
        rf"(?:加|添加|插入|增加|补)(?:一个|一|个)?(?:(?P<subj>.+?)的)?(?P<framing>{_FRAMING_ZH}|镜头)(?:镜头)?"
        rf"(?:在|到|放在)?(?:{_A}{_WHERE_ZH}|最后)?",
    ),
    _rule(
        "transition", _transition,
        rf"(?:(?:use|add|put|insert|do|have|want|give (?:it|me))\s+)?(?:(?:a|an|some|the)\s+)?(?:(?P<n>{_DUR})\s+)?"
        rf"(?P<style>{_STYLE_EN})(?:\s+(?:transitions?|effects?))?(?:\s+(?:of|lasting)\s+(?P<n2>{_DUR}))?"
        rf"(?:\s+(?P<where>{_PLACE_EN}))?(?:\s*,?\s*(?:(?:for|of|lasting|over)\s+)?(?P<n3>{_DUR}))?",
        rf"(?:(?:make|set|change)\s+)?(?:the\s+)?transitions?\s+(?P<where>{_PLACE_EN})\s+(?:to\s+|should be\s+|into\s+"
        rf"|=\s*|:\s*)?(?:an?\s+)?(?:(?P<n>{_DUR})\s+)?(?P<style>{_STYLE_EN})(?:\s+(?:of|for)\s+(?P<n2>{_DUR}))?",
        rf"(?:在)?(?P<where>{_PLACE_ZH})(?:都)?(?:用|使用|加|加上|做|来个|来一个|改成|改为|换成|设为|是)?(?:一个|个)?"
        rf"(?:(?P<n>{_ZDUR})(?:的)?)?(?P<style>{_STYLE_ZH})(?:转场|过渡|效果)?(?P<n2>{_ZDUR})?",
        rf"(?:用|加|加个|加一个|来个|来一个)?(?:(?P<n>{_ZDUR})(?:的)?)?(?P<style>{_STYLE_ZH})(?:转场|过渡|效果)?"
        rf"(?P<n2>{_ZDUR})?(?:(?:到|进入|转到|切到|切入|进)(?P<where>{_ZSC}|§\d+))?",
    ),
    _rule(
        "music file", _music_file,
        r"(?:use|add|put|set|play|make)\s+(?:\S+\s+){0,3}?(?:as|for)\s+(?:the\s+|my\s+)?(?:background\s+)?"
        r"(?:music|soundtrack|score|bgm)",
        r"(?:add|put|use|play)\s+(?:some\s+|a\s+|the\s+|my\s+)?(?:background\s+)?(?:music|soundtrack|score|bgm)"
        r"(?:\s+(?:to|on|under|over)\s+(?:it|this|the\s+(?:film|cut|video|movie)))?",
        rf"(?:bring|put)\s+(?:back\s+)?{_MUSIC_EN}(?:\s+back)?(?:\s+on)?",
        rf"(?:用|把)?(?:这个|这首歌?|这段音乐|这段|它|\S+?)?(?:当|作为|做|当作)(?:背景)?{_MUSIC_ZH}",
        rf"(?:加|添加|配|加上|加点|加一段|配上|恢复)(?:一段|一首|点)?(?:背景)?{_MUSIC_ZH}|{_MUSIC_ZH}用这个",
    ),
    _rule(
        "music", _music,
        rf"(?:make\s+|have\s+|set\s+)?{_MUSIC_EN}(?:\s+(?:level|volume))?\s+(?:(?P<amt>{_AMT})\s+)?"
        rf"(?P<dir>louder|quieter|softer|lower|higher|up|down)(?:\s+(?:by\s+)?(?P<db>{_DB}))?",
        rf"(?:make\s+)?{_MUSIC_EN}\s+(?P<db>{_DB})\s+(?P<dir>louder|quieter|softer|lower|higher|up|down)",
        rf"(?:(?P<amt>{_AMT})\s+)?(?P<dir>louder|quieter|softer)\s+{_MUSIC_EN}",
        rf"(?P<db>{_DB})\s+(?P<dir>louder|quieter|softer|lower|higher)\s+{_MUSIC_EN}",
        rf"(?:turn|bring|crank|pump|dial|take)\s+{_MUSIC_EN}(?:\s+(?:level|volume))?\s+(?P<dir>up|down)"
        rf"(?:\s+(?:(?P<amt>{_AMT})|(?:by\s+)?(?P<db>{_DB})))?",
        rf"(?:turn|bring|crank|pump|dial|take)\s+(?P<dir>up|down)\s+{_MUSIC_EN}(?:\s+(?:level|volume))?"
        rf"(?:\s+(?:(?P<amt>{_AMT})|(?:by\s+)?(?P<db>{_DB})))?",
        rf"(?P<dir>raise|lower|boost|reduce|duck|lift|increase|decrease)\s+{_MUSIC_EN}(?:\s+(?:level|volume))?"
        rf"(?:\s+(?:(?P<amt>{_AMT})|(?:by\s+)?(?P<db>{_DB})))?",
        rf"(?:set\s+|put\s+|make\s+)?{_MUSIC_EN}(?:\s+(?:level|volume))?\s+(?:(?:to|at|=|on)\s+|should be\s+(?:at\s+)?)?"
        rf"(?P<abs>{_DB})(?P<rel>\s+(?:under|below|lower than|quieter than|relative to|against|than)\s+(?:the\s+)?"
        r"(?:dialogue|voices?|speech))?",
        r"(?P<off>no|without(?:\s+any)?|lose|kill|remove|drop|cut|mute|silence|delete|ditch|scrap|get rid of|take out"
        r"|turn off|switch off|stop)\s+(?:the\s+|any\s+)?(?:background\s+)?(?:music(?:\s+bed)?|soundtrack|score|bgm)"
        r"(?:\s+(?:entirely|completely|altogether))?",
        rf"{_MUSIC_EN}\s+(?P<off>off)|(?P<off2>turn|switch|take|cut)\s+{_MUSIC_EN}\s+(?:off|out)",
        rf"(?:把)?{_MUSIC_ZH}(?:的?(?:音量|声音))?(?P<soft>再|稍微|稍稍|稍)?(?:调|开|放|弄)?(?:得)?(?P<dir>{_ZUP}|{_ZDOWN})(?:声)?"
        rf"(?P<amt>很多|得多|多了?|一点点|一点|一些|点儿?|些)?(?:(?P<db>{_NUM})\s*(?:分贝|db))?",
        rf"(?P<dir>调大|调小|开大|关小|调高|调低|加大|减小|降低|提高)(?:一点|一些|点)?{_MUSIC_ZH}(?:的?音量)?",
        rf"(?:把)?{_MUSIC_ZH}(?:的?音量)?(?:调到|调成|设为|设成|改成|改为|定为|定在|设在|为|在)\s*(?P<abs>[-+−]?\s*{_NUM})\s*"
        r"(?:分贝|db)",
        rf"(?P<off>去掉|不要|关掉|关闭|删掉|删除|拿掉|静音|取消|去除|不用|关)(?:背景)?{_MUSIC_ZH}",
        rf"(?:把)?{_MUSIC_ZH}(?P<off>关掉|去掉|关|不要|静音|删掉|拿掉|关闭)",
    ),
    _rule(
        "loudness", _loudness,
        rf"(?:(?:use|set|make it|master(?: it)?(?: to| at| for)?|mix(?: it)?(?: to| for)?|normali[sz]e(?: it)?(?: to| for)?"
        rf"|target|go with|conform to)\s+)?(?:the\s+)?(?P<std>{_STD_EN})(?:\s+(?:loudness|levels?|standard|spec|norm"
        r"|mix|master|target|normali[sz]ation))+",
        r"(?:(?:use|set|master to|normali[sz]e to|mix to|conform to)\s+)?(?P<std>ebu(?:\s*r\s*\.?\s*128)?|r\s*\.?\s*128)"
        r"(?:\s+(?:loudness|levels?|standard|spec|norm))?",
        rf"(?:(?:set\s+)?(?:the\s+)?loudness|levels?|master(?: it)?|mix(?: it)?|normali[sz]e(?: it)?|make it)\s+(?:for|to)"
        rf"\s+(?:the\s+)?(?P<std>{_STD_EN})(?:\s+(?:loudness|standard|levels?))?",
        r"for\s+(?P<std>youtube|the web|online|streaming|broadcast|tv|television|spotify|bilibili)",
        rf"(?:(?:set|target|normali[sz]e|master|mix|make it)(?:\s+(?:it|the\s+(?:film|mix|loudness|audio)))?\s+(?:to|at|for)"
        rf"\s+|(?:the\s+)?(?:loudness|target)(?:\s+(?:target|to|at|of|=|:))*\s*)?(?P<lufs>{_LUFS})\s*lufs"
        r"(?:\s+(?:loudness|target|integrated))?",
        r"(?:set\s+)?(?:the\s+)?loudness(?:\s+target)?\s+(?:to\s+|at\s+|=\s*|of\s+)?(?P<lufs>[-−]\s*\d+(?:\.\d+)?)(?:\s*lu)?",
        r"(?:把)?(?:响度|音量标准|整体音量|总音量|音量)(?:用|按|按照|采用|符合|改成|改为|调到|调成|设为|设成|做成|做到|定为|是)?"
        r"(?P<std>广播|电视|网络|网上|在线|流媒体|短视频|抖音|b站|youtube|ebu\s*r?\s*128|r128)(?:的)?(?:标准|规范)?(?:响度)?",
        r"(?:用|按|按照|采用)?(?P<std>广播|电视|网络|在线|流媒体|ebu\s*r?\s*128|r128)(?:的)?响度(?:标准)?",
        rf"(?:把)?(?:响度|音量)(?:目标)?(?:调到|调成|设为|设成|改成|改为|定为|为|是)?\s*(?P<lufs>{_LUFS})\s*(?:lufs|lu)?",
    ),
    _rule(
        "voices off", _voices(False),
        r"(?:mute|silence|turn off|switch off|no|kill|drop|lose)\s+(?:the\s+|all\s+(?:the\s+)?)?(?:voices?|speech|spoken lines"
        r"|voice-?overs?|tts|narration|dialogue audio)",
        r"(?:mute|silence)\s+(?:the\s+)?dialogue|(?:voices?|speech|dialogue audio)\s+off|turn\s+(?:the\s+)?voices?\s+off",
        r"(?:captions?|subtitles?|subs|text)\s+only|(?:don't|do not|dont)\s+speak\s+(?:the\s+)?(?:dialogue|lines)",
        r"(?:静音|关掉|关闭|去掉|不要|取消)(?:对白|人声|配音|语音|台词配音|对话)(?:声音|配音)?",
        r"(?:对白|人声|配音|语音)(?:静音|关掉|关|去掉|不要)",
        r"只(?:要|留|保留|用|有)字幕",
    ),
    _rule(
        "voices on", _voices(True),
        r"(?:speak|voice|read out|say)\s+(?:the\s+)?(?:dialogue|lines)(?:\s+(?:out loud|aloud))?",
        r"(?:turn|switch)\s+(?:the\s+)?(?:voices?|speech)\s+(?:back\s+)?on|(?:turn|switch)\s+on\s+(?:the\s+)?voices?",
        r"(?:unmute|bring back|restore|add)\s+(?:the\s+)?(?:voices?|speech|dialogue audio)|voices?\s+(?:back\s+)?on"
        r"|bring\s+(?:the\s+)?voices?\s+back",
        r"(?:恢复|打开|开启|加上|要|启用)(?:对白|人声|配音|语音)(?:声音)?|把?(?:对白|台词)(?:读|念)出来",
    ),
    _rule(
        "subtitles off", _subtitles(False),
        rf"(?:no|without|remove|drop|lose|delete|unburn|get rid of|take out|skip|don't want|do not want)\s+"
        rf"(?:the\s+|any\s+)?(?:burn(?:ed|t)?[-\s]?in|burn(?:ed|t)|baked[-\s]?in|hard-?coded|hard|open)\s*{_SUBS}",
        rf"(?:don't|do not|dont|stop)\s+(?:burn(?:ing)?|bak(?:e|ing)|hard-?cod(?:e|ing))\s+(?:in\s+)?{_SUBS}(?:\s+in)?"
        rf"(?:\s+(?:in|into|on)\s+{_PICTURE})?",
        rf"(?:soft|separate)\s+{_SUBS}(?:\s+only)?|{_SUBS}\s+(?:as\s+)?(?:a\s+)?(?:separate\s+)?(?:file|srt|sidecar)"
        rf"(?:\s+only)?|{_SUBS}\s+not\s+burn(?:ed|t)(?:\s+in)?|unburn\s+{_SUBS}",
        r"(?:不要|去掉|取消|别|不用|不需要|不)(?:把字幕)?(?:烧录|烧|压制|压|内嵌|嵌入|硬)(?:进|到|入)?(?:画面)?(?:的)?(?:字幕)?",
        r"字幕不要(?:烧录|烧|压制|压|内嵌|嵌入)(?:进|到|入)?(?:画面)?(?:里)?|(?:用|要|只要)?(?:软字幕|外挂字幕)",
    ),
    _rule(
        "subtitles on", _subtitles(True),
        rf"(?:burn|bake|hard-?code|hard-?sub)\s+(?:in\s+)?{_SUBS}(?:\s+(?:in|into|on|onto)(?:\s+{_PICTURE})?)?",
        rf"(?:embed|print|put|render|draw|stamp|show)\s+{_SUBS}\s+(?:in|into|on|onto)\s+{_PICTURE}",
        rf"(?:(?:use|add|want|i want|with)\s+)?(?:burn(?:ed|t)?|baked|hard-?coded|hard|open)[-\s]?(?:in\s+)?{_SUBS}",
        rf"(?:(?:make|have)\s+)?{_SUBS}\s+(?:burned|burnt|baked|hard-?coded|burn)(?:[-\s]?in)?(?:\s+(?:to|into|on)\s+{_PICTURE})?",
        r"(?:把)?字幕(?:烧录|烧|压制|压|嵌|嵌入|内嵌|印|做)(?:进去|进|到|入|在)?(?:画面|视频|片子|图像)?(?:里|中|上)?(?:去)?",
        r"(?:要|用|做|加|加上|给)?(?:烧录|烧|压制|内嵌|嵌入|硬)(?:的)?字幕",
    ),
    _rule(
        "reframe", _reframe,
        rf"(?:(?:make|do|create|add|export|deliver|render|give me|i want|we need|produce|output|generate|cut)\s+)?"
        rf"(?:(?:a|an|the)\s+)?(?:(?:extra|second|separate|also)\s+)?(?P<ratios>{_RATIOS_EN})\s+{_VERSION}{_PLATFORM}"
        r"(?:\s+(?:too|as well|also))?",
        rf"reframe(?:\s+(?:it|the\s+(?:film|cut|video)))?\s+(?:to|for|as|into)\s+(?:an?\s+)?(?P<ratios>{_RATIOS_EN})"
        rf"(?:\s+{_VERSION})?{_PLATFORM}(?:\s+(?:too|as well|also))?",
        rf"(?P<remove>no|without|drop|remove|delete|skip|cancel|lose|don't make|do not make|get rid of|scrap)\s+"
        rf"(?:the\s+|a\s+|an\s+|any\s+)?(?P<ratios>{_RATIOS_EN})\s+{_VERSION}",
        r"(?P<remove>no|without|drop|remove|delete|skip|cancel)\s+(?:the\s+|any\s+)?(?P<every>extra|other|reframed)\s+"
        r"(?:versions|formats|cuts)|(?P<remove2>no)\s+(?P<every2>reframes)",
        rf"(?:再|另外|也|还要|还)?(?:做|出|导出|生成|加|要|来|剪|输出|给我|做出)?(?:一个|一版|个|一份|一条)?(?P<ratios>{_RATIOS_ZH})"
        r"(?:的)?(?:版本|版|视频|格式|画幅)(?:的?视频)?(?:也要|也)?",
        rf"(?P<remove>不要|去掉|删掉|取消|不用|别做|不需要|不做|别出|不出)(?:那个|这个)?(?P<ratios>{_RATIOS_ZH})(?:的)?"
        r"(?:版本|版|视频)",
    ),
    _rule(
        "voice", _voice,
        r"give\s+(?P<who>.+?)\s+(?:the\s+)?voice\s+(?:id\s+)?['\"]?(?P<voice>[\w.:-]+)['\"]?",
        r"give\s+(?P<who>.+?)\s+(?:an?|the|some)\s+(?P<hint>(?!(?:an?|the)\b)[\w'-]+(?:\s+[\w'-]+){0,3}?)\s+voice",
        r"give\s+(?P<who>.+?)\s+(?:an?|the|some)\s+voice",
        r"(?:use|pick|choose|cast)\s+(?:the\s+)?voice\s+(?:id\s+)?['\"]?(?P<voice>[\w.:-]+)['\"]?\s+for\s+(?P<who>.+)",
        r"(?:make|have)\s+(?P<who>.+?)(?:'s|s'|')?\s+voice\s+(?P<hint>.+)",
        r"(?:change|set|switch)\s+(?P<who>.+?)(?:'s|s'|')?\s+voice\s+(?:to|into)\s+(?P<x>.+)",
        r"(?P<who>.+?)(?:'s|s'|')?\s+voice\s+(?:should|must|needs to|has to)\s+(?:be|sound)\s+(?P<x>.+)",
        r"(?:an?\s+)?(?P<hint>[\w'-]+(?:\s+[\w'-]+){0,2}?)\s+voice\s+for\s+(?P<who>.+)",
        r"(?:recast|re-?voice)\s+(?P<who>.+?)(?:(?:'s|s'|')?\s+voice)?(?:\s+(?:with|as|to)\s+(?P<x>.+))?",
        rf"给(?P<who>.+?)(?:换成|配上|换上|换|配|用|来)(?:一个|个|一种|种|一副|副)?(?P<hint>{_ZVOICE_KIND})",
        rf"给(?P<who>.+?)(?:换成|配上|换上|换|配|用|来)(?:一个|个|一种|种|一副|副)?(?P<hint>.*?)(?:的)?{_ZVOICE}",
        explicit="yes",
    ),
    _rule(
        "voice", _voice,
        rf"(?:让|把)?(?P<who>.+?)的{_ZVOICE}(?:(?:改成|换成|变成|改为|换为|用)(?P<x>.+)"
        r"|(?:再|变得?|要|调得?|改得?)?(?P<hint>.+?))(?:一点|一些|些|点)?",
        r"(?:让)?(?P<who>.+?)(?:的声音)?听起来(?P<hint>.+?)(?:一点|一些|些|点)?",
        r"(?:make\s+)?(?P<who>.+?)\s+(?:should\s+)?sound\s+(?P<hint>.+)",
        r"(?:让|把)?(?P<who>.+?)(?:的)?(?:用|改用|换用|换成)(?:声音|音色|配音)\s*(?P<voice>[a-z0-9][\w.:-]*)",
    ),
    _rule(
        "vague louder", _vague_louder,
        r"(?:make\s+(?:it|this|that|everything|the\s+(?:film|video|sound|audio|volume))\s+)?(?:(?:a\s+)?(?:bit|little|lot)\s+"
        r"|much\s+)?(?:louder|quieter|softer)",
        r"turn\s+(?:it|this|that|the\s+(?:volume|sound|audio))\s+(?:up|down)|(?:more|less)\s+volume",
        r"(?:把)?(?:声音|音量)?(?:再)?(?:调)?(?:大声|小声|大|小|响|高|低)(?:一点|一些|点|些)",
    ),
    _rule(
        "route", _route,
        rf"(?:use|try|switch to|go with|pick|choose|prefer)\s+{_P}(?:\s+(?:for|on)\s+(?P<what>.+))?",
        rf"(?:render|do|make|shoot|redo|re-?render|generate)\s+(?P<what>.+?)\s+(?:with|on|using|in|via|through)\s+{_P}",
        rf"(?P<what>.+?)(?:都|全部|全都|统一)?(?:用|使用|改用|换成|换用|交给|走)\s*{_PZ}\s*(?:来)?"
        r"(?:渲染|生成|做|拍|跑|出)?",
        rf"(?:全部|都|全都|统一)?(?:用|使用|改用|换用)\s*{_PZ}\s*(?:来)?(?:渲染|生成|做|拍|跑)(?P<what>.+)?",
        rf"(?:全部|都|全都|统一)?(?:用|使用|改用|换用)\s*{_PZ}(?:来?(?:渲染|生成|做|拍|跑))?",
    ),
    _rule(
        "route", _route,
        rf"(?P<what>.+?)\s+(?:with|on|via|using|through)\s+{_P}",
        rf"(?:render\s+)?(?:with|using)\s+{_P}",
        known="yes",  # no verb: only a provider the line knows makes this routing ('a girl on mars' is not)
    ),
    _rule(
        "bible", _bible_make,
        rf"(?:make|turn|paint|dye|colou?r|recolou?r)\s+(?P<x>.+?)(?P<scope>{_SCOPE})?",
    ),
    _rule(
        "bible", _bible_set,
        rf"(?:change|switch|turn|set|recolou?r|dye|paint)\s+(?P<x>.+?)\s+(?:to|into)\s+(?P<value>.+?)(?P<scope>{_SCOPE})?",
    ),
    _rule(
        "bible", _bible_set,
        r"(?P<x>.+?)\s+(?:should be|should look|must be|needs to be|has to be|to be|is now|is|are now|are"
        rf"|becomes|become)\s+(?P<value>.+?)(?P<scope>{_SCOPE})?",
        strict="yes",
    ),
    _rule(
        "bible", _bible_give,
        rf"give\s+(?P<x>.+?)(?P<scope>{_SCOPE})?",
        rf"(?:put|dress)\s+(?P<x>.+?)\s+in\s+(?P<what>.+?)(?P<scope>{_SCOPE})?",
        rf"(?P<x>.+?)\s+(?:should|must|will|can|needs to|has to)\s+(?:wear|have)\s+(?P<what>.+?)(?P<scope>{_SCOPE})?",
    ),
    _rule("bible", _bible_make, rf"(?P<x>[^§]+?)(?P<scope>{_SCOPE})?", strict="yes"),
    _rule(
        "bible", _bible_zh,
        rf"(?P<scope>{_ZSCOPE})?(?:把|将|让)?(?P<x>.+?)(?:都)?{_ZH_TO}(?P<value>.+?)(?P<scope2>{_ZSCOPE})?",
    ),
    _rule(
        "bible", _bible_zh,
        rf"(?P<scope>{_ZSCOPE})?(?:把|将|让)?(?P<x>.+?)(?:都)?(?:要|应该是|应该|得是|得)(?:是)?(?P<value>.+?)"
        rf"(?P<scope2>{_ZSCOPE})?",
        strict="yes",
    ),
    _rule(
        "bible", _bible_give_zh,
        rf"(?P<scope>{_ZSCOPE})?给(?P<x>.+?)(?:换上|换成|换|戴上|穿上|配上|加上|装上|安上)(?P<value>.+?)",
        rf"(?P<scope>{_ZSCOPE})?(?:让)?(?P<x>.+?)(?:应该|要)?(?:穿上|穿着|穿|戴上|戴着|戴|换上)(?P<value>.+?)",
    ),
)  # fmt: skip

# --- reading a whole message ------------------------------------------------------------------

# _Where a message may hold two commands; used only where every piece reads as a command.
_JOIN = re.compile(
    r"\s*(?:[,;!?，；！？。、]|\.(?!\d))\s*(?:(?:and then|and also|and|then|also)\s+)?"
    r"|\s+(?:and then|and also|and|then|also|plus|after that)\s+"
    r"|然后|并且|同时|还有|另外|接着|以及|再把|并|和|再"
)
_LEAD_EN = re.compile(
    r"^(?:(?:please|pls|kindly|ok(?:ay)?|now|so|also|and|then|just|hey|hi|hello|well|alright|actually|"
    r"yes|yeah|can you|could you|would you|will you|would you mind|i want you to|i need you to|"
    r"i'd like (?:you )?to|i would like (?:you )?to|i want to|let's|lets|let us|go ahead and|can we|"
    r"could we|we should|you should|maybe|director)\b[\s,:]*)+"
)
_TAIL_EN = re.compile(r"(?:[\s,]+(?:please|thanks|thank you|for me|if you can|if possible|and|then|also))+$")
_FILLER = re.compile(r"thanks|thank you|thx|cheers|谢谢|多谢")  # a piece that is only this is politeness
_LEAD_ZH = re.compile(
    r"^(?:请你?|麻烦你?|帮我|帮忙|能不能|能否|可不可以|你能|我想要?|我要|我希望|那就|那么|现在|嗯|好的?[,，]?)+"
)
_TAIL_ZH = re.compile(r"(?:吧|了|呢|啊|呀|哦|吗|一下|谢谢|好吗|可以吗|行吗|行不行)+$")
# Longer pieces, and longer messages, are prose, not commands: this keeps a long brief fast and
# bounds the search for where one command ends (at most _MAX_CUTS places to cut).
_MAX_COMMAND = 160
_MAX_MESSAGE = 600
_MAX_CUTS = 40

_THANKS = re.compile(
    r"(?:thanks|thank you|thx|cheers|谢谢|多谢|谢了)(?: a lot| so much| very much)?[.!。！]*"
)
_AFFIRM = re.compile(
    r"(?:yes|yep|yeah|y|ok|okay|sure|confirm|confirmed|go for it|好|好的|可以|行|是的|没问题|确定)[.!。！]*"
)
_NEW_FILM = re.compile(
    r"(?:(?P<lead>(?:a )?new (?:film|movie|video|story|brief|project)|新片子?|新电影|新故事|新视频|新剧本|新的片子)"
    r"\s*[:：,，-]|new (?:film|movie|video|story)(?= about\b)"
    r"|(?:write|make|start|do|create|shoot) (?:a |another )?new (?:film|movie|video|story|script)\b"
    r"|start (?:over|again)(?: with)?\b|重新写|写一个新的?|拍一个新的?|做一个新的?|重新开始)\s*(?P<rest>.*)"
)
_INJECTION = re.compile(
    r"ignore (?:all |any |the )?(?:previous|prior|above|earlier)\b|forget (?:all |your )?(?:previous |prior )?instructions"
    r"|ignore (?:all |any )?(?:your|all|these)\b.{0,20}\b(?:instructions?|prompts?|rules)"
    r"|disregard (?:all |any |the )?(?:previous|prior|above|your)|^\W*system\s*:|developer mode|jailbroken|\bdan mode"
    r"|you are now (?:in |an? )?(?:developer|dan|unrestricted|jailbroken|admin|root|god|free)"
    r"|act as (?:an? )?(?:unrestricted|different)|(?:print|show|reveal|tell me|give me|send|dump|output"
    r"|leak)\s+(?:me\s+)?(?:your|the)\s+(?:api[ _-]?keys?|secrets?|tokens?|credentials|passwords?|system prompt|"
    r"instructions|env(?:ironment)?(?: variables)?)"
    r"|忽略(?:之前|以上|前面|上面|所有)|无视(?:之前|以上|前面|所有)|系统提示词|开发者模式|越狱模式|api\s*(?:key|密钥)"
    r"|(?:打印|显示|告诉我|给我|输出|发给我|说出)你?的?(?:密钥|秘钥|令牌|系统提示|token|密码)"
)
_NEEDS_FILM = (ChangeBible, Trim, Swap, Move, Drop, AddShot, Retime, Render, SetTransition, SetSound)
_NEEDS_FILM += (SetSubtitles, Reframe, SetVoice)


def _strip(segment: str) -> str:
    s = segment.strip(" \t,.;:!?，。；：！？、")
    s = _TAIL_EN.sub("", _LEAD_EN.sub("", s)).strip(" ,.:")
    s = re.sub(r"\bplease\b", "", s)
    s = _TAIL_ZH.sub("", _LEAD_ZH.sub("", s)).strip(" ,.:，")
    return re.sub(r"\s+", " ", s).strip()


def _one(r: _Reader, segment: str) -> list[Action | _Problem] | None:
    """Actions for one command; [] for politeness alone; None when it is not a command."""
    s = _strip(segment)
    if not s or _FILLER.fullmatch(s):
        return []
    if len(s) > _MAX_COMMAND:
        return None
    tries = [s, _SPACE_CJK.sub("", s)] if has_cjk(s) else [s]
    for text in dict.fromkeys(tries):
        for rule in _RULES:
            for pattern in rule.patterns:
                m = pattern.fullmatch(text)
                if not m:
                    continue
                groups = {k: v or "" for k, v in m.groupdict().items()}
                for k in ("n", "scope"):  # a second place in the same pattern: 'shot 4 shorter by 2s'
                    groups[k] = groups.get(k) or groups.get(f"{k}2", "")
                groups |= dict(rule.extra)
                try:
                    actions = rule.handler(r, groups)
                except _Problem as problem:
                    return [problem]
                if actions is not None:
                    return list(actions)
    return None


def _read(r: _Reader, text: str) -> list[Action | _Problem] | None:
    """Every command in a message, in order; None unless every piece reads as a command."""
    cuts = [(m.start(), m.end()) for m in _JOIN.finditer(text) if m.end() > m.start()]
    if len(text) > _MAX_MESSAGE or len(cuts) > _MAX_CUTS:
        return None

    @cache
    def from_(i: int, recent: _Ref | None) -> tuple[Action | _Problem, ...] | None:
        for start, end in cuts:
            if start < i or end >= len(text):
                continue
            r.recent = recent
            left = _one(r, text[i:start])
            if left is not None and (rest := from_(end, r.recent)) is not None:
                return (*left, *rest)
        r.recent = recent
        whole = _one(r, text[i:])
        return None if whole is None else tuple(whole)

    found = from_(0, None)
    return None if found is None else list(found)


# --- briefs -----------------------------------------------------------------------------------


def _target_s(text: str) -> float | None:
    """'a 40-second film', '40s', '2 minutes', '一分半', '40秒' -> seconds."""
    t = unicodedata.normalize("NFKC", text).lower()
    m = re.search(rf"(?P<n>{_NUM}|{_EN_NUM})\s*-?\s*(?:分钟|分)(?P<half>半)?(?:钟)?(?:(?P<s>{_N})秒)?", t)
    if m:
        total = _number(m.group("n")) * 60 + (30 if m.group("half") else 0)
        return total + (_number(m.group("s")) if m.group("s") else 0)
    m = re.search(rf"(?<![\w.])(?P<n>\d+(?:\.\d+)?|{_EN_NUM})\s*-?\s*(?:minutes?|mins?)\b", t)
    if m:
        return _number(m.group("n")) * 60
    if "half a minute" in t or "半分钟" in t:
        return 30.0
    if re.search(r"\ba minute and a half\b", t):
        return 90.0
    if re.search(r"\ba minute\b|一分钟", t):
        return 60.0
    m = re.search(
        rf"(?<![\w.'])(?P<n>\d+(?:\.\d+)?|{_EN_NUM})\s*-?\s*(?:seconds?|secs?)\b|(?P<z>{_NUM})\s*秒", t
    )
    if m:
        return _number(m.group("n") or m.group("z"))
    # A bare '40s' is a length, but '(20s)', 'in her 20s' and 'the 80s' are ages and eras.
    age = r"(?<![\w.'(])(?<!the )(?<!her )(?<!his )(?<!their )(?<!early )(?<!mid )(?<!mid-)(?<!late )"
    m = re.search(rf"{age}(?P<n>\d{{1,3}})s\b(?!\)|\s*(?:era|style|music|fashion))", t)
    return float(m.group("n")) if m else None


def _ratio(text: str) -> Literal["16:9", "9:16", "1:1"] | None:
    t = unicodedata.normalize("NFKC", text).lower()
    if re.search(
        r"\bvertical\b|\b9\s*[:x/]\s*16\b|portrait (?:format|mode|orientation|video)|竖屏|竖版|竖向|竖幅|9比16",
        t,
    ):
        return "9:16"
    if re.search(r"\bsquare\b|\b1\s*[:x/]\s*1\b|正方形|方形|方屏|1比1", t):
        return "1:1"
    if re.search(
        r"\bhorizontal\b|\bwidescreen\b|\b16\s*[:x/]\s*9\b|landscape (?:format|mode|orientation)|横屏|横版|宽屏|16比9",
        t,
    ):
        return "16:9"
    return None


_SCENE_HEADING = re.compile(r"^\s*\.?(?:int|ext|est|int\.?/ext|i/e)[.\s]", re.IGNORECASE | re.MULTILINE)


def _brief(message: str, lead: str | None) -> WriteScript:
    """The brief in the person's words; a screenplay sets its own length and says nothing of the ratio."""
    brief = message.strip()
    if lead:
        brief = (
            re.sub(r"^[^:：,，-]*[:：,，-]\s*", "", unicodedata.normalize("NFKC", brief), count=1) or brief
        )
    if _SCENE_HEADING.search(brief):
        return WriteScript(brief=brief)
    target = _target_s(brief)
    return WriteScript(
        brief=brief, target_s=target if target and 0 < target <= 3600 else None, ratio=_ratio(brief)
    )


# --- summaries and help -----------------------------------------------------------------------


def _help_text(zh: bool, understood: bool) -> str:
    if zh:
        head = "我能听懂这些指令：" if understood else "没听懂。离线时我能听懂这些指令："
        lines = [
            "把梅的夹克改成红色 / 在第2场把她的头发改成白色",
            "第4个镜头短一点 / 第4个镜头改成3秒 / 镜头4缩短1秒",
            "交换第2和第3个镜头 / 把第5个镜头移到第2个后面 / 删掉第4个镜头",
            "在第3个镜头后加一个梅的特写",
            "特写用可灵 / 第3个镜头用Veo",
            "预算5美元 / 渲染 / 撤销 / 回到版本2",
            "第2场用叠化转场 / 场景之间黑场过渡 / 镜头4用1秒叠化",
            "音乐大声点 / 去掉音乐 / 响度用广播标准 / 静音对白",
            "烧录字幕 / 出一个竖屏版 / 给梅换一个更低沉的声音",
            "状态 / 花了多少钱 / 新片：<你的故事>",
        ]
    else:
        head = (
            "Offline, I understand commands like:"
            if understood
            else "I didn't understand that. Offline, I understand commands like:"
        )
        lines = [
            "make Mei's jacket red / make her hair short in scene 2 / give the robot blue eyes",
            "shot 4 shorter / shot 4 to 3 seconds / cut 2 seconds from shot 4",
            "swap 2 and 3 / move shot 5 after shot 2 / delete shot 4",
            "add a close-up of Mei after shot 3",
            "use kling for the close-ups / render shot 3 with veo",
            "budget $5 / render / undo / go back to version 2",
            "crossfade into scene 2 / dip to black between scenes / 1 second crossfade into shot 5",
            "louder music / no music / broadcast loudness / mute the voices",
            "burn in the subtitles / make a vertical version / give Mei a deeper voice",
            "status / what did it cost? / new film: <your brief>",
        ]
    return "\n".join([head, *(f"- {line}" for line in lines)])


def _fmt(x: float) -> str:
    return f"{x:g}"


def _summary_one(a: Action, zh: bool) -> str:
    """One short phrase per action, in the message's language."""

    def n(sid: str) -> str:
        return str(int(sid))

    match a:
        case WriteScript():
            brief = a.brief if len(a.brief) <= 50 else a.brief[:49] + "…"
            return f"写新片：{brief}" if zh else f"new film: {brief}"
        case ChangeBible():
            if zh:
                where = "全片" if a.scenes is None else "第" + "、".join(map(str, a.scenes)) + "场"
                return f"{a.target}：{_SLOT_ZH.get(a.item, a.item)}改为{a.value}（{where}）"
            where = (
                "every scene"
                if a.scenes is None
                else ("scene " if len(a.scenes) == 1 else "scenes ") + ", ".join(map(str, a.scenes))
            )
            return f"{a.target}: {a.item} -> {a.value} ({where})"
        case Trim(seconds=float() as secs):
            return f"镜头{n(a.shot)}：改为{_fmt(secs)}秒" if zh else f"shot {n(a.shot)}: {_fmt(secs)} s"
        case Trim():
            by = a.by_s or 0.0
            if zh:
                return f"镜头{n(a.shot)}：{'延长' if by > 0 else '缩短'}{_fmt(abs(by))}秒"
            return f"shot {n(a.shot)}: {_fmt(abs(by))} s {'longer' if by > 0 else 'shorter'}"
        case Swap():
            return f"交换镜头{n(a.shot)}和{n(a.other)}" if zh else f"swap shots {n(a.shot)} and {n(a.other)}"
        case Move():
            if zh:
                return f"镜头{n(a.shot)}移到镜头{n(a.anchor)}{'之前' if a.where == 'before' else '之后'}"
            return f"shot {n(a.shot)} {a.where} shot {n(a.anchor)}"
        case Drop():
            return f"删除镜头{n(a.shot)}" if zh else f"drop shot {n(a.shot)}"
        case AddShot():
            who = " ".join(w for w in (a.subject, a.action) if w)
            label = _FRAMING_LABEL[a.framing][zh]
            if zh:
                return f"在镜头{n(a.anchor)}后加{who + '的' if who else ''}{label}"
            return f"new {label}{' of ' + who if who else ''} after shot {n(a.anchor)}"
        case Retime():
            return (
                f"镜头{n(a.shot)}按{_fmt(a.duration_s)}秒重新渲染"
                if zh
                else f"re-render shot {n(a.shot)} at {_fmt(a.duration_s)} s"
            )
        case Route():
            if a.shots:
                what = ("镜头" if zh else "shots " if len(a.shots) > 1 else "shot ") + ", ".join(
                    n(s) for s in a.shots
                )
            elif a.framing:
                what = _FRAMING_LABEL[a.framing][zh] + ("" if zh else "s")
            else:
                what = "全部镜头" if zh else "every shot"
            return f"{what}用{a.provider}" if zh else f"{a.provider} for {what}"
        case SetBudget():
            return f"预算${_fmt(a.usd)}" if zh else f"budget ${_fmt(a.usd)}"
        case Render():
            return "渲染" if zh else "render"
        case Undo():
            if a.steps == 1:
                return "撤销" if zh else "undo"
            return f"撤销{a.steps}步" if zh else f"undo {a.steps} steps"
        case Revert():
            return f"回到版本{a.version}" if zh else f"back to version {a.version}"
        case SetTransition():
            return _transition_summary(a, zh)
        case SetSound():
            return _sound_summary(a, zh)
        case SetSubtitles():
            if zh:
                return "字幕烧录进画面" if a.burn else "字幕不烧录进画面"
            return "burn in the subtitles" if a.burn else "subtitles not burned in"
        case Reframe():
            ratios = ("、" if zh else " and ").join(a.ratios)
            if zh:
                return f"不出{ratios}版" if a.remove else f"另出{ratios}版"
            plural = "s" if len(a.ratios) > 1 else ""
            return (
                f"no {ratios} version{plural}"
                if a.remove
                else f"also a {ratios} version{plural}".replace("a 9:16 and", "9:16 and").replace(
                    "a 1:1 and", "1:1 and"
                )
            )
        case SetVoice():
            if a.voice:
                return f"{a.character}：音色{a.voice}" if zh else f"{a.character}: voice {a.voice}"
            if zh:
                hint = a.hint or "不同"
                if hint == "不同":
                    return f"{a.character}：换一个声音"
                return f"{a.character}：换成{hint}" if hint[-1] in "声音" else f"{a.character}：声音{hint}"
            hint = a.hint or "different"
            return f"{a.character}: {hint if hint.endswith('voice') else hint + ' voice'}"
        case Answer():
            labels = {"help": ("help", "帮助"), "status": ("status", "状态"), "cost": ("cost", "费用")}
            if a.topic in labels:
                return labels[a.topic][1 if zh else 0]
            return a.text.splitlines()[0] if a.text else ""
    return a.kind


def _transition_summary(a: SetTransition, zh: bool) -> str:
    """'crossfade into scene 2 (0.5 s)', '每次换场黑场过渡（1秒）', 'straight cut into shot 5'."""
    if a.shot is not None:
        place = (f"镜头{int(a.shot)}", f"into shot {int(a.shot)}")
    elif a.scene is not None:
        place = (f"第{a.scene}场", f"into scene {a.scene}")
    else:
        place = ("每次换场", "at every scene change")
    if zh:
        label = {"cut": "直接切", "crossfade": "叠化", "dip": "黑场过渡"}[a.style]
        return place[0] + label + ("" if a.style == "cut" else f"（{_fmt(a.length_s)}秒）")
    if a.style == "cut":
        return f"{'straight cuts' if a.shot is None and a.scene is None else 'straight cut'} {place[1]}"
    label = {"crossfade": "crossfade", "dip": "dip to black"}[a.style]
    return f"{label} {place[1]} ({_fmt(a.length_s)} s)"


def _sound_summary(a: SetSound, zh: bool) -> str:
    """'music 3 dB louder', 'no music', '-23 LUFS (broadcast)', 'voices off (captions only)'."""
    parts: list[str] = []
    if a.music_off:
        parts.append("去掉音乐" if zh else "no music")
    if a.music_db is not None:
        parts.append(f"音乐音量{_fmt(a.music_db)}分贝" if zh else f"music at {_fmt(a.music_db)} dB")
    if a.music_by_db:
        by = abs(a.music_by_db)
        if zh:
            parts.append(f"音乐调{'大' if a.music_by_db > 0 else '小'}{_fmt(by)}分贝")
        else:
            parts.append(f"music {_fmt(by)} dB {'louder' if a.music_by_db > 0 else 'quieter'}")
    if a.target_lufs is not None:
        kind = {BROADCAST_LUFS: ("广播", "broadcast"), ONLINE_LUFS: ("网络", "online")}.get(a.target_lufs)
        if zh:
            parts.append(f"响度{_fmt(a.target_lufs)} LUFS" + (f"（{kind[0]}标准）" if kind else ""))
        else:
            parts.append(f"loudness {_fmt(a.target_lufs)} LUFS" + (f" ({kind[1]})" if kind else ""))
    if a.voices is not None:
        if zh:
            parts.append("恢复对白配音" if a.voices else "静音对白（只留字幕）")
        else:
            parts.append("voices on" if a.voices else "voices off (captions only)")
    return ("，" if zh else ", ").join(parts) or ("声音不变" if zh else "sound unchanged")


def _decide(actions: list[Action], zh: bool, understood: bool = True) -> Decision:
    sep = "；" if zh else "; "
    summary = sep.join(s for s in (_summary_one(a, zh) for a in actions) if s)
    if not understood:
        summary = "没听懂" if zh else "not understood"
    return Decision(actions=actions, understood=understood, summary=summary)


def _not_understood(zh: bool) -> Decision:
    return _decide([Answer(topic="help", text=_help_text(zh, understood=False))], zh, understood=False)


# --- the entry point --------------------------------------------------------------------------


def read_command(message: str, situation: Situation) -> Decision:
    """Read one chat message as commands of the offline grammar, against what the project holds.

    Before any film exists, a message that is not a command is the brief. Shots, characters and
    providers that do not exist are not guessed at: the answer says what exists, or asks which.
    """
    zh = has_cjk(message)
    text = _normalise(message, situation.shots)
    if not text or _INJECTION.search(text):
        return _not_understood(zh)
    reader = _Reader(situation, zh)
    reader.message = unicodedata.normalize("NFKC", message)
    if new := _NEW_FILM.fullmatch(text):
        if len(new.group("rest").strip(" .!。！")) < 2:
            ask = reader.say(
                "Describe the new film: 'new film: <your brief>'.", "请描述新片：“新片：<你的故事>”。"
            )
            return Decision(understood=False, actions=[Answer(topic="help", text=ask)], summary=ask)
        return _decide([_brief(message, new.group("lead"))], zh)
    if _THANKS.fullmatch(text):
        return _decide([Answer(topic="other", text=reader.say("You're welcome.", "不客气。"))], zh)
    if _AFFIRM.fullmatch(text):
        found: list[Action | _Problem] | None = [Render()]
    else:
        found = _read(reader, text)
    if found is None or not found:
        if not situation.has_film and found is None:
            return _decide([_brief(message, None)], zh)
        return _not_understood(zh)
    problems = [p for p in found if isinstance(p, _Problem)]
    actions = cast(list[Action], [a for a in found if not isinstance(a, _Problem)])
    if not situation.has_film and (
        any(isinstance(a, _NEEDS_FILM) for a in actions) or any(p.needs_film for p in problems)
    ):
        problems = [
            _Problem(
                reader.say(
                    "There is no film yet: describe the film you want, e.g. 'a 40-second film about a robot in "
                    "the rain'.",
                    "还没有影片：先描述你想要的片子，例如“一个40秒的雨中机器人短片”。",
                )
            )
        ]
    if problems:
        text = " ".join(str(p) for p in problems)
        return Decision(understood=False, actions=[Answer(topic="help", text=text)], summary=str(problems[0]))
    return _decide(actions, zh)
