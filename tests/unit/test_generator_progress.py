"""``wa-warehouse generate`` says what it is doing: a stamped line per phase on stderr."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from orchestration.generator import GeneratorConfig, generate
from orchestration.generator.writers import WRITE_ORDER

TINY = {"accounts": 2, "campaigns": 3, "days": 3, "recipients_per_send": 10}
STAMP = re.compile(r"^  \[\s*\d+\.\ds\] ")


def test_generate_prints_a_line_per_phase(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = generate(GeneratorConfig(out=tmp_path / "x", end_date=date(2026, 11, 10), **TINY))
    captured = capsys.readouterr()
    assert captured.out == ""  # the CLI's summary line stays the only output on stdout
    lines = captured.err.splitlines()
    assert lines and all(STAMP.match(line) for line in lines), lines
    texts = [STAMP.sub("", line) for line in lines]
    assert texts[0].startswith("generating 3 days (2026-11-08 to 2026-11-10), 2 accounts")
    assert any(t.startswith("simulated accounts, sends, dispatches") for t in texts)
    assert any(t.startswith("ground truth") for t in texts)
    wrote = [t.split()[1:3] for t in texts if t.startswith("wrote ")]
    assert wrote == [[source, f"{result.rows_written[source]:,}"] for source in WRITE_ORDER]
    assert all(re.search(r" \d+\.\ds$", t) for t in texts[1:])  # each with its duration


def test_generate_without_progress_is_silent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate(GeneratorConfig(out=tmp_path / "x", **TINY), progress=False)
    assert capsys.readouterr().err == ""
