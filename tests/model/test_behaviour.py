"""Invariance, directional and minimum-functionality tests (CheckList style) on the model under test."""

import pytest

ATTACK = (
    "Militants ambushed an army patrol near {place} on Tuesday, killing four soldiers. "
    "Officials said {person} led the group, which has carried out several raids in the area."
)


@pytest.mark.parametrize(
    ("place", "person"),
    [("Gao", "Amadou Koufa"), ("Maiduguri", "Abubakar Shekau"), ("Kandahar", "Mullah Omar"), ("Idlib", "Abu Mohammad")],
)
def test_invariance_to_place_and_person_names(assess, place, person):
    base = assess(ATTACK.format(place="Kidal", person="Iyad Ag Ghaly"))
    changed = assess(ATTACK.format(place=place, person=person))
    for name, signal in base.signals.items():
        assert abs(signal.probability - changed.signals[name].probability) < 0.25, name
    assert base.severity.level == changed.severity.level


def test_negated_claim_lowers_claimed_responsibility(assess):
    claimed = assess("Gunmen bombed a market in Mogadishu. Al-Shabaab claimed responsibility for the attack.")
    negated = assess("Gunmen bombed a market in Mogadishu. No group has claimed responsibility for the attack.")
    assert negated.signals["claimed_responsibility"].probability < claimed.signals["claimed_responsibility"].probability


def test_adding_deaths_raises_severity(assess):
    levels = ["none", "low", "medium", "high"]
    calm = assess("Gunmen attacked a checkpoint near Gao on Monday.")
    deadly = assess("Gunmen attacked a checkpoint near Gao on Monday, killing 15 soldiers.")
    assert levels.index(deadly.severity.level) >= levels.index(calm.severity.level)
    assert deadly.severity.probabilities["high"] > calm.severity.probabilities["high"]
    assert deadly.signals["mass_casualty"].probability > calm.signals["mass_casualty"].probability


MFT = {
    "militant_attack": "Insurgents detonated a car bomb outside a police station, killing six officers.",
    "claimed_responsibility": "The Islamic State claimed responsibility for the suicide bombing on Friday.",
    "mass_casualty": "At least 40 villagers were killed when gunmen stormed the village overnight.",
    "territorial_control": "The militants seized the district headquarters and set up checkpoints on the main road.",
    "regrouping": "After its defeat last year, the group has regrouped in the mountains and appointed a new leader.",
    "recruitment": "The group has been recruiting hundreds of young men and foreign fighters with cash payments.",
    "prison_break": "Gunmen stormed the central prison and freed more than 200 inmates, including senior militants.",
    "cross_border": "Fighters crossed the border from Niger with weapons smuggled from Libya.",
    "security_vacuum": "Taking advantage of the chaos after the troops withdrew, the militants moved into the town.",
    "counter_terrorism": "Security forces launched a clearing operation and killed 12 insurgents in their hideout.",
}


@pytest.mark.real_model
@pytest.mark.parametrize("signal", list(MFT))
def test_minimum_functionality_per_signal(assess, signal):
    positive = assess(MFT[signal])
    calm = assess("The city council approved a new budget for schools and public parks on Wednesday.")
    assert positive.signals[signal].probability > calm.signals[signal].probability
    assert positive.signals[signal].probability >= 0.5, positive.signals[signal]


@pytest.mark.real_model
def test_sport_is_not_relevant(assess):
    assert assess("The striker scored twice as the home side won the cup final on Saturday.").relevance < 0.5


#: Wire items that report no political violence, one paragraph each, some in violent-sounding words (written before
#: the models of 27 Nov 2026 were scored on them; DESIGN.md: business, sport and culture news is not relevant).
NOT_RELEVANT = {
    "cricket": "Pakistan crushed India by ten wickets in Dubai on Sunday, with their openers sharing an unbeaten "
    "stand. It was Pakistan's first World Cup win over their rivals.",
    "business": "Shares in the carmaker fell 8% on Tuesday after it cut its profit forecast, blaming weaker demand "
    "and higher battery costs. The company said it would cut 2,000 jobs by the end of next year.",
    "election": "Voters went to the polls on Sunday in a presidential election that had been delayed by two months. "
    "Turnout was high and observers said voting was calm and orderly.",
    "flood": "Floods caused by three days of torrential rain have killed at least 40 people and displaced "
    "thousands, the disaster management authority said on Monday. Rescue teams used boats to reach villages.",
    # Added 28 Nov 2026 (twentieth session) with the hazard words of version 2: police as the source of an accident.
    "bus_crash": "A bus plunged into a gorge in the hills on Sunday, killing 22 passengers and injuring 15, police "
    "said. The driver lost control on a sharp bend.",
}


@pytest.mark.real_model
@pytest.mark.parametrize("kind", list(NOT_RELEVANT))
def test_minimum_functionality_not_relevant(assess, kind):
    assert assess(NOT_RELEVANT[kind]).relevance < 0.5
