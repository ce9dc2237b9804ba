"""``wa-dbt``: dbt for the Dagster resource, with a local ``--version``."""

from __future__ import annotations

import re
import subprocess
import time
from importlib import metadata
from pathlib import Path

from orchestration.dbt_launcher import adapter_versions, version_text
from orchestration.defs.dbt_project import DBT_EXECUTABLE, dbt_resource
from tests.conftest import BIN, PROJECT_ROOT


def test_the_resource_runs_wa_dbt() -> None:
    assert Path(DBT_EXECUTABLE) == BIN / "wa-dbt"
    assert dbt_resource().dbt_executable == DBT_EXECUTABLE


def test_version_names_the_installed_core_and_adapters_without_the_network() -> None:
    started = time.monotonic()
    result = subprocess.run([BIN / "wa-dbt", "--version"], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == version_text()
    # dagster-dbt reads the dbt version as the first x.y.z of this output
    first = re.search(r"(\d+\.\d+\.\d+)", result.stdout)
    assert first and first.group(1) == metadata.version("dbt-core")
    assert f"  - duckdb: {metadata.version('dbt-duckdb')}" in result.stdout
    assert adapter_versions()["duckdb"] == metadata.version("dbt-duckdb")
    assert elapsed < 2  # dbt's own --version: ~4 s (imports dbt, asks the index)


def test_every_other_command_is_dbt_itself() -> None:
    launched = subprocess.run(
        [BIN / "wa-dbt", "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    plain = subprocess.run(
        [BIN / "dbt", "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert launched.returncode == plain.returncode == 0
    assert launched.stdout == plain.stdout
    assert "Usage: dbt" in launched.stdout
