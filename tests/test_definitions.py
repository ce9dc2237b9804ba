"""The Dagster graph: asset keys, jobs and schedules are what operators rely on.

A change to any of these shows up here in review.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg

from orchestration.definitions import defs, run_config_for
from orchestration.defs.transform import dbt_build_args

MARTS = {
    "campaign_performance",
    "campaign_performance_daily",
    "campaign_performance_weekly",
    "campaign_performance_monthly",
    "dropped_reasons",
    "undelivered_reasons",
    "reason_dictionary",
    "reason_recipients",
    "data_quality",
}
RAW = {
    "accounts", "campaigns", "templates", "dispatches", "webhook_deliveries",
    "webhook_statuses", "webhook_messages", "clicks", "conversions", "unsubscribes",
    "_unknown_files",
}  # fmt: skip


def _keys() -> set[tuple[str, ...]]:
    return {tuple(key.path) for key in defs.resolve_asset_graph().get_all_asset_keys()}


def test_every_loader_and_mart_is_an_asset() -> None:
    keys = _keys()
    assert {("raw", table) for table in RAW} <= keys
    assert {("marts", mart) for mart in MARTS} <= keys
    assert ("serving_publication",) in keys


def test_the_publication_follows_every_mart() -> None:
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("serving_publication"))
    marts = {key for key in graph.get_all_asset_keys() if key.path[0] == "marts"}
    assert {dg.AssetKey(["marts", mart]) for mart in MARTS} <= marts
    assert set(node.parent_keys) == marts
    assert node.group_name == "serving"
    assert node.pools == {"warehouse_writer"}
    for job in ("build_warehouse", "daily_build"):
        selected = defs.resolve_job_def(job).asset_layer.selected_asset_keys
        assert dg.AssetKey("serving_publication") in selected, job


def test_models_read_the_loader_assets() -> None:
    graph = defs.resolve_asset_graph()
    staging = dg.AssetKey(["staging", "stg_raw__dispatches"])
    assert dg.AssetKey(["raw", "dispatches"]) in graph.get(staging).parent_keys
    statuses = dg.AssetKey(["staging", "stg_raw__webhook_statuses"])
    assert dg.AssetKey(["raw", "webhook_statuses"]) in graph.get(statuses).parent_keys


def test_dbt_tests_are_asset_checks() -> None:
    checks = {
        (tuple(key.asset_key.path), key.name) for key in defs.resolve_asset_graph().asset_check_keys
    }
    assert (("marts", "campaign_performance"), "unique_campaign_performance_campaign_id") in checks


def test_jobs_and_schedules() -> None:
    jobs = {job.name for job in defs.resolve_all_job_defs()} - {"__ASSET_JOB"}
    assert jobs == {
        "build_warehouse", "load_raw", "daily_build", "weekly_performance", "monthly_performance",
    }  # fmt: skip
    schedules = {s.name: s for s in defs.schedules}
    assert {name: s.cron_schedule for name, s in schedules.items()} == {
        "daily_build_schedule": "0 0 * * *",
        "weekly_performance_schedule": "0 0 * * 1",
        "monthly_performance_schedule": "0 0 1 * *",
    }
    weekly = defs.resolve_job_def("weekly_performance")
    selected = {tuple(k.path) for k in weekly.asset_layer.selected_asset_keys}
    assert ("marts", "campaign_performance_weekly") in selected
    assert ("marts", "campaign_performance_monthly") not in selected
    daily = defs.resolve_job_def("daily_build")
    selected = {tuple(k.path) for k in daily.asset_layer.selected_asset_keys}
    assert ("marts", "campaign_performance_daily") in selected
    assert ("marts", "campaign_performance_weekly") not in selected


def test_schedule_passes_its_tick_as_as_of() -> None:
    schedule = defs.resolve_schedule_def("weekly_performance_schedule")
    tick = datetime(2026, 11, 23, tzinfo=UTC)
    with dg.build_schedule_context(scheduled_execution_time=tick) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.run_config == run_config_for(as_of=tick)
    assert request.tags["wa/as_of"] == "2026-11-23T00:00:00Z"


def test_dbt_build_args() -> None:
    assert dbt_build_args(as_of="2026-11-01T00:00:00Z", full_refresh=False) == [
        "build", "--vars", '{"as_of": "2026-11-01T00:00:00Z"}',
    ]  # fmt: skip
    assert dbt_build_args(as_of="2026-11-01T00:00:00Z", full_refresh=True)[-1] == "--full-refresh"


def test_loading_the_definitions_does_not_reparse_dbt() -> None:
    import subprocess
    import sys

    from orchestration.defs.dbt_project import dbt_project, manifest_is_stale, prepare_manifest

    prepare_manifest()
    assert not manifest_is_stale()
    before = dbt_project.manifest_path.stat().st_mtime_ns
    subprocess.run(
        [sys.executable, "-c", "import orchestration.definitions"], check=True, timeout=120
    )
    assert dbt_project.manifest_path.stat().st_mtime_ns == before
