"""Tests of the loader rules: raw extracts into schema ``raw``, on both engines.

The loader rules are one specification (docs/raw_schema.md,
docs/contract/extracts.md) with two implementations: ``orchestration.loading``
(DuckDB) and ``orchestration.spark.loading`` (Spark). A test taking the
``loader`` fixture (tests/unit/conftest.py, tests/unit/loaders.py) runs once per
engine (``[duckdb]``, ``[spark]``; the Spark runs are marked ``spark``) and its
SQL assertions read the DuckDB connection ``con``, into which the Spark facade
copies Spark's raw tables after each call. Where Spark legitimately differs
(``_file`` is the last column, a partition column), the test says so explicitly.

DuckDB-only, on purpose:

- ``test_a_crash_mid_file_leaves_nothing_and_the_next_run_loads_it`` and
  ``test_a_crash_rolls_back_every_file_of_the_batch_and_keeps_the_ledger_consistent``:
  DuckDB transactions (a failed batch is rolled back, temp tables dropped); Spark
  has none, its crash and rerun rule is tested by
  ``test_spark_a_crash_before_the_ledger_rows_never_double_counts`` instead;
- ``test_files_beyond_the_batch_size_go_in_later_transactions``: batch sizes and
  per-batch transactions, with the DuckDB runner's internals monkeypatched;
- ``test_a_warehouse_whose_deliveries_kept_body_or_raw_line_keeps_its_rows_and_loads``:
  a migration of an older DuckDB warehouse (no Spark warehouse predates the Spark
  loader).

Every extract file here is small and hand-made inside ``tmp_path``; the real
Meta webhook bodies come from ``tests/fixtures/meta_webhooks`` (MIT, see its
NOTICE.md).
"""

from __future__ import annotations

import gzip
import json
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.layout import SOURCES
from orchestration.loading import (
    UNKNOWN_FILE_REASON,
    LoadResult,
    load_source,
)
from orchestration.loading import ledger as ledger_module
from orchestration.loading.schema import DATA_TABLES

SAMPLES = Path(__file__).parents[1] / "fixtures" / "meta_webhooks"

DISPATCH_HEADER = (
    "dispatch_id,account_id,campaign_id,send_id,user_id,phone_number,attempted_at,"
    "result,wamid,drop_code,meta_error_code,meta_error_title"
)


# -- helpers ------------------------------------------------------------------------------


def put(root: Path, rel: str, content: str | bytes) -> Path:
    """Write an extract file (gzip-compressed when the name ends in .gz)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    if rel.endswith(".gz"):
        data = gzip.compress(data, mtime=0)  # same content, same bytes
    path.write_bytes(data)
    return path


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list:
    return con.execute(sql, params or []).fetchall()


def one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> Any:
    row = con.execute(sql, params or []).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def quarantine(con: duckdb.DuckDBPyConnection, file: str) -> list[tuple[int | None, str, str]]:
    """(line_number, raw_text, reason) of a file's quarantine rows, by line."""
    return rows(
        con,
        "SELECT line_number, raw_text, reason FROM raw._quarantine WHERE file = ? "
        "ORDER BY line_number NULLS FIRST",
        [file],
    )


def archived_line(root: Path, file: str, row_number: int) -> str:
    """Physical line ``row_number`` of an extract file (LF-split, CR of CRLF dropped)."""
    data = (root / file).read_bytes()
    if file.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode().split("\n")[row_number - 1].removesuffix("\r")


def snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Row counts of every raw table plus the ledger and quarantine contents."""
    counts = {t: one(con, f'SELECT count(*) FROM raw."{t}"') for t in DATA_TABLES}
    counts["_loads"] = rows(con, "SELECT * FROM raw._loads ORDER BY load_id")
    counts["_quarantine"] = rows(
        con, "SELECT * FROM raw._quarantine ORDER BY file, line_number NULLS FIRST, reason"
    )
    return counts


def dispatch(i: int, attempted_at: str = "2026-10-01T09:00:00Z", code: str = "") -> str:
    result, wamid, drop = ("DROPPED", "", "META_API_ERROR") if code else ("SENT", f"wamid.{i}", "")
    person = f"d{i},acc_01,cmp_1,snd_1,u{i},+9053200000{i:02d}"
    return f"{person},{attempted_at},{result},{wamid},{drop},{code},"


def envelope(delivery_id: str, body: Any, received_at: str = "2026-10-01T09:14:03.512Z") -> str:
    return json.dumps({"delivery_id": delivery_id, "received_at": received_at, "body": body})


def status_body(*statuses: dict[str, Any], messages: list[dict[str, Any]] | None = None) -> dict:
    value: dict[str, Any] = {"messaging_product": "whatsapp", "statuses": list(statuses)}
    if messages is not None:
        value["messages"] = messages
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}],
    }


def utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


# -- schema --------------------------------------------------------------------------------


def test_ensure_raw_schema_is_idempotent_and_matches_the_doc(loader, con):
    loader.ensure_raw_schema()
    loader.ensure_raw_schema()
    tables = {
        r[0] for r in rows(con, "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'")
    }
    assert tables == {
        *(name for name, s in SOURCES.items() if s.columns),
        "templates",
        "webhook_deliveries",
        "webhook_statuses",
        "webhook_messages",
        "_loads",
        "_quarantine",
    }
    dispatch_cols = loader.column_order("dispatches")
    dispatch_types = loader.native_types("dispatches")
    assert dispatch_cols[6] == "attempted_at" and dispatch_types["attempted_at"] == "timestamp"
    assert dispatch_cols[10] == "meta_error_code" and dispatch_types["meta_error_code"] == "bigint"
    lineage = ["_load_id", "_file", "_file_day", "_row_number", "_loaded_at"]
    if loader.engine == "spark":  # the partition column _file is last (docs/raw_schema.md)
        lineage = ["_load_id", "_file_day", "_row_number", "_loaded_at", "_file"]
    assert dispatch_cols[-5:] == lineage
    assert set(dispatch_cols) == {name for name, _ in DATA_TABLES["dispatches"]}
    assert loader.native_types("conversions")["revenue"] == "decimal(18,4)"
    assert loader.native_types("templates")["components"] == {
        "duckdb": "json", "spark": "string"
    }[loader.engine]  # fmt: skip
    # no constraints on raw tables (a PRIMARY KEY slows bulk loads 4-6x)
    assert one(con, "SELECT count(*) FROM duckdb_constraints() WHERE schema_name = 'raw'") == 0


# -- tabular -------------------------------------------------------------------------------


def test_csv_rows_load_typed_and_every_malformed_row_is_quarantined_whole(loader, con, root):
    lines = [
        DISPATCH_HEADER,  # 1
        dispatch(1),  # 2
        dispatch(2, "2026-10-01T12:00:00+03:00", code="131049"),  # 3
        dispatch(3, "2026-10-01 09:30:00"),  # 4  no offset: read as UTC
        dispatch(4, "2026-13-45T09:00:00Z"),  # 5  bad timestamp
        dispatch(5, code="abc"),  # 6  non-numeric code
        dispatch(6, code="12.5"),  # 7  not an integer
        "d7,acc_01,cmp_1,snd_1,u7,+905320000007,2026-10-01T09:00:00Z,SENT,wamid.7",  # 8 too few
        "",  # 9  blank line: ignored
        dispatch(8).replace("d8,", ",", 1),  # 10 missing key
        "d9,acc_01,cmp_1,snd_1,u9,+905320000009,2026-10-01T09:00:00Z,DROPPED,,"  # 11-12: one
        'META_API_ERROR,131049,"two-line ""quoted""\ntitle"',  # record on two lines
        dispatch(10) + ",extra,fields",  # 13 too many columns
        dispatch(11, "not-a-time", code="x1"),  # 14 two bad fields: both named
        'd12,acc_01,cmp_1,snd_1,u12,"+90532 unterminated,2026-10-01T09:00:00Z,SENT,w,,,',  # 15
    ]
    rel = "dispatches/dispatches-2026-10-01.csv"
    put(root, rel, "\n".join(lines) + "\n")

    result = loader.load_source(root, "dispatches")

    assert (result.files_seen, result.files_loaded, result.rows_loaded) == (1, 1, 4)
    assert result.rows_quarantined == 8
    assert result.rows_loaded + result.rows_quarantined == 12  # data records in the file
    loaded = rows(
        con,
        "SELECT dispatch_id, attempted_at, meta_error_code, meta_error_title, _row_number, "
        "_file, _file_day FROM raw.dispatches ORDER BY _row_number",
    )
    # _row_number: ordinal among the records the CSV reader parsed
    assert [(r[0], r[4]) for r in loaded] == [("d1", 1), ("d2", 2), ("d3", 3), ("d9", 8)]
    by_id = {r[0]: r for r in loaded}
    assert by_id["d1"][1] == datetime(2026, 10, 1, 9, 0)
    assert by_id["d2"][1] == datetime(2026, 10, 1, 9, 0)  # +03:00 converted to UTC
    assert by_id["d2"][2] == 131049
    assert by_id["d3"][1] == datetime(2026, 10, 1, 9, 30)  # no offset: UTC
    assert by_id["d9"][3] == 'two-line "quoted"\ntitle'
    assert by_id["d1"][5:] == (rel, date(2026, 10, 1))

    q = quarantine(con, rel)
    assert [(line, reason) for line, _, reason in q] == [
        (5, 'bad timestamp in attempted_at: "2026-13-45T09:00:00Z"'),
        (6, 'non-numeric integer in meta_error_code: "abc"'),
        (7, 'non-numeric integer in meta_error_code: "12.5"'),
        (8, "wrong column count (Expected Number of Columns: 12 Found: 9)"),
        (10, "missing key dispatch_id"),
        (13, "wrong column count (Expected Number of Columns: 12 Found: 14)"),
        (
            14,
            'bad timestamp in attempted_at: "not-a-time"; '
            'non-numeric integer in meta_error_code: "x1"',
        ),
        (15, "unterminated or stray quote (Value with unterminated quote found.)"),
    ]
    raw_text = {line: text for line, text, _ in q}
    assert raw_text[5] == lines[4]
    assert raw_text[8] == lines[7]
    assert raw_text[10] == lines[9]
    assert raw_text[13] == lines[11]
    assert raw_text[14] == lines[12]  # after a two-line record: still the physical line
    assert raw_text[15] == lines[13]
    # a quarantined row is never loaded with the bad field nulled
    assert (
        one(con, "SELECT count(*) FROM raw.dispatches WHERE dispatch_id IN ('d4','d5','d6')") == 0
    )


def test_physical_line_numbers_with_blank_lines_and_single_line_records(loader, con, root):
    lines = [
        DISPATCH_HEADER,  # 1
        dispatch(1),  # 2
        "",  # 3
        "x,y",  # 4  wrong column count
        dispatch(2, "2026-02-30T00:00:00Z"),  # 5  bad timestamp
        "",  # 6
        dispatch(3, code="1e3"),  # 7  not an integer
        dispatch(4),  # 8
    ]
    rel = "dispatches/dispatches-2026-10-01.csv.gz"
    put(root, rel, "\n".join(lines))
    result = loader.load_source(root, "dispatches")
    assert (result.rows_loaded, result.rows_quarantined) == (2, 3)
    assert quarantine(con, rel) == [
        (4, "x,y", "wrong column count (Expected Number of Columns: 12 Found: 2)"),
        (5, lines[4], 'bad timestamp in attempted_at: "2026-02-30T00:00:00Z"'),
        (7, lines[6], 'non-numeric integer in meta_error_code: "1e3"'),
    ]
    assert rows(con, "SELECT dispatch_id, _row_number FROM raw.dispatches ORDER BY 2") == [
        ("d1", 1),
        ("d4", 4),
    ]


def test_counts_add_up_for_every_tabular_source(loader, con, root):
    files = {
        "accounts": (
            "accounts/accounts.csv",
            "account_id,account_name,industry,country,timezone,currency\n"
            "acc_01,Acme,retail,TR,Europe/Istanbul,TRY\n"
            "acc_02,Globex,travel,DE,Europe/Berlin,EUR\n"
            ",Nobody,media,US,America/New_York,USD\n",
            2,
        ),
        "campaigns": (
            "campaigns/campaigns-2026-10-01.csv",
            "campaign_id,account_id,campaign_name,campaign_type,template_name,"
            "template_language,template_category,goal_event,conversion_window_hours,created_at\n"
            "cmp_1,acc_01,Autumn,one_time,autumn_sale,en_US,MARKETING,purchase,72,"
            "2026-09-30T10:00:00Z\n"
            "cmp_2,acc_01,Daily,automated,daily,tr,UTILITY,sign_up,forty,2026-09-30T10:00:00Z\n",
            1,
        ),
        "clicks": (
            "clicks/clicks-2026-10-01.csv.gz",
            "click_id,wamid,clicked_at,url,button_id,card_index\n"
            "k1,wamid.1,2026-10-01T10:00:00Z,https://shop.example/a,b_shop,\n"
            "k2,wamid.2,2026-10-01T10:00:00Z,https://shop.example/p/1,c0_buy,0\n"
            "k3,wamid.3,2026-10-01T10:00:00Z,https://shop.example/p/2,c1_buy,first\n",
            2,
        ),
        "conversions": (
            "conversions/conversions-2026-10-02.csv",
            "event_id,account_id,user_id,event_name,occurred_at,revenue,currency\n"
            "e1,acc_01,u1,purchase,2026-10-02T08:00:00Z,199.90,TRY\n"
            "e2,acc_01,u2,sign_up,2026-10-02T08:00:00Z,,\n"
            "e3,acc_01,u3,purchase,2026-10-02T08:00:00Z,12,5 TRY,TRY\n"
            "e4,acc_01,u4,purchase,2026-10-02T08:00:00Z,ten,TRY\n",
            2,
        ),
        "unsubscribes": (
            "unsubscribes/unsubscribes-2026-10-02.csv",
            "unsubscribe_id,account_id,user_id,occurred_at,source,wamid\n"
            "x1,acc_01,u1,2026-10-02T08:00:00Z,button,wamid.1\n"
            "x2,acc_01,u2,yesterday,link,\n",
            1,
        ),
    }
    for source, (rel, text, good) in files.items():
        put(root, rel, text)
        data_rows = len(text.strip().splitlines()) - 1
        result = loader.load_source(root, source)
        assert result.rows_loaded == good, source
        assert result.rows_loaded + result.rows_quarantined == data_rows, source
        assert one(con, f"SELECT count(*) FROM raw.{source}") == good
        assert one(con, "SELECT count(*) FROM raw._quarantine WHERE file = ?", [rel]) == (
            data_rows - good
        )
    assert one(con, "SELECT _file_day FROM raw.accounts LIMIT 1") is None
    assert one(con, "SELECT card_index FROM raw.clicks WHERE click_id = 'k2'") == 0
    assert one(con, "SELECT revenue FROM raw.conversions WHERE event_id = 'e1'") == Decimal("199.9")
    assert [r[2] for r in quarantine(con, "conversions/conversions-2026-10-02.csv")] == [
        "wrong column count (Expected Number of Columns: 7 Found: 8)",
        'non-numeric decimal in revenue: "ten"',
    ]
    assert [r[2] for r in quarantine(con, "campaigns/campaigns-2026-10-01.csv")] == [
        'non-numeric integer in conversion_window_hours: "forty"'
    ]


def test_extra_and_reordered_columns_and_crlf(loader, con, root):
    text = (
        "note,attempted_at,dispatch_id,account_id,campaign_id,send_id,user_id,phone_number,"
        "result,wamid,drop_code,meta_error_code,meta_error_title,more\r\n"
        "hi,2026-10-01T09:00:00Z,d1,acc_01,cmp_1,snd_1,u1,+905320000001,SENT,wamid.1,,,,x\r\n"
    )
    put(root, "dispatches/dispatches-2026-10-01.csv", text)
    assert loader.load_source(root, "dispatches").rows_loaded == 1
    assert rows(con, "SELECT dispatch_id, wamid, attempted_at FROM raw.dispatches") == [
        ("d1", "wamid.1", datetime(2026, 10, 1, 9, 0))
    ]


def test_timestamps_are_utc_whatever_the_session_time_zone(loader, con, root):
    loader.set_session_time_zone("America/New_York")
    put(
        root,
        "dispatches/dispatches-2026-10-01.csv",
        "\n".join([DISPATCH_HEADER, dispatch(1, "2026-10-01 09:00:00"), dispatch(2)]),
    )
    loader.load_source(root, "dispatches")
    assert [r[0] for r in rows(con, "SELECT attempted_at FROM raw.dispatches")] == [
        datetime(2026, 10, 1, 9, 0)
    ] * 2


def test_wrong_header_and_unreadable_files_are_quarantined_whole(loader, con, root):
    good = put(
        root,
        "dispatches/dispatches-2026-10-01.csv.gz",
        "\n".join([DISPATCH_HEADER, dispatch(1), dispatch(2), "d3,too,few"]) + "\n",
    )
    truncated = gzip.compress(
        ("\n".join([DISPATCH_HEADER] + [dispatch(i) for i in range(60)]) + "\n").encode()
    )
    (root / "dispatches" / "dispatches-2026-10-02.csv.gz").write_bytes(truncated[:-40])
    put(
        root,
        "dispatches/dispatches-2026-10-03.csv",
        "dispatch_id,account_id,user_id\nd1,acc_01,u1\n",
    )
    (root / "dispatches" / "dispatches-2026-10-04.parquet").write_bytes(b"PAR1 not parquet")
    put(root, "dispatches/dispatches-2026-10-05.csv", "")
    mixed = f"{DISPATCH_HEADER}\r\n{dispatch(1)}t\n{dispatch(2)}t\r\n"  # LF and CRLF mixed
    put(root, "dispatches/dispatches-2026-10-06.csv", mixed)

    result = loader.load_source(root, "dispatches")

    assert (result.files_seen, result.files_loaded, result.files_quarantined) == (6, 6, 5)
    assert result.rows_loaded == 2
    assert result.rows_quarantined == 1 + 5
    assert result.bytes_read == sum(p.stat().st_size for p in (root / "dispatches").iterdir())
    # store_rejects works through gzip: physical line and raw text of the bad line
    assert quarantine(con, "dispatches/dispatches-2026-10-01.csv.gz") == [
        (4, "d3,too,few", "wrong column count (Expected Number of Columns: 12 Found: 3)")
    ]
    ((line, text, reason),) = quarantine(con, "dispatches/dispatches-2026-10-02.csv.gz")
    assert (line, text) == (None, None)
    assert reason.startswith("cannot read file: ") and "GZIP" in reason.upper()
    assert quarantine(con, "dispatches/dispatches-2026-10-03.csv")[0][2] == (
        "wrong header: missing columns campaign_id, send_id, phone_number, attempted_at, "
        "result, wamid, drop_code, meta_error_code, meta_error_title"
    )
    assert quarantine(con, "dispatches/dispatches-2026-10-04.parquet")[0][2].startswith(
        "cannot read file: "
    )
    assert "empty file" in quarantine(con, "dispatches/dispatches-2026-10-05.csv")[0][2]
    assert quarantine(con, "dispatches/dispatches-2026-10-06.csv")[0][2].startswith(
        "cannot read file: "
    )
    ledger_rows = dict(rows(con, "SELECT file, (rows_loaded, rows_quarantined) FROM raw._loads"))
    assert ledger_rows["dispatches/dispatches-2026-10-01.csv.gz"] == (2, 1)
    assert ledger_rows["dispatches/dispatches-2026-10-02.csv.gz"] == (0, 1)
    assert ledger_rows["dispatches/dispatches-2026-10-03.csv"] == (0, 1)
    assert good.exists()
    # a quarantined file is not retried while its bytes are the same
    again = loader.load_source(root, "dispatches")
    assert (again.files_skipped, again.files_loaded) == (6, 0)


def test_many_csv_files_in_one_call_keep_per_file_lines_rows_and_ledger(loader, con, root):
    # files of one source are read together (one read per distinct header);
    # line numbers, _row_number, quarantine and ledger rows stay per file
    reordered = (
        "attempted_at,dispatch_id,account_id,campaign_id,send_id,user_id,phone_number,"
        "result,wamid,drop_code,meta_error_code,meta_error_title"
    )
    moved = "d5,acc_01,cmp_1,snd_1,u5,+905320000005"
    files = {
        "dispatches/dispatches-2026-10-01.csv": [
            DISPATCH_HEADER, dispatch(1), "x,y", dispatch(2, "bad"), dispatch(3),
        ],
        "dispatches/dispatches-2026-10-02.csv": [
            DISPATCH_HEADER, "", dispatch(4), dispatch(5, code="1.5"), "", dispatch(6), "a,b,c",
        ],
        "dispatches/dispatches-2026-10-03.csv.gz": [DISPATCH_HEADER, dispatch(7)],
        "dispatches/dispatches-2026-10-04.csv": [
            reordered,
            f"2026-10-01T09:00:00Z,{moved},SENT,wamid.5,,,",
            "2026-10-01,,a,b,c,d,e,f,g,h,,j",
        ],
    }  # fmt: skip
    for rel, lines in files.items():
        put(root, rel, "\n".join(lines) + "\n")
    truncated = gzip.compress(("\n".join([DISPATCH_HEADER, dispatch(9)] * 30) + "\n").encode())
    (root / "dispatches" / "dispatches-2026-10-05.csv.gz").write_bytes(truncated[:-30])

    result = loader.load_source(root, "dispatches")

    assert (result.files_seen, result.files_loaded, result.files_quarantined) == (5, 5, 1)
    assert (result.rows_loaded, result.rows_quarantined) == (6, 5 + 1)
    got = rows(
        con,
        "SELECT day(_file_day), dispatch_id, _row_number, attempted_at FROM raw.dispatches "
        "ORDER BY _file_day, _row_number",
    )
    # _row_number: ordinal among the records parsed from that file
    assert [r[:3] for r in got] == [
        (1, "d1", 1), (1, "d3", 3), (2, "d4", 1), (2, "d6", 3), (3, "d7", 1), (4, "d5", 1),
    ]  # fmt: skip
    assert {r[3] for r in got} == {datetime(2026, 10, 1, 9, 0)}
    lines1 = files["dispatches/dispatches-2026-10-01.csv"]
    lines2 = files["dispatches/dispatches-2026-10-02.csv"]
    lines4 = files["dispatches/dispatches-2026-10-04.csv"]
    assert quarantine(con, "dispatches/dispatches-2026-10-01.csv") == [
        (3, "x,y", "wrong column count (Expected Number of Columns: 12 Found: 2)"),
        (4, lines1[3], 'bad timestamp in attempted_at: "bad"'),
    ]
    assert quarantine(con, "dispatches/dispatches-2026-10-02.csv") == [
        (4, lines2[3], 'non-numeric integer in meta_error_code: "1.5"'),
        (7, "a,b,c", "wrong column count (Expected Number of Columns: 12 Found: 3)"),
    ]
    assert quarantine(con, "dispatches/dispatches-2026-10-04.csv") == [
        (3, lines4[2], "missing key dispatch_id"),
    ]
    ((line, text, reason),) = quarantine(con, "dispatches/dispatches-2026-10-05.csv.gz")
    assert (line, text) == (None, None) and reason.startswith("cannot read file: ")
    ledger_rows = dict(rows(con, "SELECT file, (rows_loaded, rows_quarantined) FROM raw._loads"))
    assert ledger_rows == {
        "dispatches/dispatches-2026-10-01.csv": (2, 2),
        "dispatches/dispatches-2026-10-02.csv": (2, 2),
        "dispatches/dispatches-2026-10-03.csv.gz": (1, 0),
        "dispatches/dispatches-2026-10-04.csv": (1, 1),
        "dispatches/dispatches-2026-10-05.csv.gz": (0, 1),
    }
    # one load id per file, the ledger's
    assert (
        one(
            con,
            "SELECT count(*) FROM raw.dispatches AS d JOIN raw._loads AS l "
            "ON l.load_id = d._load_id AND l.file = d._file",
        )
        == 6
    )


def write_parquet(con: duckdb.DuckDBPyConnection, path: Path, select: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")


def test_parquet_typed_and_all_text_load_the_same(loader, con, root):
    typed = """
        SELECT * FROM (VALUES
            ('e1', 'acc_01', 'u1', 'purchase', TIMESTAMPTZ '2026-10-02 08:00:00+00',
             199.9::DECIMAL(18,4), 'TRY', 42::BIGINT),
            ('e2', 'acc_01', 'u2', 'sign_up', TIMESTAMPTZ '2026-10-02 11:30:00+03', NULL, NULL, 7)
        ) AS t(event_id, account_id, user_id, event_name, occurred_at, revenue, currency, extra)
    """
    text = """
        SELECT * FROM (VALUES
            ('2026-10-03T08:00:00Z', 'e1', 'acc_01', 'u1', 'purchase', '199.9', 'TRY'),
            ('2026-10-03T08:30:00Z', 'e2', 'acc_01', 'u2', 'sign_up', NULL, NULL),
            ('not a time', 'e3', 'acc_01', 'u3', 'purchase', '5', 'TRY'),
            ('2026-10-03T08:30:00Z', 'e4', 'acc_01', 'u4', 'purchase', 'five', 'TRY')
        ) AS t(occurred_at, event_id, account_id, user_id, event_name, revenue, currency)
    """
    write_parquet(con, root / "conversions" / "conversions-2026-10-02.parquet", typed)
    write_parquet(con, root / "conversions" / "conversions-2026-10-03.parquet", text)

    result = loader.load_source(root, "conversions")

    assert (result.rows_loaded, result.rows_quarantined) == (4, 2)
    got = rows(
        con,
        "SELECT _file_day, event_id, occurred_at, revenue, currency, _row_number "
        "FROM raw.conversions ORDER BY _file_day, event_id",
    )
    day2, day3 = date(2026, 10, 2), date(2026, 10, 3)
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in got] == [
        (day2, "e1", datetime(2026, 10, 2, 8, 0), "TRY", 1),
        (day2, "e2", datetime(2026, 10, 2, 8, 30), None, 2),
        (day3, "e1", datetime(2026, 10, 3, 8, 0), "TRY", 1),
        (day3, "e2", datetime(2026, 10, 3, 8, 30), None, 2),
    ]
    assert got[0][3] == got[2][3] == Decimal("199.9")
    q = quarantine(con, "conversions/conversions-2026-10-03.parquet")
    assert [(line, reason) for line, _, reason in q] == [
        (3, 'bad timestamp in occurred_at: "not a time"'),
        (4, 'non-numeric decimal in revenue: "five"'),
    ]
    assert json.loads(q[0][1])["event_id"] == "e3"  # the row, rendered as JSON text


# -- ledger --------------------------------------------------------------------------------


def sample_tree(root: Path) -> None:
    """One small file (with a bad row) for every source."""
    put(
        root,
        "dispatches/dispatches-2026-10-01.csv",
        "\n".join([DISPATCH_HEADER, dispatch(1), dispatch(2), dispatch(3, "bad")]) + "\n",
    )
    put(
        root,
        "accounts/accounts.csv",
        "account_id,account_name,industry,country,timezone,currency\n"
        "acc_01,Acme,retail,TR,Europe/Istanbul,TRY\n",
    )
    put(
        root,
        "templates/templates-2026-10-01.jsonl",
        json.dumps({"account_id": "acc_01", "template_name": "t", "language": "tr"}) + "\n{oops\n",
    )
    put(
        root,
        "webhooks/webhooks-2026-10-01.jsonl.gz",
        "\n".join(
            [
                envelope(
                    "dl1", status_body({"id": "w1", "status": "sent", "timestamp": "1759309999"})
                ),
                envelope("dl2", status_body({"id": "w2", "status": "read", "timestamp": "later"})),
            ]
        )
        + "\n",
    )


def test_loading_twice_changes_nothing(loader, con, root):
    sample_tree(root)
    first = {s: loader.load_source(root, s) for s in SOURCES}
    before = snapshot(con)
    assert sum(r.files_loaded for r in first.values()) == 4
    second = {s: loader.load_source(root, s) for s in SOURCES}
    assert snapshot(con) == before
    for result in second.values():
        assert result.files_loaded == result.rows_loaded == result.rows_quarantined == 0
        assert result.files_skipped == result.files_seen


def test_unchanged_files_are_not_read_again_but_rewritten_ones_are(loader, con, root, monkeypatch):
    """Quick check: the size and modification time the load recorded: skipped unread."""
    sample_tree(root)
    for s in SOURCES:
        loader.load_source(root, s)
    hashed: list[str] = []
    real_digest = ledger_module.file_digest
    monkeypatch.setattr(
        ledger_module, "file_digest", lambda path: hashed.append(path.name) or real_digest(path)
    )
    assert loader.load_source(root, "dispatches").files_skipped == 1
    assert hashed == []  # the daily run does not re-read history

    # rewritten in place with the same size and other bytes: hashed and replaced
    path = root / "dispatches/dispatches-2026-10-01.csv"
    text = path.read_text()
    path.write_text(text.replace("d1,", "d7,", 1))
    assert path.stat().st_size == len(text.encode())
    result = loader.load_source(root, "dispatches")
    assert hashed == [path.name]
    assert (result.files_replaced, result.files_skipped) == (1, 0)
    assert one(con, "SELECT count(*) FROM raw.dispatches WHERE dispatch_id = 'd7'") == 1

    # copied over with other bytes of the same size and an older modification time
    # (cp -p, rsync -t): not the recorded time, so hashed and replaced
    hashed.clear()
    before = path.stat().st_mtime
    path.write_text(text.replace("d1,", "d8,", 1))
    os.utime(path, (before - 3600, before - 3600))
    result = loader.load_source(root, "dispatches")
    assert hashed == [path.name]
    assert result.files_replaced == 1
    assert one(con, "SELECT count(*) FROM raw.dispatches WHERE dispatch_id = 'd8'") == 1

    # touched but identical: hashed, found unchanged, not loaded again
    hashed.clear()
    path.touch()
    assert loader.load_source(root, "dispatches").files_skipped == 1
    assert hashed == [path.name]
    # and always_hash reads every file
    hashed.clear()
    assert loader.load_source(root, "dispatches", always_hash=True).files_skipped == 1
    assert hashed == [path.name]


def test_redelivered_changed_file_replaces_its_rows(loader, con, root):
    sample_tree(root)
    for s in SOURCES:
        loader.load_source(root, s)
    first_id = one(con, "SELECT load_id FROM raw._loads WHERE source = 'dispatches'")
    # a different file of the same source is left alone by the replacement
    put(root, "dispatches/dispatches-2026-10-02.csv", "\n".join([DISPATCH_HEADER, dispatch(9)]))
    put(
        root,
        "dispatches/dispatches-2026-10-01.csv",
        "\n".join([DISPATCH_HEADER, dispatch(1, "2026-10-01T10:00:00Z"), dispatch(4, code="7")]),
    )
    put(
        root,
        "webhooks/webhooks-2026-10-01.jsonl.gz",
        envelope("dl1", status_body({"id": "w1", "status": "delivered", "timestamp": "1759310000"}))
        + "\n",
    )

    result = loader.load_source(root, "dispatches")

    assert (result.files_loaded, result.files_replaced, result.files_skipped) == (2, 1, 0)
    assert rows(
        con, "SELECT dispatch_id, attempted_at, _file_day FROM raw.dispatches ORDER BY 1"
    ) == [
        ("d1", datetime(2026, 10, 1, 10, 0), date(2026, 10, 1)),
        ("d4", datetime(2026, 10, 1, 9, 0), date(2026, 10, 1)),
        ("d9", datetime(2026, 10, 1, 9, 0), date(2026, 10, 2)),
    ]
    assert quarantine(con, "dispatches/dispatches-2026-10-01.csv") == []  # old bad row gone
    ledger_rows = rows(
        con,
        "SELECT file, rows_loaded, rows_quarantined, replaced_load_id FROM raw._loads "
        "WHERE source = 'dispatches' ORDER BY loaded_at",
    )
    assert ledger_rows[0] == ("dispatches/dispatches-2026-10-01.csv", 2, 1, None)
    assert ("dispatches/dispatches-2026-10-01.csv", 2, 0, first_id) in ledger_rows[1:]
    assert ("dispatches/dispatches-2026-10-02.csv", 1, 0, None) in ledger_rows[1:]

    webhooks = loader.load_source(root, "webhooks")
    assert webhooks.files_replaced == 1
    assert rows(con, "SELECT wamid, status FROM raw.webhook_statuses") == [("w1", "delivered")]
    assert one(con, "SELECT count(*) FROM raw.webhook_deliveries") == 1
    assert one(con, "SELECT count(*) FROM raw._quarantine WHERE source = 'webhooks'") == 0

    # going back to the first bytes is a change too: it replaces again
    sample_tree(root)
    assert loader.load_source(root, "dispatches").files_replaced == 1
    assert one(con, "SELECT count(*) FROM raw.dispatches WHERE _file_day = '2026-10-01'") == 2


def test_a_crash_mid_file_leaves_nothing_and_the_next_run_loads_it(con, root, monkeypatch):
    sample_tree(root)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash after the inserts")

    monkeypatch.setattr(ledger_module, "record_load", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        load_source(con, root, "dispatches")
    with pytest.raises(RuntimeError, match="simulated crash"):
        load_source(con, root, "webhooks")
    for table in ("dispatches", "webhook_deliveries", "webhook_statuses", "_loads", "_quarantine"):
        assert one(con, f"SELECT count(*) FROM raw.{table}") == 0, table
    # temp tables are cleaned up too
    assert one(con, "SELECT count(*) FROM duckdb_tables() WHERE temporary") == 0

    monkeypatch.undo()
    assert load_source(con, root, "dispatches").rows_loaded == 2
    assert load_source(con, root, "webhooks").rows_loaded == 1
    assert one(con, "SELECT count(*) FROM raw._loads") == 2

    # a crash while replacing keeps the earlier version's rows
    put(root, "dispatches/dispatches-2026-10-01.csv", "\n".join([DISPATCH_HEADER, dispatch(5)]))
    monkeypatch.setattr(ledger_module, "record_load", boom)
    with pytest.raises(RuntimeError):
        load_source(con, root, "dispatches")
    assert sorted(r[0] for r in rows(con, "SELECT dispatch_id FROM raw.dispatches")) == ["d1", "d2"]
    monkeypatch.undo()
    assert load_source(con, root, "dispatches").files_replaced == 1
    assert [r[0] for r in rows(con, "SELECT dispatch_id FROM raw.dispatches")] == ["d5"]


def test_a_crash_rolls_back_every_file_of_the_batch_and_keeps_the_ledger_consistent(
    con, root, monkeypatch
):
    for day in (1, 2, 3):
        put(root, f"dispatches/dispatches-2026-10-0{day}.csv",
            "\n".join([DISPATCH_HEADER, dispatch(day), dispatch(10 + day)]))  # fmt: skip
    real_record_load = ledger_module.record_load
    calls = []

    def crash_on_second(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("simulated crash in the middle of a batch")
        real_record_load(*args, **kwargs)

    monkeypatch.setattr(ledger_module, "record_load", crash_on_second)
    with pytest.raises(RuntimeError, match="simulated crash"):
        load_source(con, root, "dispatches")
    # the first file's rows and ledger row were in the same transaction: gone too
    for table in ("dispatches", "_loads", "_quarantine"):
        assert one(con, f"SELECT count(*) FROM raw.{table}") == 0, table
    assert one(con, "SELECT count(*) FROM duckdb_tables() WHERE temporary") == 0
    monkeypatch.undo()
    result = load_source(con, root, "dispatches")
    assert (result.files_loaded, result.rows_loaded) == (3, 6)
    assert one(con, "SELECT count(*) FROM raw._loads") == 3


def test_files_beyond_the_batch_size_go_in_later_transactions(con, root, monkeypatch):
    from orchestration.loading import runner

    for day in (1, 2, 3):
        put(root, f"dispatches/dispatches-2026-10-0{day}.csv",
            "\n".join([DISPATCH_HEADER, dispatch(day)]))  # fmt: skip
    monkeypatch.setattr(runner, "BATCH_BYTES", 1)  # one file per batch
    real_record_load = ledger_module.record_load

    def crash_on_third_file(con_, ctx, *args: object) -> None:
        if ctx.file.endswith("-03.csv"):
            raise RuntimeError("simulated crash in the last batch")
        real_record_load(con_, ctx, *args)

    monkeypatch.setattr(ledger_module, "record_load", crash_on_third_file)
    with pytest.raises(RuntimeError, match="simulated crash"):
        load_source(con, root, "dispatches")
    # the batches before the crash are committed, with their ledger rows
    assert rows(con, "SELECT file FROM raw._loads ORDER BY file") == [
        ("dispatches/dispatches-2026-10-01.csv",),
        ("dispatches/dispatches-2026-10-02.csv",),
    ]
    assert one(con, "SELECT count(*) FROM raw.dispatches") == 2
    monkeypatch.setattr(ledger_module, "record_load", real_record_load)
    result = load_source(con, root, "dispatches")
    assert (result.files_skipped, result.files_loaded, result.rows_loaded) == (2, 1, 1)
    assert one(con, "SELECT count(DISTINCT _loaded_at) FROM raw.dispatches") == 3


@pytest.mark.spark
def test_spark_a_crash_before_the_ledger_rows_never_double_counts(
    spark_loader, con, root, monkeypatch
):
    """Spark has no transaction over several tables: a batch replaces its files'
    partitions, then writes its ledger rows LAST. A crash before them leaves the
    rows written so far (no rollback, unlike DuckDB) and no ledger row, so the next
    run loads the files again and replaces those partitions: nothing counts twice."""
    from orchestration.spark.loading import ledger as spark_ledger

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash before the ledger rows")

    sample_tree(root)
    monkeypatch.setattr(spark_ledger, "record_loads", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        spark_loader.load_source(root, "dispatches")
    assert one(con, "SELECT count(*) FROM raw._loads") == 0
    assert one(con, "SELECT count(*) FROM raw.dispatches") == 2  # written, not rolled back
    monkeypatch.undo()
    result = spark_loader.load_source(root, "dispatches")
    assert (result.files_loaded, result.rows_loaded, result.rows_quarantined) == (1, 2, 1)
    assert one(con, "SELECT count(*) FROM raw.dispatches") == 2  # not 4
    assert one(con, "SELECT count(*) FROM raw._quarantine") == 1  # not 2
    assert one(con, "SELECT count(*) FROM raw._loads") == 1

    # a crash while replacing: the new version's rows are in, the ledger still names
    # the old version, so the next run replaces the file again
    put(root, "dispatches/dispatches-2026-10-01.csv", "\n".join([DISPATCH_HEADER, dispatch(5)]))
    monkeypatch.setattr(spark_ledger, "record_loads", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        spark_loader.load_source(root, "dispatches")
    assert [r[0] for r in rows(con, "SELECT dispatch_id FROM raw.dispatches")] == ["d5"]
    assert one(con, "SELECT count(*) FROM raw._quarantine") == 0
    monkeypatch.undo()
    again = spark_loader.load_source(root, "dispatches")
    assert (again.files_loaded, again.files_replaced) == (1, 1)
    assert [r[0] for r in rows(con, "SELECT dispatch_id FROM raw.dispatches")] == ["d5"]
    assert one(con, "SELECT count(*) FROM raw._loads") == 2


# -- unknown files -------------------------------------------------------------------------


def test_unknown_file_names_are_reported_once(loader, con, root):
    put(root, "dispatches/dispatches-2026-10-01.csv", "\n".join([DISPATCH_HEADER, dispatch(1)]))
    put(root, "dispatches/dispatches_2026-10-02.csv", "x")  # wrong name in a known folder
    put(root, "dispatches/dispatches-2026-13-45.csv", "x")  # not a day
    put(root, "dispatches/old/dispatches-2026-10-01.csv", "x")  # sub-folder
    put(root, "campaigns/campaigns-2026-10-01.parquet", "x")  # format not allowed here
    put(root, "surveys/surveys-2026-10-01.csv", "x")  # unknown folder
    put(root, "README.txt", "x")  # at the root
    put(root, "dispatches/.dispatches-2026-10-03.csv.swp", "x")  # hidden: ignored
    put(root, ".cache/anything", "x")  # hidden folder: ignored

    expected = [
        "README.txt",
        "campaigns/campaigns-2026-10-01.parquet",
        "dispatches/dispatches-2026-13-45.csv",
        "dispatches/dispatches_2026-10-02.csv",
        "dispatches/old/dispatches-2026-10-01.csv",
        "surveys/surveys-2026-10-01.csv",
    ]
    assert loader.record_unknown_files(root) == expected
    assert loader.record_unknown_files(root) == expected
    reported = rows(
        con,
        "SELECT file, source, line_number, reason FROM raw._quarantine ORDER BY file",
    )
    assert reported == [
        ("README.txt", None, None, UNKNOWN_FILE_REASON),
        ("campaigns/campaigns-2026-10-01.parquet", "campaigns", None, UNKNOWN_FILE_REASON),
        ("dispatches/dispatches-2026-13-45.csv", "dispatches", None, UNKNOWN_FILE_REASON),
        ("dispatches/dispatches_2026-10-02.csv", "dispatches", None, UNKNOWN_FILE_REASON),
        ("dispatches/old/dispatches-2026-10-01.csv", "dispatches", None, UNKNOWN_FILE_REASON),
        ("surveys/surveys-2026-10-01.csv", None, None, UNKNOWN_FILE_REASON),
    ]
    # unknown names are never loaded
    assert loader.load_source(root, "dispatches").files_seen == 1
    assert loader.load_source(root, "campaigns").files_seen == 0

    (root / "README.txt").unlink()
    (root / "dispatches" / "dispatches_2026-10-02.csv").rename(
        root / "dispatches" / "dispatches-2026-10-02.csv"
    )
    assert loader.record_unknown_files(root) == [e for e in expected[1:] if "_2026" not in e]
    assert (
        one(con, f"SELECT count(*) FROM raw._quarantine WHERE reason = '{UNKNOWN_FILE_REASON}'")
        == 4
    )
    # the fixed file is now a normal extract (here: quarantined whole, as it lacks a header)
    loader.load_source(root, "dispatches")
    assert quarantine(con, "dispatches/dispatches-2026-10-02.csv")[0][2].startswith("wrong header")


# -- templates -----------------------------------------------------------------------------


def test_templates_jsonl(loader, con, root):
    components = [
        {"type": "BODY", "text": "Hi {{1}}"},
        {
            "type": "BUTTONS",
            "buttons": [{"button_id": "b_yes", "type": "QUICK_REPLY", "text": "Yes"}],
        },
    ]
    good = {
        "account_id": "acc_01",
        "template_name": "autumn_sale",
        "language": "en_US",
        "category": "MARKETING",
        "status": "APPROVED",
        "components": components,
    }
    lines = [
        json.dumps(good),  # 1
        "",  # 2 blank
        json.dumps({**good, "language": None}),  # 3 missing language
        '{"account_id": "acc_01", "template_name": "x"',  # 4 truncated
        "[1, 2]",  # 5 not an object
        "   ",  # 6 whitespace only: blank
        json.dumps({"template_name": "minimal", "account_id": "acc_02", "language": "tr"}),  # 7
    ]
    rel = "templates/templates-2026-10-01.jsonl"
    put(root, rel, "\n".join(lines) + "\n")

    result = loader.load_source(root, "templates")

    assert (result.rows_loaded, result.rows_quarantined) == (2, 3)
    got = rows(
        con,
        "SELECT account_id, template_name, language, category, status, components, _row_number "
        "FROM raw.templates ORDER BY _row_number",
    )
    assert got[0][:5] == ("acc_01", "autumn_sale", "en_US", "MARKETING", "APPROVED")
    assert json.loads(got[0][5]) == components
    assert got[0][6] == 1
    assert got[1] == ("acc_02", "minimal", "tr", None, None, None, 7)
    assert quarantine(con, rel) == [
        (3, lines[2], "missing language"),
        (4, lines[3], "invalid JSON (malformed or truncated line)"),
        (5, lines[4], "not a JSON object"),
    ]


# -- webhooks ------------------------------------------------------------------------------


def test_webhooks_typed_rows_and_malformed_lines(loader, con, root):
    good_status = {
        "id": "wamid.A",
        "status": "delivered",
        "timestamp": "1759309999",
        "recipient_id": "905321234567",
        "conversation": {"id": "c1", "origin": {"type": "marketing"}},
        "pricing": {"billable": True, "pricing_model": "PMP", "category": "marketing"},
    }
    failed = {
        "id": "wamid.B",
        "status": "failed",
        "timestamp": "1759310001",
        "recipient_id": "491701234567",
        "errors": [
            {"code": 131049, "title": "healthy ecosystem", "error_data": {"details": "d"}},
            {"code": "131026", "title": "second"},
        ],
    }
    reply = {
        "from": "905321234567",
        "id": "wamid.IN1",
        "timestamp": "1759310100",
        "type": "text",
        "context": {"from": "15550001111", "id": "wamid.A"},
        "text": {"body": "hello"},
    }
    two_entries = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "W1", "changes": [
                {"value": {"statuses": [{"id": "x1", "status": "sent", "timestamp": "1"}]}},
                {"value": {"statuses": [{"id": "x2", "status": "sent", "timestamp": "2"},
                                        {"id": "x3", "status": "deleted", "timestamp": "3"}]}},
            ]},
            {"id": "W2", "changes": [{"value": {"messages": [dict(reply, id="wamid.IN2")]}}]},
        ],
    }  # fmt: skip
    lines = [
        envelope("dl1", status_body(good_status, failed, messages=[reply])),  # 1
        envelope("dl2", two_entries),  # 2
        "",  # 3 blank
        envelope("dl3", status_body(good_status))[:-25],  # 4 truncated JSON
        envelope("dl4", status_body(dict(good_status, timestamp="2025-10-01T00:00:00Z"))),  # 5
        envelope("dl5", status_body(dict(failed, errors=[{"code": "E42", "title": "x"}]))),  # 6
        envelope("dl6", status_body(good_status, messages=[dict(reply, timestamp="soon")])),  # 7
        envelope("dl7", status_body(good_status), received_at="yesterday"),  # 8
        json.dumps({"delivery_id": "dl8", "received_at": "2026-10-01T09:00:00Z"}),  # 9
        envelope("dl9", {"object": "whatsapp_business_account"}),  # 10: no entry: fine
    ]
    rel = "webhooks/webhooks-2026-10-01.jsonl.gz"
    put(root, rel, "\n".join(lines) + "\n")

    result = loader.load_source(root, "webhooks")

    assert (result.rows_loaded, result.rows_quarantined) == (3, 6)
    assert result.rows_loaded + result.rows_quarantined == 9  # non-blank lines
    assert result.table_rows == {
        "webhook_deliveries": 3,
        "webhook_statuses": 5,
        "webhook_messages": 2,
    }
    assert [(line, reason) for line, _, reason in quarantine(con, rel)] == [
        (4, "invalid JSON (malformed or truncated line)"),
        (5, 'non-numeric status timestamp: "2025-10-01T00:00:00Z"'),
        (6, 'non-numeric error code: "E42"'),
        (7, 'non-numeric message timestamp: "soon"'),
        (8, 'bad received_at: "yesterday"'),
        (9, "missing body"),
    ]
    # every quarantined line's text as delivered, the lines that parsed included (their
    # text is not staged: it is read again from the file)
    assert [text for line, text, _ in quarantine(con, rel)] == [
        lines[n - 1] for n in (4, 5, 6, 7, 8, 9)
    ]
    # none of a quarantined line's rows load
    assert (
        one(
            con,
            "SELECT count(*) FROM raw.webhook_deliveries WHERE delivery_id IN ('dl4','dl5','dl6')",
        )
        == 0
    )
    statuses = {
        r[0]: r[1:]
        for r in rows(
            con,
            "SELECT wamid, delivery_id, received_at, entry_id, status, status_at, error_code, "
            "error_title, error_details, error_count, conversation_id, conversation_origin, "
            "is_billable, pricing_model, pricing_type, pricing_category, _row_number "
            "FROM raw.webhook_statuses",
        )
    }
    assert statuses["wamid.A"] == (
        "dl1", datetime(2026, 10, 1, 9, 14, 3, 512000), "WABA1", "delivered", utc(1759309999),
        None, None, None, 0, "c1", "marketing", True, "PMP", None, "marketing", 1,
    )  # fmt: skip
    assert statuses["wamid.B"][3:9] == (
        "failed", utc(1759310001), 131049, "healthy ecosystem", "d", 2,
    )  # fmt: skip
    assert statuses["wamid.B"][9:15] == (None,) * 6
    assert {k: (v[2], v[3]) for k, v in statuses.items() if k.startswith("x")} == {
        "x1": ("W1", "sent"),
        "x2": ("W1", "sent"),
        "x3": ("W1", "deleted"),  # unknown status values are kept
    }
    messages = rows(
        con,
        "SELECT message_id, entry_id, from_number, message_type, message_at, context_wamid, "
        "text_body, _row_number FROM raw.webhook_messages ORDER BY message_id",
    )
    assert messages == [
        ("wamid.IN1", "WABA1", "905321234567", "text", utc(1759310100), "wamid.A", "hello", 1),
        ("wamid.IN2", "W2", "905321234567", "text", utc(1759310100), "wamid.A", "hello", 2),
    ]
    # the line is not copied: the extract is the archive, the row says where the line is
    file, row_number = one(
        con, "SELECT _file, _row_number FROM raw.webhook_deliveries WHERE delivery_id = 'dl2'"
    )
    assert archived_line(root, file, row_number) == lines[1]
    assert json.loads(archived_line(root, file, row_number))["body"] == two_entries


def test_jsonl_line_endings_and_unreadable_lines(loader, con, root):
    a = envelope("dl1", status_body({"id": "w1", "status": "sent", "timestamp": "1"}))
    b = envelope("dl2", status_body({"id": "w2", "status": "sent", "timestamp": "2"}))
    # CRLF throughout
    put(root, "webhooks/webhooks-2026-10-01.jsonl", f"{a}\r\n\r\n{b}\r\n")
    # LF and CRLF mixed, plus a stray CR inside a line: the exact fallback reader
    put(root, "webhooks/webhooks-2026-10-02.jsonl.gz", f"{a}\n{b}\r\noops\rmore\n{a}")
    # a NUL byte: the reader rejects the line, it is quarantined with the reader's error
    put(root, "webhooks/webhooks-2026-10-03.jsonl", f"{a}\n{b[:-1]}\x00}}\n{a}\n")
    # a truncated gzip: the whole file is quarantined, the others load
    truncated = gzip.compress(("\n".join([a, b] * 50) + "\n").encode())[:-30]
    (root / "webhooks" / "webhooks-2026-10-04.jsonl.gz").write_bytes(truncated)

    result = loader.load_source(root, "webhooks")

    assert (result.files_loaded, result.files_quarantined) == (4, 1)
    ((line, text, reason),) = quarantine(con, "webhooks/webhooks-2026-10-04.jsonl.gz")
    assert line is None and text is None and reason.startswith("cannot read file: ")
    per_file = dict(
        rows(con, "SELECT _file_day, list(_row_number ORDER BY _row_number) FROM "
             "raw.webhook_deliveries GROUP BY 1")
    )  # fmt: skip
    assert per_file == {
        date(2026, 10, 1): [1, 3],
        date(2026, 10, 2): [1, 2, 4],
        date(2026, 10, 3): [1, 3],
    }
    assert quarantine(con, "webhooks/webhooks-2026-10-02.jsonl.gz") == [
        (3, "oops\rmore", "invalid JSON (malformed or truncated line)")
    ]
    ((line, text, reason),) = quarantine(con, "webhooks/webhooks-2026-10-03.jsonl")
    assert line == 2 and "\x00" in text and reason.startswith("unreadable line: ")


def test_many_webhook_files_in_one_call_with_rejected_lines_and_exact_raw_lines(loader, con, root):
    a = envelope("dl1", status_body({"id": "w1", "status": "sent", "timestamp": "1"}))
    spaced = (
        '{ "delivery_id" : "dl2",  "received_at":"2026-10-01T09:00:00+02:00",\t"body" : '
        '{"entry": [{"id": "W", "changes": [{"value": {"statuses": '
        '[{"id": "w2", "status": "read", "timestamp": "2"}]}}]}]} }'
    )
    put(root, "webhooks/webhooks-2026-10-01.jsonl", f"{a}\n{a[:-1]}\x00}}\n{spaced}\n")
    put(root, "webhooks/webhooks-2026-10-02.jsonl.gz", f"\n{spaced}\n[1]\n{a}\n")
    put(root, "webhooks/webhooks-2026-10-03.jsonl", f"{a}\n\n\n{a[:-1]}\x00}}\n{a}\n")
    put(root, "webhooks/webhooks-2026-10-04.jsonl", "")

    result = loader.load_source(root, "webhooks")

    assert (result.files_loaded, result.files_quarantined) == (4, 0)
    assert (result.rows_loaded, result.rows_quarantined) == (6, 3)
    got = rows(
        con,
        "SELECT day(_file_day), _row_number, delivery_id, received_at FROM "
        "raw.webhook_deliveries ORDER BY _file_day, _row_number",
    )
    assert [r[:3] for r in got] == [
        (1, 1, "dl1"), (1, 3, "dl2"), (2, 2, "dl2"), (2, 4, "dl1"), (3, 1, "dl1"), (3, 5, "dl1"),
    ]  # fmt: skip
    assert got[1][3] == datetime(2026, 10, 1, 7, 0)
    # _file and _row_number point at the line as delivered, whitespace and all
    for file, row_number, delivery_id in rows(
        con, "SELECT _file, _row_number, delivery_id FROM raw.webhook_deliveries"
    ):
        assert archived_line(root, file, row_number) == {"dl1": a, "dl2": spaced}[delivery_id]
    assert rows(
        con, "SELECT day(_file_day), _row_number, wamid FROM raw.webhook_statuses ORDER BY 1, 2"
    ) == [(1, 1, "w1"), (1, 3, "w2"), (2, 2, "w2"), (2, 4, "w1"), (3, 1, "w1"), (3, 5, "w1")]
    q = rows(con, "SELECT file, line_number, reason FROM raw._quarantine ORDER BY 1, 2")
    assert [(f.split("-", 1)[1], line, reason.split(":")[0]) for f, line, reason in q] == [
        ("2026-10-01.jsonl", 2, "unreadable line"),
        ("2026-10-02.jsonl.gz", 3, "not a JSON object"),
        ("2026-10-03.jsonl", 4, "unreadable line"),
    ]
    ledger_rows = dict(rows(con, "SELECT file, (rows_loaded, rows_quarantined) FROM raw._loads"))
    assert ledger_rows == {
        "webhooks/webhooks-2026-10-01.jsonl": (2, 1),
        "webhooks/webhooks-2026-10-02.jsonl.gz": (2, 1),
        "webhooks/webhooks-2026-10-03.jsonl": (2, 1),
        "webhooks/webhooks-2026-10-04.jsonl": (0, 0),
    }


def test_quarantined_lines_that_parsed_are_read_again_for_their_exact_text(loader, con, root):
    """Only unparsed lines keep their text while staged; a line that parsed and is then
    quarantined gets its text from a second read of its file, by physical line number
    (reader-rejected lines, blank lines, CRLF, gzip and the exact LF-split fallback)."""
    a = envelope("dl1", status_body({"id": "w1", "status": "sent", "timestamp": "1"}))
    bad_ts = envelope("dl2", status_body({"id": "w2", "status": "sent", "timestamp": "later"}))
    bad_code = envelope(
        "dl3", status_body({"id": "w3", "status": "failed", "timestamp": "3", "errors": [
            {"code": "E1"}]})
    )  # fmt: skip
    bad_at = envelope("dl4", status_body({"id": "w4", "status": "sent", "timestamp": "4"}), "now")
    no_object = envelope("dl5", "not an object")
    no_entry = envelope("dl6", {"object": "whatsapp_business_account"})  # fine: no rows
    put(root, "webhooks/webhooks-2026-10-01.jsonl", f"{a}\n{a[:-1]}\x00}}\n\n{bad_ts}\n{a}\n")
    put(root, "webhooks/webhooks-2026-10-02.jsonl.gz", f"{a}\r\n\r\n{bad_at}\r\n{no_object}\r\n")
    put(root, "webhooks/webhooks-2026-10-03.jsonl", f"{a}\n{bad_ts}\r\noops\rmore\n{bad_code}\n{a}")
    put(root, "webhooks/webhooks-2026-10-04.jsonl", f"{a}\n{no_entry}\n")

    result = loader.load_source(root, "webhooks")

    assert (result.rows_loaded, result.rows_quarantined) == (7, 7)
    assert quarantine(con, "webhooks/webhooks-2026-10-01.jsonl")[1:] == [
        (4, bad_ts, 'non-numeric status timestamp: "later"'),
    ]
    ((line, text, reason),) = quarantine(con, "webhooks/webhooks-2026-10-01.jsonl")[:1]
    assert (line, text) == (2, f"{a[:-1]}\x00}}") and reason.startswith("unreadable line: ")
    assert quarantine(con, "webhooks/webhooks-2026-10-02.jsonl.gz") == [
        (3, bad_at, 'bad received_at: "now"'),
        (4, no_object, "body is not a JSON object"),
    ]
    assert quarantine(con, "webhooks/webhooks-2026-10-03.jsonl") == [
        (2, bad_ts, 'non-numeric status timestamp: "later"'),
        (3, "oops\rmore", "invalid JSON (malformed or truncated line)"),
        (4, bad_code, 'non-numeric error code: "E1"'),
    ]
    loaded = rows(
        con,
        "SELECT day(_file_day), list(_row_number ORDER BY _row_number) "
        "FROM raw.webhook_deliveries GROUP BY 1 ORDER BY 1",
    )
    assert loaded == [(1, [1, 5]), (2, [1]), (3, [1, 5]), (4, [1, 2])]
    assert one(con, "SELECT count(*) FROM raw.webhook_statuses") == 6


def test_a_warehouse_whose_deliveries_kept_body_or_raw_line_keeps_its_rows_and_loads(con, root):
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.webhook_deliveries (delivery_id varchar, received_at timestamp, "
        "body json, _load_id varchar, _file varchar, _file_day date, _row_number bigint, "
        "_loaded_at timestamp, raw_line json)"
    )
    con.execute(
        "INSERT INTO raw.webhook_deliveries (delivery_id, body, raw_line) "
        "VALUES ('old', '{}', '[1]')"
    )
    line = envelope("dl1", status_body({"id": "w1", "status": "sent", "timestamp": "1"}))
    put(root, "webhooks/webhooks-2026-10-01.jsonl", line + "\n")
    assert load_source(con, root, "webhooks").rows_loaded == 1
    assert rows(
        con,
        "SELECT delivery_id, body, raw_line, _row_number FROM raw.webhook_deliveries ORDER BY 1",
    ) == [("dl1", None, None, 1), ("old", "{}", "[1]", None)]


def test_a_new_warehouse_keeps_no_copy_of_the_delivered_lines(loader, con):
    loader.ensure_raw_schema()
    columns = rows(
        con,
        "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'raw' "
        "AND table_name = 'webhook_deliveries' ORDER BY column_index",
    )
    expected = [
        "delivery_id", "received_at", "_load_id", "_file", "_file_day", "_row_number", "_loaded_at",
    ]  # fmt: skip
    if loader.engine == "spark":  # the partition column _file is last (docs/raw_schema.md)
        expected = [c for c in expected if c != "_file"] + ["_file"]
    assert [c for (c,) in columns] == loader.column_order("webhook_deliveries") == expected


def sample_bodies() -> dict[str, dict[str, Any]]:
    """Every real webhook body of the fixtures, by '<file stem>/<name>'."""
    bodies = {}
    for path in sorted(SAMPLES.glob("*.json")):
        data = json.loads(path.read_text())
        if "object" in data:
            bodies[path.stem] = data
        else:
            bodies.update({f"{path.stem}/{name}": body for name, body in data.items()})
    return bodies


def test_real_meta_webhook_payloads(loader, con, root):
    bodies = sample_bodies()
    assert len(bodies) == 10
    put(
        root,
        "webhooks/webhooks-2026-10-01.jsonl",
        "\n".join(envelope(name, body) for name, body in bodies.items()) + "\n",
    )

    result = loader.load_source(root, "webhooks")

    assert (result.rows_loaded, result.rows_quarantined) == (10, 0)
    assert result.table_rows["webhook_statuses"] == 8
    assert result.table_rows["webhook_messages"] == 2
    stored = rows(con, "SELECT delivery_id, _file, _row_number FROM raw.webhook_deliveries")
    assert {k: json.loads(archived_line(root, f, n))["body"] for k, f, n in stored} == bodies

    cols = (
        "entry_id, wamid, status, status_at, recipient_id, recipient_user_id, error_code, "
        "error_title, error_details, error_count, conversation_id, conversation_origin, "
        "is_billable, pricing_model, pricing_type, pricing_category"
    )
    statuses = {
        r[0]: r[1:] for r in rows(con, f"SELECT delivery_id, {cols} FROM raw.webhook_statuses")
    }
    # legacy CBP pricing, conversation with origin
    assert statuses["pywa-message_status/sent"] == (
        "5467539754836534", "wamid.xyzxyz", "sent", utc(1698266945), "972987654321", None,
        None, None, None, 0, "7270432eae37498234f4444b35ffc5", "service",
        True, "CBP", None, "service",
    )  # fmt: skip
    assert statuses["pywa-message_status/read"][2:4] == ("read", utc(1689380458))
    assert statuses["pywa-message_status/with_tracker"][13] == "CBP"
    # failed, no conversation / pricing
    assert statuses["pywa-message_status/failed"] == (
        "5467539754836534", "wamid.xyzxyz", "failed", utc(1689380458), "972987654321", None,
        130472, "User's number is part of an experiment",
        "Failed to send message because this user's phone number is part of an experiment",
        1, None, None, None, None, None, None,
    )  # fmt: skip
    # PMP with pricing.type, business-scoped user id
    assert statuses["whatsapp-api-js-v25-sent"] == (
        "1", "ABGGFlA5Fpa", "sent", utc(1504902988), "16315551181", "US.13491208655302741918",
        None, None, None, 0, "CONVERSATION_ID", "marketing", True, "PMP", "regular", "marketing",
    )  # fmt: skip
    # a status without conversation or pricing
    assert statuses["whatsapp-api-js-v25-read"] == (
        "1", "ABGGFlA5Fpa", "read", utc(1504902988), "16315551181", "US.13491208655302741918",
        None, None, None, 0, None, None, None, None, None, None,
    )  # fmt: skip
    # failed with error_data.details
    media = statuses["whatsapp-business-java-api-mediaUploadError"]
    assert media[1:4] == (
        "wamid.HBgNNTUyNzk5NzAUZBQTI3MzRGRDA3MjgzMDkzNhUCABEYEjNCR2OQA=",
        "failed",
        utc(1677783372),
    )
    assert media[6:10] == (
        131053,
        "Media upload error",
        "Unsupported Video mime type text/html. Please use one of video/3gpp, video/mp4.",
        1,
    )

    messages = {
        r[0]: r[1:]
        for r in rows(
            con,
            "SELECT delivery_id, entry_id, message_id, from_number, message_type, message_at, "
            "context_wamid, button_payload, button_text, interactive_type, "
            "interactive_reply_id, interactive_reply_title, text_body "
            "FROM raw.webhook_messages",
        )
    }
    # template quick reply: type button, button.payload / button.text
    assert messages["pywa-callback_button/quick_reply"] == (
        "5467539754836534", "wamid.xsidjw", "972987654321", "button", utc(1698269027),
        "wamid.xyzxyz==", "callback_data", "title", None, None, None, None,
    )  # fmt: skip
    # interactive button_reply
    assert messages["pywa-callback_button/button"] == (
        "5467539754836534", "wamid.xyzxyz", "972987654321", "interactive", utc(1698266730),
        "wamid.xyzxyz", None, None, "button_reply", "callback_data", "title", None,
    )  # fmt: skip


# -- API -----------------------------------------------------------------------------------


def test_load_result_metadata_and_unknown_source(loader, con, root):
    sample_tree(root)
    result = loader.load_source(root, "webhooks")
    assert isinstance(result, LoadResult)
    meta = result.to_metadata()
    assert meta["source"] == "webhooks"
    assert meta["files_seen"] == meta["files_loaded"] == 1
    assert (meta["rows_loaded"], meta["rows_quarantined"]) == (1, 1)
    assert meta["rows_webhook_statuses"] == 1
    assert meta["bytes_read"] == (root / "webhooks" / "webhooks-2026-10-01.jsonl.gz").stat().st_size
    assert all(isinstance(v, int | float | str) for v in meta.values())
    assert loader.load_source(root / "missing", "clicks").files_seen == 0
    with pytest.raises(ValueError, match="unknown source"):
        loader.load_source(root, "nope")
