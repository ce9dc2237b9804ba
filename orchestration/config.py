"""Where data lives and which as-of time a run uses.

Every setting has a default, is overridden by its environment variable, and is
overridden again by a CLI flag (see ``docs/contract/interfaces.md``). The
dbt profile reads the same variables, so ``dbt build`` run by hand and a
Dagster run agree on where data lives.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

ENV_EXTRACTS_DIR = "WA_EXTRACTS_DIR"
ENV_WAREHOUSE_PATH = "WA_WAREHOUSE_PATH"
ENV_AS_OF = "WA_AS_OF"
ENV_SERVING_PATH = "WA_SERVING_PATH"
ENV_SERVING_PARQUET_DIR = "WA_SERVING_PARQUET_DIR"
ENV_LOAD_ALWAYS_HASH = "WA_LOAD_ALWAYS_HASH"
ENV_MEMORY_LIMIT = "WA_MEMORY_LIMIT"
ENV_DAGSTER_HOME = "DAGSTER_HOME"
ENV_LOGS_DIR = "WA_LOGS_DIR"
ENV_ENGINE = "WA_ENGINE"
ENV_SPARK_DIR = "WA_SPARK_DIR"

# The run tag that shows a run's as-of time in the UI (the value itself is the
# run config of the as_of resource: orchestration.resources.AsOfResource).
AS_OF_TAG = "wa/as_of"

DEFAULT_EXTRACTS_DIR = "data/extracts"
DEFAULT_WAREHOUSE_PATH = "data/warehouse.duckdb"
DEFAULT_SERVING_PATH = "data/serving.duckdb"
DEFAULT_SERVING_PARQUET_DIR = "data/serving/"
#: the engines that build the warehouse (docs/spark.md): ``duckdb`` (the default), ``spark``
ENGINES = ("duckdb", "spark")
DEFAULT_ENGINE = "duckdb"
#: the Spark warehouse: tables (``warehouse/``) and their metastore (``metastore_db/``)
DEFAULT_SPARK_DIR = "data/spark"
#: with the spark engine, the DuckDB file of views over the Spark tables
#: (orchestration/spark/catalog.py), apart from a DuckDB engine's warehouse
DEFAULT_SPARK_WAREHOUSE_PATH = "data/warehouse-spark.duckdb"
# DuckDB's memory limit for loads and builds (profiles.yml reads the same variable)
DEFAULT_MEMORY_LIMIT = "8GB"


# The Dagster instance settings written to DAGSTER_HOME when it has none:
# no telemetry (machines are offline); one run writing the warehouse at a time
# (later runs wait in the queue), and one step at a time in the writer pool.
DAGSTER_YAML = """\
telemetry:
  enabled: false
concurrency:
  runs:
    tag_concurrency_limits:
      - key: "wa/writes_warehouse"
        limit: 1
  pools:
    default_limit: 1
"""


def ensure_dagster_home(home: Path) -> Path:
    """Create DAGSTER_HOME with the project's dagster.yaml unless one exists."""
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    if not settings.exists():
        settings.write_text(DAGSTER_YAML)
    return settings


class ConfigError(ValueError):
    """A setting is unusable; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    extracts_dir: Path
    warehouse_path: Path
    serving_path: Path
    serving_parquet_dir: Path
    as_of: datetime | None = None  # None: derived from the loaded extracts (AsOfResource)
    # hash every extract file on every load, not only the new or modified ones
    load_always_hash: bool = False
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    # the Dagster instance CLI runs, schedules and the UI share; None: the folder
    # ``dagster`` beside the warehouse (data/dagster by default)
    dagster_home_dir: Path | None = None
    # the full log of every ``wa-warehouse run``; None: the folder ``logs`` beside the
    # warehouse (data/logs by default)
    logs_dir_override: Path | None = None
    # which engine builds the warehouse: duckdb, or spark (dbt target spark, pyspark loaders)
    engine: str = DEFAULT_ENGINE
    spark_dir: Path = Path(DEFAULT_SPARK_DIR)

    @property
    def dagster_home(self) -> Path:
        return self.dagster_home_dir or self.warehouse_path.parent / "dagster"

    @property
    def logs_dir(self) -> Path:
        return self.logs_dir_override or self.warehouse_path.parent / "logs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        as_of_text = env.get(ENV_AS_OF)
        dagster_home = env.get(ENV_DAGSTER_HOME, "").strip()
        logs_dir = env.get(ENV_LOGS_DIR, "").strip()
        engine = parse_engine(env.get(ENV_ENGINE, ""))
        default_warehouse = (
            DEFAULT_SPARK_WAREHOUSE_PATH if engine == "spark" else DEFAULT_WAREHOUSE_PATH
        )
        return cls(
            extracts_dir=Path(env.get(ENV_EXTRACTS_DIR, DEFAULT_EXTRACTS_DIR)),
            warehouse_path=Path(env.get(ENV_WAREHOUSE_PATH, default_warehouse)),
            serving_path=Path(env.get(ENV_SERVING_PATH, DEFAULT_SERVING_PATH)),
            serving_parquet_dir=Path(env.get(ENV_SERVING_PARQUET_DIR, DEFAULT_SERVING_PARQUET_DIR)),
            as_of=parse_as_of(as_of_text) if as_of_text else None,
            load_always_hash=env.get(ENV_LOAD_ALWAYS_HASH, "").strip().lower()
            in ("1", "true", "yes"),
            memory_limit=env.get(ENV_MEMORY_LIMIT, "").strip() or DEFAULT_MEMORY_LIMIT,
            dagster_home_dir=Path(dagster_home) if dagster_home else None,
            logs_dir_override=Path(logs_dir) if logs_dir else None,
            engine=engine,
            spark_dir=Path(env.get(ENV_SPARK_DIR, "").strip() or DEFAULT_SPARK_DIR),
        )

    def with_overrides(self, **overrides: object) -> Settings:
        """A copy with every override that is not None applied (CLI flags)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def parse_engine(text: str) -> str:
    """``WA_ENGINE``: ``duckdb`` (also when empty) or ``spark``."""
    engine = text.strip().lower() or DEFAULT_ENGINE
    if engine not in ENGINES:
        raise ConfigError(
            f"{ENV_ENGINE}={text!r} is not an engine: use one of {', '.join(ENGINES)}"
        )
    return engine


def parse_date(text: str, flag: str) -> date:
    """A ``YYYY-MM-DD`` command-line date, or a ConfigError naming its flag."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError as error:
        raise ConfigError(f"{flag} {text!r} is not a date (expected YYYY-MM-DD)") from error


def parse_as_of(text: str) -> datetime:
    """Parse an ISO 8601 timestamp; a value without offset is taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise ConfigError(
            f"as-of time {text!r} is not an ISO 8601 timestamp (expected e.g. 2026-11-11T00:00:00Z)"
        ) from error
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def as_of_after(day: date) -> datetime:
    """The as-of time of a run that has every extract up to ``day``: the next UTC midnight."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC)


def format_as_of(value: datetime) -> str:
    """The as-of time as the ISO text passed to dbt (UTC, ``Z`` suffix)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
