"""`wa-warehouse report`'s latency and delivery-report section, on small hand-built serving files.

The integration suite (tests/integration/test_latency.py) checks the section against a
pipeline run's marts; these tests pin the numbers and layout on rows small enough to work
out by hand: the survival curve is summed over the range (exact), the percentiles are shown
per campaign and cohort date as published (never combined), and an older publication
without the latency marts still gets a report.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

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
    survival_rows,
)
from tests.unit.test_report import insert_rows, report_marts

TITLE = "Latency and delivery reports"
HORIZONS = [(1, "1 h"), (6, "6 h"), (24, "24 h"), (72, "72 h"), (168, "7 d"), (720, "30 d")]
EVENTS = ("delivered", "read", "first_click")
D1, D2, D3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)


def _latency(
    account: str, campaign: str, day: date, sent: int, p: dict[str, tuple], **before: int
) -> dict[str, Any]:
    """A message_latency_daily row; ``p`` maps an event to its (p50, p90, p99)."""
    row: dict[str, Any] = {"account_id": account, "campaign_id": campaign, "cohort_date": day,
                           "sent": sent, "delivered": sent, "opens": 0,
                           "clicked_messages": 0}  # fmt: skip
    for event in EVENTS:
        row[f"{event}_before_send"] = before.get(event, 0)
        for value, percentile in zip(p.get(event, (None,) * 3), (50, 90, 99), strict=True):
            row[f"seconds_to_{event}_p{percentile}"] = value
    return row


def _survival(
    account: str, campaign: str, day: date, sent: int, counts: list[tuple[int, int]]
) -> list[dict[str, Any]]:
    """The six delivery_survival rows of a cohort date: (at_risk, without_report) per horizon."""
    return [
        {"account_id": account, "campaign_id": campaign, "cohort_date": day, "horizon_hours": h,
         "horizon_label": label, "sent": sent, "at_risk": r, "without_report": w}
        for (h, label), (r, w) in zip(HORIZONS, counts, strict=True)
    ]  # fmt: skip


def _make_serving(
    path: Path,
    latency: list[dict[str, Any]] | None,
    survival: list[dict[str, Any]] | None,
) -> Path:
    """A serving file with the marts the report needs; each latency mart only when given."""
    con = duckdb.connect(str(path))
    try:
        days = {(r["account_id"], r["campaign_id"], r["cohort_date"]): r["sent"]
                for r in [*(latency or []), *(survival or [])]}  # fmt: skip
        report_marts(con, [
            {"account_id": a, "campaign_id": c, "period_start": d, "targeted": n, "sent": n}
            for (a, c, d), n in days.items()
        ])  # fmt: skip
        if latency is not None:
            percentiles = ", ".join(
                f"seconds_to_{event}_p{p} double" for event in EVENTS for p in (50, 90, 99)
            )
            before = ", ".join(f"{event}_before_send bigint" for event in EVENTS)
            con.execute(
                "create table marts.message_latency_daily (account_id varchar, "
                "campaign_id varchar, cohort_date date, sent bigint, delivered bigint, "
                f"opens bigint, clicked_messages bigint, {before}, {percentiles})"
            )
            insert_rows(con, "message_latency_daily", latency)
        if survival is not None:
            con.execute(
                "create table marts.delivery_survival (account_id varchar, campaign_id varchar, "
                "cohort_date date, horizon_hours integer, horizon_label varchar, sent bigint, "
                "at_risk bigint, without_report bigint)"
            )
            insert_rows(con, "delivery_survival", survival)
    finally:
        con.close()
    return path


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Any]:
    """Build a serving file and open it read-only, as the report does."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def make(
        latency: list[dict[str, Any]] | None = None,
        survival: list[dict[str, Any]] | None = None,
    ) -> duckdb.DuckDBPyConnection:
        path = _make_serving(tmp_path / f"serving{len(opened)}.duckdb", latency, survival)
        opened.append(open_serving(path))
        return opened[-1]

    yield make
    for con in opened:
        con.close()


