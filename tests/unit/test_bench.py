"""The bench's pieces, fast: the reference query, its check, ratios, flags, the feed.

The scenarios themselves run ``wa-warehouse run`` many times (minutes even on
a few thousand dispatches), so they are exercised by ``make bench``, not here.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import shutil
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from orchestration import bench
from orchestration.bench import (
    COUNT_COLUMNS,
    INCREMENTAL_DAYS,
    INCREMENTAL_LAST_DAY,
    compare_totals,
    daily_ratio,
    differing_marts,
    feed_files,
    fill_feed,
    mart_hashes,
    mart_totals,
    recipients_for,
    reference_totals,
    split_steps,
    step_seconds,
)
from orchestration.config import ConfigError, as_of_after
from orchestration.generator import GeneratorConfig, generate

DAY_60, DAY_61 = date(2026, 10, 30), date(2026, 10, 31)
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


# --- the reference query -------------------------------------------------------------


def _truth_rows(truth_path: Path) -> list[tuple]:
    truth = json.loads(truth_path.read_text())
    return [
        (r["account_id"], r["campaign_id"], r["cohort_date"], *(r[c] for c in COUNT_COLUMNS))
        for r in truth["campaign_daily"]
    ]


def _sample(root: Path, fmt: str) -> tuple[Path, Path, datetime]:
    config = GeneratorConfig(
        out=root / "extracts",
        seed=3,
        accounts=3,
        campaigns=5,
        days=10,
        recipients_per_send=20,
        end_date=DAY_61,
        format=fmt,
    )
    result = generate(config)
    assert sum(result.malformed_written.values()) > 0  # the reference must skip them
    return result.out, result.truth_path, result.as_of


def test_reference_equals_the_ground_truth(tmp_path: Path) -> None:
    extracts, truth, as_of = _sample(tmp_path, "csv")
    rows = reference_totals(extracts, as_of)
    check = compare_totals(rows, _truth_rows(truth))
    assert check.matches, check
    assert check.reference_sums["targeted"] > 300


def test_reference_reads_every_format_mixed_in_one_folder(tmp_path: Path) -> None:
    """csv.gz, csv and parquet dispatches; jsonl.gz and jsonl webhooks, side by side."""
    extracts, truth, as_of = _sample(tmp_path, "csv.gz")
    dispatches = sorted((extracts / "dispatches").iterdir())
    for index, path in enumerate(dispatches):
        if index % 3 == 1:  # plain csv
            path.with_suffix("").write_bytes(gzip.decompress(path.read_bytes()))
            path.unlink()
        elif index % 3 == 2:  # parquet of text columns, as the generator writes them
            target = str(path).removesuffix(".csv.gz") + ".parquet"
            duckdb.execute(
                f"copy (select * from read_csv('{path}', all_varchar = true, "
                f"ignore_errors = true)) to '{target}' (format parquet)"
            )
            path.unlink()
    for path in sorted((extracts / "webhooks").iterdir())[::2]:
        path.with_suffix("").write_bytes(gzip.decompress(path.read_bytes()))
        path.unlink()
    names = {p.name.split(".", 1)[1] for p in (extracts / "dispatches").iterdir()}
    assert names == {"csv", "csv.gz", "parquet"}
    check = compare_totals(reference_totals(extracts, as_of), _truth_rows(truth))
    assert check.matches, check


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def _epoch(text: str) -> str:
    return str(int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()))


def _hook(delivery_id: str, *statuses: dict) -> str:
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "waba", "changes": [{"field": "messages", "value": {"statuses": statuses}}]}
        ],
    }
    return json.dumps(
        {"delivery_id": delivery_id, "received_at": "2026-10-31T10:00:00.000Z", "body": body}
    )


def _status(wamid: str, status: str, at: str, code: int | None = None) -> dict:
    item = {"id": wamid, "status": status, "timestamp": _epoch(at), "recipient_id": "1"}
    if code is not None:
        item["errors"] = [{"code": code, "title": "t"}]
    return item


HEADER = (
    "dispatch_id,account_id,campaign_id,send_id,user_id,phone_number,attempted_at,result,"
    "wamid,drop_code,meta_error_code,meta_error_title"
)


def _dispatch(
    dispatch_id: str, account: str, campaign: str, at: str, wamid: str | None = None
) -> str:
    sent = f"SENT,{wamid},,," if wamid else "DROPPED,,FREQUENCY_CAPPED,,"
    return f"{dispatch_id},{account},{campaign},s1,u1,+905321234567,{at},{sent}"


def _hand_made(root: Path) -> Path:
    """Every rule of the message state, the cohort date and the deduplication, once."""
    _write(
        root / "accounts" / "accounts.csv",
        [
            "account_id,account_name,industry,country,timezone,currency",
            "acc_a,A,retail,US,America/New_York,USD",
            "acc_b,B,retail,JP,Asia/Tokyo,JPY",
            "acc_c,C,retail",  # wrong column count: quarantined
        ],
    )
    _write(
        root / "dispatches" / "dispatches-2026-10-30.csv",
        [
            HEADER,
            _dispatch("d1", "acc_a", "c1", "2026-10-30T02:00:00Z", "w1"),  # NY: Oct 29
            _dispatch("d2", "acc_a", "c1", "2026-10-30T12:00:00Z", "w2"),
            _dispatch("d3", "acc_a", "c1", "2026-10-30T12:00:00.500+00:00", "w3"),
            _dispatch("d4", "acc_a", "c1", "2026-09-30T12:00:00Z", "w4"),  # > 720 h old
            _dispatch("d5", "acc_a", "c1", "2026-10-02T00:00:00Z", "w5"),  # exactly 720 h
            _dispatch("d6", "acc_a", "c1", "2026-10-02T00:00:01Z", "w6"),  # 720 h - 1 s
            _dispatch("d9", "acc_b", "c2", "2026-10-31T01:00:00Z", "w9"),  # re-exported below
            _dispatch("d10", "acc_b", "c2", "not a date", "w10"),  # quarantined
            "d13,acc_b,c2,s1,u1,+1,2026-10-31T01:00:00Z,SENT",  # wrong column count
            _dispatch("d14", "acc_b", "c2", "2026-10-31T01:00:00Z")[:-1] + "131049x,",  # bad int
        ],
    )
    _write(
        root / "dispatches" / "dispatches-2026-10-31.csv",
        [
            HEADER,
            _dispatch("d7", "acc_b", "c2", "2026-10-31T20:00:00Z", "w7"),  # Tokyo: Nov 1
            _dispatch("d8", "acc_b", "c2", "2026-10-31T20:00:00+00:00"),
            _dispatch("d9", "acc_b", "c2", "2026-10-31T01:00:00Z"),  # the newest row: dropped
            _dispatch("d11", "acc_b", "c2", "2026-11-01T00:00:01Z", "w11"),  # after as_of
            _dispatch("d12", "acc_z", "c3", "2026-10-31T23:30:00Z", "w12"),  # unknown: UTC
        ],
    )
    read_w1 = _status("w1", "read", "2026-10-30T03:00:00Z")
    _write(
        root / "webhooks" / "webhooks-2026-10-30.jsonl",
        [
            _hook("h1", read_w1),  # read without delivered: delivered and opened
            _hook("h2", read_w1),  # the same body again
            _hook(
                "h3",
                _status("w2", "failed", "2026-10-30T12:00:01Z", 131049),
                _status("w2", "delivered", "2026-10-30T12:00:05Z"),  # delivery wins
                _status("w3", "failed", "2026-10-30T12:00:01Z", 131026),
                _status("w9", "delivered", "2026-10-31T01:00:05Z"),  # of a dropped dispatch
            ),
            _hook("h4", _status("w3", "sent", "2026-10-30T12:00:00Z"))[:40],  # truncated
        ],
    )
    bad_timestamp = _status("w3", "delivered", "2026-10-30T13:00:00Z")
    bad_timestamp["timestamp"] = "2026-10-30T13:00:00Z"
    bad_code = _status("w6", "failed", "2026-10-30T13:00:00Z")
    bad_code["errors"] = [{"code": "E131049"}]
    with gzip.open(root / "webhooks" / "webhooks-2026-10-31.jsonl.gz", "wt") as out:
        for line in (
            _hook("h5", _status("w7", "delivered", "2026-11-01T00:00:01Z")),  # after as_of
            _hook("h6", bad_timestamp),  # quarantined: w3 stays undelivered
            _hook("h7", bad_code),  # quarantined: w6 stays pending
            _hook("h8", _status("w12", "PLAYED", "2026-10-31T23:40:00Z")),
            _hook("", _status("w6", "delivered", "2026-10-30T13:00:00Z")),  # no delivery_id
        ):
            out.write(line + "\n")
    return root


HAND_MADE_EXPECTED = [
    # account, campaign, cohort date, targeted, sent, dropped, delivered, undelivered,
    # delivery_pending, opens
    ("acc_a", "c1", "2026-09-30", 1, 1, 0, 0, 1, 0, 0),
    ("acc_a", "c1", "2026-10-01", 2, 2, 0, 0, 1, 1, 0),
    ("acc_a", "c1", "2026-10-29", 1, 1, 0, 1, 0, 0, 1),
    ("acc_a", "c1", "2026-10-30", 2, 2, 0, 1, 1, 0, 0),
    ("acc_b", "c2", "2026-10-31", 1, 0, 1, 0, 0, 0, 0),
    ("acc_b", "c2", "2026-11-01", 2, 1, 1, 0, 0, 1, 0),
    ("acc_z", "c3", "2026-10-31", 1, 1, 0, 1, 0, 0, 0),
]


def test_reference_applies_the_marts_rules(tmp_path: Path) -> None:
    assert reference_totals(_hand_made(tmp_path), AS_OF) == HAND_MADE_EXPECTED


def test_reference_without_webhooks_or_accounts(tmp_path: Path) -> None:
    extracts = _hand_made(tmp_path)
    shutil.rmtree(extracts / "webhooks")
    shutil.rmtree(extracts / "accounts")
    rows = reference_totals(extracts, AS_OF)
    assert sum(r[3] for r in rows) == 10  # targeted
    assert sum(r[6] for r in rows) == 0  # delivered
    assert {r[2] for r in rows if r[0] == "acc_a"} >= {"2026-10-30"}  # UTC cohorts


def test_reference_runs_in_a_child_process(tmp_path: Path) -> None:
    figures, rows = bench.run_reference(
        _hand_made(tmp_path / "extracts"), AS_OF, log=tmp_path / "reference.log"
    )
    assert rows == HAND_MADE_EXPECTED
    assert figures["wall_s"] >= figures["query_s"] > 0
    assert 0 < figures["peak_memory_mb"] < 2_000 and figures["cpu_s"] > 0


# --- the check against the mart ---------------------------------------------------------


def _mart(path: Path, rows: list[tuple]) -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        "create table marts.campaign_performance_daily (account_id varchar, campaign_id "
        "varchar, period_start date, targeted bigint, sent bigint, dropped bigint, "
        "delivered bigint, undelivered bigint, delivery_pending bigint, opens bigint, "
        "clicks bigint, delivery_rate double)"
    )
    con.executemany(
        "insert into marts.campaign_performance_daily values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1)",
        rows,
    )
    con.close()
    return path


def test_reference_check_reads_the_mart_and_sees_any_difference(tmp_path: Path) -> None:
    mart = mart_totals(_mart(tmp_path / "w.duckdb", HAND_MADE_EXPECTED[::-1]))
    assert mart == HAND_MADE_EXPECTED
    check = compare_totals(HAND_MADE_EXPECTED, mart)
    assert check.matches and check.sums_match and check.reference_rows == 7

    moved = list(HAND_MADE_EXPECTED)
    moved[0] = ("acc_a", "c1", "2026-10-01", *moved[0][3:])  # same sums, another date
    moved[1] = ("acc_a", "c1", "2026-09-30", *moved[1][3:])
    check = compare_totals(moved, mart)
    assert check.sums_match and not check.matches
    assert check.differing_rows == [("acc_a", "c1", "2026-09-30"), ("acc_a", "c1", "2026-10-01")]

    check = compare_totals(HAND_MADE_EXPECTED[1:], mart)  # a row missing
    assert not check.sums_match and check.differing_rows == [("acc_a", "c1", "2026-09-30")]
    assert check.mart_sums["undelivered"] - check.reference_sums["undelivered"] == 1
    assert not compare_totals([], []).matches  # nothing compared proves nothing


# --- ratios and targets -----------------------------------------------------------------


def test_daily_ratio_discounts_the_no_op_run() -> None:
    assert daily_ratio(daily=12.0, noop=10.0, full_refresh=30.0) == pytest.approx(0.10)
    assert math.isnan(daily_ratio(daily=12.0, noop=10.0, full_refresh=9.0))
    assert bench.ratio(45.0, 15.0) == 3.0
    assert math.isnan(bench.ratio(1.0, 0.0))


def test_targets_are_upper_bounds_and_missing_figures_miss_them() -> None:
    assert bench.target_met(3.0, bench.FULL_TO_REFERENCE_TARGET)
    assert not bench.target_met(3.01, bench.FULL_TO_REFERENCE_TARGET)
    assert not bench.target_met(math.nan, 1.0)
    assert (bench.verdict(True), bench.verdict(False)) == ("met", "NOT met")


def test_a_target_records_its_limit_and_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    b = bench.Bench(tmp_path)
    b.record("memory", {"wall_s": 2.0})
    bench._target(b, ("memory_target_gib", "memory_target_met"), 13.0, 12.0, "peak <= 12 GiB")
    assert b.figures == {
        "memory_wall_s": 2.0,
        "memory_target_gib": 12.0,
        "memory_target_met": False,
    }
    assert capsys.readouterr().out == "  target: peak <= 12 GiB: NOT met\n"


# --- child processes ----------------------------------------------------------------------


def test_child_usage_is_its_own_not_this_process_peak(tmp_path: Path) -> None:
    ballast = bytearray(600 * 1024 * 1024)  # this process: 600 MB resident at least
    ballast[::4096] = b"x" * len(ballast[::4096])
    code, usage = bench._child(
        [sys.executable, "-c", "import sys; print('hi'); sys.exit(3)"], log=tmp_path / "c.log"
    )
    del ballast
    assert code == 3
    assert (tmp_path / "c.log").read_text() == "hi\n"
    assert usage["peak_memory_mb"] < 300
    assert usage["wall_s"] > 0 and usage["cpu_s"] > 0


def test_step_split_reads_the_progress_lines() -> None:
    progress = "\n".join(
        [
            "wa-warehouse run: extracts feed, warehouse w.duckdb",
            f"  done  {'load_dispatches':<36} {2.5:7.1f}s",
            f"  done  {'load_webhooks':<36} {1.0:7.1f}s",
            f"  done  {'raw__dispatches_quarantine_share':<36} {0.5:7.1f}s",
            f"  done  {'warehouse_dbt_models':<36} {30.0:7.1f}s",
            f"  FAILED {'serving_publication':<36} {1.0:7.1f}s",
            "  done  dbt_build 4s",
            f"  done  {'load_dispatches':<36} {0.5:7.1f}s",  # twice: both count
            "done but not a step line",
        ]
    )
    steps = step_seconds(progress)
    assert steps == {
        "load_dispatches": 3.0,
        "load_webhooks": 1.0,
        "raw__dispatches_quarantine_share": 0.5,
        "warehouse_dbt_models": 30.0,
        "dbt_build": 4.0,
    }
    split = split_steps(40.0, steps)
    assert split == {"wall_s": 40.0, "loading_s": 4.0, "dbt_s": 34.0, "other_s": 2.0}
    assert split_steps(5.0, {"load_x": 3.0, "dbt": 3.0})["other_s"] == 0.0  # never negative


# --- flags ------------------------------------------------------------------------------------


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wa-warehouse bench")
    bench.add_arguments(parser)
    return parser.parse_args(argv)


def test_flags_default_to_every_scenario_at_full_size() -> None:
    args = _parse()
    assert (args.dispatches, args.incremental_dispatches, args.memory_dispatches) == (
        5_000_000,
        3_000_000,
        10_000_000,
    )
    assert args.workdir == Path("data/bench") and not args.keep and not args.fresh_build
    assert bench.selected_scenarios(args) == ["reference", "full", "incremental", "memory"]


def test_flags_pick_scenarios_and_sizes() -> None:
    args = _parse(
        "--dispatches", "200000", "--incremental-dispatches", "1000",
        "--memory-dispatches", "300000", "--workdir", "/tmp/b", "--keep",
        "--only", "memory,reference, full", "--skip", "full", "--format", "parquet",
    )  # fmt: skip
    assert args.dispatches == 200_000 and args.incremental_dispatches == 1_000
    assert args.workdir == Path("/tmp/b") and args.keep and args.format == "parquet"
    assert bench.selected_scenarios(args) == ["reference", "memory"]  # in run order
    assert bench.selected_scenarios(_parse("--skip", "memory")) == [
        "reference",
        "full",
        "incremental",
    ]
    assert bench.selected_scenarios(_parse("--only", "load")) == ["load"]


@pytest.mark.parametrize("argv", [["--only", "fast"], ["--only", ""], ["--dispatches", "x"]])
def test_bad_flags_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parse(*argv)
    assert exit_info.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_main_refuses_sizes_and_selections_that_run_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--memory-dispatches 0"):
        bench.main(_parse("--memory-dispatches", "0", "--workdir", str(tmp_path)))
    with pytest.raises(ConfigError, match="no scenario"):
        bench.main(_parse("--only", "full", "--skip", "full", "--workdir", str(tmp_path)))
    assert not any(tmp_path.iterdir())


# --- the incremental scenario's feed and comparison ---------------------------------------


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
    assert as_of_after(DAY_61) == AS_OF


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


def test_a_scenario_cleans_up_its_files_but_keeps_its_logs(tmp_path: Path) -> None:
    keep, drop = bench.Bench(tmp_path, keep=True), bench.Bench(tmp_path)
    for b in (keep, drop):
        root = b.fresh_root("full")
        (root / "extracts").mkdir()
        (root / "warehouse.duckdb").write_text("w")
        (root / "full_build.log").write_text("log")
        b.cleanup(root)
        left = sorted(p.name for p in root.iterdir())
        expected = ["extracts", "full_build.log", "warehouse.duckdb"] if b.keep else []
        assert left == (expected or ["full_build.log"])
    drop.figures |= {"ratio": math.nan, "ok": True}
    drop.save()
    assert json.loads(drop.saved.read_text()) == {"ratio": None, "ok": True}
