"""Language identification. The models read English; other languages are scored with a warning."""

from __future__ import annotations

import threading

#: Languages the models were trained on.
SUPPORTED_LANGUAGES = frozenset({"en"})
#: Returned when the text is too short or too odd to tell (ISO 639-2 "undetermined").
UNDETERMINED = "und"

_lock = threading.Lock()


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language, or ``"und"`` when it cannot be told.

    Reads the first 3,000 characters: plenty to identify a language, and it keeps long articles cheap.
    """
    sample = text[:3000]
    if sum(ch.isalpha() for ch in sample) < 12:
        return UNDETERMINED
    from langdetect import DetectorFactory, detect
    from langdetect.lang_detect_exception import LangDetectException

    with _lock:  # langdetect's factory is global; fixing its seed makes answers deterministic
        DetectorFactory.seed = 0
        try:
            code = detect(sample)
        except LangDetectException:
            return UNDETERMINED
    return code.split("-")[0]
