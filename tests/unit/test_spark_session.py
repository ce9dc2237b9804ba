"""The Spark session of the loader is the ``spark`` target's, and the loader's child
process (``python -m orchestration.spark.load``) loads and exits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from orchestration.spark.session import SparkSettings

PROFILES = Path(__file__).parents[2] / "profiles.yml"


def rendered_profile_parameters() -> dict[str, str]:
    """``server_side_parameters`` of the ``spark`` target, ``env_var`` calls rendered."""
    import os

    def env_var(match: re.Match[str]) -> str:
        return os.environ.get(match["name"]) or match["default"]

    text = re.sub(
        r"\{\{\s*env_var\('(?P<name>\w+)',\s*'(?P<default>[^']*)'\)\s*\}\}", env_var,
        PROFILES.read_text(),
    )  # fmt: skip
    target = yaml.safe_load(text)["wa_warehouse"]["outputs"]["spark"]
    return {key: str(value) for key, value in target["server_side_parameters"].items()}


def test_the_session_is_configured_like_the_spark_target(monkeypatch, tmp_path):
    monkeypatch.setenv("WA_SPARK_DIR", str(tmp_path / "spark"))
    monkeypatch.setenv("WA_SPARK_MASTER", "local[3]")
    monkeypatch.setenv("WA_SPARK_DRIVER_MEMORY", "3g")
    monkeypatch.setenv("WA_SPARK_SHUFFLE_PARTITIONS", "7")
    assert SparkSettings().conf() == rendered_profile_parameters()
    for name in ("WA_SPARK_DIR", "WA_SPARK_MASTER", "WA_SPARK_DRIVER_MEMORY"):
        monkeypatch.delenv(name)
    monkeypatch.delenv("WA_SPARK_SHUFFLE_PARTITIONS")
    defaults = SparkSettings()
    assert (defaults.master, defaults.driver_memory, defaults.shuffle_partitions) == (
        "local[2]", "4g", 4,
    )  # fmt: skip
    assert defaults.spark_dir == Path("data/spark")
    assert defaults.conf()["spark.sql.warehouse.dir"] == str(
        Path("data/spark/warehouse").absolute()
    )


@pytest.mark.spark
def test_the_loader_runs_in_a_child_process_that_exits(tmp_path):
    import os

    from orchestration.spark.load import load_in_child
    from tests.unit.test_loading import put, sample_tree

    root = tmp_path / "extracts"
    sample_tree(root)
    put(root, "README.txt", "x")
    env = {**os.environ, "WA_SPARK_DIR": str(tmp_path / "spark")}
    results, unknown = load_in_child(root, ["dispatches", "webhooks"], env=env)
    assert [(r.source, r.files_loaded, r.rows_loaded, r.rows_quarantined) for r in results] == [
        ("dispatches", 1, 2, 1),
        ("webhooks", 1, 1, 1),
    ]
    assert unknown == ["README.txt"]
    assert (tmp_path / "spark" / "metastore_db").is_dir()  # the target's metastore
    # the JVM is gone: a second child opens the same Derby metastore, finds the ledger
    again, _ = load_in_child(root, ["dispatches"], env=env)
    assert (again[0].files_skipped, again[0].files_loaded) == (1, 0)
