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
   rest (imports, Dagster).
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.generator import GeneratorConfig, generate
from orchestration.layout import SOURCES
from orchestration.loading import ensure_raw_schema, load_source

CALIBRATION_RECIPIENTS = 20


@dataclass(frozen=True)
class Timed:
    seconds: float
    rows: int


def _config(out: Path, recipients_per_send: int) -> GeneratorConfig:
    return GeneratorConfig(out=out, seed=1, recipients_per_send=recipients_per_send)


def recipients_for(dispatches: int, workdir: Path) -> int:
    """Recipients per send that make about ``dispatches`` with the default campaign mix."""
    probe = workdir / "calibration"
    shutil.rmtree(probe, ignore_errors=True)
    result = generate(_config(probe / "extracts", CALIBRATION_RECIPIENTS))
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


def pipeline_run(root: Path, warehouse: Path) -> dict[str, float]:
    """The whole ``wa-warehouse run`` as a child process: wall time, peak memory, split."""
    warehouse.unlink(missing_ok=True)
    command = [
        str(Path(sys.executable).parent / "wa-warehouse"), "run",
        "--extracts", str(root), "--warehouse", str(warehouse),
    ]  # fmt: skip
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"wa-warehouse run failed:\n{completed.stderr[-3000:]}")
    steps: dict[str, float] = {}
    for line in completed.stderr.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "done" and parts[2].endswith("s"):
            steps[parts[1]] = float(parts[2][:-1])
    loading = sum(v for k, v in steps.items() if k.startswith(("load_", "raw_")))
    dbt = sum(v for k, v in steps.items() if "dbt" in k)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "wall_s": wall,
        "loading_s": loading,
        "dbt_s": dbt,
        "other_s": wall - loading - dbt,
        "peak_memory_mb": peak_mb,
    }


def _bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def run_bench(*, dispatches: int, workdir: Path, pipeline: bool = False) -> dict[str, float]:
    workdir.mkdir(parents=True, exist_ok=True)
    extracts = workdir / "extracts"
    shutil.rmtree(extracts, ignore_errors=True)
    recipients = recipients_for(dispatches, workdir)
    generated = generate(_config(extracts, recipients))
    extract_bytes = _bytes(extracts)
    bare = bare_read(extracts)
    loaded = load_all(extracts, workdir / "bench.duckdb")
    figures: dict[str, float] = {
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
    (workdir / "bench.json").write_text(json.dumps(figures, indent=2))
    return figures


def _print(figures: dict[str, float]) -> None:
    print("\nwa-warehouse bench")
    for name, value in figures.items():
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        print(f"  {name:<28}{text:>16}")
