"""``wa-warehouse report``: campaign analytics in the terminal, from the published marts.

Everything here reads the *serving* copy of the marts (schema ``marts``,
opened read-only), never the working warehouse. The functions are pure
query-and-format steps so tests can call them on any file with the marts:

- :func:`parse_date_range` checks ``--from``/``--to``;
- :func:`open_serving` opens the published file read-only;
- :func:`resolve_scope` checks ``--campaign``/``--account`` against it;
- :func:`build_report` returns the report text (at most :data:`WIDTH` columns).

Metric rules follow ``docs/contract/marts.md``: counts are summed over the
cohort dates of ``campaign_performance_daily`` in the range, and every rate is
recomputed from the summed numerator and denominator (null when the
denominator is 0), never averaged. The trend (:func:`trend_rows`) sums the
same mart per day, ISO week or month (:func:`trend_grain`); the benchmarks
(:func:`benchmark_rows`) sum ``campaign_benchmarks``' additive counts over
the range and recompute each baseline's rate from them. The latency section
(:func:`survival_rows`, :func:`latency_summary`) sums ``delivery_survival``'s
counts over the range (the pending curve, exact) and shows
``message_latency_daily``'s percentiles per campaign and cohort date as
published (percentiles do not combine, so none is averaged). The API
comparison (:func:`api_comparison`) sums ``api_comparison``'s counts per
template and API and recomputes each rate from the sums; the message lineage
section (:func:`lineage_summary`) counts the final states of the range's
messages from ``message_lineage``'s ``state`` rows (ids and counts only: no
phone number, no reply text). The holdout
uplift section (:func:`holdout_rows`) sums ``holdout_uplift``'s additive counts
over the range per campaign and computes the rates, the uplift and their 95 %
intervals from the sums (:mod:`orchestration.stats`).
"""

from __future__ import annotations

import difflib
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from orchestration.config import ConfigError, format_as_of, parse_date
from orchestration.stats import Interval, mean_difference, newcombe_difference

WIDTH = 100
INDENT = "  "
MAX_CAMPAIGN_ROWS = 50

COUNTS = (
    "targeted", "sent", "dropped", "delivered", "undelivered", "delivery_pending",
    "opens", "clicks", "conversions", "unsubscribes", "responses",
)  # fmt: skip

# (label, numerator, denominator) of every contract rate, in display order.
RATES = {
    "delivery_rate": ("delivery rate", "delivered", "sent"),
    "open_rate": ("open rate", "opens", "delivered"),
    "click_through_rate": ("click-through rate", "clicks", "delivered"),
    "conversion_rate": ("conversion rate", "conversions", "delivered"),
    "unsubscribe_rate": ("unsubscribe rate", "unsubscribes", "delivered"),
    "response_rate": ("response rate", "responses", "delivered"),
}
RATE_OF_COUNT = {numerator: name for name, (_, numerator, _) in RATES.items()}

#: The trend has a row per day up to this many days in range, per ISO week up
#: to WEEKLY_MAX_DAYS (26 weeks), per calendar month beyond.
DAILY_MAX_DAYS = 31
WEEKLY_MAX_DAYS = 182
#: The trend shows at most this many periods (the latest ones).
MAX_TREND_PERIODS = 60
SPARK_BARS = "▁▂▃▄▅▆▇█"

#: campaign_benchmarks' baselines (column prefix: label), in display order.
BASELINES = {
    "history": "account history, 30 days",
    "reference": "reference seed",
    "benchmark": "cross-account p75",
}
#: Short labels of the per-campaign benchmark table.
BASELINE_SHORT = {"history": "hist", "reference": "ref", "benchmark": "x-acct"}

#: message_latency_daily's events (column stem: label), in display order; each has
#: seconds_to_<stem>_p50/_p90/_p99 and <stem>_before_send.
LATENCY_EVENTS = {"delivered": "delivered", "read": "read", "first_click": "first click"}
LATENCY_PERCENTILES = (50, 90, 99)
#: The survival table's bar: this many █ for a share of 100 %.
SURVIVAL_BAR_WIDTH = 20
#: attribution_sensitivity's models and windows, in display order (label).
ATTRIBUTION_MODELS = {
    "last_click": "last click",
    "first_click": "first click",
    "any_click": "any click (multi-touch)",
    "delivered_view_24h": "delivered view, 24 h",
}
ATTRIBUTION_WINDOWS = {"1d": "1 day", "7d": "7 days", "campaign": "campaign's own", "24h": "24 h"}
#: api_comparison's api values, their labels and short labels, Marketing Messages API first:
#: the difference is MM API minus Cloud API.
MM_API, CLOUD_API = "marketing_messages_api", "cloud_api"
API_LABELS = {MM_API: "Marketing Messages API", CLOUD_API: "Cloud API"}
API_SHORT = {MM_API: "MM API", CLOUD_API: "Cloud API"}
#: api_comparison's rates: (label, numerator, denominator), in display order.
API_RATES = {
    "delivery_rate": ("delivery rate", "delivered", "sent"),
    "read_rate": ("read rate", "opens", "delivered"),
    "click_rate": ("click rate", "delivered_clicked", "delivered"),
}
#: message_lineage's final states (label), in display order: a delivered message is
#: split by whether it was read (a read status by the as-of time, as opens count).
LINEAGE_STATES = {
    "read": "delivered and read",
    "delivered": "delivered, not read",
    "undelivered": "undelivered",
    "dropped": "dropped",
    "pending": "pending",
}
#: The reasons shown under each dropped or undelivered final state.
LINEAGE_TOP_REASONS = 3
TRACE_HINT = "wa-warehouse trace --dispatch ID (one message) or --user ID (a user's messages)"


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class DateRange:
    """Cohort dates, both ends inclusive; an open end takes the data's first/last date."""

    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class Scope:
    """What the report covers: one campaign, every campaign of an account, or all."""

    kind: str  # "campaign", "account" or "all"
    id: str | None = None
    account_id: str | None = None  # the campaign's account (kind "campaign")

    @property
    def single_account(self) -> bool:
        return self.kind in ("campaign", "account")

    def describe(self) -> str:
        if self.kind == "all":
            return "all campaigns"
        return f"{self.kind} {self.id}"


def parse_date_range(date_from: str | None, date_to: str | None) -> DateRange:
    start = parse_date(date_from, "--from") if date_from else None
    end = parse_date(date_to, "--to") if date_to else None
    if start and end and start > end:
        raise ConfigError(f"--from {start} is after --to {end}: the range would be empty")
    return DateRange(start, end)


def _has_table(con: duckdb.DuckDBPyConnection, table: str, schema: str = "marts") -> bool:
    query = """
        select count(*) from information_schema.tables
        where table_catalog = current_database() and table_schema = ? and table_name = ?
    """
    return con.execute(query, [schema, table]).fetchone()[0] > 0


def _columns(con: duckdb.DuckDBPyConnection, table: str, schema: str = "marts") -> list[str]:
    query = """
        select column_name from information_schema.columns
        where table_catalog = current_database() and table_schema = ? and table_name = ?
        order by ordinal_position
    """
    return [row[0] for row in con.execute(query, [schema, table]).fetchall()]


def open_serving(path: Path) -> duckdb.DuckDBPyConnection:
    """The published marts, opened read-only; a readable ConfigError when unusable."""
    missing = f"no published marts at {path}: run `wa-warehouse run` first"
    if not path.is_file():
        raise ConfigError(missing)
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        hint = ""
        if "lock" in str(error).lower():
            hint = " (another process has it open for writing; retry when it has finished)"
        raise ConfigError(f"cannot open the published marts at {path}{hint}: {error}") from error
    if not _has_table(con, "campaign_performance"):
        con.close()
        raise ConfigError(f"{missing} (the file has no marts.campaign_performance)")
    return con


def _unknown(kind: str, value: str, known: Sequence[str]) -> ConfigError:
    close = difflib.get_close_matches(value, known, n=3, cutoff=0.6)
    shown = close or list(known[:6])
    more = "" if len(shown) == len(known) else f" ({len(known):,} in all)"
    lead = "did you mean" if close else f"known {kind}s include"
    if not known:
        return ConfigError(f"unknown {kind} {value!r}: the published marts have no {kind}s yet")
    return ConfigError(f"unknown {kind} {value!r}; {lead}: {', '.join(shown)}{more}")


def resolve_scope(
    con: duckdb.DuckDBPyConnection, campaign: str | None = None, account: str | None = None
) -> Scope:
    """Check the ids against marts.campaign_performance."""
    if campaign and account:
        raise ConfigError("--campaign and --account are mutually exclusive: pass one")
    if campaign:
        row = con.execute(
            "select account_id from marts.campaign_performance where campaign_id = ? limit 1",
            [campaign],
        ).fetchone()
        if row is None:
            known = con.execute(
                "select distinct campaign_id from marts.campaign_performance order by 1"
            ).fetchall()
            raise _unknown("campaign", campaign, [r[0] for r in known])
        return Scope("campaign", campaign, row[0])
    if account:
        known = [
            r[0]
            for r in con.execute(
                "select distinct account_id from marts.campaign_performance order by 1"
            ).fetchall()
        ]
        if account not in known:
            raise _unknown("account", account, known)
        return Scope("account", account, account)
    return Scope("all")


# --------------------------------------------------------------------------- queries


