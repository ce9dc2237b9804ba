"""``wa-warehouse bench`` / ``make bench``: how fast generation, loading and the pipeline are.

Scenarios, each printed with its figures:

1. generate N dispatches with all their events (seconds, extract bytes);
2. load every extract into a fresh warehouse (seconds, rows/s, MB/s) and, in
   the same process, a bare DuckDB read of the same files into temporary
   tables (``read_csv``/``read_parquet``/``read_json`` with type detection,
   bad lines skipped): the ratio load / bare read is what the loaders add
   (validation, quarantine, typed webhook rows, ledger, one commit per file);
3. optionally (``--pipeline``), the whole ``wa-warehouse run`` on those files:
   wall time and peak memory of the process, split into loading, dbt and the
   rest (imports, Dagster);
4. optionally (``--incremental``), the daily run against a full rebuild: 61
   days of about N dispatches; a warehouse built from the first 60 days (the
   "initial build"), then day 61's files added and one more ``wa-warehouse
   run`` timed (the daily run), then ``wa-warehouse run --full-refresh`` on
   the same warehouse and a build of a fresh warehouse from all 61 days. The
   daily run's marts must equal both rebuilds' (else the figures are of a
   wrong result and the command fails); the target is a daily run costing at
   most 10 % of the full refresh.

Every ``wa-warehouse run`` is a child process with its serving outputs
inside the bench workdir and without ``DAGSTER_HOME`` (an in-memory Dagster
instance), so nothing of the user's ``data/`` is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from orchestration.config import (
    ENV_SERVING_PARQUET_DIR,
    ENV_SERVING_PATH,
    as_of_after,
    format_as_of,
)
from orchestration.generator import GeneratorConfig, generate
from orchestration.layout import SOURCES, extract_day_of
from orchestration.loading import ensure_raw_schema, load_source

CALIBRATION_RECIPIENTS = 20
DEFAULT_DAYS = GeneratorConfig.days  # what the generation and load scenarios generate

# The incremental scenario: 60 days of history, then one more day. A fixed last
# day makes every bench read the same files (the generator defaults to yesterday).
INCREMENTAL_DAYS = 61
INCREMENTAL_LAST_DAY = date(2026, 10, 31)
DAILY_TARGET_RATIO = 0.10  # the daily run costs at most this share of the full refresh


@dataclass(frozen=True)
class Timed:
    seconds: float
    rows: int


def _config(
    out: Path, recipients_per_send: int, *, days: int = DEFAULT_DAYS, end_date: date | None = None
) -> GeneratorConfig:
    return GeneratorConfig(
        out=out, seed=1, recipients_per_send=recipients_per_send, days=days, end_date=end_date
    )


def recipients_for(
    dispatches: int, workdir: Path, *, days: int = DEFAULT_DAYS, end_date: date | None = None
) -> int:
    """Recipients per send that make about ``dispatches`` over ``days`` with the default mix."""
    probe = workdir / "calibration"
    shutil.rmtree(probe, ignore_errors=True)
    config = _config(probe / "extracts", CALIBRATION_RECIPIENTS, days=days, end_date=end_date)
    result = generate(config)
    sends = result.rows_written["dispatches"] / CALIBRATION_RECIPIENTS
    shutil.rmtree(probe, ignore_errors=True)
    return max(1, round(dispatches / sends))


def _files(root: Path, source: str) -> list[str]:
    spec = SOURCES[source]
    folder = root / spec.folder
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if spec.match(p.name))


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


def step_seconds(progress: str) -> dict[str, float]:
    """Seconds of every finished step, from the CLI's ``done <step> <secs>s`` lines."""
    steps: dict[str, float] = {}
    for line in progress.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "done" and parts[2].endswith("s"):
            steps[parts[1]] = float(parts[2][:-1])
    return steps


def split_steps(wall: float, steps: dict[str, float]) -> dict[str, float]:
    """Wall time split into loading (loads and raw checks), dbt and the rest."""
    loading = sum(v for k, v in steps.items() if k.startswith(("load_", "raw_")))
    dbt = sum(v for k, v in steps.items() if "dbt" in k)
    return {"wall_s": wall, "loading_s": loading, "dbt_s": dbt, "other_s": wall - loading - dbt}


