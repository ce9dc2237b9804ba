"""``wa-warehouse bench`` / ``make bench``: the pipeline against a one-query reference.

Scenarios (``--only`` / ``--skip`` pick a subset; the default runs the first four):

``reference``
    One DuckDB query (:func:`reference_sql`, one child process, the extract
    files only read) that computes the message counts of
    ``marts.campaign_performance_daily`` (targeted, sent, dropped, delivered,
    undelivered, delivery_pending, opens per account, campaign and cohort date)
    straight from the raw files of the ``full`` scenario: dispatches
    deduplicated on ``dispatch_id`` (the newest file's row), webhook statuses
    typed by ``read_ndjson`` and unnested, deduplicated on their content, the
    message state as of ``as_of`` by ``marts.md``. Timed (wall, CPU, peak
    memory) and CHECKED against the full build's mart: the sums of every
    column and every row on (account_id, campaign_id, period_start) must be
    equal, else the bench fails (a reference computing something else is no
    yardstick).
``full``
    ``--dispatches`` N (default 5M) over 45 days, one ``wa-warehouse run`` on a
    fresh warehouse: wall, CPU, peak memory, the split into loading (steps
    ``load_*``), dbt (steps naming ``dbt``) and other (the rest of the wall
    time), and full build / reference. Target: at most 3x the reference.
``incremental``
    ``--incremental-dispatches`` M (default 3M) over 61 days with a fixed last
    day: the first 60 days built (initial build), a no-op run (no new file,
    same as-of; target: at most 8 s), a build with no new file as of the next
    day (*idle day*: the fixed cost of a build), day 61's files added and the
    daily run, then ``--full-refresh`` on the same warehouse, files and as-of.
    The daily run's marts must equal the full refresh's (else the bench
    fails). Target: (daily - no-op) / (full refresh - no-op) at most 10 %;
    (daily - idle day) / (full refresh - idle day), what the new day's data
    costs, is printed beside it. ``--fresh-build``
    also builds a fresh warehouse from the 61 days and compares its marts too.
``memory``
    ``--memory-dispatches`` L (default 10M) over 45 days, a full build: the
    peak resident memory of the largest process of the run (the CLI or one of
    its children). Target: at most 12 GiB. When L = N and ``full`` ran, its
    figure is reused.
``spark`` (not in the default set; ``make bench BENCH_ENGINE=spark``)
    ``--spark-dispatches`` S (default 1M) over 45 days: one ``wa-warehouse run``
    on a fresh warehouse with each engine, DuckDB then Spark (``WA_ENGINE=spark``,
    local[2] unless ``WA_SPARK_MASTER`` says otherwise), their figures side by
    side, and the two builds' marts compared row for row
    (orchestration/parity.py; the bench fails when they differ).
``load`` (not in the default set)
    On the ``full`` scenario's files, the project's loaders into a fresh
    warehouse in this process against a bare DuckDB read of the same files
    into temporary tables: what validation, quarantine and the ledger cost.

Every scenario also reports its generation time and extract size. Figures go
to ``<workdir>/bench.json`` (rewritten after every scenario). Each scenario
works in ``<workdir>/<scenario>/`` and deletes its extracts and warehouses
when done unless ``--keep`` (10M dispatches are ~12 GB of extracts); run logs
stay (``<run>.log``, the run's output, and ``logs/``, its full logs, dbt's lines
included). Every ``wa-warehouse run`` is a child process with its serving
outputs and logs inside that folder and without ``DAGSTER_HOME`` (an in-memory
Dagster instance), so nothing of the user's ``data/`` is touched. :func:`main`
returns 1 when a run fails, the reference does not match, or compared marts
differ.

While it works, the bench prints progress to stderr: each phase (calibration,
generation with the generator's lines, reference query, every run) when it
starts and when it ends, stamped with the time since the bench began; the
figures go to stdout as before.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from orchestration.config import (
    ENV_ENGINE,
    ENV_LOGS_DIR,
    ENV_SERVING_PARQUET_DIR,
    ENV_SERVING_PATH,
    ENV_SPARK_DIR,
    ConfigError,
    as_of_after,
    format_as_of,
)
from orchestration.layout import SOURCES, extract_day_of
from orchestration.progress_lines import ProgressLines

if TYPE_CHECKING:
    from orchestration.generator import GeneratorConfig

# The generator (pandas) and the loaders are imported where used: the CLI builds
# its parser, add_arguments included, for every command.

CALIBRATION_RECIPIENTS = 20
DEFAULT_DAYS = 45  # the full and memory scenarios (the generator's default)
#: A fixed last day makes every bench read the same files (the generator defaults to yesterday).
LAST_DAY = date(2026, 10, 31)

# The incremental scenario: 60 days of history, then one more day.
INCREMENTAL_DAYS = 61
INCREMENTAL_LAST_DAY = LAST_DAY

DEFAULT_DISPATCHES = 5_000_000
DEFAULT_INCREMENTAL_DISPATCHES = 3_000_000
DEFAULT_MEMORY_DISPATCHES = 10_000_000
DEFAULT_SPARK_DISPATCHES = 1_000_000

SCENARIOS = ("reference", "full", "incremental", "memory", "load", "spark")
DEFAULT_SCENARIOS = ("reference", "full", "incremental", "memory")

# Targets
FULL_TO_REFERENCE_TARGET = 3.0  # a full build costs at most 3x the reference query
NOOP_TARGET_S = 8.0  # a run with nothing new takes at most this wall time
DAILY_TARGET_RATIO = 0.10  # (daily - no-op) / (full refresh - no-op)
MEMORY_TARGET_GIB = 12.0  # peak resident memory of a full build

#: The mart columns the reference computes, in order.
COUNT_COLUMNS = (
    "targeted",
    "sent",
    "dropped",
    "delivered",
    "undelivered",
    "delivery_pending",
    "opens",
)
KEY_COLUMNS = ("account_id", "campaign_id", "period_start")


@dataclass(frozen=True)
class Timed:
    seconds: float
    rows: int


# --- generation ----------------------------------------------------------------


def _config(
    out: Path,
    recipients_per_send: int,
    *,
    days: int = DEFAULT_DAYS,
    end_date: date | None = LAST_DAY,
    format: str = "csv",
) -> GeneratorConfig:
    from orchestration.generator import GeneratorConfig

    return GeneratorConfig(
        out=out,
        seed=1,
        recipients_per_send=recipients_per_send,
        days=days,
        end_date=end_date,
        format=format,
    )


def recipients_for(
    dispatches: int, workdir: Path, *, days: int = DEFAULT_DAYS, end_date: date | None = LAST_DAY
) -> int:
    """Recipients per send that make about ``dispatches`` over ``days`` with the default mix."""
    from orchestration.generator import generate

    probe = workdir / "calibration"
    shutil.rmtree(probe, ignore_errors=True)
    config = _config(probe / "extracts", CALIBRATION_RECIPIENTS, days=days, end_date=end_date)
    result = generate(config, progress=False)
    sends = result.rows_written["dispatches"] / CALIBRATION_RECIPIENTS
    shutil.rmtree(probe, ignore_errors=True)
    return max(1, round(dispatches / sends))


def _bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def generate_extracts(
    root: Path,
    dispatches: int,
    *,
    days: int = DEFAULT_DAYS,
    format: str = "csv",
    progress: ProgressLines | None = None,
) -> tuple[Path, dict[str, float]]:
    """``root/extracts`` with about ``dispatches`` over ``days`` ending :data:`LAST_DAY`.

    ``progress`` gets the calibration and the generator's lines (prefixed ``<root name>:``).
    """
    from orchestration.generator import generate

    progress = progress or ProgressLines(enabled=False)
    extracts = root / "extracts"
    with progress.step(f"{root.name}: calibration (recipients per send)"):
        recipients = recipients_for(dispatches, root, days=days)
    progress.line(
        f"{root.name}: generating ~{dispatches:,} dispatches over {days} days "
        f"({recipients:,} recipients per send)"
    )
    result = generate(
        _config(extracts, recipients, days=days, format=format), progress=progress.enabled
    )
    progress.timed(f"{root.name}: generated", result.seconds)
    return extracts, {
        "dispatches": result.rows_written["dispatches"],
        "recipients_per_send": recipients,
        "generate_s": result.seconds,
        "extract_mb": _bytes(extracts) / 1e6,
    }


def _files(root: Path, source: str) -> list[str]:
    spec = SOURCES[source]
    folder = root / spec.folder
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if spec.match(p.name))


# --- the reference query -------------------------------------------------------

_CSV = (
    "header = true, all_varchar = true, ignore_errors = true, "
    "delim = ',', quote = '\"', escape = '\"'"
)
#: The only parts of a webhook line the reference reads (read_ndjson skips the rest).
_WEBHOOK_COLUMNS = {
    "delivery_id": "VARCHAR",
    "received_at": "VARCHAR",
    "body": (
        "STRUCT(entry STRUCT(changes STRUCT(value STRUCT(statuses STRUCT("
        'id VARCHAR, status VARCHAR, "timestamp" VARCHAR, errors STRUCT(code VARCHAR)[]'
        ")[]))[])[])"
    ),
}


def _sql_list(paths: Iterable[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _blank(col: str) -> str:
    return rf"({col} IS NULL OR regexp_full_match({col}, '\s*'))"


def _parses(col: str, typed: str) -> str:
    """The text ``col`` is blank or parses (a row where it does not is quarantined whole)."""
    return f"({_blank(col)} OR {typed} IS NOT NULL)"


def _utc(col: str) -> str:
    return f"timezone('UTC', try_cast({col} AS TIMESTAMPTZ))"


def _integer(col: str) -> str:
    matches = rf"regexp_full_match({col}, '\s*[+-]?[0-9]+\s*')"
    return f"CASE WHEN {matches} THEN try_cast({col} AS BIGINT) END"


def _tabular(files: list[str], columns: str) -> str:
    """SELECT of ``columns`` (text) and ``_file`` over csv, csv.gz and parquet files."""
    csv = [f for f in files if not f.endswith(".parquet")]
    parquet = [f for f in files if f.endswith(".parquet")]
    parts = []
    if csv:
        parts.append(
            f"SELECT {columns}, filename AS _file FROM read_csv({_sql_list(csv)}, {_CSV}, "
            "union_by_name = true, filename = true)"
        )
    if parquet:
        cast = ", ".join(f"CAST({c.strip()} AS VARCHAR) AS {c.strip()}" for c in columns.split(","))
        parts.append(
            f"SELECT {cast}, filename AS _file FROM read_parquet({_sql_list(parquet)}, "
            "union_by_name = true, filename = true)"
        )
    return "\nUNION ALL BY NAME\n".join(parts)


def reference_sql(extracts: Path, as_of: datetime) -> str:
    """One query: the seven message counts of ``campaign_performance_daily`` from raw files.

    The pipeline's rules (``int_messages``, ``stg_raw__*``, the loaders):

    - rows whose key is blank or a typed value does not parse are not counted
      (the loaders quarantine them); a webhook status whose timestamp is not
      Unix seconds or whose error code is not an integer is left out (the
      loader quarantines its whole line; the generator's bad lines are
      corrupted copies of good ones, so the counts are the same);
    - dispatches: one row per ``dispatch_id``, the newest file's (by the day
      in its name), attempted at or before ``as_of``; a ``HOLDOUT`` row (the
      campaign's control group) is no targeted message and not counted, and one
      with a wamid or drop_code is not a row at all (the loader quarantines it);
    - statuses: deduplicated on (wamid, status, timestamp, error code), those
      with a timestamp at or before ``as_of`` count;
    - state: delivered (any delivered/read/played), opened (read), else
      undelivered (failed, or 720 h since the attempt), else pending;
    - cohort date: ``attempted_at`` in the account's time zone (UTC if unknown).
    """
    as_of_utc = as_of.astimezone(UTC).replace(tzinfo=None)
    as_of_sql = f"TIMESTAMP '{as_of_utc:%Y-%m-%d %H:%M:%S}'"
    as_of_epoch = int(as_of.timestamp())
    accounts = _files(extracts, "accounts")
    dispatches = _files(extracts, "dispatches")
    webhooks = _files(extracts, "webhooks")
    if not dispatches:
        raise ValueError(f"no dispatch files under {extracts}")
    accounts_sql = (
        _tabular(accounts, "account_id, timezone")
        if accounts
        else "SELECT NULL::VARCHAR AS account_id, NULL::VARCHAR AS timezone, "
        "NULL::VARCHAR AS _file WHERE false"
    )
    dispatch_rows = _tabular(
        dispatches,
        "dispatch_id, account_id, campaign_id, result, wamid, drop_code, attempted_at, "
        "meta_error_code",
    )
    columns = ", ".join(f"'{k}': '{v}'" for k, v in _WEBHOOK_COLUMNS.items())
    if webhooks:
        statuses_sql = f"""
        SELECT s.id AS wamid, lower(s.status) AS status, CAST(s."timestamp" AS BIGINT) AS ts,
               CAST(s.errors[1].code AS BIGINT) AS error_code
        FROM (
            SELECT unnest(ch.value.statuses) AS s FROM (
                SELECT unnest(en.changes) AS ch FROM (
                    SELECT unnest(body.entry) AS en
                    FROM read_ndjson({_sql_list(webhooks)}, columns = {{{columns}}},
                                     ignore_errors = true)
                    WHERE NOT {_blank("delivery_id")}
                      AND try_cast(received_at AS TIMESTAMPTZ) IS NOT NULL
                )
            )
        )
        WHERE regexp_full_match(s."timestamp", '[0-9]{{1,11}}')
          AND (s.errors IS NULL OR list_bool_and(list_transform(s.errors,
                lambda e: e.code IS NULL OR regexp_full_match(e.code, '-?[0-9]{{1,18}}'))))
        """
    else:
        statuses_sql = (
            "SELECT NULL::VARCHAR AS wamid, NULL::VARCHAR AS status, NULL::BIGINT AS ts, "
            "NULL::BIGINT AS error_code WHERE false"
        )
    return f"""
WITH
accounts AS (
    SELECT account_id, arg_max(timezone, _file) AS timezone
    FROM ({accounts_sql})
    WHERE NOT {_blank("account_id")}
    GROUP BY account_id
),
dispatch_rows AS (
    SELECT dispatch_id, account_id, campaign_id, upper(result) AS result, wamid,
           {_utc("attempted_at")} AS attempted_at,
           regexp_extract(_file, '(\\d{{4}}-\\d{{2}}-\\d{{2}})[^/]*$', 1) AS file_day
    FROM ({dispatch_rows})
    WHERE NOT {_blank("dispatch_id")}
      AND {_parses("attempted_at", _utc("attempted_at"))}
      AND {_parses("meta_error_code", _integer("meta_error_code"))}
      AND NOT (coalesce(upper(trim(result)) = 'HOLDOUT', false)
               AND NOT ({_blank("wamid")} AND {_blank("drop_code")}))
),
dispatches AS (
    SELECT dispatch_id,
           arg_max({{'account_id': account_id, 'campaign_id': campaign_id, 'result': result,
                    'wamid': wamid, 'attempted_at': attempted_at}}, file_day) AS d
    FROM dispatch_rows
    GROUP BY dispatch_id
),
statuses AS (
    SELECT DISTINCT wamid, status, ts, error_code
    FROM ({statuses_sql})
    WHERE ts <= {as_of_epoch}
),
message_statuses AS (
    SELECT wamid,
           bool_or(status IN ('delivered', 'read', 'played')) AS is_delivered,
           bool_or(status = 'read') AS is_read,
           bool_or(status = 'failed') AS is_failed
    FROM statuses
    GROUP BY wamid
),
messages AS (
    SELECT d.account_id, d.campaign_id,
           CAST(timezone(coalesce(a.timezone, 'UTC'), timezone('UTC', d.attempted_at)) AS DATE)
               AS period_start,
           d.result = 'SENT' AS is_sent,
           d.result = 'DROPPED' AS is_dropped,
           coalesce(m.is_delivered, false) AS is_delivered,
           coalesce(m.is_read, false) AS is_read,
           coalesce(m.is_failed, false) AS is_failed,
           d.attempted_at <= {as_of_sql} - INTERVAL 720 HOUR AS is_past_report_deadline
    FROM (SELECT unnest(d) FROM dispatches) AS d
    LEFT JOIN accounts AS a ON d.account_id = a.account_id
    LEFT JOIN message_statuses AS m ON d.result = 'SENT' AND d.wamid = m.wamid
    WHERE d.attempted_at <= {as_of_sql}
      AND d.result IS DISTINCT FROM 'HOLDOUT'
)
SELECT account_id, campaign_id, period_start,
       count(*) AS targeted,
       count(*) FILTER (WHERE is_sent) AS sent,
       count(*) FILTER (WHERE is_dropped) AS dropped,
       count(*) FILTER (WHERE is_sent AND is_delivered) AS delivered,
       count(*) FILTER (WHERE is_sent AND NOT is_delivered
                        AND (is_failed OR is_past_report_deadline)) AS undelivered,
       count(*) FILTER (WHERE is_sent AND NOT is_delivered AND NOT is_failed
                        AND NOT is_past_report_deadline) AS delivery_pending,
       count(*) FILTER (WHERE is_sent AND is_read) AS opens
FROM messages
GROUP BY ALL
ORDER BY ALL
"""


Row = tuple  # (account_id, campaign_id, period_start as ISO text, *counts)


def _rows(result: Iterable[Sequence]) -> list[Row]:
    return [
        (a, c, d.isoformat() if hasattr(d, "isoformat") else d, *(int(n) for n in counts))
        for a, c, d, *counts in result
    ]


def reference_totals(extracts: Path, as_of: datetime) -> list[Row]:
    """Run :func:`reference_sql` in this process: its rows, sorted."""
    con = duckdb.connect()
    try:
        return _rows(con.execute(reference_sql(extracts, as_of)).fetchall())
    finally:
        con.close()


# A child's peak memory (ru_maxrss) starts from the hiwater mark of the process that
# exec'd it (Linux keeps it across exec), so a child started straight from this
# big process (pandas, generated data) would report at least this process's peak.
# A small launcher forks the measured command instead and reports its usage.
_LAUNCHER = """
import json, os, sys, time
out, command = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(command[0], command)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
code = os.waitstatus_to_exitcode(status)
with open(out, "w") as f:
    json.dump({"code": code, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
               "peak_memory_mb": usage.ru_maxrss / 1024}, f)
sys.exit(code if code >= 0 else 128 - code)
"""

# The reference child: nothing but DuckDB, so its process time is the query's.
_REFERENCE_CHILD = """
import json, sys, time
import duckdb
sql, out = sys.argv[1:3]
started = time.perf_counter()
con = duckdb.connect()
rows = con.execute(open(sql).read()).fetchall()
seconds = time.perf_counter() - started
with open(out, "w") as f:
    json.dump({"query_s": seconds, "rows": rows}, f, default=str)
"""


def _child(
    command: list[str], *, log: Path, env: dict[str, str] | None = None
) -> tuple[int, dict[str, float]]:
    """Run ``command`` (output to ``log``): its exit code, wall, CPU and peak memory.

    CPU and peak memory include the command's own children (dbt); the peak is
    the resident memory of the largest single process among them.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    usage = log.with_suffix(".usage.json")
    usage.unlink(missing_ok=True)
    launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(usage), *command]
    with log.open("w") as out:
        code = subprocess.run(launcher, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
    if not usage.exists():
        return (code or 1), {}
    figures = json.loads(usage.read_text())
    usage.unlink()
    return figures.pop("code"), figures


def run_reference(extracts: Path, as_of: datetime, *, log: Path) -> tuple[dict[str, float], list]:
    """:func:`reference_sql` in a child process: its wall, query, CPU time and peak memory, rows.

    ``wall_s`` is the whole process (Python start, DuckDB import, the query).
    """
    sql, out = log.with_suffix(".sql"), log.with_suffix(".json")
    sql.write_text(reference_sql(extracts, as_of))
    command = [sys.executable, "-c", _REFERENCE_CHILD, str(sql), str(out)]
    code, figures = _child(command, log=log)
    if code != 0:
        raise RuntimeError(f"the reference query failed (log {log}):\n{_tail(log)}")
    document = json.loads(out.read_text())
    out.unlink()
    figures["query_s"] = document["query_s"]
    return figures, _rows(document["rows"])


def mart_totals(warehouse: Path) -> list[Row]:
    """The reference's columns of ``marts.campaign_performance_daily``, sorted."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return _rows(
            con.execute(
                f"SELECT {', '.join(KEY_COLUMNS + COUNT_COLUMNS)} "
                "FROM marts.campaign_performance_daily ORDER BY ALL"
            ).fetchall()
        )
    finally:
        con.close()


@dataclass(frozen=True)
class TotalsCheck:
    """The reference's rows against the mart's."""

    reference_rows: int
    mart_rows: int
    reference_sums: dict[str, int]
    mart_sums: dict[str, int]
    differing_rows: list[tuple]  # keys of rows missing on one side or with other counts

    @property
    def sums_match(self) -> bool:
        return self.reference_sums == self.mart_sums

    @property
    def matches(self) -> bool:
        return self.sums_match and not self.differing_rows and self.reference_rows > 0


def compare_totals(reference: Iterable[Row], mart: Iterable[Row]) -> TotalsCheck:
    """Column sums and row-by-row equality on (account_id, campaign_id, period_start)."""
    keys = len(KEY_COLUMNS)
    ref = {tuple(r[:keys]): tuple(r[keys:]) for r in reference}
    got = {tuple(r[:keys]): tuple(r[keys:]) for r in mart}

    def sums(rows: dict) -> dict[str, int]:
        return {c: sum(v[i] for v in rows.values()) for i, c in enumerate(COUNT_COLUMNS)}

    differing = sorted(
        (k for k in ref.keys() | got.keys() if ref.get(k) != got.get(k)),
        key=lambda k: tuple(str(x) for x in k),
    )
    return TotalsCheck(len(ref), len(got), sums(ref), sums(got), differing)


# --- the load scenario: loaders against a bare read -----------------------------


def bare_read(root: Path) -> Timed:
    """Read every extract file with DuckDB's own readers into temp tables, nothing else."""
    con = duckdb.connect()
    rows = 0
    started = time.perf_counter()
    for name, spec in SOURCES.items():
        files = _files(root, name)
        if not files:
            continue
        if not spec.columns:
            reader = f"read_json({files!r}, format = 'newline_delimited', ignore_errors = true)"
        elif files[0].endswith(".parquet"):
            reader = f"read_parquet({files!r}, union_by_name = true)"
        else:
            reader = f"read_csv({files!r}, union_by_name = true, ignore_errors = true)"
        con.execute(f"create temp table bare_{name} as select * from {reader}")
        rows += con.execute(f"select count(*) from bare_{name}").fetchone()[0]
    seconds = time.perf_counter() - started
    con.close()
    return Timed(seconds, rows)


def load_all(root: Path, warehouse: Path) -> Timed:
    """Load every source into a fresh warehouse with the project's loaders."""
    from orchestration.loading import ensure_raw_schema, load_source

    warehouse.unlink(missing_ok=True)
    con = duckdb.connect(str(warehouse))
    rows = 0
    started = time.perf_counter()
    ensure_raw_schema(con)
    for name in SOURCES:
        result = load_source(con, root, name)
        rows += result.rows_loaded + result.rows_quarantined
    seconds = time.perf_counter() - started
    con.close()
    return Timed(seconds, rows)


# --- one `wa-warehouse run` as a child process ------------------------------


# "[  12.3s] done   load_webhooks    2.7s" (the stamp is the time since the run began)
_DONE = re.compile(r"^\s*(?:\[\s*[0-9.]+s\]\s*)?done\s+(\S+)\s+([0-9]+(?:\.[0-9]*)?)s\b")


def step_seconds(progress: str) -> dict[str, float]:
    """Seconds of every finished step, from the CLI's ``[elapsed] done <step> <secs>s`` lines.

    A step reported twice counts twice; failed steps and any other line are ignored.
    """
    steps: dict[str, float] = {}
    for line in progress.splitlines():
        if match := _DONE.match(line):
            steps[match[1]] = steps.get(match[1], 0.0) + float(match[2])
    return steps


def split_steps(wall: float, steps: dict[str, float]) -> dict[str, float]:
    """Wall time split into loading (steps ``load_*``), dbt (steps naming dbt) and the rest."""
    loading = sum(v for k, v in steps.items() if k.startswith("load_"))
    dbt = sum(v for k, v in steps.items() if "dbt" in k and not k.startswith("load_"))
    other = max(0.0, wall - loading - dbt)
    return {"wall_s": wall, "loading_s": loading, "dbt_s": dbt, "other_s": other}


def _tail(log: Path, chars: int = 3000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else ""


def cli_run(
    extracts: Path,
    warehouse: Path,
    *,
    serving: Path,
    log: Path,
    as_of: datetime | None = None,
    full_refresh: bool = False,
    engine: str = "duckdb",
) -> dict[str, float]:
    """``wa-warehouse run`` as a child process: wall time, its split, CPU time, peak memory.

    With ``engine`` ``spark`` the Spark warehouse goes to ``spark/`` beside ``warehouse``
    (the DuckDB file of views over it).

    Published marts go to ``serving`` (not the user's ``data/``); without
    ``DAGSTER_HOME`` the run uses an in-memory Dagster instance. Output goes to ``log``.
    CPU time and peak memory include the dbt subprocess; CPU time is the figure to
    trust on a busy machine, where wall time also counts waiting for a core.
    """
    command = [
        str(Path(sys.executable).parent / "wa-warehouse"), "run",
        "--extracts", str(extracts), "--warehouse", str(warehouse),
    ]  # fmt: skip
    if as_of is not None:
        command += ["--as-of", format_as_of(as_of)]
    if full_refresh:
        command.append("--full-refresh")
    # none of the user's WA_* settings (paths, as-of, WA_LOAD_ALWAYS_HASH, ...) skews it
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("WA_")}
    env[ENV_SERVING_PATH] = str((serving / "serving.duckdb").resolve())
    env[ENV_SERVING_PARQUET_DIR] = str((serving / "parquet").resolve())
    # the run's full log (dbt's lines) beside its output, not in the user's data/logs
    env[ENV_LOGS_DIR] = str((log.parent / "logs").resolve())
    env[ENV_ENGINE] = engine
    if engine == "spark":
        # the user's Spark settings (WA_SPARK_MASTER, driver memory, ...) apply; the
        # Spark warehouse goes beside this run's DuckDB file
        env |= {k: v for k, v in os.environ.items() if k.startswith("WA_SPARK_")}
        env[ENV_SPARK_DIR] = str((warehouse.parent / "spark").resolve())
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    code, usage = _child(command, log=log, env=env)
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} failed (log {log}):\n{_tail(log)}")
    figures = split_steps(usage["wall_s"], step_seconds(log.read_text(errors="replace")))
    return figures | {"cpu_s": usage["cpu_s"], "peak_memory_mb": usage["peak_memory_mb"]}


