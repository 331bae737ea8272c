"""The corpus built from the real raw data (``../shared/data/raw``): schema, label ranges, leak-freedom,
counts, benchmarks, manifest, determinism. Skipped when the raw data are absent."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.data.conftest import REPO, CorpusBuild
from threatscore.taxonomy import EVENT_TYPE_GROUPS, EVENT_TYPE_PARENT, EVENT_TYPES
from training.corpus import (
    BENCHMARK_LABELS,
    BINARY_LABEL_COLUMNS,
    COLUMNS,
    SIGNAL_COLUMNS,
    SPLITS,
    build_corpus,
    load_benchmark,
)
from training.corpus.benchmarks import read_benchmark
from training.corpus.build import HASHED_COLUMNS
from training.corpus.manifest import VOLATILE_KEYS, frame_content_hash
from training.corpus.sources import INPUT_FILES
from training.corpus.sources.acled import old_rule_agreement
from training.corpus.textnorm import text_key

pytestmark = pytest.mark.real_corpus

#: Rows per source in the reference build (data/README.md); each source must stay within +-10%.
EXPECTED_ROWS: dict[str, int] = {
    "acled": 21_274,
    "conflibert/BBC_News": 2_122,
    "conflibert/IndiaPoliceEvents_docs": 1,
    "conflibert/cameo_class": 691,
    "conflibert/insightCrime": 1_605,
    "conflibert/muc4": 1_698,
    "conflibert/satp_relevant": 0,  # every text is also in satp (kept there, with ConfliBERT's split)
    "india_police": 1_257,
    "isaf": 724,
    "plover": 2_076,
    "rand": 9_947,
    "satp": 7_150,
    "ucdp": 12_060,
}
#: Sources whose rows carry no taxonomy label at all.
UNLABELLED_SOURCES = (
    "plover",
    "india_police",
    "conflibert/muc4",
    "conflibert/insightCrime",
    "conflibert/cameo_class",
    "conflibert/IndiaPoliceEvents_docs",
)
LABEL_COLUMNS = (*BINARY_LABEL_COLUMNS, "event_type", "sub_event_type")


def test_schema_and_dtypes(corpus_build: CorpusBuild) -> None:
    df = corpus_build.corpus
    assert list(df.columns) == list(COLUMNS)
    for name, dtype in COLUMNS.items():
        assert str(df[name].dtype) == ("string" if dtype == "string" else dtype), name
    for name in ("id", "source", "source_id", "text", "split", "split_rule", "text_key", "near_key", "group_key"):
        assert df[name].notna().all(), name
    assert (df["text"].str.len() > 0).all()


def test_ids_are_unique_and_name_their_source(corpus_build: CorpusBuild) -> None:
    df = corpus_build.corpus
    assert df["id"].is_unique
    assert (df["id"] == df["source"] + ":" + df["source_id"]).all()


def test_label_ranges(corpus_build: CorpusBuild) -> None:
    df = corpus_build.corpus
    assert set(df["split"]) == set(SPLITS)
    assert set(df["sub_event_type"].dropna()) <= set(EVENT_TYPES)
    assert set(df["event_type"].dropna()) <= set(EVENT_TYPE_GROUPS)
    both = df.dropna(subset=["event_type", "sub_event_type"])
    assert (both["sub_event_type"].map(EVENT_TYPE_PARENT) == both["event_type"]).all()
    assert df.loc[df["sub_event_type"].notna(), "event_type"].notna().all()
    for col in BINARY_LABEL_COLUMNS:
        assert set(df[col].dropna().astype(int)) <= {0, 1}, col
    assert (df["fatalities"].dropna() >= 0).all()
    assert set(df["country_code"].dropna().str.len()) == {2}
    assert set(df["date_precision"].dropna()) <= {"day", "week", "month", "year"}
    has_types = df["attack_types"].map(lambda v: v is not None)
    assert set(df.loc[has_types, "source"]) == {"satp"}


def test_mass_casualty_agrees_with_fatalities(corpus_build: CorpusBuild) -> None:
    df = corpus_build.corpus
    acled = df[df["source"] == "acled"]
    assert (acled.loc[acled["fatalities"] >= 10, "sig_mass_casualty"] == 1).all()
    assert (acled.loc[acled["sig_mass_casualty"] == 0, "fatalities"] < 10).all()


def test_no_id_or_text_in_two_splits(corpus_build: CorpusBuild) -> None:
    df = corpus_build.corpus
    for key in ("id", "text_key", "near_key", "group_key"):
        assert (df.groupby(key)["split"].nunique() == 1).all(), key
    assert df["text_key"].is_unique  # exact duplicates are removed
    sample = df.sample(500, random_state=0)
    assert (sample["text"].map(text_key) == sample["text_key"]).all()


def test_benchmark_test_texts_never_in_corpus_train_or_dev(corpus_build: CorpusBuild) -> None:
    df = corpus_build.corpus
    split_of = dict(zip(df["text_key"], df["split"], strict=True))
    for name in BENCHMARK_LABELS:
        bench = load_benchmark(corpus_build.out_dir, name)
        corpus_rows = df[df["source"] == f"conflibert/{name}"]
        bench_keys = bench.loc[bench["id"].isin(corpus_rows["id"]), "id"]
        assert len(bench_keys) == len(corpus_rows)
        test_ids = set(bench.loc[bench["split"] == "test", "id"])
        kept = corpus_rows[corpus_rows["id"].isin(test_ids)]
        assert set(kept["split"]) <= {"test"}, name
        test_text_splits = {split_of.get(k) for k in df.loc[df["id"].isin(test_ids), "text_key"]}
        assert test_text_splits <= {"test"}, name


def test_rows_per_source_within_ten_percent(corpus_build: CorpusBuild) -> None:
    rows = {source: sum(by.values()) for source, by in corpus_build.summary.rows.items()}
    assert set(rows) == set(EXPECTED_ROWS)
    for source, expected in EXPECTED_ROWS.items():
        assert abs(rows[source] - expected) <= max(1, 0.1 * expected), (source, rows[source], expected)
    assert corpus_build.summary.total == len(corpus_build.corpus)


def test_split_shares(corpus_build: CorpusBuild) -> None:
    df = corpus_build.corpus
    for source in ("acled", "ucdp", "isaf", "rand", "satp"):
        shares = df.loc[df["source"] == source, "split"].value_counts(normalize=True)
        assert 0.08 <= shares["test"] <= 0.22, (source, shares.to_dict())
        assert 0.08 <= shares["dev"] <= 0.22, (source, shares.to_dict())


def test_time_split_puts_latest_dates_in_test(corpus_build: CorpusBuild) -> None:
    df = corpus_build.corpus
    timed = df[df["split_rule"] == "time"]
    strata = timed["source"].where(timed["source"] != "acled", timed["source_file"])
    for stratum, part in timed.groupby(strata):
        train_max = part.loc[part["split"] == "train", "event_date"].max()
        dev = part.loc[part["split"] == "dev", "event_date"]
        test_min = part.loc[part["split"] == "test", "event_date"].min()
        assert train_max < dev.min() <= dev.max() < test_min, stratum


def test_missing_labels_are_na_not_zero(corpus_build: CorpusBuild) -> None:
    df = corpus_build.corpus
    for source in UNLABELLED_SOURCES:
        part = df[df["source"] == source]
        assert len(part), source
        for col in LABEL_COLUMNS:
            assert part[col].isna().all(), (source, col)
    # signals no source labels: never 1 anywhere, 0 only where all signals are known to be absent
    for sig in ("regrouping", "recruitment", "prison_break", "cross_border", "security_vacuum"):
        col = f"sig_{sig}"
        assert not (df[col] == 1).any(), col
        zero_sources = set(df.loc[df[col] == 0, "source"])
        assert zero_sources <= {"acled", "conflibert/BBC_News"}, (col, zero_sources)
    bbc = df[df["source"] == "conflibert/BBC_News"]
    for col in SIGNAL_COLUMNS:
        assert (bbc.loc[bbc["relevance"] == 0, col] == 0).all(), col
        assert bbc.loc[bbc["relevance"] == 1, col].isna().all(), col
    non_acled = df[df["source"] != "acled"]
    assert non_acled[["event_type", "sub_event_type"]].isna().all().all()
    assert df.loc[df["source"] == "rand", "sig_militant_attack"].eq(1).all()
    assert df.loc[df["source"] == "isaf", "sig_counter_terrorism"].dropna().eq(1).all()


def test_old_scheme_rules_agree_with_acled_new_scheme(raw_dir: Path) -> None:
    agreement = old_rule_agreement(raw_dir)
    assert set(agreement["event_type"]) == {
        "Explosions/Remote violence",
        "Protests",
        "Riots",
        "Strategic developments",
        "Violence against civilians",
    }
    assert (agreement["event_type_accuracy"] >= 0.995).all()
    assert (agreement["sub_precision"] >= 0.88).all(), agreement.to_dict("records")


def test_benchmarks_keep_their_own_splits(corpus_build: CorpusBuild) -> None:
    for name, labels in BENCHMARK_LABELS.items():
        bench = load_benchmark(corpus_build.out_dir, name)
        assert list(bench.columns) == ["id", "text", "split", *labels]
        assert bench["id"].is_unique
        raw = read_benchmark(corpus_build.raw_dir, name)
        assert len(bench) == len(raw)
        assert (bench["split"].to_numpy() == raw["split"].to_numpy()).all()
        assert (bench["text"].to_numpy() == raw["text"].to_numpy()).all()
        for lab in labels:
            assert str(bench[lab].dtype) == "int8"
            assert set(bench[lab]) <= {0, 1}
        if name == "cameo_class":
            assert (bench[list(labels)].sum(axis=1) == 1).all()
        assert corpus_build.summary.benchmarks[name] == bench["split"].value_counts().to_dict()


def test_manifests(corpus_build: CorpusBuild) -> None:
    processed = json.loads((corpus_build.out_dir / "manifest.json").read_text())
    committed = json.loads(corpus_build.committed_manifest.read_text())
    for key in VOLATILE_KEYS:
        assert key in processed
        assert key not in committed
    assert {k: v for k, v in processed.items() if k not in VOLATILE_KEYS} == committed
    expected_inputs = {
        p.relative_to(corpus_build.raw_dir).as_posix()
        for files in INPUT_FILES.values()
        for p in files(corpus_build.raw_dir)
    }
    assert set(committed["inputs"]) == expected_inputs
    assert committed["corpus_sha256"] == frame_content_hash(corpus_build.corpus, HASHED_COLUMNS)
    assert committed["rows"]["total"] == len(corpus_build.corpus)
    # no source text in the committed manifest
    text = corpus_build.committed_manifest.read_text()
    for sample in corpus_build.corpus["text"].sample(200, random_state=1):
        snippet = sample[:60]
        assert len(snippet) < 20 or snippet not in text


def test_build_is_deterministic(corpus_build: CorpusBuild, tmp_path: Path) -> None:
    build_corpus(
        corpus_build.raw_dir, tmp_path / "processed", show_progress=False, committed_manifest=tmp_path / "m.json"
    )
    assert (tmp_path / "m.json").read_bytes() == corpus_build.committed_manifest.read_bytes()
    assert (tmp_path / "processed" / "corpus.parquet").read_bytes() == (
        corpus_build.out_dir / "corpus.parquet"
    ).read_bytes()


def test_data_card_matches_the_build(corpus_build: CorpusBuild) -> None:
    readme = (REPO / "data" / "README.md").read_text(encoding="utf-8")
    assert corpus_build.summary.render() in readme, "data/README.md counts differ from the build: paste the summary"


def test_committed_manifest_matches_the_build(corpus_build: CorpusBuild) -> None:
    committed = REPO / "data" / "manifest.json"
    if not committed.exists():
        pytest.skip("data/manifest.json not written yet")
    assert json.loads(committed.read_text()) == json.loads(corpus_build.committed_manifest.read_text())


def test_load_corpus_round_trip(corpus_build: CorpusBuild) -> None:
    df = corpus_build.corpus
    satp = df[df["source"] == "satp"]
    assert all(isinstance(v, list) for v in satp["attack_types"].dropna())
    assert pd.api.types.is_datetime64_dtype(df["event_date"])


def test_dates_are_plausible(corpus_build: CorpusBuild) -> None:
    """Publication and event dates fall in the sources' real range (no 1753 or 2109 data-entry errors)."""
    df = corpus_build.corpus
    for column in ("published", "event_date"):
        dates = df[column].dropna()
        assert dates.min() >= pd.Timestamp("1960-01-01"), (column, dates.min())
        assert dates.max() <= pd.Timestamp("2025-12-31"), (column, dates.max())


def test_places_audit_rows_are_corpus_rows_and_their_places_are_in_the_text(corpus_build: CorpusBuild) -> None:
    # The hand audit behind the places ceiling (data/annotations/places_audit.jsonl) stores ids and labels only:
    # each id must be a row of its split with the gold location it records, and each named place must be written
    # in that row's text.
    from training.places_ceiling import load_places_audit

    df = corpus_build.corpus.set_index("id")
    for row in load_places_audit():
        assert row.id in df.index, row.id
        gold = df.loc[row.id]
        assert gold["split"] == row.split and gold["source"] == row.source, row.id
        assert str(gold["country_code"]).upper() == row.gold_country, row.id
        admin1 = gold["admin1"] if isinstance(gold["admin1"], str) else None
        assert admin1 == row.gold_admin1, row.id
        for place in row.named_places:
            assert place.casefold() in str(gold["text"]).casefold(), (row.id, place)
