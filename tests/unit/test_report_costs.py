"""`wa-warehouse report`'s cost and ROAS section, on small hand-built serving files.

The integration suite (tests/integration/test_campaign_costs.py) checks campaign_costs
against the ground truth; these tests pin how the report sums it: per account currency
(never adding two currencies), ratios recomputed from the range's sums, the share of
delivered messages whose cost is known, and the messages of unknown cost named.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.report import (
    WIDTH,
    DateRange,
    build_report,
    cost_rows,
    open_serving,
    resolve_scope,
)
from tests.unit.test_report import insert_rows, report_marts

TITLE = "Cost and ROAS"
D1, D2, D3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)
COUNTS = ("delivered", "opens", "clicks", "conversions", "costed_messages",
          "messages_without_pricing", "messages_without_rate", "messages_without_fx")  # fmt: skip


def _costs(account: str, campaign: str, day: date, currency: str, counts: tuple[int, ...],
           revenue: str, cost_usd: str, cost: str) -> dict[str, Any]:  # fmt: skip
    return {"account_id": account, "campaign_id": campaign, "cohort_date": day,
            "currency": currency, **dict(zip(COUNTS, counts, strict=True)),
            "revenue": Decimal(revenue), "cost_usd": Decimal(cost_usd),
            "cost": Decimal(cost)}  # fmt: skip


ROWS = [
    _costs("acc_a", "cmp_1", D1, "TRY", (100, 50, 10, 2, 90, 4, 6, 0), "40", "1.00", "40"),
    _costs("acc_a", "cmp_1", D2, "TRY", (100, 30, 10, 2, 100, 0, 0, 0), "60", "1.50", "60"),
    _costs("acc_a", "cmp_2", D1, "TRY", (0, 0, 0, 0, 0, 0, 0, 0), "0", "0", "0"),
    _costs("acc_b", "cmp_3", D1, "EUR", (10, 5, 1, 1, 8, 0, 0, 2), "5", "0.50", "0.40"),
]


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Any]:
    """A serving file with the report's marts, campaign_costs only when given; read-only."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def make(costs: list[dict[str, Any]] | None) -> duckdb.DuckDBPyConnection:
        path = tmp_path / f"serving{len(opened)}.duckdb"
        con = duckdb.connect(str(path))
        report_marts(con, [
            {"account_id": r["account_id"], "campaign_id": r["campaign_id"],
             "period_start": r["cohort_date"], "targeted": r["delivered"],
             "sent": r["delivered"], "delivered": r["delivered"]}
            for r in ROWS
        ])  # fmt: skip
        if costs is not None:
            numbers = ", ".join(f"{c} bigint" for c in COUNTS)
            con.execute(
                "create table marts.campaign_costs (account_id varchar, campaign_id varchar, "
                f"cohort_date date, currency varchar, {numbers}, revenue decimal(18, 4), "
                "cost_usd decimal(18, 6), cost decimal(18, 6))"
            )
            insert_rows(con, "campaign_costs", costs)
        con.close()
        opened.append(open_serving(path))
        return opened[-1]

    yield make
    for con in opened:
        con.close()


def _section(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index(TITLE)
    end = next((i for i in range(start + 2, len(lines)) if lines[i] == ""), len(lines))
    return lines[start:end]


def _report(con: duckdb.DuckDBPyConnection, account: str | None, start: date, end: date) -> str:
    scope = resolve_scope(con, campaign=None, account=account)
    return build_report(con, scope, DateRange(start, end))


def _row(section: list[str], currency: str) -> list[str]:
    (line,) = (line for line in section if line.split()[:1] == [currency])
    return line.split()


def test_an_account_sums_its_range_and_recomputes_every_ratio(serving: Any) -> None:
    section = _section(_report(serving(ROWS), "acc_a", D1, D2))
    assert section[2].split() == ["currency", "cost", "USD", "known", "/delivered", "/read",
                                  "/click", "/conversion", "ROAS"]  # fmt: skip
    # cost 100 TRY on 190 costed of 200 delivered, 80 reads, 20 clicks, 4 conversions, 100 revenue
    assert _row(section, "TRY") == ["TRY", "100.00", "2.50", "95.0", "%", "0.5263", "1.2500",
                                    "5.0000", "25.0000", "1.00"]  # fmt: skip
    text = " ".join(" ".join(section).split())  # wrapped lines as one text
    assert "4 without pricing in their webhooks, 6 without a rate for their market" in text
    assert "exchange rate (" not in text  # none without one in this account
    assert all(len(line) <= WIDTH for line in section)


def test_currencies_are_never_added_together(serving: Any) -> None:
    con = serving(ROWS)
    rows = cost_rows(con, resolve_scope(con, campaign=None, account=None), DateRange(D1, D2))
    assert [(r.currency, r.cost, r.cost_usd) for r in rows] == [
        ("EUR", Decimal("0.4"), Decimal("0.5")),
        ("TRY", Decimal("100"), Decimal("2.5")),
    ]
    section = _section(_report(con, None, D1, D2))
    assert _row(section, "EUR") == ["EUR", "0.40", "0.50", "80.0", "%", "0.0500", "0.0800",
                                    "0.4000", "0.4000", "12.50"]  # fmt: skip
    assert "2 without an exchange rate" in " ".join(" ".join(section).split())


def test_a_range_without_delivered_messages_says_so(serving: Any) -> None:
    section = _section(_report(serving(ROWS), "acc_a", D3, D3))
    assert section[2:] == ["  no delivered messages in this range"]


def test_a_day_with_no_cost_shows_ratios_as_not_available(serving: Any) -> None:
    free = [_costs("acc_a", "cmp_1", D1, "TRY", (5, 0, 0, 0, 5, 0, 0, 0), "0", "0", "0")]
    section = _section(_report(serving(free), "acc_a", D1, D1))
    assert _row(section, "TRY") == ["TRY", "0.00", "0.00", "100.0", "%", "0.0000", "n/a",
                                    "n/a", "n/a", "n/a"]  # fmt: skip
    assert not any("unknown cost" in line for line in section)


def test_an_older_publication_without_the_mart_has_no_section(serving: Any) -> None:
    assert TITLE not in _report(serving(None), "acc_a", D1, D2).splitlines()
