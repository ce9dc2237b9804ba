"""The optional ``api`` column of dispatches (docs/contract/extracts.md).

Files with and without the column load (csv, csv.gz, parquet); absent or empty
means ``cloud_api``; any other value quarantines its row with a reason; a
warehouse created before the column existed gains it on its next load.

Every test runs on both engines (the ``loader`` fixture, see tests/unit/test_loading.py)
but ``test_a_warehouse_from_before_the_column_gains_it_and_keeps_its_rows``: a
migration of an older DuckDB warehouse (no Spark warehouse predates the column).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.loading import load_source
from orchestration.loading.schema import DATA_TABLES, LINEAGE_COLUMNS, qualified
from tests.unit.test_loading import DISPATCH_HEADER as HEADER
from tests.unit.test_loading import put


def row(i: int, api: str | None = None) -> str:
    line = f"d{i},acc_01,cmp_1,snd_1,u{i},+90532000000{i},2026-10-01T09:00:00Z,SENT,wamid.{i},,,"
    return line if api is None else f"{line},{api}"


def loaded(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT _file, dispatch_id, api FROM raw.dispatches ORDER BY _file, dispatch_id"
    ).fetchall()


def quarantined(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT file, line_number, raw_text, reason FROM raw._quarantine ORDER BY file, line_number"
    ).fetchall()


def test_the_raw_table_has_api_before_the_lineage_columns(loader, con):
    loader.ensure_raw_schema()
    columns = [name for name, _ in DATA_TABLES["dispatches"]]
    assert columns[-len(LINEAGE_COLUMNS) - 1] == "api"
    described = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() "
        "WHERE schema_name = 'raw' AND table_name = 'dispatches' ORDER BY column_index"
    ).fetchall()
    assert [c for c, _ in described] == loader.column_order("dispatches")
    if loader.engine == "spark":  # the partition column _file is last, the rest as declared
        assert loader.column_order("dispatches") == [c for c in columns if c != "_file"] + ["_file"]
    else:
        assert loader.column_order("dispatches") == columns
    assert loader.native_types("dispatches")["api"] in {"varchar", "string"}


@pytest.mark.parametrize("ext", ["csv", "csv.gz"])
def test_csv_with_and_without_the_column(loader, con, root, ext):
    put(root, f"dispatches/dispatches-2026-10-01.{ext}", f"{HEADER}\n{row(1)}\n{row(2)}\n")
    put(
        root,
        f"dispatches/dispatches-2026-10-02.{ext}",
        f"{HEADER},api\n"
        + "\n".join(
            [
                row(3, "cloud_api"),
                row(4, "marketing_messages_api"),
                row(5, ""),
                row(6, " Marketing_Messages_API "),
                row(7, "mm_api"),
            ]
        )
        + "\n",
    )

    result = loader.load_source(root, "dispatches")

    assert (result.rows_loaded, result.rows_quarantined) == (6, 1)
    day1, day2 = (f"dispatches/dispatches-2026-10-0{d}.{ext}" for d in (1, 2))
    assert loaded(con) == [
        (day1, "d1", "cloud_api"),
        (day1, "d2", "cloud_api"),
        (day2, "d3", "cloud_api"),
        (day2, "d4", "marketing_messages_api"),
        (day2, "d5", "cloud_api"),
        (day2, "d6", "marketing_messages_api"),
    ]
    assert quarantined(con) == [
        (
            day2,
            6,
            row(7, "mm_api"),
            'bad value in api: "mm_api" (expected cloud_api or marketing_messages_api, or empty)',
        )
    ]


def test_column_order_does_not_matter_and_other_bad_values_still_count(loader, con, root):
    put(
        root,
        "dispatches/dispatches-2026-10-01.csv",
        f"api,{HEADER}\n"
        f"marketing_messages_api,{row(1)}\n"
        f"whatsapp,{row(2).replace('2026-10-01T09:00:00Z', 'yesterday')}\n",
    )

    result = loader.load_source(root, "dispatches")

    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert loaded(con) == [("dispatches/dispatches-2026-10-01.csv", "d1", "marketing_messages_api")]
    ((_, line, _, reason),) = quarantined(con)
    assert line == 3
    assert reason == (
        'bad timestamp in attempted_at: "yesterday"; bad value in api: "whatsapp" '
        "(expected cloud_api or marketing_messages_api, or empty)"
    )


def write_parquet(con: duckdb.DuckDBPyConnection, path: Path, select: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")


def test_parquet_with_and_without_the_column(loader, con, root):
    base = (
        "SELECT 'd' || i AS dispatch_id, 'acc_01' AS account_id, 'cmp_1' AS campaign_id, "
        "'snd_1' AS send_id, 'u' || i AS user_id, '+905320000000' || i AS phone_number, "
        "TIMESTAMPTZ '2026-10-01 09:00:00+00' AS attempted_at, 'SENT' AS result, "
        "'wamid.' || i AS wamid, NULL AS drop_code, NULL::BIGINT AS meta_error_code, "
        "NULL AS meta_error_title"
    )
    folder = root / "dispatches"
    write_parquet(con, folder / "dispatches-2026-10-01.parquet", f"{base} FROM range(1, 3) t(i)")
    write_parquet(
        con,
        folder / "dispatches-2026-10-02.parquet",
        f"{base}, ['cloud_api', 'marketing_messages_api', NULL, 'other'][i - 2] AS api "
        "FROM range(3, 7) t(i)",
    )

    result = loader.load_source(root, "dispatches")

    assert (result.rows_loaded, result.rows_quarantined) == (5, 1)
    day1, day2 = (
        "dispatches/dispatches-2026-10-01.parquet",
        "dispatches/dispatches-2026-10-02.parquet",
    )
    assert loaded(con) == [
        (day1, "d1", "cloud_api"),
        (day1, "d2", "cloud_api"),
        (day2, "d3", "cloud_api"),
        (day2, "d4", "marketing_messages_api"),
        (day2, "d5", "cloud_api"),
    ]
    ((file, line, raw_text, reason),) = quarantined(con)
    assert (file, line) == (day2, 4)
    assert json.loads(raw_text)["api"] == "other"
    assert reason.startswith('bad value in api: "other"')


def test_a_warehouse_from_before_the_column_gains_it_and_keeps_its_rows(con, root):
    """The raw table as the loaders created it before ``api``: the next load adds the
    column (after the lineage columns), old rows keep null there (staging reads
    null as cloud_api) and new rows load with their value."""
    old_columns = [(n, t) for n, t in DATA_TABLES["dispatches"] if n != "api"]
    con.execute("CREATE SCHEMA raw")
    con.execute(
        f"CREATE TABLE {qualified('dispatches')} "
        f"({', '.join(f'{name} {typ}' for name, typ in old_columns)})"
    )
    con.execute(
        f"INSERT INTO {qualified('dispatches')} (dispatch_id, account_id, _file) "
        "VALUES ('d0', 'acc_01', 'dispatches/dispatches-2026-09-30.csv')"
    )
    put(
        root,
        "dispatches/dispatches-2026-10-01.csv",
        f"{HEADER},api\n{row(1, 'marketing_messages_api')}\n{row(2, '')}\n",
    )

    result = load_source(con, root, "dispatches")

    assert (result.rows_loaded, result.rows_quarantined) == (2, 0)
    columns = [
        c
        for (c,) in con.execute(
            "SELECT column_name FROM duckdb_columns() "
            "WHERE schema_name = 'raw' AND table_name = 'dispatches' ORDER BY column_index"
        ).fetchall()
    ]
    assert columns[-1] == "api"
    assert loaded(con) == [
        ("dispatches/dispatches-2026-09-30.csv", "d0", None),
        ("dispatches/dispatches-2026-10-01.csv", "d1", "marketing_messages_api"),
        ("dispatches/dispatches-2026-10-01.csv", "d2", "cloud_api"),
    ]
