"""The dbt step's own rules, without dbt: nothing-new runs, its environment, folders."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from orchestration.defs import build_state
from orchestration.defs.build_state import build_inputs, record_build, up_to_date
from orchestration.defs.transform import (
    ENV_DBT_LOG_LEVEL_FILE,
    ENV_DBT_TARGET_PATH,
    dbt_environment,
    prune_folders,
    warehouse_target_path,
)

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.execute("create schema raw")
    con.execute("create table raw._loads (load_id varchar, loaded_at timestamp)")
    con.execute("create table raw._quarantine (file varchar, quarantined_at timestamp)")
    con.execute("insert into raw._loads values ('l1', timestamp '2026-11-01 01:00:00')")
    yield con
    con.close()


def test_a_run_with_nothing_new_is_up_to_date(con) -> None:
    assert not up_to_date(con, AS_OF), "no build recorded yet"
    record_build(con, AS_OF, build_inputs(con))
    assert up_to_date(con, AS_OF)


def test_a_later_as_of_a_load_or_a_quarantined_row_needs_a_build(con) -> None:
    record_build(con, AS_OF, build_inputs(con))
    assert not up_to_date(con, datetime(2026, 11, 2, tzinfo=UTC))
    con.execute("insert into raw._quarantine values ('x.csv', timestamp '2026-11-01 02:00:00')")
    assert not up_to_date(con, AS_OF)
    record_build(con, AS_OF, build_inputs(con))
    con.execute("insert into raw._loads values ('l2', timestamp '2026-11-01 03:00:00')")
    assert not up_to_date(con, AS_OF)


def test_a_changed_dbt_project_needs_a_build(con, tmp_path: Path, monkeypatch) -> None:
    manifest = tmp_path / "manifest.json"

    def write(model_checksum: str, generated_at: str) -> None:
        manifest.write_text(
            json.dumps(
                {
                    "metadata": {"generated_at": generated_at},
                    "nodes": {"model.x": {"checksum": {"checksum": model_checksum}}},
                    "macros": {"macro.m": {"macro_sql": "select 1"}},
                }
            )
        )

    monkeypatch.setattr(build_state, "manifest_path", lambda: manifest)
    write("a", "2026-11-01T00:00:00")
    record_build(con, AS_OF, build_inputs(con))
    write("a", "2026-11-02T00:00:00")  # parsed again, nothing changed
    assert up_to_date(con, AS_OF)
    write("b", "2026-11-02T00:00:00")  # a model's SQL changed
    assert not up_to_date(con, AS_OF)


def test_the_dbt_environment_is_restored_after_the_build(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WA_AS_OF", "2020-01-01T00:00:00Z")
    monkeypatch.delenv(ENV_DBT_TARGET_PATH, raising=False)
    warehouse = tmp_path / "w.duckdb"
    with dbt_environment(AS_OF, warehouse):
        assert os.environ["WA_AS_OF"] == "2026-11-01T00:00:00Z"
        assert os.environ[ENV_DBT_TARGET_PATH] == str(warehouse_target_path(warehouse))
    assert os.environ["WA_AS_OF"] == "2020-01-01T00:00:00Z"
    assert ENV_DBT_TARGET_PATH not in os.environ


def test_dbt_keeps_warnings_in_its_file_log_unless_told_otherwise(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv(ENV_DBT_LOG_LEVEL_FILE, raising=False)
    with dbt_environment(AS_OF, tmp_path / "w.duckdb"):
        assert os.environ[ENV_DBT_LOG_LEVEL_FILE] == "warn"
    assert ENV_DBT_LOG_LEVEL_FILE not in os.environ
    monkeypatch.setenv(ENV_DBT_LOG_LEVEL_FILE, "debug")
    with dbt_environment(AS_OF, tmp_path / "w.duckdb"):
        assert os.environ[ENV_DBT_LOG_LEVEL_FILE] == "debug"


def test_each_warehouse_has_its_own_target_folder(tmp_path: Path) -> None:
    a, b = (
        warehouse_target_path(tmp_path / "a.duckdb"),
        warehouse_target_path(tmp_path / "b.duckdb"),
    )
    assert a != b and a.parent == b.parent
    assert warehouse_target_path(tmp_path / "a.duckdb") == a
    assert a.name.startswith("a-")


def test_only_the_newest_folders_are_kept(tmp_path: Path) -> None:
    for index in range(5):
        folder = tmp_path / f"f{index}"
        folder.mkdir()
        os.utime(folder, (index, index))
    prune_folders(tmp_path, 2, keep=tmp_path / "f0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f0", "f3", "f4"]
