"""The film's dialogue and sound: who speaks each line, the spoken lines (paid once), and the mix.

The line runs in four steps the editor calls in order, so each can be shown, priced or skipped:

- `cast` gives every speaking character a voice of the chosen provider and keeps it in the bible
  (`Character.voices`), so a character sounds the same in every shot and every later cut;
- `plan_lines` puts each dialogue line on the cut's clock and names its request: a line is spoken
  by the voice ("tts"), by the take's own model ("native", video models with audio), or shown as
  a caption only; `speech_cost_usd` prices the plan for the approval before anything is paid;
- `speak` synthesizes the lines not yet in the cache. A line's audio is stored under the sha256 of
  its request (provider, model, voice, language, delivery note, text), so a re-cut, a re-run or a
  crashed run never pays for the same line twice; each paid line is a row in the ledger;
- `mix` lays the lines at their times over the takes' own sound and a music bed ducked under
  speech, normalised to the loudness target (`tools.audio`).

A line that a provider refuses or fails stays a caption with a note: one line never costs the film.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import logging
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shotline.config import Settings, get_settings
from shotline.errors import (
    InputError,
    ProviderError,
    RefusedPrompt,
    RenderError,
    TransientProviderError,
    UnknownProviderError,
)
from shotline.memory.models import Breakdown, Sound
from shotline.memory.store import Ledger, atomic_write
from shotline.tools.audio import DialogueLine, Loudness, audio_duration, cut_line, mix_sound, sound_span
from shotline.tools.speech import (
    SPEECH_PROVIDERS,
    VoiceCard,
    VoiceModel,
    cast_voices,
    get_voice_model,
    pick_voice,
    voice_for_hint,
)
from shotline.tools.speech.espeak import espeak_binary
from shotline.tools.text import has_cjk
from shotline.tools.timeline import EditDecision
from shotline.tools.timing import speech_windows

log = logging.getLogger(__name__)

Source = Literal["tts", "native", "caption"]
MAX_TEMPO = 1.25  # faster than this and a line stops sounding like speech; it runs over instead
RETRIES = 2  # of a transient fault (429, 5xx, timeout), per line
RETRY_BACKOFF_S = 0.25  # doubled on each retry, unless the provider says how long to wait
RETRY_AFTER_CAP_S = 10.0
PRE_ROLL_S = 0.01  # silence kept before a line's first sound: no click, and the onset stays on cue
POST_ROLL_S = 0.05
FIT_SLACK_S = 0.005
CJK_LANGUAGES = frozenset({"zh", "ja", "ko", "yue"})
_KANA = re.compile("[\u3040-\u30ff]")
_HANGUL = re.compile("[\uac00-\ud7af]")
_LATIN = re.compile("[A-Za-z]")
NO_ESPEAK = (
    "captions only: espeak-ng is not installed; set SHOTLINE_SPEECH_PROVIDER to openai, minimax, "
    "elevenlabs or volcengine with its key, or install espeak-ng"
)
OFF = "captions only: SHOTLINE_SPEECH_PROVIDER is none"
NO_VOICE_NOTE = "captions only: no speech voice was given for this cut"
VOICES_OFF = "captions only: voices are off for this cut"


class LinePlan(BaseModel):
    """One dialogue line of the cut: where it sits, who says it, and how it is heard."""

    model_config = ConfigDict(extra="forbid")
    shot_id: str
    index: int = Field(ge=0, description="the line's position in its shot's dialogue")
    character: str = Field(description="character id")
    text: str
    direction: str | None = Field(default=None, description="the parenthetical: 'whispering'")
    language: str = Field(description="ISO 639-1 code the line is spoken in")
    start_s: float = Field(description="where the line starts on the cut's clock")
    end_s: float = Field(description="the latest it should finish: the next line's start, or its shot's end")
    window_end_s: float = Field(description="where its caption ends (the reading-time window)")
    source: Source
    provider: str | None = None
    model_id: str | None = None
    voice: str | None = None
    key: str | None = Field(default=None, description="sha256 of the request; the cache file's name")
    cost_usd: float = Field(default=0.0, description="what speaking it costs in this run (0 from the cache)")
    cached: bool = Field(default=False, description="its audio was already in the cache")
    path: Path | None = Field(default=None, description="the audio laid in the mix, once spoken")
    spoken_s: float | None = Field(default=None, description="how long it sounds, after any speed-up")
    tempo: float = Field(default=1.0, description="speed-up applied to fit its slot (at most 1.25)")
    note: str = ""


class Soundtrack(BaseModel):
    """What the film's sound came to, for report.json."""

    model_config = ConfigDict(extra="forbid")
    provider: str | None = Field(default=None, description="who spoke the lines; None: captions only")
    model_id: str | None = None
    lines: list[LinePlan]
    loudness: Loudness | None = Field(default=None, description="measured in the written mix")
    speech_usd: float = Field(default=0.0, description="paid for speech in this run")
    path: Path | None = Field(default=None, description="the mix (48 kHz stereo WAV)")
    note: str = ""


