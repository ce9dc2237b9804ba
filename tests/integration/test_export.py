"""`wa-warehouse export reason-recipients` on the shared pipeline run, checked against
the warehouse's messages (int_messages) and the reason marts."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from orchestration.export import export_reason_recipients
from orchestration.report import open_serving
from tests.conftest import PipelineRun

REASON_OF_KIND = {"dropped": "dropped_reason", "undelivered": "undelivered_reason"}


def _busiest_reason(run: PipelineRun) -> tuple[str, str, str, date, date]:
    """The (campaign, kind, reason) that hit the most users, and an inner range of its
    cohort dates (a few days cut off each end, so the range filters something)."""
    campaign, kind, reason, first, last = run.query(
        """
        select
            campaign_id,
            case when is_dropped then 'dropped' else 'undelivered' end as kind,
            coalesce(dropped_reason, undelivered_reason) as reason,
            min(cohort_date),
            max(cohort_date)
        from intermediate.int_messages
        where is_dropped or is_undelivered
        group by all
        order by count(distinct user_id) desc, 1, 2, 3
        limit 1
        """
    )[0]
    cut = timedelta(days=(last - first).days // 4)
    return campaign, kind, reason, first + cut, last - cut


def _expected_users(
    run: PipelineRun, campaign: str, kind: str | None, reason: str | None, start: date, end: date
) -> dict[tuple[str, str, str], int]:
    """Messages per (user, kind, reason) straight from the warehouse's messages."""
    rows = run.query(
        """
        select
            user_id,
            case when is_dropped then 'dropped' else 'undelivered' end as kind,
            coalesce(dropped_reason, undelivered_reason) as reason,
            count(*)
        from intermediate.int_messages
        where (is_dropped or is_undelivered)
            and campaign_id = $1 and cohort_date between $2 and $3
        group by all
        """,
        [campaign, start, end],
    )
    return {
        (user, k, r): n
        for user, k, r, n in rows
        if (kind is None or k == kind) and (reason is None or r == reason)
    }


def test_export_matches_the_messages_of_the_warehouse(
    pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    campaign, kind, reason, start, end = _busiest_reason(pipeline_run)
    csv_out, parquet_out, all_out = (
        tmp_path / "users.csv",
        tmp_path / "users.parquet",
        tmp_path / "all.parquet",
    )
    expected = _expected_users(pipeline_run, campaign, kind, reason, start, end)
    (direct_users,) = pipeline_run.query(
        f"""
        select count(distinct user_id) from intermediate.int_messages
        where is_{kind} and {REASON_OF_KIND[kind]} = $1
            and campaign_id = $2 and cohort_date between $3 and $4
        """,
        [reason, campaign, start, end],
    )[0]
    everything = _expected_users(pipeline_run, campaign, None, None, start, end)
    assert direct_users > 1

    con = open_serving(pipeline_run.serving)
    try:
        users = export_reason_recipients(con, campaign, reason, kind, start, end, csv_out)
        assert export_reason_recipients(con, campaign, reason, kind, start, end, parquet_out) == (
            users
        )
        all_users = export_reason_recipients(con, campaign, "all", None, start, end, all_out)
    finally:
        con.close()

    assert users == direct_users == len(expected)
    with csv_out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["user_id"], r["kind"], r["reason"]): int(r["messages"]) for r in rows} == expected
    assert all(start.isoformat() <= r["first_cohort_date"] <= r["last_cohort_date"] for r in rows)
    assert all(r["last_cohort_date"] <= end.isoformat() for r in rows)

    reader = duckdb.connect()
    parquet_rows = reader.execute(
        f"select user_id, kind, reason, messages from read_parquet('{parquet_out}')"
    ).fetchall()
    assert {(u, k, r): n for u, k, r, n in parquet_rows} == expected
    all_rows = reader.execute(
        f"select user_id, kind, reason, messages from read_parquet('{all_out}')"
    ).fetchall()
    assert {(u, k, r): n for u, k, r, n in all_rows} == everything
    assert all_users == len({user for user, _, _ in everything})


@pytest.mark.parametrize("grain", ["cohort date", "campaign"])
def test_recipient_messages_sum_to_the_reason_marts(pipeline_run: PipelineRun, grain: str) -> None:
    """reason_recipients.messages, summed per (campaign, kind, reason) and per cohort date
    too, equals dropped_reasons / undelivered_reasons in the publication."""
    keys = "account_id, campaign_id, kind, reason"
    if grain == "cohort date":
        keys += ", cohort_date"
    con = duckdb.connect(str(pipeline_run.serving), read_only=True)
    try:
        recipients = con.execute(
            f"select {keys}, sum(messages) from marts.reason_recipients group by all"
        ).fetchall()
        reasons = con.execute(
            f"""
            select {keys}, sum(messages) from (
                select *, 'dropped' as kind from marts.dropped_reasons
                union all by name
                select *, 'undelivered' as kind from marts.undelivered_reasons
            )
            group by all
            """
        ).fetchall()
    finally:
        con.close()
    assert len(recipients) > 10
    assert {row[:-1]: row[-1] for row in recipients} == {row[:-1]: row[-1] for row in reasons}
