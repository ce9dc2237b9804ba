"""Row-for-row comparison of two builds' marts (the DuckDB and the Spark engine).

Used by the parity test (tests/e2e/test_spark_parity.py) and the bench's
``spark`` scenario.

Both builds are read through DuckDB: the DuckDB warehouse itself, and the Spark
warehouse through its DuckDB window (orchestration/spark/catalog.py). Two marts
are equal when they have the same columns in the same order, the same number of
rows, and, with both sides sorted the same way, equal values: exact for text,
integers, decimals, dates and timestamps, within ``tolerance`` (relative and
absolute) for doubles, whose last bits depend on the order an engine adds in.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

TOLERANCE = 1e-9


def compare_warehouses(expected: Path, actual: Path, *, tolerance: float = TOLERANCE) -> list[str]:
    """:func:`compare_marts` of two DuckDB files (a warehouse, or a serving copy)."""
    with (
        duckdb.connect(str(expected), read_only=True) as left,
        duckdb.connect(str(actual), read_only=True) as right,
    ):
        return compare_marts(left, right, tolerance=tolerance)


def mart_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts' "
        "and table_name not like '\\_%' escape '\\' order by 1"
    ).fetchall()
    return [name for (name,) in rows]


def _frame(con: duckdb.DuckDBPyConnection, mart: str) -> tuple[list[str], list[str], pd.DataFrame]:
    relation = con.sql(f'select * from marts."{mart}"')
    columns, types = relation.columns, [str(t) for t in relation.types]
    frame = relation.df()
    # sort on every column, doubles rounded so that 1e-12 differences sort alike
    keys = pd.DataFrame(
        {
            column: frame[column].round(6) if kind == "DOUBLE" else frame[column].astype(str)
            for column, kind in zip(columns, types, strict=True)
        }
    )
    order = keys.sort_values(by=list(columns), kind="mergesort").index
    return columns, types, frame.loc[order].reset_index(drop=True)


def _mismatches(left: pd.Series, right: pd.Series, kind: str, tolerance: float) -> pd.Series:
    """True where two aligned columns differ (nulls equal nulls)."""
    missing_left, missing_right = left.isna().to_numpy(), right.isna().to_numpy()
    if kind == "DOUBLE":
        close = np.isclose(
            left.to_numpy(dtype=float),
            right.to_numpy(dtype=float),
            rtol=tolerance,
            atol=tolerance,
            equal_nan=True,
        )
        return pd.Series(~close)
    both = ~missing_left & ~missing_right
    equal = np.zeros(len(left), dtype=bool)
    equal[both] = (left[both].to_numpy() == right[both].to_numpy()).astype(bool)
    return pd.Series(~(equal | (missing_left & missing_right)))


def compare_mart(
    expected: duckdb.DuckDBPyConnection,
    actual: duckdb.DuckDBPyConnection,
    mart: str,
    *,
    tolerance: float = TOLERANCE,
    max_examples: int = 3,
) -> list[str]:
    """The differences between one mart of two builds (empty when equal)."""
    columns, types, left = _frame(expected, mart)
    actual_columns, actual_types, right = _frame(actual, mart)
    if list(columns) != list(actual_columns):
        return [f"{mart}: columns {list(actual_columns)} instead of {list(columns)}"]
    if len(left) != len(right):
        return [f"{mart}: {len(right)} rows instead of {len(left)}"]
    problems = []
    for column, kind, actual_kind in zip(columns, types, actual_types, strict=True):
        if kind != actual_kind:
            problems.append(f"{mart}.{column}: type {actual_kind} instead of {kind}")
            continue
        differing = _mismatches(left[column], right[column], kind, tolerance)
        for row in differing[differing].index[:max_examples]:
            expected_value, actual_value = left[column][row], right[column][row]
            problems.append(
                f"{mart}.{column} row {row} of {len(left)}: {actual_value!r} "
                f"instead of {expected_value!r}"
            )
    return problems


def compare_marts(
    expected: duckdb.DuckDBPyConnection,
    actual: duckdb.DuckDBPyConnection,
    *,
    tolerance: float = TOLERANCE,
) -> list[str]:
    """Every difference between the marts of two builds: missing or extra marts,
    columns, row counts and values (a few examples per mart)."""
    for con in (expected, actual):
        con.execute("set TimeZone = 'UTC'")
    names, actual_names = mart_names(expected), mart_names(actual)
    problems = [f"mart {name} missing" for name in names if name not in actual_names]
    problems += [f"mart {name} not expected" for name in actual_names if name not in names]
    for name in names:
        if name in actual_names:
            problems += compare_mart(expected, actual, name, tolerance=tolerance)
    return problems
