"""marts.message_lineage and `wa-warehouse trace` on the shared pipeline run: the
published lineage against the warehouse's staging statuses and int_messages (the
warehouse read-only)."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pytest

from tests.conftest import PipelineRun, run_cli

LINEAGE_DAYS = 45  # WA_LINEAGE_DAYS's default: the shared run does not set it


def _published(run: PipelineRun, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(run.serving), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _as_of(run: PipelineRun) -> datetime:
    """The publication's as-of time, as the naive UTC timestamp the marts use."""
    (value,) = _published(
        run, "select as_of from marts._publication order by published_at desc limit 1"
    )[0]
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=None) if value.tzinfo else value


@pytest.fixture(scope="module")
def sample(pipeline_run: PipelineRun) -> dict[str, str]:
    """A few dispatches of the lineage: the one with the most statuses, a failed one,
    a delivered one with a click, a dropped one, one without any report."""
    picks = {
        "most_statuses": """
            select dispatch_id from marts.message_lineage where event_kind = 'status'
            group by dispatch_id order by count(*) desc, dispatch_id limit 1
        """,
        "failed": """
            select dispatch_id from marts.message_lineage
            where event_kind = 'status' and status = 'failed' and message_state = 'undelivered'
            order by dispatch_id limit 1
        """,
        "clicked": """
            select dispatch_id from marts.message_lineage
            where event_kind = 'click' and message_state = 'delivered'
            order by dispatch_id limit 1
        """,
        "dropped": """
            select dispatch_id from marts.message_lineage
            where event_kind = 'dropped' order by dispatch_id limit 1
        """,
        "no_report": """
            select dispatch_id from marts.message_lineage
            where event_kind = 'state' and message_state in ('pending', 'undelivered')
                and reason is distinct from 'Unmapped Error'
                and dispatch_id not in (
                    select dispatch_id from marts.message_lineage where event_kind = 'status'
                    and status in ('delivered', 'read', 'played', 'failed')
                )
            order by dispatch_id limit 1
        """,
    }
    found = {}
    for name, sql in picks.items():
        rows = _published(pipeline_run, sql)
        assert rows, f"the sample has no {name} message in the lineage"
        found[name] = rows[0][0]
    return found


def test_the_lineage_covers_the_messages_of_the_last_45_cohort_dates(
    pipeline_run: PipelineRun,
) -> None:
    first_date = _as_of(pipeline_run).date() - timedelta(days=LINEAGE_DAYS)
    expected = {
        row[0]
        for row in pipeline_run.query(
            "select dispatch_id from intermediate.int_messages where cohort_date >= $1",
            [first_date],
        )
    }
    published = {
        row[0]
        for row in _published(
            pipeline_run, "select dispatch_id from marts.message_lineage where event_seq = 1"
        )
    }
    assert expected and published == expected


def test_the_statuses_are_the_staging_statuses_of_the_wamid(
    pipeline_run: PipelineRun, sample: dict[str, str]
) -> None:
    as_of = _as_of(pipeline_run)
    for name, dispatch in sample.items():
        ((wamid,),) = pipeline_run.query(
            "select wamid from intermediate.int_messages where dispatch_id = $1", [dispatch]
        )
        expected = sorted(
            pipeline_run.query(
                """
                select status, status_at, error_code from staging.stg_raw__webhook_statuses
                where wamid = $1 and status_at <= $2
                """,
                [wamid, as_of],
            )
            if wamid is not None
            else [],
            key=repr,
        )
        lineage = sorted(
            _published(
                pipeline_run,
                """
                select status, event_at, error_code from marts.message_lineage
                where dispatch_id = $1 and event_kind = 'status'
                """,
                [dispatch],
            ),
            key=repr,
        )
        assert lineage == expected, name
    most = _published(
        pipeline_run,
        "select * from marts.message_lineage where dispatch_id = $1 and event_kind = 'status'",
        [sample["most_statuses"]],
    )
    assert len(most) >= 2


def test_the_state_row_is_the_message_state_of_int_messages(
    pipeline_run: PipelineRun,
) -> None:
    """Every message of the lineage, compared in one query across the two files."""
    con = duckdb.connect(str(pipeline_run.warehouse), read_only=True)
    try:
        con.execute(f"attach '{pipeline_run.serving}' as published (read_only)")
        mismatches = con.execute(
            """
            select lineage.dispatch_id, lineage.message_state, lineage.reason,
                messages.message_state, messages.dropped_reason, messages.undelivered_reason
            from published.marts.message_lineage as lineage
            inner join intermediate.int_messages as messages
                on lineage.dispatch_id = messages.dispatch_id
            where lineage.event_kind = 'state'
                and (
                    lineage.message_state <> messages.message_state
                    or lineage.reason is distinct from
                        coalesce(messages.dropped_reason, messages.undelivered_reason)
                )
            limit 10
            """
        ).fetchall()
        (states,) = con.execute(
            "select count(*) from published.marts.message_lineage where event_kind = 'state'"
        ).fetchone() or (0,)
    finally:
        con.close()
    assert states > 0
    assert mismatches == []


