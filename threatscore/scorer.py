"""The one predict path: articles in, assessments out.

``Scorer`` holds a model's heads and its shipped configuration (thresholds, label maps) and does
everything around them the same way for every model: text preparation, chunking of long articles,
evidence sentences, fatality counts, language, places and risk. The MLflow pyfunc wraps it; the CLI,
the API, batch jobs, evaluation and the UI all reach it through that pyfunc.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from threatscore import geo
from threatscore.encoder_heads import EncoderHeads
from threatscore.fatalities import FatalityMention, find_fatalities
from threatscore.hazards import reports_only_hazard_harm
from threatscore.heads import BlendedHeads, FloatArray, HeadOutputs, TextHeads
from threatscore.language import SUPPORTED_LANGUAGES, UNDETERMINED, detect_language
from threatscore.risk import growth_score, region_risk
from threatscore.schemas import MAX_EVIDENCE, Article, Assessment, ModelInfo, Region, Score, Severity, Signal
from threatscore.stacking import Stacking
from threatscore.taxonomy import EVENT_TYPES, SEVERITY_LEVELS, SIGNALS, risk_level, severity_level
from threatscore.text import Document, Span, chunk_spans, model_input, normalize, prepare, sentence_spans

logger = logging.getLogger(__name__)

#: Share of markup above which the input is reported as "markup soup".
MARKUP_SOUP_RATIO = 0.6
#: Articles of at most this many chunks (about 1,100 words) have their sentences' TF-IDF signals read ahead, on the
#: scorer's second thread (``Scorer._sentence_lexical_job``); a longer one's are read when evidence needs them.
SENTENCE_LEXICAL_MAX_CHUNKS = 8


class ScorerConfig(BaseModel):
    """What ships inside a model next to its heads: decision thresholds and post-processing settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "threatscore"
    relevance_threshold: float = Field(0.5, ge=0.0, le=1.0)
    signal_thresholds: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(SIGNALS, 0.5))
    #: How far an explicit death count in the text is trusted over the severity head (0.5 = not at all).
    count_reliability: float = Field(0.9, ge=0.25, le=1.0)
    #: Overlap between consecutive chunks of a long article, in sentences.
    chunk_overlap_sentences: int = Field(1, ge=0)
    #: Evidence for a signal is sought in at most this many chunks: those that score highest for it. One chunk gave
    #: the seed article better quotes than two or all, and long articles 1.4× the speed of all.
    evidence_chunks: int = Field(1, ge=1)
    #: Per present signal, only this many of its candidate sentences, the best as read inside their chunk (the
    #: chunk's own forward pass: the mean of a sentence's token vectors through the signal head), are scored alone
    #: to choose the quotes; the rest cost nothing. None, or an encoder that does not expose its token states:
    #: every candidate is scored alone (most of a long article's model inputs).
    evidence_shortlist: int | None = Field(3, ge=1)
    #: How the chunks of a long article make its relevance: ``max`` (any chunk), ``mean`` (the article as a whole).
    #: Signals are always the max over chunks: a signal shown anywhere is shown.
    relevance_pooling: Literal["max", "mean"] = "max"
    #: A linear layer over the article's scores that re-reads resurgence and some signals from all of them
    #: (``threatscore.stacking``), applied after pooling and the death count; None: the heads' scores as they are.
    stacking: Stacking | None = None
    #: The resurgence score at or above which an article counts as showing resurgence (the evaluation's decision).
    #: 0.5 for a score read as it comes; chosen on dev when the score is calibrated to the base rate (~14 % of gold
    #: items), where few articles reach 0.5 (``training.stacking.calibrate_resurgence``).
    resurgence_threshold: float = Field(0.5, ge=0.0, le=1.0)
    #: The relevance of an article that reports harm from a natural hazard or an accident and names no violence,
    #: armed actor, protest or politics (``threatscore.hazards``, in the words of ``hazard_rules_version``) is at most
    #: this; None: the heads' relevance as it is (every model before 28 Nov 2026's twentieth session).
    hazard_relevance_cap: float | None = Field(None, ge=0.0, le=1.0)
    #: Where that cap applies, the ten signals and resurgence are capped at it too and no signal is shown with
    #: evidence: an article about a flood shows no militant attack (version 5 of 28 Nov 2026 had quoted the flood
    #: sentence as one). False: only relevance is capped.
    hazard_caps_signals: bool = False
    #: Which words tell harm from a hazard apart (``threatscore.hazards.HAZARD_RULE_VERSIONS``): 1 for the models that
    #: first had the cap (versions 5 and 6 of 28 Nov 2026), 2 where police, soldiers and a government no longer count,
    #: 3 where sinkings, storms, collapses, crashes, epidemics and accidental explosions are hazards too.
    hazard_rules_version: Literal[1, 2, 3] = 1

    @field_validator("signal_thresholds")
    @classmethod
    def _every_signal(cls, value: dict[str, float]) -> dict[str, float]:
        if set(value) != set(SIGNALS):
            raise ValueError(f"signal_thresholds must name exactly the ten signals, got {sorted(value)}")
        return value


