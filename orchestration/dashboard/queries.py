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

from orchestration.config import ConfigError
from orchestration.report import (
    BASELINES,
    COUNTS,
    RATES,
    ApiComparison,
    AttributionRow,
    BenchmarkRow,
    CampaignRow,
    CostRow,
    DateRange,
    LatencySummary,
    Metrics,
    ReasonRow,
    Scope,
    SurvivalRow,
    UpliftRow,
    _columns,
    _filters,
    _has_table,
    _next_period,
    _revenue_note,
    _where,
    api_comparison,
    attribution_rows,
    benchmark_rows,
    campaign_rows,
    cohort_date_bounds,
    cost_rows,
    holdout_rows,
    latency_summary,
    open_serving,
    period_start,
    publication_as_of,
    reason_rows,
    resolve_scope,
    survival_rows,
)
from orchestration.trace import Event, check_lineage_mart, covered, find_messages, load_paths

GRAINS = ("day", "week", "month")  # ISO weeks start on Monday (the report's period_start)
KINDS = ("dropped", "undelivered")
MAX_ROWS = 50  # rows of a table section; its row count and total cover every row
NOT_PUBLISHED = "not available in this publication"
EXPORT_MODULE = "orchestration.export"
#: The messages a user-id lookup of the trace section shows (the newest).
TRACE_LIMIT = 10
NUMERIC_TYPES = ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "UBIGINT", "DOUBLE", "DECIMAL")

#: Per-row denominators (the campaign's delivered on the row's cohort date): not an
#: option's activity; the dashboard's rates use the campaign's delivered over the range.
DENOMINATORS = {"delivered", "sent"}
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

#: campaign_benchmarks' additive columns per baseline: <baseline>_<suffix> (the report's
#: benchmark_rows sums them; every rate is recomputed from the sums).
BASELINE_SUFFIXES = ("compared_delivered", "compared_opens", "compared_delivered_clicked",
                     "expected_opens", "expected_clicked")  # fmt: skip
BENCHMARK_COLUMNS = ("delivered", "opens", "delivered_clicked", "reference_sources",
                     "benchmark_window_end",
                     *(f"{b}_{s}" for b in BASELINES for s in BASELINE_SUFFIXES))  # fmt: skip


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


def trends(
    con: duckdb.DuckDBPyConnection, scope: Scope, start: date | None, end: date | None
) -> dict[str, Trend]:
    """Every count and revenue per day, ISO week and calendar month from ``start`` to
    ``end`` (the range's cohort dates; the ends may be partial periods), with periods
    without dispatches at zero: one query over the daily mart, bucketed by the report's
    :func:`~orchestration.report.period_start` (the weekly and monthly marts' periods)."""
    if start is None or end is None:
        return {grain: Trend(grain, [], {name: [] for name in COUNTS}, []) for grain in GRAINS}
    conditions, params = _filters(scope, DateRange(start, end), "period_start")
    sums = ", ".join(f"sum({name})" for name in COUNTS)
    query = f"""
        select period_start, {sums}, coalesce(sum(revenue), 0)
        from marts.campaign_performance_daily {_where(conditions)}
        group by period_start
    """
    days = con.execute(query, params).fetchall()
    out = {}
    for grain in GRAINS:
        buckets: dict[date, list[Any]] = {}
        for day, *values in days:
            totals = buckets.setdefault(period_start(day, grain), [0] * len(COUNTS) + [Decimal(0)])
            for i, value in enumerate(values):
                totals[i] += value
        periods = []
        current, last = period_start(start, grain), period_start(end, grain)
        while current <= last:
            periods.append(current)
            current = _next_period(current, grain)
        empty = [0] * len(COUNTS) + [Decimal(0)]
        rows = [buckets.get(p, empty) for p in periods]
        counts = {name: [int(row[i]) for row in rows] for i, name in enumerate(COUNTS)}
        out[grain] = Trend(grain, periods, counts, [Decimal(row[-1]) for row in rows])
    return out


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
        if name not in known
        and name not in DENOMINATORS
        and not name.endswith("_rate")
        and not name.startswith("unique_")
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
    """Responses per option (button and card, free text, external platforms flagged), or
    the external-platform options alone (``external``): their responses are button clicks."""
    if not _has_table(con, "response_summary"):
        return Table(False, note=f"marts.response_summary: {NOT_PUBLISHED}")
    extras = additive_extras(con, "response_summary", RESPONSE_KNOWN)
    conditions, params = _filters(scope, date_range, "cohort_date")
    if external:
        conditions.append("is_external_platform")
    query = f"""
        select campaign_id, card_index, button_id, any_value(button_text) as button_text,
            bool_or(is_external_platform) as is_external_platform,
            sum(responses) as responses, sum(responder_conversions) as responder_conversions
            {_sums(extras)}
        from marts.response_summary {_where(conditions)}
        group by campaign_id, card_index, button_id
        having sum(responses) > 0
    """
    order = "responses desc, campaign_id, button_id nulls last, card_index"
    return _table(con, query, params, order=order, total="responses")


@dataclass(frozen=True)
class Benchmarks:
    """The selection against each baseline (the report's BenchmarkRow, summed over the
    campaigns in scope), and template_benchmarks' latest window."""

    available: bool
    note: str = ""
    total: BenchmarkRow | None = None
    campaigns: int = 0
    templates: Table = field(default_factory=lambda: Table(False))


