"""The dbt project as Dagster sees it, and its prepared manifest.

Loading the definitions reads ``target/manifest.json`` and never parses the
project: ``wa-warehouse prepare`` (run by ``make setup`` and ``make dev``)
parses it, and ``wa-warehouse run`` re-parses it first when a dbt file changed
since (:func:`prepare_manifest`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

PROJECT_DIR = Path(__file__).resolve().parents[2]
#: dbt as the resource runs it: ``wa-dbt`` (orchestration/dbt_launcher.py) is dbt with a
#: local ``--version``, which dagster-dbt runs before every build
DBT_EXECUTABLE = str(Path(sys.executable).parent / "wa-dbt")
_DBT_INPUTS = ("models", "macros", "seeds", "tests/dbt", "dbt_project.yml", "profiles.yml")

dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)


class ManifestMissing(RuntimeError):
    """The dbt manifest has not been prepared."""


#: the profiles.yml target of each engine (orchestration.config.ENGINES)
DBT_TARGETS = {"duckdb": "local", "spark": "spark"}


def dbt_resource(engine: str = "duckdb") -> DbtCliResource:
    return DbtCliResource(
        project_dir=dbt_project,
        profiles_dir=str(PROJECT_DIR),
        dbt_executable=DBT_EXECUTABLE,
        target=DBT_TARGETS[engine],
    )


def manifest_path() -> Path:
    """The prepared manifest; a clear error when there is none."""
    path = dbt_project.manifest_path
    if not path.exists():
        raise ManifestMissing(
            f"no dbt manifest at {path}: run `wa-warehouse prepare` (or `make setup`) first"
        )
    return path


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
        # the parse takes several seconds: say so (stderr, like the other progress lines)
        print("parsing the dbt project (dbt parse) ...", file=sys.stderr, flush=True)
        dbt_resource().cli(["--quiet", "parse"], target_path=dbt_project.target_path).wait()
    return dbt_project.manifest_path
