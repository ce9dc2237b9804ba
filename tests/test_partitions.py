"""Partitioned period marts, backfills in one run, and what each dbt invocation receives.

dbt is replaced by a recorder here (``RecordingDbt``): these tests check what
Dagster passes to dbt (arguments, ``WA_AS_OF``, ``WA_PERIOD_START``/``END``),
not what dbt builds; ``tests/test_jobs.py`` runs the real thing.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from orchestration import definitions, pipeline
from orchestration.config import ConfigError, Settings, partitions_start_from_env
from orchestration.defs.jobs import (
    BUILD_JOB,
    DAILY_JOB,
    DBT_OPS,
    MONTHLY_JOB,
    PUBLISH_JOB,
    WEEKLY_JOB,
    run_config_for,
)
from orchestration.defs.transform import (
    PERIODS,
    cross_definition_tests,
    dbt_environment,
    dbt_model_assets,
    period_marts,
    period_partitions,
    prune_invocation_folders,
    warehouse_dbt_models,
)

DBT_ENV = ("WA_AS_OF", "WA_PERIOD_START", "WA_PERIOD_END")
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")
# in the order dbt builds them (dependencies first)
DBT_MODEL_KEYS = [
    key
    for key in definitions.defs.resolve_asset_graph().toposorted_asset_keys
    if any(key in assets.keys for assets in dbt_model_assets)
]


class _Invocation:
    target_path = Path("/nonexistent")

    def __init__(self, fail: bool, whole_project: bool) -> None:
        self.fail = fail
        self.whole_project = whole_project

    def stream(self):
        if self.fail:
            raise RuntimeError("dbt failed (recorded)")
        if not self.whole_project:
            return iter(())
        # what dagster-dbt reports without a context: a materialization per model
        return iter(dg.AssetMaterialization(key) for key in DBT_MODEL_KEYS)

    def stream_raw_events(self):
        return iter(())

    def is_successful(self) -> bool:
        return not self.fail


class RecordingDbt:
    """Stands in for DbtCliResource: records each invocation's op, arguments and dbt env."""

    def __init__(self, fail_op: str | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_op = fail_op

    def cli(self, args, context=None, target_path: Path | None = None, **_: Any) -> _Invocation:
        # with a context, dagster-dbt selects the step's nodes; without one, the step
        # names the invocation's folder, and a build selects nothing: the whole project
        if context is not None:
            op, whole_project = context.op_execution_context.op.name, False
        else:
            assert target_path is not None
            op, whole_project = target_path.name.rsplit("-", 1)[0], args[0] == "build"
        self.calls.append(
            {"op": op, "args": list(args), "whole_project": whole_project}
            | {k: os.environ.get(k) for k in DBT_ENV}
        )
        if op == "warehouse_dbt_models":  # a mart to publish, the messages a check reads
            con = duckdb.connect(os.environ["WA_WAREHOUSE_PATH"])
            con.execute("create schema if not exists marts")
            con.execute("create or replace table marts.campaign_performance as select 1 as x")
            con.execute("create schema if not exists intermediate")
            con.execute(
                "create or replace table intermediate.int_messages as select "
                "timestamp '2026-10-30 10:00' as attempted_at, true as is_sent, "
                "true as has_any_status"
            )
            con.close()
        return _Invocation(fail=op == self.fail_op, whole_project=whole_project)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in (*DBT_ENV, "WA_EXTRACTS_DIR", "WA_WAREHOUSE_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    (tmp_path / "extracts" / "clicks").mkdir(parents=True)
    (tmp_path / "extracts" / "clicks" / "clicks-2026-10-30.csv").write_text(
        "click_id,wamid,clicked_at,url,button_id,card_index\n"
    )
    # the pipeline exports these; monkeypatch restores them afterwards
    for name in ("WA_SERVING_PATH", "WA_SERVING_PARQUET_DIR"):
        monkeypatch.setenv(name, "")
    return Settings(
        extracts_dir=tmp_path / "extracts",
        warehouse_path=tmp_path / "warehouse.duckdb",
        serving_path=tmp_path / "serving.duckdb",
        serving_parquet_dir=tmp_path / "serving",
        as_of=datetime(2026, 11, 1, tzinfo=UTC),
    )


def _with_dbt(monkeypatch: pytest.MonkeyPatch, dbt: RecordingDbt) -> None:
    monkeypatch.setattr(definitions, "dbt_resource", lambda: dbt)


# -- partitions ------------------------------------------------------------------------


def test_partitions_are_days_weeks_from_monday_and_months() -> None:
    start = date(2025, 1, 1)  # a Wednesday
    daily = period_partitions("daily", start)
    assert daily.get_first_partition_key() == "2025-01-01"
    weekly = period_partitions("weekly", start)
    keys = weekly.get_partition_keys(current_time=datetime(2025, 3, 1, tzinfo=UTC))
    # the first week holds the start date; every week starts on a Monday
    assert keys[0] == "2024-12-30"
    assert {date.fromisoformat(key).weekday() for key in keys} == {0}
    window = weekly.time_window_for_partition_key("2026-10-05")
    assert (window.start.date(), window.end.date()) == (date(2026, 10, 5), date(2026, 10, 12))
    monthly = period_partitions("monthly", date(2025, 1, 15))
    assert monthly.get_first_partition_key() == "2025-01-01"
    assert monthly.time_window_for_partition_key("2026-02-01").end.date() == date(2026, 3, 1)


def test_the_running_period_can_be_backfilled() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday
    last = {
        period: period_partitions(period, date(2025, 1, 1)).get_partition_keys(current_time=now)[-1]
        for period in PERIODS
    }
    assert last == {"daily": "2026-11-25", "weekly": "2026-11-23", "monthly": "2026-11-01"}


def test_the_period_marts_are_partitioned_with_single_run_backfills() -> None:
    expected = {
        "daily": dg.DailyPartitionsDefinition,
        "weekly": dg.WeeklyPartitionsDefinition,
        "monthly": dg.MonthlyPartitionsDefinition,
    }
    for period, assets in period_marts.items():
        assert {key.to_user_string() for key in assets.keys} == {
            f"marts/campaign_performance_{period}"
        }
        assert isinstance(assets.partitions_def, expected[period])
        assert assets.backfill_policy == dg.BackfillPolicy.single_run()
        assert assets.op.pool == "warehouse_writer"
    assert warehouse_dbt_models.partitions_def is None
    period_keys = {key for assets in period_marts.values() for key in assets.keys}
    assert not period_keys & set(warehouse_dbt_models.keys)


def test_the_partitions_start_comes_from_the_environment() -> None:
    assert partitions_start_from_env({}) == date(2025, 1, 1)
    assert partitions_start_from_env({"WA_PARTITIONS_START": "2026-03-04"}) == date(2026, 3, 4)
    assert Settings.from_env({"WA_PARTITIONS_START": "2026-03-04"}).partitions_start == date(
        2026, 3, 4
    )
    with pytest.raises(ConfigError, match="WA_PARTITIONS_START"):
        partitions_start_from_env({"WA_PARTITIONS_START": "March"})


def test_tests_across_definitions_wait_for_every_mart() -> None:
    """A test reading models of two dbt definitions runs in cross_mart_tests, not in a build."""
    manifest = {
        "nodes": {
            "model.p.a": {"resource_type": "model", "tags": []},
            "model.p.d": {"resource_type": "model", "tags": ["partitioned", "daily"]},
            "model.p.w": {"resource_type": "model", "tags": ["weekly", "partitioned"]},
            "test.p.only_a": _test("only_a", "model.p.a"),
            "test.p.only_d": _test("only_d", "model.p.d"),
            "test.p.a_and_d": _test("a_and_d", "model.p.a", "model.p.d"),
            "test.p.d_and_w": _test("d_and_w", "model.p.d", "model.p.w"),
        }
    }
    assert cross_definition_tests(manifest) == ["a_and_d", "d_and_w"]
    exclude = warehouse_dbt_models.op.tags["dagster_dbt/exclude"]
    assert exclude == "tag:partitioned tag:partitioned+,resource_type:test"


def _test(name: str, *parents: str) -> dict[str, Any]:
    return {"resource_type": "test", "name": name, "depends_on": {"nodes": list(parents)}}


# -- what dbt receives -------------------------------------------------------------------


def test_dbt_environment() -> None:
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    assert dbt_environment(as_of=as_of) == {
        "WA_AS_OF": "2026-11-01T00:00:00Z",
        "WA_PERIOD_START": "",
        "WA_PERIOD_END": "",
    }
    window = dbt_environment(as_of=as_of, window=("2026-10-05", "2026-10-26"))
    assert (window["WA_PERIOD_START"], window["WA_PERIOD_END"]) == ("2026-10-05", "2026-10-26")


def test_a_weekly_range_runs_once_with_its_window(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backfill of three weeks is one run, one dbt invocation, with the weeks' window."""
    dbt = RecordingDbt()
    _with_dbt(monkeypatch, dbt)
    defs = definitions.build_definitions(settings)
    instance = dg.DagsterInstance.ephemeral()
    result = defs.resolve_job_def(WEEKLY_JOB).execute_in_process(
        run_config=run_config_for(as_of=settings.as_of, job=WEEKLY_JOB),
        instance=instance,
        tags=dict(zip(RANGE_TAGS, ("2026-10-05", "2026-10-19"), strict=True)),
    )
    assert result.success
    assert len(instance.get_run_records()) == 1
    assert dbt.calls == [
        {
            "op": "campaign_performance_weekly",
            "args": ["build", "--exclude-resource-type", "unit_test"],
            "whole_project": False,
            "WA_AS_OF": "2026-11-01T00:00:00Z",
            "WA_PERIOD_START": "2026-10-05",
            "WA_PERIOD_END": "2026-10-26",
        }
    ]


def test_without_a_partition_the_window_is_empty(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WA_PERIOD_START", "2020-01-01")  # left over by an earlier build
    dbt = RecordingDbt()
    _with_dbt(monkeypatch, dbt)
    defs = definitions.build_definitions(settings)
    result = defs.resolve_job_def(MONTHLY_JOB).execute_in_process(
        run_config=run_config_for(as_of=settings.as_of, job=MONTHLY_JOB),
        instance=dg.DagsterInstance.ephemeral(),
        tags={"wa/as_of": "2026-10-01T00:00:00Z"},
    )
    assert result.success
    # the launchpad config wins over the tag
    assert [(c["WA_AS_OF"], c["WA_PERIOD_START"], c["WA_PERIOD_END"]) for c in dbt.calls] == [
        ("2026-11-01T00:00:00Z", "", "")
    ]


def test_the_pipeline_is_one_run_and_one_dbt_invocation_of_the_whole_project(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbt = RecordingDbt()
    _with_dbt(monkeypatch, dbt)
    result = pipeline.run_pipeline(settings, full_refresh=True)
    assert result.success, result.failure
    assert dbt.calls == [
        {
            "op": "warehouse_dbt_models",
            "args": ["build", "--full-refresh"],
            "whole_project": True,  # the period marts and the tests across marts included
            "WA_AS_OF": "2026-11-01T00:00:00Z",
            "WA_PERIOD_START": "",
            "WA_PERIOD_END": "",
        }
    ]
    assert settings.serving_path.exists()  # published by the same run


def test_an_incremental_pipeline_excludes_unit_tests(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbt = RecordingDbt()
    _with_dbt(monkeypatch, dbt)
    assert pipeline.run_pipeline(settings).success
    assert [(call["op"], call["args"]) for call in dbt.calls] == [
        ("warehouse_dbt_models", ["build", "--exclude-resource-type", "unit_test"])
    ]


def test_a_failed_build_stops_the_pipeline_before_the_publication(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbt = RecordingDbt(fail_op="warehouse_dbt_models")
    _with_dbt(monkeypatch, dbt)
    result = pipeline.run_pipeline(settings)
    assert not result.success
    assert "step warehouse_dbt_models failed: RuntimeError: dbt failed (recorded)" in result.failure
    assert "the previous publication stays in place" in result.failure
    assert not settings.serving_path.exists()


def _run_build(settings: Settings, **kwargs: Any) -> dg.ExecuteInProcessResult:
    pipeline.export_settings(settings, settings.as_of)
    defs = definitions.build_definitions(settings)
    return defs.resolve_job_def(BUILD_JOB).execute_in_process(
        run_config=run_config_for(as_of=settings.as_of),
        instance=dg.DagsterInstance.ephemeral(),
        **kwargs,
    )


def test_the_build_records_every_model_the_period_marts_included(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step's own models are its outputs; the period marts, materializations of theirs."""
    _with_dbt(monkeypatch, RecordingDbt())
    result = _run_build(settings)
    assert result.success
    materialized = {event.asset_key for event in result.get_asset_materialization_events()}
    assert set(DBT_MODEL_KEYS) | {dg.AssetKey("serving_publication")} <= materialized
    outputs = {
        event.step_output_data.output_name
        for event in result.all_events
        if event.is_successful_output and event.step_key == "warehouse_dbt_models"
    }
    assert outputs == {key.to_python_identifier() for key in warehouse_dbt_models.keys}
    assert settings.serving_path.exists()


def test_a_subset_of_the_build_selects_only_its_nodes(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Assets picked in the UI build through dagster-dbt's selection, not the whole project."""
    dbt = RecordingDbt()
    _with_dbt(monkeypatch, dbt)
    result = _run_build(settings, asset_selection=[dg.AssetKey(["marts", "campaign_performance"])])
    assert result.success
    assert [(call["op"], call["whole_project"]) for call in dbt.calls] == [
        ("warehouse_dbt_models", False)
    ]


def test_failing_tests_across_marts_stop_the_publication_after_a_backfill(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _with_dbt(monkeypatch, RecordingDbt(fail_op="cross_mart_tests"))
    pipeline.export_settings(settings, settings.as_of)
    defs = definitions.build_definitions(settings)
    result = defs.resolve_job_def(PUBLISH_JOB).execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False
    )
    assert not result.success
    failure = pipeline.describe_failure(result)
    assert "step cross_mart_tests failed" in failure
    assert "dbt tests across marts failed" in failure
    assert not settings.serving_path.exists()


def test_run_backfill_maps_days_to_the_periods_holding_them(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    dbt = RecordingDbt()
    _with_dbt(monkeypatch, dbt)
    # Wednesday 2026-10-07 to Tuesday 2026-10-20: the weeks of 10-05, 10-12 and 10-19
    result = pipeline.run_backfill(settings, "weekly", date(2026, 10, 7), date(2026, 10, 20))
    assert result.success, result.failure
    assert [(c["op"], c["WA_PERIOD_START"], c["WA_PERIOD_END"]) for c in dbt.calls] == [
        ("campaign_performance_weekly", "2026-10-05", "2026-10-26")
    ]
    dbt.calls.clear()
    result = pipeline.run_backfill(settings, "monthly", date(2026, 9, 30), date(2026, 10, 1))
    assert [(c["WA_PERIOD_START"], c["WA_PERIOD_END"]) for c in dbt.calls] == [
        ("2026-09-01", "2026-11-01")
    ]
    with pytest.raises(ConfigError, match="no daily partition"):
        pipeline.run_backfill(settings, "daily", date(2020, 1, 1), date(2020, 1, 2))
    with pytest.raises(ConfigError, match="before it starts"):
        pipeline.run_backfill(settings, "daily", date(2026, 1, 2), date(2026, 1, 1))


def test_every_building_job_takes_the_dbt_config() -> None:
    as_of = datetime(2026, 11, 1, tzinfo=UTC)
    assert set(DBT_OPS) == {BUILD_JOB, DAILY_JOB, WEEKLY_JOB, MONTHLY_JOB}
    for job in DBT_OPS:
        (config,) = run_config_for(as_of=as_of, full_refresh=True, job=job)["ops"].values()
        assert config == {"config": {"as_of": "2026-11-01T00:00:00Z", "full_refresh": True}}
    assert run_config_for(as_of=as_of, job=PUBLISH_JOB) == {}


def test_only_the_newest_dbt_invocation_folders_are_kept(tmp_path: Path) -> None:
    names = [f"warehouse_dbt_models-{n:07x}-abcdef{n % 10}" for n in range(5)] + ["1234abc"]
    for age, name in enumerate(reversed(names)):  # the first name is the oldest
        folder = tmp_path / name
        folder.mkdir()
        os.utime(folder, (1_000_000 - age, 1_000_000 - age))
    for kept in ("compiled", "run", "unit-tests"):
        (tmp_path / kept).mkdir()
    (tmp_path / "partial_parse.msgpack").write_bytes(b"state")

    removed = prune_invocation_folders(tmp_path, keep=2)

    assert sorted(p.name for p in removed) == sorted(names[:4])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*names[4:], "compiled", "run", "unit-tests", "partial_parse.msgpack"]
    )
