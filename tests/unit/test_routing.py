"""Routing: the right model for each shot, in the order the policy asks, with a reason when none fits."""

from __future__ import annotations

import pytest

from shotline.errors import InputError
from shotline.tools.routing import Needs, RoutingPolicy, route, why_not
from shotline.tools.video.base import MediaRef, ModelCard, RenderRequest

CARDS = [
    ModelCard(name="cheap", display_name="Cheap", durations_s=(2, 10), usd_per_second=0.05, typical_latency_s=120),
    ModelCard(name="kling", display_name="Kling", model_id="kling-v2-6", durations_s=(5, 10),
              fixed_durations_s=(5, 10), image_to_video=True, first_last_frame=True, usd_per_second=0.2,
              typical_latency_s=90),
    ModelCard(name="veo", display_name="Veo", model_id="veo-3.1", durations_s=(4, 8), fixed_durations_s=(4, 6, 8),
              ratios=("16:9", "9:16"), image_to_video=True, reference_images=3, native_audio=True,
              usd_per_second=0.4, typical_latency_s=60),
]  # fmt: skip


def req(shot_id="001", seconds=4.0, ratio="16:9", **kw) -> RenderRequest:
    return RenderRequest(
        shot_id=shot_id, model="x", prompt="p", duration_s=seconds, ratio=ratio, width=1, height=1, **kw
    )


def names(cards):
    return [c.name for c in cards]


def test_orders_by_policy():
    assert names(route(req(), CARDS, RoutingPolicy(order="cheapest"))) == ["cheap", "kling", "veo"]
    assert names(route(req(), CARDS, RoutingPolicy(order="fastest"))) == ["veo", "kling", "cheap"]
    assert names(route(req(), CARDS, RoutingPolicy(order="best"))) == ["veo", "kling", "cheap"]


def test_filters_by_what_the_shot_needs():
    ref = MediaRef(sha256="a" * 64, name="MEI, front")
    assert names(route(req(ratio="1:1"), CARDS, RoutingPolicy())) == ["cheap", "kling"]  # veo: no 1:1
    assert names(route(req(audio=True), CARDS, RoutingPolicy())) == ["veo"]
    assert names(
        route(req(last_frame=ref.model_copy(update={"role": "last_frame"})), CARDS, RoutingPolicy())
    ) == ["kling"]
    assert names(route(req(references=(ref,)), CARDS, RoutingPolicy())) == ["veo"]
    assert names(route(req(seconds=9.5), CARDS, RoutingPolicy())) == ["cheap", "kling"]  # veo tops out at 8


def test_fixed_lengths_are_priced_as_billed():
    assert CARDS[1].cost(3.0) == pytest.approx(1.0)  # a 3 s shot on Kling is a 5 s clip
    assert names(route(req(seconds=3.0), CARDS[1:], RoutingPolicy(order="cheapest"))) == ["kling", "veo"]


def test_explicit_choices_win_and_keep_fallbacks():
    policy = RoutingPolicy(per_framing={"close-up": "kling"}, per_shot={"007": "veo/veo-3.1"}, fallbacks=1)
    assert names(route(req(), CARDS, policy, framing="close-up")) == ["kling", "cheap"]
    assert names(route(req("007"), CARDS, policy, framing="close-up")) == ["veo", "cheap"]
    assert names(route(req(), CARDS, policy, framing="wide")) == ["cheap", "kling"]


def test_no_fit_names_every_reason():
    with pytest.raises(InputError) as err:
        route(req(seconds=12.0, ratio="1:1"), CARDS, RoutingPolicy())
    message = str(err.value)
    assert "shot 001" in message and "takes at most 10 s" in message and "veo/veo-3.1" in message
    with pytest.raises(InputError, match=r"set to 'veo'.*no 1:1 ratio"):
        route(req(ratio="1:1"), CARDS, RoutingPolicy(per_shot={"001": "veo"}))
    assert why_not(CARDS[0], Needs(duration_s=4, ratio="16:9")) is None
