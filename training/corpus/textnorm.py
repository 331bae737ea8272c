"""Text clean-up and hashing used by the corpus build: mojibake repair, normalised and near-duplicate keys.

Two keys decide what counts as "the same text":

* ``text_key``: Unicode NFKC, lower case, apostrophes dropped, every other punctuation mark turned into a
  space, whitespace collapsed. Two rows with the same ``text_key`` are exact duplicates; only one is kept.
* ``near_key``: ``text_key`` with month and weekday names replaced by ``<m>``/``<d>`` and every digit run by
  ``#``. Rows sharing a ``near_key`` (the same story with other numbers or dates, or a templated note
  repeated) form a near-duplicate group that is never split across train/dev/test.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Final

# --- mojibake -----------------------------------------------------------------------------------------
# UTF-8 text that was decoded as cp1252 ("â€™" for "’"), as found in the India Police Events CSVs and a few
# SATP fields. Longest sequences first so that "â€™â€™" is handled pair by pair.
_CP1252_MOJIBAKE: Final[dict[str, str]] = {
    "\u00e2\u20ac\u2122": "\u2019",  # â€™ -> ’
    "\u00e2\u20ac\u02dc": "\u2018",  # â€˜ -> ‘
    "\u00e2\u20ac\u0153": "\u201c",  # â€œ -> “
    "\u00e2\u20ac\ufffd": "\u201d",  # â€� -> ”
    "\u00e2\u20ac\u009d": "\u201d",  # â€<9d> -> ”
    "\u00e2\u20ac\u201d": "\u2014",  # â€” -> —
    "\u00e2\u20ac\u201c": "\u2013",  # â€“ -> –
    "\u00e2\u20ac\u00a2": "\u2022",  # â€¢ -> •
    "\u00e2\u20ac\u00a6": "\u2026",  # â€¦ -> …
    "\u00e2\u20ac\u0161": "\u201a",  # â€š -> ‚
    "\u00c2\u00a0": " ",  # Â<nbsp> -> space
    "\u00c2\ufffd": " ",
}
# The same mojibake after an ASCII transliteration (ConfliBERT's copy of India Police Events): "aEUR(tm)".
_ASCII_MOJIBAKE: Final[dict[str, str]] = {
    "aEUR(tm)": "\u2019",
    "aEUR~": "\u2018",
    "aEURoe": "\u201c",
    'aEUR"': "\u2014",
    "aEURC/": "\u2022",
    "aEUR": "\u201d",
}
_CP1252_RE = re.compile("|".join(re.escape(k) for k in sorted(_CP1252_MOJIBAKE, key=len, reverse=True)))
_ASCII_RE = re.compile("|".join(re.escape(k) for k in sorted(_ASCII_MOJIBAKE, key=len, reverse=True)))
# Latin-1 letters mis-decoded as two characters ("Ã©" for "é").
_LATIN_PAIR_RE = re.compile("[\u00c3\u00c2][\u0080-\u00bf]")
_LONE_A_CIRC_RE = re.compile("\u00c2(?=[\\s\u00a0]|$)")


def fix_mojibake(text: str) -> str:
    """Repair UTF-8-read-as-cp1252 mojibake ("â€™" -> "’", "Ã©" -> "é") and its ASCII-transliterated
    form ("aEUR(tm)" -> "’"). Text without such sequences is returned unchanged."""
    if "\u00e2\u20ac" in text or "\u00c2" in text or "\u00c3" in text:
        text = _CP1252_RE.sub(lambda m: _CP1252_MOJIBAKE[m.group(0)], text)
        text = _LATIN_PAIR_RE.sub(_decode_latin_pair, text)
        text = _LONE_A_CIRC_RE.sub("", text)
    if "aEUR" in text:
        text = _ASCII_RE.sub(lambda m: _ASCII_MOJIBAKE[m.group(0)], text)
    return text


def _decode_latin_pair(match: re.Match[str]) -> str:
    pair = match.group(0)
    try:
        return pair.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return pair


_GLUED_NBSP_A_RE = re.compile(r"(?<=[a-z0-9.,;:!?)\"'\u2019\u201d\s])A(?=\s|$)")


def fix_transliterated_nbsp(text: str) -> str:
    """Remove the stray capital "A" that an ASCII transliteration left where "Â<nbsp>" stood
    ("the reportA said" -> "the report  said"). Only safe on lower-cased text (ConfliBERT's India Police Events)."""
    return _GLUED_NBSP_A_RE.sub(" ", text)


# --- keys ---------------------------------------------------------------------------------------------
_APOSTROPHES_RE = re.compile("['`\u2018\u2019\u02bc\u00b4]")
_PUNCT_RE = re.compile(r"[^\w\s]|_")
_MONTHS = (
    *("january", "february", "march", "april", "may", "june", "july", "august"),
    *("september", "october", "november", "december"),
    *("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"),
)
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_DATE_WORDS: Final[dict[str, str]] = {**dict.fromkeys(_MONTHS, "<m>"), **dict.fromkeys(_WEEKDAYS, "<d>")}
_DIGITS_RE = re.compile(r"\d+(?:st|nd|rd|th)?")


def normalise(text: str) -> str:
    """The normalised form behind ``text_key``: NFKC, lower case, apostrophes dropped, other punctuation
    turned into spaces, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _APOSTROPHES_RE.sub("", text)
    return " ".join(_PUNCT_RE.sub(" ", text).split())


def _mask_token(token: str) -> str:
    if token in _DATE_WORDS:
        return _DATE_WORDS[token]
    if any(c.isdigit() for c in token):
        return _DIGITS_RE.sub("#", token)
    return token


def mask_dates_digits(normalised: str) -> str:
    """Mask month and weekday names (``<m>``, ``<d>``) and digit runs with ordinal suffixes (``#``) in
    normalised text."""
    return " ".join(_mask_token(t) for t in normalised.split())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def text_key(text: str) -> str:
    """Hash of the normalised text: equal for exact duplicates up to case, punctuation and spacing."""
    return _digest(normalise(text))


def near_key(text: str) -> str:
    """Hash of the normalised text with dates and digits masked: equal for near-duplicates."""
    return _digest(mask_dates_digits(normalise(text)))


def all_keys(text: str, lead_tokens: int) -> tuple[str, str, str | None]:
    """(text_key, near_key, lead key) of a text, normalising once. The lead key is the first
    ``lead_tokens`` masked tokens, or None for a text shorter than that."""
    norm = normalise(text)
    masked = mask_dates_digits(norm)
    tokens = masked.split()
    lead = " ".join(tokens[:lead_tokens]) if len(tokens) >= lead_tokens else None
    return _digest(norm), _digest(masked), lead


def unit_interval(key: str) -> float:
    """A deterministic number in [0, 1) derived from ``key`` (for hash-based splits)."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:12], 16) / float(1 << 48)
