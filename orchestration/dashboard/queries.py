"""What the dashboard shows, read from the published marts (never the working warehouse).

Every number goes through the report's query logic (:mod:`orchestration.report`):
the scope is resolved by :func:`~orchestration.report.resolve_scope`, counts are
summed over the cohort dates of ``campaign_performance_daily`` in range by
:func:`~orchestration.report.campaign_rows`, and every rate is recomputed from
summed counts (:class:`~orchestration.report.Metrics`), never averaged.

:class:`Serving` opens the publication read-only for one snapshot and closes it
again, so a publication that replaced the file is picked up by the next change
of the pickers (DuckDB keeps serving the file a process has open).

Sections whose mart or columns a publication lacks come back with
``available = False`` and a note saying what is missing; the dashboard shows the
note instead of the section. Columns the marts may gain later (per-option clicks,
conversions, revenue) are shown when present: see :func:`additive_extras`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from orchestration.report import (
    COUNTS,
    RATES,
    CampaignRow,
    DateRange,
    Metrics,
    ReasonRow,
    Scope,
    _columns,
    _filters,
    _has_table,
    _revenue_note,
    _where,
    campaign_rows,
    cohort_date_bounds,
    open_serving,
    publication_as_of,
    reason_rows,
    resolve_scope,
)

GRAINS = ("day", "week", "month")  # DuckDB date_trunc parts: ISO weeks start on Monday
KINDS = ("dropped", "undelivered")
MAX_ROWS = 50  # rows of a table section; its row count and total cover every row
NOT_PUBLISHED = "not available in this publication"
EXPORT_MODULE = "orchestration.export"
NUMERIC_TYPES = ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "UBIGINT", "DOUBLE", "DECIMAL")

#: Columns of link_click_activity / response_summary that are keys, labels or
#: non-additive (unique counts do not add up across cohort dates).
LINK_KNOWN = {
    "account_id",
    "campaign_id",
    "cohort_date",
    "url",
    "button_id",
    "card_index",
    "clicks",
    "unique_clickers",
}
RESPONSE_KNOWN = {
    "account_id",
    "campaign_id",
    "cohort_date",
    "card_index",
    "button_id",
    "button_text",
    "is_external_platform",
    "responses",
    "unique_responders",
    "responder_conversions",
}

#: The baselines of marts.campaign_benchmarks: (prefix, label). Each is stored as
#: additive counts: <prefix>_compared_delivered / _opens / _delivered_clicked (the
#: campaign's own messages that have the baseline) and <prefix>_expected_opens /
#: _clicked (what they would have had at the baseline's rates).
BASELINES = (
    ("history", "own account, other campaigns, trailing 30 days"),
    ("reference", "reference rates (seed)"),
    ("benchmark", "cross-account template benchmark"),
)
BASELINE_SUFFIXES = (
    "compared_delivered",
    "compared_opens",
    "compared_delivered_clicked",
    "expected_opens",
    "expected_clicked",
)


class Serving:
    """The published marts file; every :meth:`connect` is a short-lived read-only session."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = open_serving(self.path)
        try:
            yield con
        finally:
            con.close()


@dataclass(frozen=True)
class Selection:
    """What the pickers say: an account, a campaign of it, a range of cohort dates."""

    account: str | None = None
    campaign: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    @property
    def date_range(self) -> DateRange:
        return DateRange(self.date_from, self.date_to)


@dataclass(frozen=True)
class Options:
    """What the pickers offer: accounts, campaigns per account, the cohort dates published."""

    accounts: list[str]
    campaigns: dict[str, list[tuple[str, str]]]  # account -> [(campaign_id, label)]
    first: date | None
    last: date | None


def options(con: duckdb.DuckDBPyConnection) -> Options:
    rows = con.execute(
        "select account_id, campaign_id, campaign_name from marts.campaign_performance "
        "order by account_id, campaign_id"
    ).fetchall()
    campaigns: dict[str, list[tuple[str, str]]] = {}
    for account, campaign, name in rows:
        label = f"{campaign}: {name}" if name else campaign
        campaigns.setdefault(account, []).append((campaign, label))
    first, last = cohort_date_bounds(con, Scope("all"), DateRange())
    return Options(sorted(campaigns), campaigns, first, last)