@dataclass(frozen=True, slots=True)
class _Prepared:
    article: Article
    document: Document
    sentences: list[Span]
    #: Each sentence as a model reads it (normalised; parallel to ``sentences``).
    sentence_inputs: list[str]
    chunks: list[str]
    #: Where each chunk lies in ``document.text`` (parallel to ``chunks``).
    chunk_spans: list[Span]
    #: Whether the article's relevance is capped (``ScorerConfig.hazard_relevance_cap``): harm from a hazard only.
    hazard_only: bool = False

    @property
    def whole(self) -> str:
        """The whole article as one model input: what heads that read any length (TF-IDF) read."""
        return model_input(self.document.text, self.article.title)


@dataclass(frozen=True, slots=True)
class _TextFacts:
    """What an article's text says without any model: its death counts, language and regions."""

    fatality_mentions: list[FatalityMention]
    language: str
    regions: list[geo.ResolvedRegion]


def _text_facts(p: _Prepared) -> _TextFacts:
    text = p.document.text
    return _TextFacts(find_fatalities(text), detect_language(text), geo.resolve_regions(text, title=p.article.title))


@dataclass(frozen=True, slots=True)
class _Reading:
    """What an article's pooled head outputs and its text say, before evidence is chosen."""

    outputs: HeadOutputs
    #: Each chunk's own signal probabilities (rows follow ``_Prepared.chunks``), before pooling.
    chunk_signals: FloatArray
    #: Raw signal logits of each sentence (rows follow ``_Prepared.sentences``) read inside a chunk that contains it,
    #: NaN where no chunk read it (``ScorerConfig.evidence_shortlist``); None when the heads cannot.
    sentence_logits: np.ndarray | None
    fatality_mentions: list[FatalityMention]
    fatalities: int | None
    severity_probs: dict[str, float]
    signal_probs: dict[str, float]
    resurgence: float


@dataclass(frozen=True)
class ServedScores:
    """Articles' scores exactly as their assessments carry them, before rounding: one row per article."""

    relevance: FloatArray  # (n,)
    signals: FloatArray  # (n, len(SIGNALS)); mass_casualty is the high-severity probability
    severity: FloatArray  # (n, len(SEVERITY_LEVELS)), the head's updated by the text's death count
    resurgence: FloatArray  # (n,)