# --- the voice --------------------------------------------------------------------------------------


def voice_from_settings(settings: Settings | None = None) -> tuple[VoiceModel | None, str]:
    """The voice the settings ask for, and a plain note when there is none (why, and what to set).

    A named provider with no key is not an error: the film is cut with captions, and the note names
    the variable to set (never its value). A provider or model name that does not exist is.
    """
    settings = settings or get_settings()
    name = (settings.speech_provider or "auto").strip().lower()
    if name in ("none", "off", ""):
        return None, OFF
    if name == "auto":
        return (get_voice_model("espeak", settings), "") if espeak_binary() else (None, NO_ESPEAK)
    if name not in SPEECH_PROVIDERS:
        raise UnknownProviderError(
            f"SHOTLINE_SPEECH_PROVIDER={name!r} is not a speech provider; use auto, none, "
            f"{', '.join(SPEECH_PROVIDERS)}"
        )
    try:
        voice = get_voice_model(name, settings, model_id=settings.speech_model)
    except ProviderError as exc:  # an unknown model id
        raise InputError(f"SHOTLINE_SPEECH_MODEL={settings.speech_model!r}: {exc.message}") from exc
    reason = voice.unavailable_reason()
    if reason:
        if name == "espeak":
            return None, NO_ESPEAK
        return None, f"captions only: {name} speech cannot be used here ({reason})"
    return voice, ""


# --- casting ----------------------------------------------------------------------------------------


def speakers(breakdown: Breakdown) -> list[str]:
    """Character ids with dialogue in the script, first spoken first."""
    seen: dict[str, None] = {}
    for scene in breakdown.scenes:
        for beat in scene.beats:
            if beat.kind == "dialogue" and beat.character:
                seen.setdefault(beat.character, None)
    return list(seen)


def cast(
    breakdown: Breakdown,
    card: VoiceCard,
    language: str | None = None,
    *,
    speaking: Iterable[str] | None = None,
) -> Breakdown:
    """A copy where every character who speaks (in the script, or `speaking`) has a voice of this
    provider: voices kept in the bible stay; new ones differ from the others while any are left."""
    wanted = set(speakers(breakdown) if speaking is None else speaking)
    chosen = [c for c in breakdown.characters if c.id in wanted or card.name in c.voices]
    kept = {c.id: c.voices[card.name] for c in chosen if card.name in c.voices}
    voices = cast_voices(card, chosen, kept=kept, language=language or breakdown.language)
    copy = breakdown.model_copy(deep=True)
    for character in copy.characters:
        if character.id in voices:
            character.voices[card.name] = voices[character.id]
    return copy


def recast(
    breakdown: Breakdown,
    character_id: str,
    card: VoiceCard,
    *,
    voice: str | None = None,
    hint: str | None = None,
    language: str | None = None,
) -> Breakdown:
    """A copy where one character has a new voice: `voice` (an id, or a listed voice's name) if
    given, else one that fits `hint` ('deeper', 'older', "a woman's voice", '更低沉') and differs
    from the current one. Unknown ids are refused by cards with a closed list of voices."""
    known = [c.id for c in breakdown.characters]
    if character_id not in known:
        raise InputError(f"no character {character_id!r} to recast; characters: {', '.join(known)}")
    lang = language or breakdown.language
    copy = cast(breakdown, card, lang, speaking=[character_id])
    character = copy.character(character_id)
    if voice and voice.strip():
        chosen = _named_voice(card, voice.strip())
    else:
        others = [
            c.voices[card.name] for c in copy.characters if c.id != character_id and card.name in c.voices
        ]
        chosen = voice_for_hint(
            card,
            character_id,
            character.voices.get(card.name),
            hint or "",
            description=f"{character.name} {character.description}",
            attributes=character.attributes,
            language=lang,
            taken=others,
        ).id
    character.voices[card.name] = chosen
    return copy


def _named_voice(card: VoiceCard, name: str) -> str:
    if card.voice(name):
        return name
    folded = name.casefold()
    for voice in card.voices:
        if folded in (voice.id.casefold(), voice.label.casefold()):
            return voice.id
    if card.voices and not card.open_voices:
        listed = ", ".join(v.id for v in card.voices)
        raise InputError(f"{card.display_name} has no voice {name!r}; its voices: {listed}")
    return name  # a cloned or library voice: the provider knows it


