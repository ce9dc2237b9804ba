"""The SparkSession the project uses, configured like the ``spark`` target of ``profiles.yml``.

Every setting is a typed parameter whose default comes from the same environment
variable the dbt profile reads: master ``WA_SPARK_MASTER`` (``local[2]``), driver
memory ``WA_SPARK_DRIVER_MEMORY`` (``4g``), shuffle partitions
``WA_SPARK_SHUFFLE_PARTITIONS`` (4), and ``WA_SPARK_DIR`` (``data/spark``) holding
the warehouse (``<dir>/warehouse``) and the embedded Derby metastore
(``<dir>/metastore_db``). The session time zone is UTC and the UI is off.

An embedded Derby metastore can be open in ONE JVM at a time: a process that
loads with this session must end (or stop the session and its JVM) before the dbt
``spark`` target opens the same ``WA_SPARK_DIR``; ``python -m
orchestration.spark.load`` runs the loader in such a child process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from orchestration.spark.jvm import set_java_home

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass(frozen=True)
class SparkSettings:
    """What the session is built from (defaults: the environment, as in ``profiles.yml``)."""

    master: str = field(default_factory=lambda: _env("WA_SPARK_MASTER", "local[2]"))
    driver_memory: str = field(default_factory=lambda: _env("WA_SPARK_DRIVER_MEMORY", "4g"))
    spark_dir: Path = field(default_factory=lambda: Path(_env("WA_SPARK_DIR", "data/spark")))
    shuffle_partitions: int = field(
        default_factory=lambda: int(_env("WA_SPARK_SHUFFLE_PARTITIONS", "4"))
    )
    app_name: str = "wa-warehouse"

    @property
    def warehouse_dir(self) -> Path:
        return self.spark_dir / "warehouse"

    @property
    def metastore_dir(self) -> Path:
        return self.spark_dir / "metastore_db"

    def conf(self) -> dict[str, str]:
        """The Spark configuration, key for key the ``spark`` target's."""
        # the profile passes WA_SPARK_DIR as given (relative to the dbt process's
        # working directory); absolute paths here name the same place from anywhere
        spark_dir = self.spark_dir.absolute()
        return {
            "spark.master": self.master,
            "spark.driver.memory": self.driver_memory,
            "spark.sql.warehouse.dir": str(spark_dir / "warehouse"),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={spark_dir}",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": str(self.shuffle_partitions),
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
        }


def build_session(settings: SparkSettings | None = None) -> SparkSession:
    """Start (or return the running) SparkSession with Hive support, configured by
    ``settings`` (default: :class:`SparkSettings` from the environment).

    ``JAVA_HOME`` is pointed at the project's Java runtime first
    (:func:`orchestration.spark.jvm.set_java_home`). Settings only take effect when
    this call starts the JVM (driver memory, metastore); a session already running
    in this process is returned with its runtime SQL settings updated.
    """
    settings = settings or SparkSettings()
    set_java_home()
    settings.spark_dir.mkdir(parents=True, exist_ok=True)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(settings.app_name)
    for key, value in settings.conf().items():
        builder = builder.config(key, value)
    return builder.enableHiveSupport().getOrCreate()