def _section(text: str) -> list[str]:
    """The lines of the latency section, from its title to the next section's title."""
    lines = text.splitlines()
    start = lines.index(TITLE)
    end = next(
        (i for i in range(start + 2, len(lines) - 1) if lines[i + 1].startswith("---")),
        len(lines),
    )
    return lines[start:end]


def _assert_fits(text: str) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not too_wide, too_wide


# Two cohort dates of acc_a (two campaigns) and one of acc_b.
SURVIVAL = [
    *_survival("acc_a", "cmp_1", D1, 100,
               [(100, 40), (100, 20), (100, 10), (100, 5), (80, 4), (0, 0)]),
    *_survival("acc_a", "cmp_2", D2, 300,
               [(300, 60), (200, 20), (100, 10), (0, 0), (0, 0), (0, 0)]),
    *_survival("acc_b", "cmp_3", D1, 999,
               [(999, 999), (999, 999), (999, 999), (999, 999), (999, 999), (999, 999)]),
]  # fmt: skip
LATENCY = [
    _latency("acc_a", "cmp_1", D1, 100, {"delivered": (10.0, 90.0, 5400.0),
                                         "read": (600.0, 7200.0, 172800.0)}),
    _latency("acc_a", "cmp_1", D2, 40, {"delivered": (30.0, 50.0, 59.6)}, delivered=2, read=1),
    _latency("acc_a", "cmp_2", D2, 300, {"delivered": (4.25, 12.0, 200.0),
                                         "first_click": (0.0, 3599.0, 86399.0)}),
    _latency("acc_b", "cmp_3", D1, 999, {"delivered": (1.0, 1.0, 1.0)}),
]  # fmt: skip


# --------------------------------------------------------------------------- units


def test_durations_use_the_largest_unit_that_keeps_them_short() -> None:
    assert _duration(None) == "n/a"
    assert _duration(0.0) == "0.0s"
    assert _duration(4.25) == "4.2s"
    assert _duration(30.0) == "30s"
    assert _duration(90.0) == "1.5m"
    assert _duration(5400.0) == "1.5h"
    assert _duration(172800.0) == "2.0d"
    # a value that would round up to the next unit is shown in it
    assert _duration(9.96) == "10s"
    assert _duration(59.6) == "1.0m"
    assert _duration(3599.0) == "1.0h"
    assert _duration(86399.0) == "1.0d"


def test_the_survival_curve_sums_the_counts_of_the_range(serving) -> None:
    con = serving(LATENCY, SURVIVAL)
    rows = survival_rows(con, resolve_scope(con, account="acc_a"), DateRange(D1, D2))
    assert [(r.horizon_label, r.at_risk, r.without_report) for r in rows] == [
        ("1 h", 400, 100), ("6 h", 300, 40), ("24 h", 200, 20), ("72 h", 100, 5),
        ("7 d", 80, 4), ("30 d", 0, 0),
    ]  # fmt: skip
    # the share of the summed counts (100 / 400), not the mean of the days' (0.4 and 0.2)
    assert rows[0].share == 0.25
    assert rows[-1].share is None


def test_the_latency_rows_are_the_busiest_campaign_days_as_published(serving) -> None:
    con = serving(LATENCY, SURVIVAL)
    summary = latency_summary(con, resolve_scope(con, account="acc_a"), DateRange(D1, D2), top=2)
    assert [(r.campaign_id, r.cohort_date, r.sent) for r in summary.rows] == [
        ("cmp_2", D2, 300), ("cmp_1", D1, 100),
    ]  # fmt: skip
    assert summary.rows[0].percentiles["first_click"] == (0.0, 3599.0, 86399.0)
    assert summary.rows[0].percentiles["read"] == (None, None, None)
    assert summary.campaign_days == 3
    # the clock-skew counts are summed over the whole range, shown rows or not
    assert summary.before_send == {"delivered": 2, "read": 1, "first_click": 0}


