"""The dbt project as Dagster assets, with dbt tests as asset checks.

One ``@dbt_assets`` definition holds every seed and model; a run materializes
the assets it selects with one ``dbt build`` invoked the way dagster-dbt
intends (``dbt.cli(args, context=context)``: dagster-dbt adds the selection
and reports every model and test as it finishes).

What a build passes to dbt:

- the run's as-of time, resolved once per run by the ``as_of`` resource, in
  ``WA_AS_OF`` (an environment variable rather than ``--vars``: other vars
  than the previous invocation's make dbt re-parse the whole project);
- ``--full-refresh`` when the launchpad config asks for it. Other builds skip
  the tests of the project's own files (:data:`CODE_TESTS`): the dbt unit tests
  (dbt's advice for production runs: they test the SQL on fixtures, whatever
  the data) and the tests of the seeds.

A run with nothing to do builds nothing: when nothing was loaded or
quarantined since the last published build, its as-of time is this run's
and the dbt project is the same (its manifest), dbt would rebuild the same
marts. The step then yields no materialization, so the publication is skipped
too and the last one stays (``raw._builds`` records each published build: ``build_state``).
``--full-refresh`` always builds.

A raw file re-delivered with other bytes removes rows that no new key names,
which an incremental model cannot see. Before the build, the incremental
models downstream of such a file's source are rebuilt from scratch (``dbt run
--full-refresh --select <staging model>+,config.materialized:incremental``),
and the ledger remembers that those loads were handled
(``raw._rebuilt_loads``).
"""

import hashlib
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.config import ENV_AS_OF, ENV_SPARK_DIR, format_as_of
from orchestration.defs.build_state import mark_rebuilt, replaced_loads, up_to_date
from orchestration.defs.dbt_project import dbt_project, manifest_path
from orchestration.defs.loading import WRITES_WAREHOUSE
from orchestration.defs.table_metadata import with_table_metadata
from orchestration.resources import AsOfResource, WarehouseResource

_LAYERS = ("staging", "intermediate", "marts")
SERVING_GROUP = "serving"

#: The staging models each raw source feeds (a re-delivery rebuilds what they feed).
STAGING_MODELS: dict[str, tuple[str, ...]] = {
    "accounts": ("stg_raw__accounts",),
    "campaigns": ("stg_raw__campaigns",),
    "templates": ("stg_raw__templates",),
    "dispatches": ("stg_raw__dispatches",),
    "webhooks": ("stg_raw__webhook_statuses", "stg_raw__webhook_messages"),
    "clicks": ("stg_raw__clicks",),
    "conversions": ("stg_raw__conversions",),
    "unsubscribes": ("stg_raw__unsubscribes",),
}
ENV_DBT_TARGET_PATH = "DBT_TARGET_PATH"
#: dbt's file log (``dbt.log`` in the invocation folder) logs every SQL statement
#: at its default level, debug: 12 % of a small build's time, measured. A build
#: keeps warnings and errors there (the run log, WA_LOGS_DIR, has dbt's whole
#: output); ``DBT_LOG_LEVEL_FILE=debug`` in the environment restores the rest.
ENV_DBT_LOG_LEVEL_FILE = "DBT_LOG_LEVEL_FILE"
DEFAULT_DBT_LOG_LEVEL_FILE = "warn"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# dagster-dbt names an invocation's target folder "<op name>-<hash>-<hash>" (or
# "<hash>" outside an op); the newest ones are kept for debugging
INVOCATION_FOLDER = re.compile(r"(^|-)[0-9a-f]{7}$")
KEEP_INVOCATION_FOLDERS = 25
KEEP_WAREHOUSE_FOLDERS = 10  # target/warehouses/*: the warehouses built most recently


class DbtBuildConfig(dg.Config):
    """Operator settings of a dbt build (the Dagster launchpad shows these)."""

    full_refresh: bool = False
    """Rebuild incremental models from scratch (and run the dbt unit tests)."""


class WarehouseDbtTranslator(DagsterDbtTranslator):
    """Groups assets by layer (staging, intermediate, marts, reference).

    Tests on the raw sources become asset checks of the loader assets.
    """

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        fqn = dbt_resource_props.get("fqn", [])
        return next((part for part in fqn if part in _LAYERS), "marts")


TRANSLATOR = WarehouseDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True)
)


#: Tests of the project's own files rather than of the data: the dbt unit tests
#: and the tests of the seeds. A full refresh (and ``make test``) runs them.
CODE_TESTS = ["--exclude-resource-type", "unit_test", "--exclude", "path:seeds,resource_type:test"]


def dbt_build_args(*, full_refresh: bool) -> list[str]:
    """The dbt CLI arguments of a build (dagster-dbt appends the selection)."""
    if full_refresh:
        return ["build", "--full-refresh"]
    return ["build", *CODE_TESTS]


def rebuild_selection(sources: list[str]) -> str:
    """dbt selection: the incremental models downstream of these sources' staging models."""
    models = sorted({model for source in sources for model in STAGING_MODELS.get(source, ())})
    return " ".join(f"{model}+,config.materialized:incremental" for model in models)


def warehouse_target_path(warehouse: Path) -> Path:
    """The dbt target folder of a warehouse's builds: ``target/warehouses/<name>-<hash>``.

    dbt's parse state (``partial_parse.msgpack``) hashes the profile, whose
    warehouse path comes from ``WA_WAREHOUSE_PATH``: one state shared by
    builds of several warehouses (tests, the bench, a second environment)
    would make each of them re-parse the whole project (~5 s). Each warehouse
    therefore gets its own target folder (``DBT_TARGET_PATH``, which
    dagster-dbt creates its invocation folders in and seeds them from).
    """
    resolved = warehouse.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:8]
    return (
        dbt_project.project_dir
        / dbt_project.target_path
        / "warehouses"
        / (f"{resolved.stem}-{digest}")
    )