# --- the plan ---------------------------------------------------------------------------------------


def line_language(text: str, default: str) -> str:
    """The film's language, unless the line is plainly in another script (Chinese in an English
    film, English in a Chinese one), so the voice reads it in the right language."""
    base = (default or "en").lower()
    cjk_film = base.split("-")[0] in CJK_LANGUAGES
    if has_cjk(text) and not cjk_film:
        return "ja" if _KANA.search(text) else "ko" if _HANGUL.search(text) else "zh"
    if cjk_film and not has_cjk(text) and _LATIN.search(text):
        return "en"
    return base


def line_key(
    provider: str, model_id: str, voice: str, language: str, direction: str | None, text: str
) -> str:
    """sha256 of the canonical request: the same line in the same voice is the same file."""
    request = {
        "provider": provider,
        "model_id": model_id,
        "voice": voice,
        "language": language,
        "direction": direction,
        "text": text,
    }
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def cached_audio(cache_dir: Path, key: str) -> Path | None:
    """The line's audio in the cache, or None."""
    for ext in ("wav", "mp3"):
        path = Path(cache_dir) / f"{key}.{ext}"
        if path.is_file() and path.stat().st_size > 0:
            return path
    return None


def _direction(parenthetical: str | None) -> str | None:
    words = (parenthetical or "").strip().strip("()（）").strip()
    return words or None


def plan_lines(
    decisions: Sequence[EditDecision],
    breakdown: Breakdown,
    voice: VoiceModel | None,
    cache_dir: Path,
    *,
    native: Collection[str] = (),
    enabled: bool = True,
) -> list[LinePlan]:
    """Every dialogue line of the cut, in cut order, placed where the subtitles put it and named
    by its request; synthesizes nothing. Lines of shots in `native` are voiced by their take."""
    card = voice.card if voice is not None and enabled else None
    voices: dict[str, str] = {}
    if card is not None:
        spoken = [line.character for d in decisions if d.shot.id not in native for line in d.shot.dialogue]
        cast_bd = cast(breakdown, card, speaking=spoken)
        voices = {c.id: c.voices[card.name] for c in cast_bd.characters if card.name in c.voices}
    plan: list[LinePlan] = []
    for decision in decisions:
        windows = speech_windows(decision.shot)
        starts = [decision.start_s + start for start, _ in windows]
        for index, (line, (_, end)) in enumerate(zip(decision.shot.dialogue, windows, strict=True)):
            text = " ".join(line.text.split())
            latest = starts[index + 1] if index + 1 < len(starts) else decision.end_s
            entry = LinePlan(
                shot_id=decision.shot.id,
                index=index,
                character=line.character,
                text=text,
                direction=_direction(line.parenthetical),
                language=line_language(text, breakdown.language),
                start_s=round(starts[index], 4),
                end_s=round(min(latest, decision.end_s), 4),
                window_end_s=round(min(decision.start_s + end, decision.end_s), 4),
                source="caption",
            )
            if entry.start_s >= decision.end_s:  # trimmed out of its shot: spoken, it would land in the next
                entry.note = "the trim cut this line out of its shot"
            elif decision.shot.id in native:
                entry.source, entry.note = "native", "the take speaks it"
            elif card is not None and not text:
                entry.note = "nothing to say: the line is empty"
            elif card is not None:
                _plan_tts(entry, card, voices, Path(cache_dir))
            plan.append(entry)
    return plan


def _plan_tts(entry: LinePlan, card: VoiceCard, voices: dict[str, str], cache_dir: Path) -> None:
    voice_id, note = voices.get(entry.character), ""
    if voice_id is None:  # a speaker the breakdown does not know: a voice for this cut only
        voice_id = pick_voice(card, entry.character, language=entry.language, taken=voices.values()).id
        voices[entry.character] = voice_id
    elif card.voices and not card.open_voices and card.voice(voice_id) is None:
        others = [v for c, v in voices.items() if c != entry.character]
        fresh = pick_voice(card, entry.character, language=entry.language, taken=others).id
        note = f"the kept voice {voice_id!r} is not offered by {card.model_id}; {fresh!r} speaks instead"
        voice_id = fresh
    direction = entry.direction if card.directed else None  # a note the model ignores changes nothing
    key = line_key(card.name, card.model_id, voice_id, entry.language, direction, entry.text)
    cached = cached_audio(cache_dir, key) is not None
    entry.source, entry.provider, entry.model_id, entry.voice = "tts", card.name, card.model_id, voice_id
    entry.key, entry.cached, entry.note = key, cached, note
    entry.cost_usd = 0.0 if cached else card.cost(entry.text)


