"""The incremental bench scenario's helpers: the day-by-day feed, calibration, comparison.

The scenario itself runs ``wa-warehouse run`` four times (over 2 minutes even
on a few thousand dispatches), so it is exercised by ``make bench``, not here.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from orchestration.bench import (
    INCREMENTAL_DAYS,
    INCREMENTAL_LAST_DAY,
    differing_marts,
    feed_files,
    fill_feed,
    mart_hashes,
    recipients_for,
    split_steps,
    step_seconds,
)
from orchestration.cli import build_parser
from orchestration.config import as_of_after
from orchestration.generator import GeneratorConfig, generate

DAY_60, DAY_61 = date(2026, 10, 30), date(2026, 10, 31)


def _extracts(root: Path) -> Path:
    names = [
        "accounts/accounts.csv",
        "campaigns/campaigns-2026-10-21.csv",
        "campaigns/campaigns-2026-10-31.csv",
        "templates/templates-2026-09-01.jsonl",
        "dispatches/dispatches-2026-10-30.csv",
        "dispatches/dispatches-2026-10-31.csv",
        "webhooks/webhooks-2026-10-30.jsonl.gz",
        "webhooks/webhooks-2026-10-31.jsonl.gz",
        "clicks/notes.txt",  # outside the layout: no day, always delivered
    ]
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return root


def test_feed_holds_every_file_up_to_the_day_and_the_undated_ones(tmp_path: Path) -> None:
    extracts = _extracts(tmp_path / "extracts")
    history = {p.relative_to(extracts).as_posix() for p in feed_files(extracts, DAY_60)}
    assert history == {
        "accounts/accounts.csv",
        "campaigns/campaigns-2026-10-21.csv",
        "templates/templates-2026-09-01.jsonl",
        "dispatches/dispatches-2026-10-30.csv",
        "webhooks/webhooks-2026-10-30.jsonl.gz",
        "clicks/notes.txt",
    }


def test_fill_feed_adds_only_the_missing_days(tmp_path: Path) -> None:
    extracts, feed = _extracts(tmp_path / "extracts"), tmp_path / "feed"
    assert fill_feed(extracts, feed, DAY_60) == 6
    assert fill_feed(extracts, feed, DAY_60) == 0
    assert fill_feed(extracts, feed, DAY_61) == 3
    delivered = sorted(p.relative_to(feed) for p in feed.rglob("*") if p.is_file())
    assert delivered == sorted(p.relative_to(extracts) for p in extracts.rglob("*") if p.is_file())
    day_61 = feed / "dispatches" / "dispatches-2026-10-31.csv"
    assert day_61.read_text() == "dispatches/dispatches-2026-10-31.csv"


def test_as_of_of_a_run_is_the_next_utc_midnight() -> None:
    assert as_of_after(DAY_61) == datetime(2026, 11, 1, tzinfo=UTC)


def test_calibration_for_61_days_gives_about_the_dispatches_asked(tmp_path: Path) -> None:
    wanted = 6_000
    recipients = recipients_for(
        wanted, tmp_path, days=INCREMENTAL_DAYS, end_date=INCREMENTAL_LAST_DAY
    )
    result = generate(
        GeneratorConfig(
            out=tmp_path / "extracts",
            seed=1,
            recipients_per_send=recipients,
            days=INCREMENTAL_DAYS,
            end_date=INCREMENTAL_LAST_DAY,
        )
    )
    assert abs(result.rows_written["dispatches"] - wanted) <= 0.15 * wanted
    assert not (tmp_path / "calibration").exists()
    shutil.rmtree(tmp_path / "extracts")


def _warehouse(path: Path, rows: list[tuple[int, str]]) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.daily (n integer, name varchar)")
    con.executemany("insert into marts.daily values (?, ?)", rows)
    con.execute("create view marts.doubled as select n * 2 as n2 from marts.daily")
    con.close()
    return path


def test_mart_hashes_ignore_row_order_and_see_any_change(tmp_path: Path) -> None:
    rows = [(1, "a"), (2, "b"), (3, None)]
    a = mart_hashes(_warehouse(tmp_path / "a.duckdb", rows))
    b = mart_hashes(_warehouse(tmp_path / "b.duckdb", rows[::-1]))
    c = mart_hashes(_warehouse(tmp_path / "c.duckdb", [(1, "a"), (2, "b"), (3, "c")]))
    assert set(a) == {"daily", "doubled"}
    assert a == b
    assert differing_marts(a, c) == ["daily"]
    assert differing_marts(a, {"daily": a["daily"]}) == ["doubled"]


def test_step_split_reads_the_progress_lines() -> None:
    progress = "\n".join(
        [
            "wa-warehouse run: extracts feed, warehouse w.duckdb",
            f"  done  {'load_dispatches':<36} {2.5:7.1f}s",
            f"  done  {'raw__dispatches_quarantine_share':<36} {0.5:7.1f}s",
            f"  done  {'warehouse_dbt_models':<36} {30.0:7.1f}s",
            f"  FAILED {'serving_publication':<36} {1.0:7.1f}s",
            f"  done  {'intermediate__int_messages_missing_status_share':<36} {0.1:7.1f}s",
        ]
    )
    steps = step_seconds(progress)
    assert steps["warehouse_dbt_models"] == 30.0
    assert "serving_publication" not in steps
    split = split_steps(40.0, steps)
    assert split == {"wall_s": 40.0, "loading_s": 3.0, "dbt_s": 30.0, "other_s": 7.0}


def test_bench_flags() -> None:
    args = build_parser().parse_args(["bench", "--dispatches", "1000", "--incremental"])
    assert args.incremental and not args.pipeline
    assert not build_parser().parse_args(["bench"]).incremental
