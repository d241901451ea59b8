"""ffmpeg and PyAV: probe files, grab frames, encode cuts. The only module that runs ffmpeg."""

from __future__ import annotations

import itertools
import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import imageio_ffmpeg
from PIL import Image

from shotline.errors import RenderError
from shotline.memory.models import FPS

SAMPLE_RATE = 48_000
STDERR_TAIL_LINES = 12


def ffmpeg_exe() -> str:
    """The ffmpeg binary bundled with imageio-ffmpeg (honours IMAGEIO_FFMPEG_EXE)."""
    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class VideoInfo:
    duration_s: float
    fps: float
    frames: int
    width: int
    height: int
    codec: str
    has_audio: bool
    audio_codec: str | None = None
    pix_fmt: str | None = None


def probe(path: Path) -> VideoInfo:
    """Decode-level facts about a video file; raises RenderError if it is not a readable video."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise RenderError(f"{path.name} has no video stream")
            v = container.streams.video[0]
            rate = Fraction(v.average_rate or v.guessed_rate or 0)
            frames = v.frames
            if not frames:
                frames = sum(1 for _ in container.decode(v))
            if v.duration is not None and v.time_base is not None:
                duration = float(v.duration * v.time_base)
            elif rate:
                duration = frames / float(rate)
            else:
                duration = float(container.duration or 0) / av.time_base
            audio = container.streams.audio[0] if container.streams.audio else None
            return VideoInfo(
                duration_s=round(duration, 4),
                fps=float(rate),
                frames=frames,
                width=v.codec_context.width,
                height=v.codec_context.height,
                codec=v.codec_context.name,
                has_audio=audio is not None,
                audio_codec=audio.codec_context.name if audio is not None else None,
                pix_fmt=v.codec_context.pix_fmt,
            )
    except av.error.FFmpegError as exc:
        raise RenderError(f"{path.name} is not a readable video: {exc}") from exc


def has_audio(path: Path) -> bool:
    """Whether a file carries an audio stream; opens the container only, decodes nothing."""
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except av.error.FFmpegError as exc:
        raise RenderError(f"{Path(path).name} is not a readable video: {exc}") from exc


def grab_frame(path: Path, at_s: float) -> Image.Image:
    """The first frame shown at `at_s` seconds (the last frame if `at_s` is past the end).

    Seeks to the keyframe before `at_s` and decodes forward, so it costs a fraction of a GOP.
    """
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise RenderError(f"{Path(path).name} has no video stream")
            stream = container.streams.video[0]
            if stream.time_base is not None and at_s > 0:
                container.seek(int(at_s / stream.time_base), stream=stream, backward=True)
            frame = None
            for frame in container.decode(stream):
                if frame.time is not None and frame.time >= at_s - 0.5 / FPS:
                    break
            if frame is None:
                raise RenderError(f"{Path(path).name} has no decodable frame")
            return frame.to_image()
    except av.error.FFmpegError as exc:
        raise RenderError(f"could not read a frame of {Path(path).name}: {exc}") from exc


# --- cuts ---------------------------------------------------------------------------------

XFADE = {"crossfade": "fade", "dip": "fadeblack"}
"""ffmpeg's xfade transition for each Shotline transition kind."""
WAV_CODEC = "pcm_s16le"
FILTER_SCRIPT_CHARS = 60_000
"""Filtergraphs longer than this go to ffmpeg in a file, well under the kernel's 128 KiB per argument."""
MAX_INPUTS = 12
"""Takes one ffmpeg run decodes at once. Every open input holds decoder and queue buffers (30-40 MB
each at 720p with sound and transitions: 60 takes in one run peaked at 1.8 GB), so a longer cut is
encoded in pieces of about this many takes, split at plain cuts, and the pieces joined by stream
copy: memory stays flat (under 0.5 GB) whatever the film's length, and nothing is encoded twice."""
DECODER_THREADS = "2"
"""Per input: the takes are decoded one after another (two inside a transition), so more threads per
decoder only multiply its buffers."""


