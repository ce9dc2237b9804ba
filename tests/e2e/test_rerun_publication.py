"""The publication across reruns: a rerun over the same files has nothing to do and
keeps the publication; a full refresh republishes the same numbers while BI readers
poll the serving file. Runs of their own on a copy of the shared run, hence e2e."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from orchestration.config import as_of_after
from orchestration.loading.ledger import newest_loaded_day
from orchestration.publish import read_publication
from tests.conftest import PipelineRun, copy_of, mart_fingerprints
from tests.readers import Readers, check_reads

pytestmark = pytest.mark.slow


def test_run_publishes_and_a_rerun_changes_nothing_while_readers_poll(
    shared_run: PipelineRun, tmp_path: Path
) -> None:
    """`wa-warehouse run` publishes every mart; rerunning the same files has
    nothing to do and keeps the publication; rebuilding them (`--full-refresh`,
    the warehouse locked meanwhile) changes no mart, and BI readers polling the
    serving copy during that rebuild never hit a lock or a half-built table."""
    run = copy_of(shared_run, tmp_path)
    marts = {
        name
        for (name,) in run.query(
            "select table_name from duckdb_tables() where schema_name = 'marts' union "
            "select view_name from duckdb_views() where schema_name = 'marts' and not internal"
        )
    }
    assert "campaign_performance" in marts and "external_platform_responses" in marts
    con = duckdb.connect(str(run.serving), read_only=True)
    try:
        published = {
            name: con.execute(f"select count(*) from marts.{name}").fetchone()[0]
            for (name,) in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        }
        first_id, as_of = con.execute(
            "select publication_id, as_of from marts._publication"
        ).fetchone()
    finally:
        con.close()
    assert set(published) == marts | {"_publication"}
    for name in marts:
        assert run.query(f"select count(*) from marts.{name}")[0][0] == published[name]
        assert (run.serving_parquet_dir / f"{name}.parquet").is_file()
    newest = duckdb.connect(str(run.warehouse), read_only=True)
    try:  # the run's as-of time: the midnight after the newest day that loaded rows
        assert as_of == as_of_after(newest_loaded_day(newest))
    finally:
        newest.close()

    fingerprints = mart_fingerprints(run)
    loads = run.query("select count(*) from raw._loads")
    tables = ("campaign_performance", "campaign_performance_daily", "data_quality")
    unchanged = run.rerun()
    assert unchanged.returncode == 0, unchanged.stderr
    assert "nothing loaded since the last build" in unchanged.stderr
    assert read_publication(run.serving)["publication_id"] == first_id
    readers = Readers(run.serving, run.warehouse.parent, tables, pause=0.2)  # light on 2 cores
    try:
        second = run.rerun("--full-refresh")
        assert second.returncode == 0, second.stderr
        new_id = read_publication(run.serving)["publication_id"]
        readers.wait_for("reopen", new_id)
        reads = readers.finish()
    finally:
        readers.kill()
    assert new_id != first_id
    expected = {first_id: published, new_id: published}  # same extracts: same marts
    check_reads(reads, expected)
    assert {line["id"] for line in reads["hold"][1:]} == {first_id}
    assert f"DuckDB (open read-only)  {run.serving.resolve()}" in second.stdout
    # a rerun over the same files loads nothing and changes no mart
    assert run.query("select count(*) from raw._loads") == loads
    assert mart_fingerprints(run) == fingerprints