def _filters(
    scope: Scope, date_range: DateRange, date_column: str, alias: str = ""
) -> tuple[list[str], dict[str, Any]]:
    """SQL conditions and named parameters for a scope and a range of cohort dates."""
    prefix = f"{alias}." if alias else ""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if scope.kind == "campaign":
        conditions.append(f"{prefix}campaign_id = $campaign_id")
        params["campaign_id"] = scope.id
    if scope.account_id is not None:
        conditions.append(f"{prefix}account_id = $account_id")
        params["account_id"] = scope.account_id
    if date_range.start:
        conditions.append(f"{prefix}{date_column} >= $date_from")
        params["date_from"] = date_range.start
    if date_range.end:
        conditions.append(f"{prefix}{date_column} <= $date_to")
        params["date_to"] = date_range.end
    return conditions, params


def _where(conditions: list[str]) -> str:
    return f"where {' and '.join(conditions)}" if conditions else ""


@dataclass(frozen=True)
class Metrics:
    """Summed counts and revenue; rates are derived from them, never stored."""

    counts: dict[str, int]
    revenue: Decimal = Decimal(0)

    def rate(self, name: str) -> float | None:
        _, numerator, denominator = RATES[name]
        return (
            self.counts[numerator] / self.counts[denominator] if self.counts[denominator] else None
        )

    @classmethod
    def total(cls, items: Iterable[Metrics]) -> Metrics:
        items = list(items)
        counts = {name: sum(item.counts[name] for item in items) for name in COUNTS}
        return cls(counts, sum((item.revenue for item in items), Decimal(0)))


@dataclass(frozen=True)
class CampaignRow:
    account_id: str
    campaign_id: str
    name: str | None
    type: str | None
    template: str | None
    template_category: str | None
    currency: str | None
    metrics: Metrics


def _currency_column(con: duckdb.DuckDBPyConnection) -> str | None:
    """campaign_performance carries no currency today; use one if a later version adds it."""
    columns = _columns(con, "campaign_performance")
    return next((c for c in ("account_currency", "currency") if c in columns), None)


def campaign_rows(
    con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange
) -> list[CampaignRow]:
    """Every campaign in scope with its counts summed over the cohort dates in range."""
    scope_conditions, params = _filters(scope, DateRange(), "period_start", "c")
    date_conditions, date_params = _filters(Scope("all"), date_range, "period_start", "d")
    params.update(date_params)
    join = " and ".join(
        ["d.account_id = c.account_id", "d.campaign_id = c.campaign_id", *date_conditions]
    )
    currency = _currency_column(con)
    sums = ", ".join(f"coalesce(sum(d.{name}), 0)" for name in COUNTS)
    query = f"""
        select
            c.account_id, c.campaign_id, c.campaign_name, c.campaign_type,
            c.template_name, c.template_category,
            {f"c.{currency}" if currency else "null"} as currency,
            {sums},
            coalesce(sum(d.revenue), 0)
        from marts.campaign_performance as c
        left join marts.campaign_performance_daily as d on {join}
        {_where(scope_conditions)}
        group by all
        order by c.account_id, c.campaign_id
    """
    rows = []
    for row in con.execute(query, params).fetchall():
        counts = {name: int(value) for name, value in zip(COUNTS, row[7:-1], strict=True)}
        rows.append(CampaignRow(*row[:7], Metrics(counts, Decimal(row[-1]))))
    return rows


def cohort_date_bounds(
    con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange
) -> tuple[date | None, date | None]:
    """First and last cohort date with dispatches in scope and range."""
    conditions, params = _filters(scope, date_range, "period_start")
    query = f"""
        select min(period_start), max(period_start)
        from marts.campaign_performance_daily {_where(conditions)}
    """
    first, last = con.execute(query, params).fetchone()
    return first, last


@dataclass(frozen=True)
class ReasonRow:
    reason: str
    messages: int
    possible_solution: str | None


def reason_rows(
    con: duckdb.DuckDBPyConnection, kind: str, scope: Scope, date_range: DateRange
) -> list[ReasonRow]:
    """Messages per reason of one kind (dropped/undelivered), with the possible solution."""
    conditions, params = _filters(scope, date_range, "cohort_date", "r")
    params["kind"] = kind
    query = f"""
        select r.reason, sum(r.messages), any_value(d.possible_solution)
        from marts.{kind}_reasons as r
        left join marts.reason_dictionary as d on d.kind = $kind and d.reason = r.reason
        {_where(conditions)}
        group by r.reason
        having sum(r.messages) > 0
        order by 2 desc, 1
    """
    return [ReasonRow(r, int(m), s) for r, m, s in con.execute(query, params).fetchall()]


@dataclass(frozen=True)
class LinkRow:
    campaign_id: str
    url: str | None
    button_id: str | None
    card_index: int | None
    clicks: int
    unique_clickers: int  # exact only when the range is one cohort date


def link_rows(con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange) -> list[LinkRow]:
    conditions, params = _filters(scope, date_range, "cohort_date")
    query = f"""
        select campaign_id, url, button_id, card_index, sum(clicks), sum(unique_clickers)
        from marts.link_click_activity {_where(conditions)}
        group by all
        having sum(clicks) > 0
        order by 5 desc, campaign_id, url nulls last, button_id nulls first, card_index
    """
    return [
        LinkRow(c, u, b, k, int(n), int(q))
        for c, u, b, k, n, q in con.execute(query, params).fetchall()
    ]


@dataclass(frozen=True)
class ResponseRow:
    campaign_id: str
    card_index: int | None
    button_id: str | None
    button_text: str | None
    is_external_platform: bool
    responses: int
    responder_conversions: int


def response_rows(
    con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange
) -> list[ResponseRow]:
    conditions, params = _filters(scope, date_range, "cohort_date")
    query = f"""
        select
            campaign_id, card_index, button_id, button_text, is_external_platform,
            sum(responses), sum(responder_conversions)
        from marts.response_summary {_where(conditions)}
        group by all
        having sum(responses) > 0
        order by 6 desc, campaign_id, button_id nulls last, card_index
    """
    return [
        ResponseRow(c, k, b, t, bool(x), int(n), int(v))
        for c, k, b, t, x, n, v in con.execute(query, params).fetchall()
    ]


def trend_grain(start: date, end: date) -> str:
    """``day`` for up to DAILY_MAX_DAYS days, ``week`` up to WEEKLY_MAX_DAYS, else ``month``."""
    days = (end - start).days + 1
    if days <= DAILY_MAX_DAYS:
        return "day"
    return "week" if days <= WEEKLY_MAX_DAYS else "month"


