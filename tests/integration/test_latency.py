"""message_latency_daily and delivery_survival against an independent computation.

The shared pipeline run's raw tables (what the loaders wrote, read-only) are
deduplicated and joined here in Python, and the latencies, their percentiles
(linear interpolation, as ``quantile_cont``) and the survival counts are
computed from scratch: every row of both marts must match. The report's
latency section is checked against the same numbers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest

from orchestration.report import (
    WIDTH,
    DateRange,
    _duration,
    build_report,
    latency_summary,
    open_serving,
    resolve_scope,
)
from tests.conftest import PipelineRun

HORIZONS = {1: "1 h", 6: "6 h", 24: "24 h", 72: "72 h", 168: "7 d", 720: "30 d"}
EVENTS = ("delivered", "read", "first_click")
PERCENTILES = (0.5, 0.9, 0.99)
Key = tuple[str, str, date]


def _latest(table: str, key: str, order: str) -> str:
    """The newest copy of each key of a raw table (the staging models' rule)."""
    return (
        f"select * from raw.{table} "
        f"qualify row_number() over (partition by {key} order by {order}) = 1"
    )


def _quantile(values: list[float], q: float) -> float | None:
    """Continuous percentile with linear interpolation (numpy's default method)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Cohort:
    """One (account, campaign, cohort date), computed from the raw tables."""

    sent: int = 0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    at_risk: dict[int, int] = field(default_factory=lambda: dict.fromkeys(HORIZONS, 0))
    without_report: dict[int, int] = field(default_factory=lambda: dict.fromkeys(HORIZONS, 0))


@pytest.fixture(scope="module")
def expected(pipeline_run: PipelineRun) -> dict[Key, Cohort]:
    """Every cohort of sent messages, from the raw tables and the run's as-of time."""
    as_of = datetime.fromisoformat(pipeline_run.truth["as_of"]).astimezone(UTC)
    as_of = as_of.replace(tzinfo=None)  # the warehouse's timestamps are naive UTC
    timezones = dict(
        pipeline_run.query(
            "select account_id, timezone from ("
            + _latest("accounts", "account_id", "_loaded_at desc, _row_number desc")
            + ")"
        )
    )
    dispatches = pipeline_run.query(
        "select account_id, campaign_id, attempted_at, wamid from ("
        + _latest("dispatches", "dispatch_id", "_file_day desc, _row_number desc")
        + ") where upper(result) = 'SENT' and attempted_at <= ?",
        [as_of],
    )
    first: dict[tuple[str, str], datetime] = {}  # (wamid, kind) -> earliest time by as_of
    for wamid, status, status_at in pipeline_run.query(
        "select wamid, lower(status), status_at from raw.webhook_statuses where status_at <= ?",
        [as_of],
    ):
        kinds = {"delivered": ["delivered"], "played": ["delivered"], "failed": ["failed"],
                 "read": ["delivered", "read"]}.get(status, [])  # fmt: skip
        for kind in kinds:
            if (wamid, kind) not in first or status_at < first[wamid, kind]:
                first[wamid, kind] = status_at
    for wamid, clicked_at in pipeline_run.query(
        "select wamid, clicked_at from ("
        + _latest("clicks", "click_id", "_file_day desc, _row_number desc")
        + ") where clicked_at <= ?",
        [as_of],
    ):
        if (wamid, "first_click") not in first or clicked_at < first[wamid, "first_click"]:
            first[wamid, "first_click"] = clicked_at

    cohorts: dict[Key, Cohort] = defaultdict(Cohort)
    for account, campaign, attempted_at, wamid in dispatches:
        zone = ZoneInfo(timezones.get(account) or "UTC")
        day = attempted_at.replace(tzinfo=UTC).astimezone(zone).date()
        cohort = cohorts[account, campaign, day]
        cohort.sent += 1
        for event in EVENTS:
            at = first.get((wamid, event))
            if at is not None:
                cohort.latencies[event].append((at - attempted_at).total_seconds())
        reports = [t for kind in ("delivered", "failed") if (t := first.get((wamid, kind)))]
        report_at = min(reports, default=None)
        for hours in HORIZONS:
            end = attempted_at + timedelta(hours=hours)
            if end <= as_of:
                cohort.at_risk[hours] += 1
                if report_at is None or report_at > end:
                    cohort.without_report[hours] += 1
    return dict(cohorts)


@pytest.fixture
def con(pipeline_run: PipelineRun) -> Iterator[duckdb.DuckDBPyConnection]:
    """The run's published marts, opened read-only as the report does."""
    connection = open_serving(pipeline_run.serving)
    yield connection
    connection.close()


def _close(actual: float | None, wanted: float | None) -> bool:
    if actual is None or wanted is None:
        return actual is wanted
    return math.isclose(actual, wanted, rel_tol=1e-9, abs_tol=1e-6)


def test_latency_rows_match_the_raw_extracts(pipeline_run: PipelineRun, expected) -> None:
    percentile_columns = [f"seconds_to_{e}_p{int(q * 100)}" for e in EVENTS for q in PERCENTILES]
    rows = pipeline_run.query(
        "select account_id, campaign_id, cohort_date, sent, delivered, opens, clicked_messages, "
        f"delivered_before_send, read_before_send, first_click_before_send, "
        f"{', '.join(percentile_columns)} from marts.message_latency_daily"
    )
    assert {(a, c, d) for a, c, d, *_ in rows} == set(expected)
    checked = defaultdict(int)
    for account, campaign, day, sent, *values in rows:
        cohort = expected[account, campaign, day]
        counts, before, percentiles = values[:3], values[3:6], values[6:]
        assert sent == cohort.sent
        for i, event in enumerate(EVENTS):
            latencies = cohort.latencies[event]
            assert counts[i] == len(latencies), (account, campaign, day, event)
            assert before[i] == sum(1 for s in latencies if s < 0), (account, campaign, day, event)
            clamped = [max(s, 0.0) for s in latencies]
            for j, q in enumerate(PERCENTILES):
                actual = percentiles[i * len(PERCENTILES) + j]
                assert _close(actual, _quantile(clamped, q)), (account, campaign, day, event, q)
            checked[event] += bool(latencies)
    # every event has percentiles on many cohorts (the check is not vacuous)
    assert min(checked.values()) >= 20, checked


def test_survival_rows_match_the_raw_extracts(pipeline_run: PipelineRun, expected) -> None:
    rows = pipeline_run.query(
        "select account_id, campaign_id, cohort_date, horizon_hours, horizon_label, sent, "
        "at_risk, without_report from marts.delivery_survival"
    )
    assert len(rows) == len(expected) * len(HORIZONS)
    for account, campaign, day, hours, label, sent, at_risk, without_report in rows:
        cohort = expected[account, campaign, day]
        assert label == HORIZONS[hours]
        assert (sent, at_risk, without_report) == (
            cohort.sent,
            cohort.at_risk[hours],
            cohort.without_report[hours],
        ), (account, campaign, day, hours)
    # the data exercises censoring and reports at every horizon
    totals = {h: sum(c.at_risk[h] for c in expected.values()) for h in HORIZONS}
    sent = sum(c.sent for c in expected.values())
    assert totals[1] <= sent and totals[720] < totals[168] < sent, totals
    assert sum(c.without_report[720] for c in expected.values()) > 0


def _busiest_campaign(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    return con.execute(
        "select account_id, campaign_id from marts.campaign_performance "
        "order by sent desc, campaign_id limit 1"
    ).fetchone()


def _section(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("Latency and delivery reports")
    end = next(
        (i for i in range(start + 2, len(lines) - 1) if lines[i + 1].startswith("---")),
        len(lines),
    )
    return lines[start:end]


def test_report_section_sums_the_curve_and_shows_the_busiest_days(
    con: duckdb.DuckDBPyConnection, expected: dict[Key, Cohort]
) -> None:
    account, campaign = _busiest_campaign(con)
    days = sorted(d for a, c, d in expected if (a, c) == (account, campaign))
    start, end = days[1], days[-2]  # a range inside the campaign's dates
    scope = resolve_scope(con, campaign=campaign)
    text = build_report(con, scope, DateRange(start, end), top=3)
    section = _section(text)

    # the curve: the independent counts summed over the range, share recomputed from them
    in_range = [
        cohort
        for (a, c, d), cohort in expected.items()
        if (a, c) == (account, campaign) and start <= d <= end
    ]
    for hours, label in HORIZONS.items():
        at_risk = sum(c.at_risk[hours] for c in in_range)
        without = sum(c.without_report[hours] for c in in_range)
        line = next(row for row in section if row.split()[:2] == label.split())
        cells = line.split()[2:]
        assert cells[:2] == [f"{at_risk:,}", f"{without:,}"], line
        share = "n/a" if not at_risk else f"{without / at_risk * 100:.1f}"
        assert cells[2] == share, line

    # the latency table: the campaign's busiest days in range, percentiles as computed
    busiest = sorted(
        ((d, c) for (a, k, d), c in expected.items()
         if (a, k) == (account, campaign) and start <= d <= end),
        key=lambda item: (-item[1].sent, -item[0].toordinal()),
    )[:3]  # fmt: skip
    lead = next(i for i, row in enumerate(section) if row.startswith("  Time from send"))
    assert f"({len(busiest)} of {len(in_range)} with the most sent)" in section[lead]
    table = section[lead + 2 : lead + 2 + len(busiest)]
    for row, (day, cohort) in zip(table, busiest, strict=True):
        cells = [day.isoformat(), f"{cohort.sent:,}"]
        for event in EVENTS:
            clamped = [max(s, 0.0) for s in cohort.latencies[event]]
            cells.append(" / ".join(_duration(_quantile(clamped, q)) for q in PERCENTILES))
        assert row.split() == " ".join(cells).split(), row
    assert not [line for line in text.splitlines() if len(line) > WIDTH]


def test_latency_summary_of_all_campaigns_counts_every_campaign_day(
    con: duckdb.DuckDBPyConnection, expected: dict[Key, Cohort]
) -> None:
    summary = latency_summary(con, resolve_scope(con), DateRange(), top=5)
    assert summary.campaign_days == len(expected)
    most_sent = max(cohort.sent for cohort in expected.values())
    assert summary.rows[0].sent == most_sent
    assert [row.sent for row in summary.rows] == sorted(
        (r.sent for r in summary.rows), reverse=True
    )
    negative: dict[str, Any] = {
        event: sum(1 for c in expected.values() for s in c.latencies[event] if s < 0)
        for event in EVENTS
    }
    assert summary.before_send == negative


def test_latency_rows_equal_the_ground_truth(pipeline_run: PipelineRun) -> None:
    """Every row of message_latency_daily against the generator's ground truth (computed
    from the simulation's own event times): counts exact, percentiles to 1e-6 s."""
    names = ("delivered", "opens", "clicked_messages")
    percentile_columns = [f"seconds_to_{e}_p{int(q * 100)}" for e in EVENTS for q in PERCENTILES]
    rows = pipeline_run.query(
        f"select account_id, campaign_id, cohort_date, sent, {', '.join(names)}, "
        "delivered_before_send, read_before_send, first_click_before_send, "
        f"{', '.join(percentile_columns)} from marts.message_latency_daily"
    )
    truth = {
        (r["account_id"], r["campaign_id"], r["cohort_date"]): r
        for r in pipeline_run.truth["message_latency_daily"]
    }
    assert {(a, c, d.isoformat()) for a, c, d, *_ in rows} == set(truth)
    for account, campaign, day, sent, *values in rows:
        want = truth[account, campaign, day.isoformat()]
        counts = [want["sent"]] + [want[f"{e}_count"] for e in EVENTS]
        counts += [want[f"{e}_before_send"] for e in EVENTS]
        assert [sent, *values[:6]] == counts, (account, campaign, day)
        for column, actual in zip(percentile_columns, values[6:], strict=True):
            assert _close(actual, want[column]), (account, campaign, day, column)


def test_survival_rows_equal_the_ground_truth(pipeline_run: PipelineRun) -> None:
    rows = pipeline_run.query(
        "select account_id, campaign_id, cohort_date, horizon_hours, sent, at_risk, "
        "without_report from marts.delivery_survival"
    )
    actual = {(a, c, d.isoformat(), h): tuple(v) for a, c, d, h, *v in rows}
    expected = {
        (r["account_id"], r["campaign_id"], r["cohort_date"], r["horizon_hours"]): (
            r["sent"],
            r["at_risk"],
            r["without_report"],
        )
        for r in pipeline_run.truth["delivery_survival"]
    }
    assert actual == expected
