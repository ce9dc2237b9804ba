"""The dbt project as Dagster assets, with dbt tests as asset checks.

Four ``@dbt_assets`` definitions, so that the period marts carry partitions:

- ``warehouse_dbt_models``: every seed and model but the period marts
  (unpartitioned; dbt selection: all but ``tag:partitioned``).
- ``campaign_performance_daily``, ``_weekly``, ``_monthly`` (the models tagged
  ``partitioned`` and ``daily``, ``weekly`` or ``monthly``): partitioned by
  day, by week starting Monday (as the marts' weeks) and by month, from
  ``WA_PARTITIONS_START``. Their backfill policy is a single run: a backfill
  of a date range is one run and one dbt invocation.

One dbt invocation per pipeline run: when ``warehouse_dbt_models`` is
materialized whole (``build_warehouse``, ``wa-warehouse run``), its dbt
invocation builds the whole project: the period marts too (the periods touched
since their last build) and every test, those across marts included. Dagster
records the period marts' builds as materializations (not partitioned: they
cover the periods touched, not one partition) and their tests as asset check
evaluations. Each dbt invocation costs seconds of start-up and tests, which is
most of a daily run: five invocations made a daily run cost as much as a full
rebuild. A subset of ``warehouse_dbt_models`` (picked in the UI) builds only
that subset.

What a build passes to dbt, through environment variables rather than
``--vars`` (other vars than the previous invocation's make dbt re-parse the
whole project, ~4 s):

- ``WA_AS_OF``: the run's as-of time: the launchpad config ``as_of``, else
  the run's ``wa/as_of`` tag, else the next UTC midnight after the newest
  extract day.
- ``WA_PERIOD_START`` / ``WA_PERIOD_END``: the partition window of a period
  mart build (``YYYY-MM-DD``, end exclusive): the model recomputes exactly the
  periods starting inside it. Empty without a partition: the model recomputes
  the periods touched since its last build.

The launchpad config ``full_refresh`` adds ``--full-refresh``. Other builds
exclude dbt unit tests (``--exclude-resource-type unit_test``, dbt's advice
for production runs: they test the SQL logic on fixtures, whatever the
data); a full refresh runs them.

``cross_mart_tests`` runs the dbt tests that read models of more than one of
these definitions (e.g. period tables sum to the campaign totals) after a
backfill or a partition rebuild (``publish_serving``), before the
publication: a build of one period mart alone skips them (dbt's
``indirect_selection: cautious``), as not all their parents are selected.
"""

import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
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
from dagster_dbt.dbt_manifest import validate_manifest

from orchestration.config import (
    ENV_AS_OF,
    ENV_PERIOD_END,
    ENV_PERIOD_START,
    default_as_of,
    format_as_of,
    parse_as_of,
    partitions_start_from_env,
    requested_as_of,
)
from orchestration.defs.dbt_project import dbt_project, prepare_manifest
from orchestration.defs.loading import WRITES_WAREHOUSE
from orchestration.resources import ExtractsResource

_LAYERS = ("staging", "intermediate", "marts")
PARTITIONED_TAG = "partitioned"
PERIODS = ("daily", "weekly", "monthly")
SERVING_GROUP = "serving"
CROSS_MART_TESTS = dg.AssetKey("cross_mart_tests")
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# dagster-dbt names an invocation's target folder "<op name>-<hash>-<hash>" (or
# "<hash>" outside an op); the newest ones are kept for debugging
INVOCATION_FOLDER = re.compile(r"(^|-)[0-9a-f]{7}$")
KEEP_INVOCATION_FOLDERS = 25
# The period marts and the tests that read them are not assets or checks of
# warehouse_dbt_models (its whole-project build still runs them; a subset of it
# selects none of them).
PERIOD_MART_NODES = f"tag:{PARTITIONED_TAG} tag:{PARTITIONED_TAG}+,resource_type:test"

MANIFEST_PATH = prepare_manifest()


class DbtBuildConfig(dg.Config):
    """Operator settings of a dbt build (the Dagster launchpad shows these)."""

    as_of: str | None = None
    """ISO 8601 as-of time; empty: the run's wa/as_of tag, else the next UTC midnight after
    the newest extract day."""
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


def period_partitions(period: str, start: date) -> dg.TimeWindowPartitionsDefinition:
    """The partitions of a period mart from ``start``, the running period included.

    Weeks start on Monday (Dagster's default is Sunday) and the first one holds
    ``start``; so does the first month.
    """
    if period == "daily":
        return dg.DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1)
    if period == "weekly":
        monday = start - timedelta(days=start.weekday())
        return dg.WeeklyPartitionsDefinition(
            start_date=monday.isoformat(), day_offset=1, end_offset=1
        )
    if period == "monthly":
        return dg.MonthlyPartitionsDefinition(
            start_date=start.replace(day=1).isoformat(), end_offset=1
        )
    raise ValueError(f"unknown period {period!r}; expected one of {', '.join(PERIODS)}")


