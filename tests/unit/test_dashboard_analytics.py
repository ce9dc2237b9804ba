"""The dashboard's latency and attribution sections on a hand-made publication: the
pending survival curve summed over the range (never averaged), the busiest campaign-days'
percentiles as published, each attribution rule beside the headline, and a note when a
publication lacks the marts."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.dashboard.queries import Selection, Serving, snapshot
from orchestration.dashboard.static import export_html
from tests.unit.test_dashboard import ATTRIBUTION_MART, LATENCY_MARTS, make_serving, shown


def _page(tmp_path: Path, selection: Selection, extra_sql: str = LATENCY_MARTS) -> str:
    path = make_serving(tmp_path / "serving.duckdb", extra_sql=extra_sql)
    return shown(export_html(Serving(path), selection, tmp_path / "page.html").read_text())


def test_the_survival_curve_sums_the_counts_over_the_range(tmp_path: Path) -> None:
    page = _page(tmp_path, Selection(campaign="cmp_a"))
    assert "Latency and delivery reports" in page
    assert '<span data-total="judged_1h">400</span>' in page
    assert '<span data-total="without_report_1h">80</span>' in page
    assert "20.0 %" in page and "30.0 %" not in page  # summed, not the days' average
    assert '<td class="num">n/a</td>' in page  # 30 d: no message old enough


def test_percentiles_are_shown_as_published_busiest_day_first(tmp_path: Path) -> None:
    con_path = tmp_path / "serving.duckdb"
    page = _page(tmp_path, Selection(campaign="cmp_a"))
    busiest = page.index("2026-10-02</td>")
    quieter = page.index("2026-10-01</td>")
    assert busiest < quieter
    assert "3.0s / 20s / 1.0m" in page  # delivered p50 / p90 / p99 of 2026-10-02
    assert "4.2s / 35s / 12.0m" in page
    assert "1.0h / 2.0h / 3.0h" in page  # first click on 2026-10-01
    assert "n/a / n/a / n/a" in page  # no click on 2026-10-02
    assert "Stamped before their send (clock skew, counted as 0 s): 2 delivered." in page
    con = duckdb.connect(str(con_path), read_only=True)
    try:
        snap = snapshot(con, Selection(campaign="cmp_a"))
    finally:
        con.close()
    assert snap.latency.summary is not None and snap.latency.summary.campaign_days == 2


def test_a_publication_without_the_latency_marts_says_so(tmp_path: Path) -> None:
    page = _page(tmp_path, Selection(), extra_sql="")
    assert (
        "marts.delivery_survival, marts.message_latency_daily: not available in this publication"
        in page
    )


def test_each_attribution_rule_sums_the_range_beside_the_headline(tmp_path: Path) -> None:
    page = _page(tmp_path, Selection("acc_1"), extra_sql=ATTRIBUTION_MART)
    assert "Attribution sensitivity" in page
    assert '<span data-total="attribution_last_click_campaign">10</span>' in page
    assert '<span data-total="attribution_any_click_7d">12</span>' in page
    assert "+20.0 %" in page  # any click against the headline
    assert "110.75" in page and "120.25" in page  # one account: revenue shown


def test_a_publication_without_the_attribution_mart_says_so(tmp_path: Path) -> None:
    page = _page(tmp_path, Selection(), extra_sql="")
    assert "marts.attribution_sensitivity: not available in this publication" in page
