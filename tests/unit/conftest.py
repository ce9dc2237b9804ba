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
