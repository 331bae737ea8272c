"""Accuracy of the place resolver's *primary* region against gold country / admin-1 labels.

``evaluate_places(rows, limit)`` takes rows with columns ``id, source, text, country_code, admin1`` and
scores ``threatscore.geo.resolve_regions``: country accuracy and admin-1 accuracy of the primary region
per source, coverage (share of rows with any region), and the most frequent confusions. Admin-1 names
are compared after normalisation: case, accents, "Governorate"/"Province"/"State" suffixes, and the
gazetteer's spellings of each region (so ACLED's "Al-Hasakeh", UCDP's "Al Hasakah Governorate" and
GeoNames' "Al-Hasakah" are one region).

Until the unified corpus exists, ``load_raw_gold`` reads gold rows straight from the raw extracts
(ACLED notes, UCDP Syria headlines, ISAF press releases). Run::

    HF_HUB_OFFLINE=1 .venv/bin/python -m training.evaluate_places --half even   # tuning half
    HF_HUB_OFFLINE=1 .venv/bin/python -m training.evaluate_places --half odd    # the other half
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from threatscore.geo import data as geo_data
from threatscore.geo import get_gazetteer, resolve_regions
from threatscore.geo.normalize import fold

logger = logging.getLogger(__name__)

DEFAULT_RAW_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "raw"
REQUIRED_COLUMNS = ("id", "source", "text", "country_code", "admin1")
_SUFFIX_RE = re.compile(
    r"\b(?:governorate|province|state|region|district|division|prefecture|department|county|oblast|"
    r"muhafazah|wilaya|wilayah|popularate)\b",
    re.IGNORECASE,
)
#: Gold spellings that are not one of the gazetteer's spellings of the same region (same country), keyed by the
#: folded name without administrative words or a leading "Republic of".
ADMIN1_GOLD_ALIASES: dict[tuple[str, str], str] = {
    ("BF", "hauts bassins"): "High-Basins",
    ("BF", "haut bassins"): "High-Basins",
    ("BF", "sud ouest"): "Southwest",
    # English names of regions GeoNames writes in the country's language.
    ("IR", "north khorasan"): "Khorasan-e Shomali",
    ("IR", "south khorasan"): "Khorasan-e Jonubi",
    ("IR", "kohgiluyeh and buyer ahmad"): "Kohgiluyeh va Buyer Ahmad",
    ("IR", "chaharmahal and bakhtiari"): "Chahar Mahall va Bakhtiari",
    ("ID", "west sulawesi"): "Sulawesi Barat",
    ("ID", "southeast sulawesi"): "Sulawesi Tenggara",
    ("ID", "north maluku"): "Maluku Utara",
    ("KZ", "west kazakhstan"): "Batys Qazaqstan",
    ("KH", "oddar meanchey"): "Otar Meanchey",
    ("LA", "luang prabang"): "Louangphabang",
    ("BO", "beni"): "El Beni",
    ("RW", "iburengerazuba"): "Western",
    ("AZ", "khojavend"): "Xocavand",
    ("MG", "haute matsiatra"): "Upper Matsiatra",
    ("PK", "federal capital territory"): "Islamabad",
    # Parts of a region as GeoNames keeps it: Tajura and the four districts joined Tripoli district in 2007;
    # Nouakchott was split in three wilayas in 2014.
    ("LY", "tajura wa an nawahi al arba"): "Tripoli",
    ("MR", "nouakchott ouest"): "Nouakchott",
    ("MR", "nouakchott nord"): "Nouakchott",
    ("MR", "nouakchott sud"): "Nouakchott",
}
#: Gold regions coarser than the gazetteer's: a primary region in any of these is the gold one (ACLED codes Darfur
#: as one region; GeoNames has its five states).
ADMIN1_GOLD_GROUPS: dict[tuple[str, str], tuple[str, ...]] = {
    ("SD", "darfur"): ("Central Darfur", "Eastern Darfur", "Northern Darfur", "Southern Darfur", "Western Darfur"),
}


@dataclass(frozen=True)
class SourceScore:
    """Scores of one source."""

    source: str
    rows: int
    covered: int
    country_correct: int
    admin1_rows: int
    admin1_correct: int
    seconds: float
    admin1_found: int = 0  # gold admin-1 among *any* of the returned regions: the ceiling for ranking
    admin1_covered: int = 0  # rows with a gold admin-1 for which any region was returned

    @property
    def admin1_recall(self) -> float:
        """Share of rows with a gold admin-1 that appears among any returned region."""
        return self.admin1_found / self.admin1_rows if self.admin1_rows else 0.0

    @property
    def coverage(self) -> float:
        """Share of rows for which the resolver found any region."""
        return self.covered / self.rows if self.rows else 0.0

    @property
    def country_accuracy(self) -> float:
        """Share of rows whose primary region has the gold country (no region counts as wrong)."""
        return self.country_correct / self.rows if self.rows else 0.0

    @property
    def admin1_accuracy(self) -> float:
        """Share of rows with a gold admin-1 whose primary region has the same country and admin-1."""
        return self.admin1_correct / self.admin1_rows if self.admin1_rows else 0.0


@dataclass
class PlacesReport:
    """Per-source accuracy of the primary region plus the most frequent confusions."""

    sources: list[SourceScore]
    confusions: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    title: str = "Place resolution (primary region)"
    #: Ids of the rows that got no region at all, and of the rows with a gold admin-1 whose primary region is a
    #: country only: the two populations the hand audit of the resolver's ceiling samples (``places_ceiling``).
    no_region_ids: frozenset[str] = frozenset()
    country_only_ids: frozenset[str] = frozenset()
    admin1_row_ids: frozenset[str] = frozenset()  # the rows with a gold admin-1

    @property
    def overall(self) -> SourceScore:
        """All sources pooled."""
        return SourceScore(
            "all",
            sum(s.rows for s in self.sources),
            sum(s.covered for s in self.sources),
            sum(s.country_correct for s in self.sources),
            sum(s.admin1_rows for s in self.sources),
            sum(s.admin1_correct for s in self.sources),
            sum(s.seconds for s in self.sources),
            sum(s.admin1_found for s in self.sources),
            sum(s.admin1_covered for s in self.sources),
        )

    def render(self) -> str:
        """The report as markdown: one table row per source, then the top confusions per source."""
        lines = [
            f"## {self.title}",
            "",
            "| source | rows | coverage | country acc | country acc, covered | admin-1 rows | admin-1 acc "
            "| admin-1 acc, covered | admin-1 in any region | ms/row |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for s in [*self.sources, self.overall]:
            ms = 1000 * s.seconds / s.rows if s.rows else 0.0
            lines.append(
                f"| {s.source} | {s.rows} | {s.coverage:.3f} | {s.country_accuracy:.3f} | "
                f"{s.country_correct / max(1, s.covered):.3f} | {s.admin1_rows} | {s.admin1_accuracy:.3f} | "
                f"{s.admin1_correct / max(1, s.admin1_covered):.3f} | {s.admin1_recall:.3f} | {ms:.2f} |"
            )
        for source, items in self.confusions.items():
            if not items:
                continue
            lines += ["", f"Top confusions, {source} (gold -> predicted primary):", ""]
            lines += [f"- {pair}: {count}" for pair, count in items]
        return "\n".join(lines) + "\n"


def normalize_admin1(country_code: str | None, name: str | None) -> str | None:
    """A comparable key for an admin-1 name: the gazetteer's region id when the name is one of its
    spellings in that country, else the folded name without administrative suffixes."""
    if not name or not isinstance(name, str) or not name.strip():
        return None
    cc = (country_code or "").upper()
    plain = _plain(name)
    alias = ADMIN1_GOLD_ALIASES.get((cc, plain))
    gaz = get_gazetteer()
    for candidate in (alias, name.replace("_", " "), plain):
        if candidate:
            found = gaz.admin1_id(cc, candidate)
            if found is not None:
                return f"{cc}#{found}"
    return f"{cc}:{plain}"


def _plain(name: str) -> str:
    """A name folded, without administrative words or a leading "Republic of" ("Republic of Dagestan")."""
    plain = " ".join(_SUFFIX_RE.sub(" ", fold(name.replace("_", " "))).split())
    return plain.removeprefix("republic of ")


def gold_admin1_keys(country_code: str | None, name: str | None) -> frozenset[str]:
    """The keys (``normalize_admin1``) a primary region may have to match a gold admin-1: the gold name's own, or
    those of every gazetteer region a coarser gold region covers (``ADMIN1_GOLD_GROUPS``); empty without a name."""
    key = normalize_admin1(country_code, name)
    if key is None or name is None:
        return frozenset()
    members = ADMIN1_GOLD_GROUPS.get(((country_code or "").upper(), _plain(name)), ())
    return frozenset({key, *(k for m in members if (k := normalize_admin1(country_code, m)) is not None)})


def evaluate_places(rows: pd.DataFrame, limit: int | None = None, top_confusions: int = 10) -> PlacesReport:
    """Score the primary region of ``resolve_regions`` on gold rows, per source.

    ``limit`` caps the rows scored *per source* (the first ones in the frame's order), so a quick run
    still covers every source. Rows without a gold country are skipped; rows without a gold admin-1
    count for the country only.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in rows.columns]
    if missing:
        raise ValueError(f"rows lack columns {missing}")
    scores: list[SourceScore] = []
    confusions: dict[str, list[tuple[str, int]]] = {}
    no_region: set[str] = set()
    country_only: set[str] = set()
    admin_ids: set[str] = set()
    for source, group in rows.groupby("source", sort=True):
        group = group[group["country_code"].notna() & (group["country_code"].astype(str).str.len() == 2)]
        if limit is not None:
            group = group.head(limit)
        covered = country_ok = admin_rows = admin_ok = admin_found = admin_covered = 0
        confused: Counter[str] = Counter()
        started = time.perf_counter()
        for row in group.itertuples(index=False):
            gold_cc = str(row.country_code).upper()
            regions = resolve_regions(str(row.text))
            primary = regions[0] if regions else None
            covered += primary is not None
            if primary is None:
                no_region.add(str(row.id))
            cc_ok = primary is not None and primary.country_code == gold_cc
            country_ok += cc_ok
            gold_admin = gold_admin1_keys(gold_cc, row.admin1 if isinstance(row.admin1, str) else None)
            if not gold_admin:
                continue
            admin_rows += 1
            admin_ids.add(str(row.id))
            admin_covered += primary is not None
            if primary is not None and primary.admin1 is None:
                country_only.add(str(row.id))
            admin_found += any(
                r.country_code == gold_cc and normalize_admin1(r.country_code, r.admin1) in gold_admin for r in regions
            )
            pred_admin = normalize_admin1(primary.country_code, primary.admin1) if primary else None
            if cc_ok and pred_admin in gold_admin:
                admin_ok += 1
            else:
                pred = f"{primary.country_code}/{primary.admin1}" if primary else "none"
                confused[f"{gold_cc}/{row.admin1} -> {pred}"] += 1
        elapsed = time.perf_counter() - started
        scores.append(
            SourceScore(
                str(source), len(group), covered, country_ok, admin_rows, admin_ok, elapsed, admin_found, admin_covered
            )
        )
        confusions[str(source)] = confused.most_common(top_confusions)
    return PlacesReport(
        scores,
        confusions,
        no_region_ids=frozenset(no_region),
        country_only_ids=frozenset(country_only),
        admin1_row_ids=frozenset(admin_ids),
    )