# --- the incremental scenario's feed and comparison ---------------------------------


def file_day(path: Path) -> date | None:
    """The cut day of an extract file, or None when its name has none (accounts.csv)."""
    day = extract_day_of(path.parent.name, path.name)
    return date.fromisoformat(day) if day else None


def feed_files(extracts: Path, through: date) -> Iterator[Path]:
    """Every file of ``extracts`` (``<folder>/<file>``) dated ``through`` or earlier.

    Undated files (``accounts/accounts.csv``, anything outside the layout) are
    always part of the feed, as they would be on a real delivery folder.
    """
    for path in sorted(extracts.glob("*/*")):
        if path.is_file() and ((day := file_day(path)) is None or day <= through):
            yield path


def fill_feed(extracts: Path, feed: Path, through: date) -> int:
    """Add to ``feed`` the files of ``extracts`` dated ``through`` or earlier it lacks.

    Files are hard-linked (copied where links are impossible): same bytes, no
    extra disk. Returns how many files were added.
    """
    added = 0
    for path in feed_files(extracts, through):
        target = feed / path.relative_to(extracts)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)
        added += 1
    return added


def mart_hashes(warehouse: Path) -> dict[str, tuple[int, str]]:
    """Row count and md5 of the sorted rows (as text) of every table and view in ``marts``."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables "
                "where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        return {
            name: con.execute(
                "select count(*), coalesce(md5(string_agg(r, chr(10) order by r)), '') "
                f'from (select cast(t as varchar) as r from marts."{name}" as t)'
            ).fetchone()
            for name in names
        }
    finally:
        con.close()


def differing_marts(a: dict[str, tuple], b: dict[str, tuple]) -> list[str]:
    """Marts missing from one side or with other rows."""
    return sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))


# --- ratios and targets --------------------------------------------------------


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``; NaN when the denominator is not positive."""
    return numerator / denominator if denominator > 0 else math.nan