def scope_of(con: duckdb.DuckDBPyConnection, selection: Selection) -> Scope:
    """The report's scope: a campaign (its account implied), an account, or everything."""
    if selection.campaign:
        return resolve_scope(con, campaign=selection.campaign)
    if selection.account:
        return resolve_scope(con, account=selection.account)
    return Scope("all")


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class Trend:
    """Counts (and revenue) per period of one grain; rates are recomputed per period."""

    grain: str
    periods: list[date]
    counts: dict[str, list[int]]
    revenue: list[Decimal]

    def rate(self, name: str) -> list[float | None]:
        _, numerator, denominator = RATES[name]
        pairs = zip(self.counts[numerator], self.counts[denominator], strict=True)
        return [n / d if d else None for n, d in pairs]


def trend(con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange, grain: str) -> Trend:
    """Cohort dates in range summed per day, ISO week or calendar month (partial at the ends).

    Weeks and months are cut from the daily mart so that they respect the range; over
    whole periods their sums equal campaign_performance_weekly / _monthly.
    """
    if grain not in GRAINS:
        raise ValueError(f"grain {grain!r} is not one of {GRAINS}")
    conditions, params = _filters(scope, date_range, "period_start")
    sums = ", ".join(f"sum({name})" for name in COUNTS)
    query = f"""
        select cast(date_trunc('{grain}', period_start) as date) as period, {sums},
            coalesce(sum(revenue), 0)
        from marts.campaign_performance_daily {_where(conditions)}
        group by 1
        order by 1
    """
    rows = con.execute(query, params).fetchall()
    counts = {name: [int(row[i + 1]) for row in rows] for i, name in enumerate(COUNTS)}
    return Trend(grain, [row[0] for row in rows], counts, [Decimal(row[-1]) for row in rows])


@dataclass(frozen=True)
class Reasons:
    kind: str
    available: bool
    rows: list[ReasonRow] = field(default_factory=list)
    note: str = ""

    @property
    def total(self) -> int:
        return sum(row.messages for row in self.rows)


def reasons(
    con: duckdb.DuckDBPyConnection, kind: str, scope: Scope, date_range: DateRange
) -> Reasons:
    if not _has_table(con, f"{kind}_reasons"):
        return Reasons(kind, False, note=f"marts.{kind}_reasons: {NOT_PUBLISHED}")
    return Reasons(kind, True, reason_rows(con, kind, scope, date_range))


def numeric_columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    query = """
        select column_name, data_type from information_schema.columns
        where table_catalog = current_database() and table_schema = 'marts'
            and table_name = ?
        order by ordinal_position
    """
    return {
        name: kind
        for name, kind in con.execute(query, [table]).fetchall()
        if kind.upper().startswith(NUMERIC_TYPES)
    }


def additive_extras(con: duckdb.DuckDBPyConnection, table: str, known: set[str]) -> list[str]:
    """Additive count or amount columns beyond ``known`` (a later version's per-option
    conversions, revenue, ...): never a stored rate or a unique count, which do not sum."""
    return [
        name
        for name in numeric_columns(con, table)
        if name not in known and not name.endswith("_rate") and not name.startswith("unique_")
    ]


@dataclass(frozen=True)
class Table:
    """A section's first rows (at most :data:`MAX_ROWS`), how many there are in all, the
    total of its main count over all of them, and whether its mart is published."""

    available: bool
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    note: str = ""
    row_count: int = 0
    total: int = 0

    def column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]


def _table(
    con: duckdb.DuckDBPyConnection,
    query: str,
    params: dict[str, Any],
    *,
    order: str,
    total: str | None = None,
) -> Table:
    """The first rows of ``query`` by ``order``, with the row count and ``total``'s sum over
    every row, in one query (only the rows shown leave DuckDB)."""
    summed = f"sum({total}) over ()" if total else "0"
    wrapped = f"""
        select *, count(*) over () as _row_count, {summed} as _total
        from ({query}) as section
        order by {order}
        limit {MAX_ROWS}
    """
    result = con.execute(wrapped, params)
    columns = [d[0] for d in result.description][:-2]
    rows = result.fetchall()
    row_count, summed_total = (int(rows[0][-2]), int(rows[0][-1])) if rows else (0, 0)
    return Table(True, columns, [r[:-2] for r in rows], row_count=row_count, total=summed_total)


def _sums(names: Sequence[str]) -> str:
    return "".join(f", sum({name}) as {name}" for name in names)


