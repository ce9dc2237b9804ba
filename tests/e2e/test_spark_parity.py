"""The Spark engine builds the marts the DuckDB engine builds, row for row.

One generated sample (about 20k dispatches, CSV) is run through the whole
pipeline twice: ``WA_ENGINE=duckdb`` (the default) and ``WA_ENGINE=spark``
(the pyspark loaders, dbt's ``spark`` target on local[2], the same Dagster
assets and checks, the same publication). Every published mart must be equal:
the same columns, row counts and values, doubles within 1e-9
(orchestration/parity.py). Marked ``spark``: ``make test-fast`` skips it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.defs.transform import MART_KEYS
from orchestration.generator import GeneratorConfig, generate
from orchestration.parity import compare_warehouses
from tests.conftest import cli_env, midnight_after, run_cli

pytestmark = pytest.mark.spark

END_DATE = date(2026, 10, 31)
SAMPLE = GeneratorConfig(
    out=Path("extracts"),  # replaced under tmp_path
    seed=13,
    accounts=6,
    campaigns=12,
    days=30,
    recipients_per_send=150,
    end_date=END_DATE,
    format="csv",
)


@pytest.fixture(scope="module")
def both_engines(tmp_path_factory) -> dict[str, dict[str, Path | str]]:
    tmp = tmp_path_factory.mktemp("spark_parity")
    extracts = generate(replace(SAMPLE, out=tmp / "extracts")).out
    as_of = midnight_after(END_DATE).strftime("%Y-%m-%dT%H:%M:%SZ")
    runs: dict[str, dict[str, Path | str]] = {}
    for engine in ("duckdb", "spark"):
        folder = tmp / engine
        env = cli_env(folder) | {"WA_ENGINE": engine, "WA_SPARK_DIR": str(folder / "spark")}
        warehouse = folder / "warehouse.duckdb"
        done = run_cli(
            "run", "--extracts", str(extracts), "--warehouse", str(warehouse),
            "--as-of", as_of, env=env,
        )  # fmt: skip
        assert done.returncode == 0, f"{engine} run failed:\n{done.stdout}\n{done.stderr}"
        runs[engine] = {
            "warehouse": warehouse,
            "serving": Path(env["WA_SERVING_PATH"]),
            "spark_dir": folder / "spark",
            "output": done.stdout + done.stderr,
        }
    return runs


def test_the_sample_is_the_size_the_issue_names(both_engines):
    with duckdb.connect(str(both_engines["duckdb"]["warehouse"]), read_only=True) as con:
        (dispatches,) = con.execute("select count(*) from raw.dispatches").fetchone()
    assert 15_000 <= dispatches <= 25_000


def test_spark_built_the_marts_itself(both_engines):
    """The Spark run's marts are Spark's tables (Parquet under WA_SPARK_DIR), and the
    DuckDB file of that run holds only views over them."""
    marts_dir = Path(both_engines["spark"]["spark_dir"]) / "warehouse" / "marts.db"
    built = {folder.name for folder in marts_dir.iterdir() if any(folder.glob("*.parquet"))}
    assert built == {key.path[-1] for key in MART_KEYS}
    with duckdb.connect(str(both_engines["spark"]["warehouse"]), read_only=True) as con:
        kinds = con.execute(
            "select table_type, count(*) from information_schema.tables "
            "where table_schema = 'marts' group by all"
        ).fetchall()
    assert kinds == [("VIEW", len(MART_KEYS))]


def test_every_published_mart_is_equal_row_for_row(both_engines):
    differences = compare_warehouses(
        Path(both_engines["duckdb"]["serving"]), Path(both_engines["spark"]["serving"])
    )
    assert differences == []


def test_the_marts_are_not_trivially_equal(both_engines):
    """Equal marts prove something only if they hold the sample: every campaign,
    with sends, deliveries, opens and clicks."""
    with duckdb.connect(str(both_engines["spark"]["serving"]), read_only=True) as con:
        campaigns, sent, delivered, opens, clicks = con.execute(
            "select count(*), sum(sent), sum(delivered), sum(opens), sum(clicks) "
            "from marts.campaign_performance"
        ).fetchone()
    assert campaigns == SAMPLE.campaigns
    assert sent > 10_000 and delivered > 0 and opens > 0 and clicks > 0


def test_a_spark_rerun_with_nothing_new_changes_nothing(both_engines, tmp_path):
    """The same rule as DuckDB's: a run with nothing new loads and builds nothing."""
    spark = both_engines["spark"]
    env = cli_env(Path(spark["warehouse"]).parent) | {
        "WA_ENGINE": "spark",
        "WA_SPARK_DIR": str(spark["spark_dir"]),
    }
    before = compare_warehouses(Path(both_engines["duckdb"]["serving"]), Path(spark["serving"]))
    extracts = Path(spark["warehouse"]).parents[1] / "extracts"
    done = run_cli(
        "run", "--extracts", str(extracts), "--warehouse", str(spark["warehouse"]),
        "--as-of", midnight_after(END_DATE).strftime("%Y-%m-%dT%H:%M:%SZ"), env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing to build" in (done.stdout + done.stderr).lower() or "up to date" in (
        done.stdout + done.stderr
    )
    after = compare_warehouses(Path(both_engines["duckdb"]["serving"]), Path(spark["serving"]))
    assert before == after == []
