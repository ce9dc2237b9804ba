"""The report's attribution sensitivity section on a hand-made publication: each model
and window summed over the range, beside the headline rule, revenue only for one account."""

from __future__ import annotations

from datetime import date

import duckdb

from orchestration.report import (
    DateRange,
    Scope,
    _attribution_lines,
    _change,
    attribution_rows,
)

ROWS = [
    # account, campaign, cohort date, model, window, headline, conversions, revenue
    ("acc_1", "cmp_a", date(2026, 10, 1), "last_click", "campaign", True, 8, "80.00"),
    ("acc_1", "cmp_a", date(2026, 10, 2), "last_click", "campaign", True, 2, "20.00"),
    ("acc_1", "cmp_a", date(2026, 10, 1), "any_click", "7d", False, 12, "120.00"),
    ("acc_1", "cmp_a", date(2026, 10, 1), "first_click", "1d", False, 9, "90.00"),
    ("acc_1", "cmp_a", date(2026, 10, 1), "delivered_view_24h", "24h", False, 0, "0.00"),
    ("acc_2", "cmp_b", date(2026, 10, 1), "last_click", "campaign", True, 100, "1.00"),
]


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.attribution_sensitivity (account_id varchar, campaign_id varchar, "
        "cohort_date date, attribution_model varchar, attribution_window varchar, "
        "is_headline boolean, conversions bigint, revenue decimal(18, 4))"
    )
    con.executemany("insert into marts.attribution_sensitivity values (?, ?, ?, ?, ?, ?, ?, ?)",
                    ROWS)  # fmt: skip
    return con


def test_rows_sum_each_model_and_window_in_display_order() -> None:
    rows = attribution_rows(_con(), Scope("campaign", "cmp_a", "acc_1"), DateRange())
    assert [(r.model, r.window, r.conversions) for r in rows] == [
        ("last_click", "campaign", 10),  # 8 + 2 over the two cohort dates
        ("first_click", "1d", 9),
        ("any_click", "7d", 12),
        ("delivered_view_24h", "24h", 0),
    ]
    assert rows[0].is_headline and not rows[1].is_headline


def test_a_date_range_cuts_the_cohort_dates() -> None:
    rows = attribution_rows(
        _con(), Scope("campaign", "cmp_a", "acc_1"), DateRange(date(2026, 10, 2), None)
    )
    assert [(r.model, r.conversions) for r in rows] == [("last_click", 2)]


def test_section_compares_each_rule_with_the_headline() -> None:
    rows = attribution_rows(_con(), Scope("account", "acc_1", "acc_1"), DateRange())
    text = "\n".join(_attribution_lines(rows, show_revenue=True))
    flat = " ".join(text.split())
    assert "last click campaign's own 10 headline 100.00" in flat
    assert "first click 1 day 9 -10.0 % 90.00" in flat
    assert "any click (multi-touch) 7 days 12 +20.0 % 120.00" in flat
    assert "delivered view, 24 h 24 h 0 -100.0 % 0.00" in flat
    hidden = " ".join(" ".join(_attribution_lines(rows, show_revenue=False)).split())
    assert "last click campaign's own 10 headline n/a" in hidden


def test_change_is_signed_and_undefined_without_a_base() -> None:
    assert _change(12, 10) == "+20.0 %"
    assert _change(9, 10) == "-10.0 %"
    assert _change(5, 0) == "n/a"
    assert _attribution_lines([], show_revenue=True)[-1].strip() == (
        "no attribution rows in this range"
    )
