"""Operational checks: freshness, quarantine share, and the missing-status alarm."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import defs
from orchestration.defs.checks import (
    asset_checks,
    freshness_deadline,
    missing_status_share,
    status_share_verdict,
)
from orchestration.resources import AsOfResource, ExtractsResource, WarehouseResource


def test_a_jump_in_messages_without_status_fails() -> None:
    normal = [0.02, 0.03, 0.025, 0.02, 0.03, 0.02, 0.028]
    assert status_share_verdict(0.04, normal, jump=0.10) == (True, 0.025)
    passed, baseline = status_share_verdict(0.60, normal, jump=0.10)
    assert not passed and baseline == 0.025
    assert status_share_verdict(0.3, [0.1, 0.3], jump=0.10)[1] == 0.2


def test_freshness_deadline_counts_back_from_as_of() -> None:
    as_of = datetime(2026, 11, 10, tzinfo=UTC)
    assert freshness_deadline(as_of, 2) == date(2026, 11, 8)


def test_every_event_source_has_freshness_and_quarantine_checks() -> None:
    checks = {
        (key.asset_key.to_user_string(), key.name)
        for key in defs.resolve_asset_graph().asset_check_keys
    }
    for table in ("dispatches", "webhook_deliveries", "clicks", "conversions", "unsubscribes"):
        assert (f"raw/{table}", "extract_freshness") in checks
        assert (f"raw/{table}", "quarantine_share") in checks
    assert ("intermediate/int_messages", "missing_status_share") in checks


def test_checks_run_with_the_build_job() -> None:
    job = defs.resolve_job_def("build_warehouse")
    selected = {
        (k.asset_key.to_user_string(), k.name) for k in job.asset_layer.asset_graph.asset_check_keys
    }
    assert ("raw/dispatches", "extract_freshness") in selected
    assert dg.AssetKey(["raw", "dispatches"]) in job.asset_layer.selected_asset_keys


def test_checks_that_depend_on_time_read_the_runs_as_of_resource() -> None:
    by_name = {next(iter(c.check_keys)).name: c for c in asset_checks}
    for name in ("extract_freshness", "missing_status_share"):
        assert "as_of" in by_name[name].required_resource_keys, name
    assert "as_of" not in by_name["quarantine_share"].required_resource_keys


@pytest.fixture
def no_threshold_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WA_FRESHNESS_MAX_DAYS", "WA_MAX_QUARANTINE_SHARE", "WA_MISSING_STATUS_JUMP"):
        monkeypatch.delenv(name, raising=False)


def _warehouse(path: Path, *statements: str) -> WarehouseResource:
    con = duckdb.connect(str(path))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()
    return WarehouseResource(path=str(path))


@pytest.mark.usefixtures("no_threshold_overrides")
def test_freshness_counts_back_from_the_resolved_as_of(tmp_path: Path) -> None:
    warehouse = _warehouse(
        tmp_path / "w.duckdb",
        "create schema raw",
        "create table raw._loads as select * from (values "
        "('clicks', 'clicks/clicks-2026-10-28.csv'), ('clicks', 'clicks/clicks-2026-10-29.csv'), "
        "('dispatches', 'dispatches/dispatches-2026-11-05.csv')) as t(source, file)",
    )
    (check,) = (
        c
        for c in asset_checks
        if dg.AssetCheckKey(dg.AssetKey(["raw", "clicks"]), "extract_freshness") in c.check_keys
    )
    extracts = ExtractsResource(root=str(tmp_path / "extracts"))

    def verdict(as_of: AsOfResource) -> dg.AssetCheckResult:
        return check(warehouse=warehouse, as_of=as_of)

    fresh = verdict(AsOfResource(extracts=extracts, value="2026-10-31T00:00:00Z"))
    assert fresh.passed
    assert fresh.metadata["newest_extract_day"].value == "2026-10-29"
    late = verdict(AsOfResource(extracts=extracts, value="2026-11-01T00:00:00Z"))
    assert not late.passed
    assert late.severity == dg.AssetCheckSeverity.ERROR
    assert "expected one on or after 2026-10-30" in late.description
    # without a value, the as-of time is the midnight after the newest extract file
    (tmp_path / "extracts" / "clicks").mkdir(parents=True)
    (tmp_path / "extracts" / "clicks" / "clicks-2026-11-02.csv").write_text("")
    derived = verdict(AsOfResource(extracts=extracts))
    assert not derived.passed
    assert "(as_of 2026-11-03 00:00Z, max age 2 days)" in derived.description


@pytest.mark.usefixtures("no_threshold_overrides")
def test_the_missing_status_alarm_reads_messages_48_hours_before_as_of(tmp_path: Path) -> None:
    """Seven normal days, then a day where most messages have no status: the alarm fires
    once that day is 48 hours old at the run's as-of time, not before."""
    first = datetime(2026, 10, 1, 10)
    rows = []
    for day in range(8):
        sent = first + timedelta(days=day)
        without = 8 if day == 7 else 0
        rows += [f"(timestamp '{sent}', true, {str(i >= without).lower()})" for i in range(10)]
    warehouse = _warehouse(
        tmp_path / "w.duckdb",
        "create schema intermediate",
        "create table intermediate.int_messages as select * from (values "
        + ", ".join(rows)
        + ") as t(attempted_at, is_sent, has_any_status)",
    )
    extracts = ExtractsResource(root=str(tmp_path))

    def verdict(as_of: str) -> dg.AssetCheckResult:
        return missing_status_share(
            warehouse=warehouse, as_of=AsOfResource(extracts=extracts, value=as_of)
        )

    early = verdict("2026-10-09T11:00:00Z")  # the bad day (10-08) is 25 hours old
    assert early.passed
    assert early.metadata["latest_day"].value == "2026-10-07"
    late = verdict("2026-10-10T11:00:00Z")
    assert not late.passed
    assert late.metadata["latest_day"].value == "2026-10-08"
    assert "Check the webhook receiver." in late.description