def links(con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange) -> Table:
    """Clicks per tracked link (URL, button, carousel card), most clicked first."""
    if not _has_table(con, "link_click_activity"):
        return Table(False, note=f"marts.link_click_activity: {NOT_PUBLISHED}")
    extras = additive_extras(con, "link_click_activity", LINK_KNOWN)
    conditions, params = _filters(scope, date_range, "cohort_date")
    query = f"""
        select campaign_id, url, button_id, card_index, sum(clicks) as clicks{_sums(extras)}
        from marts.link_click_activity {_where(conditions)}
        group by all
        having sum(clicks) > 0
    """
    order = "clicks desc, campaign_id, url nulls last, button_id nulls first, card_index"
    return _table(con, query, params, order=order, total="clicks")


def cards(con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange) -> Table:
    """Link clicks per carousel card (links outside a carousel apart)."""
    if not _has_table(con, "link_click_activity"):
        return Table(False, note=f"marts.link_click_activity: {NOT_PUBLISHED}")
    extras = additive_extras(con, "link_click_activity", LINK_KNOWN)
    conditions, params = _filters(scope, date_range, "cohort_date")
    conditions.append("card_index is not null")
    query = f"""
        select campaign_id, card_index, count(distinct url) as links,
            sum(clicks) as clicks{_sums(extras)}
        from marts.link_click_activity {_where(conditions)}
        group by all
        having sum(clicks) > 0
    """
    return _table(con, query, params, order="campaign_id, card_index", total="clicks")


def responses(
    con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange, *, external: bool
) -> Table:
    """Responses per option (button and card; free text apart), or the external-platform
    options alone (``external``): their responses are the button clicks."""
    if not _has_table(con, "response_summary"):
        return Table(False, note=f"marts.response_summary: {NOT_PUBLISHED}")
    extras = additive_extras(con, "response_summary", RESPONSE_KNOWN)
    conditions, params = _filters(scope, date_range, "cohort_date")
    conditions.append("is_external_platform" if external else "not is_external_platform")
    query = f"""
        select campaign_id, card_index, button_id, any_value(button_text) as button_text,
            sum(responses) as responses, sum(responder_conversions) as responder_conversions
            {_sums(extras)}
        from marts.response_summary {_where(conditions)}
        group by campaign_id, card_index, button_id
        having sum(responses) > 0
    """
    order = "responses desc, campaign_id, button_id nulls last, card_index"
    return _table(con, query, params, order=order, total="responses")


@dataclass(frozen=True)
class Baseline:
    name: str
    label: str
    available: bool
    counts: dict[str, float] = field(default_factory=dict)
    note: str = ""

    def own(self, what: str) -> float | None:
        """The campaign's read (opens) or click (clicked) rate on the compared messages."""
        column = "compared_opens" if what == "opens" else "compared_delivered_clicked"
        delivered = self.counts.get("compared_delivered", 0)
        return self.counts[column] / delivered if delivered else None

    def expected(self, what: str) -> float | None:
        """The baseline's rate on the same messages (expected / compared delivered)."""
        column = "expected_opens" if what == "opens" else "expected_clicked"
        delivered = self.counts.get("compared_delivered", 0)
        return self.counts[column] / delivered if delivered else None


@dataclass(frozen=True)
class Benchmarks:
    available: bool
    note: str = ""
    delivered: int = 0
    opens: int = 0
    delivered_clicked: int = 0
    baselines: list[Baseline] = field(default_factory=list)
    templates: Table = field(default_factory=lambda: Table(False))


def benchmarks(con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange) -> Benchmarks:
    """The scope's read and click rates beside each baseline of marts.campaign_benchmarks
    (sums over the range, rates recomputed), and template_benchmarks' latest window."""
    templates = template_benchmarks(con, scope)
    if not _has_table(con, "campaign_benchmarks"):
        return Benchmarks(False, f"marts.campaign_benchmarks: {NOT_PUBLISHED}", templates=templates)
    columns = set(_columns(con, "campaign_benchmarks"))
    own = ("delivered", "opens", "delivered_clicked")
    missing = [name for name in own if name not in columns]
    if missing:
        note = f"marts.campaign_benchmarks lacks {', '.join(missing)}: {NOT_PUBLISHED}"
        return Benchmarks(False, note, templates=templates)
    wanted = {name: [f"{name}_{suffix}" for suffix in BASELINE_SUFFIXES] for name, _ in BASELINES}
    present = [col for cols in wanted.values() for col in cols if col in columns]
    conditions, params = _filters(scope, date_range, "cohort_date")
    select = ", ".join(f"coalesce(sum({col}), 0)" for col in (*own, *present))
    row = con.execute(
        f"select {select} from marts.campaign_benchmarks {_where(conditions)}", params
    ).fetchone()
    values = dict(zip((*own, *present), row, strict=True))
    baselines = []
    for name, label in BASELINES:
        lacking = [col for col in wanted[name] if col not in columns]
        if lacking:
            note = f"lacks {', '.join(lacking)}"
            baselines.append(Baseline(name, label, False, note=note))
            continue
        counts = {suffix: float(values[f"{name}_{suffix}"]) for suffix in BASELINE_SUFFIXES}
        baselines.append(Baseline(name, label, True, counts))
    return Benchmarks(
        True,
        delivered=int(values["delivered"]),
        opens=int(values["opens"]),
        delivered_clicked=int(values["delivered_clicked"]),
        baselines=baselines,
        templates=templates,
    )


