"""The dbt project as Dagster sees it, and its prepared manifest.

Loading the definitions reads ``target/manifest.json``; it is parsed once
(``wa-warehouse prepare``, run by ``make setup``) and again only when a dbt
file changed since, never on every import.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

PROJECT_DIR = Path(__file__).resolve().parents[2]
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
_DBT_INPUTS = ("models", "macros", "seeds", "tests/dbt", "dbt_project.yml", "profiles.yml")

dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)


class WarehouseDbtCliResource(DbtCliResource):
    """``DbtCliResource`` without two start-up costs paid on every run.

    Before each run's first invocation, dagster-dbt runs ``dbt --version`` in a
    subprocess (to tell dbt Core from dbt Fusion) and builds a dbt adapter in
    this process (importing dbt, loading the profile and project); the adapter
    only serves ``fetch_row_counts``/``fetch_column_metadata``, which this
    project does not use. Together 3-6 s per run on 2 cores. The version comes
    from the installed dbt-core package instead.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(metadata.version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None


def dbt_resource() -> DbtCliResource:
    return WarehouseDbtCliResource(
        project_dir=dbt_project, profiles_dir=str(PROJECT_DIR), dbt_executable=DBT_EXECUTABLE
    )


def _newest_input_mtime() -> float:
    newest = 0.0
    for name in _DBT_INPUTS:
        path = PROJECT_DIR / name
        files = [path] if path.is_file() else path.rglob("*") if path.is_dir() else []
        for file in files:
            newest = max(newest, file.stat().st_mtime)
    return newest


def manifest_is_stale() -> bool:
    manifest = dbt_project.manifest_path
    return not manifest.exists() or manifest.stat().st_mtime < _newest_input_mtime()


def prepare_manifest(*, force: bool = False) -> Path:
    """Parse the dbt project if the manifest is missing or older than a dbt file."""
    if force or manifest_is_stale():
        dbt_resource().cli(["--quiet", "parse"], target_path=dbt_project.target_path).wait()
    return dbt_project.manifest_path
