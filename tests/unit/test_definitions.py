"""The Dagster graph: asset keys, checks, jobs, schedules and sensors are what operators
rely on, so they are pinned in a snapshot (``snapshots/definitions.json``) and a change
to any of them shows up in review. Nothing here runs the pipeline or dbt.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest
from dagster_dbt import DbtCliResource

from orchestration.config import Settings
from orchestration.definitions import build_definitions, defs, run_config_for
from orchestration.defs.build_state import REBUILT_LOADS, mark_rebuilt, replaced_loads
from orchestration.defs.dbt_project import ManifestMissing
from orchestration.defs.transform import (
    CODE_TESTS,
    STAGING_MODELS,
    dbt_build_args,
    rebuild_selection,
    warehouse_dbt_models,
)
from orchestration.layout import SOURCES

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"
UPDATE_SNAPSHOTS = "WA_UPDATE_SNAPSHOTS"
PROJECT_ROOT = Path(__file__).resolve().parents[2]

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
DBT_OP = "warehouse_dbt_models"


# -- the snapshot ------------------------------------------------------------------------


def graph_snapshot(definitions: dg.Definitions) -> dict:
    """What operators see of the graph, as plain JSON-able data with a stable order."""
    graph = definitions.resolve_asset_graph()
    assets = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    checks: dict[str, list[str]] = {}
    for key in graph.asset_check_keys:
        checks.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    jobs = {
        job.name: sorted(key.to_user_string() for key in job.asset_layer.selected_asset_keys)
        for job in definitions.resolve_all_job_defs()
        if not job.name.startswith("__")  # Dagster's implicit job of all assets
    }
    schedules = {
        s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone, "job": s.job_name}
        for s in definitions.schedules or []
    }
    sensors = {s.name: {"job": s.job_name} for s in definitions.sensors or []}
    return {
        "assets": dict(sorted(assets.items())),
        "asset_checks": {asset: sorted(names) for asset, names in sorted(checks.items())},
        "jobs": dict(sorted(jobs.items())),
        "schedules": dict(sorted(schedules.items())),
        "sensors": dict(sorted(sensors.items())),
    }


def _dump(data: dict) -> str:
    return json.dumps(data, indent=2) + "\n"


def test_the_graph_matches_its_snapshot() -> None:
    actual = _dump(graph_snapshot(defs))
    if os.environ.get(UPDATE_SNAPSHOTS) == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(actual)
        print(f"rewrote {SNAPSHOT}")
        return
    if not SNAPSHOT.exists():
        pytest.fail(
            f"no snapshot at {SNAPSHOT}; write it with {UPDATE_SNAPSHOTS}=1 "
            f".venv/bin/pytest {Path(__file__).relative_to(PROJECT_ROOT)} -k snapshot",
            pytrace=False,
        )
    expected = SNAPSHOT.read_text()
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"{SNAPSHOT.name} (committed)",
                tofile="orchestration.definitions.defs (now)",
            )
        )
        pytest.fail(
            "the Dagster graph changed (assets, checks, jobs, schedules or sensors):\n"
            f"{diff}\n"
            "If the change is intended, rewrite the snapshot and commit it:\n"
            f"  {UPDATE_SNAPSHOTS}=1 .venv/bin/pytest "
            f"{Path(__file__).relative_to(PROJECT_ROOT)} -k snapshot\n"
            f"  git add {SNAPSHOT.relative_to(PROJECT_ROOT)}",
            pytrace=False,
        )


def test_the_snapshot_is_read_from_the_definitions_as_they_are_built() -> None:
    """The snapshot describes whatever settings the definitions are built with."""
    settings = Settings.from_env({"WA_WAREHOUSE_PATH": "/elsewhere/w.duckdb"})
    assert graph_snapshot(build_definitions(settings)) == graph_snapshot(defs)


# -- assets ------------------------------------------------------------------------------


def _keys() -> set[tuple[str, ...]]:
    return {tuple(key.path) for key in defs.resolve_asset_graph().get_all_asset_keys()}


def _selected(job: str) -> set[tuple[str, ...]]:
    return {tuple(k.path) for k in defs.resolve_job_def(job).asset_layer.selected_asset_keys}


def test_every_loader_and_mart_is_an_asset() -> None:
    keys = _keys()
    assert {("raw", table) for table in RAW} <= keys
    assert {("marts", mart) for mart in MARTS} <= keys
    assert ("serving_publication",) in keys


def test_one_dbt_asset_definition_holds_every_seed_and_model() -> None:
    graph = defs.resolve_asset_graph()
    dbt_keys = set(warehouse_dbt_models.keys)
    layers = {key.path[0] for key in dbt_keys}
    assert layers == {"reference", "staging", "intermediate", "marts"}
    assert {dg.AssetKey(["marts", mart]) for mart in MARTS} <= dbt_keys
    # every model of those layers in the graph comes from that one definition
    for key in graph.get_all_asset_keys():
        if key.path[0] in layers:
            assert key in dbt_keys, key
    assert warehouse_dbt_models.partitions_def is None
    assert warehouse_dbt_models.op.name == DBT_OP
    assert warehouse_dbt_models.op.pool == "warehouse_writer"
    assert {"dbt", "as_of", "warehouse"} <= warehouse_dbt_models.required_resource_keys
    assert graph.get(dg.AssetKey(["reference", "reasons"])).group_name == "reference"


def test_the_publication_follows_every_mart() -> None:
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey("serving_publication"))
    marts = {key for key in graph.get_all_asset_keys() if key.path[0] == "marts"}
    assert {dg.AssetKey(["marts", mart]) for mart in MARTS} <= marts
    assert set(node.parent_keys) == marts
    assert node.group_name == "serving"
    assert node.pools == {"warehouse_writer"}
    # it publishes as of the run's as-of time, resolved by the resource
    publication = defs.resolve_assets_def(dg.AssetKey("serving_publication"))
    assert {"as_of", "serving", "warehouse"} <= publication.required_resource_keys
    # the last step of the pipeline; loading alone never publishes
    assert ("serving_publication",) in _selected("build_warehouse")
    assert ("serving_publication",) not in _selected("load_raw")


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
    dbt_checks = {(tuple(key.asset_key.path), key.name) for key in warehouse_dbt_models.check_keys}
    assert dbt_checks <= checks
    grain = {name for asset, name in dbt_checks if asset == ("marts", "campaign_performance")}
    assert any(name.startswith("grain_campaign_performance_campaign_id") for name in grain)
    # a test across marts is a check of one of them, run in the same dbt build
    assert (("marts", "campaign_performance"), "assert_campaign_count_identities") in dbt_checks
    # tests on the raw sources are checks of the loader assets
    assert any(name.startswith("source_") for asset, name in dbt_checks if asset[0] == "raw")
    raw_checked = {asset for asset, _ in dbt_checks if asset[0] == "raw"}
    assert raw_checked and raw_checked <= {("raw", table) for table in RAW}


# -- jobs, schedule and sensor -----------------------------------------------------------


def test_jobs_and_schedules() -> None:
    jobs = {job.name for job in defs.resolve_all_job_defs()} - {"__ASSET_JOB"}
    assert jobs == {"build_warehouse", "load_raw"}
    for job in jobs:
        assert defs.resolve_job_def(job).tags["wa/writes_warehouse"] == "true", job
    schedules = {s.name: s for s in defs.schedules}
    assert {name: (s.cron_schedule, s.job_name) for name, s in schedules.items()} == {
        "daily_build_schedule": ("0 0 * * *", "build_warehouse"),
    }
    assert schedules["daily_build_schedule"].execution_timezone == "UTC"
    build = _selected("build_warehouse")
    # the whole pipeline: every loader, every seed and model (period marts included), the
    # publication; nothing else
    assert build == _keys() - {("raw", "_quarantine")}
    assert ("raw", "dispatches") in build and ("marts", "campaign_performance") in build
    assert {("marts", f"campaign_performance_{p}") for p in ("daily", "weekly", "monthly")} <= build
    assert _selected("load_raw") == {("raw", table) for table in RAW}


def test_the_schedule_passes_its_tick_as_as_of() -> None:
    tick = datetime(2026, 11, 23, tzinfo=UTC)
    daily = _tick("daily_build_schedule", tick)
    assert daily.partition_key is None
    assert daily.run_config == run_config_for(as_of=tick)
    # the as-of time is the as_of resource's config; the dbt step gets its own settings
    assert daily.run_config == {
        "resources": {"as_of": {"config": {"value": "2026-11-23T00:00:00Z"}}},
        "ops": {DBT_OP: {"config": {"full_refresh": False}}},
    }
    assert daily.tags["wa/as_of"] == "2026-11-23T00:00:00Z"
    assert daily.tags["wa/trigger"] == "daily_build_schedule"
    assert daily.run_key == "daily_build_schedule:2026-11-23T00:00:00Z"


def test_the_run_config_is_valid_for_the_pipeline() -> None:
    as_of = datetime(2026, 11, 1, 6, tzinfo=UTC)
    config = run_config_for(as_of=as_of, full_refresh=True)
    assert config["ops"] == {DBT_OP: {"config": {"full_refresh": True}}}
    validated = dg.validate_run_config(defs.resolve_job_def("build_warehouse"), config)
    assert validated["resources"]["as_of"]["config"] == {"value": "2026-11-01T06:00:00Z"}
    assert validated["ops"][DBT_OP]["config"] == {"full_refresh": True}
    # without an as-of value the resource works it out from the extracts
    default = dg.validate_run_config(defs.resolve_job_def("build_warehouse"), {})
    assert default["resources"]["as_of"]["config"] == {"value": ""}


def _tick(name: str, tick: datetime) -> dg.RunRequest:
    schedule = defs.resolve_schedule_def(name)
    with dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=defs.get_repository_def()
    ) as context:
        return schedule.evaluate_tick(context).run_requests[0]


def test_the_file_sensor_and_the_daily_schedule_run_the_pipeline() -> None:
    """One build_warehouse run is the whole pipeline: no run-status sensor chains others."""
    assert defs.resolve_sensor_def("new_extract_files_sensor").job_name == "build_warehouse"
    assert {sensor.name for sensor in defs.sensors} == {"new_extract_files_sensor"}


# -- what a dbt build runs ---------------------------------------------------------------


def test_dbt_build_args() -> None:
    # daily builds skip the tests of the project's own files: unit tests, seeds' tests
    assert dbt_build_args(full_refresh=False) == [
        "build", "--exclude-resource-type", "unit_test",
        "--exclude", "path:seeds,resource_type:test",
    ]  # fmt: skip
    assert dbt_build_args(full_refresh=False) == ["build", *CODE_TESTS]
    # a full refresh runs them too
    assert dbt_build_args(full_refresh=True) == ["build", "--full-refresh"]


def test_rebuild_selection() -> None:
    incremental = ",config.materialized:incremental"
    assert rebuild_selection(["clicks"]) == f"stg_raw__clicks+{incremental}"
    # webhooks feed two staging models; the selection is sorted and has no duplicates
    assert rebuild_selection(["webhooks", "clicks", "webhooks"]) == " ".join(
        f"{model}+{incremental}"
        for model in ("stg_raw__clicks", "stg_raw__webhook_messages", "stg_raw__webhook_statuses")
    )
    assert rebuild_selection([]) == ""
    assert rebuild_selection(["not_a_source"]) == ""
    # every source has its staging models, and they are assets of the dbt definition
    assert set(STAGING_MODELS) == set(SOURCES)
    for models in STAGING_MODELS.values():
        for model in models:
            assert dg.AssetKey(["staging", model]) in warehouse_dbt_models.keys, model


def test_replaced_loads_are_rebuilt_once() -> None:
    """A file re-delivered with other bytes asks for one rebuild, until one is recorded."""
    con = duckdb.connect()
    try:
        assert replaced_loads(con) == {}  # before the first load
        con.execute("create schema raw")
        con.execute(
            "create table raw._loads as select * from (values "
            "('clicks', 'l1', null), ('clicks', 'l2', 'l1'), ('webhooks', 'l3', null), "
            "('webhooks', 'l5', 'l3'), ('webhooks', 'l4', 'l0')) "
            "as t(source, load_id, replaced_load_id)"
        )
        replaced = replaced_loads(con)
        assert replaced == {"clicks": ["l2"], "webhooks": ["l4", "l5"]}
        mark_rebuilt(con, replaced)
        assert con.execute(f"select count(*) from {REBUILT_LOADS}").fetchone()[0] == 3
        assert replaced_loads(con) == {}
        con.execute("insert into raw._loads values ('clicks', 'l6', 'l2')")
        assert replaced_loads(con) == {"clicks": ["l6"]}
    finally:
        con.close()


# -- dbt is prepared, not parsed, when the definitions load -----------------------------

_SPY = """
import json, subprocess
calls = []
real_init = subprocess.Popen.__init__
def spy(self, args, *rest, **kwargs):
    calls.append(args if isinstance(args, str) else " ".join(map(str, args)))
    return real_init(self, args, *rest, **kwargs)