def template_benchmarks(con: duckdb.DuckDBPyConnection, scope: Scope) -> Table:
    """The scope's templates beside their cross-account cohort benchmark, over the 30 days
    to the latest window_end (as of the publication; no date range applies)."""
    if not _has_table(con, "template_benchmarks"):
        return Table(False, note=f"marts.template_benchmarks: {NOT_PUBLISHED}")
    conditions, params = _filters(
        Scope("account", scope.account_id, scope.account_id) if scope.account_id else Scope("all"),
        DateRange(),
        "window_end",
    )
    conditions.append("window_end = (select max(window_end) from marts.template_benchmarks)")
    if scope.kind == "campaign":
        conditions.append(
            "template_name = (select template_name from marts.campaign_performance "
            "where campaign_id = $campaign_id)"
        )
        params["campaign_id"] = scope.id
    query = f"""
        select account_id, template_name, recipient_country, window_end, delivered,
            read_rate, benchmark_read_rate, click_rate, benchmark_click_rate, cohort_accounts
        from marts.template_benchmarks {_where(conditions)}
    """
    order = "account_id, template_name, delivered desc, recipient_country"
    return _table(con, query, params, order=order)


def export_available(con: duckdb.DuckDBPyConnection) -> tuple[bool, str]:
    """Whether the export of a reason's recipients can run: its module and its mart."""
    if importlib.util.find_spec(EXPORT_MODULE) is None:
        return False, "exporting recipients is not available in this version"
    if not _has_table(con, "reason_recipients"):
        return False, f"marts.reason_recipients: {NOT_PUBLISHED}"
    return True, ""


# --------------------------------------------------------------------------- snapshot


@dataclass(frozen=True)
class Snapshot:
    """Everything one state of the pickers shows."""

    selection: Selection
    scope: Scope
    first: date | None  # first and last cohort date with dispatches in scope and range
    last: date | None
    as_of: str | None
    campaigns: list[CampaignRow]
    totals: Metrics
    revenue_note: str
    show_revenue: bool
    trends: dict[str, Trend]
    reasons: dict[str, Reasons]
    links: Table
    cards: Table
    responses: Table
    external: Table
    benchmarks: Benchmarks
    export: tuple[bool, str]

    @property
    def delivered_by_campaign(self) -> dict[str, int]:
        return {row.campaign_id: row.metrics.counts["delivered"] for row in self.campaigns}


def snapshot(con: duckdb.DuckDBPyConnection, selection: Selection) -> Snapshot:
    scope = scope_of(con, selection)
    date_range = selection.date_range
    campaigns = campaign_rows(con, scope, date_range)
    first, last = cohort_date_bounds(con, scope, date_range)
    revenue_note, show_revenue = _revenue_note(campaigns, scope)
    return Snapshot(
        selection=selection,
        scope=scope,
        first=first,
        last=last,
        as_of=publication_as_of(con),
        campaigns=campaigns,
        totals=Metrics.total(row.metrics for row in campaigns),
        revenue_note=revenue_note,
        show_revenue=show_revenue,
        trends={grain: trend(con, scope, date_range, grain) for grain in GRAINS},
        reasons={kind: reasons(con, kind, scope, date_range) for kind in KINDS},
        links=links(con, scope, date_range),
        cards=cards(con, scope, date_range),
        responses=responses(con, scope, date_range, external=False),
        external=responses(con, scope, date_range, external=True),
        benchmarks=benchmarks(con, scope, date_range),
        export=export_available(con),
    )
