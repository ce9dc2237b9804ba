"""`wa-warehouse export reason-recipients` on a small hand-made serving file.

The file holds only what the export reads: marts.campaign_performance (the
campaigns and their accounts), marts.campaign_performance_daily (cohort dates),
marts.reason_dictionary and marts.reason_recipients at its cohort-date grain.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration import export
from orchestration.config import ConfigError
from orchestration.export import COLUMNS, export_reason_recipients

FC = "Frequency Capped"
MISSING = "Delivery Report Missing"

# (account_id, campaign_id, cohort_date, kind, reason, user_id, messages)
RECIPIENTS = [
    ("acc_a", "cmp_1", "2026-10-01", "dropped", FC, "u1", 2),
    ("acc_a", "cmp_1", "2026-10-03", "dropped", FC, "u1", 1),
    ("acc_a", "cmp_1", "2026-10-05", "dropped", FC, "u1", 1),
    ("acc_a", "cmp_1", "2026-10-03", "dropped", FC, "u2", 1),
    ("acc_a", "cmp_1", "2026-10-06", "dropped", FC, "u3", 4),
    ("acc_a", "cmp_1", "2026-10-03", "undelivered", MISSING, "u1", 1),
    ("acc_a", "cmp_1", "2026-10-03", "dropped", "Unmapped Error", "u4", 1),
    ("acc_a", "cmp_1", "2026-10-04", "undelivered", "Unmapped Error", "u4", 1),
    ("acc_b", "cmp_2", "2026-10-03", "dropped", FC, "u1", 7),  # another campaign
]
DICTIONARY = [
    ("dropped", FC),
    ("dropped", "Duplicates"),
    ("dropped", "Unmapped Error"),
    ("undelivered", MISSING),
    ("undelivered", "Unmapped Error"),
]


def _make_serving(path: Path, *, with_cohort_date: bool = True) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        con.execute(
            "create table marts.campaign_performance as select * from (values "
            "('acc_a', 'cmp_1'), ('acc_b', 'cmp_2'), ('acc_b', 'cmp_3')) "
            "t(account_id, campaign_id)"
        )
        con.execute(
            "create table marts.campaign_performance_daily as select * from (values "
            "('acc_a', 'cmp_1', date '2026-10-01'), ('acc_a', 'cmp_1', date '2026-10-06'), "
            "('acc_b', 'cmp_2', date '2026-10-03')) t(account_id, campaign_id, period_start)"
        )
        con.execute(
            "create table marts.reason_dictionary "
            "(kind varchar, reason varchar, description varchar, possible_solution varchar)"
        )
        con.executemany("insert into marts.reason_dictionary values (?, ?, 'd', 's')", DICTIONARY)
        con.execute(
            """
            create table marts.reason_recipients (
                account_id varchar, campaign_id varchar, cohort_date date, kind varchar,
                reason varchar, user_id varchar, messages bigint, last_cohort_date date
            )
            """
        )
        con.executemany(
            "insert into marts.reason_recipients values (?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row, row[2]) for row in RECIPIENTS],
        )
        if not with_cohort_date:
            con.execute("alter table marts.reason_recipients drop column cohort_date")
    finally:
        con.close()
    return path


@pytest.fixture
def serving(tmp_path: Path) -> Path:
    return _make_serving(tmp_path / "serving.duckdb")


@pytest.fixture
def con(serving: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect(str(serving), read_only=True)
    yield connection
    connection.close()


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _parser() -> argparse.ArgumentParser:
    """The `wa-warehouse` parser with the export command, as orchestration/cli.py wires it."""
    parser = argparse.ArgumentParser(prog="wa-warehouse")
    commands = parser.add_subparsers(dest="command", required=True)
    export.add_arguments(commands.add_parser("export"))
    return parser


def _main(*argv: str) -> int:
    return export.main(_parser().parse_args(["export", "reason-recipients", *argv]))


def test_csv_has_one_row_per_user_with_messages_and_dates_in_range(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    out = tmp_path / "users.csv"
    users = export_reason_recipients(
        con, "cmp_1", FC, "dropped", date(2026, 10, 1), date(2026, 10, 31), out
    )
    assert users == 3
    header = out.read_text().splitlines()[0]
    assert header.split(",") == list(COLUMNS)
    assert _csv_rows(out) == [
        {
            "user_id": "u1",
            "account_id": "acc_a",
            "campaign_id": "cmp_1",
            "kind": "dropped",
            "reason": FC,
            "messages": "4",
            "first_cohort_date": "2026-10-01",
            "last_cohort_date": "2026-10-05",
        },
        {
            "user_id": "u2",
            "account_id": "acc_a",
            "campaign_id": "cmp_1",
            "kind": "dropped",
            "reason": FC,
            "messages": "1",
            "first_cohort_date": "2026-10-03",
            "last_cohort_date": "2026-10-03",
        },
        {
            "user_id": "u3",
            "account_id": "acc_a",
            "campaign_id": "cmp_1",
            "kind": "dropped",
            "reason": FC,
            "messages": "4",
            "first_cohort_date": "2026-10-06",
            "last_cohort_date": "2026-10-06",
        },
    ]


def test_parquet_holds_the_same_rows_with_their_types(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    csv_out, parquet_out = tmp_path / "users.csv", tmp_path / "users.parquet"
    for out in (csv_out, parquet_out):
        assert export_reason_recipients(con, "cmp_1", "all", None, None, None, out) == 4
    reader = duckdb.connect()
    types = reader.execute(f"describe select * from read_parquet('{parquet_out}')").fetchall()
    assert [(name, kind) for name, kind, *_ in types] == [
        ("user_id", "VARCHAR"),
        ("account_id", "VARCHAR"),
        ("campaign_id", "VARCHAR"),
        ("kind", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("messages", "BIGINT"),
        ("first_cohort_date", "DATE"),
        ("last_cohort_date", "DATE"),
    ]
    from_parquet = reader.execute(f"select * from read_parquet('{parquet_out}')").fetchall()
    from_csv = reader.execute(
        f"select * from read_csv('{csv_out}', header = true, all_varchar = true)"
    ).fetchall()
    assert [tuple(str(v) for v in row) for row in from_parquet] == from_csv
    # sorted by kind, reason, user; a user hit by several reasons has a row for each
    assert [(r[3], r[4], r[0]) for r in from_parquet] == [
        ("dropped", FC, "u1"),
        ("dropped", FC, "u2"),
        ("dropped", FC, "u3"),
        ("dropped", "Unmapped Error", "u4"),
        ("undelivered", MISSING, "u1"),
        ("undelivered", "Unmapped Error", "u4"),
    ]


def test_the_date_range_is_inclusive_and_cuts_messages_and_dates(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    out = tmp_path / "users.csv"
    users = export_reason_recipients(
        con, "cmp_1", FC, None, date(2026, 10, 3), date(2026, 10, 5), out
    )
    assert users == 2  # u3's only date (10-06) is outside
    rows = {row["user_id"]: row for row in _csv_rows(out)}
    assert set(rows) == {"u1", "u2"}
    assert (rows["u1"]["messages"], rows["u1"]["first_cohort_date"]) == ("2", "2026-10-03")
    assert rows["u1"]["last_cohort_date"] == "2026-10-05"
    one_day = export_reason_recipients(
        con, "cmp_1", FC, None, date(2026, 10, 6), date(2026, 10, 6), out
    )
    assert one_day == 1
    assert [row["user_id"] for row in _csv_rows(out)] == ["u3"]


def test_kind_and_reason_select_the_rows_and_the_reason_matches_in_any_case(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    out = tmp_path / "users.csv"
    assert export_reason_recipients(con, "cmp_1", "unmapped error", None, None, None, out) == 1
    assert [(r["kind"], r["reason"]) for r in _csv_rows(out)] == [
        ("dropped", "Unmapped Error"),
        ("undelivered", "Unmapped Error"),
    ]
    assert (
        export_reason_recipients(con, "cmp_1", "Unmapped Error", "undelivered", None, None, out)
        == 1
    )
    assert [r["kind"] for r in _csv_rows(out)] == ["undelivered"]
    assert export_reason_recipients(con, "cmp_1", "ALL", "undelivered", None, None, out) == 2
    assert {r["reason"] for r in _csv_rows(out)} == {MISSING, "Unmapped Error"}


def test_a_known_reason_that_hit_nobody_writes_an_empty_file(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    csv_out, parquet_out = tmp_path / "users.csv", tmp_path / "users.parquet"
    assert export_reason_recipients(con, "cmp_1", "Duplicates", None, None, None, csv_out) == 0
    assert csv_out.read_text().splitlines() == [",".join(COLUMNS)]
    assert export_reason_recipients(con, "cmp_3", "all", None, None, None, parquet_out) == 0
    reader = duckdb.connect()
    assert reader.execute(f"select count(*) from read_parquet('{parquet_out}')").fetchone() == (0,)


def test_an_existing_file_is_replaced_and_no_temporary_file_stays(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    out = tmp_path / "users.csv"
    out.write_text("old content\n")
    export_reason_recipients(con, "cmp_2", FC, None, None, None, out)
    assert [row["user_id"] for row in _csv_rows(out)] == ["u1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb", "users.csv"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"campaign": "x"}, "unknown campaign 'x'; known campaigns include: cmp_1, cmp_2, cmp_3"),
        ({"campaign": "cmp_01"}, "unknown campaign 'cmp_01'; did you mean: cmp_1"),
        ({"reason": "Frequncy Caped"}, "did you mean: Frequency Capped?"),
        ({"reason": "Nope"}, f"valid reasons: all, {MISSING}, Duplicates, {FC}, Unmapped Error"),
        (
            {"reason": "Duplicates", "kind": "undelivered"},
            f"unknown undelivered reason 'Duplicates'; valid undelivered reasons: all, {MISSING}",
        ),
        ({"kind": "failed"}, "--kind 'failed' must be one of dropped, undelivered"),
        (
            {"date_from": date(2026, 10, 5), "date_to": date(2026, 10, 4)},
            "--from 2026-10-05 is after --to 2026-10-04: the range would be empty",
        ),
        ({"account": "acc_b"}, "campaign cmp_1 belongs to account acc_a, not acc_b"),
        ({"account": "acc_x"}, "unknown account 'acc_x'"),
        ({"out": "users.xlsx"}, "cannot tell the format from '.xlsx'; end the file name with"),
        ({"out": "users"}, "cannot tell the format from 'a name without suffix'"),
        ({"out": "missing/users.csv"}, "does not exist; create it first"),
    ],
)
def test_errors_name_the_problem_and_write_nothing(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, kwargs: dict, message: str
) -> None:
    arguments = {
        "campaign": "cmp_1",
        "reason": FC,
        "kind": None,
        "date_from": None,
        "date_to": None,
        "out": "users.csv",
    }
    arguments |= kwargs
    account = arguments.pop("account", None)
    arguments["out"] = tmp_path / arguments["out"]
    with pytest.raises(ConfigError) as error:
        export_reason_recipients(con, **arguments, account=account)
    assert message in str(error.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb"]


def test_a_publication_older_than_the_cohort_date_grain_is_an_error(tmp_path: Path) -> None:
    serving = _make_serving(tmp_path / "old.duckdb", with_cohort_date=False)
    con = duckdb.connect(str(serving), read_only=True)
    try:
        with pytest.raises(ConfigError, match=r"has no cohort_date .* run `wa-warehouse run`"):
            export_reason_recipients(con, "cmp_1", FC, None, None, None, tmp_path / "u.csv")
    finally:
        con.close()


def test_the_command_exports_and_says_how_many_users_and_where(
    serving: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "users.parquet"
    code = _main(
        "--campaign", "cmp_1", "--account", "acc_a", "--reason", "frequency capped",
        "--kind", "dropped", "--from", "2026-10-01", "--to", "2026-10-05",
        "--out", str(out), "--serving", str(serving),
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().err == (
        f"exported 2 users hit by '{FC}' (dropped) in campaign cmp_1, "
        f"cohort dates 2026-10-01 to 2026-10-05, to {out}\n"
    )
    reader = duckdb.connect()
    assert reader.execute(f"select user_id from read_parquet('{out}')").fetchall() == [
        ("u1",),
        ("u2",),
    ]


def test_the_command_reads_the_serving_path_from_the_environment(
    serving: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WA_SERVING_PATH", str(serving))
    out = tmp_path / "users.csv"
    assert _main(
        "--campaign", "cmp_1", "--reason", "all",
        "--from", "2026-09-01", "--to", "2026-09-30", "--out", str(out),
    ) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "exported 0 users hit by any reason in campaign cmp_1" in err
    assert "the file has no rows (the campaign's cohort dates: 2026-10-01 to 2026-10-06)" in err
    assert out.read_text().splitlines() == [",".join(COLUMNS)]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--serving", "{tmp}/none.duckdb"], "no published marts at {tmp}/none.duckdb"),
        (["--from", "2026-10-1x"], "--from '2026-10-1x' is not a date (expected YYYY-MM-DD)"),
        (["--from", "2026-10-07", "--to", "2026-10-06"], "the range would be empty"),
        (["--out", "{tmp}/users.json"], "cannot tell the format from '.json'"),
    ],
)
def test_the_command_fails_with_a_readable_config_error(
    serving: Path, tmp_path: Path, argv: list[str], message: str
) -> None:
    flags = {
        "--campaign": "cmp_1",
        "--reason": "all",
        "--from": "2026-10-01",
        "--to": "2026-10-31",
        "--out": str(tmp_path / "users.csv"),
        "--serving": str(serving),
    }
    flags |= dict(zip(argv[::2], [a.format(tmp=tmp_path) for a in argv[1::2]], strict=True))
    with pytest.raises(ConfigError) as error:
        _main(*[item for pair in flags.items() for item in pair])
    assert message.format(tmp=tmp_path) in str(error.value)
    assert not (tmp_path / "users.csv").exists()


@pytest.mark.parametrize("missing", ["--campaign", "--reason", "--from", "--to", "--out"])
def test_the_command_requires_its_flags(missing: str, capsys: pytest.CaptureFixture[str]) -> None:
    flags = {
        "--campaign": "cmp_1",
        "--reason": "all",
        "--from": "2026-10-01",
        "--to": "2026-10-31",
        "--out": "users.csv",
    }
    del flags[missing]
    with pytest.raises(SystemExit) as exit_:
        _parser().parse_args(
            ["export", "reason-recipients", *[i for pair in flags.items() for i in pair]]
        )
    assert exit_.value.code == 2
    assert missing in capsys.readouterr().err
