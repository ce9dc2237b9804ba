"""``HOLDOUT`` dispatches (docs/contract/extracts.md): a recipient withheld as the
campaign's control group, never sent, so without wamid and drop_code.

HOLDOUT rows load from csv, csv.gz and parquet like SENT and DROPPED rows (the value
read case-insensitively, stored as delivered); a HOLDOUT row with a wamid or a
drop_code is quarantined whole with a reason per contradicting column, beside the
file's other reasons; the same wamid or drop_code on a SENT or DROPPED row is no
concern of this rule.

Every test runs on both engines (the ``loader`` fixture, see tests/unit/test_loading.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.unit.test_loading import DISPATCH_HEADER as HEADER
from tests.unit.test_loading import dispatch, put, quarantine, rows

WHY = " (a holdout recipient is never sent: no wamid, no drop_code)"


def holdout(i: int, result: str = "HOLDOUT", wamid: str = "", drop_code: str = "") -> str:
    person = f"h{i},acc_01,cmp_1,snd_1,u{i},+9053200000{i:02d}"
    return f"{person},2026-10-01T09:00:00Z,{result},{wamid},{drop_code},,"


def loaded(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return rows(
        con,
        "SELECT dispatch_id, result, wamid, drop_code FROM raw.dispatches ORDER BY dispatch_id",
    )


@pytest.mark.parametrize("ext", ["csv", "csv.gz"])
def test_holdout_rows_load_and_inconsistent_ones_are_quarantined(loader, con, root, ext):
    file = f"dispatches/dispatches-2026-10-01.{ext}"
    lines = [
        dispatch(1),  # line 2: SENT with its wamid
        dispatch(2, code="131049"),  # 3: DROPPED, META_API_ERROR
        holdout(3),  # 4
        holdout(4, result=" holdout "),  # 5: read case-insensitively
        holdout(5, wamid="wamid.5"),  # 6: a holdout is never sent
        holdout(6, drop_code="FREQUENCY_CAPPED"),  # 7: nor dropped
        holdout(7, wamid="wamid.7", drop_code="DUPLICATE"),  # 8: both reasons
        holdout(8, wamid="   "),  # 9: blank is empty
    ]
    put(root, file, HEADER + "\n" + "\n".join(lines) + "\n")

    result = loader.load_source(root, "dispatches")

    assert (result.rows_loaded, result.rows_quarantined) == (5, 3)
    assert loaded(con) == [
        ("d1", "SENT", "wamid.1", None),
        ("d2", "DROPPED", None, "META_API_ERROR"),
        ("h3", "HOLDOUT", None, None),
        ("h4", " holdout ", None, None),
        ("h8", "HOLDOUT", "   ", None),
    ]
    assert quarantine(con, file) == [
        (6, lines[4], f'result HOLDOUT with a wamid: "wamid.5"{WHY}'),
        (7, lines[5], f'result HOLDOUT with a drop_code: "FREQUENCY_CAPPED"{WHY}'),
        (
            8,
            lines[6],
            f'result HOLDOUT with a wamid: "wamid.7"{WHY}; '
            f'result HOLDOUT with a drop_code: "DUPLICATE"{WHY}',
        ),
    ]


def test_the_rule_joins_the_other_reasons_of_a_row(loader, con, root):
    file = "dispatches/dispatches-2026-10-01.csv"
    bad = holdout(1, wamid="wamid.1").replace("2026-10-01T09:00:00Z", "yesterday")
    put(root, file, f"{HEADER},api\n{bad},whatsapp\n{holdout(2)},marketing_messages_api\n")

    result = loader.load_source(root, "dispatches")

    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert loaded(con) == [("h2", "HOLDOUT", None, None)]
    ((line, raw, reason),) = quarantine(con, file)
    assert (line, raw) == (2, f"{bad},whatsapp")
    assert reason == (
        'bad timestamp in attempted_at: "yesterday"; bad value in api: "whatsapp" '
        f"(expected cloud_api or marketing_messages_api, or empty); result HOLDOUT with a wamid: "
        f'"wamid.1"{WHY}'
    )


def test_parquet(loader, con, root):
    path = root / "dispatches" / "dispatches-2026-10-01.parquet"
    path.parent.mkdir(parents=True)
    con.execute(
        f"""
        COPY (
            SELECT 'h' || i AS dispatch_id, 'acc_01' AS account_id, 'cmp_1' AS campaign_id,
                'snd_1' AS send_id, 'u' || i AS user_id, '+9053200000' || i AS phone_number,
                TIMESTAMPTZ '2026-10-01 09:00:00+00' AS attempted_at,
                ['HOLDOUT', 'Holdout', 'HOLDOUT', 'SENT'][i] AS result,
                [NULL, NULL, 'wamid.3', 'wamid.4'][i] AS wamid, NULL AS drop_code,
                NULL::BIGINT AS meta_error_code, NULL AS meta_error_title
            FROM range(1, 5) t(i)
        ) TO '{path}' (FORMAT parquet)
        """
    )

    result = loader.load_source(root, "dispatches")

    assert (result.rows_loaded, result.rows_quarantined) == (3, 1)
    assert loaded(con) == [
        ("h1", "HOLDOUT", None, None),
        ("h2", "Holdout", None, None),
        ("h4", "SENT", "wamid.4", None),
    ]
    ((line, raw, reason),) = quarantine(con, "dispatches/dispatches-2026-10-01.parquet")
    assert line == 3
    assert '"result":"HOLDOUT"' in raw and '"wamid":"wamid.3"' in raw  # the row as JSON
    assert reason == f'result HOLDOUT with a wamid: "wamid.3"{WHY}'


def test_a_redelivered_file_fixing_the_row_replaces_the_quarantined_version(
    loader, con, root: Path
) -> None:
    file = "dispatches/dispatches-2026-10-01.csv"
    put(root, file, f"{HEADER}\n{holdout(1, wamid='wamid.1')}\n")
    first = loader.load_source(root, "dispatches")
    put(root, file, f"{HEADER}\n{holdout(1)}\n")

    second = loader.load_source(root, "dispatches")

    assert (first.rows_loaded, first.rows_quarantined) == (0, 1)
    assert (second.rows_loaded, second.rows_quarantined) == (1, 0)
    assert loaded(con) == [("h1", "HOLDOUT", None, None)]
    assert quarantine(con, file) == []