def daily_ratio(daily: float, noop: float, full_refresh: float) -> float:
    """What the new day costs beyond a no-op run, as a share of a full refresh's cost."""
    return ratio(daily - noop, full_refresh - noop)


def target_met(value: float, limit: float) -> bool:
    """``value <= limit``; a missing (NaN) value never meets a target."""
    return not math.isnan(value) and value <= limit


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def _target(bench: Bench, keys: tuple[str, str], value: float, limit: float, text: str) -> None:
    """Record ``limit`` and whether ``value`` meets it under ``keys``; print the verdict."""
    met = target_met(value, limit)
    bench.figures |= dict(zip(keys, (limit, met), strict=True))
    print(f"  target: {text}: {verdict(met)}")


# --- scenarios ------------------------------------------------------------------

Figures = dict[str, float | int | bool | str | None]


@dataclass
class Bench:
    """One bench run: where it works, what it found so far, where it saves it."""

    workdir: Path
    keep: bool = False
    format: str = "csv"

    def __post_init__(self) -> None:
        self.figures: Figures = {}
        self.failures: list[str] = []
        # what the bench is doing, on stderr (the figures go to stdout)
        self.progress = ProgressLines(width=46)

    @contextmanager
    def phase(self, text: str) -> Iterator[None]:
        """A progress line when the work starts, one with its duration when it ends."""
        self.progress.line(f"{text} ...")
        with self.progress.step(text):
            yield

    @property
    def saved(self) -> Path:
        return self.workdir / "bench.json"

    def save(self) -> None:
        clean = {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in self.figures.items()
        }
        self.saved.write_text(json.dumps(clean, indent=2) + "\n")

    def record(self, prefix: str, figures: dict[str, float]) -> None:
        """Add ``figures`` under ``<prefix>_<name>``."""
        self.figures |= {f"{prefix}_{k}": v for k, v in figures.items()}

    def fresh_root(self, name: str) -> Path:
        root = self.workdir / name
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        return root

    def cleanup(self, root: Path) -> None:
        """Delete a scenario's extracts and warehouses (not its logs) unless ``keep``."""
        if self.keep or not root.exists():
            return
        for path in root.iterdir():
            if path.is_dir() and path.name == "logs":
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.suffix != ".log":
                path.unlink(missing_ok=True)

    def fail(self, scenario: str, error: Exception) -> None:
        self.failures.append(scenario)
        self.figures[f"{scenario}_error"] = str(error).splitlines()[0]
        print(f"\n{scenario}: FAILED: {error}", file=sys.stderr)


