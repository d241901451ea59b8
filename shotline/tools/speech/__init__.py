"""Dialogue voices by provider name, and the casting that gives each character one voice for good.

Provider names are lowercase: `espeak` (offline, when espeak-ng is installed), `openai`, `minimax`,
`elevenlabs`, `volcengine`. Casting is deterministic: a character's voice is drawn from the
provider's list by a hash of the character id, among the voices that fit the gender and age the
description hints at, so the same script casts the same voices on every machine. The chosen id is
then kept in the bible, so a provider adding voices later never re-casts anyone; an explicit
override always wins.
"""

from __future__ import annotations

import hashlib
import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from shotline.config import Settings, get_settings
from shotline.errors import InputError, NotBuiltError, UnknownProviderError
from shotline.tools.speech.base import Age, Gender, Speech, Voice, VoiceCard, VoiceModel

__all__ = [
    "SPEECH_PROVIDERS",
    "Speech",
    "Voice",
    "VoiceCard",
    "VoiceHint",
    "VoiceModel",
    "VoiceWish",
    "cast_voices",
    "get_voice_model",
    "pick_voice",
    "voice_catalog",
    "voice_for_hint",
    "voice_hint",
    "voice_wish",
]

SPEECH_PROVIDERS = ("espeak", "openai", "minimax", "elevenlabs", "volcengine")
_CLASSES = {
    "espeak": "espeak:Espeak",
    "openai": "openai:OpenAISpeech",
    "minimax": "minimax:MiniMaxSpeech",
    "elevenlabs": "elevenlabs:ElevenLabsSpeech",
    "volcengine": "volcengine:VolcengineSpeech",
}


def voice_model_class(name: str) -> type:
    key = name.strip().lower()
    if key not in _CLASSES:
        raise UnknownProviderError(f"unknown speech provider {name!r}; known: {', '.join(SPEECH_PROVIDERS)}")
    module, cls = _CLASSES[key].split(":")
    try:
        return getattr(importlib.import_module(f"shotline.tools.speech.{module}"), cls)
    except (ImportError, AttributeError) as exc:
        raise NotBuiltError(f"the {key!r} speech wrapper is not built yet") from exc


def get_voice_model(
    name: str,
    settings: Settings | None = None,
    *,
    model_id: str | None = None,
    client: httpx.AsyncClient | None = None,
) -> VoiceModel:
    """A ready voice model. Hosted ones read their key and base URL from the settings and
    environment; one with no key (or espeak with no binary) is returned too, and refuses to be
    called (`unavailable_reason` says why)."""
    cls = voice_model_class(name)
    settings = settings or get_settings()
    if name.strip().lower() == "espeak":
        return cls.from_settings(settings)
    return cls.from_settings(settings, model_id=model_id, client=client)


@dataclass(frozen=True)
class VoiceProviderInfo:
    name: str
    cards: tuple[VoiceCard, ...]
    unavailable: str | None  # why it cannot be used here; None when it can


def voice_catalog(settings: Settings | None = None) -> list[VoiceProviderInfo]:
    """Every speech provider, its models and whether it can be used here."""
    infos = []
    for name in SPEECH_PROVIDERS:
        model = get_voice_model(name, settings)
        cards = tuple(getattr(type(model), "cards", ()) or (model.card,))
        infos.append(VoiceProviderInfo(name=name, cards=cards, unavailable=model.unavailable_reason()))
    return infos


# --- casting --------------------------------------------------------------------------------------


class VoiceHint(BaseModel):
    """What a character's description says about how they sound; None where it says nothing."""

    model_config = ConfigDict(frozen=True)
    gender: Gender | None = None
    age: Age | None = None


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WORDS: dict[str, frozenset[str]] = {
    "female": _wordset(
        "woman women girl girls lady she her hers herself female mother mom mum wife sister daughter "
        "grandmother grandma granny aunt queen princess actress waitress widow bride nun madam mrs ms miss "
        "femme fille mujer chica"
    ),
    "male": _wordset(
        "man men boy boys guy he him his himself male father dad husband brother son grandfather grandpa "
        "uncle king prince actor waiter widower groom monk sir mr beard bearded moustache mustache "
        "homme garçon hombre chico"
    ),
    "child": _wordset("child children kid kids toddler baby infant schoolboy schoolgirl"),
    "young": _wordset("young youth teen teens teenage teenager student adolescent"),
    "old": _wordset(
        "old elderly aged ageing aging grandmother grandfather grandma grandpa granny stooped wrinkled "
        "white-haired grey-haired gray-haired veteran ancient"
    ),
}
_CJK: dict[str, tuple[str, ...]] = {
    "female": ("女", "她", "姐", "妹", "母", "妈", "奶奶", "婆", "姑", "嫂", "妻", "公主"),
    "male": ("男", "他", "哥", "弟", "父", "爸", "爷", "叔", "伯", "丈夫", "王子", "胡子"),
    "child": ("孩", "童", "娃"),
    "young": ("少年", "少女", "青年", "学生"),
    "old": ("老", "爷爷", "奶奶", "姥"),
}
_AGE_RANK: dict[Age, int] = {"child": 0, "young": 1, "adult": 2, "old": 3}
_TOKEN = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?", re.UNICODE)
_NUMBER_AGE = re.compile(r"(\d{1,3})\s*(?:s\b|'s\b|岁|yo\b|years?\b|-year)?", re.IGNORECASE)