def cli_run(
    extracts: Path,
    warehouse: Path,
    *,
    serving: Path,
    log: Path,
    as_of: datetime | None = None,
    full_refresh: bool = False,
) -> dict[str, float]:
    """``wa-warehouse run`` as a child process: wall time, its split, CPU time, peak memory.

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
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(child.pid, 0)  # this child's (and its children's) usage
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed (log {log}):\n{text[-3000:]}")
    figures = split_steps(wall, step_seconds(text))
    figures["cpu_s"] = usage.ru_utime + usage.ru_stime
    figures["peak_memory_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    return figures


def pipeline_run(root: Path, warehouse: Path) -> dict[str, float]:
    """The whole ``wa-warehouse run`` on a fresh warehouse: wall time, peak memory, split."""
    warehouse.unlink(missing_ok=True)
    return cli_run(
        root,
        warehouse,
        serving=warehouse.parent / "serving",
        log=warehouse.with_suffix(".log"),
    )


# --- the incremental scenario ------------------------------------------------


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


def incremental_scenario(*, dispatches: int, workdir: Path) -> dict[str, float | bool | str]:
    """60 days loaded, one more day's run against a full refresh and a fresh full build."""
    root = workdir / "incremental"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    extracts, feed, serving = root / "extracts", root / "feed", root / "serving"
    last = INCREMENTAL_LAST_DAY
    history = last - timedelta(days=1)
    recipients = recipients_for(dispatches, root, days=INCREMENTAL_DAYS, end_date=last)
    generated = generate(_config(extracts, recipients, days=INCREMENTAL_DAYS, end_date=last))
    # the same file name in two folders: the fresh build is the daily warehouse's twin
    daily_warehouse = root / "daily" / "warehouse.duckdb"
    fresh_warehouse = root / "fresh" / "warehouse.duckdb"

    history_files = fill_feed(extracts, feed, history)
    initial = cli_run(
        feed, daily_warehouse, as_of=as_of_after(history), serving=serving,
        log=root / "initial.log",
    )  # fmt: skip
    daily_files = fill_feed(extracts, feed, last)
    as_of = as_of_after(last)
    daily = cli_run(feed, daily_warehouse, as_of=as_of, serving=serving, log=root / "daily.log")
    daily_marts = mart_hashes(daily_warehouse)
    refresh = cli_run(
        feed, daily_warehouse, as_of=as_of, full_refresh=True, serving=serving,
        log=root / "full_refresh.log",
    )  # fmt: skip
    refresh_marts = mart_hashes(daily_warehouse)
    fresh = cli_run(
        feed, fresh_warehouse, as_of=as_of, serving=serving, log=root / "fresh_build.log"
    )
    fresh_marts = mart_hashes(fresh_warehouse)

    differing = sorted(
        set(differing_marts(daily_marts, fresh_marts))
        | set(differing_marts(refresh_marts, fresh_marts))
    )
    to_refresh = daily["wall_s"] / refresh["wall_s"]
    return {
        "incremental_dispatches": generated.rows_written["dispatches"],
        "incremental_recipients_per_send": recipients,
        "incremental_generate_s": generated.seconds,
        "incremental_history_files": history_files,
        "incremental_daily_files": daily_files,
        "incremental_marts_compared": len(fresh_marts),
        "incremental_marts_identical": not differing and bool(fresh_marts),
        "incremental_marts_differing": ", ".join(differing),
        "incremental_initial_build_s": initial["wall_s"],
        "incremental_initial_build_cpu_s": initial["cpu_s"],
        "incremental_daily_s": daily["wall_s"],
        "incremental_daily_loading_s": daily["loading_s"],
        "incremental_daily_dbt_s": daily["dbt_s"],
        "incremental_daily_other_s": daily["other_s"],
        "incremental_daily_cpu_s": daily["cpu_s"],
        "incremental_daily_peak_memory_mb": daily["peak_memory_mb"],
        "incremental_full_refresh_s": refresh["wall_s"],
        "incremental_full_refresh_dbt_s": refresh["dbt_s"],
        "incremental_full_refresh_cpu_s": refresh["cpu_s"],
        "incremental_fresh_build_s": fresh["wall_s"],
        "incremental_fresh_build_cpu_s": fresh["cpu_s"],
        "incremental_daily_to_full_refresh_ratio": to_refresh,
        "incremental_daily_to_fresh_build_ratio": daily["wall_s"] / fresh["wall_s"],
        "incremental_daily_to_full_refresh_cpu_ratio": daily["cpu_s"] / refresh["cpu_s"],
        "incremental_target_ratio": DAILY_TARGET_RATIO,
        "incremental_target_met": to_refresh <= DAILY_TARGET_RATIO,
    }