@dataclass(frozen=True)
class Segment:
    """One piece of a cut: the first `frames` frames (at FPS) of a media file.

    Whole frames, not seconds, so the encoded cut, the OTIO timeline and the subtitles agree to
    the frame. A file shorter than `frames` holds its last frame (and pads silence). A transition
    into the segment blends its first `overlap_in` frames with the previous segment's last ones.
    `crop_x` is the horizontal centre (0..1) of the window a reframed version keeps.
    """

    path: Path
    frames: int
    audio: bool
    overlap_in: int = 0
    transition_in: str = "cut"
    crop_x: float | None = None

    @property
    def duration_s(self) -> float:
        return self.frames / FPS

    @property
    def samples(self) -> int:
        return self.frames * SAMPLE_RATE // FPS

    @property
    def overlap_samples(self) -> int:
        return self.overlap_in * SAMPLE_RATE // FPS


def segment(
    path: Path,
    frames: int,
    *,
    overlap_in: int = 0,
    transition_in: str = "cut",
    crop_x: float | None = None,
) -> Segment:
    """A Segment for `path`, looking up whether it has audio to mix or silence to make."""
    name = Path(path).name
    if frames <= 0:
        raise RenderError(f"{name}: a segment needs at least one frame, got {frames}")
    if transition_in != "cut" and transition_in not in XFADE:
        raise RenderError(f"{name}: unknown transition {transition_in!r}; use cut, crossfade or dip")
    if overlap_in < 0 or overlap_in >= frames or (overlap_in and transition_in == "cut"):
        raise RenderError(
            f"{name}: a {transition_in} cannot overlap {overlap_in} of the segment's {frames} frames"
        )
    if crop_x is not None and not 0.0 <= crop_x <= 1.0:
        raise RenderError(f"{name}: crop_x is a horizontal position from 0 to 1, got {crop_x}")
    return Segment(
        path=Path(path),
        frames=frames,
        audio=has_audio(path),
        overlap_in=overlap_in,
        transition_in=transition_in if overlap_in else "cut",
        crop_x=crop_x,
    )


def cut_frames(segments: Sequence[Segment]) -> int:
    """Frames in the cut: every segment's, less the frames that transitions overlap."""
    return sum(seg.frames - seg.overlap_in for seg in segments)


def _video_chain(
    i: int, seg: Segment, size: tuple[int, int], base_size: tuple[int, int] | None = None
) -> str:
    """Normalise input i to the cut's format (size, 24 fps, square pixels, yuv420p), exactly N frames.

    With `base_size`, the input is first fitted to that frame, then cut down to `size`'s shape around
    the segment's `crop_x` (the centre when None): a vertical or square version of a 16:9 film.
    """
    width, height = base_size or size
    reframe = "" if base_size is None else _crop(seg.crop_x, base_size, size)
    return (
        f"[{i}:v:0]setpts=PTS-STARTPTS,fps={FPS},"
        f"scale={width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2,"
        f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,{reframe}setsar=1,format=yuv420p,"
        f"tpad=stop_mode=clone:stop={seg.frames},trim=end_frame={seg.frames},setpts=PTS-STARTPTS[v{i}]"
    )


def _crop(crop_x: float | None, base_size: tuple[int, int], size: tuple[int, int]) -> str:
    """crop+scale filters taking `size`'s aspect out of a `base_size` frame, the window centred on
    crop_x and kept inside the frame (no black bars); centred vertically if the target is wider."""
    (base_w, base_h), (out_w, out_h) = base_size, size
    if base_w * out_h >= out_w * base_h:  # the target is narrower: keep the full height
        crop_w, crop_h = min(base_w, round(base_h * out_w / out_h / 2) * 2), base_h
        centre = base_w * (0.5 if crop_x is None else crop_x)
        x, y = min(max(round((centre - crop_w / 2) / 2) * 2, 0), base_w - crop_w), 0
    else:
        crop_w, crop_h = base_w, min(base_h, round(base_w * out_h / out_w / 2) * 2)
        x, y = 0, (base_h - crop_h) // 2 // 2 * 2
    return f"crop={crop_w}:{crop_h}:{x}:{y}:exact=1,scale={out_w}:{out_h},"


def _audio_chain(i: int, seg: Segment) -> str:
    """Stereo 48 kHz audio of exactly the segment's length: the take's own, or silence if it has none."""
    fmt = f"aformat=sample_fmts=fltp:sample_rates={SAMPLE_RATE}:channel_layouts=stereo"
    if not seg.audio:
        return f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={seg.samples},{fmt}[a{i}]"
    return (
        f"[{i}:a:0]aresample={SAMPLE_RATE},{fmt},"
        f"apad=whole_len={seg.samples},atrim=end_sample={seg.samples},asetpts=PTS-STARTPTS[a{i}]"
    )