def dbt_build_args(*, full_refresh: bool) -> list[str]:
    """The dbt CLI arguments of a build (dagster-dbt appends the selection)."""
    if full_refresh:
        return ["build", "--full-refresh"]
    return ["build", "--exclude-resource-type", "unit_test"]


def dbt_environment(*, as_of: datetime, window: tuple[str, str] = ("", "")) -> dict[str, str]:
    """The environment variables a build passes to dbt (see the module docstring)."""
    start, end = window
    return {ENV_AS_OF: format_as_of(as_of), ENV_PERIOD_START: start, ENV_PERIOD_END: end}


def partition_window(context: AssetExecutionContext) -> tuple[str, str]:
    """The run's partition window as dates (end exclusive); empty without a partition."""
    if not (context.has_partition_key or context.has_partition_key_range):
        return "", ""
    window = context.partition_time_window
    return window.start.date().isoformat(), window.end.date().isoformat()


def build_as_of(context: AssetExecutionContext, extracts: ExtractsResource) -> datetime:
    """The run's as-of time (launchpad ``as_of``, else its ``wa/as_of`` tag), else the
    next UTC midnight after the newest extract day."""
    text = requested_as_of(context.run.run_config, context.run.tags)
    return parse_as_of(text) if text else default_as_of(extracts.path)


def _build(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    extracts: ExtractsResource,
    config: DbtBuildConfig,
    *,
    whole_project: bool = False,
) -> Iterator[Any]:
    as_of = build_as_of(context, extracts)
    window = partition_window(context)
    os.environ.update(dbt_environment(as_of=as_of, window=window))
    scope = f", periods starting in [{window[0]}, {window[1]})" if window[0] else ""
    scope += ", the whole project" if whole_project else ""
    refresh = ", full refresh" if config.full_refresh else ""
    context.log.info(f"dbt build as of {format_as_of(as_of)}{scope}{refresh}")
    args = dbt_build_args(full_refresh=config.full_refresh)
    if whole_project:
        # no context: dagster-dbt adds no selection, and reports every node as an
        # AssetMaterialization or AssetCheckEvaluation, made this step's own below
        invocation = dbt.cli(
            args,
            manifest=MANIFEST_PATH,
            dagster_dbt_translator=TRANSLATOR,
            target_path=invocation_target(context.op_execution_context.op.name),
        )
        events = as_step_events(context, invocation.stream())
    else:
        invocation = dbt.cli(args, context=context)
        events = invocation.stream()
    try:
        yield from events
    finally:
        finish_invocation(invocation.target_path)


def invocation_target(step: str) -> Path:
    """A new target folder for one dbt invocation, named as dagster-dbt names its own."""
    target = dbt_project.project_dir / dbt_project.target_path
    return target / f"{step}-{uuid.uuid4().hex[:7]}"


def as_step_events(context: AssetExecutionContext, events: Iterable[Any]) -> Iterator[Any]:
    """The events of a dbt invocation made without context, as the step's own.

    Nodes of this step's assets become outputs, tests of its checks check
    results; other nodes (the period marts) stay materializations and check
    evaluations of their own assets.
    """
    outputs = {key: key.to_python_identifier() for key in context.selected_asset_keys}
    checks = set(context.selected_asset_check_keys)
    for event in events:
        if isinstance(event, dg.AssetMaterialization) and event.asset_key in outputs:
            yield dg.Output(None, output_name=outputs[event.asset_key], metadata=event.metadata)
        elif isinstance(event, dg.AssetCheckEvaluation) and event.asset_check_key in checks:
            yield dg.AssetCheckResult(
                asset_key=event.asset_key,
                check_name=event.check_name,
                passed=event.passed,
                severity=event.severity,
                metadata=event.metadata,
            )
        else:
            yield event


def builds_whole_step(context: AssetExecutionContext) -> bool:
    """Whether the step materializes all its assets and checks (not a subset picked in the UI)."""
    assets = context.assets_def  # the subset, when one was picked: compare with the whole node
    return (
        assets.keys_by_output_name == assets.node_keys_by_output_name
        and assets.check_specs_by_output_name == assets.node_check_specs_by_output_name
    )


def finish_invocation(invocation_target: Path) -> None:
    """Keep the invocation's parse state for the next one, and only the newest folders."""
    keep_parse_state(invocation_target)
    prune_invocation_folders(invocation_target.parent)


def prune_invocation_folders(target: Path, keep: int = KEEP_INVOCATION_FOLDERS) -> list[Path]:
    """Delete all but the ``keep`` newest dbt invocation folders under ``target``.

    dagster-dbt gives every invocation its own folder (about 10 MB: manifest,
    compiled SQL, run results, log) and never removes it; that is gigabytes a
    year of daily runs. The newest stay for debugging. Returns the folders removed.
    """
    folders = sorted(
        (p for p in target.iterdir() if p.is_dir() and INVOCATION_FOLDER.search(p.name)),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)
    return folders[keep:]


