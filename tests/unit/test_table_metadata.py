"""Row counts and column schemas on dbt's materializations, and dbt's own error first."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.defs.table_metadata import with_table_metadata
from orchestration.resources import WarehouseResource


def _key(output_name: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", output_name])


def test_materializations_gain_row_counts_and_column_schemas(tmp_path: Path) -> None:
    warehouse = WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))
    with warehouse.connect() as con:
        con.execute("create schema marts")
        con.execute("create table marts.campaigns as select 'c1' as campaign_id, 3 as sent")
    events = [dg.Output(None, output_name="campaigns"), "a log line"]

    (output, line) = list(with_table_metadata(events, warehouse, _key))

    assert line == "a log line"
    assert output.metadata["dagster/row_count"].value == 1
    columns = output.metadata["dagster/column_schema"].value.columns
    assert [(c.name, c.type) for c in columns] == [("campaign_id", "VARCHAR"), ("sent", "INTEGER")]


def test_a_failed_dbt_is_the_error_even_while_it_holds_the_warehouse(tmp_path: Path) -> None:
    """dbt fails while its process still holds DuckDB's lock: the metadata read fails
    too, and the step reports dbt's error with the events it had, not the lock's."""
    warehouse = _LockedWarehouse(path=str(tmp_path / "warehouse.duckdb"))

    def dbt_events():
        yield dg.Output(None, output_name="campaigns")
        raise RuntimeError("dbt build failed")

    seen: list = []
    with pytest.raises(RuntimeError, match="dbt build failed"):
        for event in with_table_metadata(dbt_events(), warehouse, _key):
            seen.append(event)
    assert [type(event) for event in seen] == [dg.Output]


class _LockedWarehouse(WarehouseResource):
    """A warehouse whose file another process holds for writing."""

    def connect(self, *, read_only: bool = False):  # type: ignore[override]
        raise duckdb.IOException('IO Error: Could not set lock on file "warehouse.duckdb"')


def test_without_a_dbt_failure_a_metadata_error_is_not_hidden(tmp_path: Path) -> None:
    warehouse = _LockedWarehouse(path=str(tmp_path / "warehouse.duckdb"))
    with pytest.raises(duckdb.IOException):
        list(with_table_metadata([dg.Output(None, output_name="campaigns")], warehouse, _key))