subprocess.Popen.__init__ = spy
import orchestration.definitions
print(json.dumps(calls))
"""


def test_loading_the_definitions_does_not_reparse_dbt() -> None:
    from orchestration.defs.dbt_project import dbt_project, manifest_is_stale, prepare_manifest

    prepare_manifest()
    assert not manifest_is_stale()
    before = dbt_project.manifest_path.stat().st_mtime_ns
    loaded = subprocess.run(
        [sys.executable, "-c", _SPY],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
    )
    subprocesses = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert not [call for call in subprocesses if "dbt" in call], subprocesses
    assert dbt_project.manifest_path.stat().st_mtime_ns == before


def test_a_missing_manifest_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.defs import dbt_project

    missing = tmp_path / "target" / "manifest.json"
    monkeypatch.setattr(dbt_project, "dbt_project", SimpleNamespace(manifest_path=missing))
    with pytest.raises(ManifestMissing, match="run `wa-warehouse prepare`"):
        dbt_project.manifest_path()


def test_the_dbt_resource_is_a_plain_dbt_cli_resource() -> None:
    """No overrides of dagster-dbt's private API: upgrades of it cannot break the build."""
    from orchestration.defs.dbt_project import dbt_resource

    assert type(dbt_resource()) is DbtCliResource
    assert type(defs.resources["dbt"]) is DbtCliResource


def test_no_asset_is_partitioned() -> None:
    """The period marts are rebuilt whole by every run: a partitioned definition would
    show every period as "Missing" in the UI although the marts hold it."""
    graph = defs.resolve_asset_graph()
    assert not [key for key in graph.get_all_asset_keys() if graph.get(key).partitions_def]