def keep_parse_state(invocation_target: Path) -> None:
    """Make an invocation's parse state the one the next invocation starts from.

    dagster-dbt gives every invocation its own target folder, seeded with
    ``target/partial_parse.msgpack``. The prepared one hashes the warehouse path
    of ``wa-warehouse prepare`` (dbt's profile check covers the connection's
    values), so without this every invocation on another warehouse re-parses the
    whole project (~4 s). dbt validates the state it reads (vars, profile, files,
    environment variables), so a mismatched one only costs a re-parse.
    """
    produced = invocation_target / PARTIAL_PARSE_FILE
    kept = dbt_project.project_dir / dbt_project.target_path / PARTIAL_PARSE_FILE
    if not produced.is_file():
        return
    staged = kept.with_name(f".{PARTIAL_PARSE_FILE}.{os.getpid()}")
    try:
        shutil.copyfile(produced, staged)
        os.replace(staged, kept)  # atomic: a concurrent invocation reads the old or the new
    except OSError:
        staged.unlink(missing_ok=True)


@dbt_assets(
    manifest=MANIFEST_PATH,
    project=dbt_project,
    exclude=PERIOD_MART_NODES,
    dagster_dbt_translator=TRANSLATOR,
    pool=WRITES_WAREHOUSE,
)
def warehouse_dbt_models(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    extracts: ExtractsResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    yield from _build(context, dbt, extracts, config, whole_project=builds_whole_step(context))


def _period_mart(period: str, start: date) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=MANIFEST_PATH,
        project=dbt_project,
        select=f"tag:{PARTITIONED_TAG},tag:{period}",
        name=f"campaign_performance_{period}",
        partitions_def=period_partitions(period, start),
        backfill_policy=dg.BackfillPolicy.single_run(),
        dagster_dbt_translator=TRANSLATOR,
        pool=WRITES_WAREHOUSE,
    )
    def period_mart(
        context: AssetExecutionContext,
        dbt: DbtCliResource,
        extracts: ExtractsResource,
        config: DbtBuildConfig,
    ) -> Iterator[Any]:
        yield from _build(context, dbt, extracts, config)

    return period_mart


PARTITIONS_START = partitions_start_from_env()
period_marts: dict[str, dg.AssetsDefinition] = {
    period: _period_mart(period, PARTITIONS_START) for period in PERIODS
}
dbt_model_assets: list[dg.AssetsDefinition] = [warehouse_dbt_models, *period_marts.values()]
MART_KEYS: list[dg.AssetKey] = sorted(
    (key for assets in dbt_model_assets for key in assets.keys if key.path[0] == "marts"),
    key=lambda key: key.to_user_string(),
)


def _definition_of(node: Mapping[str, Any]) -> str:
    """Which dbt asset definition builds a model or seed: its period, or ``""``."""
    tags = node.get("tags", [])
    if PARTITIONED_TAG not in tags:
        return ""
    return next((period for period in PERIODS if period in tags), PARTITIONED_TAG)


def cross_definition_tests(manifest: Mapping[str, Any]) -> list[str]:
    """The data tests whose models are built by more than one dbt asset definition."""
    nodes = manifest["nodes"]
    return sorted(
        node["name"]
        for node in nodes.values()
        if node["resource_type"] == "test"
        and len(
            {
                _definition_of(nodes[parent])
                for parent in node["depends_on"]["nodes"]
                if parent in nodes and nodes[parent]["resource_type"] in ("model", "seed")
            }
        )
        > 1
    )


def _failed_tests(invocation: Any) -> list[str]:
    failed = []
    for event in invocation.stream_raw_events():
        data = event.raw_event.get("data", {})
        if event.raw_event["info"]["name"] == "LogTestResult" and data.get("status") in (
            "fail",
            "error",
        ):
            failed.append(f"{data.get('name')} ({data.get('status')})")
    return failed


@dg.asset(
    key=CROSS_MART_TESTS,
    group_name=SERVING_GROUP,
    deps=MART_KEYS,
    pool=WRITES_WAREHOUSE,
    kinds={"dbt"},
    description=(
        "The dbt tests that read marts built by different steps (period tables sum to the "
        "campaign totals, count identities, reason rows): run once every mart is up to "
        "date; a failure stops the publication."
    ),
)
def cross_mart_tests(
    context: AssetExecutionContext, dbt: DbtCliResource, extracts: ExtractsResource
) -> dg.MaterializeResult:
    names = cross_definition_tests(validate_manifest(MANIFEST_PATH))
    if not names:
        return dg.MaterializeResult(metadata={"tests": 0})
    os.environ.update(dbt_environment(as_of=build_as_of(context, extracts)))
    context.log.info(f"dbt test: {', '.join(names)}")
    invocation = dbt.cli(
        ["test", "--select", " ".join(names)],
        raise_on_error=False,
        target_path=invocation_target(CROSS_MART_TESTS.to_python_identifier()),
    )
    failed = _failed_tests(invocation)
    finish_invocation(invocation.target_path)
    if not invocation.is_successful():
        raise dg.Failure(
            description="dbt tests across marts failed: "
            + (", ".join(failed) or "see the dbt log")
            + "; nothing was published",
        )
    return dg.MaterializeResult(metadata={"tests": len(names), "names": ", ".join(names)})