def speech_cost_usd(plan: Iterable[LinePlan]) -> float:
    """What speaking the plan will cost: its uncached lines, each distinct request once."""
    costs = {line.key: line.cost_usd for line in plan if line.source == "tts" and not line.cached}
    return round(sum(costs.values()), 6)


# --- speaking ---------------------------------------------------------------------------------------


def _caption(line: LinePlan, note: str) -> LinePlan:
    return line.model_copy(update={"source": "caption", "cost_usd": 0.0, "path": None, "note": note})


def _scrub(voice: VoiceModel, text: str) -> str:
    """Belt and braces: the wrappers already scrub their errors; no secret reaches a note."""
    secrets = getattr(voice, "secrets", None)
    for secret in secrets() if callable(secrets) else ():
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


async def _synthesize(voice: VoiceModel, line: LinePlan) -> Any:
    """One line, retrying a transient fault `RETRIES` times with a short backoff."""
    direction = line.direction if voice.card.directed else None
    for attempt in range(RETRIES + 1):
        try:
            return await voice.synthesize(line.text, line.voice or "", line.language, direction=direction)
        except TransientProviderError as exc:
            if attempt == RETRIES:
                raise
            wait = RETRY_BACKOFF_S * 2**attempt
            if exc.retry_after is not None:
                wait = min(max(exc.retry_after, wait), RETRY_AFTER_CAP_S)
            log.info(
                "speech for shot %s: %s; retrying in %.2f s", line.shot_id, _scrub(voice, str(exc)), wait
            )
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")


async def speak(
    plan: Sequence[LinePlan],
    voice: VoiceModel | None,
    cache_dir: Path,
    *,
    ledger: Ledger | None = None,
    project_id: str | None = None,
    on_progress: Callable[[int, int], Any] | None = None,
    concurrency: int = 4,
) -> list[LinePlan]:
    """The plan with its spoken lines: uncached ones synthesized (each distinct request once, at most
    `concurrency` at a time) and stored under `cache_dir/<key>.<ext>`; every line cut to its sound,
    and sped up (at most 1.25x) when it would overrun its slot. Paid lines go in the ledger.

    A line the provider refuses or fails becomes a caption with a note; the others go on.
    """
    cache_dir = Path(cache_dir)
    out = list(plan)
    todo: dict[str, list[int]] = {}
    for i, line in enumerate(out):
        if line.source != "tts" or not line.key:
            continue
        if voice is None or (line.provider, line.model_id) != (voice.card.name, voice.card.model_id):
            out[i] = _caption(line, f"no {line.provider} voice to speak it")
        elif cached_audio(cache_dir, line.key) is not None:
            out[i] = line.model_copy(update={"cached": True, "cost_usd": 0.0})
        else:
            todo.setdefault(line.key, []).append(i)
    total, done = len(todo), 0
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(key: str, indices: list[int]) -> None:
        nonlocal done
        assert voice is not None
        line = out[indices[0]]
        try:
            async with gate:
                speech = await _synthesize(voice, line)
        except RefusedPrompt as exc:
            note = _scrub(voice, f"refused, so it stays a caption: {exc}")
            for i in indices:
                out[i] = _caption(out[i], note)
        except ProviderError as exc:
            note = _scrub(voice, f"not spoken, so it stays a caption: {exc}")
            for i in indices:
                out[i] = _caption(out[i], note)
        else:
            await asyncio.to_thread(atomic_write, cache_dir / f"{key}.{speech.format}", speech.audio)
            if ledger is not None and speech.cost_usd > 0:
                ledger.record(
                    project_id=project_id or "",
                    shot_id=line.shot_id,
                    render_key=key,
                    model=f"{speech.provider}/{speech.model_id}",
                    cost_usd=speech.cost_usd,
                    note="speech",
                )
            for n, i in enumerate(indices):  # the same request twice is paid once
                out[i] = out[i].model_copy(
                    update={"cost_usd": speech.cost_usd if n == 0 else 0.0, "cached": n > 0}
                )
        done += 1
        if on_progress is not None:
            result = on_progress(done, total)
            if inspect.isawaitable(result):
                await result

    await asyncio.gather(*(one(key, indices) for key, indices in todo.items()))
    fitted = await asyncio.gather(*(asyncio.to_thread(_fit, line, cache_dir) for line in out))
    return list(fitted)