class Scorer:
    """Scores articles with one model's heads. Thread-safe for concurrent ``score`` calls (no shared state)."""

    def __init__(self, heads: TextHeads, config: ScorerConfig) -> None:
        self.heads = heads
        self.config = config
        #: Do the text's own work on a second thread while the encoder runs (``score``); off, everything runs on
        #: the caller's thread in sequence (``benchmarks.stages`` times the stages that way).
        self.parallel_text_work = True

    def score(self, articles: Sequence[Article], model: ModelInfo | None = None) -> list[Assessment]:
        """Assess each article, in order. The model is called twice per batch, whatever its size: once for
        every chunk of every article, once for the (shortlisted) candidate sentences of the articles that need
        evidence."""
        model = model or ModelInfo(name=self.config.name)
        prepared = [self._prepare(a) for a in articles]
        if self.parallel_text_work and isinstance(_encoder_of(self.heads), EncoderHeads):
            # While onnxruntime runs the encoder on both cores with the GIL released, a second thread does the
            # work that needs no encoder output (a blend's TF-IDF heads, then places, death counts and language),
            # which would otherwise leave a core idle between batches: +3 % articles/s on long articles, the same
            # assessments (benchmarks/results/served-path-changes.md, 27 Nov). A pool per call: no thread
            # outlives the call, so none is carried across a fork.
            with ThreadPoolExecutor(1, thread_name_prefix="threatscore-text") as side:
                lexical = self._lexical_job(side, prepared)
                facts = side.submit(lambda: [_text_facts(p) for p in prepared])
                sentence_lexical = self._sentence_lexical_job(side, prepared)
                pooled = self._pooled(prepared, lexical)
                known = sentence_lexical.result() if sentence_lexical is not None else None
                return self._score_prepared(prepared, pooled, facts.result(), model, known)
        pooled = self._pooled(prepared)
        return self._score_prepared(prepared, pooled, [_text_facts(p) for p in prepared], model)

    def _score_prepared(
        self,
        prepared: Sequence[_Prepared],
        pooled: list[tuple[HeadOutputs, FloatArray, np.ndarray | None]],
        facts: list[_TextFacts],
        model: ModelInfo,
        sentence_lexical: Mapping[str, FloatArray] | None = None,
    ) -> list[Assessment]:
        """Readings, evidence and assessments from the pooled outputs and each article's text facts;
        ``sentence_lexical``: a blend's TF-IDF signal probabilities of the articles' sentences, already read
        (``_sentence_lexical_job``)."""
        readings = [self._read(p, *row, f.fatality_mentions) for p, row, f in zip(prepared, pooled, facts, strict=True)]
        evidence = self._evidence(prepared, readings, sentence_lexical)
        return [self._assess(p, r, e, f, model) for p, r, e, f in zip(prepared, readings, evidence, facts, strict=True)]

    def _lexical_job(self, side: ThreadPoolExecutor, prepared: Sequence[_Prepared]) -> Future[HeadOutputs] | None:
        """The TF-IDF heads of a blend over the whole articles, started on ``side``; None without a blend."""
        if not isinstance(self.heads, BlendedHeads):
            return None
        lexical = self.heads.lexical
        return side.submit(lambda: lexical.predict([p.whole for p in prepared]))

    def _sentence_lexical_job(
        self, side: ThreadPoolExecutor, prepared: Sequence[_Prepared]
    ) -> Future[dict[str, FloatArray]] | None:
        """A blend's TF-IDF signal probabilities of the distinct sentences of the articles of at most
        ``SENTENCE_LEXICAL_MAX_CHUNKS`` chunks, started on ``side`` (free long before the encoder's chunks are done);
        None without a blend. Evidence mixes them into its candidates' scores; read there, they kept one core idle
        between the encoder's two calls. Medium articles ×1.016, short ×1.021 (one process, 15 paired runs; the same
        assessments). A long article's sentences are left to be read when needed: evidence looks in its best chunk
        per signal only, so most of them never are (read ahead, all distinct, long articles ×0.991)."""
        if not isinstance(self.heads, BlendedHeads) or not isinstance(self.heads.encoder, EncoderHeads):
            return None
        short = [p for p in prepared if len(p.chunks) <= SENTENCE_LEXICAL_MAX_CHUNKS]
        return side.submit(_lexical_signals, self.heads.lexical, [s for p in short for s in p.sentence_inputs])

    def chunks(self, article: Article) -> list[str]:
        """The model inputs ``score`` makes of an article: its chunks, each with the title in front."""
        return self._prepare(article).chunks

    def whole_input(self, article: Article) -> str:
        """The model input ``score`` makes of a whole article (what TF-IDF heads read)."""
        return self._prepare(article).whole

    def pooled_outputs(self, articles: Sequence[Article]) -> HeadOutputs:
        """Each article's head outputs exactly as ``score`` pools them over its chunks, one row per article,
        without evidence, places or assessments: what relevance and signal thresholds must be chosen on."""
        return HeadOutputs.concat([out for out, *_ in self._pooled([self._prepare(a) for a in articles])])

    def served_scores(self, articles: Sequence[Article]) -> ServedScores:
        """Each article's relevance, signal, severity and resurgence scores as ``score`` serves them (pooling, the
        death count, stacking), without evidence, places or assessments: what a stacking layer is fitted on."""
        prepared = [self._prepare(a) for a in articles]
        readings = [
            self._read(p, *row, find_fatalities(p.document.text))
            for p, row in zip(prepared, self._pooled(prepared), strict=True)
        ]
        return ServedScores(
            relevance=np.array([float(r.outputs.relevance[0]) for r in readings]),
            signals=np.array([[r.signal_probs[n] for n in SIGNALS] for r in readings]).reshape(-1, len(SIGNALS)),
            severity=np.array([[r.severity_probs[k] for k in SEVERITY_LEVELS] for r in readings]).reshape(
                -1, len(SEVERITY_LEVELS)
            ),
            resurgence=np.array([r.resurgence for r in readings]),
        )

    def relevance(self, articles: Sequence[Article]) -> FloatArray:
        """Each article's relevance exactly as ``score`` computes it (chunks and pooling)."""
        return self.pooled_outputs(articles).relevance

    def _pooled(
        self, prepared: Sequence[_Prepared], lexical: Future[HeadOutputs] | None = None
    ) -> list[tuple[HeadOutputs, FloatArray, np.ndarray | None]]:
        """One model call for every chunk of every article; per article its pooled outputs, its chunks' own signal
        probabilities and, when the encoder reads sentences in context, each sentence's raw signal logits. A blend
        (``BlendedHeads``) pools its encoder over the chunks and mixes in its TF-IDF heads read over the whole
        article, as they were trained: chunk by chunk, the TF-IDF event types called the quoted commentary of a
        long analysis a "Peaceful protest", ACLED's most common note. ``lexical``: those TF-IDF outputs, already
        under way on another thread (``score``); computed here when None."""
        flat = [chunk for p in prepared for chunk in p.chunks]
        if not flat:
            return []
        blend = self.heads if isinstance(self.heads, BlendedHeads) else None
        encoder = _encoder_of(self.heads)
        sentence_logits: list[np.ndarray | None] = [None] * len(prepared)
        if self.config.evidence_shortlist is not None and isinstance(encoder, EncoderHeads):
            members = [_chunk_sentences(p) for p in prepared]
            texts = [
                [p.sentence_inputs[i] for i in chunk]
                for p, per_chunk in zip(prepared, members, strict=True)
                for chunk in per_chunk
            ]
            outputs, per_chunk_logits = encoder.predict_in_context(flat, texts)
            flat_index = 0
            for k, (p, per_chunk) in enumerate(zip(prepared, members, strict=True)):
                logits = np.full((len(p.sentences), len(SIGNALS)), np.nan, dtype=np.float32)
                for chunk in per_chunk:
                    if chunk:  # a sentence in two chunks (the overlap) keeps the stronger reading of each signal
                        logits[chunk] = np.fmax(logits[chunk], per_chunk_logits[flat_index])
                    flat_index += 1
                sentence_logits[k] = logits
        else:
            outputs = encoder.predict(flat)
        pooled = []
        offset = 0
        for p in prepared:
            rows = slice(offset, offset + len(p.chunks))
            offset += len(p.chunks)
            pooled.append((_pool(outputs, rows, self.config.relevance_pooling), outputs.signals[rows]))
        if blend is not None:
            read = lexical.result() if lexical is not None else blend.lexical.predict([p.whole for p in prepared])
            pooled = [(blend.mix(out, read.take(slice(k, k + 1))), sig) for k, (out, sig) in enumerate(pooled)]
        if self.config.hazard_relevance_cap is not None:
            pooled = [
                (self._hazard_capped(out) if p.hazard_only else out, sig)
                for p, (out, sig) in zip(prepared, pooled, strict=True)
            ]
        return [(out, sig, logits) for (out, sig), logits in zip(pooled, sentence_logits, strict=True)]

    def _signals_capped(self, p: _Prepared) -> bool:
        """Whether ``p``'s signals are capped (``hazard_caps_signals``): then none is shown with evidence."""
        return p.hazard_only and self.config.hazard_caps_signals

    def _hazard_capped(self, out: HeadOutputs) -> HeadOutputs:
        """One article's pooled outputs with ``hazard_relevance_cap`` applied: relevance, and with
        ``hazard_caps_signals`` the signals and resurgence too."""
        cap = self.config.hazard_relevance_cap
        assert cap is not None
        capped = replace(out, relevance=np.minimum(out.relevance, cap))
        if not self.config.hazard_caps_signals:
            return capped
        resurgence = None if out.resurgence is None else np.minimum(out.resurgence, cap)
        return replace(capped, signals=np.minimum(out.signals, cap), resurgence=resurgence)

    def _prepare(self, article: Article) -> _Prepared:
        document = prepare(article.text)
        spans = sentence_spans(document.text)
        max_words = self.heads.max_words
        whole = [Span(0, len(document.text))]
        if max_words is None:
            pieces = whole
        else:
            pieces = chunk_spans(document.text, max_words, self.config.chunk_overlap_sentences)
        pieces = [s for s in pieces if s.of(document.text).strip()] or whole
        chunks = [model_input(s.of(document.text), article.title) for s in pieces]
        hazard_only = self.config.hazard_relevance_cap is not None and reports_only_hazard_harm(
            f"{article.title or ''}\n{document.text}", self.config.hazard_rules_version
        )
        return _Prepared(
            article, document, spans, [normalize(s.of(document.text)) for s in spans], chunks, pieces, hazard_only
        )

    def _read(
        self,
        p: _Prepared,
        out: HeadOutputs,
        chunk_signals: FloatArray,
        sentence_logits: np.ndarray | None,
        fatality_mentions: list[FatalityMention],
    ) -> _Reading:
        """The article-level numbers from its pooled head outputs and the death counts its text reports."""
        fatalities = sum({m.count for m in fatality_mentions}) if fatality_mentions else None
        severity_probs = self._severity(out.severity[0], fatalities)
        signal_probs = {name: float(out.signals[0, j]) for j, name in enumerate(SIGNALS)}
        # mass_casualty *is* "10 or more killed", i.e. the high severity level: one number, never two opinions.
        signal_probs["mass_casualty"] = severity_probs["high"]
        if self._signals_capped(p):
            signal_probs["mass_casualty"] = min(signal_probs["mass_casualty"], self.config.hazard_relevance_cap or 0.0)
        relevance = float(out.relevance[0])
        resurgence = float(out.resurgence[0]) if out.resurgence is not None else growth_score(signal_probs, relevance)
        if self.config.stacking is not None:
            signal_probs, resurgence = self.config.stacking.apply_one(
                signal_probs, relevance, severity_probs, resurgence
            )
        return _Reading(
            out,
            chunk_signals,
            sentence_logits,
            fatality_mentions,
            fatalities,
            severity_probs,
            signal_probs,
            resurgence,
        )

    def _assess(
        self, p: _Prepared, r: _Reading, evidence: dict[str, list[str]], facts: _TextFacts, model: ModelInfo
    ) -> Assessment:
        out = r.outputs
        relevance = float(out.relevance[0])
        signal_probs, severity_probs, resurgence = r.signal_probs, r.severity_probs, r.resurgence
        language = facts.language
        return Assessment(
            id=p.article.id,
            model=model,
            language=language,
            warnings=_warnings(p, language),
            relevance=_round(relevance),
            resurgence=Score(score=_round(resurgence), level=risk_level(_round(resurgence))),
            signals={n: Signal(probability=_round(signal_probs[n]), evidence=evidence.get(n, [])) for n in SIGNALS},
            event_types={name: _round(float(out.event_types[0, j])) for j, name in enumerate(EVENT_TYPES)},
            severity=Severity(
                level=max(severity_probs, key=lambda k: severity_probs[k]),
                fatalities=r.fatalities,
                probabilities={k: _round(v) for k, v in severity_probs.items()},
            ),
            regions=_regions(facts.regions, relevance, severity_probs, resurgence),
        )

    def _severity(self, head: FloatArray, fatalities: int | None) -> dict[str, float]:
        """Severity probabilities: the head's, updated by the count the text reports (a likelihood whose
        strength is ``count_reliability``)."""
        probs = np.clip(np.asarray(head, dtype=np.float64), 1e-6, 1.0)
        if fatalities is not None:
            reliability = self.config.count_reliability
            counted = SEVERITY_LEVELS.index(severity_level(fatalities))
            likelihood = np.full(len(SEVERITY_LEVELS), (1.0 - reliability) / (len(SEVERITY_LEVELS) - 1))
            likelihood[counted] = reliability
            probs = probs * likelihood
        probs = probs / probs.sum()
        return {level: float(probs[i]) for i, level in enumerate(SEVERITY_LEVELS)}

    def _evidence(
        self,
        prepared: Sequence[_Prepared],
        readings: Sequence[_Reading],
        sentence_lexical: Mapping[str, FloatArray] | None = None,
    ) -> list[dict[str, list[str]]]:
        """Per article, up to three verbatim sentences per signal over its threshold: the sentences that score
        highest for that signal on their own, among the sentences of the chunks that carry the signal (see
        ``_candidates``) and, when the encoder read them in their chunk, the best few as read there
        (``_shortlist``). The candidates of all articles go to the model in one call, batched (and length-sorted)
        together."""
        evidence: list[dict[str, list[str]]] = [{} for _ in prepared]
        # (article, its sentences' quotes, per learned signal present: the indices of its candidate sentences)
        wanted: list[tuple[int, list[str], dict[str, list[int]]]] = []
        for k, (p, r) in enumerate(zip(prepared, readings, strict=True)):
            present = [n for n in SIGNALS if r.signal_probs[n] >= self.config.signal_thresholds[n]]
            if not present or not p.sentences or self._signals_capped(p):
                continue
            text = p.document.text
            quotes = [s.of(text) for s in p.sentences]
            if "mass_casualty" in present:
                # The sentences that carry the death counts are the evidence for mass casualties.
                starts = [s.start for s in p.sentences]
                chosen = sorted(r.fatality_mentions, key=lambda m: -m.count)
                idx = [int(np.searchsorted(starts, m.span.start, side="right")) - 1 for m in chosen]
                evidence[k]["mass_casualty"] = list(dict.fromkeys(quotes[i] for i in idx if i >= 0))[:MAX_EVIDENCE]
            limit = self.config.evidence_chunks
            candidates = {n: _candidates(p, r, n, limit) for n in present if n != "mass_casualty"}
            learned = {n: idx for n, idx in candidates.items() if idx}
            if learned:
                wanted.append((k, quotes, learned))
        if not wanted:
            return evidence
        wanted = self._shortlist(wanted, prepared, readings, sentence_lexical)
        # Score each candidate sentence once, however many signals point at it; keep document order.
        used_per_article = [sorted({i for idx in learned.values() for i in idx}) for _, _, learned in wanted]
        texts = [
            prepared[k].sentence_inputs[i]
            for (k, _, _), used in zip(wanted, used_per_article, strict=True)
            for i in used
        ]
        if isinstance(self.heads, BlendedHeads):
            known = _lexical_rows(self.heads, sentence_lexical or {}, texts)
            sentence_probs = self.heads.predict_signals(texts, lexical=known)
        else:
            sentence_probs = self.heads.predict_signals(texts)
        offset = 0
        for (k, quotes, learned), used in zip(wanted, used_per_article, strict=True):
            probs = sentence_probs[offset : offset + len(used)]
            offset += len(used)
            position = {i: j for j, i in enumerate(used)}
            for name, idx in learned.items():
                column = probs[[position[i] for i in idx], SIGNALS.index(name)]
                order = np.argsort(-column, kind="stable")
                # Quote sentences that carry the signal themselves; the best one always, as the reason.
                keep = [
                    int(i) for i in order[:MAX_EVIDENCE] if column[i] >= 0.5 * column[order[0]] and column[i] > 0.05
                ]
                evidence[k][name] = [quotes[idx[i]] for i in sorted(keep or [int(order[0])])]
        return evidence

    def _shortlist(
        self,
        wanted: list[tuple[int, list[str], dict[str, list[int]]]],
        prepared: Sequence[_Prepared],
        readings: Sequence[_Reading],
        sentence_lexical: Mapping[str, FloatArray] | None = None,
    ) -> list[tuple[int, list[str], dict[str, list[int]]]]:
        """Each signal's candidates cut to the ``evidence_shortlist`` best as read inside their chunk: the
        encoder's in-context logits through the same rule and TF-IDF blend as a sentence alone. Candidates no
        chunk read stay; nothing is cut when the encoder read no sentences.

        In context, a sentence next to a claim reads much like the claim (scored that way, a signal quoted 2.4
        sentences instead of 1.7 on the gold dev items, with no more keyword hits), so the quotes are still chosen
        on the sentences alone; the chunk's reading only decides which few are worth reading alone."""
        size = self.config.evidence_shortlist
        blend = self.heads if isinstance(self.heads, BlendedHeads) else None
        encoder = _encoder_of(self.heads)
        if size is None or not isinstance(encoder, EncoderHeads):
            return wanted
        # The sentences worth ranking, over all articles (one rule and TF-IDF pass for all of them): those of
        # signals with more candidates than the shortlist (a short article rarely has any) that a chunk read.
        read: list[list[int]] = []
        chunk_logits: list[np.ndarray] = []
        for k, _, learned in wanted:
            logits = readings[k].sentence_logits
            used = sorted({i for idx in learned.values() if len(idx) > size for i in idx})
            read.append([] if logits is None else [i for i in used if not np.isnan(logits[i]).any()])
            if logits is not None:
                chunk_logits.append(logits[read[-1]])
        texts = [prepared[k].sentence_inputs[i] for (k, _, _), rows in zip(wanted, read, strict=True) for i in rows]
        if not texts:
            return wanted
        raw = np.concatenate(chunk_logits)
        probs = encoder.signal_probs(raw, texts)
        if blend is not None:
            probs = blend.mix_signals(probs, texts, lexical=_lexical_rows(blend, sentence_lexical or {}, texts))
        out, offset = [], 0
        for (k, quotes, learned), rows in zip(wanted, read, strict=True):
            row = {i: offset + j for j, i in enumerate(rows)}
            offset += len(rows)
            cut = dict(learned)
            for name, idx in learned.items():
                if len(idx) > size:
                    j = SIGNALS.index(name)
                    best = sorted((i for i in idx if i in row), key=lambda i: -probs[row[i], j])[:size]
                    cut[name] = sorted([*best, *(i for i in idx if i not in row)])
            out.append((k, quotes, cut))
        return out


