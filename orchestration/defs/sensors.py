"""The file-arrival sensor: new extract files launch a load, build and publication.

A schedule is not the only trigger: upstream systems drop files whenever
they are ready. Every tick the sensor lists the extracts root and compares it
with the load ledger (``raw._loads``, read-only). Files the ledger does not
have (or has with another size) launch one ``build_warehouse`` run: the load,
the incremental build and the publication. It never fails on the warehouse
lock: while a run writes the warehouse, the tick is skipped with that reason
and the files are picked up by a later tick. Runs
that write the warehouse carry the ``wa/writes_warehouse`` tag, which the
instance's run queue limits to one at a time (see ``DAGSTER_YAML``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.defs.jobs import WRITER_TAG, build_warehouse, run_config_for, run_tags
from orchestration.layout import source_of
from orchestration.loading.schema import table_exists
from orchestration.resources import ExtractsResource, WarehouseResource

SENSOR_INTERVAL_SECONDS = 60


@dataclass(frozen=True, order=True)
class ExtractFile:
    path: str  # relative to the extracts root
    size: int


class WarehouseBusy(Exception):
    """Another process holds the warehouse for writing."""


def listed_files(root: Path) -> list[ExtractFile]:
    """Layout files under the extracts root (what the loaders would read)."""
    if not root.is_dir():
        return []
    return sorted(
        ExtractFile(f"{path.parent.name}/{path.name}", path.stat().st_size)
        for path in root.glob("*/*")
        if path.is_file() and source_of(path.parent.name, path.name)
    )


def loaded_sizes(warehouse: Path) -> dict[str, int]:
    """The size of every file's latest load in the ledger; {} before the first load."""
    if not warehouse.exists():
        return {}
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as error:
        raise WarehouseBusy(str(error)) from error
    try:
        if not table_exists(con, "raw", "_loads"):
            return {}
        rows = con.execute(
            "select file, arg_max(size_bytes, loaded_at) from raw._loads group by file"
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


def pending_files(root: Path, warehouse: Path) -> list[ExtractFile]:
    """Files that are new, or re-delivered with another size, since the last load."""
    loaded = loaded_sizes(warehouse)
    return [f for f in listed_files(root) if loaded.get(f.path) != f.size]


def _run_key(files: list[ExtractFile]) -> str:
    listing = "\n".join(f"{f.path}\t{f.size}" for f in files)
    return hashlib.sha256(listing.encode()).hexdigest()[:20]


@dg.sensor(
    job=build_warehouse,
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    description=(
        "Launches build_warehouse (load, build, publish) when new or re-delivered extract "
        "files arrive."
    ),
)
def new_extract_files_sensor(
    context: dg.SensorEvaluationContext,
    warehouse: WarehouseResource,
    extracts: ExtractsResource,
):
    active = context.instance.get_run_records(
        dg.RunsFilter(
            tags={WRITER_TAG: "true"},
            statuses=[
                dg.DagsterRunStatus.QUEUED,
                dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED,
            ],
        ),
        limit=1,
    )
    if active:
        return dg.SkipReason(
            f"run {active[0].dagster_run.run_id} is writing the warehouse; "
            "new files are checked again on the next tick"
        )
    try:
        pending = pending_files(extracts.path, Path(warehouse.path))
    except WarehouseBusy:
        return dg.SkipReason(
            "the warehouse is locked by another process; new files are checked again "
            "on the next tick"
        )
    if not pending:
        return dg.SkipReason("no new extract files")
    context.log.info(f"{len(pending)} new extract file(s), e.g. {pending[0].path}")
    return dg.RunRequest(
        run_key=_run_key(pending),
        # the as-of time is derived after the run's loads, from the files that loaded rows
        run_config=run_config_for(as_of=None),
        tags=run_tags("new_extract_files", None),
    )


sensors = [new_extract_files_sensor]
