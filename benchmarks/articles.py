"""Synthetic but realistic benchmark articles: conflict-news sentences from templates, deterministic from a seed.

No corpus text is used or committed. Each article is a wire-style report: a lead paragraph with the event
(attack, clash, claim, prison break, raid), then background, reactions, analysis and some unrelated
local news, with place names, armed groups and numbers drawn from small lists. Lengths are in words
(``str.split``): short ≈ one paragraph, medium ≈ 500 words, long ≈ 3,000 words.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

#: Target length in words per article kind.
LENGTHS: dict[str, int] = {"short": 70, "medium": 500, "long": 3000}

# (town, region, country) triples: the gazetteer resolves these, as in real reports.
PLACES: tuple[tuple[str, str, str], ...] = (
    ("Qatrun", "Murzuq", "Libya"),
    ("Sabha", "Sabha", "Libya"),
    ("Gao", "Gao", "Mali"),
    ("Menaka", "Menaka", "Mali"),
    ("Maiduguri", "Borno", "Nigeria"),
    ("Gwoza", "Borno", "Nigeria"),
    ("Damaturu", "Yobe", "Nigeria"),
    ("Djibo", "Sahel", "Burkina Faso"),
    ("Idlib", "Idlib", "Syria"),
    ("Hasakah", "Al-Hasakah", "Syria"),
    ("Deir ez-Zor", "Deir ez-Zor", "Syria"),
    ("Kandahar", "Kandahar", "Afghanistan"),
    ("Lashkar Gah", "Helmand", "Afghanistan"),
    ("Jalalabad", "Nangarhar", "Afghanistan"),
    ("Mogadishu", "Banaadir", "Somalia"),
    ("Kismayo", "Lower Juba", "Somalia"),
    ("Beni", "North Kivu", "Democratic Republic of the Congo"),
    ("Pemba", "Cabo Delgado", "Mozambique"),
    ("Diffa", "Diffa", "Niger"),
    ("Peshawar", "Khyber Pakhtunkhwa", "Pakistan"),
)
GROUPS: tuple[str, ...] = (
    "the Islamic State",
    "al-Shabaab",
    "Boko Haram",
    "ISWAP",
    "JNIM",
    "the Taliban",
    "Ansar al-Sunna",
    "the ADF",
    "Hayat Tahrir al-Sham",
    "a local militia",
)
FORCES: tuple[str, ...] = (
    "the army",
    "security forces",
    "government troops",
    "the police",
    "special forces",
    "a joint task force",
)
TARGETS: tuple[str, ...] = (
    "a military patrol",
    "a police checkpoint",
    "an army base",
    "a village market",
    "a convoy carrying supplies",
    "a prison",
    "a mosque",
    "a camp for displaced people",
)
WEAPONS: tuple[str, ...] = ("rifles", "rocket-propelled grenades", "a car bomb", "roadside bombs", "mortars", "drones")
DAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SOURCES: tuple[str, ...] = ("a local official", "a military spokesman", "residents", "a hospital source", "an analyst")
NUMBER_WORDS: tuple[str, ...] = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "dozens of")

LEAD = (
    "Gunmen from {group} attacked {target} near {town} in {region} on {day}, killing {n} {victims}, {source} said.",
    "At least {n} {victims} were killed when {group} fighters stormed {target} outside {town} on {day}.",
    "{group_cap} claimed responsibility for an ambush on {target} near {town}, {country}, that left {n} dead.",
    "Suspected {group} militants attacked {target} in {town} with {weapon}, killing {n} people and wounding {m}.",
    "{forces_cap} said they repelled an assault by {group} on {target} near {town}, killing {n} attackers.",
)
BODY = (
    "The attackers arrived on motorcycles and pickup trucks before dawn and fired at {target}.",
    "{source_cap} told reporters that {m} people were wounded and taken to the hospital in {town}.",
    "{group_cap} said in a statement on its channels that its fighters had carried out the attack.",
    "{forces_cap} launched a clearing operation in the hills around {town} on {day}, arresting {m} suspects.",
    "The army said an airstrike near {town} killed {n} militants, a figure that could not be verified.",
    "Residents said the group had set up checkpoints on the road between {town} and the border.",
    "The militants freed dozens of inmates when they attacked the prison in {town} last year.",
    "Analysts say {group} has been recruiting young men in {region}, offering money and motorcycles.",
    "Officials said fighters and weapons were moving across the border from {country2} into {region}.",
    "Security in {region} has deteriorated since government forces withdrew from several outposts.",
    "The group has regrouped after losing territory and appointed a new commander for {region}, experts said.",
    "Thousands of people have fled their homes in {region} this year, according to the United Nations.",
    "{source_cap} said the attackers used {weapon} and burned several vehicles before withdrawing.",
    "It was the {ordinal} attack in {region} this month, and the deadliest since {month}.",
    "Political divisions in the capital have left {region} without a functioning administration, {source} said.",
    "The governor of {region} condemned the attack and promised to reinforce security on the main roads.",
    "{forces_cap} said they had killed {n} fighters and destroyed a weapons depot near {town} on {day}.",
)
FILLER = (
    "Elsewhere, the central bank kept interest rates unchanged, citing stable inflation.",
    "The national football team qualified for the continental cup after a draw on {day}.",
    "Farmers in {region} expect a good harvest after heavy rains in {month}.",
    "The ministry of education said schools in the capital would reopen next week.",
    "A new bridge over the river near {town} is due to open before the end of the year.",
    "Fuel prices rose for the third month in a row, the statistics office said on {day}.",
)
MONTHS: tuple[str, ...] = ("January", "March", "May", "July", "September", "November")
ORDINALS: tuple[str, ...] = ("second", "third", "fourth", "fifth")


@dataclass(frozen=True)
class _Slots:
    """Fills templates; most sentences stay with the article's own place and group, as a report does."""

    rng: random.Random
    place: tuple[str, str, str]
    group: str

    def fill(self, template: str) -> str:
        stay = self.rng.random() < 0.75
        town, region, country = self.place if stay else self.rng.choice(PLACES)
        group = self.group if stay else self.rng.choice(GROUPS)
        forces = self.rng.choice(FORCES)
        source = self.rng.choice(SOURCES)
        values = {
            "town": town,
            "region": region,
            "country": country,
            "country2": self.rng.choice([p[2] for p in PLACES if p[2] != country]),
            "group": group,
            "group_cap": group[:1].upper() + group[1:],
            "forces_cap": forces[:1].upper() + forces[1:],
            "target": self.rng.choice(TARGETS),
            "weapon": self.rng.choice(WEAPONS),
            "day": self.rng.choice(DAYS),
            "month": self.rng.choice(MONTHS),
            "ordinal": self.rng.choice(ORDINALS),
            "source": source,
            "source_cap": source[:1].upper() + source[1:],
            "n": self.rng.choice((str(self.rng.randint(2, 60)), self.rng.choice(NUMBER_WORDS))),
            "m": str(self.rng.randint(2, 40)),
            "victims": self.rng.choice(("soldiers", "civilians", "police officers", "villagers", "people")),
        }
        return template.format(**values)