def full_and_reference(
    bench: Bench, dispatches: int, *, full: bool, reference: bool, load: bool
) -> None:
    """The ``full``, ``reference`` and ``load`` scenarios, on one set of extracts."""
    root = bench.fresh_root("full")
    f = bench.figures
    try:
        extracts, generated = generate_extracts(
            root, dispatches, format=bench.format, progress=bench.progress
        )
        bench.record("full", generated)
        as_of = as_of_after(LAST_DAY)
        print(
            f"\nfull build: {generated['dispatches']:,} dispatches over {DEFAULT_DAYS} days, "
            f"{generated['extract_mb']:,.0f} MB of extracts ({bench.format}), generated in "
            f"{generated['generate_s']:.1f}s; as-of {format_as_of(as_of)}"
        )
        if load:
            with bench.phase("load: bare read, then the loaders"):
                _load_scenario(bench, extracts, root)
        rows = None  # the reference first: its figures stand even if the build fails
        if reference:
            with bench.phase("reference: the one-query reference"):
                ref, rows = run_reference(extracts, as_of, log=root / "reference.log")
            bench.record("reference", ref)
            print(
                f"  {'reference query (one process)':<36}{ref['wall_s']:>8.1f}s wall"
                f"{ref['cpu_s']:>8.1f}s cpu{ref['peak_memory_mb']:>9,.0f} MB peak"
                f"   (query {ref['query_s']:.1f}s)"
            )
            if not full:
                print("  reference = marts.campaign_performance_daily: not checked (no full build)")
        build = None
        if full:
            with bench.phase("full: wa-warehouse run, fresh warehouse"):
                build = cli_run(
                    extracts, root / "warehouse.duckdb", as_of=as_of, serving=root / "serving",
                    log=root / "full_build.log",
                )  # fmt: skip
            bench.record("full_build", build)
            _print_run("full build (fresh warehouse)", build)
            if rows is not None:
                bench.progress.line("full: comparing the reference with the mart")
                check = compare_totals(rows, mart_totals(root / "warehouse.duckdb"))
                _record_check(bench, check)
        if build is not None and reference:
            wall = ratio(build["wall_s"], f["reference_wall_s"])
            cpu = ratio(build["cpu_s"], f["reference_cpu_s"])
            f |= {"full_to_reference_ratio": wall, "full_to_reference_cpu_ratio": cpu}
            print(f"  {'full build / reference':<36}{wall:>8.1f}x wall{cpu:>8.1f}x cpu")
            _target(
                bench,
                ("full_to_reference_target", "full_to_reference_target_met"),
                wall,
                FULL_TO_REFERENCE_TARGET,
                f"full build <= {FULL_TO_REFERENCE_TARGET:g}x the reference query (wall)",
            )
    except (RuntimeError, OSError, ValueError, duckdb.Error) as error:
        bench.fail("full", error)
    finally:
        bench.cleanup(root)
        bench.save()


