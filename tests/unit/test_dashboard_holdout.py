"""The dashboard's holdout uplift section on a hand-made publication: per campaign with a
control group, holdout_uplift summed over the picked range (the report's UpliftRow), the
rates, the uplift and both 95 % intervals computed from the sums, filtered by the same
account, campaign and date pickers as every section; a note when a publication lacks
the mart.

cmp_a's two cohort dates sum to Newcombe (1998)'s worked example, 56/70 treated vs 48/80
holdout converters: uplift +20.0 pp with the hybrid score interval +5.2 to +33.4 pp.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from orchestration.dashboard.queries import Selection, Serving, snapshot
from orchestration.dashboard.static import export_html
from tests.unit.test_dashboard import HOLDOUT_MART, make_serving, shown


def _page(tmp_path: Path, selection: Selection, extra_sql: str = HOLDOUT_MART) -> str:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = make_serving(tmp_path / "serving.duckdb", extra_sql=extra_sql)
    return shown(export_html(Serving(path), selection, tmp_path / "page.html").read_text())


def _holdout_html(page: str) -> str:
    start = page.index("<h2>Holdout uplift</h2>")
    return page[start : page.index("</p>", start)]


def test_the_section_sums_the_range_and_computes_the_intervals(tmp_path: Path) -> None:
    section = _holdout_html(_page(tmp_path, Selection()))
    assert '<table data-table="holdout_uplift">' in section
    assert '<span data-total="holdout_treated_cmp_a">70</span>' in section
    assert '<span data-total="holdout_holdout_cmp_a">80</span>' in section
    assert "80.0 %" in section and "60.0 %" in section
    assert "<b>+20.0 pp</b>" in section and "+5.2 to +33.4 pp" in section
    # revenue per recipient 2.00 vs 1.00, normal approximation -0.15 to +2.15
    assert "2.00" in section and "+1.00" in section and "-0.15 to +2.15" in section
    assert "TRY" in section
    assert "cmp_b" not in section  # withheld nobody
    assert "intention to treat" in section and "Newcombe" in section


def test_the_pickers_filter_it_like_every_section(tmp_path: Path) -> None:
    section = _holdout_html(_page(tmp_path, Selection("acc_1", "cmp_a", date(2026, 10, 1),
                                                      date(2026, 10, 1))))  # fmt: skip
    assert '<span data-total="holdout_treated_cmp_a">30</span>' in section
    assert "66.7 %" in section and "+6.7 pp" in section and "-16.9 to +29.3 pp" in section
    assert "<b>" not in section  # the one-day interval includes 0
    section = _holdout_html(_page(tmp_path / "b", Selection("acc_2")))
    assert "no campaign with a holdout in this range" in section
    path = make_serving(tmp_path / "c.duckdb", extra_sql=HOLDOUT_MART)
    con = duckdb.connect(str(path), read_only=True)
    try:
        snap = snapshot(con, Selection(date_from=date(2026, 10, 2), date_to=date(2026, 10, 2)))
    finally:
        con.close()
    assert [(r.campaign_id, r.treated_recipients, r.holdout_recipients)
            for r in snap.holdout.rows] == [("cmp_a", 40, 50)]  # fmt: skip


def test_a_publication_without_the_mart_says_so(tmp_path: Path) -> None:
    page = _page(tmp_path, Selection(), extra_sql="")
    assert "marts.holdout_uplift: not available in this publication" in page
