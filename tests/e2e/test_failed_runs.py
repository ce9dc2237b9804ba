"""Failed runs end-to-end: a dbt build that fails and a check of severity ERROR that
fails each stop the run before the publication, and the previous publication stays.
Each builds its own tiny sample (a pipeline run of its own), so they live here, not
in tests/integration (one shared run)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_dbt import DbtCliResource

from orchestration import definitions, pipeline
from orchestration.config import Settings, format_as_of
from orchestration.defs.dbt_project import PROJECT_DIR, dbt_project, dbt_resource
from orchestration.defs.transform import warehouse_dbt_models, warehouse_target_path
from orchestration.generator import GeneratorConfig, generate
from tests.conftest import cli_env, run_cli

pytestmark = pytest.mark.slow

DBT_STEP = warehouse_dbt_models.op.name
# what a pipeline run in this process exports (monkeypatch restores them afterwards)
EXPORTED_ENV = (
    "DBT_TARGET_PATH",
    "WA_AS_OF",
    "WA_EXTRACTS_DIR",
    "WA_WAREHOUSE_PATH",
    "WA_SERVING_PATH",
    "WA_SERVING_PARQUET_DIR",
    "WA_ENGINE",
    "WA_SPARK_DIR",
)


def _records(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list:
    return list(instance.get_records_for_run(run_id, of_type=kind, limit=100_000).records)


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
    monkeypatch.setattr(definitions, "dbt_resource", lambda engine: broken)
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
