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
    assert reports_only_hazard_harm(text, version=3)


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
    assert not reports_only_hazard_harm(text, version=3)


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
    assert reports_only_hazard_harm(text, version=3)
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
    assert not reports_only_hazard_harm(text, version=3)


@pytest.mark.parametrize(
    "text",
    [
        "A ferry carrying more than 200 passengers sank in the river, leaving at least 46 people dead.",
        "Storm Daniel swept across the east of the country, killing thousands after two dams burst.",
        "An explosion at a chemical plant in the industrial zone killed 12 workers and injured 80.",
        "A gas cylinder explosion in a crowded restaurant killed nine people and injured 30.",
        "At least 30 miners were killed when a gold mine collapsed in the north of the country.",
        "A cholera outbreak has killed 160 people in three weeks, the health ministry said.",
        "A passenger plane crashed shortly after take-off, killing all 72 people on board.",
    ],
)
def test_version_3_reads_sinkings_storms_collapses_crashes_epidemics_and_accidental_explosions(text: str) -> None:
    assert reports_only_hazard_harm(text, version=3)
    assert not reports_only_hazard_harm(text, version=2)  # as the models of version 2 were calibrated


@pytest.mark.parametrize(
    "text",
    [
        # An accident's explosion is masked from the violence check; any other violent word still counts.
        "An explosion at a chemical plant killed 12 workers; police said a bomb had been planted by militants.",
        "A car bomb explosion in a crowded market killed nine people and injured 30.",
        "A military jet crashed during a bombing raid on rebel positions, killing both pilots.",
        "Helicopter crashed in the airbase, crew killed",
        "Two bullet-riddled bodies were recovered from a storm water drain.",
        "Eleven ships had been damaged or sunk in mine-laying operations off the coast.",
        "A storm of protest followed the killing of two students.",
        "An outbreak of violence between herders and farmers killed 40 people.",
    ],
)
def test_version_3_still_leaves_violence_and_war_to_the_model(text: str) -> None:
    assert not reports_only_hazard_harm(text, version=3)
