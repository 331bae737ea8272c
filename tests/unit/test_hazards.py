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
    assert reports_only_hazard_harm(text, version=2)


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
    assert not reports_only_hazard_harm(text, version=2)


@pytest.mark.parametrize(
    "text",
    [
        # Police, soldiers and a government are the sources and rescuers of disaster news.
        "A bus plunged into a gorge on Sunday, killing 22 passengers and injuring 15, police said.",
        "Army helicopters rescued hundreds of villagers stranded by floods that have killed 31 people.",
        "The government declared three days of mourning after an earthquake killed 120 people.",
        "A fire at a garment factory killed 17 workers on Tuesday; firefighters said the exits had been locked.",
    ],
)
def test_version_2_reads_accident_reports_that_name_police_or_a_government(text: str) -> None:
    assert reports_only_hazard_harm(text, version=2)
    assert not reports_only_hazard_harm(text)  # version 1, as the models of that version were calibrated


@pytest.mark.parametrize(
    "text",
    [
        "Police said the truck overturned after gunmen opened fire on it, killing three.",
        "A fire was set in front of the consulate; the building was damaged in the blaze.",
        "Investigators believe the factory fire that killed nine was started deliberately.",
        "A soldier was injured when he stepped on a landmine near the border.",
        "Relatives of the 22 killed in the bus accident took to the streets to demand compensation.",
    ],
)
def test_version_2_still_leaves_violence_to_the_model(text: str) -> None:
    assert not reports_only_hazard_harm(text, version=2)
