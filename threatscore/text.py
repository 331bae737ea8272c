"""Text handling, one implementation used everywhere: HTML stripping, normalisation, sentences, chunks.

Sentences are *spans* into the document text, so evidence quoted from them is always a verbatim
substring of what the client sent (after tag stripping when the input was HTML).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

# Tags whose content is never article prose.
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head", "svg", "iframe", "nav", "footer"})
# Tags that end a block of text: a paragraph break is kept there so sentences never run across them.
_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "table",
        "section",
        "article",
        "blockquote",
        "header",
        "aside",
        "figure",
        "figcaption",
        "pre",
        "hr",
        "dd",
        "dt",
    }
)
_TAG_RE = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)(\s[^<>]*)?/?>")
_WS_RUN = re.compile(r"[ \t\f\v\u00a0]+")
_MANY_BREAKS = re.compile(r"\n\s*\n\s*")


@dataclass(frozen=True, slots=True)
class Document:
    """An article's readable text with the facts a reader must know about how it was obtained."""

    text: str
    was_html: bool
    markup_ratio: float  # share of the raw input that was markup; high values mean "markup soup"


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range ``[start, end)`` into a document's text."""

    start: int
    end: int

    def of(self, text: str) -> str:
        """The substring of ``text`` this span covers."""
        return text[self.start : self.end]


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def looks_like_html(raw: str) -> bool:
    """True when ``raw`` carries HTML markup (at least two tags), rather than prose with a stray ``<``."""
    return len(_TAG_RE.findall(raw[:50_000])) >= 2


def strip_html(raw: str) -> str:
    """Readable text of an HTML fragment or page: tags and script/style removed, entities decoded,
    block elements turned into paragraph breaks."""
    parser = _TextExtractor()
    parser.feed(raw)
    parser.close()
    text = "".join(parser.parts)
    lines = (_WS_RUN.sub(" ", line).strip() for line in text.split("\n"))
    return _MANY_BREAKS.sub("\n\n", "\n".join(lines)).strip()


def prepare(raw: str) -> Document:
    """Turn a client's text (plain or HTML) into the ``Document`` every later step reads.

    Plain text is kept as sent (only line endings are unified), so evidence quotes it verbatim.
    """
    unified = raw.replace("\r\n", "\n").replace("\r", "\n")
    if looks_like_html(unified):
        text = strip_html(unified)
        ratio = 1.0 - len(text) / max(1, len(unified))
        return Document(text=text, was_html=True, markup_ratio=ratio)
    return Document(text=unified, was_html=False, markup_ratio=0.0)


def normalize(text: str) -> str:
    """Normalisation for model input: Unicode NFKC, typographic quotes and dashes unified, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_PUNCT_MAP)
    return re.sub(r"\s+", " ", text).strip()


_PUNCT_MAP = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})

# Abbreviations after which a full stop does not end a sentence (lower-cased, without the dot).
_ABBREVIATIONS = frozenset(
    (
        "mr mrs ms dr prof gen lt col maj capt cpl sgt brig adm cmdr gov sen rep rev st mt ft no nos vs etc "
        "jan feb mar apr jun jul aug sep sept oct nov dec inc ltd co corp dept univ est approx fig al "
        "i.e e.g u.s u.n u.k a.m p.m"
    ).split()
)
_SENTENCE_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+)|\n\s*\n|\n(?=\s*[A-Z\u201c\"'\-\u2022*])")


# A date stamp that scrapers and feeds put before the first sentence ("date 2022-01-29 The attack…",
# "Published: 2022-01-29 14:05 …"): its own span, so it is never quoted as part of the evidence.
_DATE_STAMP = re.compile(
    r"(?:(?:date|dated|published|updated|posted)\s*:?\s*)?\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?Z?)?\s+(?=\S)",
    re.IGNORECASE,
)


def sentence_spans(text: str) -> list[Span]:
    """Split ``text`` into sentence spans (trimmed of surrounding whitespace), never across paragraph breaks.

    A full stop after a known abbreviation ("Gen.", "U.S.") or an initial ("J.") does not end a sentence.
    A date stamp opening a sentence ("date 2022-01-29 The attack…") is a span of its own.
    """
    spans: list[Span] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        end = match.end()
        token = match.group(0)
        if token.startswith("."):
            before = text[start : match.start()].rsplit(None, 1)
            word = before[-1].lower().rstrip(".") if before else ""
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        _append_trimmed(text, start, end, spans)
        start = end
    _append_trimmed(text, start, len(text), spans)
    return spans


def _append_trimmed(text: str, start: int, end: int, spans: list[Span]) -> None:
    while start < end and text[start].isspace():
        start += 1
    stamp = _DATE_STAMP.match(text, start, end)
    if stamp:
        spans.append(Span(start, start + len(stamp.group(0).rstrip())))
        start = stamp.end()
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and any(ch.isalnum() for ch in text[start:end]):
        spans.append(Span(start, end))


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` as verbatim substrings."""
    return [span.of(text) for span in sentence_spans(text)]


def chunk_spans(text: str, max_words: int = 200, overlap_sentences: int = 1) -> list[Span]:
    """Cover ``text`` whole with chunks of at most ~``max_words`` words, cut at sentence boundaries,
    consecutive chunks sharing ``overlap_sentences`` sentences so no statement is split from its context.

    A single sentence longer than ``max_words`` becomes its own chunks, cut at word boundaries.
    Nothing is dropped: the union of the chunks is the whole text.
    """
    if max_words < 1:
        raise ValueError("max_words must be >= 1")
    pieces = [p for s in sentence_spans(text) for p in _split_long(text, s, max_words)]
    if not pieces:
        return [Span(0, len(text))] if text.strip() else []
    chunks: list[Span] = []
    i = 0
    while i < len(pieces):
        words, j = 0, i
        while j < len(pieces) and (j == i or words + _word_count(pieces[j].of(text)) <= max_words):
            words += _word_count(pieces[j].of(text))
            j += 1
        chunks.append(Span(pieces[i].start, pieces[j - 1].end))
        if j >= len(pieces):
            break
        i = max(i + 1, j - overlap_sentences)
    return chunks


def _word_count(text: str) -> int:
    return len(text.split())


def _split_long(text: str, span: Span, max_words: int) -> list[Span]:
    words = list(re.finditer(r"\S+", span.of(text)))
    if len(words) <= max_words:
        return [span]
    out = []
    for k in range(0, len(words), max_words):
        group = words[k : k + max_words]
        out.append(Span(span.start + group[0].start(), span.start + group[-1].end()))
    return out


def model_input(text: str, title: str | None = None) -> str:
    """The exact string a model reads for an article or a chunk of one: title first, tags stripped, normalised.

    Training and scoring both call this, so what a model saw in training is what it sees in service.
    """
    body = prepare(text).text
    return normalize(f"{title}. {body}" if title else body)