def test_trace_prints_the_path_of_a_dispatch(
    pipeline_run: PipelineRun, sample: dict[str, str]
) -> None:
    for name, dispatch in sample.items():
        result = run_cli("trace", "--dispatch", dispatch, env=pipeline_run.env)
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert f"message {dispatch}:" in out, name
        events = _published(
            pipeline_run,
            """
            select event_seq, event_at, event_kind, detail, reason, possible_solution
            from marts.message_lineage where dispatch_id = $1 order by event_seq
            """,
            [dispatch],
        )
        event_lines = [line for line in out.splitlines() if line.startswith("  ")]
        for (seq, at, kind, detail, _, _), line in zip(events, event_lines, strict=False):
            assert line.split()[0] == str(seq), (name, line)
            assert f"{at:%Y-%m-%d %H:%M:%S}  {kind}" in line, (name, line)
            assert line.endswith(detail), (name, line)
        state = events[-1]
        assert state[2] == "state"
        if state[4] is not None:
            assert f"  reason: {state[4]}" in out, name
            assert f"  possible solution: {state[5]}" in out, name


def test_trace_lists_the_messages_of_a_user_newest_first(
    pipeline_run: PipelineRun, sample: dict[str, str]
) -> None:
    user, campaign = _published(
        pipeline_run,
        "select user_id, campaign_id from marts.message_lineage where dispatch_id = $1 limit 1",
        [sample["failed"]],
    )[0]
    newest = [
        row[0]
        for row in _published(
            pipeline_run,
            """
            select dispatch_id from marts.message_lineage
            where user_id = $1 and event_seq = 1
            order by event_at desc, dispatch_id desc limit 2
            """,
            [user],
        )
    ]
    result = run_cli("trace", "--user", user, "--limit", "2", env=pipeline_run.env)
    assert result.returncode == 0, result.stderr
    headers = [
        line.split()[1].rstrip(":")
        for line in result.stdout.splitlines()
        if line.startswith("message ") and not line.startswith("message lineage")
    ]
    assert headers == newest
    narrowed = run_cli("trace", "--user", user, "--campaign", campaign, env=pipeline_run.env)
    assert narrowed.returncode == 0, narrowed.stderr
    assert f"campaign {campaign}," in narrowed.stdout


def test_trace_unknown_ids_exit_2(pipeline_run: PipelineRun) -> None:
    for argv in (["--dispatch", "no-such-dispatch"], ["--user", "no-such-user"]):
        result = run_cli("trace", *argv, env=pipeline_run.env)
        assert result.returncode == 2, result.stdout
        assert result.stderr.startswith("error: unknown "), result.stderr


def test_state_rows_equal_the_ground_truth(pipeline_run: PipelineRun) -> None:
    """Each message's final state row, counted per campaign, cohort date and state (and
    per reason), equals the generator's ground truth for the cohort dates the lineage
    covers."""
    ((first,),) = _published(pipeline_run, "select min(cohort_date) from marts.message_lineage")
    states = _published(
        pipeline_run,
        "select account_id, campaign_id, cohort_date, message_state, count(*) "
        "from marts.message_lineage where event_kind = 'state' group by all",
    )
    actual = {(a, c, d.isoformat(), state): n for a, c, d, state, n in states}
    columns = {"delivered": "delivered", "undelivered": "undelivered",
               "pending": "delivery_pending", "dropped": "dropped"}  # fmt: skip
    expected = {
        (r["account_id"], r["campaign_id"], r["cohort_date"], state): r[column]
        for r in pipeline_run.truth["campaign_daily"]
        if r["cohort_date"] >= first.isoformat()
        for state, column in columns.items()
        if r[column]
    }
    assert actual == expected

    reasons = _published(
        pipeline_run,
        "select account_id, campaign_id, cohort_date, message_state, reason, count(*) "
        "from marts.message_lineage where event_kind = 'state' "
        "and message_state in ('dropped', 'undelivered') group by all",
    )
    actual_reasons = {(a, c, d.isoformat(), s, why): n for a, c, d, s, why, n in reasons}
    expected_reasons = {
        (r["account_id"], r["campaign_id"], r["cohort_date"], state, r["reason"]): r["messages"]
        for state, key in (("dropped", "dropped_reasons"), ("undelivered", "undelivered_reasons"))
        for r in pipeline_run.truth[key]
        if r["cohort_date"] >= first.isoformat()
    }
    assert actual_reasons == expected_reasons