def benchmarks(con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange) -> Benchmarks:
    templates = template_benchmarks(con, scope)
    if not _has_table(con, "campaign_benchmarks"):
        return Benchmarks(False, f"marts.campaign_benchmarks: {NOT_PUBLISHED}", templates=templates)
    columns = set(_columns(con, "campaign_benchmarks"))
    missing = [name for name in BENCHMARK_COLUMNS if name not in columns]
    if missing:
        note = f"marts.campaign_benchmarks lacks {', '.join(missing)}: {NOT_PUBLISHED}"
        return Benchmarks(False, note, templates=templates)
    rows = benchmark_rows(con, scope, date_range)
    return Benchmarks(True, total=BenchmarkRow.total(rows), campaigns=len(rows),
                      templates=templates)  # fmt: skip


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


@dataclass(frozen=True)
class Latency:
    """delivery_survival summed over the range (the report's SurvivalRow: exact) and
    message_latency_daily's busiest campaign-days, as published; None: not published."""

    survival: list[SurvivalRow] | None
    summary: LatencySummary | None

    @property
    def note(self) -> str:
        missing = [
            f"marts.{name}"
            for name, data in (("delivery_survival", self.survival),
                               ("message_latency_daily", self.summary))
            if data is None
        ]  # fmt: skip
        return f"{', '.join(missing)}: {NOT_PUBLISHED}" if missing else ""


def latency(con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange) -> Latency:
    survival = (
        survival_rows(con, scope, date_range) if _has_table(con, "delivery_survival") else None
    )
    summary = (
        latency_summary(con, scope, date_range, MAX_ROWS)
        if _has_table(con, "message_latency_daily")
        else None
    )
    return Latency(survival, summary)


@dataclass(frozen=True)
class Attribution:
    """attribution_sensitivity summed per model and window (the report's AttributionRow)."""

    available: bool
    note: str = ""
    rows: list[AttributionRow] = field(default_factory=list)


def attribution(con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange) -> Attribution:
    if not _has_table(con, "attribution_sensitivity"):
        return Attribution(False, f"marts.attribution_sensitivity: {NOT_PUBLISHED}")
    return Attribution(True, rows=attribution_rows(con, scope, date_range))


@dataclass(frozen=True)
class Costs:
    """campaign_costs summed per account currency (the report's CostRow)."""

    available: bool
    note: str = ""
    rows: list[CostRow] = field(default_factory=list)


def costs(con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange) -> Costs:
    if not _has_table(con, "campaign_costs"):
        return Costs(False, f"marts.campaign_costs: {NOT_PUBLISHED}")
    return Costs(True, rows=cost_rows(con, scope, date_range))


@dataclass(frozen=True)
class Api:
    """api_comparison summed per account, template and API over the range (the report's
    ApiComparison: the :data:`MAX_ROWS` templates with the most sent, totals of all)."""

    available: bool
    note: str = ""
    comparison: ApiComparison | None = None


def api(con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange) -> Api:
    if not _has_table(con, "api_comparison"):
        return Api(False, f"marts.api_comparison: {NOT_PUBLISHED}")
    return Api(True, comparison=api_comparison(con, scope, date_range, MAX_ROWS))


@dataclass(frozen=True)
class Lineage:
    """Whether message_lineage is published, and which cohort dates it covers."""

    available: bool
    note: str


def lineage(con: duckdb.DuckDBPyConnection) -> Lineage:
    if not _has_table(con, "message_lineage"):
        return Lineage(False, f"marts.message_lineage: {NOT_PUBLISHED}")
    return Lineage(True, covered(con))


@dataclass(frozen=True)
class Trace:
    """One lookup of the trace section: what was typed, whether it named a dispatch or a
    user, each message's lineage rows (``wa-warehouse trace``'s), or the error it printed."""

    query: str
    kind: str = ""  # "dispatch" or "user"
    paths: dict[str, list[Event]] = field(default_factory=dict)
    total: int = 0  # the user's messages in the mart (shown: the newest TRACE_LIMIT)
    error: str = ""


def trace(con: duckdb.DuckDBPyConnection, value: str) -> Trace:
    """The lineage of a dispatch id or of a user id's messages, through the trace command's
    own queries (:func:`orchestration.trace.find_messages`, :func:`~orchestration.trace.
    load_paths`); an unknown id gives its error, naming the cohort dates covered."""
    value = value.strip()
    try:
        check_lineage_mart(con)
        kind, dispatch_ids, total = find_messages(con, value, limit=TRACE_LIMIT)
    except ConfigError as error:
        return Trace(value, error=str(error))
    return Trace(value, kind, load_paths(con, dispatch_ids), total)


@dataclass(frozen=True)
class Holdout:
    """holdout_uplift summed per campaign over the range (the report's UpliftRow: rates,
    uplift and 95 % intervals computed from the sums)."""

    available: bool
    note: str = ""
    rows: list[UpliftRow] = field(default_factory=list)


def holdout(con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange) -> Holdout:
    if not _has_table(con, "holdout_uplift"):
        return Holdout(False, f"marts.holdout_uplift: {NOT_PUBLISHED}")
    return Holdout(True, rows=holdout_rows(con, scope, date_range))


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
    latency: Latency
    attribution: Attribution
    costs: Costs
    api: Api
    lineage: Lineage
    holdout: Holdout
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
        trends=trends(con, scope, date_range.start or first, date_range.end or last),
        reasons={kind: reasons(con, kind, scope, date_range) for kind in KINDS},
        links=links(con, scope, date_range),
        cards=cards(con, scope, date_range),
        responses=responses(con, scope, date_range, external=False),
        external=responses(con, scope, date_range, external=True),
        benchmarks=benchmarks(con, scope, date_range),
        latency=latency(con, scope, date_range),
        attribution=attribution(con, scope, date_range),
        costs=costs(con, scope, date_range),
        api=api(con, scope, date_range),
        lineage=lineage(con),
        holdout=holdout(con, scope, date_range),
        export=export_available(con),
    )