def cut_filtergraph(
    segments: Sequence[Segment],
    width: int,
    height: int,
    *,
    base_size: tuple[int, int] | None = None,
    subtitles: str | None = None,
    wav: bool = False,
) -> str:
    """One filtergraph that normalises every segment and joins them into [vout] and [aout] (and [awav]
    when `wav`): runs of segments joined by cuts are concatenated, and the runs are joined by xfade
    (video) and acrossfade (audio) of the same whole number of frames, so sound stays in sync.

    Concatenating the cut runs first keeps the xfade chain as short as the number of transitions, so
    a film of many shots costs one concat plus one xfade per transition, not one xfade per shot.
    """
    chains = []
    for i, seg in enumerate(segments):
        chains += [_video_chain(i, seg, (width, height), base_size), _audio_chain(i, seg)]
    runs: list[list[int]] = []
    for i, seg in enumerate(segments):
        if i == 0 or seg.overlap_in:
            runs.append([])
        runs[-1].append(i)
    video, audio = [], []
    for r, run in enumerate(runs):
        if len(run) == 1:
            video.append(f"v{run[0]}")
            audio.append(f"a{run[0]}")
            continue
        pads = "".join(f"[v{i}][a{i}]" for i in run)
        chains.append(f"{pads}concat=n={len(run)}:v=1:a=1[rv{r}][ra{r}]")
        # back to a 1/FPS time base with frame-exact stamps, so xfade's offsets land on whole frames
        chains.append(f"[rv{r}]settb=1/{FPS},setpts=N[cv{r}]")
        video.append(f"cv{r}")
        audio.append(f"ra{r}")
    v_last, a_last, elapsed = video[0], audio[0], sum(segments[i].frames for i in runs[0])
    for r in range(1, len(runs)):
        incoming = segments[runs[r][0]]
        offset = elapsed - incoming.overlap_in  # the incoming run's first frame, in the output
        chains.append(
            f"[{v_last}][{video[r]}]xfade=transition={XFADE[incoming.transition_in]}"
            f":duration={incoming.overlap_in / FPS:.6f}:offset={offset / FPS:.6f}[xv{r}]"
        )
        chains.append(f"[{a_last}][{audio[r]}]acrossfade=ns={incoming.overlap_samples}:c1=tri:c2=tri[xa{r}]")
        v_last, a_last = f"xv{r}", f"xa{r}"
        elapsed = offset + sum(segments[i].frames for i in runs[r])
    chains.append(f"[{v_last}]{subtitles or 'null'}[vout]")
    chains.append(f"[{a_last}]asplit=2[aout][awav]" if wav else f"[{a_last}]anull[aout]")
    return ";".join(chains)


