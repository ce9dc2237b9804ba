"""The pyspark loader as a child process that serves the loader assets of one run.

A Dagster run loads ten sources, one asset each. Starting a JVM for each
would cost ~10 s apiece; starting one in the Dagster process would keep the
embedded Derby metastore locked while dbt's ``spark`` target needs it. So the
first loader asset of a run starts this child (one JVM), every loader asset
sends it one request, and the dbt asset stops it before dbt starts
(:func:`stop_spark_loader`; also at exit), which frees the metastore.

The protocol is one JSON object per line: the parent writes
``{"load": source, "extracts": dir, "always_hash": bool}`` or
``{"unknown_files": dir}`` to the child's stdin; the child answers one line,
``{"result": LoadResult}``, ``{"unknown_files": [...]}`` or ``{"error": text}``.
Everything else the child or its JVM prints goes to its stderr, kept in a
temporary file and shown when a request fails.
"""

from __future__ import annotations

import atexit
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import IO, Any

from orchestration.loading.result import LoadResult


class SparkLoaderError(RuntimeError):
    """The loader process failed a request or died; the message carries its output."""


def result_to_json(result: LoadResult) -> dict[str, Any]:
    return dataclasses.asdict(result)


def result_from_json(data: dict[str, Any]) -> LoadResult:
    data = dict(data)
    data["quarantined_files"] = [tuple(pair) for pair in data["quarantined_files"]]
    return LoadResult(**data)


# --- the child ----------------------------------------------------------------------


def serve() -> int:
    """Answer requests on stdin until it closes, then stop Spark and exit."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever else writes to stdout (the JVM included) goes to stderr
    sys.stdout = sys.stderr

    from orchestration.spark.loading import load_source, record_unknown_files
    from orchestration.spark.session import build_session

    spark = build_session()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        for line in sys.stdin:
            request = json.loads(line)
            try:
                if "load" in request:
                    result = load_source(
                        spark,
                        Path(request["extracts"]),
                        request["load"],
                        always_hash=request.get("always_hash", False),
                    )
                    answer: dict[str, Any] = {"result": result_to_json(result)}
                else:
                    answer = {
                        "unknown_files": record_unknown_files(spark, Path(request["unknown_files"]))
                    }
            except Exception:  # the parent raises it, with this traceback
                answer = {"error": traceback.format_exc()}
            protocol.write(json.dumps(answer) + "\n")
    finally:
        spark.stop()
    return 0


# --- the parent ---------------------------------------------------------------------


class SparkLoaderProcess:
    """One child process running :func:`serve`."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        self._process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.spark.loader_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
        )

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def _request(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise SparkLoaderError(f"the Spark loader process died:\n{self.output_tail()}")
        answer = json.loads(line)
        if "error" in answer:
            raise SparkLoaderError(f"the Spark loader failed:\n{answer['error']}")
        return answer

    def load(self, extracts: Path, source: str, *, always_hash: bool = False) -> LoadResult:
        answer = self._request(
            {"load": source, "extracts": str(extracts), "always_hash": always_hash}
        )
        return result_from_json(answer["result"])

    def record_unknown_files(self, extracts: Path) -> list[str]:
        return self._request({"unknown_files": str(extracts)})["unknown_files"]

    def output_tail(self, chars: int = 4000) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-chars:]

    def close(self, timeout: float = 120) -> None:
        """Close its stdin (it stops Spark and exits) and wait for it."""
        if self._process.stdin is not None and not self._process.stdin.closed:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._log.close()


_running: SparkLoaderProcess | None = None


def spark_loader(env: dict[str, str]) -> SparkLoaderProcess:
    """The loader process of this process (started with ``env`` when there is none)."""
    global _running
    if _running is not None and (not _running.alive or _running.env != env):
        stop_spark_loader()
    if _running is None:
        _running = SparkLoaderProcess(env)
    return _running


def stop_spark_loader() -> None:
    """Stop the loader process, if one runs: its JVM and metastore lock are gone after."""
    global _running
    if _running is not None:
        running, _running = _running, None
        running.close()


atexit.register(stop_spark_loader)


if __name__ == "__main__":
    raise SystemExit(serve())
