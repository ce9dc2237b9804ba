"""`wa-warehouse report`'s trend and benchmarks sections, on small hand-built serving files.

The integration suite (tests/integration/test_report.py) checks the whole report
against a pipeline run's marts; these tests pin the exact numbers and layout on
rows small enough to work out by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.report import (
    COUNTS,
    MAX_TREND_PERIODS,
    WIDTH,
    DateRange,
    build_report,
    open_serving,
    resolve_scope,
    sparkline,
    trend_grain,
)

BASELINE_COLUMNS = [
    f"{baseline}_{column}"
    for baseline in ("history", "reference", "benchmark")
    for column in (
        "compared_delivered",
        "compared_opens",
        "compared_delivered_clicked",
        "expected_opens",
        "expected_clicked",
    )
]

CAMPAIGNS = [("acc_a", "cmp_1", "Autumn Sale"), ("acc_a", "cmp_2", "Cart Reminder"),
             ("acc_b", "cmp_3", "Fare Drop")]  # fmt: skip


def _daily(account: str, campaign: str, day: date, sent: int, delivered: int, opens: int,
           clicks: int) -> dict[str, Any]:  # fmt: skip
    row: dict[str, Any] = dict.fromkeys(COUNTS, 0)
    row.update(account_id=account, campaign_id=campaign, period_start=day, targeted=sent,
               sent=sent, delivered=delivered, opens=opens, clicks=clicks)  # fmt: skip
    return row


def _benchmark(account: str, campaign: str, day: date, **values: Any) -> dict[str, Any]:
    """A campaign_benchmarks row: zero counts and no sources unless given."""
    row: dict[str, Any] = dict.fromkeys(["delivered", "opens", "delivered_clicked"], 0)
    row.update(dict.fromkeys(BASELINE_COLUMNS, 0))
    row.update(account_id=account, campaign_id=campaign, cohort_date=day, reference_sources=None,
               benchmark_window_end=None)  # fmt: skip
    row.update(values)
    return row


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"insert into marts.{table} ({columns}) values ({marks})", list(row.values()))


def report_marts(con: duckdb.DuckDBPyConnection, daily: list[dict[str, Any]]) -> None:
    """The marts every report needs: CAMPAIGNS in campaign_performance and ``daily`` in
    campaign_performance_daily (counts not given are 0)."""
    con.execute("create schema marts")
    con.execute(
        "create table marts.campaign_performance (account_id varchar, campaign_id varchar, "
        "campaign_name varchar, campaign_type varchar, template_name varchar, "
        "template_category varchar)"
    )
    for account, campaign, name in CAMPAIGNS:
        con.execute(
            "insert into marts.campaign_performance values (?, ?, ?, 'one_time', 't', 'MARKETING')",
            [account, campaign, name],
        )
    counts = ", ".join(f"{name} bigint default 0" for name in COUNTS)
    con.execute(
        "create table marts.campaign_performance_daily (account_id varchar, "
        f"campaign_id varchar, period_start date, {counts}, revenue decimal(18, 4) default 0)"
    )
    insert_rows(con, "campaign_performance_daily", daily)


def _make_serving(
    path: Path, daily: list[dict[str, Any]], benchmarks: list[dict[str, Any]] | None
) -> Path:
    """A serving file with the marts the report needs; campaign_benchmarks only when given."""
    con = duckdb.connect(str(path))
    try:
        report_marts(con, daily)
        if benchmarks is not None:
            numbers = ", ".join(
                f"{c} {'double' if 'expected' in c else 'bigint'}" for c in BASELINE_COLUMNS
            )
            con.execute(
                "create table marts.campaign_benchmarks (account_id varchar, campaign_id varchar, "
                "cohort_date date, delivered bigint, opens bigint, delivered_clicked bigint, "
                f"{numbers}, reference_sources varchar, benchmark_window_end date)"
            )
            insert_rows(con, "campaign_benchmarks", benchmarks)
    finally:
        con.close()
    return path


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Any]:
    """Build a serving file and open it read-only, as the report does."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def make(
        daily: list[dict[str, Any]], benchmarks: list[dict[str, Any]] | None = None
    ) -> duckdb.DuckDBPyConnection:
        path = _make_serving(tmp_path / f"serving{len(opened)}.duckdb", daily, benchmarks)
        opened.append(open_serving(path))
        return opened[-1]

    yield make
    for con in opened:
        con.close()


