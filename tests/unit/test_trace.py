"""`wa-warehouse trace` on a hand-made publication: a DuckDB file with a few rows of
marts.message_lineage (no pipeline run)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from orchestration import cli
from orchestration.config import ConfigError
from orchestration.trace import check_lineage_mart, dispatches_of, load_paths, trace

AS_OF = datetime(2026, 11, 1)

#: (dispatch_id, event_seq, campaign_id, user_id, wamid, cohort_date, event_at, event_kind,
#:  message_state, reason, possible_solution, detail)
ROWS = [
    ("d_read", 1, "c1", "u1", "w1", date(2026, 10, 20), datetime(2026, 10, 20, 9), "dispatched",
     "delivered", None, None, "sent to WhatsApp as w1"),
    ("d_read", 2, "c1", "u1", "w1", date(2026, 10, 20), datetime(2026, 10, 20, 9, 1), "status",
     "delivered", None, None, "status delivered"),
    ("d_read", 3, "c1", "u1", "w1", date(2026, 10, 20), datetime(2026, 10, 20, 9, 5), "click",
     "delivered", None, None, "clicked https://shop.example/p (button b_url)"),
    ("d_read", 4, "c1", "u1", "w1", date(2026, 10, 20), AS_OF, "state", "delivered", None, None,
     "delivered and read: delivered at 2026-10-20 09:01:00, read at 2026-10-20 09:05:00 UTC"),
    ("d_failed", 1, "c2", "u1", "w2", date(2026, 10, 25), datetime(2026, 10, 25, 9), "dispatched",
     "undelivered", None, None, "sent to WhatsApp as w2"),
    ("d_failed", 2, "c2", "u1", "w2", date(2026, 10, 25), datetime(2026, 10, 25, 9, 2), "status",
     "undelivered", "Recipient-Related Errors", "Check the number.",
     'status failed, error 131026 "Message undeliverable": Recipient-Related Errors'),
    ("d_failed", 3, "c2", "u1", "w2", date(2026, 10, 25), AS_OF, "state", "undelivered",
     "Recipient-Related Errors", "Check the number.",
     "undelivered: Recipient-Related Errors (failed status at 2026-10-25 09:02:00 UTC, "
     "error 131026)"),
    ("d_dropped", 1, "c1", "u1", None, date(2026, 10, 22), datetime(2026, 10, 22, 8), "dropped",
     "dropped", "Frequency Capped", "Review the cap.",
     "dropped before WhatsApp: Frequency Capped (drop code FREQUENCY_CAPPED)"),
    ("d_dropped", 2, "c1", "u1", None, date(2026, 10, 22), AS_OF, "state", "dropped",
     "Frequency Capped", "Review the cap.",
     "dropped: Frequency Capped (drop code FREQUENCY_CAPPED; never handed over to WhatsApp)"),
    ("d_other", 1, "c1", "u2", "w3", date(2026, 10, 1), datetime(2026, 10, 1, 9), "dispatched",
     "undelivered", None, None, "sent to WhatsApp as w3"),
    ("d_other", 2, "c1", "u2", "w3", date(2026, 10, 1), AS_OF, "state", "undelivered",
     "Delivery Report Missing", "Check the webhook receiver.",
     "undelivered: Delivery Report Missing (no delivery report within 720 h)"),
]  # fmt: skip


def _publication(path: Path, *, lineage: bool = True) -> Path:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema marts")
        con.execute("create table marts.campaign_performance (campaign_id varchar)")
        con.execute(
            "create table marts._publication as "
            "select timestamp '2026-11-01 00:00:00' as as_of, now() as published_at"
        )
        if lineage:
            con.execute(
                """
                create table marts.message_lineage (
                    dispatch_id varchar, event_seq bigint, account_id varchar,
                    campaign_id varchar, user_id varchar, wamid varchar, cohort_date date,
                    event_at timestamp, event_kind varchar, message_state varchar,
                    reason varchar, possible_solution varchar, detail varchar
                )
                """
            )
            con.executemany(
                """
                insert into marts.message_lineage (
                    dispatch_id, event_seq, campaign_id, user_id, wamid, cohort_date, event_at,
                    event_kind, message_state, reason, possible_solution, detail, account_id
                ) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'a')
                """,
                ROWS,
            )
    finally:
        con.close()
    return path


@pytest.fixture
def serving(tmp_path: Path) -> Path:
    return _publication(tmp_path / "serving.duckdb")


@pytest.fixture
def con(serving: Path):
    connection = duckdb.connect(str(serving), read_only=True)
    yield connection
    connection.close()


def test_a_dispatch_prints_its_path_in_order_then_the_reason_and_solution(
    con: duckdb.DuckDBPyConnection,
) -> None:
    text = trace(con, dispatch="d_failed")
    lines = text.splitlines()
    assert lines[0] == "message lineage as of 2026-11-01T00:00:00Z"
    assert lines[2] == (
        "message d_failed: account a, campaign c2, user u1, cohort date 2026-10-25, wamid w2"
    )
    assert lines[3:] == [
        "  1  2026-10-25 09:00:00  dispatched  sent to WhatsApp as w2",
        '  2  2026-10-25 09:02:00  status      status failed, error 131026 "Message '
        'undeliverable": Recipient-Related Errors',
        "  3  2026-11-01 00:00:00  state       undelivered: Recipient-Related Errors (failed "
        "status at 2026-10-25 09:02:00 UTC, error 131026)",
        "  reason: Recipient-Related Errors",
        "  possible solution: Check the number.",
    ]


def test_a_delivered_message_has_no_reason_lines(con: duckdb.DuckDBPyConnection) -> None:
    text = trace(con, dispatch="d_read")
    assert text.splitlines()[-1].endswith("read at 2026-10-20 09:05:00 UTC")
    assert "reason:" not in text and "possible solution" not in text
    kinds = [line.split()[3] for line in text.splitlines()[3:]]
    assert kinds == ["dispatched", "status", "click", "state"]


def test_a_user_lists_each_message_newest_first_capped_by_limit(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert dispatches_of(con, user="u1") == (["d_failed", "d_dropped", "d_read"], 3)
    assert dispatches_of(con, user="u1", limit=2) == (["d_failed", "d_dropped"], 3)
    assert dispatches_of(con, user="u1", campaign="c1") == (["d_dropped", "d_read"], 2)
    text = trace(con, user="u1", limit=2)
    assert "user u1: 3 messages, the newest 2 shown (--limit)" in text
    headers = [line for line in text.splitlines() if line.startswith("message ")]
    assert [h.split()[1] for h in headers] == ["lineage", "d_failed:", "d_dropped:"]
    assert "possible solution: Review the cap." in text


def test_load_paths_keeps_the_event_order(con: duckdb.DuckDBPyConnection) -> None:
    paths = load_paths(con, ["d_read", "d_other"])
    assert list(paths) == ["d_read", "d_other"]
    assert [e.event_seq for e in paths["d_read"]] == [1, 2, 3, 4]
    assert paths["d_other"][-1].reason == "Delivery Report Missing"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dispatch": "d_nope"}, "unknown dispatch 'd_nope'"),
        ({"user": "u9"}, "unknown user 'u9'"),
        ({"user": "u1", "campaign": "c9"}, "has no message of campaign 'c9'"),
        ({"dispatch": "d_read", "campaign": "c1"}, "--campaign narrows --user"),
        ({"user": "u1", "limit": 0}, "--limit 0 must be at least 1"),
        ({}, "exactly one of --dispatch and --user"),
        ({"dispatch": "d_read", "user": "u1"}, "exactly one of --dispatch and --user"),
    ],
)
def test_bad_selections_are_config_errors(
    con: duckdb.DuckDBPyConnection, kwargs: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        dispatches_of(con, **kwargs)


def test_an_unknown_id_names_the_covered_dates_and_the_closest_ids(
    con: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(ConfigError) as error:
        trace(con, dispatch="d_reed")
    assert "cohort dates 2026-10-01 to 2026-10-25" in str(error.value)
    assert "closest known: d_read" in str(error.value)


def test_a_publication_without_the_mart_is_a_clear_error(tmp_path: Path) -> None:
    path = _publication(tmp_path / "old.duckdb", lineage=False)
    con = duckdb.connect(str(path), read_only=True)
    try:
        with pytest.raises(ConfigError, match=r"no marts\.message_lineage"):
            check_lineage_mart(con)
    finally:
        con.close()


def test_the_command_prints_the_path_and_exits_0(
    serving: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["trace", "--dispatch", "d_dropped", "--serving", str(serving)]) == 0
    out = capsys.readouterr().out
    assert f"message lineage as of 2026-11-01T00:00:00Z from {serving}" in out
    assert "dropped before WhatsApp: Frequency Capped" in out
    assert "  reason: Frequency Capped\n  possible solution: Review the cap.\n" in out


@pytest.mark.parametrize(
    "argv",
    [
        ["trace", "--dispatch", "d_nope"],
        ["trace", "--user", "u9"],
        ["trace", "--dispatch", "d_read", "--campaign", "c1"],
        ["trace", "--user", "u1", "--limit", "0"],
    ],
)
def test_argument_errors_exit_2_with_error(
    serving: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert cli.main([*argv, "--serving", str(serving)]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_exactly_one_of_dispatch_and_user(
    serving: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["trace"], ["trace", "--dispatch", "d_read", "--user", "u1"]):
        with pytest.raises(SystemExit) as exit_:
            cli.main([*argv, "--serving", str(serving)])
        assert exit_.value.code == 2
        assert "error:" in capsys.readouterr().err


def test_missing_mart_and_missing_publication_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _publication(tmp_path / "old.duckdb", lineage=False)
    assert cli.main(["trace", "--dispatch", "d_read", "--serving", str(old)]) == 2
    assert "no marts.message_lineage" in capsys.readouterr().err
    missing = tmp_path / "missing.duckdb"
    assert cli.main(["trace", "--dispatch", "d_read", "--serving", str(missing)]) == 2
    assert "no published marts" in capsys.readouterr().err
