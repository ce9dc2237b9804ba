"""BI readers polling a serving file while it is republished (publication tests)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

# A BI tool stand-in: reads the publication id and the row counts in one
# transaction, in a loop, and prints one JSON line per read. "hold" keeps one
# connection open; "reopen" opens the file for every read, as a new session does.
READER = r"""
import json, os, sys, time
import duckdb
path, mode, stop, tables = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(",")
pause = float(sys.argv[5])
deadline = time.monotonic() + 120
held = duckdb.connect(path, read_only=True) if mode == "hold" else None
print(json.dumps({"ready": True}), flush=True)
while not os.path.exists(stop) and time.monotonic() < deadline:
    con = held
    try:
        con = con or duckdb.connect(path, read_only=True)
        con.execute("begin transaction")
        pub = con.execute("select publication_id from marts._publication").fetchone()[0]
        counts = {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0] for t in tables}
        con.execute("commit")
        line = {"id": pub, "counts": counts}
    except Exception as error:
        line = {"error": f"{type(error).__name__}: {error}"}
    finally:
        if held is None and con is not None:
            con.close()
    print(json.dumps(line), flush=True)
    time.sleep(pause)
"""


class Readers:
    """Two reader processes on one serving file: one holds it open, one reopens it."""

    def __init__(
        self, serving: Path, folder: Path, tables: tuple[str, ...], *, pause: float = 0.01
    ) -> None:
        self.stop = folder / "stop"
        self.logs = {mode: folder / f"reader-{mode}.jsonl" for mode in ("hold", "reopen")}
        self.procs = {}
        for mode, log in self.logs.items():
            with log.open("w") as out:
                self.procs[mode] = subprocess.Popen(
                    [sys.executable, "-c", READER, str(serving), mode, str(self.stop),
                     ",".join(tables), str(pause)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
        deadline = time.monotonic() + 60
        while not all(len(self.lines(mode)) >= 2 for mode in self.logs):
            assert time.monotonic() < deadline, "readers did not start"
            assert all(p.poll() is None for p in self.procs.values()), self.output()
            time.sleep(0.05)

    def lines(self, mode: str) -> list[dict]:
        text = self.logs[mode].read_text()
        return [json.loads(line) for line in text.splitlines()[:-1]]  # last may be partial

    def output(self) -> str:
        return "\n".join(log.read_text()[-2000:] for log in self.logs.values())

    def wait_for(self, mode: str, publication_id: str) -> None:
        deadline = time.monotonic() + 30
        while not any(line.get("id") == publication_id for line in self.lines(mode)):
            assert time.monotonic() < deadline, f"{mode} reader never saw {publication_id}"
            time.sleep(0.05)

    def finish(self) -> dict[str, list[dict]]:
        self.stop.touch()
        for proc in self.procs.values():
            proc.wait(timeout=60)
        return {
            mode: [json.loads(line) for line in log.read_text().splitlines() if line]
            for mode, log in self.logs.items()
        }

    def kill(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def check_reads(reads: dict[str, list[dict]], expected: dict[str, dict[str, int]]) -> None:
    """No read failed, and each saw exactly the counts of the publication it named."""
    for mode, lines in reads.items():
        results = [line for line in lines if "ready" not in line]
        assert results, f"{mode} reader read nothing"
        errors = [line["error"] for line in results if "error" in line]
        assert errors == [], f"{mode} reader: {errors[:3]}"
        for line in results:
            want = {name: expected[line["id"]][name] for name in line["counts"]}
            assert line["counts"] == want, f"{mode} reader saw a mix: {line}"
