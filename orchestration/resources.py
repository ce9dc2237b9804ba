"""Dagster resources shared by the asset definitions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file (``WA_WAREHOUSE_PATH``).

    Connections are opened per use and closed right after, so the file is free
    for the dbt subprocess between steps: DuckDB allows one writer process.
    """

    path: str

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        file = Path(self.path)
        file.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(file), read_only=read_only)
        try:
            con.execute("set TimeZone = 'UTC'")
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
