"""Shared helpers: generated extracts and complete pipeline runs on them.

The test pyramid: ``tests/unit`` (seconds, no pipeline run),
``tests/integration`` (one shared pipeline run, ``pipeline_run`` in its
conftest, made of a first run and a second, incremental one) and
``tests/e2e`` (the day-by-day feed, reruns, kills, ``make run``, a second
dataset in another format).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.generator import GeneratorConfig, generate
from orchestration.layout import extract_day_of

BIN = Path(sys.executable).parent


def pytest_sessionstart(session: pytest.Session) -> None:
    """Parse the dbt project first if a dbt file changed, so every test (and the
    Dagster definitions the tests import) reads the same, current manifest."""
    from orchestration.defs.dbt_project import prepare_manifest

    prepare_manifest()


# The additive message counts of marts.md that the ground truth carries (revenue apart).
CAMPAIGN_COUNTS = (
    "targeted", "sent", "dropped", "delivered", "undelivered", "delivery_pending",
    "opens", "clicks", "conversions", "unsubscribes", "responses",
)  # fmt: skip
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PipelineRun:
    """A generated dataset and the warehouse ``wa-warehouse run`` built from it."""

    extracts: Path
    warehouse: Path
    truth: dict[str, Any]
    env: dict[str, str]

    @property
    def serving(self) -> Path:
        """The published DuckDB copy BI tools read (WA_SERVING_PATH of the run)."""
        return Path(self.env["WA_SERVING_PATH"])

    @property
    def serving_parquet_dir(self) -> Path:
        """The published Parquet files (WA_SERVING_PARQUET_DIR of the run)."""
        return Path(self.env["WA_SERVING_PARQUET_DIR"])

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def rerun(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            "run",
            "--extracts",
            str(self.extracts),
            "--warehouse",
            str(self.warehouse),
            *extra,
            env=self.env,
        )


def cli_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WA_")}
    env["DAGSTER_HOME"] = str(tmp / "dagster")
    # runs publish the marts: under tmp, never over the repository's data/serving*
    env["WA_SERVING_PATH"] = str(tmp / "serving.duckdb")
    env["WA_SERVING_PARQUET_DIR"] = str(tmp / "serving")
    (tmp / "dagster").mkdir(parents=True, exist_ok=True)
    return env


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "wa-warehouse"), *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def copy_of(run: PipelineRun, tmp: Path) -> PipelineRun:
    """A copy of a run's extracts, warehouse and publication under ``tmp``, with its own
    Dagster home: an e2e test that runs the pipeline again leaves the shared run as it is."""
    env = cli_env(tmp)
    extracts = tmp / "extracts"
    shutil.copytree(run.extracts, extracts)
    warehouse = tmp / "warehouse.duckdb"
    shutil.copyfile(run.warehouse, warehouse)
    shutil.copyfile(run.serving, env["WA_SERVING_PATH"])
    shutil.copytree(run.serving_parquet_dir, env["WA_SERVING_PARQUET_DIR"])
    return PipelineRun(extracts=extracts, warehouse=warehouse, truth=run.truth, env=env)


def files_of(root: Path) -> set[str]:
    """Every extract file under ``root``, as ``folder/name``."""
    return {p.relative_to(root).as_posix() for p in root.glob("*/*") if p.is_file()}


def deliver_until(source: Path, feed: Path, day: date) -> set[str]:
    """Copy every file of ``source`` cut on or before ``day`` (and the undated account
    snapshot) that ``feed`` lacks; returns the files copied."""
    added = set()
    for rel in sorted(files_of(source) - files_of(feed)):
        folder, name = rel.split("/")
        cut = extract_day_of(folder, name)
        if cut is None or date.fromisoformat(cut) <= day:
            (feed / folder).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, feed / rel)
            added.add(rel)
    return added


def midnight_after(day: date) -> datetime:
    """The as-of time of a run that has every extract up to ``day``."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def generate_and_run(
    tmp: Path, config: GeneratorConfig, *, incremental: bool = False
) -> PipelineRun:
    """Generate ``config`` and run the pipeline on it. ``incremental``: first on every
    file but the last day's, then once more with the last day added (an incremental
    run), so the marts compared with the ground truth are those of a second run."""
    result = generate(config)
    env = cli_env(tmp)
    warehouse = tmp / "warehouse.duckdb"
    extracts = result.out
    if incremental:
        extracts = tmp / "feed"
        extracts.mkdir()
        last_day = config.end_date
        deliver_until(result.out, extracts, last_day - timedelta(days=1))
        first = run_cli("run", "--extracts", str(extracts), "--warehouse", str(warehouse), env=env)
        assert first.returncode == 0, f"first run failed:\n{first.stdout}\n{first.stderr}"
        assert deliver_until(result.out, extracts, last_day), "nothing cut on the last day"
    run = run_cli("run", "--extracts", str(extracts), "--warehouse", str(warehouse), env=env)
    assert run.returncode == 0, f"wa-warehouse run failed:\n{run.stdout}\n{run.stderr}"
    truth = json.loads(result.truth_path.read_text())
    return PipelineRun(extracts=extracts, warehouse=warehouse, truth=truth, env=env)


# Two datasets with different shapes and formats: the marts must equal the
# generator's ground truth on both (the first in tests/integration, the
# second in tests/e2e).
SEED_CONFIGS = {
    "seed7-csv": dict(
        seed=7,
        accounts=10,
        campaigns=18,
        days=40,
        recipients_per_send=50,
        end_date=date(2026, 10, 31),
        format="csv",
    ),
    "seed2026-parquet": dict(
        seed=2026,
        accounts=12,
        campaigns=20,
        days=38,
        recipients_per_send=45,
        end_date=date(2026, 11, 20),
        format="parquet",
    ),
}


def dataset_run(tmp_path_factory, name: str, *, incremental: bool = False) -> PipelineRun:
    """Generate one of :data:`SEED_CONFIGS` and run the pipeline on it."""
    tmp = tmp_path_factory.mktemp(name)
    config = GeneratorConfig(out=tmp / "extracts", **SEED_CONFIGS[name])
    return generate_and_run(tmp, config, incremental=incremental)


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory) -> PipelineRun:
    """The shared pipeline run of a test session: the seed7-csv dataset, first every
    file but the last day's, then the last day (an incremental second run).
    tests/integration reads it as ``pipeline_run``; the e2e tests that start from it
    (and run the pipeline again on a copy) ask for it by this name."""
    return dataset_run(tmp_path_factory, "seed7-csv", incremental=True)


def mart_fingerprints(run: PipelineRun) -> dict[str, tuple]:
    """Row count and an order-independent hash of every mart table."""
    tables = [
        t
        for (t,) in run.query(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1"
        )
    ]
    return {
        table: run.query(
            f'select count(*), sum(hash(t)) from (select * from marts."{table}") as t'
        )[0]
        for table in tables
    }
