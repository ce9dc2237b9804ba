"""Dagster resources shared by the asset definitions."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from orchestration.config import (
    AS_OF_TAG,
    DEFAULT_ENGINE,
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_SPARK_DIR,
    ENV_AS_OF,
    ConfigError,
    as_of_after,
    format_as_of,
    parse_as_of,
)
from orchestration.loading.ledger import newest_loaded_day


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file (``WA_WAREHOUSE_PATH``).

    Connections are opened per use and closed right after, so the file is free
    for the dbt subprocess between steps: DuckDB allows one writer process.

    With ``engine`` ``spark`` (``WA_ENGINE``) the tables are Spark's, under
    ``spark_dir`` (``WA_SPARK_DIR``), and the file holds a view of each
    (orchestration/spark/catalog.py), refreshed by :meth:`tables_written` after
    every step that writes Spark tables: every reader of the warehouse (the
    checks, the publication, the report) reads either engine's build alike.
    """

    path: str
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    """DuckDB spills to disk beyond this (``WA_MEMORY_LIMIT``; DuckDB's own default is
    80 % of the machine's memory)."""
    engine: str = DEFAULT_ENGINE
    spark_dir: str = DEFAULT_SPARK_DIR

    @property
    def is_spark(self) -> bool:
        return self.engine == "spark"

    @property
    def spark_warehouse_dir(self) -> Path:
        return Path(self.spark_dir) / "warehouse"

    def tables_written(self) -> None:
        """After a step wrote tables: on Spark, (re)create the views over them."""
        if self.is_spark:
            from orchestration.spark.catalog import refresh_views

            with self.connect() as con:
                refresh_views(con, self.spark_warehouse_dir)

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        file = Path(self.path)
        file.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(file), read_only=read_only)
        try:
            con.execute("set TimeZone = 'UTC'")
            con.execute(f"set memory_limit = '{self.memory_limit}'")
            yield con
        finally:
            con.close()


class ExtractsResource(dg.ConfigurableResource):
    """The extracts root upstream systems deliver into (``WA_EXTRACTS_DIR``)."""

    root: str
    always_hash: bool = False
    """Compare every file's sha256 with its last load, not only files whose
    size or modification time changed (``WA_LOAD_ALWAYS_HASH``)."""

    @property
    def path(self) -> Path:
        return Path(self.root)


class AsOfResource(dg.ConfigurableResource):
    """The run's as-of time, resolved once per run: the one value every step uses.

    ``value`` (ISO 8601) comes from whoever launched the run (the CLI's
    ``--as-of``, a schedule's tick, the launchpad). Empty (the CLI and the
    sensor without ``--as-of``), it is the contract default, worked out from the
    warehouse at first use, after the loads, and kept for the rest of the run:
    the next UTC midnight after the newest extract day of a file that loaded
    rows. An empty file, a file quarantined whole or one whose every row was
    quarantined never moves it. The resolved value is added to the run's tags
    (``wa/as_of``), so the UI shows it.
    """

    warehouse: dg.ResourceDependency[WarehouseResource]
    value: str = ""
    _resolved: datetime | None = PrivateAttr(default=None)
    _run: tuple[dg.DagsterInstance, str] | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if context.instance is not None and context.run_id:
            self._run = (context.instance, context.run_id)

    @property
    def resolved(self) -> datetime:
        if self._resolved is None:
            text = self.value.strip()
            self._resolved = parse_as_of(text) if text else self._default()
            if self._run is not None and not text:
                instance, run_id = self._run
                instance.add_run_tags(run_id, {AS_OF_TAG: format_as_of(self._resolved)})
        return self._resolved

    def _default(self) -> datetime:
        if not Path(self.warehouse.path).exists():
            newest = None
        else:
            with self.warehouse.connect(read_only=True) as con:
                newest = newest_loaded_day(con)
        if newest is None:
            raise ConfigError(
                f"no extract file has loaded rows into {self.warehouse.path}: cannot derive the "
                f"as-of time; deliver extracts or pass --as-of / set {ENV_AS_OF}"
            )
        return as_of_after(newest)


class ServingResource(dg.ConfigurableResource):
    """Where the marts are published for BI tools (``WA_SERVING_PATH``, ``WA_SERVING_PARQUET_DIR``).

    ``path`` is the DuckDB copy readers open read-only; ``parquet_dir`` holds one
    Parquet file per mart. Both are replaced atomically by each publication.
    """

    path: str
    parquet_dir: str

    @property
    def serving_path(self) -> Path:
        return Path(self.path)

    @property
    def parquet_path(self) -> Path:
        return Path(self.parquet_dir)
