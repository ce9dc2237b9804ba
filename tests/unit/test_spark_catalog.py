"""The DuckDB window onto the Spark warehouse: one view per Spark table folder.

The folders are written here the way Spark writes them (Parquet part files, a
``_SUCCESS`` marker, ``column=value`` partition folders, timestamps as UTC
instants), by DuckDB, so the test needs no JVM.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from orchestration.config import (
    DEFAULT_SPARK_WAREHOUSE_PATH,
    DEFAULT_WAREHOUSE_PATH,
    ConfigError,
    Settings,
)
from orchestration.spark.catalog import refresh_views, spark_tables


def write_table(folder: Path, sql: str, *, partition_by: str | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        if partition_by:
            con.execute(
                f"copy ({sql}) to '{folder}' (format parquet, partition_by ({partition_by}), "
                "overwrite_or_ignore true)"
            )
        else:
            con.execute(
                f"copy ({sql}) to '{folder / 'part-00000.snappy.parquet'}' (format parquet)"
            )
    (folder / "_SUCCESS").write_text("")


@pytest.fixture
def warehouse_dir(tmp_path: Path) -> Path:
    root = tmp_path / "spark" / "warehouse"
    write_table(
        root / "marts.db" / "campaign_performance",
        "select 'c1' as campaign_id, 10::bigint as sent, "
        "timestamptz '2026-11-01 10:00:00+00' as built_at",
    )
    write_table(
        root / "raw.db" / "dispatches",
        "select * from (values ('d1', 'dispatches/dispatches-2026-11-01.csv'), "
        "('d2', 'dispatches/dispatches-2026-11-02.csv')) as t(dispatch_id, _file)",
        partition_by="_file",
    )
    (root / "staging.db" / "not_built_yet").mkdir(parents=True)
    return root


def test_every_table_folder_is_found(warehouse_dir):
    assert sorted(spark_tables(warehouse_dir)) == [
        ("marts", "campaign_performance"),
        ("raw", "dispatches"),
        ("staging", "not_built_yet"),
    ]


def test_views_read_the_files_with_naive_utc_timestamps(warehouse_dir, tmp_path):
    with duckdb.connect(str(tmp_path / "window.duckdb")) as con:
        viewed = refresh_views(con, warehouse_dir)
        assert sorted(viewed) == ["marts.campaign_performance", "raw.dispatches"]
        row = con.execute("select campaign_id, sent, built_at from marts.campaign_performance")
        assert row.fetchall() == [("c1", 10, datetime(2026, 11, 1, 10, 0))]
        types = {
            name: kind
            for name, kind, *_ in con.execute("describe marts.campaign_performance").fetchall()
        }
        assert types["built_at"] == "TIMESTAMP"


def test_a_partition_column_comes_back_as_spark_wrote_it(warehouse_dir, tmp_path):
    with duckdb.connect(str(tmp_path / "window.duckdb")) as con:
        refresh_views(con, warehouse_dir)
        rows = con.execute("select dispatch_id, _file from raw.dispatches order by 1").fetchall()
    assert rows == [
        ("d1", "dispatches/dispatches-2026-11-01.csv"),
        ("d2", "dispatches/dispatches-2026-11-02.csv"),
    ]


def test_a_rewritten_table_is_read_as_it_is_now_and_a_dropped_one_loses_its_view(
    warehouse_dir, tmp_path
):
    with duckdb.connect(str(tmp_path / "window.duckdb")) as con:
        refresh_views(con, warehouse_dir)
        folder = warehouse_dir / "marts.db" / "campaign_performance"
        for file in folder.iterdir():
            file.unlink()
        write_table(folder, "select 'c2' as campaign_id, 7::bigint as sent, now() as built_at")
        assert con.execute("select campaign_id from marts.campaign_performance").fetchall() == [
            ("c2",)
        ]
        for file in (warehouse_dir / "raw.db" / "dispatches").rglob("*"):
            if file.is_file():
                file.unlink()
        refresh_views(con, warehouse_dir)
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
    assert names == [("marts.campaign_performance",)]


def test_the_engine_picks_the_default_warehouse_file():
    assert Settings.from_env({}).engine == "duckdb"
    assert Settings.from_env({}).warehouse_path == Path(DEFAULT_WAREHOUSE_PATH)
    spark = Settings.from_env({"WA_ENGINE": "Spark"})
    assert spark.engine == "spark"
    assert spark.warehouse_path == Path(DEFAULT_SPARK_WAREHOUSE_PATH)
    assert spark.spark_dir == Path("data/spark")
    chosen = Settings.from_env({"WA_ENGINE": "spark", "WA_WAREHOUSE_PATH": "w.duckdb"})
    assert chosen.warehouse_path == Path("w.duckdb")


def test_an_unknown_engine_is_a_configuration_error():
    with pytest.raises(ConfigError, match="WA_ENGINE='postgres' is not an engine"):
        Settings.from_env({"WA_ENGINE": "postgres"})