def _record_check(bench: Bench, check: TotalsCheck) -> None:
    f = bench.figures
    f |= {
        "reference_rows": check.reference_rows,
        "reference_mart_rows": check.mart_rows,
        "reference_sums_match": check.sums_match,
        "reference_rows_differing": len(check.differing_rows),
        "reference_matches_mart": check.matches,
    }
    if check.matches:
        print(
            f"  reference = marts.campaign_performance_daily: yes ({check.reference_rows:,} rows, "
            f"{check.reference_sums['targeted']:,} targeted, sums of "
            f"{len(COUNT_COLUMNS)} columns and every row equal)"
        )
        return
    bench.failures.append("reference")
    print("  reference = marts.campaign_performance_daily: NO (the ratio below is meaningless)")
    print(f"    rows: reference {check.reference_rows:,}, mart {check.mart_rows:,}")
    for column in COUNT_COLUMNS:
        a, b = check.reference_sums[column], check.mart_sums[column]
        if a != b:
            print(f"    sum of {column}: reference {a:,}, mart {b:,}")
    for key in check.differing_rows[:5]:
        print(f"    differs: {', '.join(str(k) for k in key)}")


def _load_scenario(bench: Bench, extracts: Path, root: Path) -> None:
    bare = bare_read(extracts)
    loaded = load_all(extracts, root / "load.duckdb")
    (root / "load.duckdb").unlink(missing_ok=True)
    rows_per_s = loaded.rows / loaded.seconds
    to_bare = ratio(loaded.seconds, bare.seconds)
    bench.figures |= {
        "load_bare_read_s": bare.seconds,
        "load_s": loaded.seconds,
        "load_rows": loaded.rows,
        "load_rows_per_s": rows_per_s,
        "load_mb_per_s": bench.figures["full_extract_mb"] / loaded.seconds,
        "load_to_bare_read_ratio": to_bare,
    }
    print(
        f"  {'loaders (in process) / bare read':<36}{loaded.seconds:>8.1f}s{bare.seconds:>8.1f}s"
        f"  = {to_bare:.1f}x ({rows_per_s:,.0f} rows/s)"
    )


