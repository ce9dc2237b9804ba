"""Operational checks: freshness, quarantine share, and the missing-status alarm."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg

from orchestration.definitions import defs
from orchestration.defs.checks import freshness_deadline, status_share_verdict


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