def _age_from_number(text: str) -> Age | None:
    """'20s' -> young, '45' -> adult, '70s' -> old, '8 years' -> child."""
    found = _NUMBER_AGE.search(text)
    if not found:
        return None
    years = int(found.group(1))
    if years < 13:
        return "child"
    if years < 30:
        return "young"
    return "adult" if years < 60 else "old"


def _score(text: str, kind: str) -> int:
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    return sum(t in _WORDS[kind] for t in tokens) + sum(text.count(w) for w in _CJK[kind])


def voice_hint(description: str, attributes: Mapping[str, str] | None = None) -> VoiceHint:
    """Gender and age as a description (and the bible's `age` attribute) suggest them."""
    female, male = _score(description, "female"), _score(description, "male")
    gender: Gender | None = "female" if female > male else "male" if male > female else None
    age: Age | None = None
    stated = (attributes or {}).get("age", "")
    if stated:
        age = _age_from_number(stated) or _age_words(stated)
    age = age or _age_from_number(_parenthesised(description)) or _age_words(description)
    return VoiceHint(gender=gender, age=age)


def _age_words(text: str) -> Age | None:
    scores = {kind: _score(text, kind) for kind in ("child", "young", "old")}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] > 0 else None  # type: ignore[return-value]


def _parenthesised(description: str) -> str:
    """The '(20s)' of 'MEI (20s), ...': screenplay ages are written in parentheses."""
    return " ".join(re.findall(r"\(([^)]*)\)", description))


def _stable_index(provider: str, character_id: str, size: int) -> int:
    digest = hashlib.sha256(f"{provider}:{character_id}".encode()).hexdigest()
    return int(digest, 16) % size


def _tiers(card: VoiceCard, hint: VoiceHint, language: str | None) -> list[list[Voice]]:
    """Voices that fit, best first: the hinted gender at the nearest age, then that gender at any
    age, then anyone who speaks the language. Casting widens only when a tier is used up."""
    lang = (language or "").lower().split("-")[0]
    pool = [v for v in card.voices if not v.languages or lang in v.languages] or list(card.voices)
    gendered = pool
    if hint.gender:
        gendered = (
            [v for v in pool if v.gender == hint.gender] or [v for v in pool if v.gender == "neutral"] or pool
        )
    fitting = gendered
    if hint.age:
        want = _AGE_RANK[hint.age]
        nearest = min(abs(_AGE_RANK[v.age] - want) for v in gendered)
        fitting = [v for v in gendered if abs(_AGE_RANK[v.age] - want) == nearest]
    return [fitting, gendered, pool]


def pick_voice(
    card: VoiceCard,
    character_id: str,
    *,
    description: str = "",
    attributes: Mapping[str, str] | None = None,
    language: str | None = None,
    override: str | None = None,
    taken: Iterable[str] = (),
) -> Voice:
    """The voice for one character: `override` if given (any id the provider knows, cloned voices
    included), else a stable pick among the card's voices that fit the description's hints,
    avoiding voices in `taken` while free ones that fit remain."""
    if override:
        return card.voice(override) or Voice(id=override, label=override)
    if not card.voices:
        raise NotBuiltError(f"{card.display_name} lists no voices; pass the voice id explicitly")
    tiers = _tiers(card, voice_hint(description, attributes), language)
    used = set(taken)
    for pool in tiers:
        start = _stable_index(card.name, character_id, len(pool))
        for step in range(len(pool)):
            voice = pool[(start + step) % len(pool)]
            if voice.id not in used:
                return voice
    best = tiers[0]
    return best[_stable_index(card.name, character_id, len(best))]


def cast_voices(
    card: VoiceCard,
    characters: Iterable[Any],
    *,
    kept: Mapping[str, str] | None = None,
    language: str | None = None,
) -> dict[str, str]:
    """Character id -> voice id for a whole cast: the voices already kept (in the bible) stay, and
    everyone new gets a stable voice that fits, different from the others' while any are left.

    `characters` are bible `Character`s, or anything with `id`, `description` and `attributes`.
    """
    kept = dict(kept or {})
    characters = list(characters)
    cast: dict[str, str] = {}
    for character in characters:
        cid = str(character.id)
        if cid in kept:
            cast[cid] = kept[cid]
    for character in characters:
        cid = str(character.id)
        if cid in cast:
            continue
        text = f"{getattr(character, 'name', '')} {getattr(character, 'description', '')}"
        voice = pick_voice(
            card,
            cid,
            description=text,
            attributes=getattr(character, "attributes", None),
            language=language,
            taken=cast.values(),
        )
        cast[cid] = voice.id
    return cast


# --- re-casting by a hint ---------------------------------------------------------------------------

