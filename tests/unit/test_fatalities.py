import pytest

from threatscore.fatalities import parse_number, total_fatalities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Gunmen killed three policemen and wounded two.", 3),
        ("At least 15 people were killed in the attack.", 15),
        ("The death toll rose to 30.", 30),
        ("A bomb blast left 5 injured.", None),
        ("The 2 suspects were arrested.", None),
        ("Two soldiers died and 12 were wounded.", 2),
        ("No one was hurt.", None),
        ("Militants killed 4 soldiers; the army killed 23 militants. The killing of 23 militants was confirmed.", 27),
        ("Twenty-three fighters were killed.", 23),
        ("The attack killed 1,200 people.", 1200),
        # Enumerations, articles and asides (27 Nov): each was read wrong before.
        ("Two soldiers and three civilians were killed in the crossfire.", 5),
        ("One soldier and eight militants were killed, and four soldiers wounded.", 9),
        ("Militants ambushed a patrol, killing one soldier, six Koglweogo, and wounded others.", 7),
        ("Gunmen shot dead a policeman and an accompanying civilian.", 2),
        ("Militants killed a civilian and abducted councilmen in the village.", 1),
        ("The attack killed a soldier and injured four others.", 1),
        ("A policeman was shot dead in Quetta.", 1),
        ("Militants beheaded two fishermen and burned dozens of houses.", 2),
        ("Seven people, including four children, were killed.", 7),
        ("A blast killed at least 10 people, two of them children, on Sariab road.", 10),
        ("Twenty-eight traders killed and 50 injured in suicide attacks at a market.", 28),
        ("The ambush left 12 soldiers dead and 20 wounded.", 12),
        ("The death toll from the attack rose to 55, the health ministry said.", 55),
        ("Police opened fire on the group, one confirmed death, plus injuries.", 1),
        ("Two years after the attack that killed 300 people, survivors still wait.", 300),
        # Not deaths: dead and wounded together, a span of time, the end of another sentence, "a number of".
        ("About 20 people were killed and wounded by mine explosions.", None),
        ("1 soldier was killed or wounded by a Taliban sniper.", None),
        ("They robbed 2 motorbikes. The victim died later.", None),
        ("The raid killed a number of cattle.", None),
        ("Three U.S. soldiers were killed.", 3),
        ("Gangs attacked the suburb, killing at least a dozen residents.", 12),
        ("Half a dozen soldiers were killed.", 6),
        ("A teacher was stabbed to death at a school.", 1),
        ("Two brothers were shot to death in their home.", 2),
        ("Police engaged the attackers in a shootout, one police death reported.", 1),
        ("Two cattle thieves were killed by locals.", 2),
        ("11 goats were killed in the raid.", None),
        ("A man accused of stealing 11 goats was beaten to death.", None),  # one death, but not 11
        ("He faces two death threats.", None),
    ],
)
def test_total_fatalities(text, expected):
    assert total_fatalities(text) == expected


def test_parse_number():
    assert parse_number("twenty-three") == 23
    assert parse_number("1,250") == 1250
    assert parse_number("several") is None


def test_seed_article_reports_27(seed_text):
    assert total_fatalities(seed_text) == 27
