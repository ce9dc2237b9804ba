"""The file-arrival sensor triggers on new files, not on loaded ones, and never on a lock."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.definitions import defs, run_config_for
from orchestration.loading import load_source
from orchestration.resources import ExtractsResource, WarehouseResource

HEADER = "click_id,wamid,clicked_at,url,button_id,card_index\n"


def _write_clicks(root: Path, day: str, rows: int) -> None:
    folder = root / "clicks"
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f"k{day}{i},w{i},{day}T10:00:00Z,https://s/{i},,\n" for i in range(rows))
    (folder / f"clicks-{day}.csv").write_text(HEADER + body)


def _evaluate(root: Path, warehouse: Path, instance: dg.DagsterInstance):
    sensor = defs.resolve_sensor_def("new_extract_files_sensor")
    with dg.build_sensor_context(
        instance=instance,
        resources={
            "warehouse": WarehouseResource(path=str(warehouse)),
            "extracts": ExtractsResource(root=str(root)),
        },
    ) as context:
        return sensor.evaluate_tick(context)


def _load(root: Path, warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        load_source(con, root, "clicks")
    finally:
        con.close()


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def test_triggers_on_new_files_only(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    root, warehouse = tmp_path / "extracts", tmp_path / "w.duckdb"
    _write_clicks(root, "2026-10-01", 3)
    first = _evaluate(root, warehouse, instance)
    assert len(first.run_requests) == 1
    request = first.run_requests[0]
    assert request.tags["wa/trigger"] == "new_extract_files"
    # the run derives its as-of time after its loads (a file that turns out empty or
    # quarantined must not move it): the sensor leaves it empty, and the run tags it
    assert "wa/as_of" not in request.tags
    assert request.run_config == run_config_for(as_of=None)
    assert request.run_config["resources"]["as_of"] == {"config": {"value": ""}}
    assert defs.resolve_sensor_def("new_extract_files_sensor").job_name == "build_warehouse"

    _load(root, warehouse)
    assert not _evaluate(root, warehouse, instance).run_requests
    assert "no new extract files" in _evaluate(root, warehouse, instance).skip_message

    _write_clicks(root, "2026-10-02", 2)
    second = _evaluate(root, warehouse, instance)
    assert len(second.run_requests) == 1
    assert second.run_requests[0].run_key != request.run_key


def test_redelivered_file_with_other_bytes_triggers(tmp_path: Path, instance) -> None:
    root, warehouse = tmp_path / "extracts", tmp_path / "w.duckdb"
    _write_clicks(root, "2026-10-01", 3)
    _load(root, warehouse)
    _write_clicks(root, "2026-10-01", 4)
    assert len(_evaluate(root, warehouse, instance).run_requests) == 1


def test_a_locked_warehouse_skips_with_a_reason(tmp_path: Path, instance) -> None:
    root, warehouse = tmp_path / "extracts", tmp_path / "w.duckdb"
    _write_clicks(root, "2026-10-01", 3)
    _load(root, warehouse)
    _write_clicks(root, "2026-10-02", 1)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); print('held', flush=True); "
         "time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        result = _evaluate(root, warehouse, instance)
    finally:
        holder.kill()
        holder.wait()
    assert not result.run_requests
    assert "locked by another process" in result.skip_message
    time.sleep(0.1)
    assert len(_evaluate(root, warehouse, instance).run_requests) == 1


def test_a_running_writer_skips_with_a_reason(tmp_path: Path, instance) -> None:
    root, warehouse = tmp_path / "extracts", tmp_path / "w.duckdb"
    _write_clicks(root, "2026-10-01", 3)
    instance.add_run(
        dg.DagsterRun(
            job_name="build_warehouse",
            run_id="writer-run",
            status=dg.DagsterRunStatus.STARTED,
            tags={"wa/writes_warehouse": "true"},
        )
    )
    result = _evaluate(root, warehouse, instance)
    assert not result.run_requests
    assert "run writer-run is writing the warehouse" in result.skip_message


def test_instance_settings_let_one_writer_run_at_a_time(tmp_path: Path) -> None:
    import os

    from orchestration.config import ensure_dagster_home

    ensure_dagster_home(tmp_path)
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(tmp_path)
    try:
        with dg.DagsterInstance.get() as instance:
            config = instance.get_concurrency_config()
    finally:
        if previous is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = previous
    assert config.run_queue_config.tag_concurrency_limits == [
        {"key": "wa/writes_warehouse", "limit": 1}
    ]
    assert config.pool_config.default_pool_limit == 1