# --- all scenarios -----------------------------------------------------------


def _bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def run_bench(
    *, dispatches: int, workdir: Path, pipeline: bool = False, incremental: bool = False
) -> dict[str, float | bool | str]:
    workdir.mkdir(parents=True, exist_ok=True)
    extracts = workdir / "extracts"
    shutil.rmtree(extracts, ignore_errors=True)
    recipients = recipients_for(dispatches, workdir)
    generated = generate(_config(extracts, recipients))
    extract_bytes = _bytes(extracts)
    bare = bare_read(extracts)
    loaded = load_all(extracts, workdir / "bench.duckdb")
    figures: dict[str, float | bool | str] = {
        "dispatches": generated.rows_written["dispatches"],
        "recipients_per_send": recipients,
        "generate_s": generated.seconds,
        "extract_mb": extract_bytes / 1e6,
        "bare_read_s": bare.seconds,
        "load_s": loaded.seconds,
        "load_rows": loaded.rows,
        "load_rows_per_s": loaded.rows / loaded.seconds,
        "load_mb_per_s": extract_bytes / 1e6 / loaded.seconds,
        "load_to_bare_read_ratio": loaded.seconds / bare.seconds,
    }
    if pipeline:
        figures |= {
            f"pipeline_{k}": v for k, v in pipeline_run(extracts, workdir / "run.duckdb").items()
        }
    _print(figures)
    saved = workdir / "bench.json"
    saved.write_text(json.dumps(figures, indent=2))
    if incremental:
        scenario = incremental_scenario(dispatches=dispatches, workdir=workdir)
        _print_incremental(scenario)
        figures |= scenario
        saved.write_text(json.dumps(figures, indent=2))
    print(f"\nfigures saved to {saved}")
    return figures


def _print(figures: dict[str, float | bool | str]) -> None:
    print("\nwa-warehouse bench")
    for name, value in figures.items():
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        print(f"  {name:<28}{text:>16}")


def _print_incremental(f: dict[str, float | bool | str]) -> None:
    identical = "yes" if f["incremental_marts_identical"] else "NO"
    target = f"{DAILY_TARGET_RATIO:.0%}"
    met = "met" if f["incremental_target_met"] else "not met"
    print(
        f"\nincremental: {f['incremental_dispatches']:,} dispatches over {INCREMENTAL_DAYS} days, "
        f"{INCREMENTAL_DAYS - 1} loaded then 1 more ({f['incremental_daily_files']} files)"
    )
    print(
        f"  marts identical: {identical} ({f['incremental_marts_compared']} marts: "
        "daily run = full refresh = fresh build)"
    )
    if not f["incremental_marts_identical"]:
        print(f"  differing marts: {f['incremental_marts_differing'] or 'none built'}")
        print("  the timings below are of a wrong result")
    rows = [
        (f"initial build ({INCREMENTAL_DAYS - 1} days)", "initial_build"),
        (f"daily run (day {INCREMENTAL_DAYS})", "daily"),
        ("full refresh (same warehouse)", "full_refresh"),
        (f"fresh build ({INCREMENTAL_DAYS} days, loading too)", "fresh_build"),
    ]
    print(f"  {'':<34}{'wall':>9}{'cpu':>9}")
    for label, name in rows:
        wall, cpu = f[f"incremental_{name}_s"], f[f"incremental_{name}_cpu_s"]
        print(f"  {label:<34}{wall:>8.1f}s{cpu:>8.1f}s")
        if name == "daily":
            split = (
                f"loading {f['incremental_daily_loading_s']:.1f}s, "
                f"dbt {f['incremental_daily_dbt_s']:.1f}s, "
                f"other {f['incremental_daily_other_s']:.1f}s"
            )
            print(f"  {'  split':<34}{split}")
    print(
        f"  {'daily / full refresh':<34}{f['incremental_daily_to_full_refresh_ratio']:>9.1%}"
        f"{f['incremental_daily_to_full_refresh_cpu_ratio']:>9.1%}"
    )
    print(f"  {'daily / fresh build':<34}{f['incremental_daily_to_fresh_build_ratio']:>9.1%}")
    print(f"  target: daily run <= {target} of the full refresh (wall time): {met}")
