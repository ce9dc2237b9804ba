"""The dashboard's cost and ROAS section on a hand-made publication: costs summed per
account currency over the range (never across currencies), ratios from the sums, the share
of known cost, the messages of unknown cost named, and a note when the mart is missing."""

from __future__ import annotations

from pathlib import Path

from orchestration.dashboard.queries import Selection, Serving
from orchestration.dashboard.static import export_html
from tests.unit.test_dashboard import COSTS_MART, make_serving, shown


def _page(tmp_path: Path, selection: Selection, extra_sql: str = COSTS_MART) -> str:
    path = make_serving(tmp_path / "serving.duckdb", extra_sql=extra_sql)
    return shown(export_html(Serving(path), selection, tmp_path / "page.html").read_text())


def test_one_account_sums_its_costs_and_recomputes_the_ratios(tmp_path: Path) -> None:
    page = _page(tmp_path, Selection("acc_1"))
    assert "Cost and ROAS" in page
    assert '<span data-total="cost_TRY">100.00</span>' in page
    assert 'data-total="cost_EUR"' not in page  # another account
    for cell in ("2.50", "95.0 %", "0.5263", "1.2500", "5.0000", "25.0000", "1.00"):
        assert f'<td class="num">{cell}</td>' in page, cell
    assert "4 without pricing in their webhooks, 6 without a rate for their market" in page


def test_currencies_are_shown_side_by_side_never_added(tmp_path: Path) -> None:
    page = _page(tmp_path, Selection())
    assert '<span data-total="cost_TRY">100.00</span>' in page
    assert '<span data-total="cost_EUR">0.40</span>' in page
    assert '<td class="num">12.50</td>' in page  # EUR: 5 revenue / 0.40 cost
    assert "100.40" not in page
    assert "2 without an exchange rate" in page


def test_a_publication_without_the_costs_mart_says_so(tmp_path: Path) -> None:
    page = _page(tmp_path, Selection(), extra_sql="")
    assert "marts.campaign_costs: not available in this publication" in page
