"""Publishing the marts for BI tools: atomic, readable during runs, intact after failures."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import publish
from orchestration.defs.publishing import MART_KEYS, serving_publication
from orchestration.publish import (
    PUBLICATION_JSON,
    STORAGE_VERSION,
    PublishError,
    PublishResult,
    publish_marts,
    read_publication,
)
from orchestration.resources import (
    AsOfResource,
    ServingResource,
    WarehouseResource,
)
from tests.readers import Readers, check_reads

AS_OF = datetime(2026, 11, 11, tzinfo=UTC)
# what the synthetic warehouse publishes: two tables and a view over another schema
MARTS = ("campaign_performance", "external_platform_responses", "reason_dictionary")


def make_warehouse(path: Path, n: int) -> Path:
    """A small warehouse: marts with n, n + 1 and 2n rows, and things never published."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts; create schema intermediate; create schema staging")
        # sum() of integers is HUGEINT, like the real count columns
        con.execute(
            "create table marts.campaign_performance as "
            "select 'c' || i as campaign_id, sum(i) as targeted, i * 1.5 as rate, "
            "date '2026-11-01' + i::int as period_start "
            f"from range({n}) t(i) group by i"
        )
        con.execute(
            "create table marts.reason_dictionary as "
            f"select 'r' || i as reason from range({n + 1}) t(i)"
        )
        con.execute(f"create table intermediate.buttons as select i from range({2 * n}) t(i)")
        con.execute(
            "create view marts.external_platform_responses as "
            "select i as button_id, i * 2 as button_clicks from intermediate.buttons"
        )
        con.execute("create table staging.stg_private as select 1 as phone")
        con.execute("create table marts.campaign_performance__dbt_tmp as select 1 as x")
    finally:
        con.close()
    return path


def expected_rows(n: int) -> dict[str, int]:
    return {
        "campaign_performance": n,
        "external_platform_responses": 2 * n,
        "reason_dictionary": n + 1,
    }


def temp_files(*folders: Path) -> list[str]:
    return sorted(p.name for folder in folders for p in folder.iterdir() if p.name.startswith("."))


def fingerprint(*paths: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p): (p.stat().st_ino, p.read_bytes()) for p in paths}


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    return {
        "a": make_warehouse(tmp_path / "a" / "warehouse.duckdb", 10),
        "b": make_warehouse(tmp_path / "b" / "warehouse.duckdb", 25),
        "serving": tmp_path / "pub" / "serving.duckdb",
        "parquet": tmp_path / "pub" / "serving",
    }


def _publish(places: dict[str, Path], which: str, **kwargs) -> PublishResult:
    return publish_marts(places[which], places["serving"], places["parquet"], **kwargs)


def test_publish_twice_replaces_the_marts(places: dict[str, Path]) -> None:
    first = _publish(places, "a", as_of=AS_OF)
    assert first.tables == MARTS
    assert first.rows == expected_rows(10)

    second = _publish(places, "b")
    assert second.rows == expected_rows(25)
    assert second.publication_id != first.publication_id

    con = duckdb.connect(str(places["serving"]), read_only=True)
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() order by all"
        ).fetchall()
        assert tables == [("marts", name) for name in sorted((*MARTS, "_publication"))]
        assert not con.execute("select * from duckdb_views() where not internal").fetchall()
        for name, rows in expected_rows(25).items():
            assert con.execute(f"select count(*) from marts.{name}").fetchone()[0] == rows
        pub_id, as_of, names, storage = con.execute(
            "select publication_id, as_of, tables, storage_version from marts._publication"
        ).fetchone()
        # the types are the warehouse's: a published table is the mart as it was
        targeted_type = con.execute(
            "select data_type from duckdb_columns() where column_name = 'targeted'"
        ).fetchone()[0]
    finally:
        con.close()
    assert (pub_id, as_of, tuple(names), storage) == (
        second.publication_id,
        None,
        MARTS,
        STORAGE_VERSION,
    )
    assert targeted_type == "HUGEINT"
    assert read_publication(places["serving"])["publication_id"] == second.publication_id

    manifest = json.loads((places["parquet"] / PUBLICATION_JSON).read_text())
    assert manifest["publication_id"] == second.publication_id
    assert manifest["files"] == {
        name: {"file": f"{name}.parquet", "rows": rows} for name, rows in second.rows.items()
    }
    assert temp_files(places["serving"].parent, places["parquet"]) == []


def test_first_publication_records_as_of(places: dict[str, Path]) -> None:
    result = _publish(places, "a", as_of=datetime(2026, 11, 11))  # naive: UTC
    assert read_publication(places["serving"])["as_of"] == AS_OF
    manifest = json.loads((places["parquet"] / PUBLICATION_JSON).read_text())
    assert manifest["as_of"] == "2026-11-11T00:00:00Z"
    assert manifest["publication_id"] == result.publication_id


def test_serving_file_opens_in_the_storage_version_it_states(places: dict[str, Path]) -> None:
    _publish(places, "a")
    con = duckdb.connect()
    try:
        con.execute(f"attach '{places['serving']}' as s (read_only)")
        tags = con.execute(
            "select tags from duckdb_databases() where database_name = 's'"
        ).fetchone()[0]
    finally:
        con.close()
    assert tags["storage_version"].startswith(STORAGE_VERSION)