def corpus_gold(processed_dir: Path, split: str = "test") -> pd.DataFrame:
    """The processed corpus's rows of ``split`` that carry a gold location (``country_code``, maybe ``admin1``).

    ACLED (country + admin-1 of each event), UCDP Syria (governorate), ISAF (province), SATP, RAND and
    IndiaPoliceEvents (country). The test split is held out: the resolver's rules were tuned on the raw
    extracts' even rows, which the corpus splits by time, not parity, so the test split is the cleaner check.
    """
    from training.corpus import load_corpus

    corpus = load_corpus(processed_dir)
    rows = corpus[(corpus["split"] == split) & corpus["country_code"].notna()]
    return rows[["id", "source", "text", "country_code", "admin1"]].reset_index(drop=True)


# -- gold rows from the raw extracts --------------------------------------------------------------------------
def _country_codes() -> dict[str, str]:
    import pycountry

    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            value = getattr(country, attr, None)
            if value:
                names[fold(value)] = country.alpha_2
    for cc, aliases in geo_data.COUNTRY_ALIASES.items():
        for alias in aliases:
            names.setdefault(fold(alias), cc)
    return names


def load_raw_gold(raw_dir: Path = DEFAULT_RAW_DIR) -> pd.DataFrame:
    """Gold rows (``id, source, subset, n, text, country_code, admin1``) read from the raw extracts.

    ``n`` is the row's running number within its file, used to split tuning (even) from held-out (odd).
    """
    frames = [_acled(raw_dir), _ucdp(raw_dir), _isaf(raw_dir)]
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=[*REQUIRED_COLUMNS, "subset", "n"])
    return pd.concat(frames, ignore_index=True)