def _section(text: str, title_start: str) -> list[str]:
    """The lines of one section, from its title to the next section's title."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title_start))
    end = next(
        (i for i in range(start + 2, len(lines) - 1) if lines[i + 1].startswith("---")),
        len(lines),
    )
    return lines[start:end]


def _assert_fits(text: str) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not too_wide, too_wide


# --------------------------------------------------------------------------- sparkline


def test_sparkline_scales_from_the_lowest_to_the_highest_value() -> None:
    assert sparkline(list(range(8))) == "▁▂▃▄▅▆▇█"
    assert sparkline([0, 2, 7]) == "▁▃█"
    assert sparkline([2, 7]) == "▁█"  # rates: the scale starts at the smallest value
    assert sparkline([2, 7], floor=0) == "▃█"  # counts: from 0, a small change stays small
    assert sparkline([None, 1, None, 3]) == " ▁ █"  # None (n/a) is a blank
    assert sparkline([5, 5, 5]) == "▁▁▁"  # flat
    assert sparkline([None, None]) == "  "
    assert sparkline([]) == ""


def test_trend_grain_thresholds() -> None:
    start = date(2026, 1, 1)
    assert trend_grain(start, start) == "day"
    assert trend_grain(start, start + timedelta(days=30)) == "day"  # 31 days
    assert trend_grain(start, start + timedelta(days=31)) == "week"  # 32 days
    assert trend_grain(start, start + timedelta(days=181)) == "week"  # 182 days
    assert trend_grain(start, start + timedelta(days=182)) == "month"


# --------------------------------------------------------------------------- trend


def test_daily_trend_has_a_row_per_day_with_rates_from_the_summed_counts(serving) -> None:
    d1, d2, d3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)
    con = serving([
        _daily("acc_a", "cmp_1", d1, 100, 80, 40, 8),
        _daily("acc_a", "cmp_2", d1, 100, 20, 20, 2),  # summed with cmp_1: 100 delivered
        _daily("acc_a", "cmp_1", d3, 50, 40, 10, 4),
        _daily("acc_b", "cmp_3", d2, 999, 999, 999, 999),  # another account
    ])  # fmt: skip
    text = build_report(con, resolve_scope(con, account="acc_a"), DateRange(d1, d3))

    section = _section(text, "Trend")
    assert section[0] == "Trend: daily, 2026-10-01 to 2026-10-03"
    # counts from 0: 50 / 200 * 7 = 1.75 -> ▃, 40 / 100 * 7 = 2.8 -> ▄; day 2 has no dispatch
    assert section[2:6] == [
        "  sent       █▁▃  0 to 200",
        "  delivered  █▁▄  0 to 100",
        "  read rate  █ ▁  25.0 % to 60.0 %",  # rates from the lowest; n/a is a blank
        "  CTR        ▁ ▁  10.0 % to 10.0 %",  # flat
    ]
    rows = [line for line in section if re.match(r"  \d{4}-\d\d-\d\d ", line)]
    assert rows == [
        "  2026-10-01   200        100     60.0 %  10.0 %",
        "  2026-10-02     0          0        n/a     n/a",
        "  2026-10-03    50         40     25.0 %  10.0 %",
    ]
    assert not any("first and last period" in line for line in section)
    _assert_fits(text)


def test_weekly_trend_sums_iso_weeks_and_says_edges_are_partial(serving) -> None:
    start, end = date(2026, 10, 1), date(2026, 11, 9)  # Thursday to Monday: 40 days
    daily = [_daily("acc_a", "cmp_1", start + timedelta(days=i), 10, 10, 5, 1) for i in range(40)]
    daily.append(_daily("acc_a", "cmp_1", end + timedelta(days=1), 99, 99, 99, 99))  # after --to
    con = serving(daily)
    text = build_report(con, resolve_scope(con, campaign="cmp_1"), DateRange(start, end))

    section = _section(text, "Trend")
    assert section[0] == "Trend: weekly (ISO weeks), 2026-10-01 to 2026-11-09"
    rows = [line.split() for line in section if re.match(r"  \d{4}-\d\d-\d\d ", line)]
    # Mondays; the first week holds Thu 1 to Sun 4 October, the last Monday 9 November only
    assert [(row[0], row[1]) for row in rows] == [
        ("2026-09-28", "40"), ("2026-10-05", "70"), ("2026-10-12", "70"), ("2026-10-19", "70"),
        ("2026-10-26", "70"), ("2026-11-02", "70"), ("2026-11-09", "10"),
    ]  # fmt: skip
    assert "week of" in " ".join(section)
    notes = " ".join(line.strip() for line in section)
    assert "the first and last period count only their dates in range" in notes
    _assert_fits(text)


def test_a_long_range_is_monthly_and_shows_the_latest_periods(serving) -> None:
    start, end = date(2020, 1, 15), date(2026, 12, 31)  # 84 months
    con = serving([_daily("acc_a", "cmp_1", start, 5, 5, 5, 5),
                   _daily("acc_a", "cmp_1", date(2026, 12, 1), 7, 7, 0, 0)])  # fmt: skip
    text = build_report(con, resolve_scope(con, campaign="cmp_1"), DateRange(start, end))

    section = _section(text, "Trend")
    assert section[0] == "Trend: monthly, 2020-01-15 to 2026-12-31"
    rows = [line for line in section if re.match(r"  \d{4}-\d\d ", line)]
    assert len(rows) == MAX_TREND_PERIODS
    assert rows[0].split()[0] == "2022-01" and rows[-1].split() == ["2026-12", "7", "7", "0.0",
                                                                      "%", "0.0", "%"]  # fmt: skip
    assert any(f"the latest {MAX_TREND_PERIODS} of 84 periods" in line for line in section)
    spark = re.fullmatch(r"  sent +(\S+)  0 to 7", section[2])
    assert spark and len(spark.group(1)) == MAX_TREND_PERIODS
    _assert_fits(text)


# --------------------------------------------------------------------------- benchmarks


def _benchmark_rows_of(section: list[str]) -> dict[str, list[str]]:
    """The benchmark table's rows by label, cells split on runs of two or more spaces."""
    rows = {}
    for line in section:
        cells = re.split(r" {2,}", line.strip())
        if cells[0] in ("campaign, all delivered", "all delivered", "account history, 30 days",
                        "reference seed", "cross-account p75"):  # fmt: skip
            rows[cells[0]] = cells[1:]
    return rows


