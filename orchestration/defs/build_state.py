"""What the dbt step keeps in the warehouse about its own builds (schema ``raw``).

- ``raw._builds``: every published build, with its as-of time and a
  fingerprint of what it read (the load ledger, the quarantine, the dbt
  project). A run whose as-of time and inputs equal the last build's has
  nothing to do (:func:`up_to_date`).
- ``raw._rebuilt_loads``: the loads that replaced an earlier version of their
  file and that a build has already rebuilt from (:func:`replaced_loads`).
"""

import hashlib
import json
from datetime import UTC, datetime

import duckdb

from orchestration.defs.dbt_project import manifest_path
from orchestration.loading.schema import table_exists

REBUILT_LOADS = "raw._rebuilt_loads"
BUILDS = "raw._builds"


def replaced_loads(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """Loads that replaced an earlier version of their file and that no build has
    rebuilt from yet: ``{source: [load_id, ...]}`` (empty before the first load)."""
    if not table_exists(con, "raw", "_loads"):
        return {}
    con.execute(
        f"create table if not exists {REBUILT_LOADS} (load_id varchar, rebuilt_at timestamp)"
    )
    rows = con.execute(
        f"""
        select source, list(load_id order by load_id)
        from raw._loads
        where replaced_load_id is not null
            and load_id not in (select load_id from {REBUILT_LOADS})
        group by source
        order by source
        """
    ).fetchall()
    return dict(rows)


def build_inputs(con: duckdb.DuckDBPyConnection) -> str:
    """What a build reads that a run can change: the load ledger and the quarantine
    (their row counts and newest times), and the dbt project (its manifest's hash)."""
    ledger = quarantine = None
    if table_exists(con, "raw", "_loads"):
        ledger = con.execute("select count(*), max(loaded_at) from raw._loads").fetchone()
    if table_exists(con, "raw", "_quarantine"):
        quarantine = con.execute(
            "select count(*), max(quarantined_at) from raw._quarantine"
        ).fetchone()
    return f"loads {ledger}; quarantine {quarantine}; project {project_fingerprint()}"


def project_fingerprint() -> str:
    """A hash of the dbt project's content: dbt's own checksum of every model,
    seed and test, and every macro's SQL (not the manifest file's bytes, which
    change with every parse)."""
    manifest = json.loads(manifest_path().read_text())
    content = sorted(
        [(uid, node["checksum"]["checksum"]) for uid, node in manifest["nodes"].items()]
        + [(uid, macro["macro_sql"]) for uid, macro in manifest["macros"].items()]
    )
    return hashlib.sha1(json.dumps(content).encode()).hexdigest()


def record_build(con: duckdb.DuckDBPyConnection, as_of: datetime, inputs: str) -> None:
    """Remember a published build: a later run with the same as-of time and inputs
    has nothing to do."""
    con.execute("create schema if not exists raw")
    con.execute(
        f"create table if not exists {BUILDS} "
        "(finished_at timestamp, as_of timestamp, inputs varchar)"
    )
    con.execute(
        f"insert into {BUILDS} values (now()::timestamp, ?, ?)",
        [as_of.astimezone(UTC).replace(tzinfo=None), inputs],
    )


def up_to_date(con: duckdb.DuckDBPyConnection, as_of: datetime) -> bool:
    """Whether the last published build was as of ``as_of`` on the same inputs."""
    if not table_exists(con, "raw", "_builds"):
        return False
    last = con.execute(
        f"select as_of, inputs from {BUILDS} order by finished_at desc limit 1"
    ).fetchone()
    return last is not None and last == (
        as_of.astimezone(UTC).replace(tzinfo=None),
        build_inputs(con),
    )


def mark_rebuilt(con: duckdb.DuckDBPyConnection, replaced: dict[str, list[str]]) -> None:
    """Remember that a build has rebuilt from these loads."""
    load_ids = [load_id for ids in replaced.values() for load_id in ids]
    con.execute(
        f"insert into {REBUILT_LOADS} select unnest(?::varchar[]), now()::timestamp", [load_ids]
    )
