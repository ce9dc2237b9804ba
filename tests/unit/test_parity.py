"""The row-for-row comparison the parity test and the bench rely on finds every
kind of difference, and only differences."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.parity import compare_marts

MART = """
    create schema marts;
    create table marts.daily as select * from (values
        ('a', date '2026-11-01', 10::bigint, 0.1::double, 1.50::decimal(18, 4), null::varchar),
        ('b', date '2026-11-01', 20::bigint, 0.2::double, 2.25::decimal(18, 4), 'x')
    ) as t(campaign_id, cohort_date, sent, read_rate, revenue, note);
"""


@pytest.fixture
def builds():
    expected, actual = duckdb.connect(), duckdb.connect()
    for con in (expected, actual):
        con.execute(MART)
    yield expected, actual
    expected.close()
    actual.close()


def test_the_same_rows_in_another_order_are_equal(builds):
    expected, actual = builds
    actual.execute(
        "create or replace table marts.daily as select * from marts.daily order by 1 desc"
    )
    assert compare_marts(expected, actual) == []


def test_doubles_within_the_tolerance_are_equal_and_beyond_it_differ(builds):
    expected, actual = builds
    actual.execute("update marts.daily set read_rate = read_rate + 1e-12 where campaign_id = 'a'")
    assert compare_marts(expected, actual) == []
    actual.execute("update marts.daily set read_rate = read_rate + 1e-6 where campaign_id = 'a'")
    (problem,) = compare_marts(expected, actual)
    assert problem.startswith("daily.read_rate row 0 of 2")


@pytest.mark.parametrize(
    ("change", "expected_problem"),
    [
        ("update marts.daily set sent = 11 where campaign_id = 'a'", "daily.sent row 0 of 2"),
        ("update marts.daily set revenue = 1.5001 where campaign_id = 'a'", "daily.revenue"),
        ("update marts.daily set note = 'y' where campaign_id = 'a'", "daily.note"),
        ("delete from marts.daily where campaign_id = 'a'", "daily: 1 rows instead of 2"),
        ("alter table marts.daily drop column note", "daily: columns"),
        ("create table marts.extra as select 1 as x", "mart extra not expected"),
        ("drop table marts.daily", "mart daily missing"),
    ],
)
def test_every_kind_of_difference_is_reported(builds, change, expected_problem):
    expected, actual = builds
    actual.execute(change)
    problems = compare_marts(expected, actual)
    assert len(problems) == 1
    assert problems[0].startswith(expected_problem)


def test_a_type_difference_is_reported(builds):
    expected, actual = builds
    actual.execute("alter table marts.daily alter sent type double")
    assert compare_marts(expected, actual) == ["daily.sent: type DOUBLE instead of BIGINT"]