def period_start(day: date, grain: str) -> date:
    """The day itself, the Monday of its ISO week or the first of its month."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    return day


def _next_period(start: date, grain: str) -> date:
    if grain == "week":
        return start + timedelta(days=7)
    if grain == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return start + timedelta(days=1)


@dataclass(frozen=True)
class TrendRow:
    """One day, week or month of the range: counts summed over its cohort dates in range."""

    period_start: date
    sent: int = 0
    delivered: int = 0
    opens: int = 0
    clicks: int = 0

    @property
    def read_rate(self) -> float | None:
        return self.opens / self.delivered if self.delivered else None

    @property
    def click_through_rate(self) -> float | None:
        return self.clicks / self.delivered if self.delivered else None


def trend_rows(
    con: duckdb.DuckDBPyConnection, scope: Scope, start: date, end: date, grain: str
) -> list[TrendRow]:
    """Every period from start's to end's, those without dispatches at zero."""
    conditions, params = _filters(scope, DateRange(start, end), "period_start")
    query = f"""
        select period_start, sum(sent), sum(delivered), sum(opens), sum(clicks)
        from marts.campaign_performance_daily {_where(conditions)}
        group by period_start
    """
    sums: dict[date, list[int]] = {}
    for day, *counts in con.execute(query, params).fetchall():
        totals = sums.setdefault(period_start(day, grain), [0, 0, 0, 0])
        for i, value in enumerate(counts):
            totals[i] += int(value)
    rows = []
    current, last = period_start(start, grain), period_start(end, grain)
    while current <= last:
        rows.append(TrendRow(current, *sums.get(current, [0, 0, 0, 0])))
        current = _next_period(current, grain)
    return rows


@dataclass(frozen=True)
class Baseline:
    """campaign_benchmarks' additive counts for one baseline, summed over rows.

    ``delivered``, ``opens`` and ``clicked`` are the campaign's own counts over the
    messages that have this baseline; ``expected_*`` what those messages would have
    had at the baseline's rates. Every rate is recomputed from these sums.
    """

    delivered: int = 0
    opens: int = 0
    clicked: int = 0
    expected_opens: float = 0.0
    expected_clicked: float = 0.0

    def __add__(self, other: Baseline) -> Baseline:
        return Baseline(
            self.delivered + other.delivered,
            self.opens + other.opens,
            self.clicked + other.clicked,
            self.expected_opens + other.expected_opens,
            self.expected_clicked + other.expected_clicked,
        )

    def _per_delivered(self, value: float) -> float | None:
        return value / self.delivered if self.delivered else None

    @property
    def read_rate(self) -> float | None:
        return self._per_delivered(self.opens)

    @property
    def baseline_read_rate(self) -> float | None:
        return self._per_delivered(self.expected_opens)

    @property
    def click_rate(self) -> float | None:
        return self._per_delivered(self.clicked)

    @property
    def baseline_click_rate(self) -> float | None:
        return self._per_delivered(self.expected_clicked)


@dataclass(frozen=True)
class BenchmarkRow:
    """One campaign (or the scope's total) against the baselines, over the range."""

    campaign_id: str
    delivered: int
    opens: int
    clicked: int
    baselines: dict[str, Baseline]
    reference_sources: frozenset[str] = frozenset()
    benchmark_window_end: date | None = None

    @property
    def read_rate(self) -> float | None:
        return self.opens / self.delivered if self.delivered else None

    @property
    def click_rate(self) -> float | None:
        return self.clicked / self.delivered if self.delivered else None

    @classmethod
    def total(cls, rows: Sequence[BenchmarkRow]) -> BenchmarkRow:
        ends = [row.benchmark_window_end for row in rows if row.benchmark_window_end]
        return cls(
            "total",
            sum(row.delivered for row in rows),
            sum(row.opens for row in rows),
            sum(row.clicked for row in rows),
            {name: sum((row.baselines[name] for row in rows), Baseline()) for name in BASELINES},
            frozenset().union(*(row.reference_sources for row in rows)),
            max(ends, default=None),
        )


def benchmark_rows(
    con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange
) -> list[BenchmarkRow]:
    """Per campaign in scope, campaign_benchmarks' counts summed over the cohort dates in range."""
    conditions, params = _filters(scope, date_range, "cohort_date")
    columns = ["compared_delivered", "compared_opens", "compared_delivered_clicked",
               "expected_opens", "expected_clicked"]  # fmt: skip
    sums = ", ".join(
        f"coalesce(sum({name}_{column}), 0)" for name in BASELINES for column in columns
    )
    query = f"""
        select
            campaign_id, sum(delivered), sum(opens), sum(delivered_clicked), {sums},
            string_agg(distinct reference_sources, '; '), max(benchmark_window_end)
        from marts.campaign_benchmarks {_where(conditions)}
        group by account_id, campaign_id
        order by account_id, campaign_id
    """
    rows = []
    for campaign, delivered, opens, clicked, *rest in con.execute(query, params).fetchall():
        values, (sources, window_end) = rest[:-2], rest[-2:]
        baselines = {}
        for i, name in enumerate(BASELINES):
            d, o, c, eo, ec = values[i * len(columns) : (i + 1) * len(columns)]
            baselines[name] = Baseline(int(d), int(o), int(c), float(eo), float(ec))
        parts = frozenset(part for part in (sources or "").split("; ") if part)
        rows.append(
            BenchmarkRow(
                campaign, int(delivered), int(opens), int(clicked), baselines, parts, window_end
            )
        )
    return rows


@dataclass(frozen=True)
class SurvivalRow:
    """One horizon of delivery_survival, its counts summed over the range (exact)."""

    horizon_hours: int
    horizon_label: str
    at_risk: int
    without_report: int

    @property
    def share(self) -> float | None:
        return self.without_report / self.at_risk if self.at_risk else None


def survival_rows(
    con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange
) -> list[SurvivalRow]:
    """The pending survival curve of the scope over the range: per horizon, the summed
    at-risk and without-report counts (the share is their ratio, never an average)."""
    conditions, params = _filters(scope, date_range, "cohort_date")
    query = f"""
        select horizon_hours, any_value(horizon_label), sum(at_risk), sum(without_report)
        from marts.delivery_survival {_where(conditions)}
        group by horizon_hours
        order by horizon_hours
    """
    return [
        SurvivalRow(int(h), str(label), int(r), int(w))
        for h, label, r, w in con.execute(query, params).fetchall()
    ]


@dataclass(frozen=True)
class LatencyRow:
    """One (campaign, cohort date) of message_latency_daily: its percentiles as published.

    ``percentiles`` maps each event of :data:`LATENCY_EVENTS` to its (p50, p90, p99) in
    seconds (None: no message had the event). They are per row: never combined.
    """

    campaign_id: str
    cohort_date: date
    sent: int
    percentiles: dict[str, tuple[float | None, ...]]


@dataclass(frozen=True)
class LatencySummary:
    """The busiest campaign-days of the range (most sent first) and the range's totals."""

    rows: list[LatencyRow]
    campaign_days: int  # rows of message_latency_daily in scope and range
    before_send: dict[str, int]  # messages per event stamped before their send (summed)


def latency_summary(
    con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange, top: int
) -> LatencySummary:
    """message_latency_daily's rows in scope and range with the most sent messages (at most
    ``top``), as published, and the additive counts of the whole range."""
    conditions, params = _filters(scope, date_range, "cohort_date")
    percentile_columns = [
        f"seconds_to_{event}_p{p}" for event in LATENCY_EVENTS for p in LATENCY_PERCENTILES
    ]
    query = f"""
        select campaign_id, cohort_date, sent, {", ".join(percentile_columns)}
        from marts.message_latency_daily {_where(conditions)}
        order by sent desc, cohort_date desc, account_id, campaign_id
        limit {int(top)}
    """
    rows = []
    width = len(LATENCY_PERCENTILES)
    for campaign, day, sent, *values in con.execute(query, params).fetchall():
        percentiles = {
            event: tuple(
                None if v is None else float(v) for v in values[i * width : (i + 1) * width]
            )
            for i, event in enumerate(LATENCY_EVENTS)
        }
        rows.append(LatencyRow(campaign, day, int(sent), percentiles))
    sums = ", ".join(f"coalesce(sum({event}_before_send), 0)" for event in LATENCY_EVENTS)
    totals = con.execute(
        f"select count(*), {sums} from marts.message_latency_daily {_where(conditions)}", params
    ).fetchone()
    before_send = {event: int(v) for event, v in zip(LATENCY_EVENTS, totals[1:], strict=True)}
    return LatencySummary(rows, int(totals[0]), before_send)


@dataclass(frozen=True)
class AttributionRow:
    """One (model, window) of attribution_sensitivity, summed over the scope and range."""

    model: str
    window: str
    is_headline: bool
    conversions: int
    revenue: Decimal


def attribution_rows(
    con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange
) -> list[AttributionRow]:
    """Conversions and revenue per attribution model and window, summed over the range's
    cohort dates (additive within one model and window), in display order."""
    conditions, params = _filters(scope, date_range, "cohort_date")
    query = f"""
        select attribution_model, attribution_window, bool_or(is_headline),
            coalesce(sum(conversions), 0), coalesce(sum(revenue), 0)
        from marts.attribution_sensitivity {_where(conditions)}
        group by attribution_model, attribution_window
    """
    rows = [
        AttributionRow(model, window, bool(headline), int(conversions), Decimal(revenue))
        for model, window, headline, conversions, revenue in con.execute(query, params).fetchall()
    ]
    models, windows = list(ATTRIBUTION_MODELS), list(ATTRIBUTION_WINDOWS)

    def order(row: AttributionRow) -> tuple[int, int, str, str]:
        known_model = models.index(row.model) if row.model in models else len(models)
        known_window = windows.index(row.window) if row.window in windows else len(windows)
        return known_model, known_window, row.model, row.window

    return sorted(rows, key=order)


@dataclass(frozen=True)
class CostRow:
    """campaign_costs summed over the scope and range, for one account currency."""

    currency: str | None
    delivered: int
    opens: int
    clicks: int
    conversions: int
    revenue: Decimal
    costed_messages: int
    without_pricing: int
    without_rate: int
    without_fx: int
    cost_usd: Decimal
    cost: Decimal

    @staticmethod
    def _ratio(numerator: Decimal | int, denominator: Decimal | int) -> float | None:
        return float(numerator) / float(denominator) if denominator else None

    @property
    def coverage(self) -> float | None:
        return self._ratio(self.costed_messages, self.delivered)

    def cost_per(self, count: str) -> float | None:
        """cost per delivered (costed) message, read, click or conversion."""
        denominator = {
            "delivered": self.costed_messages,
            "read": self.opens,
            "click": self.clicks,
            "conversion": self.conversions,
        }[count]
        return self._ratio(self.cost, denominator)

    @property
    def roas(self) -> float | None:
        return self._ratio(self.revenue, self.cost)

    @property
    def unknown(self) -> int:
        return self.without_pricing + self.without_rate + self.without_fx


def cost_rows(con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange) -> list[CostRow]:
    """campaign_costs' additive columns summed per account currency over the range (costs
    in different currencies are never added up; cost_usd is, in its own column)."""
    conditions, params = _filters(scope, date_range, "cohort_date")
    columns = [
        "delivered", "opens", "clicks", "conversions", "revenue", "costed_messages",
        "messages_without_pricing", "messages_without_rate", "messages_without_fx",
        "cost_usd", "cost",
    ]  # fmt: skip
    query = f"""
        select currency, {", ".join(f"coalesce(sum({c}), 0)" for c in columns)}
        from marts.campaign_costs {_where(conditions)}
        group by currency order by currency nulls last
    """
    rows = []
    for currency, *values in con.execute(query, params).fetchall():
        *counts, cost_usd, cost = values
        delivered, opens, clicks, conversions, revenue, *costed_and_unknown = counts
        rows.append(
            CostRow(
                currency,
                *(int(v) for v in (delivered, opens, clicks, conversions)),
                Decimal(revenue),
                *(int(v) for v in costed_and_unknown),
                Decimal(cost_usd),
                Decimal(cost),
            )
        )
    return rows


@dataclass(frozen=True)
class ApiCounts:
    """api_comparison's additive counts summed over rows; rates are recomputed from them."""

    sent: int = 0
    delivered: int = 0
    opens: int = 0
    delivered_clicked: int = 0

    def __add__(self, other: ApiCounts) -> ApiCounts:
        return ApiCounts(
            self.sent + other.sent,
            self.delivered + other.delivered,
            self.opens + other.opens,
            self.delivered_clicked + other.delivered_clicked,
        )

    def rate(self, name: str) -> float | None:
        """One of :data:`API_RATES`, from the summed counts (None: denominator 0)."""
        _, numerator, denominator = API_RATES[name]
        whole = getattr(self, denominator)
        return getattr(self, numerator) / whole if whole else None


@dataclass(frozen=True)
class ApiRow:
    """One template of one account (or every template: ``template_name`` None), its
    counts per API that sent it, summed over the range."""

    account_id: str | None
    template_name: str | None
    apis: dict[str, ApiCounts]

    @property
    def sent(self) -> int:
        return sum(counts.sent for counts in self.apis.values())

    @property
    def both(self) -> bool:
        return MM_API in self.apis and CLOUD_API in self.apis

    def difference(self, name: str) -> float | None:
        """MM API's rate minus Cloud API's (a fraction; None unless both APIs sent and
        both rates are defined)."""
        if not self.both:
            return None
        mm, cloud = self.apis[MM_API].rate(name), self.apis[CLOUD_API].rate(name)
        return None if mm is None or cloud is None else mm - cloud


@dataclass(frozen=True)
class ApiComparison:
    """The templates with the most sent (at most ``top``), how many there are in all, and
    the totals per API over every one of them."""

    rows: list[ApiRow]
    templates: int
    total: ApiRow
    template: str | None = None  # a campaign scope: its template (None: unknown)


def _api_filters(scope: Scope, date_range: DateRange) -> tuple[list[str], dict[str, Any]]:
    """api_comparison is per account and template, not campaign: a campaign scope is its
    account's rows of the campaign's template (every campaign that uses it)."""
    account = Scope("account", scope.account_id, scope.account_id)
    conditions, params = _filters(
        account if scope.account_id else Scope("all"), date_range, "cohort_date"
    )
    if scope.kind == "campaign":
        conditions.append(
            "template_name = (select any_value(template_name) from marts.campaign_performance "
            "where campaign_id = $campaign_id)"
        )
        params["campaign_id"] = scope.id
    return conditions, params


def api_comparison(
    con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange, top: int
) -> ApiComparison:
    """api_comparison summed per (account, template, api) over the range: the ``top``
    templates by sent (both APIs together), and the totals per API of every template."""
    conditions, params = _api_filters(scope, date_range)
    query = f"""
        with sums as (
            select account_id, template_name, api, sum(sent) as sent,
                sum(delivered) as delivered, sum(opens) as opens,
                sum(delivered_clicked) as delivered_clicked
            from marts.api_comparison {_where(conditions)}
            group by all
        ),
        templates as (
            select *, sum(sent) over (partition by account_id, template_name) as template_sent
            from sums
        ),
        ranked as (
            select *, dense_rank() over (
                order by template_sent desc, account_id, template_name
            ) as template_rank
            from templates
        )
        select template_rank, max(template_rank) over (), account_id, template_name, api,
            sent, delivered, opens, delivered_clicked
        from ranked
        order by template_rank, api
    """
    rows: dict[int, ApiRow] = {}
    totals: dict[str, ApiCounts] = {}
    templates = 0
    for rank, count, account, template, api, *values in con.execute(query, params).fetchall():
        counts = ApiCounts(*(int(v) for v in values))
        totals[api] = totals.get(api, ApiCounts()) + counts
        templates = int(count)
        if rank <= top:
            rows.setdefault(rank, ApiRow(account, template, {})).apis[api] = counts
    template = None
    if scope.kind == "campaign":
        found = con.execute(
            "select any_value(template_name) from marts.campaign_performance where campaign_id = ?",
            [scope.id],
        ).fetchone()
        template = found[0] if found else None
    shown = [ApiRow(r.account_id, r.template_name, _by_api(r.apis)) for r in rows.values()]
    return ApiComparison(shown, templates, ApiRow(None, None, _by_api(totals)), template)


def _by_api(apis: dict[str, ApiCounts]) -> dict[str, ApiCounts]:
    """MM API first, then Cloud API, then any other value."""
    known = list(API_LABELS)
    return dict(
        sorted(apis.items(), key=lambda i: (known.index(i[0]) if i[0] in known else 99, i[0]))
    )


@dataclass(frozen=True)
class LineageSummary:
    """The final states of the range's messages in message_lineage (its ``state`` rows)
    and the cohort dates the mart covers."""

    states: dict[str, int]  # LINEAGE_STATES key (or an unknown state as is): messages
    reasons: dict[str, list[tuple[str, int]]]  # dropped / undelivered: reasons, most first
    first: date | None  # the mart's first and last cohort date (the whole window)
    last: date | None

    @property
    def messages(self) -> int:
        return sum(self.states.values())


def lineage_window(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """The first and last cohort date message_lineage holds (its window)."""
    first, last = con.execute(
        "select min(cohort_date), max(cohort_date) from marts.message_lineage"
    ).fetchone() or (None, None)
    return first, last


def lineage_summary(
    con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange
) -> LineageSummary:
    """Messages per final state (the ``state`` row of each message in scope and range),
    delivered ones split by a read status, with the dropped and undelivered reasons."""
    conditions, params = _filters(scope, date_range, "cohort_date")
    # each message's state row, and the status rows that make a delivered message read
    conditions.append(
        "(event_kind = 'state' or (event_kind = 'status' and status = 'read' "
        "and message_state = 'delivered'))"
    )
    query = f"""
        select
            case when event_kind = 'state' then message_state else 'read' end as state,
            case when event_kind = 'state' then reason end as reason,
            count(distinct dispatch_id)
        from marts.message_lineage {_where(conditions)}
        group by all
    """
    states: dict[str, int] = {}
    reasons: dict[str, list[tuple[str, int]]] = {}
    read = 0
    for state, reason, messages in con.execute(query, params).fetchall():
        if state == "read":
            read = int(messages)
            continue
        states[state] = states.get(state, 0) + int(messages)
        if reason is not None:
            reasons.setdefault(state, []).append((reason, int(messages)))
    if "delivered" in states or read:
        states["read"] = read
        states["delivered"] = states.get("delivered", 0) - read
    known = list(LINEAGE_STATES)
    ordered = dict(
        sorted(states.items(), key=lambda i: (known.index(i[0]) if i[0] in known else 99, i[0]))
    )
    for rows in reasons.values():
        rows.sort(key=lambda row: (-row[1], row[0]))
    first, last = lineage_window(con)
    return LineageSummary(ordered, reasons, first, last)


@dataclass(frozen=True)
class UpliftRow:
    """One campaign with a control group: holdout_uplift summed over the range (exact:
    every column adds up over cohort dates); rates and intervals come from the sums."""

    account_id: str
    campaign_id: str
    currency: str | None
    treated_recipients: int
    treated_converters: int
    treated_revenue: Decimal
    treated_revenue_sum_squares: float
    holdout_recipients: int
    holdout_converters: int
    holdout_revenue: Decimal
    holdout_revenue_sum_squares: float

    @property
    def treated_rate(self) -> float | None:
        n = self.treated_recipients
        return self.treated_converters / n if n else None

    @property
    def holdout_rate(self) -> float | None:
        n = self.holdout_recipients
        return self.holdout_converters / n if n else None

    @property
    def conversion_uplift(self) -> Interval | None:
        """Treated rate - holdout rate, with Newcombe's hybrid score interval."""
        return newcombe_difference(
            self.treated_converters,
            self.treated_recipients,
            self.holdout_converters,
            self.holdout_recipients,
        )

    @property
    def treated_revenue_per_recipient(self) -> float | None:
        n = self.treated_recipients
        return float(self.treated_revenue) / n if n else None

    @property
    def holdout_revenue_per_recipient(self) -> float | None:
        n = self.holdout_recipients
        return float(self.holdout_revenue) / n if n else None

    @property
    def revenue_uplift(self) -> Interval | None:
        """Revenue per recipient, treated - holdout, with the normal-approximation interval."""
        return mean_difference(
            float(self.treated_revenue),
            self.treated_revenue_sum_squares,
            self.treated_recipients,
            float(self.holdout_revenue),
            self.holdout_revenue_sum_squares,
            self.holdout_recipients,
        )


#: holdout_uplift's additive columns, in UpliftRow's order.
UPLIFT_SUMS = tuple(
    f"{group}_{column}"
    for group in ("treated", "holdout")
    for column in ("recipients", "converters", "revenue", "revenue_sum_squares")
)


def holdout_rows(
    con: duckdb.DuckDBPyConnection, scope: Scope, date_range: DateRange
) -> list[UpliftRow]:
    """Every campaign in scope with holdout recipients in the range, holdout_uplift
    summed over the range's cohort dates."""
    conditions, params = _filters(scope, date_range, "cohort_date")
    sums = ", ".join(f"coalesce(sum({name}), 0)" for name in UPLIFT_SUMS)
    query = f"""
        select account_id, campaign_id, any_value(currency), {sums}
        from marts.holdout_uplift {_where(conditions)}
        group by account_id, campaign_id
        having sum(holdout_recipients) > 0
        order by account_id, campaign_id
    """
    rows = []
    for account, campaign, currency, *values in con.execute(query, params).fetchall():
        t_n, t_x, t_rev, t_sq, h_n, h_x, h_rev, h_sq = values
        rows.append(
            UpliftRow(account, campaign, currency, int(t_n), int(t_x), Decimal(t_rev),
                      float(t_sq), int(h_n), int(h_x), Decimal(h_rev), float(h_sq))
        )  # fmt: skip
    return rows


def publication_as_of(con: duckdb.DuckDBPyConnection) -> str | None:
    """The as-of time of the published marts, from marts._publication when it exists."""
    if not _has_table(con, "_publication"):
        return None
    columns = _columns(con, "_publication")
    as_of = next((c for c in ("as_of", "as_of_time", "run_as_of") if c in columns), None)
    if as_of is None:
        return None
    newest = next((c for c in ("published_at", "publish_time") if c in columns), None)
    order = f"order by {newest} desc nulls last" if newest else ""
    row = con.execute(f"select {as_of} from marts._publication {order} limit 1").fetchone()
    if row is None or row[0] is None:
        return None
    value = row[0]
    if isinstance(value, datetime):
        return format_as_of(value if value.tzinfo else value.replace(tzinfo=UTC))
    return str(value)


# --------------------------------------------------------------------------- formatting


def _count(value: int) -> str:
    return f"{value:,}"


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f} %"


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _share(part: int, whole: int) -> str:
    return _pct(part / whole if whole else None)


def _fit(text: str, width: int, middle: bool = False) -> str:
    """Shorten text to width with an ellipsis, at the end or (URLs) in the middle."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    if middle:
        head = (width - 1) // 2
        tail = width - 1 - head
        return f"{text[:head]}…{text[-tail:] if tail else ''}"
    return f"{text[: width - 1]}…"


@dataclass(frozen=True)
class Column:
    header: str
    right: bool = False  # numbers are right-aligned
    flex: bool = False  # may shrink (with an ellipsis) so the table fits
    middle: bool = False  # shorten in the middle (URLs keep their distinguishing end)
    min_width: int = 8


@dataclass
class Table:
    columns: list[Column]
    rows: list[list[str]] = field(default_factory=list)
    indent: str = INDENT
    width: int = WIDTH

    def widths(self) -> list[int]:
        widths = [
            max([len(col.header), *(len(row[i]) for row in self.rows)])
            for i, col in enumerate(self.columns)
        ]
        budget = self.width - len(self.indent) - 2 * (len(widths) - 1)
        flex = [i for i, col in enumerate(self.columns) if col.flex]
        while sum(widths) > budget and flex:
            widest = max(flex, key=lambda i: widths[i])
            floor = max(self.columns[widest].min_width, len(self.columns[widest].header))
            if widths[widest] <= floor:
                flex.remove(widest)
                continue
            widths[widest] -= 1
        return widths

    def render(self) -> tuple[str, list[str]]:
        """The header line and one line per row."""
        widths = self.widths()

        def line(cells: Sequence[str]) -> str:
            out = []
            for cell, col, width in zip(cells, self.columns, widths, strict=True):
                cell = _fit(cell, width, col.middle)
                out.append(cell.rjust(width) if col.right else cell.ljust(width))
            return (self.indent + "  ".join(out)).rstrip()

        return line([c.header for c in self.columns]), [line(row) for row in self.rows]

    def lines(self) -> list[str]:
        header, rows = self.render()
        return [header, *rows]


def _wrap(label: str, text: str, indent: str = INDENT * 3) -> list[str]:
    return textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=f"{indent}{label}",
        subsequent_indent=indent + " " * len(label),
        break_on_hyphens=False,
    )


def _join_fitting(parts: Sequence[str], separator: str) -> list[str]:
    """Parts joined on as few lines as fit WIDTH, never splitting a part between lines."""
    lines = [parts[0]]
    for part in parts[1:]:
        if len(lines[-1]) + len(separator) + len(part) <= WIDTH:
            lines[-1] += separator + part
        else:
            lines.append(INDENT + part)
    return lines


def _note(text: str) -> list[str]:
    return textwrap.wrap(text, width=WIDTH, initial_indent=INDENT, subsequent_indent=INDENT * 2)


def _section(title: str) -> list[str]:
    return ["", title, "-" * min(len(title), WIDTH)]


def _metrics_lines(metrics: Metrics, revenue_note: str, show_revenue: bool) -> list[str]:
    table = Table([Column("metric"), Column("count", right=True), Column("rate", right=True),
                   Column("rate is")])  # fmt: skip
    for name in COUNTS:
        rate_name = RATE_OF_COUNT.get(name)
        rate, definition = "", ""
        if rate_name:
            label, numerator, denominator = RATES[rate_name]
            rate = _pct(metrics.rate(rate_name))
            definition = f"{label} = {numerator} / {denominator}"
        table.rows.append([name.replace("_", " "), _count(metrics.counts[name]), rate, definition])
        if name == "conversions":  # revenue sits beside the conversions it comes from
            value = _money(metrics.revenue) if show_revenue else "n/a"
            table.rows.append(["revenue", value, "", revenue_note])
    return table.lines()


def _revenue_note(rows: Sequence[CampaignRow], scope: Scope) -> tuple[str, bool]:
    currencies = {row.currency for row in rows}
    if len(currencies) == 1 and None not in currencies:
        return f"in {currencies.pop()}", True
    if scope.single_account:
        return "in the account currency", True
    return "not summed across accounts (currencies may differ)", False


def _campaigns_lines(rows: Sequence[CampaignRow], scope: Scope) -> list[str]:
    columns = [Column("campaign")]
    if not scope.single_account:
        columns.append(Column("account"))
    columns += [
        Column("name", flex=True, min_width=10),
        Column("sent", right=True),
        Column("delivery", right=True),
        Column("open", right=True),
        Column("CTR", right=True),
        Column("conv.", right=True),
        Column("revenue", right=True),
    ]
    table = Table(columns)
    for row in rows[:MAX_CAMPAIGN_ROWS]:
        cells = [row.campaign_id]
        if not scope.single_account:
            cells.append(row.account_id)
        m = row.metrics
        cells += [
            row.name or "(no name)",
            _count(m.counts["sent"]),
            _pct(m.rate("delivery_rate")),
            _pct(m.rate("open_rate")),
            _pct(m.rate("click_through_rate")),
            _count(m.counts["conversions"]),
            _money(m.revenue) + (f" {row.currency}" if row.currency else ""),
        ]
        table.rows.append(cells)
    lines = table.lines()
    if len(rows) > MAX_CAMPAIGN_ROWS:
        lines += _note(f"… and {len(rows) - MAX_CAMPAIGN_ROWS:,} more campaigns "
                       "(narrow the scope with --account or --campaign)")  # fmt: skip
    lines += _note(
        "delivery = delivered / sent; open, CTR = opens, clicks / delivered; revenue in "
        "account currency"
    )
    return lines


def _reasons_lines(kind: str, reasons: Sequence[ReasonRow], expected_total: int) -> list[str]:
    total = sum(r.messages for r in reasons)
    lines = _section(f"{kind.capitalize()} reasons: {_count(total)} {kind} messages")
    if not reasons:
        return [*lines, f"{INDENT}no {kind} messages in this range"]
    if total != expected_total:
        lines += _note(f"note: the campaign metrics count {_count(expected_total)} {kind}")
    table = Table([Column("reason", flex=True, min_width=16), Column("messages", right=True),
                   Column("share", right=True)])  # fmt: skip
    table.rows = [[r.reason, _count(r.messages), _share(r.messages, total)] for r in reasons]
    header, rows = table.render()
    lines.append(header)
    for reason, row in zip(reasons, rows, strict=True):
        lines.append(row)
        lines += _wrap("solution: ", reason.possible_solution or "(not in reason_dictionary)")
    return lines


def _button_label(button_id: str | None, card_index: int | None) -> str:
    label = button_id or "(body link)"
    return label if card_index is None else f"{label} / card {card_index}"


def _links_lines(links: Sequence[LinkRow], multi: bool, one_day: bool, top: int) -> list[str]:
    total = sum(link.clicks for link in links)
    lines = _section(f"Link activity: {_count(total)} clicks on {_count(len(links))} links")
    if not links:
        return [*lines, f"{INDENT}no tracked-link clicks in this range"]
    columns = [Column("campaign")] if multi else []
    columns += [Column("url", flex=True, middle=True, min_width=24),
                Column("button / card", flex=True, min_width=13),
                Column("clicks", right=True)]  # fmt: skip
    if one_day:
        columns.append(Column("unique clickers", right=True))
    table = Table(columns)
    for link in links[:top]:
        cells = [link.campaign_id] if multi else []
        cells += [link.url or "(no url)", _button_label(link.button_id, link.card_index),
                  _count(link.clicks)]  # fmt: skip
        if one_day:
            cells.append(_count(link.unique_clickers))
        table.rows.append(cells)
    lines += table.lines()
    if len(links) > top:
        lines += _note(f"… {len(links) - top:,} more links (--top N shows more)")
    if not one_day:
        lines += _note(
            "unique clickers not shown: they do not add up across cohort dates "
            "(a one-day range shows them)"
        )
    return lines


def _response_lines(
    responses: Sequence[ResponseRow], delivered: dict[str, int], multi: bool, top: int
) -> list[str]:
    total = sum(r.responses for r in responses)
    lines = _section(f"Response activity: {_count(total)} responses")
    if not responses:
        return [*lines, f"{INDENT}no responses in this range"]
    columns = [Column("campaign")] if multi else []
    columns += [
        Column("option", flex=True, min_width=14),
        Column("button / card", flex=True, min_width=13),
        Column("external", min_width=8),
        Column("responses", right=True),
        Column("rate", right=True),
        Column("responder conv.", right=True),
    ]
    table = Table(columns)
    for row in responses[:top]:
        option = row.button_text or "(unknown payload)"
        if row.button_id is None:
            option = "(free text)"
        cells = [row.campaign_id] if multi else []
        cells += [
            option,
            "-" if row.button_id is None else _button_label(row.button_id, row.card_index),
            "yes" if row.is_external_platform else "no",
            _count(row.responses),
            _share(row.responses, delivered.get(row.campaign_id, 0)),
            _count(row.responder_conversions),
        ]
        table.rows.append(cells)
    lines += table.lines()
    if len(responses) > top:
        lines += _note(f"… {len(responses) - top:,} more options (--top N shows more)")
    lines += _note("rate = responses / delivered of the campaign in range "
                   "(external option: button click rate)")  # fmt: skip
    lines += _note("responder conv. = conversions attributed to the campaign "
                   "by users who chose the option")  # fmt: skip
    return lines


def sparkline(values: Sequence[float | None], floor: float | None = None) -> str:
    """One block character per value, from ▁ (the lowest) to █ (the highest); a space for None.

    The scale runs from ``floor`` (counts pass 0, so that a small change does not
    look like a collapse) or else the smallest value, to the largest; a flat series
    is a row of ▁.
    """
    known = [value for value in values if value is not None]
    if not known:
        return " " * len(values)
    low = min(known) if floor is None else min(floor, *known)
    high = max(known)
    top = len(SPARK_BARS) - 1
    chars = []
    for value in values:
        if value is None:
            chars.append(" ")
        elif high == low:
            chars.append(SPARK_BARS[0])
        else:
            chars.append(SPARK_BARS[min(top, max(0, round((value - low) / (high - low) * top)))])
    return "".join(chars)


def _period_label(start: date, grain: str) -> str:
    return start.strftime("%Y-%m") if grain == "month" else start.isoformat()


def _trend_lines(rows: Sequence[TrendRow], grain: str, start: date, end: date) -> list[str]:
    unit = {"day": "daily", "week": "weekly (ISO weeks)", "month": "monthly"}[grain]
    lines = _section(f"Trend: {unit}, {start} to {end}")
    shown = list(rows[-MAX_TREND_PERIODS:])
    series: list[tuple[str, list[float | None], float | None, Any]] = [
        ("sent", [row.sent for row in shown], 0, _count),
        ("delivered", [row.delivered for row in shown], 0, _count),
        ("read rate", [row.read_rate for row in shown], None, _pct),
        ("CTR", [row.click_through_rate for row in shown], None, _pct),
    ]
    label_width = max(len(label) for label, *_ in series)
    for label, values, floor, fmt in series:
        known = [value for value in values if value is not None]
        scale = "no data"
        if known:
            low = min(known) if floor is None else min(floor, *known)
            scale = f"{fmt(low)} to {fmt(max(known))}"
        lines.append(f"{INDENT}{label.ljust(label_width)}  {sparkline(values, floor)}  {scale}")
    header = {"day": "date", "week": "week of", "month": "month"}[grain]
    table = Table([Column(header), Column("sent", right=True), Column("delivered", right=True),
                   Column("read rate", right=True), Column("CTR", right=True)])  # fmt: skip
    for row in shown:
        table.rows.append([
            _period_label(row.period_start, grain), _count(row.sent), _count(row.delivered),
            _pct(row.read_rate), _pct(row.click_through_rate),
        ])  # fmt: skip
    lines += ["", *table.lines()]
    if len(rows) > len(shown):
        lines += _note(f"the latest {len(shown)} of {len(rows)} periods are shown "
                       "(narrow the range with --from/--to)")  # fmt: skip
    lines += _note(
        f"a row per day up to {DAILY_MAX_DAYS} days in range, per ISO week (Monday) up to "
        f"{WEEKLY_MAX_DAYS}, else per month"
        + ("; the first and last period count only their dates in range" if grain != "day" else "")
    )
    lines += _note(
        "read rate = opens / delivered, CTR = clicks / delivered; sparklines run from ▁ to █ over "
        "the scale at their right (counts from 0); blank: n/a"
    )
    return lines


def _pp(rate: float | None, baseline: float | None, unit: str = " pp") -> str:
    """A rate's difference from its baseline in percentage points, signed."""
    if rate is None or baseline is None:
        return "n/a"
    return f"{(rate - baseline) * 100:+.1f}{unit}"


def _benchmark_table(row: BenchmarkRow, label: str) -> list[str]:
    table = Table([
        Column("against", flex=True, min_width=14),
        Column("delivered", right=True),
        Column("read rate", right=True),
        Column("baseline", right=True),
        Column("diff", right=True),
        Column("click rate", right=True),
        Column("baseline", right=True),
        Column("diff", right=True),
    ])  # fmt: skip
    table.rows.append([label, _count(row.delivered), _pct(row.read_rate), "", "",
                       _pct(row.click_rate), "", ""])  # fmt: skip
    for name, baseline_label in BASELINES.items():
        b = row.baselines[name]
        table.rows.append([
            baseline_label, _count(b.delivered),
            _pct(b.read_rate), _pct(b.baseline_read_rate),
            _pp(b.read_rate, b.baseline_read_rate),
            _pct(b.click_rate), _pct(b.baseline_click_rate),
            _pp(b.click_rate, b.baseline_click_rate),
        ])  # fmt: skip
    return table.lines()


def _benchmark_campaigns_table(rows: Sequence[BenchmarkRow]) -> list[str]:
    columns = [Column("campaign"), Column("delivered", right=True),
               Column("read", right=True)]  # fmt: skip
    columns += [Column(f"vs {short}", right=True) for short in BASELINE_SHORT.values()]
    columns.append(Column("click", right=True))
    columns += [Column(f"vs {short}", right=True) for short in BASELINE_SHORT.values()]
    table = Table(columns)
    for row in rows[:MAX_CAMPAIGN_ROWS]:
        cells = [row.campaign_id, _count(row.delivered), _pct(row.read_rate)]
        b = row.baselines
        cells += [_pp(b[name].read_rate, b[name].baseline_read_rate, "") for name in BASELINES]
        cells.append(_pct(row.click_rate))
        cells += [_pp(b[name].click_rate, b[name].baseline_click_rate, "") for name in BASELINES]
        table.rows.append(cells)
    lines = table.lines()
    if len(rows) > MAX_CAMPAIGN_ROWS:
        lines += _note(f"… and {len(rows) - MAX_CAMPAIGN_ROWS:,} more campaigns")
    lines += _note("vs: the campaign's rate minus the baseline's, in percentage points, over "
                   "the messages that have the baseline")  # fmt: skip
    return lines


def _benchmark_lines(rows: Sequence[BenchmarkRow], scope: Scope) -> list[str]:
    lines = _section("Benchmarks: read and click rates against three baselines")
    if not rows:
        return [*lines, f"{INDENT}no messages in this range"]
    if scope.kind == "campaign":
        total, label = rows[0], "campaign, all delivered"
    else:
        total, label = BenchmarkRow.total(rows), "all delivered"
    lines += _benchmark_table(total, label)
    if scope.kind != "campaign":
        lines += ["", *_benchmark_campaigns_table(rows)]
    lines += _note(
        "delivered = the campaign's delivered messages each baseline covers; the campaign's rates "
        "and the baseline's are over those messages (the baseline weighted by their recipient "
        "countries); diff in percentage points; n/a: no baseline"
    )
    lines += _note(
        "click rate = delivered messages with a click / delivered (each message once; CTR counts "
        "every click)"
    )
    lines += _note(
        "account history: the account's other campaigns over the 30 cohort dates before each "
        "date (not that date)"
    )
    sources = "; ".join(sorted(total.reference_sources)) or "none for these countries"
    placeholder = any(source.startswith("illustrative") for source in total.reference_sources)
    lines += _note(
        f"reference seed: {sources}"
        + (
            ": placeholder values, not published figures; replace "
            "seeds/reference_engagement_rates.csv with your provider's published rates"
            if placeholder
            else ""
        )
    )
    window = f"; 30 days to {total.benchmark_window_end}" if total.benchmark_window_end else ""
    lines += _note(
        "cross-account p75: 75th percentile of the (country, industry, template category) "
        f"cohort, published only where at least 5 accounts contribute{window}"
    )
    return lines


def _duration(seconds: float | None) -> str:
    """A latency in the largest unit that keeps it short: 4.2s, 35s, 12.5m, 3.0h, 2.1d."""
    if seconds is None:
        return "n/a"
    # each bound is where the rounded value would reach the next unit (59.6 s is 1.0m)
    if seconds < 9.95:
        return f"{seconds:.1f}s"
    if seconds < 59.5:
        return f"{seconds:.0f}s"
    if seconds < 59.95 * 60:
        return f"{seconds / 60:.1f}m"
    if seconds < 23.95 * 3600:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _latency_lines(
    summary: LatencySummary | None, survival: Sequence[SurvivalRow] | None, multi: bool
) -> list[str]:
    """The survival curve (summed counts: exact over any range) and the latency percentiles
    of the busiest campaign-days (as published: percentiles are never combined)."""
    lines = _section("Latency and delivery reports")
    if survival is not None:
        lines.append(f"{INDENT}Still without a delivery report after (summed over the range):")
        if not any(row.at_risk for row in survival):
            lines.append(f"{INDENT}no sent message in this range is old enough to judge")
        else:
            table = Table([Column("after"), Column("judged", right=True),
                           Column("without report", right=True), Column("share", right=True),
                           Column("0 to 100 %")])  # fmt: skip
            for row in survival:
                bar = "" if row.share is None else "█" * round(row.share * SURVIVAL_BAR_WIDTH)
                table.rows.append([row.horizon_label, _count(row.at_risk),
                                   _count(row.without_report), _pct(row.share), bar])  # fmt: skip
            lines += table.lines()
            lines += _note(
                "share = without report / judged, both summed over the range's cohort dates; "
                "judged: sent messages at least that old at the as-of time (younger ones are "
                "left out, not counted as pending); a report is a delivered, read, played or "
                "failed status"
            )
            lines += _note(
                "a share that stays high after the first hours points to lost status webhooks "
                "(a receiver outage)"
            )
    if summary is not None:
        if survival is not None:
            lines.append("")
        shown = len(summary.rows)
        lines.append(
            f"{INDENT}Time from send, p50 / p90 / p99, per campaign and cohort date "
            f"({shown} of {summary.campaign_days} with the most sent):"
        )
        if not summary.rows:
            return [*lines, f"{INDENT}no sent messages in this range"]
        columns = [Column("campaign")] if multi else []
        columns += [Column("date"), Column("sent", right=True)]
        columns += [Column(f"to {label}", right=True) for label in LATENCY_EVENTS.values()]
        table = Table(columns)
        for row in summary.rows:
            cells = [row.campaign_id] if multi else []
            cells += [row.cohort_date.isoformat(), _count(row.sent)]
            cells += [
                " / ".join(_duration(v) for v in row.percentiles[event]) for event in LATENCY_EVENTS
            ]
            table.rows.append(cells)
        lines += table.lines()
        if summary.campaign_days > shown:
            more = summary.campaign_days - shown
            lines += _note(f"… {more:,} more campaign-day{'s' if more > 1 else ''} "
                           "(--top N shows more)")  # fmt: skip
        lines += _note(
            "percentiles are those of one campaign and cohort date, as published: they do not "
            "add up or average over dates or campaigns, so none is combined here; the curve "
            "above is the exact view over the range"
        )
        skewed = [
            f"{_count(n)} {label}" for event, label in LATENCY_EVENTS.items()
            if (n := summary.before_send[event])
        ]  # fmt: skip
        if skewed:
            lines += _note(
                "messages whose status or click is stamped before their send (clock skew, "
                f"counted as 0 s) in the range: {', '.join(skewed)}"
            )
    return lines


def _change(value: int, base: int) -> str:
    """value relative to base, signed: +12.5 %, -3.0 %; n/a when base is 0."""
    return "n/a" if not base else f"{(value / base - 1) * 100:+.1f} %"


def _attribution_lines(rows: Sequence[AttributionRow], show_revenue: bool) -> list[str]:
    """Conversions and revenue under each attribution model and window beside the headline
    rule (last click in the campaign's own window)."""
    lines = _section("Attribution sensitivity")
    headline = next((row for row in rows if row.is_headline), None)
    if headline is None:
        return [*lines, f"{INDENT}no attribution rows in this range"]
    table = Table([Column("model"), Column("window"), Column("conversions", right=True),
                   Column("vs headline", right=True), Column("revenue", right=True)])  # fmt: skip
    for row in rows:
        versus = "headline" if row.is_headline else _change(row.conversions, headline.conversions)
        table.rows.append([
            ATTRIBUTION_MODELS.get(row.model, row.model),
            ATTRIBUTION_WINDOWS.get(row.window, row.window),
            _count(row.conversions),
            versus,
            _money(row.revenue) if show_revenue else "n/a",
        ])  # fmt: skip
    lines += table.lines()
    lines += _note(
        "headline = last click in the campaign's own window, the rule of every other mart; each "
        "row sums one model and window over the range's cohort dates (the credited message's); "
        "last click, first click and delivered view credit each conversion once, any click "
        "credits every campaign clicked in the window, so its sum over campaigns can exceed "
        "the conversions"
    )
    return lines


def _unit_cost(value: float | None) -> str:
    """A cost per message or event: four decimals (message rates are fractions of a cent)."""
    return "n/a" if value is None else f"{value:,.4f}"


def _cost_lines(rows: Sequence[CostRow]) -> list[str]:
    """What the delivered messages cost, per account currency, the cost per delivered
    message, read, click and conversion, and ROAS, with how much of the cost is known."""
    lines = _section("Cost and ROAS")
    rows = [row for row in rows if row.delivered]
    if not rows:
        return [*lines, f"{INDENT}no delivered messages in this range"]
    table = Table([Column("currency"), Column("cost", right=True), Column("USD", right=True),
                   Column("known", right=True), Column("/delivered", right=True),
                   Column("/read", right=True), Column("/click", right=True),
                   Column("/conversion", right=True), Column("ROAS", right=True)])  # fmt: skip
    for row in rows:
        table.rows.append([
            row.currency or "?", _money(row.cost), _money(row.cost_usd), _pct(row.coverage),
            *(_unit_cost(row.cost_per(count)) for count in ("delivered", "read", "click",
                                                             "conversion")),
            "n/a" if row.roas is None else f"{row.roas:,.2f}",
        ])  # fmt: skip
    lines += table.lines()
    unknown = [
        (sum(row.without_pricing for row in rows), "without pricing in their webhooks"),
        (sum(row.without_rate for row in rows), "without a rate for their market"),
        (sum(row.without_fx for row in rows), "without an exchange rate"),
    ]
    if any(count for count, _ in unknown):
        parts = [f"{_count(count)} {why}" for count, why in unknown if count]
        lines += _note(
            "delivered messages of unknown cost, left out of it: "
            + ", ".join(parts)
            + " (data_quality.unpriced_messages names the markets and currencies)"
        )
    lines += _note(
        "cost = delivered billable messages x the rate of their market and pricing category "
        "on their cohort date (seeds/whatsapp_message_rates.csv), in the account currency; "
        "known = share of delivered messages whose cost is known; below 100 % the costs per "
        "event are lower bounds and ROAS (revenue / cost) an upper bound; every ratio is "
        "recomputed from the range's sums"
    )
    return lines


def _api_rows(row: ApiRow, labels: list[str]) -> list[list[str]]:
    """One line per API that sent the template (``… only`` when one did), then MM API minus
    Cloud API in percentage points; ``labels`` head the first line (account, template)."""
    lines = []
    alone = " only" if len(row.apis) == 1 else ""
    for api, counts in row.apis.items():
        lines.append([*labels, API_SHORT.get(api, api) + alone, _count(counts.sent),
                      *(_pct(counts.rate(name)) for name in API_RATES)])  # fmt: skip
        labels = [""] * len(labels)
    if row.both:
        lines.append([*labels, "MM - Cloud", "",
                      *(_signed_pp(row.difference(name)) for name in API_RATES)])  # fmt: skip
    return lines


def _api_lines(comparison: ApiComparison, scope: Scope, top: int) -> list[str]:
    """Per template (and account) and API: sent and the delivery, read and click rates
    recomputed from the summed counts, and MM API minus Cloud API in percentage points."""
    total = comparison.total
    lines = _section(
        f"Marketing Messages API vs Cloud API: {_count(total.sent)} sent, "
        f"{_count(comparison.templates)} template{'s' if comparison.templates != 1 else ''}"
    )
    if scope.kind == "campaign":
        if comparison.template is None:
            return [*lines, f"{INDENT}campaign {scope.id} has no known template: "
                            "api_comparison has no row for it"]  # fmt: skip
        lines += _note(
            f"per template, not per campaign: template {comparison.template} of account "
            f"{scope.account_id}, every campaign of the account that uses it"
        )
    if not comparison.rows:
        return [*lines, f"{INDENT}no sent messages with a known template in this range"]
    if len(total.apis) == 1:
        (api,) = total.apis
        lines += _note(
            f"only {API_LABELS.get(api, api)} messages in this range: there is nothing to "
            "compare them with"
        )
    multi = not scope.single_account
    columns = [Column("account")] if multi else []
    columns += [Column("template", flex=True, min_width=12), Column("api"),
                Column("sent", right=True), Column("delivery", right=True),
                Column("read", right=True), Column("click", right=True)]  # fmt: skip
    table = Table(columns)
    if comparison.templates > 1:
        table.rows += _api_rows(total, ["", "all templates"] if multi else ["all templates"])
    for row in comparison.rows:
        labels = [row.account_id or "", row.template_name or ""]
        table.rows += _api_rows(row, labels if multi else labels[1:])
    lines += table.lines()
    shown = len(comparison.rows)
    if comparison.templates > shown:
        more = comparison.templates - shown
        lines += _note(f"the {shown} template{'s' if shown > 1 else ''} with the most sent "
                       f"(--top {top}); … {more:,} more template{'s' if more > 1 else ''} "
                       "(--top N shows more)")  # fmt: skip
    if total.both and not any(row.both for row in comparison.rows):
        lines += _note("no template shown was sent through both APIs: the totals compare "
                       "different templates")  # fmt: skip
    lines += _note(
        "delivery = delivered / sent, read = opens / delivered, click = delivered messages "
        "with a click / delivered, each recomputed from the counts summed over the range's "
        "cohort dates; MM - Cloud: the Marketing Messages API's rate minus the Cloud API's, in "
        "percentage points (n/a: a denominator is 0)"
        + ("; MM API only, Cloud API only: the template was sent through that API alone"
           if any(len(row.apis) == 1 for row in comparison.rows) else "")
    )  # fmt: skip
    return lines


def _lineage_lines(summary: LineageSummary, start: date | None) -> list[str]:
    """The final state of the range's messages in message_lineage, the top reasons of the
    dropped and undelivered ones, and how to trace one message."""
    total = summary.messages
    lines = _section(f"Message lineage: final state of {_count(total)} messages")
    window = (
        f"{summary.first} to {summary.last}" if summary.first is not None else "no cohort dates"
    )
    if total:
        table = Table([Column("final state", flex=True, min_width=16),
                       Column("messages", right=True), Column("share", right=True)])  # fmt: skip
        for state, messages in summary.states.items():
            table.rows.append([LINEAGE_STATES.get(state, state), _count(messages),
                               _share(messages, total)])  # fmt: skip
            reasons = summary.reasons.get(state, [])
            for reason, count in reasons[:LINEAGE_TOP_REASONS]:
                table.rows.append([f"  {reason}", _count(count), _share(count, messages)])
            if len(reasons) > LINEAGE_TOP_REASONS:
                rest = reasons[LINEAGE_TOP_REASONS:]
                table.rows.append([f"  {len(rest)} more reasons", _count(sum(c for _, c in rest)),
                                   _share(sum(c for _, c in rest), messages)])  # fmt: skip
        lines += table.lines()
        lines += _note(
            "the state of each message at the as-of time (its lineage's last row); share: of "
            f"all messages for a state, of the state's messages for a reason (its top "
            f"{LINEAGE_TOP_REASONS}); read: a read status by the as-of time"
        )
    else:
        lines.append(f"{INDENT}no messages of this range in the lineage")
    before = start is not None and summary.first is not None and start < summary.first
    lines += _note(
        f"message_lineage keeps the messages of the last WA_LINEAGE_DAYS cohort dates "
        f"(default 45): {window}"
        + ("; the range's older messages are not in it" if before and total else "")
    )
    lines.append(f"{INDENT}trace one message: {TRACE_HINT}")
    return lines


def _signed_pp(value: float | None) -> str:
    """A difference of rates in percentage points, signed: ``+2.1 pp``."""
    return "n/a" if value is None else f"{value * 100:+.1f} pp"


def _pp_interval(interval: Interval | None) -> str:
    """A rate difference's 95 % interval in percentage points: ``-1.6 to +2.1 pp``."""
    if interval is None or interval.low is None or interval.high is None:
        return "n/a"
    return f"{interval.low * 100:+.1f} to {interval.high * 100:+.1f} pp"


def _signed_money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+,.2f}"


