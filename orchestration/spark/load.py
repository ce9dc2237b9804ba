"""Load extracts into the Spark warehouse in a child process that exits afterwards.

    python -m orchestration.spark.load --extracts DIR [--source S ...] [--always-hash]

Loads the given sources (default: all, in layout order) in ONE JVM (starting it
costs ~10 s), records unknown files, prints one JSON object per line (each
source's ``LoadResult``, then ``{"unknown_files": [...]}``) and exits: the
embedded Derby metastore of ``WA_SPARK_DIR`` is free again for the dbt ``spark``
target when this process returns. Settings come from the environment, as for
:class:`orchestration.spark.session.SparkSettings`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from orchestration.layout import SOURCES
from orchestration.loading.result import LoadResult
from orchestration.spark.loader_process import result_from_json, result_to_json


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.spark.load")
    parser.add_argument("--extracts", type=Path, required=True, help="extracts root")
    parser.add_argument(
        "--source", action="append", choices=sorted(SOURCES), help="a source (repeatable)"
    )
    parser.add_argument("--always-hash", action="store_true", help="hash every file")
    args = parser.parse_args(argv)

    from orchestration.spark.loading import load_source, record_unknown_files
    from orchestration.spark.session import build_session

    spark = build_session()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        for source in args.source or list(SOURCES):
            result = load_source(spark, args.extracts, source, always_hash=args.always_hash)
            print(json.dumps(result_to_json(result)), flush=True)
        unknown = record_unknown_files(spark, args.extracts)
        print(json.dumps({"unknown_files": unknown}), flush=True)
    finally:
        spark.stop()
    return 0


def load_in_child(
    extracts: Path,
    sources: Sequence[str] | None = None,
    *,
    always_hash: bool = False,
    env: dict[str, str] | None = None,
) -> tuple[list[LoadResult], list[str]]:
    """Run :func:`main` in a child Python process; its results and the unknown files.

    Raises ``subprocess.CalledProcessError`` (with the child's stderr) on failure."""
    command = [sys.executable, "-m", "orchestration.spark.load", "--extracts", str(extracts)]
    for source in sources or ():
        command += ["--source", source]
    if always_hash:
        command.append("--always-hash")
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    results: list[LoadResult] = []
    unknown: list[str] = []
    for line in done.stdout.splitlines():
        if not line.startswith("{"):
            continue
        data = json.loads(line)
        if "unknown_files" in data:
            unknown = data["unknown_files"]
        else:
            results.append(result_from_json(data))
    return results, unknown


if __name__ == "__main__":
    raise SystemExit(main())
