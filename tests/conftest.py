"""Shared fixtures: generated extracts and complete pipeline runs on them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.generator import GeneratorConfig, generate

BIN = Path(sys.executable).parent

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


def generate_and_run(tmp: Path, config: GeneratorConfig) -> PipelineRun:
    result = generate(config)
    env = cli_env(tmp)
    warehouse = tmp / "warehouse.duckdb"
    run = run_cli("run", "--extracts", str(result.out), "--warehouse", str(warehouse), env=env)
    assert run.returncode == 0, f"wa-warehouse run failed:\n{run.stdout}\n{run.stderr}"
    truth = json.loads(result.truth_path.read_text())
    return PipelineRun(extracts=result.out, warehouse=warehouse, truth=truth, env=env)


# Two seeds with different shapes and formats: the marts must equal the
# generator's ground truth on both.
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


@pytest.fixture(scope="session", params=sorted(SEED_CONFIGS))
def pipeline_run(request, tmp_path_factory) -> PipelineRun:
    tmp = tmp_path_factory.mktemp(request.param)
    config = GeneratorConfig(out=tmp / "extracts", **SEED_CONFIGS[request.param])
    return generate_and_run(tmp, config)


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
