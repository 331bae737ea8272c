"""Language identification: the cheap English check agrees with langdetect and never claims other languages."""

from __future__ import annotations

import pytest

from threatscore.language import UNDETERMINED, _plainly_english, detect_language

ENGLISH = [
    "Gunmen attacked a police checkpoint in the north of the country on Tuesday, killing four officers, the army said.",
    "The group claimed responsibility for the bombing, which was the third in the province this month.",
]
OTHER = {
    "fr": "Des hommes armés ont attaqué un poste de police dans le nord du pays mardi, tuant quatre agents, selon l'armée.",
    "es": "Hombres armados atacaron un puesto de control de la policía en el norte del país el martes y mataron a cuatro agentes.",
    "de": "Bewaffnete Männer haben am Dienstag einen Kontrollpunkt der Polizei im Norden des Landes angegriffen und vier Beamte getötet.",
    "pt": "Homens armados atacaram um posto de controle da polícia no norte do país na terça-feira, matando quatro agentes.",
    "nl": "Gewapende mannen hebben dinsdag een controlepost van de politie in het noorden van het land aangevallen.",
    "ar": "هاجم مسلحون نقطة تفتيش للشرطة في شمال البلاد يوم الثلاثاء مما أسفر عن مقتل أربعة من رجال الشرطة.",
}


@pytest.mark.parametrize("text", ENGLISH)
def test_plain_english_is_answered_without_langdetect(text):
    assert _plainly_english(text)
    assert detect_language(text) == "en"


@pytest.mark.parametrize(("code", "text"), sorted(OTHER.items()))
def test_other_languages_are_never_taken_for_english(code, text):
    assert not _plainly_english(text)
    assert detect_language(text) == code


def test_too_little_text_is_undetermined():
    assert detect_language("12 -- 4") == UNDETERMINED


# Wire headlines and one-line reports: langdetect alone calls the first Norwegian and the second Catalan.
SHORT_ENGLISH = [
    "Gunmen killed 5 soldiers near Gao, Mali.",
    "Suicide bomber kills 12 at Kabul mosque",
    "Army retakes town from rebels",
    "Militants attacked a police post in Borno.",
    "Jihadists overrun army base in Menaka",
    "Boko Haram abducts 20 girls in Chibok",
]


@pytest.mark.parametrize("text", SHORT_ENGLISH)
def test_a_short_english_text_is_never_given_another_language(text):
    assert detect_language(text) in {"en", UNDETERMINED}


def test_short_texts_in_other_languages_keep_their_accents_or_script():
    assert detect_language("Des hommes armés ont tué cinq soldats.") == "fr"
    assert detect_language("Bewaffnete töteten fünf Soldaten bei Gao.") == "de"
    assert detect_language("هاجم مسلحون نقطة تفتيش للشرطة") == "ar"
    # Without accents a short text cannot be told apart from English reliably: undetermined, with its warning.
    assert detect_language("Hombres armados mataron a cinco soldados.") == UNDETERMINED
