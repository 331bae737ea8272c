"""Harm from hazards and accidents, told apart from political violence (``threatscore.hazards``)."""

from __future__ import annotations

import pytest

from threatscore.hazards import reports_only_hazard_harm

FLOOD = (
    "Floods caused by three days of torrential rain have killed at least 40 people and displaced thousands, the "
    "disaster management authority said on Monday. Rescue teams used boats to reach villages."
)


@pytest.mark.parametrize(
    "text",
    [
        FLOOD,
        "A bus plunged into a gorge, killing 22 passengers, in a road accident on the highway.",
        "An earthquake of magnitude 6.1 destroyed hundreds of homes; 12 bodies were recovered from the rubble.",
        "Eleven fishermen drowned when their boat capsized in a storm off the coast.",
    ],
)
def test_harm_from_a_hazard_or_an_accident_alone(text: str) -> None:
    assert reports_only_hazard_harm(text)


@pytest.mark.parametrize(
    "text",
    [
        # Violence, an armed actor, security forces, protest or politics anywhere: left to the model.
        "Floods displaced thousands as militants attacked a relief convoy.",
        "Boko Haram fighters drowned 12 fishermen in the lake during the floods.",
        "Soldiers deployed to flood-hit villages were ambushed on the way.",
        "Victims of the floods blocked the national road to demand relief.",
        "The prime minister visited the flood-hit district where 40 people died.",
        "A train derailed after saboteurs removed fishplates; 50 passengers were injured.",
        # A hazard named without harm, and harm without a hazard.
        "A flood of applications reached the university this year.",
        "Three people were killed in the village on Monday.",
        "",
    ],
)
def test_anything_else_is_left_to_the_model(text: str) -> None:
    assert not reports_only_hazard_harm(text)