def test_campaign_benchmarks_sum_the_range_and_recompute_every_rate(serving) -> None:
    d1, d2, d3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)
    daily = [_daily("acc_a", "cmp_1", d, 100, 100, 50, 10) for d in (d1, d2, d3)]
    benchmarks = [
        _benchmark("acc_a", "cmp_1", d1, delivered=100, opens=50, delivered_clicked=10,
                   history_compared_delivered=100, history_compared_opens=50,
                   history_compared_delivered_clicked=10, history_expected_opens=40.0,
                   history_expected_clicked=20.0,
                   reference_compared_delivered=80, reference_compared_opens=48,
                   reference_compared_delivered_clicked=8, reference_expected_opens=48.0,
                   reference_expected_clicked=4.0,
                   reference_sources="illustrative (2026-12-04)"),
        _benchmark("acc_a", "cmp_1", d2, delivered=100, opens=30, delivered_clicked=10,
                   reference_compared_delivered=20, reference_compared_opens=2,
                   reference_compared_delivered_clicked=2, reference_expected_opens=12.0,
                   reference_expected_clicked=1.0,
                   reference_sources="illustrative (2026-12-04)"),
        # outside --to: left out
        _benchmark("acc_a", "cmp_1", d3, delivered=100, opens=100, delivered_clicked=100,
                   benchmark_compared_delivered=100, benchmark_compared_opens=100,
                   benchmark_expected_opens=1.0, benchmark_window_end=date(2026, 12, 4)),
    ]  # fmt: skip
    con = serving(daily, benchmarks)
    text = build_report(con, resolve_scope(con, campaign="cmp_1"), DateRange(d1, d2))

    section = _section(text, "Benchmarks")
    header = section[2].split()
    assert header == ["against", "delivered", "read", "rate", "baseline", "diff", "click", "rate",
                      "baseline", "diff"]  # fmt: skip
    rows = _benchmark_rows_of(section)
    assert rows["campaign, all delivered"] == ["200", "40.0 %", "10.0 %"]
    # history: only day 1 has one; 50 / 100 opens against 40 expected, 10 clicked against 20
    assert rows["account history, 30 days"] == ["100", "50.0 %", "40.0 %", "+10.0 pp", "10.0 %",
                                                "20.0 %", "-10.0 pp"]  # fmt: skip
    # reference over both days: (48 + 2) / 100 against (48 + 12) / 100; (8 + 2) against (4 + 1)
    assert rows["reference seed"] == ["100", "50.0 %", "60.0 %", "-10.0 pp", "10.0 %", "5.0 %",
                                      "+5.0 pp"]  # fmt: skip
    assert rows["cross-account p75"] == ["0", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"]
    notes = " ".join(line.strip() for line in section)
    assert "reference seed: illustrative (2026-12-04): placeholder values, not published" in notes
    assert "at least 5 accounts contribute" in notes
    assert "30 days to" not in notes  # no cross-account benchmark in range
    _assert_fits(text)


def test_account_benchmarks_total_and_per_campaign(serving) -> None:
    day = date(2026, 10, 1)
    daily = [_daily("acc_a", c, day, 100, 100, 50, 10) for c in ("cmp_1", "cmp_2")]
    benchmarks = [
        _benchmark("acc_a", "cmp_1", day, delivered=100, opens=60, delivered_clicked=10,
                   benchmark_compared_delivered=100, benchmark_compared_opens=60,
                   benchmark_compared_delivered_clicked=10, benchmark_expected_opens=50.0,
                   benchmark_expected_clicked=10.0, benchmark_window_end=date(2026, 11, 1),
                   reference_sources="pub A (2026-01-01)"),
        _benchmark("acc_a", "cmp_2", day, delivered=100, opens=40, delivered_clicked=20,
                   reference_compared_delivered=100, reference_compared_opens=40,
                   reference_compared_delivered_clicked=20, reference_expected_opens=50.0,
                   reference_expected_clicked=10.0,
                   reference_sources="pub A (2026-01-01); pub B (2026-02-01)"),
    ]  # fmt: skip
    con = serving(daily, benchmarks)
    text = build_report(con, resolve_scope(con, account="acc_a"), DateRange())

    section = _section(text, "Benchmarks")
    rows = _benchmark_rows_of(section)
    assert rows["all delivered"] == ["200", "50.0 %", "15.0 %"]
    assert rows["account history, 30 days"] == ["0", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"]
    assert rows["reference seed"][:4] == ["100", "40.0 %", "50.0 %", "-10.0 pp"]
    assert rows["cross-account p75"][:4] == ["100", "60.0 %", "50.0 %", "+10.0 pp"]
    per_campaign = {line.split()[0]: line.split() for line in section
                    if line.startswith("  cmp_")}  # fmt: skip
    assert per_campaign["cmp_1"] == ["cmp_1", "100", "60.0", "%", "n/a", "n/a", "+10.0", "10.0",
                                     "%", "n/a", "n/a", "+0.0"]  # fmt: skip
    assert per_campaign["cmp_2"] == ["cmp_2", "100", "40.0", "%", "n/a", "-10.0", "n/a", "20.0",
                                     "%", "n/a", "+10.0", "n/a"]  # fmt: skip
    notes = " ".join(line.strip() for line in section)
    assert "reference seed: pub A (2026-01-01); pub B (2026-02-01)" in notes  # each source once
    assert "placeholder" not in notes
    assert "30 days to 2026-11-01" in notes
    _assert_fits(text)


def test_a_publication_without_campaign_benchmarks_has_no_benchmarks_section(serving) -> None:
    con = serving([_daily("acc_a", "cmp_1", date(2026, 10, 1), 1, 1, 1, 1)])
    text = build_report(con, resolve_scope(con), DateRange())
    assert "\nTrend: daily, 2026-10-01 to 2026-10-01\n" in text
    assert "Benchmarks" not in text


def test_no_dispatches_in_range(serving) -> None:
    con = serving([_daily("acc_a", "cmp_1", date(2026, 10, 1), 1, 1, 1, 1)], [])
    after = date(2026, 10, 2)
    text = build_report(con, resolve_scope(con, campaign="cmp_1"), DateRange(after, None))
    assert "\nTrend\n-----\n  no dispatches in this range\n" in text
    assert "\n  no messages in this range\n" in text
