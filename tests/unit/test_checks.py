"""Operational checks and their policy: what fails, with which severity, and that
every check can block the publication."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import defs
from orchestration.defs.checks import (
    SOURCE_FRESHNESS_TABLES,
    CheckThresholds,
    SourceFreshness,
    asset_checks,
    dbt_source_freshness,
    extract_freshness,
    freshness_deadline,
    missing_status_share,
    quarantine_share,
    quarantine_verdict,
    source_freshness,
    status_share_verdict,
)
from orchestration.resources import AsOfResource, WarehouseResource
from tests.unit.test_as_of_rule import record

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN


def test_a_jump_in_messages_without_status_fails() -> None:
    normal = [0.02, 0.03, 0.025, 0.02, 0.03, 0.02, 0.028]
    assert status_share_verdict(0.04, normal, jump=0.10) == (True, 0.025)
    passed, baseline = status_share_verdict(0.60, normal, jump=0.10)
    assert not passed and baseline == 0.025
    assert status_share_verdict(0.3, [0.1, 0.3], jump=0.10)[1] == 0.2


def test_freshness_deadline_counts_back_from_as_of() -> None:
    as_of = datetime(2026, 11, 10, tzinfo=UTC)
    assert freshness_deadline(as_of, 2) == date(2026, 11, 8)


def test_every_event_source_has_its_checks_and_every_check_blocks() -> None:
    graph = defs.resolve_asset_graph()
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    for table in ("dispatches", "webhook_deliveries", "clicks", "conversions", "unsubscribes"):
        for name in ("extract_freshness", "source_freshness", "quarantine_share"):
            assert (f"raw/{table}", name) in checks
    assert ("intermediate/int_messages", "missing_status_share") in checks
    # blocking: a failure with severity ERROR skips what is downstream (the publication)
    specs = [spec for definition in asset_checks for spec in definition.check_specs]
    assert specs and all(spec.blocking for spec in specs)


def test_the_extract_checks_run_after_every_loader() -> None:
    """The default as-of time comes from all loads: the checks that read it wait for them."""
    job = defs.resolve_job_def("build_warehouse")
    upstream = {
        handle.node_name
        for handle in job.graph.dependency_structure.all_upstream_outputs_from_node(
            "raw_extract_checks"
        )
    }
    assert {f"load_{source}" for source in ("dispatches", "webhooks", "campaigns")} <= upstream


def test_source_freshness_is_the_dbt_declaration() -> None:
    """Dagster evaluates exactly the tables and thresholds declared in the dbt sources."""
    declared = dbt_source_freshness()
    assert set(declared) == set(SOURCE_FRESHNESS_TABLES)
    dispatches = declared["dispatches"]
    assert dispatches.loaded_at_field == "_loaded_at"
    assert dispatches.warn_after == timedelta(hours=26)
    assert dispatches.error_after == timedelta(hours=50)
    assert declared["unsubscribes"].error_after is None  # a quiet feed only warns


def test_source_freshness_severity_follows_warn_after_and_error_after(tmp_path: Path) -> None:
    rule = SourceFreshness("clicks", "_loaded_at", timedelta(hours=26), timedelta(hours=50))
    now = datetime(2026, 12, 4, 12)
    assert rule.verdict(now - timedelta(hours=2), now) is None
    assert rule.verdict(now - timedelta(hours=30), now) == WARN
    assert rule.verdict(now - timedelta(hours=51), now) == ERROR
    assert rule.verdict(None, now) == ERROR  # never loaded
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw.clicks (_loaded_at timestamp)")
    con.execute("insert into raw.clicks values (?)", [now - timedelta(hours=30)])
    result = source_freshness(con, "clicks", rule, now)
    assert not result.passed and result.severity == WARN
    assert "30.0 h ago" in result.description


@pytest.fixture
def no_threshold_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "WA_FRESHNESS_MAX_DAYS",
        "WA_WARN_QUARANTINE_SHARE",
        "WA_MAX_QUARANTINE_SHARE",
        "WA_QUARANTINE_MIN_ROWS",
        "WA_MISSING_STATUS_JUMP",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_threshold_overrides")
def test_quarantine_share_warns_then_errors() -> None:
    limits = CheckThresholds.from_env()
    assert quarantine_verdict(0.005, 5000, limits) == (True, WARN)
    assert quarantine_verdict(0.02, 5000, limits) == (False, WARN)  # printed, still published
    assert quarantine_verdict(0.10, 5000, limits) == (False, ERROR)  # blocks the publication
    # 3 bad lines of 12 rows: too few rows to call the feed broken
    assert quarantine_verdict(0.25, 12, limits) == (False, WARN)


@pytest.mark.usefixtures("no_threshold_overrides")
def test_quarantine_share_reads_each_files_latest_load(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    record(warehouse, "clicks/clicks-2026-10-30.csv", 97, 3)
    con = duckdb.connect(str(warehouse), read_only=True)
    result = quarantine_share(con, "clicks", CheckThresholds.from_env())
    assert (result.passed, result.severity) == (False, WARN)
    assert "3 of 100 clicks rows quarantined (3.00%)" in result.description


@pytest.mark.usefixtures("no_threshold_overrides")
def test_extract_freshness_counts_back_from_as_of(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    record(warehouse, "clicks/clicks-2026-10-28.csv", 5)
    record(warehouse, "clicks/clicks-2026-10-29.csv", 5)
    record(warehouse, "clicks/clicks-2026-10-31.csv", 0, 1)  # quarantined whole: no delivery
    con = duckdb.connect(str(warehouse), read_only=True)
    limits = CheckThresholds.from_env()
    fresh = extract_freshness(con, "clicks", datetime(2026, 10, 31, tzinfo=UTC), limits)
    assert fresh.passed
    assert fresh.metadata["newest_extract_day"].value == "2026-10-29"
    late = extract_freshness(con, "clicks", datetime(2026, 11, 1, tzinfo=UTC), limits)
    assert not late.passed and late.severity == ERROR
    assert "expected one on or after 2026-10-30" in late.description


def _warehouse(path: Path, *statements: str) -> WarehouseResource:
    con = duckdb.connect(str(path))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()
    return WarehouseResource(path=str(path))


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

    def verdict(as_of: str) -> dg.AssetCheckResult:
        return missing_status_share(
            warehouse=warehouse, as_of=AsOfResource(warehouse=warehouse, value=as_of)
        )

    early = verdict("2026-10-09T11:00:00Z")  # the bad day (10-08) is 25 hours old
    assert early.passed
    assert early.metadata["latest_day"].value == "2026-10-07"
    late = verdict("2026-10-10T11:00:00Z")
    assert not late.passed and late.severity == ERROR
    assert late.metadata["latest_day"].value == "2026-10-08"
    assert "Check the webhook receiver." in late.description
