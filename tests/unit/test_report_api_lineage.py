"""`wa-warehouse report`'s Marketing Messages API vs Cloud API and message lineage sections,
on small hand-built serving files.

The numbers are worked out by hand: each API's rates are recomputed from the counts
summed over the range (never the mean of the days' rates), MM API minus Cloud API is in
percentage points and only where both APIs sent the template, a template or a selection
with one API says so, the lineage's final states come from its ``state`` rows (a
delivered message with a read status counts once as read), and neither section prints a
user id, a phone number or a reply's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.report import (
    WIDTH,
    DateRange,
    Scope,
    api_comparison,
    build_report,
    lineage_summary,
    open_serving,
    resolve_scope,
)
from tests.unit.test_report import insert_rows, report_marts

API_TITLE = "Marketing Messages API vs Cloud API"
LINEAGE_TITLE = "Message lineage"
D1, D2, D3 = date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 3)
AS_OF = datetime(2026, 10, 10)
MM, CLOUD = "marketing_messages_api", "cloud_api"
#: The campaigns' templates (report_marts gives every campaign template 't').
TEMPLATES = {"cmp_1": "autumn_sale", "cmp_2": "cart_reminder", "cmp_3": "fare_drop"}


def _api(account: str, template: str, api: str, day: date, sent: int, delivered: int,
         opens: int, clicked: int) -> dict[str, Any]:  # fmt: skip
    return {"account_id": account, "template_name": template, "api": api, "cohort_date": day,
            "sent": sent, "delivered": delivered, "opens": opens,
            "delivered_clicked": clicked}  # fmt: skip


# acc_a's autumn_sale through both APIs: MM API on two days whose delivery rates are 50 %
# and 100 % (their mean, 75.0 %, is not the range's 350 / 400 = 87.5 %); cart_reminder
# through the Cloud API only; acc_b's fare_drop through the Cloud API only.
API_ROWS = [
    _api("acc_a", "autumn_sale", MM, D1, 100, 50, 10, 5),
    _api("acc_a", "autumn_sale", MM, D2, 300, 300, 150, 30),
    _api("acc_a", "autumn_sale", CLOUD, D2, 200, 180, 90, 9),
    _api("acc_a", "cart_reminder", CLOUD, D1, 50, 40, 20, 4),
    _api("acc_b", "fare_drop", CLOUD, D1, 999, 999, 999, 999),
]


def _event(dispatch: str, seq: int, campaign: str, user: str, day: date, at: datetime,
           kind: str, state: str, *, status: str | None = None, reason: str | None = None,
           detail: str = "", **extra: Any) -> dict[str, Any]:  # fmt: skip
    account = "acc_b" if campaign == "cmp_3" else "acc_a"
    return {"dispatch_id": dispatch, "event_seq": seq, "account_id": account,
            "campaign_id": campaign, "user_id": user, "cohort_date": day, "event_at": at,
            "event_kind": kind, "message_state": state, "status": status, "reason": reason,
            "detail": detail or f"{kind} {status or state}", **extra}  # fmt: skip


def _message(dispatch: str, campaign: str, day: date, state: str, *, read: int = 0,
             reason: str | None = None, user: str = "u1") -> list[dict[str, Any]]:  # fmt: skip
    """A message's lineage rows: the dispatch (or drop), ``read`` read statuses of a
    delivered message, and its state row."""
    sent_at = datetime.combine(day, datetime.min.time()).replace(hour=9)
    kind = "dropped" if state == "dropped" else "dispatched"
    rows = [_event(dispatch, 1, campaign, user, day, sent_at, kind, state,
                   reason=reason if state == "dropped" else None)]  # fmt: skip
    if state == "delivered":
        rows.append(_event(dispatch, 2, campaign, user, day, sent_at, "status", state,
                           status="delivered"))  # fmt: skip
    for i in range(read):
        rows.append(_event(dispatch, 3 + i, campaign, user, day, sent_at, "status", state,
                           status="read"))  # fmt: skip
    rows.append(_event(dispatch, len(rows) + 1, campaign, user, day, AS_OF, "state", state,
                       reason=reason))  # fmt: skip
    return rows


def _lineage_rows() -> list[dict[str, Any]]:
    """cmp_1 on D1 and D2: 10 messages, 3 read (one with two read statuses), 2 delivered
    but not read, 3 undelivered (two reasons), 1 dropped, 1 pending; cmp_3 elsewhere."""
    rows = [
        *_message("d01", "cmp_1", D1, "delivered", read=1),
        *_message("d02", "cmp_1", D1, "delivered", read=2),  # read twice: one message
        *_message("d03", "cmp_1", D2, "delivered", read=1),
        *_message("d04", "cmp_1", D1, "delivered"),
        *_message("d05", "cmp_1", D2, "delivered"),
        *_message("d06", "cmp_1", D1, "undelivered", reason="Recipient-Related Errors"),
        *_message("d07", "cmp_1", D2, "undelivered", reason="Recipient-Related Errors"),
        *_message("d08", "cmp_1", D2, "undelivered", reason="Delivery Report Missing"),
        *_message("d09", "cmp_1", D1, "dropped", reason="Frequency Capped"),
        *_message("d10", "cmp_1", D2, "pending"),
        *_message("d11", "cmp_3", D1, "undelivered", reason="Meta Errors", user="u9"),
    ]
    # a reply whose text the mart should never hold: the report must not print it anyway
    rows.append(_event("d01", 9, "cmp_1", "u1", D1, datetime(2026, 10, 1, 10), "reply",
                       "delivered", response_text="call me on +49 151 2345 6789",
                       detail="replied with free text (text)"))  # fmt: skip
    return rows


def _make_serving(
    path: Path, *, api: bool = True, lineage: bool = True, more: Sequence[dict[str, Any]] = ()
) -> Path:
    """The report's marts, api_comparison and message_lineage (with ``more`` rows)."""
    con = duckdb.connect(str(path))
    try:
        report_marts(con, [
            {"account_id": a, "campaign_id": c, "period_start": d, "targeted": 10, "sent": 10}
            for a, c, d in [("acc_a", "cmp_1", D1), ("acc_a", "cmp_1", D2),
                            ("acc_a", "cmp_2", D1), ("acc_b", "cmp_3", D1)]
        ])  # fmt: skip
        for campaign, template in TEMPLATES.items():
            con.execute(
                "update marts.campaign_performance set template_name = ? where campaign_id = ?",
                [template, campaign],
            )
        if api:
            con.execute(
                "create table marts.api_comparison (account_id varchar, template_name varchar, "
                "api varchar, cohort_date date, sent bigint, delivered bigint, opens bigint, "
                "delivered_clicked bigint)"
            )
            insert_rows(con, "api_comparison", API_ROWS)
        if lineage:
            con.execute(
                "create table marts.message_lineage (dispatch_id varchar, event_seq bigint, "
                "account_id varchar, campaign_id varchar, user_id varchar, cohort_date date, "
                "event_at timestamp, event_kind varchar, message_state varchar, "
                "status varchar, reason varchar, response_text varchar, detail varchar)"
            )
            insert_rows(con, "message_lineage", [*_lineage_rows(), *more])
    finally:
        con.close()
    return path


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Any]:
    """Build a serving file and open it read-only, as the report does."""
    opened: list[duckdb.DuckDBPyConnection] = []

    def make(**marts: Any) -> duckdb.DuckDBPyConnection:
        path = _make_serving(tmp_path / f"serving{len(opened)}.duckdb", **marts)
        opened.append(open_serving(path))
        return opened[-1]

    yield make
    for con in opened:
        con.close()