# comparative words: a change relative to the voice a character has now
_RELATIVE: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "deeper": (
        _wordset("deeper deep lower low bass baritone gravelly gruffer gruff darker huskier husky heavier"),
        ("低沉", "深沉", "浑厚", "低", "粗", "沉"),
    ),
    "higher": (
        _wordset("higher high lighter brighter thinner squeakier squeaky sweeter shriller"),
        ("高", "尖", "清脆", "亮", "细"),
    ),
    "older": (_wordset("older elder mature maturer aged"), ("更老", "年长", "成熟", "苍老", "老一")),
    "younger": (_wordset("younger youthful fresher"), ("年轻", "稚嫩", "更小")),
}
_GENDER_DEPTH: dict[Gender, int] = {"female": 0, "neutral": 1, "male": 2}
_DEEP_LABELS = ("deep", "低沉", "浑厚", "霸气")


class VoiceWish(BaseModel):
    """What a re-casting note asks for: an absolute gender or age, and relative moves (+1, 0, -1)."""

    model_config = ConfigDict(frozen=True)
    gender: Gender | None = None
    age: Age | None = None
    deeper: int = 0
    older: int = 0


def voice_wish(hint: str) -> VoiceWish:
    """'deeper' -> deeper +1; 'a woman's voice' -> female; 'older' -> older +1; '更低沉' -> deeper +1."""
    tokens = {t.lower() for t in _TOKEN.findall(hint)}

    def said(kind: str) -> bool:
        words, cjk = _RELATIVE[kind]
        return bool(tokens & words) or any(w in hint for w in cjk)

    absolute = voice_hint(hint)
    deeper = int(said("deeper")) - int(said("higher"))
    older = int(said("older")) - int(said("younger"))
    return VoiceWish(gender=absolute.gender, age=absolute.age, deeper=deeper, older=older)


def _depth(voice: Voice) -> int:
    label = f"{voice.label} {voice.id}".lower()
    deep = any(word in label for word in _DEEP_LABELS)
    return _GENDER_DEPTH[voice.gender] * 10 + _AGE_RANK[voice.age] * 2 + int(deep)


def voice_for_hint(
    card: VoiceCard,
    character_id: str,
    current: str | None,
    hint: str,
    *,
    description: str = "",
    attributes: Mapping[str, str] | None = None,
    language: str | None = None,
    taken: Iterable[str] = (),
) -> Voice:
    """A different voice from `card` for one character, as a note asks ('deeper', 'older', 'a woman's
    voice', '更低沉'): what the note says must hold, the rest of the character's voice (gender, age)
    is kept where it can be, voices other characters have are avoided, and the smallest move that
    satisfies a relative note wins, so asking 'deeper' twice goes deeper twice. Stable per character.

    Raises InputError when no other voice on the card fits, naming the voices there are.
    """
    if not card.voices:
        raise NotBuiltError(f"{card.display_name} lists no voices; pass the voice id explicitly")
    wish = voice_wish(hint)
    base = card.voice(current) if current else None
    if base is None:  # a cloned voice, or nobody cast yet: go by what the description says
        said = voice_hint(description, attributes)
        base = Voice(id=current or "", gender=said.gender or "neutral", age=said.age or "adult")
    lang = (language or "").lower().split("-")[0]
    pool = [v for v in card.voices if v.id != base.id and (not v.languages or lang in v.languages)]
    pool = pool or [v for v in card.voices if v.id != base.id]
    rank, depth = _AGE_RANK[base.age], _depth(base)
    must: list[Callable[[Voice], bool]] = []
    if wish.gender:
        must.append(lambda v: v.gender == wish.gender)
    elif base.gender != "neutral":  # 'deeper' for a woman is a deeper woman's voice, not a man's
        must.append(lambda v: v.gender == base.gender)
    if wish.older:
        must.append(lambda v: (_AGE_RANK[v.age] - rank) * wish.older > 0)
    if wish.deeper:
        must.append(lambda v: (_depth(v) - depth) * wish.deeper > 0)
    for test in must:
        pool = [v for v in pool if test(v)]
    if not pool:
        known = ", ".join(v.id for v in card.voices)
        raise InputError(
            f"{card.display_name} has no other voice that fits {hint.strip() or 'a change'!r} "
            f"(now {base.label or base.id}); name one: {known}"
        )
    if wish.age:
        want = _AGE_RANK[wish.age]
        pool = _nearest(pool, lambda v: abs(_AGE_RANK[v.age] - want))
    elif not wish.older:
        pool = _nearest(pool, lambda v: abs(_AGE_RANK[v.age] - rank))
    if wish.deeper or wish.older:  # the smallest step that does what was asked
        pool = _nearest(
            pool, lambda v: abs(_depth(v) - depth) if wish.deeper else abs(_AGE_RANK[v.age] - rank)
        )
    used = set(taken)
    pool = [v for v in pool if v.id not in used] or pool
    digest = hashlib.sha256(f"{card.name}:{character_id}:{hint}".encode()).hexdigest()
    return pool[int(digest, 16) % len(pool)]


def _nearest(pool: list[Voice], distance: Callable[[Voice], int]) -> list[Voice]:
    best = min(distance(v) for v in pool)
    return [v for v in pool if distance(v) == best]