def _lexical_signals(lexical: TextHeads, texts: Sequence[str]) -> dict[str, FloatArray]:
    """The TF-IDF signal probabilities of each distinct sentence of ``texts``, read in one pass (a row depends on
    its own text only)."""
    distinct = list(dict.fromkeys(texts))
    return dict(zip(distinct, lexical.predict_signals(distinct), strict=True)) if distinct else {}


def _lexical_rows(blend: BlendedHeads, known: Mapping[str, FloatArray], texts: Sequence[str]) -> FloatArray:
    """The blend's TF-IDF signal probabilities of sentences ``texts``, one row each: those in ``known`` as read
    already, the others read now."""
    read = _lexical_signals(blend.lexical, [t for t in texts if t not in known])
    return np.stack([known[t] if t in known else read[t] for t in texts]) if texts else np.zeros((0, len(SIGNALS)))


def _encoder_of(heads: TextHeads) -> TextHeads:
    """The heads that read chunks: a blend's encoder, or the heads themselves."""
    return heads.encoder if isinstance(heads, BlendedHeads) else heads


def _chunk_sentences(p: _Prepared) -> list[list[int]]:
    """Per chunk, the indices of the article's sentences that lie wholly inside it (a sentence cut by a chunk
    boundary, which only a sentence longer than a chunk is, belongs to none and is scored alone)."""
    return [[i for i, s in enumerate(p.sentences) if c.start <= s.start and s.end <= c.end] for c in p.chunk_spans]