def _acled(raw_dir: Path) -> pd.DataFrame:
    codes = _country_codes()
    out = []
    for path in sorted((raw_dir / "acled_extracts").glob("*.csv")):
        df = pd.read_csv(path, low_memory=False)
        df.columns = [c.lower() for c in df.columns]
        df = df[df["notes"].notna() & df["country"].notna()].reset_index(drop=True)
        subset = path.stem.split("_", 1)[-1]
        out.append(
            pd.DataFrame(
                {
                    "id": [f"acled/{subset}/{i}" for i in range(len(df))],
                    "source": "acled",
                    "subset": subset,
                    "n": range(len(df)),
                    "text": df["notes"].astype(str),
                    "country_code": [codes.get(fold(str(c))) for c in df["country"]],
                    "admin1": df["admin1"].where(df["admin1"].notna(), None),
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def _ucdp(raw_dir: Path) -> pd.DataFrame:
    files = sorted((raw_dir / "ucdp_ged_syria").glob("*.csv"))
    if not files:
        return pd.DataFrame()
    df = pd.read_csv(files[0], low_memory=False)
    df = df[df["source_headline"].notna()].reset_index(drop=True)
    return pd.DataFrame(
        {
            "id": [f"ucdp/{int(i)}" for i in df["id"]],
            "source": "ucdp",
            "subset": "syria",
            "n": range(len(df)),
            "text": df["source_headline"].astype(str),
            "country_code": "SY",
            "admin1": df["adm_1"].where(df["adm_1"].notna(), None),
        }
    )


def _isaf(raw_dir: Path) -> pd.DataFrame:
    files = sorted((raw_dir / "isaf_press_releases").glob("*.jsonl"))
    records = []
    for path in files:
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                turns = json.loads(line)["conversations"]
                text = next(t["value"] for t in turns if t["from"] == "human")
                text = text.split("PRESS RELEASE TEXT:", 1)[-1].strip()
                gold = json.loads(next(t["value"] for t in turns if t["from"] == "gpt"))
                provinces = gold.get("province") or []
                if len(provinces) != 1:
                    continue  # several provinces: no single primary to compare with
                records.append((text, provinces[0].replace("_", " ").title()))
    return pd.DataFrame(
        {
            "id": [f"isaf/{i}" for i in range(len(records))],
            "source": "isaf",
            "subset": "isaf",
            "n": range(len(records)),
            "text": [r[0] for r in records],
            "country_code": "AF",
            "admin1": [r[1] for r in records],
        }
    )


def main(argv: list[str] | None = None) -> int:
    """CLI: evaluate on the raw extracts' even (tuning) or odd (held-out) rows and print markdown."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--raw-dir", type=Path, default=DEFAULT_RAW_DIR)
    parser.add_argument("--limit", type=int, default=None, help="rows per source")
    parser.add_argument("--half", choices=("even", "odd", "all"), default="even")
    parser.add_argument("--by-subset", action="store_true", help="report ACLED files separately")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    rows = load_raw_gold(args.raw_dir)
    if args.half != "all":
        rows = rows[rows["n"] % 2 == (0 if args.half == "even" else 1)]
    if args.by_subset:
        rows = rows.assign(source=rows["source"] + "/" + rows["subset"])
    report = evaluate_places(rows, args.limit)
    report.title = f"Place resolution (primary region), {args.half} rows"
    sys.stdout.write(report.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
