"""The dbt build, for real: the pipeline run records every model and test of its one dbt
build, the dbt unit tests pass, a failed build stops before the publication, and only
the newest dbt invocation folders are kept."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration import definitions, pipeline
from orchestration.config import Settings, format_as_of
from orchestration.defs.dbt_project import PROJECT_DIR, dbt_project, dbt_resource, manifest_path
from orchestration.defs.jobs import BUILD_JOB, CLI_TRIGGER
from orchestration.defs.transform import (
    KEEP_INVOCATION_FOLDERS,
    PARTIAL_PARSE_FILE,
    TRANSLATOR,
    finish_invocation,
    warehouse_dbt_models,
    warehouse_target_path,
)
from orchestration.generator import GeneratorConfig, generate
from tests.conftest import PipelineRun, cli_env, run_cli

pytestmark = pytest.mark.slow

DBT_STEP = warehouse_dbt_models.op.name
PUBLICATION = dg.AssetKey("serving_publication")
# what a pipeline run in this process exports (monkeypatch restores them afterwards)
EXPORTED_ENV = (
    "DBT_TARGET_PATH",
    "WA_AS_OF",
    "WA_EXTRACTS_DIR",
    "WA_WAREHOUSE_PATH",
    "WA_SERVING_PATH",
    "WA_SERVING_PARQUET_DIR",
)


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


@pytest.fixture
def tiny_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A tiny generated sample and a fresh warehouse; no persistent Dagster instance."""
    for name in EXPORTED_ENV:
        monkeypatch.setenv(name, "")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    sample = generate(
        GeneratorConfig(
            out=tmp_path / "extracts",
            seed=11,
            accounts=3,
            campaigns=4,
            days=5,
            recipients_per_send=10,
            end_date=date(2026, 10, 31),
        )
    )
    settings = Settings(
        extracts_dir=sample.out,
        warehouse_path=tmp_path / "warehouse.duckdb",
        serving_path=tmp_path / "serving.duckdb",
        serving_parquet_dir=tmp_path / "serving",
        as_of=datetime(2026, 11, 1, tzinfo=UTC),
    )
    yield settings
    # the dbt target folder of this throw-away warehouse (under the project's target/)
    shutil.rmtree(warehouse_target_path(settings.warehouse_path), ignore_errors=True)


def test_a_failed_build_stops_the_pipeline_before_the_publication(
    tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dbt fails (here: a target the profile does not have): the loaders ran, the run
    fails at the dbt step, and the previous publication stays byte for byte."""
    settings = tiny_settings
    broken = DbtCliResource(
        project_dir=dbt_project,
        profiles_dir=str(PROJECT_DIR),
        dbt_executable=dbt_resource().dbt_executable,
        target="no_such_target",
    )
    monkeypatch.setattr(definitions, "dbt_resource", lambda: broken)
    previous = b"the previous publication"
    settings.serving_path.write_bytes(previous)
    settings.serving_parquet_dir.mkdir()
    (settings.serving_parquet_dir / "campaign_performance.parquet").write_bytes(previous)

    result = pipeline.run_pipeline(settings)

    assert not result.success
    assert result.as_of == settings.as_of
    assert f"step {DBT_STEP} failed: dagster_dbt.errors.DagsterDbtCliRuntimeError" in result.failure
    assert "the previous publication stays in place" in result.failure
    # dbt ran in the warehouse's own target folder, and the step put the environment
    # it gave dbt (WA_AS_OF, DBT_TARGET_PATH) back as it was
    target = warehouse_target_path(settings.warehouse_path)
    assert [p.name for p in target.iterdir() if p.name.startswith(DBT_STEP)]  # dbt was run
    assert os.environ.get("DBT_TARGET_PATH") != str(target)
    assert os.environ.get("WA_AS_OF") != format_as_of(settings.as_of)
    assert settings.serving_path.read_bytes() == previous
    assert [p.name for p in settings.serving_parquet_dir.iterdir()] == [
        "campaign_performance.parquet"
    ]
    assert (settings.serving_parquet_dir / "campaign_performance.parquet").read_bytes() == previous
    # the steps before the build did their work
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        assert con.execute("select count(*) from raw.dispatches").fetchone()[0] > 0
        schemas = {s for (s,) in con.execute("select schema_name from duckdb_schemas()").fetchall()}
    finally:
        con.close()
    assert "marts" not in schemas


def test_a_failed_error_check_keeps_the_previous_publication(tmp_path: Path) -> None:
    """A check of severity ERROR that fails (here: quarantine_share, the tiny sample's
    malformed rows are over 5 % of its rows) blocks the build and the publication: the
    previous publication stays byte for byte, and `wa-warehouse run` exits 1 naming
    the failed checks."""
    sample = generate(
        GeneratorConfig(
            out=tmp_path / "extracts", seed=11, accounts=3, campaigns=4, days=5,
            recipients_per_send=10, end_date=date(2026, 10, 31),
        )
    )  # fmt: skip
    env = cli_env(tmp_path)
    # the ERROR level applies from 1,000 delivered rows by default; the tiny sample
    # has fewer, so this test lowers that minimum to make its share count
    env["WA_QUARANTINE_MIN_ROWS"] = "0"
    serving = Path(env["WA_SERVING_PATH"])
    previous = duckdb.connect(str(serving))
    previous.execute("create table the_previous_publication as select 1 as id")
    previous.close()
    before = serving.read_bytes()
    warehouse = tmp_path / "warehouse.duckdb"
    result = run_cli("run", "--extracts", str(sample.out), "--warehouse", str(warehouse), env=env)

    assert result.returncode == 1, result.stderr
    assert "CHECK FAILED (error)  raw/dispatches quarantine_share:" in result.stderr
    assert "nothing was published: the previous publication stays in place" in result.stderr
    assert "Traceback" not in result.stderr
    assert serving.read_bytes() == before
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        loaded, quarantined = con.execute(
            "select sum(rows_loaded), sum(rows_quarantined) from raw._loads "
            "where source = 'dispatches'"
        ).fetchone()
        schemas = {s for (s,) in con.execute("select schema_name from duckdb_schemas()").fetchall()}
    finally:
        con.close()
    assert quarantined / (loaded + quarantined) > 0.05  # why the check failed
    assert "marts" not in schemas  # the dbt build was blocked too
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster")) as instance:
        (record,) = instance.get_run_records()  # the run is in the UI's instance
        evaluations = _records(
            instance, record.dagster_run.run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION
        )
    failed = {
        e.event_log_entry.dagster_event.event_specific_data.check_name
        for e in evaluations
        if not e.event_log_entry.dagster_event.event_specific_data.passed
    }
    assert "quarantine_share" in failed


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
