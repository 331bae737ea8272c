"""How high place accuracy can go on a corpus split: a hand audit of the rows the resolver leaves unplaced.

``threatscore evaluate --task places`` scores the primary region against gold locations that ACLED and UCDP keep
in separate columns, so many gold rows' texts never say where they happened ("Traders protest forced eviction from
their stalls."). The audit (``data/annotations/places_audit.jsonl``, ids and labels only) samples two populations
of one split's rows, as the resolver of its day left them:

- ``no_region``: rows that got no region at all;
- ``country_only``: rows with a gold admin-1 whose primary region is a country only.

For each audited row a person recorded the places the text names (``named_places``) and whether it names an actor,
institution or landmark tied to one country (``country_cue``) or one first-level region (``admin1_cue``). A row
whose text names neither a place nor such a cue cannot be placed by any resolver, so

    country ceiling = 1 − |no_region| · share(no country evidence) / rows
    admin-1 ceiling = 1 − Σ_population |population ∩ admin rows| · share(no admin-1 evidence) / admin rows

is an upper bound for any resolver that reads the text (every named place is taken to fix its country and region,
as a complete gazetteer would; a resolver that guessed a default country would be right on some rows by chance).
The *offline* ceiling counts a named place only when the offline gazetteer (the packages the service reads) holds
it in the gold country: the bound for a resolver limited to those packages. Shares are estimated on the audited
rows still in their population under the current resolver (a uniform sample of a population stays uniform on any
part of it), with Wilson 95 % intervals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from threatscore.geo import get_gazetteer
from training.evaluate_places import PlacesReport

AUDIT = Path("data/annotations/places_audit.jsonl")
Population = Literal["no_region", "country_only"]
POPULATIONS: tuple[Population, ...] = ("no_region", "country_only")


class AuditRow(BaseModel):
    """One audited corpus row: where its text points, by a person's reading (no text is stored)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    split: Literal["train", "dev", "test"]
    population: Population
    id: str
    source: str
    gold_country: str
    gold_admin1: str | None
    named_places: tuple[str, ...]
    country_cue: bool | None  # not asked of country_only rows (the text gave a country)
    admin1_cue: bool
    note: str

    def country_evidence(self) -> bool:
        """The text names a place, or an actor tied to one country."""
        return bool(self.named_places) or bool(self.country_cue)

    def admin1_evidence(self, offline: bool) -> bool:
        """The text names a place (held by the offline gazetteer in the gold country, when ``offline``), or an actor
        tied to one first-level region."""
        if self.admin1_cue:
            return True
        if not offline:
            return bool(self.named_places)
        gaz = get_gazetteer()
        return any(self.gold_country in gaz.countries_named(name) for name in self.named_places)


def load_places_audit(path: Path = AUDIT) -> list[AuditRow]:
    """The audit rows, validated; a bad line names its number and field."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(AuditRow.model_validate(json.loads(line)))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"{path}:{number}: {problems}") from exc
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from exc
    return rows


@dataclass(frozen=True)
class Share:
    """A share of audited rows with its Wilson 95 % interval."""

    hits: int
    n: int

    @property
    def value(self) -> float:
        """The point estimate (0 without rows)."""
        return self.hits / self.n if self.n else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """Wilson score interval at 95 %; (0, 1) without rows."""
        if not self.n:
            return 0.0, 1.0
        z, p, n = 1.96, self.value, self.n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Ceiling:
    """Upper bounds on country and admin-1 accuracy of the primary region on one split."""

    split: str
    rows: int
    admin_rows: int
    no_region: int
    no_region_admin: int
    country_only: int
    no_country: Share  # no_region rows whose text gives no country
    no_admin1: dict[tuple[Population, bool], Share]  # (population, offline) -> rows whose text gives no admin-1
    dropped: int  # audited rows no longer in their population (the resolver places them now)

    def country_bound(self, share: float) -> float:
        """The country ceiling for a given share of unplaceable no_region rows."""
        return 1.0 - self.no_region * share / self.rows if self.rows else 0.0

    def admin1_bound(self, offline: bool, pick: int | None = None) -> float:
        """The admin-1 ceiling; ``pick`` 0/1 takes the low/high ends of the shares' intervals, ``None`` the points."""
        lost = 0.0
        for population, count in zip(POPULATIONS, (self.no_region_admin, self.country_only), strict=True):
            share = self.no_admin1[(population, offline)]
            lost += count * (share.value if pick is None else share.interval[pick])
        return 1.0 - lost / self.admin_rows if self.admin_rows else 0.0

    def render(self) -> str:
        """The ceiling as a Markdown section."""
        low, high = self.no_country.interval
        lines = [
            f"## Ceiling: rows whose text does not say where ({self.split} split, hand audit)",
            "",
            f"{self.no_region} of {self.rows} rows get no region; {self.country_only} of {self.admin_rows} rows with a "
            f"gold admin-1 get a country only. Audited: {self.no_country.n} of the first and "
            f"{self.no_admin1[('country_only', False)].n} of the second still in their population"
            f" ({self.dropped} audited rows are placed by the resolver now). Bounds hold for any resolver "
            "(every named place counted); *offline* counts a place only where the offline gazetteer holds it in the "
            "gold country.",
            "",
            "| bound | share of audited rows without evidence | ceiling | ceiling, 95 % interval |",
            "|---|---|---:|---|",
            f"| country | {self.no_country.hits}/{self.no_country.n} = {self.no_country.value:.2f} | "
            f"{self.country_bound(self.no_country.value):.3f} | "
            f"{self.country_bound(high):.3f} – {self.country_bound(low):.3f} |",
        ]
        for offline in (False, True):
            shares = ", ".join(
                f"{population} {share.hits}/{share.n} = {share.value:.2f}"
                for population, share in ((p, self.no_admin1[(p, offline)]) for p in POPULATIONS)
            )
            lines.append(
                f"| admin-1{', offline' if offline else ''} | {shares} | {self.admin1_bound(offline):.3f} | "
                f"{self.admin1_bound(offline, 1):.3f} – {self.admin1_bound(offline, 0):.3f} |"
            )
        return "\n".join(lines) + "\n"


def places_ceiling(report: PlacesReport, audit: Iterable[AuditRow], split: str) -> Ceiling | None:
    """The ceiling of ``split`` from an evaluation ``report`` of that whole split (no ``limit``) and the audit;
    ``None`` when no audited row of the split is still in its population."""
    rows = [r for r in audit if r.split == split]
    if not rows:
        return None
    members = {"no_region": report.no_region_ids, "country_only": report.country_only_ids}
    kept = [r for r in rows if r.id in members[r.population]]
    if not kept:
        return None  # another corpus, or every audited row placed now: nothing to estimate from
    no_region = [r for r in kept if r.population == "no_region"]
    no_admin1: dict[tuple[Population, bool], Share] = {}
    for population in POPULATIONS:
        with_admin = [r for r in kept if r.population == population and r.gold_admin1]
        for offline in (False, True):
            misses = sum(not r.admin1_evidence(offline) for r in with_admin)
            no_admin1[(population, offline)] = Share(misses, len(with_admin))
    overall = report.overall
    return Ceiling(
        split=split,
        rows=overall.rows,
        admin_rows=overall.admin1_rows,
        no_region=len(report.no_region_ids),
        no_region_admin=len(report.no_region_ids & report.admin1_row_ids),
        country_only=len(report.country_only_ids),
        no_country=Share(sum(not r.country_evidence() for r in no_region), len(no_region)),
        no_admin1=no_admin1,
        dropped=len(rows) - len(kept),
    )