@contextmanager
def dbt_environment(
    as_of: datetime, warehouse: Path, spark_dir: Path | None = None
) -> Iterator[None]:
    """What the build's dbt invocations read, for the duration of the build:
    ``WA_AS_OF``, the warehouse's target folder (``DBT_TARGET_PATH``, seeded
    with the parse state ``wa-warehouse prepare`` made, valid when it was made
    for this warehouse) and the file log's level (``DBT_LOG_LEVEL_FILE``, unless
    the environment sets it). dagster-dbt hands dbt this process's environment,
    so the variables are set here and restored afterwards. With the spark engine,
    ``WA_SPARK_DIR`` too, as an absolute path (the profile reads it in dbt's
    working directory, the project)."""
    target = warehouse_target_path(warehouse)
    prepared = dbt_project.project_dir / dbt_project.target_path / PARTIAL_PARSE_FILE
    if not (target / PARTIAL_PARSE_FILE).exists() and prepared.exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(prepared, target / PARTIAL_PARSE_FILE)
    prune_folders(target.parent, KEEP_WAREHOUSE_FOLDERS, keep=target)
    values = {
        ENV_AS_OF: format_as_of(as_of),
        ENV_DBT_TARGET_PATH: str(target),
        ENV_DBT_LOG_LEVEL_FILE: os.environ.get(ENV_DBT_LOG_LEVEL_FILE, DEFAULT_DBT_LOG_LEVEL_FILE),
    }
    if spark_dir is not None:
        values[ENV_SPARK_DIR] = str(spark_dir.absolute())
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def prune_folders(
    parent: Path, count: int, *, pattern: re.Pattern[str] | None = None, keep: Path | None = None
) -> None:
    """Delete all but the ``count`` newest folders of ``parent`` (matching ``pattern``)."""
    if not parent.is_dir():
        return
    folders = sorted(
        (
            p
            for p in parent.iterdir()
            if p.is_dir() and p != keep and (pattern is None or pattern.search(p.name))
        ),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for folder in folders[count:]:
        shutil.rmtree(folder, ignore_errors=True)


def finish_invocation(invocation_target: Path) -> None:
    """Keep an invocation's parse state for the next one, and only the newest folders.

    dagster-dbt gives every invocation its own folder in the target folder and
    seeds it with the target folder's ``partial_parse.msgpack``, but never
    writes that file back nor removes a folder (~10 MB each): the newest
    invocation's parse state becomes the target folder's, and all but the
    newest :data:`KEEP_INVOCATION_FOLDERS` folders are deleted. dbt validates
    the state it reads, so a stale one only costs a re-parse.
    """
    target = invocation_target.parent
    produced = invocation_target / PARTIAL_PARSE_FILE
    if produced.is_file():
        staged = target / f".{PARTIAL_PARSE_FILE}.{os.getpid()}"
        try:
            shutil.copyfile(produced, staged)
            os.replace(staged, target / PARTIAL_PARSE_FILE)  # atomic for a concurrent reader
        except OSError:
            staged.unlink(missing_ok=True)
    prune_folders(target, KEEP_INVOCATION_FOLDERS, pattern=INVOCATION_FOLDER)


@dbt_assets(
    manifest=manifest_path(),
    project=dbt_project,
    dagster_dbt_translator=TRANSLATOR,
    pool=WRITES_WAREHOUSE,
)
def warehouse_dbt_models(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    as_of: AsOfResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    spark_dir = None
    if warehouse.is_spark:
        from orchestration.spark.loader_process import stop_spark_loader

        stop_spark_loader()  # its JVM holds the metastore dbt's Spark session opens
        spark_dir = Path(warehouse.spark_dir)
    with dbt_environment(as_of.resolved, Path(warehouse.path), spark_dir):
        yield from _build(context, dbt, as_of.resolved, warehouse, config)


def _build(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    as_of: datetime,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    with warehouse.connect() as con:
        if not config.full_refresh and up_to_date(con, as_of):
            context.log.info(
                f"nothing loaded since the last build as of {format_as_of(as_of)}: "
                "the marts are up to date, nothing to build or publish"
            )
            return
        replaced = replaced_loads(con)
    if replaced and not config.full_refresh:
        selection = rebuild_selection(list(replaced))
        context.log.info(
            f"files of {', '.join(replaced)} re-delivered with other bytes: "
            f"dbt run --full-refresh --select {selection}"
        )
        rebuild = dbt.cli(
            ["run", "--full-refresh", "--select", selection], manifest=manifest_path()
        )
        rebuild.wait()
        finish_invocation(rebuild.target_path)
    refresh = ", full refresh" if config.full_refresh else ""
    context.log.info(f"dbt build as of {format_as_of(as_of)}{refresh}")
    build = dbt.cli(dbt_build_args(full_refresh=config.full_refresh), context=context)
    try:
        yield from with_table_metadata(build.stream(), warehouse, context.asset_key_for_output)
    finally:
        finish_invocation(build.target_path)
    if replaced:
        with warehouse.connect() as con:
            mark_rebuilt(con, replaced)


dbt_model_assets: list[dg.AssetsDefinition] = [warehouse_dbt_models]
MART_KEYS: list[dg.AssetKey] = sorted(
    (key for key in warehouse_dbt_models.keys if key.path[0] == "marts"),
    key=lambda key: key.to_user_string(),
)