def incremental_scenario(bench: Bench, dispatches: int, *, fresh_build: bool = False) -> None:
    """60 days built, a no-op run, one more day's run against a full refresh (and fresh build)."""
    root = bench.fresh_root("incremental")
    f = bench.figures
    try:
        extracts, generated = generate_extracts(
            root, dispatches, days=INCREMENTAL_DAYS, format=bench.format, progress=bench.progress
        )
        bench.record("incremental", generated)
        feed, serving = root / "feed", root / "serving"
        warehouse = root / "daily" / "warehouse.duckdb"
        history = INCREMENTAL_LAST_DAY - timedelta(days=1)
        as_of = as_of_after(INCREMENTAL_LAST_DAY)
        print(
            f"\nincremental: {generated['dispatches']:,} dispatches over {INCREMENTAL_DAYS} days "
            f"({generated['extract_mb']:,.0f} MB), {INCREMENTAL_DAYS - 1} built, then 1 more"
        )
        f["incremental_history_files"] = fill_feed(extracts, feed, history)
        runs: dict[str, dict[str, float]] = {}

        def run(name: str, label: str, target: Path = warehouse, **kwargs) -> None:
            with bench.phase(f"incremental: {label}"):
                runs[name] = cli_run(
                    feed, target, serving=serving, log=root / f"{name}.log", **kwargs
                )
            bench.record(f"incremental_{name}", runs[name])
            _print_run(label, runs[name])

        run(
            "initial_build",
            f"initial build ({INCREMENTAL_DAYS - 1} days)",
            as_of=as_of_after(history),
        )
        run("noop", "no-op run (nothing new)", as_of=as_of_after(history))
        # the next day's as-of without its files: a build with no new data (what the
        # daily schedule does on a day without extracts), the fixed cost of a build
        run("idle_day", "build, no new file (next as-of)", as_of=as_of)
        f["incremental_daily_files"] = fill_feed(extracts, feed, INCREMENTAL_LAST_DAY)
        run("daily", f"daily run (day {INCREMENTAL_DAYS})", as_of=as_of)
        daily_marts = mart_hashes(warehouse)
        run("full_refresh", "full refresh (same warehouse)", as_of=as_of, full_refresh=True)
        compared = {"full refresh": mart_hashes(warehouse)}
        if fresh_build:
            fresh = root / "fresh" / "warehouse.duckdb"
            run("fresh_build", f"fresh build ({INCREMENTAL_DAYS} days)", fresh, as_of=as_of)
            compared["fresh build"] = mart_hashes(fresh)
        _compare_marts(bench, daily_marts, compared)
        _incremental_ratios(bench, runs)
    except (RuntimeError, OSError, ValueError, duckdb.Error) as error:
        bench.fail("incremental", error)
    finally:
        bench.cleanup(root)
        bench.save()


