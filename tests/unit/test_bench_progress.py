"""``wa-warehouse bench`` says what it is doing on stderr; its figures stay on stdout."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from orchestration import bench
from orchestration.progress_lines import ProgressLines

STAMP = re.compile(r"^\s*\[\s*\d+\.\ds\] ")


def test_generation_reports_calibration_and_the_generators_phases(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = io.StringIO()
    root = tmp_path / "full"
    _, generated = bench.generate_extracts(
        root, 500, days=3, progress=ProgressLines(stream=stream, width=46)
    )
    lines = stream.getvalue().splitlines()
    calibration = r"full: calibration \(recipients per send\) +\d+\.\ds"
    assert re.fullmatch(calibration, STAMP.sub("", lines[0]))
    assert lines[1].endswith(
        f"full: generating ~500 dispatches over 3 days "
        f"({generated['recipients_per_send']:,} recipients per send)"
    )
    assert lines[-1].endswith(f"{generated['generate_s']:6.1f}s")
    assert "full: generated" in lines[-1]
    # the generator's own lines go to sys.stderr, indented under the bench's
    generator = capsys.readouterr().err.splitlines()
    assert generator and all(line.startswith("  [") for line in generator)
    assert any("wrote dispatches" in line for line in generator)


def test_a_phase_has_a_start_and_an_end_line(capsys: pytest.CaptureFixture[str]) -> None:
    b = bench.Bench(Path("unused"))
    with b.phase("incremental: no-op run (nothing new)"):
        pass
    err = capsys.readouterr()
    assert err.out == ""
    start, end = err.err.splitlines()
    assert STAMP.sub("", start) == "incremental: no-op run (nothing new) ..."
    assert re.fullmatch(r"incremental: no-op run \(nothing new\) +0\.0s", STAMP.sub("", end))


def test_cleanup_keeps_the_full_run_logs(tmp_path: Path) -> None:
    b = bench.Bench(tmp_path)
    root = b.fresh_root("full")
    for folder in ("extracts", "logs"):
        (root / folder).mkdir()
        (root / folder / "file").write_text("x")
    (root / "full_build.log").write_text("x")
    b.cleanup(root)
    assert sorted(p.name for p in root.iterdir()) == ["full_build.log", "logs"]
