"""Fixtures of the loader tests: an empty warehouse file and an extracts root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "extracts"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """ONE SparkSession for the whole test session (local[2], 2 shuffle partitions, a
    temporary warehouse and metastore); tests get a fresh ``raw`` database each."""
    from orchestration.spark.session import SparkSettings, build_session

    settings = SparkSettings(
        master="local[2]",
        driver_memory="2g",
        spark_dir=tmp_path_factory.mktemp("spark"),
        shuffle_partitions=2,
        app_name="wa-warehouse-tests",
    )
    spark = build_session(settings)
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


def _fresh_spark_loader(spark: object, con: duckdb.DuckDBPyConnection, tmp_path: Path):
    """A Spark loader facade on a fresh ``raw`` database under ``tmp_path``."""
    from tests.unit.loaders import SparkLoader

    spark.sql("DROP DATABASE IF EXISTS raw CASCADE")
    spark.sql(f"CREATE DATABASE raw LOCATION '{tmp_path / 'spark_raw'}'")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    return SparkLoader(spark, con)


@pytest.fixture
def spark_loader(spark_session: object, con: duckdb.DuckDBPyConnection, tmp_path: Path):
    """The Spark loader alone (tests of what only the Spark implementation has)."""
    return _fresh_spark_loader(spark_session, con, tmp_path)


@pytest.fixture(
    params=[
        pytest.param("duckdb"),
        pytest.param("spark", marks=pytest.mark.spark),
    ]
)
def loader(request: pytest.FixtureRequest, con: duckdb.DuckDBPyConnection, tmp_path: Path):
    """The loader rules under test, on each engine (see ``tests/unit/loaders.py``)."""
    from tests.unit.loaders import DuckDBLoader

    if request.param == "duckdb":
        return DuckDBLoader(con)
    return _fresh_spark_loader(request.getfixturevalue("spark_session"), con, tmp_path)
