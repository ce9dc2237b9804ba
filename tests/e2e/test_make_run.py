"""The README's first command works on a fresh copy of the repository.

Copies the tracked (and untracked, not ignored) files to a temporary folder,
so nothing from this checkout's .venv, data/ or target/ is reused, then runs
`make run` there exactly as a newcomer would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _fresh_copy(destination: Path) -> Path:
    listed = (
        subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for relative in filter(None, listed):
        source = PROJECT_ROOT / relative
        if source.is_file():
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def test_make_run_from_a_fresh_copy(tmp_path: Path) -> None:
    repo = _fresh_copy(tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WA_", "VIRTUAL_ENV"))}
    env.pop("DAGSTER_HOME", None)
    result = subprocess.run(
        ["make", "run"], cwd=repo, env=env, capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "marts.campaign_performance totals" in result.stdout
    # the default sample keeps its malformed rows, and the default thresholds agree
    # with it: a clean run is green, no check fails or warns
    assert "CHECK" not in result.stderr, result.stderr[-4000:]
    # progress: one line per step, dbt condensed to a counter, the full log on disk
    assert "done   warehouse_dbt_models" in result.stderr
    assert not re.search(r"^\d+ of \d+ (START|OK|PASS)", result.stdout + result.stderr, re.M)
    (log,) = (repo / "data" / "logs").glob("run-*.log")
    assert "Completed successfully" in log.read_text()
    # the run is in the Dagster instance `make dev` opens (data/dagster)
    with dg.DagsterInstance.from_config(str(repo / "data" / "dagster")) as instance:
        (record,) = instance.get_run_records()
        assert record.dagster_run.job_name == "build_warehouse"
        assert record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
        assert instance.get_latest_materialization_event(
            dg.AssetKey(["marts", "campaign_performance"])
        )
    con = duckdb.connect(str(repo / "data" / "warehouse.duckdb"), read_only=True)
    try:
        campaigns, targeted = con.execute(
            "select count(*), sum(targeted) from marts.campaign_performance"
        ).fetchone()
    finally:
        con.close()
    assert campaigns > 0 and targeted > 0