def _compare_marts(bench: Bench, daily: dict[str, tuple], compared: dict[str, dict]) -> None:
    """The daily run's marts against every other build's: a difference fails the scenario."""
    differing = sorted({m for other in compared.values() for m in differing_marts(daily, other)})
    identical = not differing and bool(daily)
    bench.figures |= {
        "incremental_marts_compared": len(daily),
        "incremental_marts_identical": identical,
        "incremental_marts_differing": ", ".join(differing),
    }
    print(
        f"  marts identical: {'yes' if identical else 'NO'} ({len(daily)} marts: "
        f"daily run = {' = '.join(compared)})"
    )
    if not identical:
        bench.failures.append("incremental")
        print(f"  differing marts: {', '.join(differing) or 'none built'}")
        print("  the timings are of a wrong result")


def _incremental_ratios(bench: Bench, runs: dict[str, dict[str, float]]) -> None:
    """The daily run's cost against a full refresh's (beyond a no-op and an idle day); targets."""
    noop, idle, daily, refresh = runs["noop"], runs["idle_day"], runs["daily"], runs["full_refresh"]
    wall = daily_ratio(daily["wall_s"], noop["wall_s"], refresh["wall_s"])
    cpu = daily_ratio(daily["cpu_s"], noop["cpu_s"], refresh["cpu_s"])
    data_wall = daily_ratio(daily["wall_s"], idle["wall_s"], refresh["wall_s"])
    data_cpu = daily_ratio(daily["cpu_s"], idle["cpu_s"], refresh["cpu_s"])
    bench.figures |= {
        "incremental_daily_to_full_refresh_ratio": wall,
        "incremental_daily_to_full_refresh_cpu_ratio": cpu,
        "incremental_data_to_full_refresh_ratio": data_wall,
        "incremental_data_to_full_refresh_cpu_ratio": data_cpu,
    }
    print(f"  {'(daily - no-op) / (full refresh - no-op)':<36}{_pct(wall)} wall{_pct(cpu)} cpu")
    print(
        f"  {'(daily - idle) / (full refresh - idle)':<36}{_pct(data_wall)} wall"
        f"{_pct(data_cpu)} cpu   (idle: the build with no new file)"
    )
    if daily["wall_s"] < noop["wall_s"] or refresh["wall_s"] < noop["wall_s"]:
        print("  warning: a run was faster than the no-op run: wall times are noise here")
        print("  (a busy machine?); compare the CPU figures")
    _target(
        bench,
        ("incremental_noop_target_s", "incremental_noop_target_met"),
        noop["wall_s"],
        NOOP_TARGET_S,
        f"no-op run <= {NOOP_TARGET_S:g}s (wall)",
    )
    _target(
        bench,
        ("incremental_target_ratio", "incremental_target_met"),
        wall,
        DAILY_TARGET_RATIO,
        f"(daily - no-op) <= {DAILY_TARGET_RATIO:.0%} of (full refresh - no-op) (wall)",
    )


def memory_scenario(bench: Bench, dispatches: int) -> None:
    """A full build of ``dispatches``: the peak resident memory of its largest process."""
    f = bench.figures
    reuse = "full_build_peak_memory_mb" in f and f.get("full_dispatches_asked") == dispatches
    root = None if reuse else bench.fresh_root("memory")
    try:
        if reuse:
            f |= {
                "memory_dispatches": f["full_dispatches"],
                "memory_peak_memory_mb": f["full_build_peak_memory_mb"],
                "memory_wall_s": f["full_build_wall_s"],
            }
            print(f"\nmemory: {f['memory_dispatches']:,} dispatches (the full build's run)")
        else:
            extracts, generated = generate_extracts(
                root, dispatches, format=bench.format, progress=bench.progress
            )
            bench.record("memory", generated)
            print(
                f"\nmemory: {generated['dispatches']:,} dispatches over {DEFAULT_DAYS} days "
                f"({generated['extract_mb']:,.0f} MB)"
            )
            with bench.phase("memory: wa-warehouse run, fresh warehouse"):
                build = cli_run(
                    extracts, root / "warehouse.duckdb", as_of=as_of_after(LAST_DAY),
                    serving=root / "serving", log=root / "memory_build.log",
                )  # fmt: skip
            bench.record("memory", build)
            _print_run("full build", build)
        gib = f["memory_peak_memory_mb"] / 1024
        print(f"  peak memory (largest process of the run): {gib:.2f} GiB")
        _target(
            bench,
            ("memory_target_gib", "memory_target_met"),
            gib,
            MEMORY_TARGET_GIB,
            f"peak memory <= {MEMORY_TARGET_GIB:g} GiB",
        )
    except (RuntimeError, OSError, ValueError, duckdb.Error) as error:
        bench.fail("memory", error)
    finally:
        if root is not None:
            bench.cleanup(root)
        bench.save()


def _pct(value: float) -> str:
    return f"{'n/a':>8}" if math.isnan(value) else f"{value:>8.1%}"


def spark_scenario(bench: Bench, dispatches: int) -> None:
    """The ``spark`` scenario: the same extracts built by each engine, compared."""
    from orchestration.parity import compare_warehouses

    root = bench.fresh_root("spark")
    try:
        extracts, generated = generate_extracts(
            root, dispatches, format=bench.format, progress=bench.progress
        )
        bench.record("spark", generated)
        as_of = as_of_after(LAST_DAY)
        print(
            f"\nDuckDB and Spark: {generated['dispatches']:,} dispatches over {DEFAULT_DAYS} "
            f"days, {generated['extract_mb']:,.0f} MB of extracts ({bench.format}); "
            f"as-of {format_as_of(as_of)}"
        )
        runs: dict[str, dict[str, float]] = {}
        for engine in ("duckdb", "spark"):
            folder = root / engine
            with bench.phase(f"spark: wa-warehouse run, engine {engine}, fresh warehouse"):
                runs[engine] = cli_run(
                    extracts, folder / "warehouse.duckdb", as_of=as_of,
                    serving=folder / "serving", log=folder / "build.log", engine=engine,
                )  # fmt: skip
            bench.record(f"{engine}_engine_build", runs[engine])
            _print_run(f"{engine} engine, full build", runs[engine])
        wall = ratio(runs["spark"]["wall_s"], runs["duckdb"]["wall_s"])
        bench.figures["spark_to_duckdb_ratio"] = wall
        # pyspark starts its JVM and never waits for it: the spark run's CPU time and
        # peak memory leave the JVMs (Spark's own work) out, so only wall is compared
        print(f"  {'spark / duckdb':<36}{wall:>8.1f}x wall  (the spark run's cpu and peak")
        print(f"  {'':<36}leave out Spark's JVMs, which pyspark never waits for)")
        with bench.phase("spark: comparing the two builds' marts"):
            differences = compare_warehouses(
                root / "duckdb" / "warehouse.duckdb", root / "spark" / "warehouse.duckdb"
            )
        bench.figures["spark_mart_differences"] = len(differences)
        if differences:
            raise ValueError("the engines' marts differ:\n  " + "\n  ".join(differences[:20]))
        print(f"  {'marts, spark vs duckdb':<36}equal row for row (doubles within 1e-9)")
    except (RuntimeError, OSError, ValueError, duckdb.Error) as error:
        bench.fail("spark", error)
    finally:
        bench.cleanup(root)
        bench.save()


