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
    assert set(node.parent_keys) == marts | {dg.AssetKey("cross_mart_tests")}
    assert set(graph.get(dg.AssetKey("cross_mart_tests")).parent_keys) == marts
    assert node.group_name == "serving"
    assert node.pools == {"warehouse_writer"}
    # the last step of the pipeline (whose dbt step runs the tests across marts), and of
    # publish_serving after a backfill; never of a period mart's partitioned job
    assert ("serving_publication",) in _selected("build_warehouse")
    assert ("cross_mart_tests",) not in _selected("build_warehouse")
    for job in ("daily_performance", "weekly_performance", "monthly_performance", "load_raw"):
        selected = defs.resolve_job_def(job).asset_layer.selected_asset_keys
        assert dg.AssetKey("serving_publication") not in selected, job
    assert _selected("publish_serving") == {("cross_mart_tests",), ("serving_publication",)}


def _selected(job: str) -> set[tuple[str, ...]]:
    return {tuple(k.path) for k in defs.resolve_job_def(job).asset_layer.selected_asset_keys}


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
        "build_warehouse", "load_raw", "daily_performance", "weekly_performance",
        "monthly_performance", "publish_serving",
    }  # fmt: skip
    for job in jobs:
        assert defs.resolve_job_def(job).tags["wa/writes_warehouse"] == "true", job
    schedules = {s.name: s for s in defs.schedules}
    assert {name: (s.cron_schedule, s.job_name) for name, s in schedules.items()} == {
        "daily_build_schedule": ("0 0 * * *", "build_warehouse"),
        "weekly_performance_schedule": ("0 0 * * 1", "weekly_performance"),
        "monthly_performance_schedule": ("0 0 1 * *", "monthly_performance"),
    }
    for period in ("daily", "weekly", "monthly"):
        selected = _selected(f"{period}_performance")
        assert selected == {("marts", f"campaign_performance_{period}")}
    build = _selected("build_warehouse")
    assert ("raw", "dispatches") in build and ("marts", "campaign_performance") in build
    assert not {("marts", f"campaign_performance_{p}") for p in ("daily", "weekly")} & build


def test_schedules_pass_their_tick_as_as_of() -> None:
    tick = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
    weekly = _tick("weekly_performance_schedule", tick)
    assert weekly.run_config == run_config_for(as_of=tick, job="weekly_performance")
    assert weekly.tags["wa/as_of"] == "2026-11-23T00:00:00Z"
    assert weekly.partition_key == "2026-11-16"  # the week that just ended, Monday to Sunday
    monthly = _tick("monthly_performance_schedule", datetime(2026, 11, 1, tzinfo=UTC))
    assert monthly.partition_key == "2026-10-01"
    daily = _tick("daily_build_schedule", tick)
    assert daily.partition_key is None
    assert daily.run_config == run_config_for(as_of=tick)
    assert daily.tags["wa/as_of"] == "2026-11-23T00:00:00Z"
    assert daily.tags["wa/trigger"] == "daily_build_schedule"


def _tick(name: str, tick: datetime) -> dg.RunRequest:
    schedule = defs.resolve_schedule_def(name)
    with dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    ) as context:
        return schedule.evaluate_tick(context).run_requests[0]


def test_dbt_build_args() -> None:
    assert dbt_build_args(full_refresh=False) == [
        "build", "--exclude-resource-type", "unit_test",
    ]  # fmt: skip
    # a full refresh runs the dbt unit tests too
    assert dbt_build_args(full_refresh=True) == ["build", "--full-refresh"]


def test_the_file_sensor_and_the_daily_schedule_run_the_pipeline() -> None:
    """One build_warehouse run is the whole pipeline: no run-status sensor chains others."""
    assert defs.resolve_sensor_def("new_extract_files_sensor").job_name == "build_warehouse"
    assert {sensor.name for sensor in defs.sensors} == {"new_extract_files_sensor"}


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


def test_the_dbt_resource_skips_the_version_subprocess_and_the_adapter() -> None:
    """dagster-dbt would run `dbt --version` and build an unused dbt adapter every run."""
    from importlib import metadata

    from orchestration.defs.dbt_project import dbt_resource

    resource = dbt_resource()
    assert str(resource._cli_version) == metadata.version("dbt-core")
    assert resource._initialize_dbt_core_adapter([]) is None
