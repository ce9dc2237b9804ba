"""`wa-warehouse report`'s holdout uplift section, on small hand-built serving files.

holdout_uplift's counts are summed over the range per campaign, and the rates, the
uplift and both 95 % intervals are computed from the sums: cmp_1's two cohort dates sum
to Newcombe (1998)'s worked example, 56/70 treated vs 48/80 holdout converters (uplift
+20.0 pp, hybrid score interval 0.0524 to 0.3339), and revenue per recipient 2.00 vs
1.00 (normal approximation: 1.00 ± 1.96·√(1120/69/70 + 720/79/80) = -0.15 to +2.15).
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
    build_report,
    holdout_rows,
    open_serving,
    resolve_scope,
)
from tests.unit.test_report import insert_rows, report_marts

TITLE = "Holdout uplift: treated vs holdout (control group)"
D1, D2, D3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)


def _uplift(campaign: str, day: date, treated: tuple, holdout: tuple, account: str = "acc_a",
            currency: str = "TRY") -> dict[str, Any]:  # fmt: skip
    """A holdout_uplift row; each group is (recipients, converters, revenue, sum of squares)."""
    row: dict[str, Any] = {"account_id": account, "campaign_id": campaign, "cohort_date": day,
                           "currency": currency}  # fmt: skip
    for group, values in (("treated", treated), ("holdout", holdout)):
        for column, value in zip(
            ("recipients", "converters", "revenue", "revenue_sum_squares"), values, strict=True
        ):
            row[f"{group}_{column}"] = value
    return row


UPLIFT = [
    _uplift("cmp_1", D1, (30, 20, 60, 600.0), (30, 18, 30, 300.0)),
    _uplift("cmp_1", D2, (40, 36, 80, 800.0), (50, 30, 50, 500.0)),
    _uplift("cmp_2", D3, (10, 1, 0, 0.0), (0, 0, 0, 0.0)),  # no holdout: not shown
    _uplift("cmp_3", D1, (5, 0, 0, 0.0), (5, 0, 0, 0.0), account="acc_b", currency="USD"),
]


def _make_serving(path: Path, uplift: list[dict[str, Any]] | None) -> Path:
    con = duckdb.connect(str(path))
    try:
        report_marts(con, [
            {"account_id": r["account_id"], "campaign_id": r["campaign_id"],
             "period_start": r["cohort_date"], "targeted": r["treated_recipients"],
             "sent": r["treated_recipients"]}
            for r in UPLIFT
        ])  # fmt: skip
        if uplift is not None:
            con.execute(
                "create table marts.holdout_uplift (account_id varchar, campaign_id varchar, "
                "cohort_date date, treated_recipients bigint, treated_converters bigint, "
                "treated_revenue decimal(18, 4), treated_revenue_sum_squares decimal(38, 8), "
                "holdout_recipients bigint, holdout_converters bigint, "
                "holdout_revenue decimal(18, 4), holdout_revenue_sum_squares decimal(38, 8), "
                "currency varchar)"
            )
            insert_rows(con, "holdout_uplift", uplift)
    finally:
        con.close()
    return path


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Any]:
    opened: list[duckdb.DuckDBPyConnection] = []

    def make(uplift: list[dict[str, Any]] | None = UPLIFT) -> duckdb.DuckDBPyConnection:
        opened.append(open_serving(_make_serving(tmp_path / f"s{len(opened)}.duckdb", uplift)))
        return opened[-1]

    yield make
    for con in opened:
        con.close()


def _section(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(TITLE)
    end = next(
        (i for i in range(start + 2, len(lines) - 1) if lines[i + 1].startswith("---")),
        len(lines),
    )
    return lines[start:end]


def _row(lines: list[str], first_cell: str) -> list[str]:
    """The cells of the table rows starting with ``first_cell`` (split on 2+ spaces)."""
    return [
        [cell for cell in line.strip().split("  ") if cell.strip()]
        for line in lines
        if line.strip().startswith(first_cell)
    ]


def test_rows_sum_the_range_and_the_interval_is_newcombes(serving) -> None:
    con = serving()
    rows = holdout_rows(con, resolve_scope(con, account="acc_a"), DateRange())
    assert [r.campaign_id for r in rows] == ["cmp_1"]  # cmp_2 withheld nobody
    (row,) = rows
    assert (row.treated_recipients, row.treated_converters) == (70, 56)
    assert (row.holdout_recipients, row.holdout_converters) == (80, 48)
    assert (row.treated_rate, row.holdout_rate) == (0.8, 0.6)
    uplift = row.conversion_uplift
    assert uplift.estimate == 0.2
    assert (round(uplift.low, 4), round(uplift.high, 4)) == (0.0524, 0.3339)  # Newcombe 1998
    revenue = row.revenue_uplift
    assert (row.treated_revenue_per_recipient, row.holdout_revenue_per_recipient) == (2.0, 1.0)
    assert revenue.estimate == 1.0
    assert (round(revenue.low, 4), round(revenue.high, 4)) == (-0.1526, 2.1526)


def test_the_account_section_shows_rates_uplift_intervals_and_revenue(serving) -> None:
    con = serving()
    text = build_report(con, resolve_scope(con, account="acc_a"), DateRange())
    section = _section(text)
    assert all(len(line) <= WIDTH for line in text.splitlines())
    (conversion, revenue) = _row(section, "cmp_1")
    assert [c.strip() for c in conversion] == [
        "cmp_1", "70", "80.0 %", "80", "60.0 %", "+20.0 pp *", "+5.2 to +33.4 pp",
    ]  # fmt: skip
    assert [c.strip() for c in revenue] == [
        "cmp_1", "2.00", "1.00", "+1.00", "-0.15 to +2.15", "TRY",
    ]  # fmt: skip
    assert not _row(section, "cmp_2") and not _row(section, "cmp_3")
    note = " ".join(" ".join(section).split())  # the notes wrap
    assert "intention to treat" in note and "Newcombe's hybrid score interval" in note
    assert "clicked or not" in note and "normal approximation" in note


def test_a_shorter_range_recomputes_from_its_own_counts(serving) -> None:
    con = serving()
    text = build_report(con, resolve_scope(con, campaign="cmp_1"), DateRange(D1, D1))
    section = _section(text)
    # one campaign: no campaign column; 20/30 vs 18/30, intervals from those counts
    (conversion,) = _row(section, "30")
    assert [c.strip() for c in conversion] == [
        "30", "66.7 %", "30", "60.0 %", "+6.7 pp", "-16.9 to +29.3 pp",
    ]  # fmt: skip
    (revenue,) = _row(section, "2.00")
    assert [c.strip() for c in revenue] == ["2.00", "1.00", "+1.00", "-0.82 to +2.82", "TRY"]


def test_a_group_without_recipients_or_a_range_without_holdout(serving) -> None:
    con = serving()
    section = _section(build_report(con, resolve_scope(con, account="acc_b"), DateRange()))
    (conversion, revenue) = _row(section, "cmp_3")
    assert [c.strip() for c in conversion][1:] == [
        "5", "0.0 %", "5", "0.0 %", "+0.0 pp", "-43.4 to +43.4 pp",
    ]  # fmt: skip
    assert [c.strip() for c in revenue][1:] == ["0.00", "0.00", "+0.00", "+0.00 to +0.00", "USD"]
    section = _section(build_report(con, resolve_scope(con, campaign="cmp_2"), DateRange()))
    assert "  no campaign with a holdout in this range" in section


def test_a_publication_without_the_mart_has_no_section(serving) -> None:
    con = serving(None)
    assert TITLE not in build_report(con, resolve_scope(con), DateRange())