def test_parquet_files_equal_the_marts(places: dict[str, Path]) -> None:
    result = _publish(places, "b")
    assert sorted(p.name for p in places["parquet"].iterdir()) == sorted(
        [PUBLICATION_JSON, *(f"{name}.parquet" for name in MARTS)]
    )
    con = duckdb.connect(str(places["b"]), read_only=True)
    try:
        for name in MARTS:
            file = places["parquet"] / f"{name}.parquet"
            assert result.parquet_files[name] == file
            for query in (
                f"select * from marts.{name} except all select * from read_parquet('{file}')",
                f"select * from read_parquet('{file}') except all select * from marts.{name}",
            ):
                assert con.execute(query).fetchall() == [], query
        # Parquet has no 128-bit integer: sums are written as BIGINT, not DOUBLE
        kinds = dict(
            con.execute(
                "select column_name, column_type from (describe select * from "
                f"read_parquet('{places['parquet'] / 'campaign_performance.parquet'}'))"
            ).fetchall()
        )
    finally:
        con.close()
    assert kinds["targeted"] == "BIGINT"


def test_a_mart_that_disappears_loses_its_parquet_file(places: dict[str, Path]) -> None:
    _publish(places, "a")
    con = duckdb.connect(str(places["b"]))
    con.execute("drop table marts.reason_dictionary")
    con.close()
    (places["parquet"] / "notes.txt").write_text("not ours")
    result = _publish(places, "b")
    assert "reason_dictionary" not in result.tables
    assert not (places["parquet"] / "reason_dictionary.parquet").exists()
    assert (places["parquet"] / "notes.txt").exists()  # only files a publication listed go


@pytest.mark.parametrize("step", ["_copy_mart", "_write_parquet", "_fsync_file"])
def test_a_failure_midway_leaves_the_previous_publication(
    places: dict[str, Path], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    before = _publish(places, "a")
    published = [places["serving"], *sorted(places["parquet"].iterdir())]
    kept = fingerprint(*published)

    real = getattr(publish, step)
    calls = []

    def fail_on_second_call(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise OSError(f"disk full ({step})")
        return real(*args, **kwargs)

    monkeypatch.setattr(publish, step, fail_on_second_call)
    with pytest.raises(OSError, match="disk full"):
        _publish(places, "b")

    assert fingerprint(*published) == kept
    assert temp_files(places["serving"].parent, places["parquet"]) == []
    assert read_publication(places["serving"])["publication_id"] == before.publication_id
    con = duckdb.connect()
    try:
        for name, rows in expected_rows(10).items():
            file = places["parquet"] / f"{name}.parquet"
            assert con.execute(f"select count(*) from read_parquet('{file}')").fetchone()[0] == rows
    finally:
        con.close()


def test_nothing_to_publish_is_an_error_and_changes_nothing(tmp_path: Path) -> None:
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    serving, parquet = tmp_path / "serving.duckdb", tmp_path / "serving"
    with pytest.raises(PublishError, match="nothing to publish"):
        publish_marts(empty, serving, parquet)
    with pytest.raises(PublishError, match="does not exist"):
        publish_marts(tmp_path / "missing.duckdb", serving, parquet)
    assert not serving.exists()
    assert temp_files(tmp_path, parquet) == []


def test_readers_see_the_old_or_the_new_publication_never_an_error(
    places: dict[str, Path], tmp_path: Path
) -> None:
    first = _publish(places, "a")
    results = {first.publication_id: first.rows}
    readers = Readers(places["serving"], tmp_path, MARTS)
    try:
        for which in ("b", "a", "b"):
            result = _publish(places, which)
            results[result.publication_id] = result.rows
            time.sleep(0.2)
        readers.wait_for("reopen", result.publication_id)
        reads = readers.finish()
    finally:
        readers.kill()
    check_reads(reads, results)
    # a reader that has the file open keeps reading the publication it opened
    assert {line["id"] for line in reads["hold"][1:]} == {first.publication_id}
    seen = {line["id"] for line in reads["reopen"][1:]}
    assert {first.publication_id, result.publication_id} <= seen


def _fake_dbt(warehouse: Path, *, fail: bool):
    """Stands in for the dbt step: writes the marts, or fails after one of them."""

    @dg.multi_asset(specs=[dg.AssetSpec(key) for key in MART_KEYS], name="fake_dbt")
    def fake_dbt():
        make_warehouse(warehouse, 3)  # the publication could run: only the failure stops it
        if fail:
            yield dg.MaterializeResult(asset_key=MART_KEYS[0])
            raise RuntimeError("dbt build failed")
        for key in MART_KEYS:
            yield dg.MaterializeResult(asset_key=key)

    return fake_dbt


@pytest.mark.parametrize("fail", [False, True], ids=["dbt-succeeds", "dbt-fails"])
def test_the_asset_publishes_only_after_a_successful_build(tmp_path: Path, fail: bool) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    serving = ServingResource(
        path=str(tmp_path / "serving.duckdb"), parquet_dir=str(tmp_path / "serving")
    )
    warehouse_resource = WarehouseResource(path=str(warehouse))
    result = dg.materialize(
        [_fake_dbt(warehouse, fail=fail), serving_publication],
        resources={
            "warehouse": warehouse_resource,
            "serving": serving,
            "as_of": AsOfResource(warehouse=warehouse_resource, value="2026-11-11T00:00:00Z"),
        },
        raise_on_error=False,
    )
    publications = result.asset_materializations_for_node("serving_publication")
    if fail:
        assert not result.success
        assert publications == []
        assert not serving.serving_path.exists()
        return
    assert result.success
    metadata = publications[0].metadata
    assert metadata["tables"].value == len(MARTS)
    assert metadata["rows"].value == sum(expected_rows(3).values())
    assert metadata["path"].value == str(serving.serving_path)
    assert read_publication(serving.serving_path)["as_of"] == AS_OF
