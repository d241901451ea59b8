"""From storyboard shots to render requests: what each model is asked for, built from the bible.

The animatic draws the shot's `visual`; hosted models read the prompt, the keyframes and the
references. Both come from the same shot, so a revision changes them together.
"""

from __future__ import annotations

from shotline.memory.models import RESOLUTIONS, Breakdown, Shot, Storyboard
from shotline.tools.timing import speech_windows
from shotline.tools.video.base import Caption, Figure, RenderRequest, SetMark, ShotVisual


def shot_visual(shot: Shot, breakdown: Breakdown, night: bool) -> ShotVisual:
    """What the animatic draws for a shot, straight from the bible and the storyboard."""
    loc = breakdown.location(shot.location)
    speaking = {d.character for d in shot.dialogue}
    figures = tuple(
        Figure(
            name=breakdown.character(cid).name,
            color=_costume_color(breakdown, cid, shot.scene),
            x=shot.positions.get(cid, 0.5),
            speaking=cid in speaking,
        )
        for cid in shot.characters
    )
    landmarks = tuple(SetMark(name=lm.name, kind=lm.kind, x=lm.x) for lm in loc.layout.landmarks)
    captions = tuple(
        Caption(speaker=breakdown.character(d.character).name, text=d.text, start_s=a, end_s=b)
        for d, (a, b) in zip(shot.dialogue, speech_windows(shot), strict=True)
    )
    subject = shot.subject
    if shot.framing != "insert" and subject in {c.id for c in breakdown.characters}:
        subject = breakdown.character(subject).name
    return ShotVisual(
        shot_id=shot.id,
        framing=shot.framing,
        camera=shot.camera,
        location=loc.name,
        backdrop=loc.color,
        night=night,
        interior=loc.interior != "EXT",
        figures=figures,
        captions=captions,
        subject=subject,
        landmarks=landmarks,
    )


def _costume_color(breakdown: Breakdown, cid: str, scene_id: str) -> str:
    """The figure wears the scene's costume: a costume change shows as a colour change."""
    character = breakdown.character(cid)
    costume = character.costume_in(scene_id)
    return costume.color if costume and costume.color else character.color


def build_request(
    shot: Shot, breakdown: Breakdown, storyboard: Storyboard, model: str, model_id: str | None = None
) -> RenderRequest:
    scene = next(s for s in breakdown.scenes if s.id == shot.scene)
    width, height = RESOLUTIONS[storyboard.ratio]
    return RenderRequest(
        shot_id=shot.id,
        model=model,
        model_id=model_id,
        prompt=shot.prompt,
        duration_s=shot.duration_s,
        ratio=storyboard.ratio,
        width=width,
        height=height,
        visual=shot_visual(shot, breakdown, scene.night),
    )