def _candidates(p: _Prepared, r: _Reading, name: str, limit: int) -> list[int]:
    """Indices of the sentences that may quote signal ``name``: those of the (at most ``limit``) chunks scoring
    highest for it, and at least half the best chunk's probability. A one-chunk article keeps every sentence; a long
    one skips the chunks that carry the signal least, which saves most of the model's work on long articles (one
    model input per sentence read)."""
    column = r.chunk_signals[:, SIGNALS.index(name)]
    order = np.argsort(-column, kind="stable")[:limit]
    hot = [p.chunk_spans[int(c)] for c in order if column[c] >= 0.5 * column[order[0]]]
    return [i for i, s in enumerate(p.sentences) if any(s.start < c.end and c.start < s.end for c in hot)]


def _pool(outputs: HeadOutputs, rows: slice, relevance_pooling: Literal["max", "mean"] = "max") -> HeadOutputs:
    """One article's chunks → one row: signals are the max over chunks (shown anywhere is shown), relevance the max
    or the mean (``relevance_pooling``); event type and severity distributions are averaged, weighted by each
    chunk's relevance."""
    weights = outputs.relevance[rows] + 1e-6
    weights = weights / weights.sum()
    relevance = outputs.relevance[rows]
    return HeadOutputs(
        relevance=relevance.mean(keepdims=True) if relevance_pooling == "mean" else relevance.max(keepdims=True),
        signals=outputs.signals[rows].max(axis=0, keepdims=True),
        event_types=(weights[:, None] * outputs.event_types[rows]).sum(axis=0, keepdims=True),
        severity=(weights[:, None] * outputs.severity[rows]).sum(axis=0, keepdims=True),
        resurgence=None if outputs.resurgence is None else outputs.resurgence[rows].max(keepdims=True),
    )


