"""Dagster resources shared by the asset definitions."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from orchestration.config import DEFAULT_MEMORY_LIMIT, default_as_of, parse_as_of


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file (``WA_WAREHOUSE_PATH``).

    Connections are opened per use and closed right after, so the file is free
    for the dbt subprocess between steps: DuckDB allows one writer process.
    """

    path: str
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    """DuckDB spills to disk beyond this (``WA_MEMORY_LIMIT``; DuckDB's own default is
    80 % of the machine's memory)."""

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
    ``--as-of`` or default, a schedule's tick, the sensor, the launchpad);
    empty, it is the contract default, the next UTC midnight after the newest
    extract day, worked out at first use and kept for the rest of the run.
    """

    extracts: dg.ResourceDependency[ExtractsResource]
    value: str = ""
    _resolved: datetime | None = PrivateAttr(default=None)

    @property
    def resolved(self) -> datetime:
        if self._resolved is None:
            text = self.value.strip()
            self._resolved = parse_as_of(text) if text else default_as_of(self.extracts.path)
        return self._resolved


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
