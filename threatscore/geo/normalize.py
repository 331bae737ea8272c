"""Place-name normalisation shared by the gazetteer (index keys) and the matcher (article text).

Both sides go through the same *skeleton*: lower case, accents folded, punctuation turned into single
spaces, apostrophes dropped, and a few spelling rules that merge the usual transliteration variants
(``Qatroun``/``Qatrun``, ``Hasakah``/``Hasaka``/``Hassakeh``, ``Idleb``/``Idlib``, ``Paktya``/``Paktia``).
The skeleton is only used to *find* candidates; whether a match was spelled exactly like a gazetteer
name is decided afterwards on the folded surface, so the merging costs little precision.

For the article text the skeleton comes with an offset map back to the original characters, so every
mention is a verbatim span of the input. The work is done with ``str.translate``, a handful of C-level
regex substitutions and two numpy masks, which keeps it linear and fast (a 3,000-word article takes
about a millisecond).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Characters that vanish (apostrophes, ayn/hamza signs, combining marks): "Ra's" -> "ras", "Ma'rib" -> "marib".
_DROP = "\x01"
# Letters of other scripts and digits: they are neither letters we can match nor word boundaries, so a
# name never matches across them ("Gao2" is not "Gao").
_OPAQUE = "\x02"

_APOSTROPHES = frozenset("'`´ʹʻʼʽʾʿˈˊˋ‘’‛′")
# Letters NFKD does not decompose; mapped to one ASCII letter each so the translation stays 1:1.
_SPECIAL_LETTERS = {
    "ß": "s", "æ": "a", "œ": "o", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "t", "ı": "i", "ħ": "h",
    "ŧ": "t", "ŋ": "n", "ə": "a", "ɛ": "e", "ɔ": "o", "ƙ": "k", "ɗ": "d", "ɓ": "b", "ƴ": "y",
}  # fmt: skip


class _FoldTable(dict[int, str]):
    """``str.translate`` table mapping every code point to exactly one character, filled lazily."""

    def __missing__(self, code: int) -> str:
        self[code] = out = _fold_char(chr(code))
        return out


def _fold_char(ch: str) -> str:
    if ch.isascii():
        if ch.isalpha():
            return ch.lower()
        if ch.isdigit():
            return _OPAQUE
        return _DROP if ch in _APOSTROPHES else " "
    if ch in _APOSTROPHES:
        return _DROP
    low = ch.lower()
    if low in _SPECIAL_LETTERS:
        return _SPECIAL_LETTERS[low]
    if unicodedata.combining(ch):
        return _DROP
    base = "".join(c for c in unicodedata.normalize("NFKD", low) if not unicodedata.combining(c))
    if len(base) == 1 and base.isascii() and base.isalpha():
        return base.lower()
    if ch.isalnum():
        return _OPAQUE
    return " "


_FOLD = _FoldTable()
# Context-free letter merges, applied after folding: the vowel and q/k alternations of Arabic,
# Pashto, Hausa and Somali transliterations (Idleb/Idlib, Bornu/Borno, Qandahar/Kandahar, Paktya/Paktia).
_MERGE = str.maketrans({"q": "k", "o": "u", "e": "i", "y": "i"})
_POSSESSIVE = re.compile(f"(?<=[a-z]{{3}}){_DROP}s(?![a-z])")
# Word-final ta marbuta spellings -ah/-eh/-e all become -a (Hasakah, Hassakeh, Hasake -> hasaka). In article text
# the dropped apostrophes are still in the string (marked ``_DROP``, to keep offsets 1:1), so every rule lets them sit
# between letters: "al-Fu'ah" and "Ma'arrat" must get the skeleton their index keys got without the apostrophe.
_FINAL_AH = re.compile(f"([a-z]{_DROP}*[a-z]{_DROP}*)[ae]h(?![a-z])")
_FINAL_E = re.compile(f"([a-z]{_DROP}*[a-z]{_DROP}*[b-df-hj-np-tv-z]{_DROP}*)e(?![a-z])")
_DJ = re.compile(r"d(?=j)")
_DOUBLE = re.compile(f"([a-z])(?:{_DROP}*\\1)+")
_SPACES = re.compile(r"(?<= ) +")


def fold(text: str) -> str:
    """Lower-case, accent-free, punctuation-free form of ``text`` (no spelling merges): the "exact" form.

    Runs of spaces collapse to one and the result is stripped, so ``"Al-Ḥasakah"`` gives ``"al hasakah"``.
    """
    folded = _POSSESSIVE.sub("  ", text.translate(_FOLD)).replace(_DROP, "")
    return " ".join(folded.split())


def _skeleton_chars(folded: str) -> str:
    """Apply the spelling merges to a 1:1-folded string, marking deletions with ``_DROP`` (same length)."""
    out = _FINAL_AH.sub(f"\\1a{_DROP}", folded)
    out = _FINAL_E.sub("\\1a", out)
    out = _DJ.sub(_DROP, out)
    out = out.translate(_MERGE)
    # Keep the first letter of a doubled run so a word's first skeleton letter is its first letter.
    return _DOUBLE.sub(_undouble, out)


def _undouble(match: re.Match[str]) -> str:
    run = match.group(0)
    return run[0] + _DROP * (len(run) - 1)


def skeleton(name: str) -> str:
    """The matching key of a name: ``skeleton("Al-Hassakeh") == skeleton("al Hasakah") == "al hasaka"``."""
    chars = _skeleton_chars(_POSSESSIVE.sub("  ", name.translate(_FOLD)).replace(_DROP, ""))
    return " ".join(chars.replace(_DROP, "").split())


@dataclass(frozen=True, slots=True)
class NormalizedText:
    """A text's skeleton, padded with one space on each side, and where each of its characters came from.

    ``offsets[i]`` is the index in the original text of ``skeleton[i]``; padding spaces map to -1 / len.
    """

    skeleton: str
    offsets: npt.NDArray[np.int64]
    text: str

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``[start, end)`` of the skeleton word(s) ``[start, end)`` (both non-padding).

        A merge may have dropped the first or last letter of a word ("Djibouti" keeps no "d", a doubled
        final letter keeps one), so the span is widened to the word's letters in the original.
        """
        text = self.text
        a, b = int(self.offsets[start]), int(self.offsets[end - 1]) + 1
        while a > 0 and _is_word_char(text[a - 1]):
            a -= 1
        while b < len(text) and _is_word_char(text[b]):
            b += 1
        return a, b


def _is_word_char(ch: str) -> bool:
    return ch.isalpha() or unicodedata.combining(ch) > 0


def normalize_text(text: str) -> NormalizedText:
    """Skeleton of an article with its offset map; linear in the text length."""
    folded = _POSSESSIVE.sub("  ", text.translate(_FOLD))
    chars = _skeleton_chars(folded)
    raw = np.frombuffer(chars.encode("ascii"), dtype=np.uint8)
    keep = raw != ord(_DROP)
    offsets = np.flatnonzero(keep)
    squeezed = raw[keep].tobytes().decode("ascii")
    # Collapse runs of spaces (they appear where punctuation or a dropped apostrophe sat between spaces).
    extra = [m.span() for m in _SPACES.finditer(squeezed)]
    if extra:
        mask = np.ones(len(squeezed), dtype=bool)
        for a, b in extra:
            mask[a:b] = False
        offsets = offsets[mask]
        squeezed = np.frombuffer(squeezed.encode("ascii"), dtype=np.uint8)[mask].tobytes().decode("ascii")
    padded_offsets = np.concatenate(([-1], offsets, [len(text)])).astype(np.int64)
    return NormalizedText(skeleton=f" {squeezed} ", offsets=padded_offsets, text=text)
