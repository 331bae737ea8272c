"""Language identification. The models read English; other languages are scored with a warning."""

from __future__ import annotations

import re
import threading

#: Languages the models were trained on.
SUPPORTED_LANGUAGES = frozenset({"en"})
#: Returned when the text is too short or too odd to tell (ISO 639-2 "undetermined").
UNDETERMINED = "und"

_lock = threading.Lock()

# English function words that no other common language of the news spells the same way (not "a", "in", "on",
# "die", "de"). In English news prose they are about a fifth of the words; in other languages close to none.
_ENGLISH_FUNCTION_WORDS = frozenset(
    "the of and to was were is are for with that by from has have had been which their they this it its said "
    "after who would will not".split()
)
_WORD = re.compile(r"[^\W\d_]+")
#: Share of English function words above which a text is English without asking langdetect.
ENGLISH_SHARE = 0.12
#: Fewer words than this are too few for the share of function words, and too few for langdetect to tell a short
#: unaccented text from English: it reads "Gunmen killed 5 soldiers near Gao, Mali." as Norwegian and "Suicide
#: bomber kills 12 at Kabul mosque" as Catalan (with probability 0.99).
MIN_WORDS = 8


def _plainly_english(sample: str) -> bool:
    """A cheap first look: plain-ASCII letters and enough English function words. langdetect costs 5–10 ms an
    article (random trials over character n-grams); most of what this service reads is plainly English."""
    words = _WORD.findall(sample[:1000].lower())
    if len(words) < MIN_WORDS or any(not w.isascii() for w in words):
        return False
    return sum(w in _ENGLISH_FUNCTION_WORDS for w in words) >= ENGLISH_SHARE * len(words)


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language, or ``"und"`` when it cannot be told.

    Reads the first 3,000 characters: plenty to identify a language, and it keeps long articles cheap.
    Text that is plainly English (see ``_plainly_english``) is answered without langdetect. A short text in
    unaccented Latin letters that langdetect does not call English is undetermined, not another language: at that
    length its answer is a guess (see ``MIN_WORDS``); accents and other scripts still tell.
    """
    sample = text[:3000]
    if sum(ch.isalpha() for ch in sample) < 12:
        return UNDETERMINED
    if _plainly_english(sample):
        return "en"
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    with _lock:  # langdetect's factory is global; fixing its seed makes answers deterministic
        DetectorFactory.seed = 0
        try:
            code = detect(sample).split("-")[0]
        except LangDetectException:
            return UNDETERMINED
    words = _WORD.findall(sample[:1000])
    if code != "en" and len(words) < MIN_WORDS and all(w.isascii() for w in words):
        return UNDETERMINED
    return code