def cut_command(
    segments: Sequence[Segment],
    out_path: Path,
    width: int,
    height: int,
    *,
    base_size: tuple[int, int] | None = None,
    subtitles: str | None = None,
    audio_out: Path | None = None,
    mp4_audio: bool = True,
    script_dir: Path | None = None,
) -> list[str]:
    """The ffmpeg argv for a cut: H.264 yuv420p 24 fps + AAC stereo 48 kHz, faststart MP4; and, with
    `audio_out`, the same sound as a 48 kHz stereo WAV from the same run (with `mp4_audio` False,
    only there: the MP4 is picture only).

    With `script_dir`, a long filtergraph is passed in a file there rather than on the command line.
    """
    if not mp4_audio and audio_out is None:
        raise RenderError("a cut without sound in its MP4 needs audio_out for the sound")
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    for seg in segments:
        # read only what the cut uses (plus slack), so long takes cost nothing extra to decode
        args += ["-threads", DECODER_THREADS, "-t", f"{seg.duration_s + 0.5:.3f}", "-i", str(seg.path)]
    split = audio_out is not None and mp4_audio
    graph = cut_filtergraph(segments, width, height, base_size=base_size, subtitles=subtitles, wav=split)
    if script_dir is not None and len(graph) > FILTER_SCRIPT_CHARS:
        script = Path(script_dir) / "cut.filtergraph"
        script.write_text(graph, "utf-8")
        args += ["-/filter_complex", str(script)]
    else:
        args += ["-filter_complex", graph]
    args += ["-map", "[vout]"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p", "-r", str(FPS)]
    if mp4_audio:
        args += ["-map", "[aout]", "-c:a", "aac", "-b:a", "160k", "-ar", str(SAMPLE_RATE), "-ac", "2"]
    args += ["-map_metadata", "-1", "-movflags", "+faststart", "-progress", "pipe:1", "-nostats"]
    args += ["-f", "mp4", str(out_path)]
    if audio_out is not None:
        args += ["-map", "[awav]" if split else "[aout]", "-c:a", WAV_CODEC, "-ar", str(SAMPLE_RATE)]
        args += ["-ac", "2", "-map_metadata", "-1", "-f", "wav", str(audio_out)]
    return args


def render_cut(
    segments: Sequence[Segment],
    out_path: Path,
    *,
    size: tuple[int, int],
    base_size: tuple[int, int] | None = None,
    subtitles: str | None = None,
    audio_out: Path | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> Path:
    """Encode `segments` into `out_path` with one ffmpeg call, joined by their transitions; exactly
    `cut_frames(segments)` frames long.

    `base_size` reframes: each segment is fitted to that frame, then cropped to `size`'s shape around
    its `crop_x`. `subtitles` is a pre-escaped filter (e.g. `subtitles=filename=...`) drawn last on
    the joined picture. `audio_out` also gets the cut's own sound as a WAV of exactly the cut's
    length, for mixing and `mux`. Takes already in the cut's format, with no transition, reframe,
    subtitles or sound of their own, are joined by stream copy; a cut of more than MAX_INPUTS takes is
    encoded in pieces (see `render_in_pieces`).

    Writes `<name>.part` files and renames them, so a crash never leaves a half-written film under the
    real name. `on_progress` gets the encoded fraction (0..1), parsed from ffmpeg's `-progress` output.
    """
    if not segments:
        raise RenderError("nothing to cut: no segments")
    _check_overlaps(segments)
    out_path = Path(out_path)
    outputs = [out_path] + ([Path(audio_out)] if audio_out is not None else [])
    parts = [path.with_name(path.name + ".part") for path in outputs]
    wav_part = parts[1] if audio_out is not None else None
    total_s = cut_frames(segments) / FPS
    with tempfile.TemporaryDirectory() as tmp:
        if can_stream_copy(segments, size, base_size=base_size, subtitles=subtitles):
            command = concat_copy_command(segments, parts[0], Path(tmp) / "concat.txt", audio_out=wav_part)
            _run_ffmpeg(command, parts, out_path, total_s, on_progress)
        elif len(segments) > MAX_INPUTS:
            render_in_pieces(
                segments, parts[0], size=size, base_size=base_size, subtitles=subtitles,
                audio_out=wav_part, work=Path(tmp), on_progress=on_progress,
            )  # fmt: skip
        else:
            command = cut_command(
                segments, parts[0], *size, base_size=base_size, subtitles=subtitles,
                audio_out=wav_part, script_dir=Path(tmp),
            )  # fmt: skip
            _run_ffmpeg(command, parts, out_path, total_s, on_progress)
    for part, path in zip(parts, outputs, strict=True):
        os.replace(part, path)
    if on_progress is not None:
        on_progress(1.0)
    return out_path


def render_in_pieces(
    segments: Sequence[Segment],
    out_path: Path,
    *,
    size: tuple[int, int],
    base_size: tuple[int, int] | None,
    subtitles: str | None,
    audio_out: Path | None,
    work: Path,
    on_progress: Callable[[float], None] | None = None,
) -> None:
    """Encode a long cut as pieces of at most MAX_INPUTS takes, split at plain cuts (a run of
    transitions stays in one piece), each a picture-only MP4 and a WAV of exactly its frames; then
    join the pictures by stream copy and the WAVs into one AAC track, so the sound is encoded once
    with no gap between pieces. Subtitles are drawn on each piece at the piece's place in the film."""
    total, shown = cut_frames(segments), out_path.with_name(out_path.name.removesuffix(".part"))
    pieces = _pieces(segments, MAX_INPUTS)
    videos, sounds, done = [], [], 0
    for k, piece in enumerate(pieces):
        chunk = [segments[i] for i in piece]
        video, sound = work / f"piece{k:03d}.mp4", work / f"piece{k:03d}.wav"
        burn = subtitles
        if subtitles and done:  # the subtitles' clock is the film's: shift this piece there and back
            burn = f"setpts=PTS+{done}/({FPS}*TB),{subtitles},setpts=PTS-STARTPTS"
        command = cut_command(
            chunk, video, *size, base_size=base_size, subtitles=burn, audio_out=sound, mp4_audio=False,
            script_dir=work,
        )  # fmt: skip
        frames = cut_frames(chunk)
        report = _scaled(on_progress, 0.97 * done / total, 0.97 * frames / total)
        _run_ffmpeg(command, [video, sound], shown, frames / FPS, report)
        videos.append(video)
        sounds.append(sound)
        done += frames
    command = join_pieces_command(videos, sounds, out_path, work, audio_out=audio_out)
    report = _scaled(on_progress, 0.97, 0.03)
    parts = [out_path] + ([audio_out] if audio_out is not None else [])
    _run_ffmpeg(command, parts, shown, total / FPS, report)


def _scaled(
    on_progress: Callable[[float], None] | None, start: float, span: float
) -> Callable[[float], None] | None:
    """Progress of one step reported as its share [start, start + span] of the whole."""
    if on_progress is None:
        return None
    return lambda fraction: on_progress(start + span * fraction)


def _pieces(segments: Sequence[Segment], limit: int) -> list[range]:
    """Consecutive index ranges of about `limit` segments, each starting at a plain cut."""
    pieces, start = [], 0
    for i in range(1, len(segments) + 1):
        if i == len(segments) or (i - start >= limit and not segments[i].overlap_in):
            pieces.append(range(start, i))
            start = i
    return pieces


def join_pieces_command(
    videos: Sequence[Path],
    sounds: Sequence[Path],
    out_path: Path,
    work: Path,
    *,
    audio_out: Path | None = None,
) -> list[str]:
    """Pictures joined by stream copy, their WAVs joined and encoded once to AAC (and copied to
    `audio_out`), as a faststart MP4."""
    video_list, sound_list = work / "pieces.txt", work / "sounds.txt"
    _write_concat_list(videos, video_list)
    _write_concat_list(sounds, sound_list)
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    args += ["-f", "concat", "-safe", "0", "-i", str(video_list)]
    args += ["-f", "concat", "-safe", "0", "-i", str(sound_list)]
    args += ["-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy"]
    args += ["-c:a", "aac", "-b:a", "160k", "-ar", str(SAMPLE_RATE), "-ac", "2"]
    args += ["-map_metadata", "-1", "-movflags", "+faststart", "-progress", "pipe:1", "-nostats"]
    args += ["-f", "mp4", str(out_path)]
    if audio_out is not None:
        args += ["-map", "1:a:0", "-c:a", WAV_CODEC, "-map_metadata", "-1", "-f", "wav", str(audio_out)]
    return args


def _write_concat_list(paths: Sequence[Path], list_file: Path) -> None:
    list_file.write_text(
        "ffconcat version 1.0\n" + "".join(f"file '{_concat_quote(path)}'\n" for path in paths), "utf-8"
    )


def _check_overlaps(segments: Sequence[Segment]) -> None:
    """A transition needs a previous segment, and cannot be longer than either segment it joins."""
    if segments[0].overlap_in:
        raise RenderError(f"{segments[0].path.name}: the first segment of a cut cannot have a transition in")
    for before, seg in itertools.pairwise(segments):
        if seg.overlap_in > before.frames:
            raise RenderError(
                f"{seg.path.name}: a {seg.overlap_in}-frame {seg.transition_in} is longer than the "
                f"{before.frames}-frame segment before it; shorten the transition"
            )


def can_stream_copy(
    segments: Sequence[Segment],
    size: tuple[int, int],
    *,
    base_size: tuple[int, int] | None = None,
    subtitles: str | None = None,
) -> bool:
    """Whether `render_cut` will join these segments by stream copy rather than re-encode them."""
    return base_size is None and not subtitles and _copyable(segments, size)


def _copyable(segments: Sequence[Segment], size: tuple[int, int]) -> bool:
    """True when every take already is the cut's format, frame for frame, with no sound of its own:
    then the video is joined without re-encoding (the animatic case: seconds instead of a re-encode)."""
    for seg in segments:
        if seg.audio or seg.overlap_in:
            return False
        info = probe(seg.path)
        if (
            info.codec != "h264"
            or info.pix_fmt != "yuv420p"
            or (info.width, info.height) != tuple(size)
            or round(info.fps, 3) != FPS
            or info.frames != seg.frames
        ):
            return False
    return True


def concat_copy_command(
    segments: Sequence[Segment], out_path: Path, list_file: Path, *, audio_out: Path | None = None
) -> list[str]:
    """Join identical-format takes by stream copy and add a silent AAC track of the cut's length (and
    the same silence as a WAV at `audio_out`)."""
    _write_concat_list([seg.path for seg in segments], list_file)
    samples = sum(seg.samples for seg in segments)
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    args += ["-f", "concat", "-safe", "0", "-i", str(list_file)]
    args += ["-f", "lavfi", "-i", f"anullsrc=r={SAMPLE_RATE}:cl=stereo,atrim=end_sample={samples}"]
    args += ["-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "160k"]
    args += ["-map_metadata", "-1", "-movflags", "+faststart", "-progress", "pipe:1", "-nostats"]
    args += ["-f", "mp4", str(out_path)]
    if audio_out is not None:
        args += ["-map", "1:a:0", "-c:a", WAV_CODEC, "-map_metadata", "-1", "-f", "wav", str(audio_out)]
    return args


def mux(
    video_path: Path,
    audio_wav: Path,
    out_path: Path,
    on_progress: Callable[[float], None] | None = None,
) -> Path:
    """`video_path`'s picture (copied, not re-encoded) with `audio_wav` as its sound (AAC 160k, 48 kHz
    stereo), as a faststart MP4 at `out_path`.

    The sound is padded with silence or trimmed to the picture's exact length rather than using
    `-shortest`, which can drop the last video frames: the film keeps every frame.
    """
    video_path, audio_wav, out_path = Path(video_path), Path(audio_wav), Path(out_path)
    info = probe(video_path)
    if not info.fps:
        raise RenderError(f"{video_path.name} has no frame rate: cannot time its sound")
    total_s = info.frames / info.fps
    samples = round(Fraction(info.frames) / Fraction(info.fps).limit_denominator(100_000) * SAMPLE_RATE)
    fit = f"aresample={SAMPLE_RATE},apad=whole_len={samples},atrim=end_sample={samples},asetpts=PTS-STARTPTS"
    part = out_path.with_name(out_path.name + ".part")
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    args += ["-i", str(video_path), "-i", str(audio_wav), "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy"]
    args += ["-af", fit, "-c:a", "aac", "-b:a", "160k", "-ar", str(SAMPLE_RATE), "-ac", "2"]
    args += ["-map_metadata", "-1", "-movflags", "+faststart", "-progress", "pipe:1", "-nostats"]
    args += ["-f", "mp4", str(part)]
    _run_ffmpeg(args, [part], out_path, total_s, on_progress)
    os.replace(part, out_path)
    if on_progress is not None:
        on_progress(1.0)
    return out_path


def _concat_quote(path: Path) -> str:
    return str(Path(path).resolve()).replace("'", "'\\''")


def _run_ffmpeg(
    command: list[str],
    parts: Sequence[Path],
    out_path: Path,
    total_s: float,
    on_progress: Callable[[float], None] | None,
) -> None:
    """Run one ffmpeg command writing `parts`, reporting progress; on any failure leave no part file."""
    with tempfile.TemporaryFile() as stderr:
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        except OSError as exc:
            raise RenderError(f"could not start ffmpeg: {exc}") from exc
        try:
            for line in proc.stdout or ():
                _report(line, total_s, on_progress)
            proc.wait()
        except BaseException:  # a failing callback or Ctrl-C: stop ffmpeg, leave no .part behind
            proc.kill()
            proc.wait()
            _unlink(parts)
            raise
        finally:
            if proc.stdout is not None:
                proc.stdout.close()
        if proc.returncode != 0:
            _unlink(parts)
            stderr.seek(0)
            raise RenderError(f"ffmpeg failed to cut {out_path.name}: {_tail(stderr.read())}")


def _unlink(paths: Sequence[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _report(line: str, total_s: float, on_progress: Callable[[float], None] | None) -> None:
    """Turn one `-progress` line (`out_time_us=1234`) into a fraction of the cut."""
    key, _, value = line.strip().partition("=")
    if on_progress is not None and key == "out_time_us" and value.isdigit() and total_s > 0:
        on_progress(min(int(value) / 1e6 / total_s, 1.0))


def _tail(stderr: bytes) -> str:
    """The last lines of ffmpeg's stderr, joined on one line for an error message."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    return " | ".join(lines[-STDERR_TAIL_LINES:]) or "no output from ffmpeg"
