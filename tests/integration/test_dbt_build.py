"""The dbt build, for real: the pipeline run records every model and test of its one dbt
build, the dbt unit tests pass, and only the newest dbt invocation folders are kept
(failed runs: tests/e2e/test_failed_runs.py)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster_dbt import dbt_assets

from orchestration.defs.dbt_project import dbt_project, dbt_resource, manifest_path
from orchestration.defs.jobs import BUILD_JOB, CLI_TRIGGER
from orchestration.defs.transform import (
    KEEP_INVOCATION_FOLDERS,
    PARTIAL_PARSE_FILE,
    TRANSLATOR,
    finish_invocation,
    warehouse_dbt_models,
)
from tests.conftest import PipelineRun

pytestmark = pytest.mark.slow

DBT_STEP = warehouse_dbt_models.op.name
PUBLICATION = dg.AssetKey("serving_publication")


def _records(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    return list(instance.get_records_for_run(run_id, of_type=kind, limit=100_000).records)


def _dbt_build_of_the_run() -> tuple[set[dg.AssetKey], set[dg.AssetCheckKey]]:
    """The models and the tests a daily build runs, from the manifest the run used.

    ``wa-warehouse run`` re-parses the project when a dbt file changed since the
    manifest was made, after this process loaded ``warehouse_dbt_models`` from the
    older one: the manifest is read again, the way the definitions read it. Daily
    builds leave out the tests of the seeds (they run with the unit tests)."""
    manifest = json.loads(manifest_path().read_text())

    @dbt_assets(manifest=manifest, project=dbt_project, dagster_dbt_translator=TRANSLATOR)
    def of_the_run(context):  # unannotated: dagster-dbt checks the annotation type
        ...

    # a test of the seeds only (in seeds/*.yml or tests/dbt/): `--exclude
    # path:seeds,resource_type:test` leaves it out by indirect selection
    seed_tests = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and all(parent.startswith("seed.") for parent in node["depends_on"]["nodes"])
    }
    assert seed_tests  # the seeds have tests, which daily builds leave out
    tests = {key for key in of_the_run.check_keys if key.name not in seed_tests}
    return set(of_the_run.keys), tests


def test_the_pipeline_run_records_every_model_and_test_of_its_one_dbt_build(
    pipeline_run: PipelineRun,
) -> None:
    """Every `wa-warehouse run` of the shared dataset is one build_warehouse run, with
    one dbt invocation: Dagster records each model's materialization and each dbt test's
    result in the instance of the run (its DAGSTER_HOME) with row counts and column
    schemas, the run's as-of time is derived in the run and tagged, and the publication
    comes after the dbt build. A rerun with
    nothing new builds nothing and publishes nothing."""
    expected_models, expected_tests = _dbt_build_of_the_run()
    assert len(expected_tests) >= 50
    # source tests are checks of the loader assets, run by dbt too
    assert {key.asset_key.path[0] for key in expected_tests} >= {"raw", "staging", "marts"}
    with dg.DagsterInstance.from_config(pipeline_run.env["DAGSTER_HOME"]) as instance:
        records = instance.get_run_records(
            filters=dg.RunsFilter(
                job_name=BUILD_JOB,
                statuses=[dg.DagsterRunStatus.SUCCESS],
                tags={"wa/trigger": CLI_TRIGGER},
            ),
            order_by="create_timestamp",
            ascending=True,
        )
        assert records, "the shared pipeline run left no successful build_warehouse run"
        as_ofs, built = [], 0
        for record in records:
            run = record.dagster_run
            # the CLI leaves the as-of time to the run, which derives it after its loads
            # and tags the run with it
            assert run.run_config["resources"]["as_of"]["config"]["value"] == "", run.run_id
            value = run.tags["wa/as_of"]
            assert run.run_config["ops"][DBT_STEP]["config"] == {"full_refresh": False}
            as_ofs.append(value)

            starts = _records(instance, run.run_id, dg.DagsterEventType.STEP_START)
            dbt_steps = [r for r in starts if r.event_log_entry.step_key == DBT_STEP]
            assert len(dbt_steps) == 1, run.run_id

            invocations = set()
            materialized = {}
            table_metadata = {}
            for r in _records(instance, run.run_id, dg.DagsterEventType.ASSET_MATERIALIZATION):
                event = r.event_log_entry.dagster_event
                materialized[event.asset_key] = r.storage_id
                metadata = event.event_specific_data.materialization.metadata
                table_metadata[event.asset_key] = metadata
                if r.event_log_entry.step_key == DBT_STEP:
                    invocations.add(metadata["invocation_id"].value)
            if not invocations:  # nothing new since the last build
                assert PUBLICATION not in materialized, run.run_id
                continue
            built += 1
            assert expected_models <= set(materialized), expected_models - set(materialized)
            assert PUBLICATION in materialized
            assert materialized[PUBLICATION] > max(materialized[key] for key in expected_models)
            # every model's materialization carries its columns, every table its row count
            mart = table_metadata[dg.AssetKey(["marts", "campaign_performance"])]
            last_mart = mart
            columns = [c.name for c in mart["dagster/column_schema"].value.columns]
            assert columns[:2] == ["account_id", "campaign_id"] and "revenue" in columns
            assert all("dagster/column_schema" in table_metadata[key] for key in expected_models)
            view = table_metadata[dg.AssetKey(["intermediate", "int_messages"])]
            assert "dagster/row_count" not in view  # counting a view runs its query
            last_raw = table_metadata[dg.AssetKey(["raw", "dispatches"])]  # the loaders' too

            results = {}
            for r in _records(instance, run.run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION):
                evaluation = r.event_log_entry.dagster_event.event_specific_data
                key = dg.AssetCheckKey(evaluation.asset_key, evaluation.check_name)
                if key in expected_tests:
                    results[key] = evaluation.passed
                    invocations.add(evaluation.metadata["invocation_id"].value)
            # every dbt test has a passing result, none left unevaluated
            assert results == dict.fromkeys(expected_tests, True), run.run_id
            # one dbt invocation made every model and ran every test
            assert len(invocations) == 1, invocations
    assert built, "no run of the shared pipeline run built the dbt project"
    # the newest build's row counts are the tables' (the loaders' materializations too)
    campaigns = pipeline_run.query("select count(*) from marts.campaign_performance")[0][0]
    assert last_mart["dagster/row_count"].value == campaigns
    rows = pipeline_run.query("select count(*) from raw.dispatches")[0][0]
    assert last_raw["dagster/row_count"].value == rows
    assert "_loaded_at" in [c.name for c in last_raw["dagster/column_schema"].value.columns]
    assert pipeline_run.truth["as_of"] in as_ofs


def test_the_dbt_unit_tests_pass(
    pipeline_run: PipelineRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Daily builds skip the dbt unit tests and the seeds' tests (only a full refresh
    runs them): run them here, on a copy of the shared warehouse (unit tests read their
    inputs' columns)."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(pipeline_run.warehouse, warehouse)
    monkeypatch.setenv("WA_WAREHOUSE_PATH", str(warehouse))
    invocation = dbt_resource().cli(
        ["test", "--select", "test_type:unit path:seeds,resource_type:test"],
        target_path=dbt_project.project_dir / dbt_project.target_path / "unit-tests",
    )
    results = [
        event.raw_event["data"]
        for event in invocation.stream_raw_events()
        if event.raw_event["info"]["name"] == "LogTestResult"
    ]
    assert invocation.is_successful(), [r["name"] for r in results if r["status"] != "pass"]
    assert len(results) >= 10
    assert {r["status"] for r in results} == {"pass"}
    manifest = json.loads(manifest_path().read_text())
    # a test of the seeds only (in seeds/*.yml or tests/dbt/): `--exclude
    # path:seeds,resource_type:test` leaves it out by indirect selection
    seed_tests = {
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and all(parent.startswith("seed.") for parent in node["depends_on"]["nodes"])
    }
    assert seed_tests <= {r["name"] for r in results}


def test_only_the_newest_dbt_invocation_folders_are_kept(tmp_path: Path) -> None:
    """An invocation's parse state becomes the shared one; old invocation folders go."""
    target = tmp_path / "target"
    target.mkdir()
    (target / PARTIAL_PARSE_FILE).write_bytes(b"old state")
    total = KEEP_INVOCATION_FOLDERS + 5
    names = [f"warehouse_dbt_models-{n:07x}-abcdef{n % 10}" for n in range(total - 1)]
    names.append("1234abc")  # an invocation outside an op: its folder is the bare hash
    for age, name in enumerate(reversed(names)):  # the first name is the oldest
        folder = target / name
        folder.mkdir()
        os.utime(folder, (1_000_000 - age, 1_000_000 - age))
    others = ("compiled", "run", "unit-tests", "warehouse_dbt_models-notahash")
    for kept in others:
        (target / kept).mkdir()
    newest = target / names[-1]
    (newest / PARTIAL_PARSE_FILE).write_bytes(b"new state")

    finish_invocation(newest)

    assert (target / PARTIAL_PARSE_FILE).read_bytes() == b"new state"
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [*names[-KEEP_INVOCATION_FOLDERS:], *others, PARTIAL_PARSE_FILE]
    )

    # an invocation without a parse state (dbt failed early) keeps the shared one
    failed = target / "warehouse_dbt_models-fffffff-fffffff"
    failed.mkdir()
    finish_invocation(failed)
    assert (target / PARTIAL_PARSE_FILE).read_bytes() == b"new state"
    assert failed.is_dir()
    assert len([p for p in target.iterdir() if p.name not in others]) == (
        KEEP_INVOCATION_FOLDERS + 1  # the folders kept and the parse state
    )