def _section(text: str, title: str) -> list[str]:
    """The lines of one section, from its title to the next section's title."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next(
        (i for i in range(start + 2, len(lines) - 1) if lines[i + 1].startswith("---")),
        len(lines),
    )
    return lines[start:end]


def _rows(section: list[str]) -> list[list[str]]:
    """The section's table, from its header line, cells split on runs of two or more
    spaces (a note is one cell of prose: the table ends there)."""
    start = next(i for i, line in enumerate(section)
                 if line.startswith(("  account ", "  template ", "  final state ")))  # fmt: skip
    rows = []
    for line in section[start:]:
        cells = re.split(r" {2,}", line.strip())
        if len(cells) < 2:
            break
        rows.append(cells)
    return rows


def _assert_fits(text: str) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not too_wide, too_wide


# --------------------------------------------------------------------------- API comparison


def test_rates_are_recomputed_from_the_summed_counts(serving) -> None:
    con = serving()
    comparison = api_comparison(con, resolve_scope(con, account="acc_a"), DateRange(), top=10)
    assert comparison.templates == 2
    autumn, cart = comparison.rows
    assert (autumn.template_name, list(autumn.apis)) == ("autumn_sale", [MM, CLOUD])
    mm = autumn.apis[MM]
    assert (mm.sent, mm.delivered, mm.opens, mm.delivered_clicked) == (400, 350, 160, 35)
    assert mm.rate("delivery_rate") == 350 / 400  # not (50 % + 100 %) / 2
    assert autumn.difference("delivery_rate") == pytest.approx(350 / 400 - 180 / 200)
    assert (cart.template_name, list(cart.apis), cart.difference("read_rate")) == (
        "cart_reminder", [CLOUD], None,
    )  # fmt: skip
    total = comparison.total.apis
    assert (total[MM].sent, total[CLOUD].sent, total[CLOUD].delivered) == (400, 250, 220)


def test_account_section_per_template_and_api_with_the_difference_in_pp(serving) -> None:
    con = serving()
    text = build_report(con, resolve_scope(con, account="acc_a"), DateRange())
    section = _section(text, API_TITLE)
    assert section[0] == f"{API_TITLE}: 650 sent, 2 templates"
    assert _rows(section)[:7] == [
        ["template", "api", "sent", "delivery", "read", "click"],
        # every template: MM 400 / 350 / 160 / 35, Cloud 250 / 220 / 110 / 13
        ["all templates", "MM API", "400", "87.5 %", "45.7 %", "10.0 %"],
        ["Cloud API", "250", "88.0 %", "50.0 %", "5.9 %"],
        ["MM - Cloud", "-0.5 pp", "-4.3 pp", "+4.1 pp"],
        ["autumn_sale", "MM API", "400", "87.5 %", "45.7 %", "10.0 %"],
        ["Cloud API", "200", "90.0 %", "50.0 %", "5.0 %"],
        ["MM - Cloud", "-2.5 pp", "-4.3 pp", "+5.0 pp"],
    ]
    assert _rows(section)[7] == ["cart_reminder", "Cloud API only", "50", "80.0 %", "50.0 %",
                                 "10.0 %"]  # fmt: skip
    body = " ".join(line.strip() for line in section)
    assert "75.0 %" not in body  # the mean of the days' delivery rates
    assert "Cloud API only: the template was sent through that API alone" in body
    assert "fare_drop" not in body  # another account
    assert "more template" not in body
    _assert_fits(text)


def test_the_top_templates_by_sent_and_how_many_more(serving) -> None:
    con = serving()
    text = build_report(con, resolve_scope(con), DateRange(), top=1)
    section = _section(text, API_TITLE)
    assert section[0] == f"{API_TITLE}: 1,649 sent, 3 templates"
    rows = _rows(section)
    assert rows[0] == ["account", "template", "api", "sent", "delivery", "read", "click"]
    assert rows[1] == ["all templates", "MM API", "400", "87.5 %", "45.7 %", "10.0 %"]
    assert rows[4] == ["acc_b", "fare_drop", "Cloud API only", "999", "100.0 %", "100.0 %",
                       "100.0 %"]  # fmt: skip
    assert not any("autumn_sale" in line for line in section)
    body = " ".join(line.strip() for line in section)
    assert "the 1 template with the most sent (--top 1); … 2 more templates" in body


def test_a_campaign_is_its_template_and_one_api_says_so(serving) -> None:
    con = serving()
    text = build_report(con, resolve_scope(con, campaign="cmp_2"), DateRange())
    section = _section(text, API_TITLE)
    assert section[0] == f"{API_TITLE}: 50 sent, 1 template"
    body = " ".join(line.strip() for line in section)
    assert "per template, not per campaign: template cart_reminder of account acc_a" in body
    assert "only Cloud API messages in this range: there is nothing to compare them with" in body
    # one template: no "all templates" lines, one API: no difference line
    assert _rows(section) == [
        ["template", "api", "sent", "delivery", "read", "click"],
        ["cart_reminder", "Cloud API only", "50", "80.0 %", "50.0 %", "10.0 %"],
    ]


def test_a_date_range_cuts_the_cohort_dates(serving) -> None:
    con = serving()
    text = build_report(con, resolve_scope(con, campaign="cmp_1"), DateRange(D1, D1))
    rows = _rows(_section(text, API_TITLE))
    # D1 alone: only the MM API's 100 / 50 / 10 / 5 of autumn_sale
    assert rows[1] == ["autumn_sale", "MM API only", "100", "50.0 %", "20.0 %", "10.0 %"]
    text = build_report(con, resolve_scope(con, campaign="cmp_1"), DateRange(D3, D3))
    assert "  no sent messages with a known template in this range" in text


# --------------------------------------------------------------------------- message lineage


def test_final_states_count_each_message_once(serving) -> None:
    con = serving()
    summary = lineage_summary(con, Scope("campaign", "cmp_1", "acc_a"), DateRange())
    assert summary.states == {"read": 3, "delivered": 2, "undelivered": 3, "dropped": 1,
                              "pending": 1}  # fmt: skip
    assert summary.reasons == {
        "undelivered": [("Recipient-Related Errors", 2), ("Delivery Report Missing", 1)],
        "dropped": [("Frequency Capped", 1)],
    }
    assert (summary.first, summary.last) == (D1, D2)  # the whole mart's window


def test_lineage_section_breakdown_reasons_window_and_trace_hint(serving) -> None:
    con = serving()
    text = build_report(con, resolve_scope(con, account="acc_a"), DateRange(D1, D2))
    section = _section(text, LINEAGE_TITLE)
    assert section[0] == f"{LINEAGE_TITLE}: final state of 10 messages"
    assert _rows(section)[:9] == [
        ["final state", "messages", "share"],
        ["delivered and read", "3", "30.0 %"],
        ["delivered, not read", "2", "20.0 %"],
        ["undelivered", "3", "30.0 %"],
        ["Recipient-Related Errors", "2", "66.7 %"],  # of the undelivered
        ["Delivery Report Missing", "1", "33.3 %"],
        ["dropped", "1", "10.0 %"],
        ["Frequency Capped", "1", "100.0 %"],
        ["pending", "1", "10.0 %"],
    ]
    body = " ".join(line.strip() for line in section)
    assert "(default 45): 2026-10-01 to 2026-10-02" in body
    assert "older messages are not in it" not in body
    assert section[-1] == (
        "  trace one message: wa-warehouse trace --dispatch ID (one message) or --user ID "
        "(a user's messages)"
    )
    _assert_fits(text)


def test_more_reasons_than_shown_are_summed_in_one_line(serving) -> None:
    # cmp_2: five undelivered messages, one reason each but Reason A (two of them)
    more = [
        row
        for i, reason in enumerate(["A", "A", "B", "C", "D", "E"])
        for row in _message(f"x{i}", "cmp_2", D1, "undelivered", reason=f"Reason {reason}")
    ]
    con = serving(more=more)
    text = build_report(con, resolve_scope(con, campaign="cmp_2"), DateRange())
    assert _rows(_section(text, LINEAGE_TITLE))[1:6] == [
        ["undelivered", "6", "100.0 %"],
        ["Reason A", "2", "33.3 %"],
        ["Reason B", "1", "16.7 %"],  # ties by name
        ["Reason C", "1", "16.7 %"],
        ["2 more reasons", "2", "33.3 %"],
    ]


def test_a_range_before_the_window_says_its_messages_are_not_there(serving) -> None:
    con = serving()
    text = build_report(con, resolve_scope(con, account="acc_a"), DateRange(date(2026, 9, 1), D1))
    section = _section(text, LINEAGE_TITLE)
    assert section[0] == f"{LINEAGE_TITLE}: final state of 5 messages"  # D1's
    body = " ".join(line.strip() for line in section)
    assert "2026-10-01 to 2026-10-02; the range's older messages are not in it" in body


def test_neither_section_prints_a_user_a_phone_number_or_a_reply(serving) -> None:
    con = serving()
    text = build_report(con, resolve_scope(con), DateRange())
    sections = " ".join([*_section(text, API_TITLE), *_section(text, LINEAGE_TITLE)])
    assert "call me" not in text and "replied" not in text
    assert not re.search(r"\+?\d[\d ]{9,}\d", sections)  # no phone-number-like digits
    assert not re.search(r"\bu[19]\b", sections)  # no user id
    assert f"{LINEAGE_TITLE}: final state of 11 messages" in sections


def test_an_older_publication_without_the_marts_has_neither_section(serving) -> None:
    con = serving(api=False, lineage=False)
    text = build_report(con, resolve_scope(con), DateRange())
    assert "Totals" in text
    assert API_TITLE not in text and LINEAGE_TITLE not in text