def _fit(line: LinePlan, cache_dir: Path) -> LinePlan:
    """Cut a spoken line to its sound and, when it overruns its slot, speed it up to fit (at most
    MAX_TEMPO); a line still too long runs over, and its note says so."""
    raw = cached_audio(cache_dir, line.key) if line.source == "tts" and line.key else None
    if raw is None:
        return line
    try:
        span = sound_span(raw)
    except RenderError as exc:
        return _caption(line, f"the voice's audio could not be read, so it stays a caption: {exc}")
    if span is None:
        return _caption(line, "the voice returned silence, so it stays a caption")
    start = max(0.0, span[0] - PRE_ROLL_S)
    end = min(span[1] + POST_ROLL_S, audio_duration(raw))
    length, slot = end - start, line.end_s - line.start_s
    tempo = 1.0
    if length > slot + FIT_SLACK_S:
        tempo = round(min(MAX_TEMPO, length / slot), 3) if slot > 0 else MAX_TEMPO
    dest = cache_dir / "fitted" / f"{line.key}-{tempo:.3f}.wav"
    if not dest.is_file():
        cut_line(raw, dest, start_s=start, end_s=end, tempo=tempo)
    spoken = length / tempo
    notes = [line.note] if line.note else []
    if tempo > 1.0:
        notes.append(f"sped up {tempo:.2f}x to fit")
    if spoken > slot + FIT_SLACK_S:
        notes.append(f"runs {spoken - max(slot, 0.0):.2f} s past its slot")
    return line.model_copy(
        update={"path": dest, "spoken_s": round(spoken, 3), "tempo": tempo, "note": "; ".join(notes)}
    )


# --- the mix ----------------------------------------------------------------------------------------


def _music(path: str) -> Path:
    music = Path(path).expanduser()
    if not music.is_file():
        raise InputError(f"the music bed {music.name!r} does not exist; give the path of an audio file")
    try:
        seconds = audio_duration(music)
    except RenderError as exc:
        raise InputError(f"the music bed {music.name!r} is not audio ffmpeg can read (WAV, MP3 ...)") from exc
    if seconds <= 0:
        raise InputError(f"the music bed {music.name!r} holds no sound")
    return music


def mix(
    plan: Sequence[LinePlan],
    duration_s: float,
    dest: Path,
    *,
    native: Path | None,
    sound: Sound,
) -> Loudness:
    """The film's sound, exactly `duration_s` long (48 kHz stereo WAV): the takes' own sound
    (`native`, on the cut's clock, summed as it is), the spoken lines at their times, and the music
    bed looped, `sound.music_db` from the dialogue and ducked under every line (natively spoken ones
    too); normalised to `sound.target_lufs`, true peak under -1.5 dBTP. Returns what was measured."""
    music = _music(sound.music) if sound.music else None
    lines = [DialogueLine(start_s=ln.start_s, path=ln.path) for ln in plan if ln.source == "tts" and ln.path]
    duck = [(ln.start_s, ln.window_end_s) for ln in plan if ln.source == "native"]
    return mix_sound(
        lines,
        duration_s,
        dest,
        music=music,
        music_db=sound.music_db,
        target_lufs=sound.target_lufs,
        native=native,
        duck_spans=duck,
    )


async def make_soundtrack(
    decisions: Sequence[EditDecision],
    breakdown: Breakdown,
    voice: VoiceModel | None,
    cache_dir: Path,
    dest: Path,
    *,
    duration_s: float,
    sound: Sound | None = None,
    native: Path | None = None,
    native_shots: Collection[str] = (),
    note: str = "",
    ledger: Ledger | None = None,
    project_id: str | None = None,
    on_progress: Callable[[int, int], Any] | None = None,
) -> Soundtrack:
    """plan_lines, speak and mix in one call; `note` is voice_from_settings' note."""
    sound = sound or Sound()
    plan = plan_lines(decisions, breakdown, voice, cache_dir, native=native_shots, enabled=sound.voices)
    plan = await speak(plan, voice, cache_dir, ledger=ledger, project_id=project_id, on_progress=on_progress)
    loudness = await asyncio.to_thread(mix, plan, duration_s, dest, native=native, sound=sound)
    spoken = voice is not None and sound.voices
    return Soundtrack(
        provider=voice.card.name if spoken and voice else None,
        model_id=voice.card.model_id if spoken and voice else None,
        lines=plan,
        loudness=loudness,
        speech_usd=round(sum(ln.cost_usd for ln in plan if ln.source == "tts" and not ln.cached), 6),
        path=Path(dest),
        note=note if sound.voices else VOICES_OFF,
    )