def _regions(
    resolved: Sequence[geo.ResolvedRegion], relevance: float, severity: dict[str, float], resurgence: float
) -> list[Region]:
    regions = []
    for r in resolved:
        risk = _round(region_risk(relevance, severity, resurgence, r.primary))
        regions.append(
            Region(
                country_code=r.country_code,
                country=r.country,
                admin1=r.admin1,
                places=list(r.places),
                primary=r.primary,
                risk=Score(score=risk, level=risk_level(risk)),
            )
        )
    return regions


def _warnings(p: _Prepared, language: str) -> list[str]:
    warnings = []
    if language == UNDETERMINED:
        warnings.append("language could not be determined; the models read English")
    elif language not in SUPPORTED_LANGUAGES:
        warnings.append(f"unsupported language: {language}")
    if p.document.was_html and p.document.markup_ratio >= MARKUP_SOUP_RATIO:
        warnings.append(f"text looked like markup soup: {p.document.markup_ratio:.0%} of the input was markup")
    if p.article.published is None:
        warnings.append("no publication date: the article is left out of dated regional trends")
    if len(p.document.text.split()) < 8:
        warnings.append("very short text: scores rest on a few words")
    if p.hazard_only:
        warnings.append(
            "harm from a natural hazard or an accident, with no violence, armed actor, protest or politics named: "
            "relevance capped"
        )
    return warnings


def _round(value: float) -> float:
    return round(float(min(1.0, max(0.0, value))), 4)