def _print_run(label: str, run: dict[str, float]) -> None:
    print(
        f"  {label:<36}{run['wall_s']:>8.1f}s wall{run['cpu_s']:>8.1f}s cpu"
        f"{run['peak_memory_mb']:>9,.0f} MB peak   (loading {run['loading_s']:.1f}s, "
        f"dbt {run['dbt_s']:.1f}s, other {run['other_s']:.1f}s)"
    )


# --- all scenarios: the command line ------------------------------------------------


def run_bench(
    *,
    dispatches: int = DEFAULT_DISPATCHES,
    workdir: Path = Path("data/bench"),
    scenarios: Iterable[str] = DEFAULT_SCENARIOS,
    incremental_dispatches: int = DEFAULT_INCREMENTAL_DISPATCHES,
    memory_dispatches: int = DEFAULT_MEMORY_DISPATCHES,
    spark_dispatches: int = DEFAULT_SPARK_DISPATCHES,
    keep: bool = False,
    fresh_build: bool = False,
    format: str = "csv",
) -> Figures:
    """Run ``scenarios`` and return every figure (also saved to ``<workdir>/bench.json``).

    ``figures["failed"]`` lists the failed scenarios ("" when none did).
    """
    scenarios = set(scenarios)
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(workdir, keep=keep, format=format)
    bench.figures |= {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenarios": ",".join(s for s in SCENARIOS if s in scenarios),
        "cores": os.cpu_count() or 0,
    }
    print(f"wa-warehouse bench: {bench.figures['scenarios']} in {workdir}")
    if scenarios & {"full", "reference", "load"}:
        bench.figures["full_dispatches_asked"] = dispatches
        full_and_reference(
            bench,
            dispatches,
            full="full" in scenarios,
            reference="reference" in scenarios,
            load="load" in scenarios,
        )
    if "incremental" in scenarios:
        incremental_scenario(bench, incremental_dispatches, fresh_build=fresh_build)
    if "memory" in scenarios:
        memory_scenario(bench, memory_dispatches)
    if "spark" in scenarios:
        spark_scenario(bench, spark_dispatches)
    bench.figures["failed"] = ",".join(bench.failures)
    bench.save()
    print(f"\nfigures saved to {bench.saved}")
    if bench.failures:
        print(f"FAILED: {', '.join(bench.failures)}", file=sys.stderr)
    return bench.figures


def parse_scenarios(text: str) -> list[str]:
    """``"reference,full"`` -> the scenario names (argparse type)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a comma-separated list of {', '.join(SCENARIOS)}"
        )
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every flag of ``wa-warehouse bench`` (see the module docstring for the scenarios)."""
    parser.add_argument(
        "--dispatches",
        type=int,
        default=DEFAULT_DISPATCHES,
        metavar="N",
        help="dispatches of the full build and the reference query (default %(default)s)",
    )
    parser.add_argument(
        "--incremental-dispatches",
        type=int,
        default=DEFAULT_INCREMENTAL_DISPATCHES,
        metavar="M",
        help="dispatches over the 61 days of the incremental scenario (default %(default)s)",
    )
    parser.add_argument(
        "--memory-dispatches",
        type=int,
        default=DEFAULT_MEMORY_DISPATCHES,
        metavar="L",
        help="dispatches of the memory scenario's full build (default %(default)s)",
    )
    parser.add_argument(
        "--spark-dispatches",
        type=int,
        default=DEFAULT_SPARK_DISPATCHES,
        metavar="S",
        help="dispatches of the spark scenario, built by both engines (default %(default)s)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("data/bench"),
        help="where extracts, warehouses, logs and bench.json go (default %(default)s)",
    )
    parser.add_argument(
        "--only",
        type=parse_scenarios,
        default=None,
        metavar="LIST",
        help=f"comma-separated scenarios to run, of {', '.join(SCENARIOS)} "
        f"(default {','.join(DEFAULT_SCENARIOS)})",
    )
    parser.add_argument(
        "--skip",
        type=parse_scenarios,
        default=[],
        metavar="LIST",
        help="comma-separated scenarios not to run",
    )
    parser.add_argument(
        "--fresh-build",
        action="store_true",
        help="incremental: also build a fresh warehouse from the 61 days and compare its marts",
    )
    parser.add_argument(
        "--format",
        choices=("csv", "csv.gz", "parquet"),
        default="csv",
        help="format of the generated dispatches, clicks, ... (default %(default)s)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep each scenario's extracts and warehouses (default: deleted when done)",
    )


def selected_scenarios(args: argparse.Namespace) -> list[str]:
    """The scenarios ``--only`` / ``--skip`` select, in run order."""
    chosen = set(args.only or DEFAULT_SCENARIOS) - set(args.skip)
    return [s for s in SCENARIOS if s in chosen]


def main(args: argparse.Namespace) -> int:
    """Run ``wa-warehouse bench``: 0 when every run succeeded and every comparison matched."""
    for flag in ("dispatches", "incremental_dispatches", "memory_dispatches", "spark_dispatches"):
        if getattr(args, flag) < 1:
            raise ConfigError(
                f"--{flag.replace('_', '-')} {getattr(args, flag)} must be at least 1"
            )
    scenarios = selected_scenarios(args)
    if not scenarios:
        raise ConfigError("--only/--skip leave no scenario to run")
    figures = run_bench(
        dispatches=args.dispatches,
        workdir=args.workdir,
        scenarios=scenarios,
        incremental_dispatches=args.incremental_dispatches,
        memory_dispatches=args.memory_dispatches,
        spark_dispatches=args.spark_dispatches,
        keep=args.keep,
        fresh_build=args.fresh_build,
        format=args.format,
    )
    return 1 if figures["failed"] else 0
