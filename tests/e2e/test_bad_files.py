"""Bad files dated later than everything else neither move the as-of time nor the
numbers: they are quarantined, each with a warning line naming the file and why,
and a misnamed file's warning names the pattern it should match. A run of its own on a
copy of the shared run's warehouse, hence e2e."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import duckdb
import pytest

from orchestration.publish import read_publication
from tests.conftest import PipelineRun, copy_of, mart_fingerprints, run_cli

pytestmark = pytest.mark.slow

#: the marts that report quarantined rows as such (every other mart must not move)
REPORTS_QUARANTINE = {"data_quality"}


def test_empty_garbage_and_misnamed_files_change_neither_as_of_nor_the_marts(
    shared_run: PipelineRun, tmp_path: Path
) -> None:
    # a copy of the shared run, so the shared run stays as it is
    before = copy_of(shared_run, tmp_path)
    extracts, warehouse, env = before.extracts, before.warehouse, before.env
    as_of_before = shared_run.query("select max(as_of) from raw._builds")[0][0]
    marts_before = mart_fingerprints(before)

    (extracts / "dispatches" / "dispatches-2026-12-10.csv").write_bytes(b"")
    (extracts / "webhooks" / "webhooks-2026-12-11.jsonl").write_bytes(bytes(range(256)) * 12)
    (extracts / "clicks" / "click-2026-12-12.csv").write_text("click_id\n")
    result = run_cli("run", "--extracts", str(extracts), "--warehouse", str(warehouse), env=env)

    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stderr.splitlines()
    assert any(
        "warning  quarantined dispatches/dispatches-2026-12-10.csv: " in line and "empty" in line
        for line in lines
    ), result.stderr
    assert any("warning  quarantined webhooks/webhooks-2026-12-11.jsonl: " in x for x in lines)
    assert (
        "warning  not loaded: clicks/click-2026-12-12.csv: its name does not match "
        "clicks/clicks-YYYY-MM-DD.{csv,csv.gz,parquet}" in result.stderr
    )
    # the run built (its loads changed) as of the same time, and published the same numbers
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        builds = con.execute("select as_of from raw._builds order by finished_at").fetchall()
    finally:
        con.close()
    assert builds[-1][0] == as_of_before and len(builds) > 1
    assert (
        read_publication(Path(env["WA_SERVING_PATH"]))["as_of"].astimezone(UTC).replace(tzinfo=None)
        == as_of_before
    )
    marts_after = mart_fingerprints(before)
    assert set(marts_after) == set(marts_before)
    for mart in set(marts_before) - REPORTS_QUARANTINE:
        assert marts_after[mart] == marts_before[mart], mart