def make_article(kind: str, seed: int) -> dict[str, Any]:
    """One article of ``kind`` (``short``/``medium``/``long``) as a scoring record, deterministic from ``seed``."""
    if kind not in LENGTHS:
        raise ValueError(f"unknown article kind {kind!r}; expected one of {sorted(LENGTHS)}")
    target = LENGTHS[kind]
    rng = random.Random(f"{kind}:{seed}")
    slots = _Slots(rng, rng.choice(PLACES), rng.choice(GROUPS))
    paragraphs: list[list[str]] = [[slots.fill(rng.choice(LEAD))]]
    words = len(paragraphs[0][0].split())
    while words < target:
        if len(paragraphs[-1]) >= rng.randint(3, 5):
            paragraphs.append([])
        template = rng.choice(FILLER) if rng.random() < 0.12 else rng.choice(BODY)
        sentence = slots.fill(template)
        n = len(sentence.split())
        # Stop at the sentence that lands closest to the target rather than always overshooting it.
        if words + n > target and (words + n - target) > (target - words):
            break
        paragraphs[-1].append(sentence)
        words += n
    text = "\n\n".join(" ".join(p) for p in paragraphs if p)
    town, _, country = slots.place
    return {
        "id": f"{kind}-{seed}",
        "title": f"Militants attack near {town} as violence spreads in {country}",
        "text": text,
        "published": f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        "source": "benchmark",
    }


def make_articles(kind: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` distinct articles of ``kind``, deterministic from ``seed``."""
    return [make_article(kind, seed * 100_003 + i) for i in range(n)]


def word_count(record: dict[str, Any]) -> int:
    """Words in an article's text (``str.split``)."""
    return len(str(record["text"]).split())