# --------------------------------------------------------------------------- section


def test_account_report_shows_the_summed_curve_and_per_day_percentiles(serving) -> None:
    con = serving(LATENCY, SURVIVAL)
    text = build_report(con, resolve_scope(con, account="acc_a"), DateRange(D1, D2), top=2)

    section = _section(text)
    assert section[:10] == [
        TITLE,
        "-" * len(TITLE),
        "  Still without a delivery report after (summed over the range):",
        "  after  judged  without report   share  0 to 100 %",
        "  1 h       400             100  25.0 %  █████",
        "  6 h       300              40  13.3 %  ███",
        "  24 h      200              20  10.0 %  ██",
        "  72 h      100               5   5.0 %  █",
        "  7 d        80               4   5.0 %  █",
        "  30 d        0               0     n/a",
    ]
    lead = "  Time from send, p50 / p90 / p99, per campaign and cohort date"
    assert f"{lead} (2 of 3 with the most sent):" in section
    table = section[section.index(f"{lead} (2 of 3 with the most sent):") + 1 :]
    assert table[:3] == [
        "  campaign  date        sent       to delivered              to read      to first click",
        "  cmp_2     2026-10-02   300  4.2s / 12s / 3.3m      n/a / n/a / n/a  0.0s / 1.0h / 1.0d",
        "  cmp_1     2026-10-01   100  10s / 1.5m / 1.5h  10.0m / 2.0h / 2.0d     n/a / n/a / n/a",
    ]
    body = " ".join(section)
    assert "… 1 more campaign-day (--top N shows more)" in body
    assert "none is combined" in body
    assert "2 delivered, 1 read" in body  # clock skew, summed over the range
    assert "cmp_3" not in body  # another account
    _assert_fits(text)


def test_campaign_report_over_one_day_has_no_campaign_column(serving) -> None:
    con = serving(LATENCY, SURVIVAL)
    text = build_report(con, resolve_scope(con, campaign="cmp_1"), DateRange(D2, D2))
    section = _section(text)
    assert "  1 h         0               0     n/a" not in section  # nothing old enough
    assert "  no sent message in this range is old enough to judge" in section
    header = next(line for line in section if line.startswith("  date"))
    assert header.split() == ["date", "sent", "to", "delivered", "to", "read", "to", "first",
                              "click"]  # fmt: skip
    row = section[section.index(header) + 1]
    assert row.split() == ["2026-10-02", "40", "30s", "/", "50s", "/", "1.0m", "n/a", "/", "n/a",
                           "/", "n/a", "n/a", "/", "n/a", "/", "n/a"]  # fmt: skip
    assert "(1 of 1 with the most sent)" in " ".join(section)
    assert not any("more campaign-days" in line for line in section)
    _assert_fits(text)


def test_a_range_without_sent_messages_says_so(serving) -> None:
    con = serving(LATENCY, SURVIVAL)
    text = build_report(con, resolve_scope(con, campaign="cmp_2"), DateRange(D3, D3))
    section = _section(text)
    assert "  no sent message in this range is old enough to judge" in section
    assert section[-1] == "  no sent messages in this range"


@pytest.mark.parametrize(
    ("latency", "survival"),
    [(None, None), (LATENCY, None), (None, SURVIVAL)],
    ids=["neither", "latency-only", "survival-only"],
)
def test_an_older_publication_without_the_latency_marts_still_reports(
    serving, latency, survival
) -> None:
    con = serving(latency, survival)
    text = build_report(con, resolve_scope(con, account="acc_a"), DateRange(D1, D2))
    assert "Totals" in text
    if latency is None and survival is None:
        assert TITLE not in text
        return
    section = " ".join(_section(text))
    assert ("Still without a delivery report" in section) == (survival is not None)
    assert ("Time from send" in section) == (latency is not None)
    _assert_fits(text)
