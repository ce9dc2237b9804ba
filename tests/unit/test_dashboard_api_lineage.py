"""The dashboard's Marketing Messages API vs Cloud API and message trace sections on a
hand-made publication: each API's rates recomputed from the summed counts (never the mean
of the days'), MM API minus Cloud API in percentage points, a selection or template with
one API saying so, the chart's bars, and the trace of a dispatch or user id through the
trace command's own queries, an unknown id naming the cohort dates covered, no phone
number and no reply text."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from bokeh.document import Document

from orchestration.dashboard import sections
from orchestration.dashboard.layout import DashboardView, api_chart_data
from orchestration.dashboard.queries import Selection, Serving, snapshot, trace
from orchestration.dashboard.server import Session
from orchestration.dashboard.static import export_html
from tests.unit.test_dashboard import API_MART, LINEAGE_MART, make_serving, shown

MARTS = API_MART + LINEAGE_MART
COVERED = (
    "marts.message_lineage covers the messages of cohort dates 2026-10-01 to 2026-10-02 "
    "(the last WA_LINEAGE_DAYS days before the as-of time, 45 by default)"
)


@pytest.fixture
def serving(tmp_path: Path) -> Path:
    return make_serving(tmp_path / "serving.duckdb", extra_sql=MARTS)


def _page(serving: Path, tmp_path: Path, selection: Selection) -> str:
    return shown(export_html(Serving(serving), selection, tmp_path / "page.html").read_text())


def _api_section(page: str) -> str:
    start = page.index("Marketing Messages API vs Cloud API</h2>")
    return page[start : page.index("</p>", page.index("</table>", start)) + 4]


def _cells(section: str) -> list[list[str]]:
    """The tables' body rows, each cell's text (tags dropped)."""
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", section)
        if "<td" in row
    ]


def _total(page: str, name: str) -> str:
    match = re.search(rf'data-total="{name}">([^<]*)<', page)
    assert match, f"no total {name}"
    return match.group(1)


# --------------------------------------------------------------------------- API comparison


def test_rates_from_the_summed_counts_and_the_difference_in_pp(
    serving: Path, tmp_path: Path
) -> None:
    section = _api_section(_page(serving, tmp_path, Selection("acc_1")))
    assert _cells(section) == [
        # every template: MM 400 / 350 / 160 / 35, Cloud 250 / 220 / 110 / 13
        ["all templates", "MM API", "400", "87.5 %", "45.7 %", "10.0 %"],
        ["", "Cloud API", "250", "88.0 %", "50.0 %", "5.9 %"],
        ["", "MM - Cloud", "", "-0.5 pp", "-4.3 pp", "+4.1 pp"],
        ["autumn_sale", "MM API", "400", "87.5 %", "45.7 %", "10.0 %"],
        ["", "Cloud API", "200", "90.0 %", "50.0 %", "5.0 %"],
        ["", "MM - Cloud", "", "-2.5 pp", "-4.3 pp", "+5.0 pp"],
        ["spring_sale", "Cloud API only", "50", "80.0 %", "50.0 %", "10.0 %"],
    ]
    assert "75.0 %" not in section  # the mean of the MM API days' delivery rates
    assert "data-api-only" not in section  # the selection has both APIs
    # the totals the browser test reads
    assert _total(section, "api_sent_marketing_messages_api") == "400"
    assert _total(section, "api_delivery_rate_marketing_messages_api") == "87.5 %"
    assert _total(section, "api_click_rate_cloud_api") == "5.9 %"


def test_the_chart_draws_each_template_and_api(serving: Path) -> None:
    con = duckdb.connect(str(serving), read_only=True)
    try:
        snap = snapshot(con, Selection("acc_1"))
    finally:
        con.close()
    factors, data = api_chart_data(snap)
    assert factors == [("autumn_sale", "MM API"), ("autumn_sale", "Cloud API"),
                       ("spring_sale", "Cloud API")]  # fmt: skip
    assert data["sent"] == [400, 200, 50]
    assert data["delivery_rate"] == [350 / 400, 180 / 200, 40 / 50]
    assert data["click_rate"] == [35 / 350, 9 / 180, 4 / 40]
    view = DashboardView(snap, title="t", source="s", live=False)
    assert view.api_figure.visible and list(view.api_figure.x_range.factors) == factors


def test_a_selection_with_one_api_says_so(serving: Path, tmp_path: Path) -> None:
    page = _page(serving, tmp_path, Selection(campaign="cmp_b"))
    section = _api_section(page)
    assert "per template, not per campaign: template <b>card_offer</b> of account acc_2" in section
    assert '<p class="note" data-api-only="cloud_api">only Cloud API messages' in section
    assert _cells(section) == [["card_offer", "Cloud API only", "20", "50.0 %", "50.0 %",
                                "10.0 %"]]  # fmt: skip
    # one template: its rows are the totals
    assert _total(section, "api_sent_cloud_api") == "20"
    assert _total(section, "api_read_rate_cloud_api") == "50.0 %"


def test_a_publication_without_the_marts_says_so(tmp_path: Path) -> None:
    path = make_serving(tmp_path / "old.duckdb")  # neither api_comparison nor message_lineage
    con = duckdb.connect(str(path), read_only=True)
    try:
        snap = snapshot(con, Selection())
    finally:
        con.close()
    assert "marts.api_comparison: not available in this publication" in (
        sections.api_comparison(snap)
    )
    assert api_chart_data(snap)[0] == []
    view = DashboardView(snap, title="t", source="s", live=True)
    assert not view.api_figure.visible
    assert "marts.message_lineage: not available in this publication" in view.trace_intro.text
    assert view.trace_input is not None and not view.trace_input.visible
    html = _trace_html(path, "d1")
    assert "the published marts have no marts.message_lineage" in html


# --------------------------------------------------------------------------- message trace


def _trace_html(serving: Path, value: str) -> str:
    con = duckdb.connect(str(serving), read_only=True)
    try:
        return sections.trace_result(trace(con, value))
    finally:
        con.close()


def test_a_dispatch_shows_its_lineage_rows_and_reason(serving: Path) -> None:
    html = _trace_html(serving, " d2 ")  # the id as typed, spaces and all
    assert '<h3 data-trace-dispatch="d2">message d2</h3>' in html
    assert "account acc_1, campaign cmp_a, user u1, cohort date 2026-10-02</p>" in html
    assert _cells(html) == [
        ["1", "2026-10-02 08:00:00", "dropped", "dropped",
         "dropped before WhatsApp: Frequency Capped (drop code FREQUENCY_CAPPED)"],
        ["2", "2026-10-10 00:00:00", "state", "dropped",
         "dropped: Frequency Capped (drop code FREQUENCY_CAPPED; never handed over to WhatsApp)"],
    ]  # fmt: skip
    assert "reason: <b>Frequency Capped</b>; possible solution: Space campaigns out" in html


def test_a_user_shows_each_message_newest_first_without_reply_text(serving: Path) -> None:
    html = _trace_html(serving, "u1")
    assert 'data-trace-user="u1">user <b>u1</b>: 2 messages</p>' in html
    assert html.index('data-trace-dispatch="d2"') < html.index('data-trace-dispatch="d1"')
    assert "replied with free text (text)" in html  # the reply's detail, not its text
    assert "call me" not in html
    cells = [cell for row in _cells(html) for cell in row]
    assert len(cells) == 6 * 5 and not [c for c in cells if re.search(r"\d{3} ?\d{4}", c)]


def test_an_unknown_id_names_the_cohort_dates_covered(serving: Path) -> None:
    html = _trace_html(serving, "d9")
    assert html == (
        '<div class="unavailable" data-trace-error="true">unknown dispatch or user &#x27;d9&#x27;'
        f": {COVERED}; closest known: d1, d2, d3</div>"
    )
    assert sections.trace_result(trace(duckdb.connect(), "")) == ""  # nothing typed


def test_the_live_page_looks_ids_up_the_export_cannot(serving: Path, tmp_path: Path) -> None:
    session = Session(Document(), Serving(serving), Selection())
    view = session.view
    assert view.trace_input is not None and view.trace_input.visible
    session._trace("value", "", "d3")
    assert '<h3 data-trace-dispatch="d3">' in view.trace_result.text
    assert "delivered and read: delivered at 2026-10-02 09:30:00" in view.trace_result.text
    session._trace("value", "d3", "nobody")
    assert f"unknown dispatch or user &#x27;nobody&#x27;: {COVERED}" in view.trace_result.text
    session._trace("value", "nobody", "  ")
    assert view.trace_result.text == ""
    session.refresh()  # a change of the pickers keeps the lookup's place
    assert "Type a dispatch id" in view.trace_intro.text
    page = _page(serving, tmp_path, Selection())
    assert "trace_input" not in page
    assert "Looking a message up needs the live dashboard (make dashboard)." in page
    assert COVERED in page
