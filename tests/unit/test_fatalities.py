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