def _money_interval(interval: Interval | None) -> str:
    if interval is None or interval.low is None or interval.high is None:
        return "n/a"
    return f"{interval.low:+,.2f} to {interval.high:+,.2f}"


def _per_recipient(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _flag(interval: Interval | None) -> str:
    """`*` when the 95 % interval excludes 0."""
    return " *" if interval is not None and interval.excludes_zero else ""


def _holdout_lines(rows: Sequence[UpliftRow], multi: bool) -> list[str]:
    """Per campaign with a control group in the range: both groups' conversion rates and
    revenue per recipient, the uplift (treated - holdout) and its 95 % interval."""
    lines = _section("Holdout uplift: treated vs holdout (control group)")
    if not rows:
        return [*lines, f"{INDENT}no campaign with a holdout in this range"]
    columns = [Column("campaign")] if multi else []
    columns += [Column("treated", right=True), Column("conv.", right=True),
                Column("holdout", right=True), Column("conv.", right=True),
                Column("uplift", right=True), Column("95 % CI", right=True)]  # fmt: skip
    table = Table(columns)
    for row in rows:
        uplift = row.conversion_uplift
        cells = [row.campaign_id] if multi else []
        cells += [
            _count(row.treated_recipients), _pct(row.treated_rate),
            _count(row.holdout_recipients), _pct(row.holdout_rate),
            _signed_pp(uplift.estimate if uplift else None) + _flag(uplift),
            _pp_interval(uplift),
        ]  # fmt: skip
        table.rows.append(cells)
    lines += table.lines()
    lines.append("")
    columns = [Column("campaign")] if multi else []
    columns += [Column("revenue/recipient: treated", right=True), Column("holdout", right=True),
                Column("uplift", right=True), Column("95 % CI", right=True),
                Column("currency")]  # fmt: skip
    table = Table(columns)
    for row in rows:
        revenue = row.revenue_uplift
        cells = [row.campaign_id] if multi else []
        cells += [
            _per_recipient(row.treated_revenue_per_recipient),
            _per_recipient(row.holdout_revenue_per_recipient),
            _signed_money(revenue.estimate if revenue else None) + _flag(revenue),
            _money_interval(revenue),
            row.currency or "",
        ]  # fmt: skip
        table.rows.append(cells)
    lines += table.lines()
    lines += _note(
        "treated = every targeted dispatch (sent or dropped: intention to treat), holdout = "
        "recipients withheld as the control group; conv. = recipients whose customer made the "
        "campaign's goal event within its conversion window after the dispatch, clicked or "
        "not (not last click: the holdout has no message to click)"
    )
    lines += _note(
        "uplift = treated - holdout over the range's summed counts; 95 % CI: Newcombe's hybrid "
        "score interval (two Wilson intervals) for the conversion rates, normal approximation "
        "for revenue per recipient (account currency); * = the interval excludes 0"
    )
    return lines


def _range_text(date_range: DateRange, first: date | None, last: date | None) -> str:
    start = date_range.start or first
    end = date_range.end or last
    if start is None and end is None:
        return "all cohort dates (none with dispatches)"
    if start is None:
        return f"up to {end}"
    if end is None:
        return f"from {start}"
    return f"{start} to {end}" if start != end else f"{start} (one day)"


def build_report(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    date_range: DateRange,
    *,
    top: int = 10,
    source: Path | str | None = None,
) -> str:
    """The report text for a scope and a range of cohort dates (lines <= WIDTH columns)."""
    campaigns = campaign_rows(con, scope, date_range)
    first, last = cohort_date_bounds(con, scope, date_range)
    totals = Metrics.total(row.metrics for row in campaigns)
    start, end = date_range.start or first, date_range.end or last
    one_day = start is not None and start == end
    multi = scope.kind != "campaign"

    range_text = _range_text(date_range, first, last)
    parts = [f"Report: {scope.describe()}", f"cohort dates {range_text}"]
    as_of = publication_as_of(con)
    if as_of:
        parts.append(f"as of {as_of}")
    lines = _join_fitting(parts, " | ")
    lines.append("=" * min(WIDTH, max(len(line) for line in lines)))
    note = "cohort date = dispatch date in the account's time zone; every outcome counts on it"
    lines.append(note)
    if source is not None:
        lines.append(_fit(f"published marts: {source}", WIDTH, middle=True))
    if first is None:
        lines.append("no dispatches in this scope and range: every count below is 0")

    if scope.kind == "campaign":
        row = campaigns[0]
        lines += _section(f"Campaign {row.campaign_id}: {row.name or '(no name)'}")
        template = row.template or "(unknown template)"
        if row.template_category:
            template += f" ({row.template_category})"
        lines.append(
            f"{INDENT}account {row.account_id} | type {row.type or 'unknown'} | template {template}"
        )
    else:
        lines += _section(f"Campaigns: {_count(len(campaigns))}")
        lines += _campaigns_lines(campaigns, scope)

    revenue_note, show_revenue = _revenue_note(campaigns, scope)
    lines += _section("Metrics" if scope.kind == "campaign" else "Totals")
    lines += _metrics_lines(totals, revenue_note, show_revenue)
    lines += _note(
        "rates are recomputed from the counts summed over the range (n/a: denominator 0)"
    )

    if start is not None and end is not None and first is not None:
        grain = trend_grain(start, end)
        lines += _trend_lines(trend_rows(con, scope, start, end, grain), grain, start, end)
    else:
        lines += [*_section("Trend"), f"{INDENT}no dispatches in this range"]
    if _has_table(con, "campaign_benchmarks"):
        lines += _benchmark_lines(benchmark_rows(con, scope, date_range), scope)

    for kind in ("dropped", "undelivered"):
        if _has_table(con, f"{kind}_reasons"):
            reasons = reason_rows(con, kind, scope, date_range)
            lines += _reasons_lines(kind, reasons, totals.counts[kind])
    # an older publication may lack one or both latency marts: show what it has
    has_survival = _has_table(con, "delivery_survival")
    has_latency = _has_table(con, "message_latency_daily")
    if has_survival or has_latency:
        lines += _latency_lines(
            latency_summary(con, scope, date_range, top) if has_latency else None,
            survival_rows(con, scope, date_range) if has_survival else None,
            multi,
        )

    if _has_table(con, "attribution_sensitivity"):
        lines += _attribution_lines(attribution_rows(con, scope, date_range), show_revenue)
    if _has_table(con, "campaign_costs"):
        lines += _cost_lines(cost_rows(con, scope, date_range))
    if _has_table(con, "api_comparison"):
        lines += _api_lines(api_comparison(con, scope, date_range, top), scope, top)
    if _has_table(con, "holdout_uplift"):
        lines += _holdout_lines(holdout_rows(con, scope, date_range), multi)

    if _has_table(con, "link_click_activity"):
        lines += _links_lines(link_rows(con, scope, date_range), multi, one_day, top)
    if _has_table(con, "response_summary"):
        delivered = {row.campaign_id: row.metrics.counts["delivered"] for row in campaigns}
        lines += _response_lines(response_rows(con, scope, date_range), delivered, multi, top)
    if _has_table(con, "message_lineage"):
        lines += _lineage_lines(lineage_summary(con, scope, date_range), start)
    return "\n".join(_fit(line, WIDTH) for line in lines) + "\n"
