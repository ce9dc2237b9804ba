"""holdout_uplift and holdout_uplift_summary on the shared pipeline run: the generator's
ground truth per (account, campaign, cohort date), an independent recomputation from
the warehouse's staging tables in Python, the summary against orchestration.stats, the
report's and dashboard's figures, and holdout rows counted in no other mart
(docs/contract/marts.md, "Holdout uplift")."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import duckdb
import pytest

from orchestration.dashboard.queries import Selection, snapshot
from orchestration.report import DateRange, Scope, build_report, holdout_rows
from orchestration.stats import mean_difference, newcombe_difference
from tests.conftest import SEED_CONFIGS, PipelineRun, midnight_after

pytestmark = pytest.mark.slow

AS_OF = midnight_after(SEED_CONFIGS["seed7-csv"]["end_date"]).replace(tzinfo=None)
KEYS = ["account_id", "campaign_id", "cohort_date"]
GROUPS = ("treated", "holdout")
COUNTS = [f"{g}_{c}" for g in GROUPS for c in ("recipients", "converters")]
MONEY = [f"{g}_revenue" for g in GROUPS]
SQUARES = [f"{g}_revenue_sum_squares" for g in GROUPS]


def _mart(run: PipelineRun) -> dict[tuple, dict]:
    columns = [*KEYS, *COUNTS, *MONEY, *SQUARES, "currency"]
    rows = run.query(f"select {', '.join(columns)} from marts.holdout_uplift")
    out = {}
    for row in rows:
        record = dict(zip(columns, row, strict=True))
        out[(record["account_id"], record["campaign_id"], record["cohort_date"].isoformat())] = (
            record
        )
    return out


def _assert_same(actual: dict[tuple, dict], expected: dict[tuple, dict]) -> None:
    assert actual.keys() == expected.keys()
    for key, want in expected.items():
        got = actual[key]
        assert {c: got[c] for c in COUNTS} == {c: want[c] for c in COUNTS}, key
        for c in MONEY:
            assert Decimal(str(got[c])).quantize(Decimal("0.01")) == Decimal(str(want[c])).quantize(
                Decimal("0.01")
            ), (key, c)
        for c in SQUARES:
            assert float(got[c]) == pytest.approx(float(want[c]), rel=1e-9, abs=0.01), (key, c)


def test_rows_equal_the_ground_truth(pipeline_run: PipelineRun) -> None:
    expected = {
        (r["account_id"], r["campaign_id"], r["cohort_date"]): r
        for r in pipeline_run.truth["holdout_uplift"]
    }
    assert len(expected) > 20
    _assert_same(_mart(pipeline_run), expected)


def test_rows_equal_a_recomputation_from_staging(pipeline_run: PipelineRun) -> None:
    """The rule rewritten from the contract over the staging tables: each dispatch of a
    campaign with a HOLDOUT dispatch, its cohort date in the account's time zone, and the
    goal events of the same account and user in [attempted_at, attempted_at + window]."""
    dispatches = pipeline_run.query(
        """
        select d.dispatch_id, d.account_id, d.campaign_id, d.user_id, d.attempted_at,
               d.result, a.timezone, c.goal_event, c.conversion_window_hours,
               a.account_currency
        from staging.stg_raw__dispatches d
        left join staging.stg_raw__accounts a using (account_id)
        left join staging.stg_raw__campaigns c using (campaign_id)
        where d.attempted_at <= $as_of
        """,
        {"as_of": AS_OF},
    )
    events = defaultdict(list)
    for account, user, name, at, revenue, currency, account_currency in pipeline_run.query(
        """
        select e.account_id, e.user_id, e.event_name, e.occurred_at, e.revenue, e.currency,
               a.account_currency
        from staging.stg_raw__conversions e left join staging.stg_raw__accounts a
            using (account_id)
        where e.occurred_at <= $as_of
        """,
        {"as_of": AS_OF},
    ):
        counted = (revenue or Decimal(0)) if currency == account_currency else Decimal(0)
        events[(account, user, name)].append((at, counted))
    held = {campaign for _, _, campaign, _, _, result, *_ in dispatches if result == "HOLDOUT"}
    expected: dict[tuple, dict] = {}
    for _, account, campaign, user, at, result, tz, goal, hours, currency in dispatches:
        if campaign not in held:
            continue
        day = at.replace(tzinfo=UTC).astimezone(ZoneInfo(tz or "UTC")).date().isoformat()
        row = expected.setdefault(
            (account, campaign, day),
            {c: 0 for c in [*COUNTS, *SQUARES]} | {c: Decimal(0) for c in MONEY},
        )
        row["currency"] = currency
        group = "holdout" if result == "HOLDOUT" else "treated"
        matched = [
            revenue
            for occurred, revenue in events[(account, user, goal)]
            if hours is not None and at <= occurred <= at + timedelta(hours=hours)
        ]
        row[f"{group}_recipients"] += 1
        row[f"{group}_converters"] += bool(matched)
        row[f"{group}_revenue"] += sum(matched, Decimal(0))
        row[f"{group}_revenue_sum_squares"] += float(sum(matched, Decimal(0))) ** 2
    mart = _mart(pipeline_run)
    _assert_same(mart, expected)
    assert {k: r["currency"] for k, r in mart.items()} == {
        k: r["currency"] for k, r in expected.items()
    }


def test_the_summary_is_the_sums_with_newcombe_and_normal_intervals(
    pipeline_run: PipelineRun,
) -> None:
    rows = pipeline_run.query(
        """
        select s.campaign_id, s.treated_recipients, s.treated_converters, s.holdout_recipients,
            s.holdout_converters, s.conversion_uplift, s.conversion_uplift_ci_lower,
            s.conversion_uplift_ci_upper, s.revenue_per_recipient_uplift,
            s.revenue_per_recipient_uplift_ci_lower, s.revenue_per_recipient_uplift_ci_upper,
            sum(u.treated_revenue), sum(u.treated_revenue_sum_squares),
            sum(u.holdout_revenue), sum(u.holdout_revenue_sum_squares),
            sum(u.treated_recipients), sum(u.holdout_recipients)
        from marts.holdout_uplift_summary s join marts.holdout_uplift u using (campaign_id)
        group by all
        """
    )
    assert rows
    for (campaign, tn, tx, hn, hx, uplift, low, high, r_uplift, r_low, r_high,
         t_rev, t_sq, h_rev, h_sq, t_sum, h_sum) in rows:  # fmt: skip
        assert (tn, hn) == (t_sum, h_sum), campaign
        interval = newcombe_difference(tx, tn, hx, hn)
        assert uplift == pytest.approx(interval.estimate, abs=1e-12), campaign
        assert low == pytest.approx(interval.low, abs=5e-7), campaign
        assert high == pytest.approx(interval.high, abs=5e-7), campaign
        revenue = mean_difference(float(t_rev), float(t_sq), tn, float(h_rev), float(h_sq), hn)
        assert r_uplift == pytest.approx(revenue.estimate, abs=1e-9), campaign
        if revenue.low is None:
            assert r_low is None and r_high is None, campaign
        else:
            assert r_low == pytest.approx(revenue.low, abs=5e-5), campaign
            assert r_high == pytest.approx(revenue.high, abs=5e-5), campaign


def test_the_sample_shows_a_positive_uplift(pipeline_run: PipelineRun) -> None:
    ((campaigns, tn, tx, hn, hx),) = pipeline_run.query(
        "select count(*), sum(treated_recipients), sum(treated_converters), "
        "sum(holdout_recipients), sum(holdout_converters) from marts.holdout_uplift_summary"
    )
    (all_campaigns,) = pipeline_run.query("select count(*) from marts.campaign_performance")[0]
    assert 0 < campaigns < all_campaigns
    assert 0.07 < hn / (tn + hn) < 0.13  # about 10 % withheld
    assert tx / tn > hx / hn > 0
    assert newcombe_difference(tx, tn, hx, hn).estimate > 0


def test_holdout_rows_are_in_no_other_mart(pipeline_run: PipelineRun) -> None:
    as_of = {"as_of": AS_OF}
    (targeted,) = pipeline_run.query(
        "select count(*) from staging.stg_raw__dispatches "
        "where result <> 'HOLDOUT' and attempted_at <= $as_of",
        as_of,
    )[0]
    (holdouts,) = pipeline_run.query(
        "select count(*) from staging.stg_raw__dispatches where result = 'HOLDOUT'"
    )[0]
    assert holdouts > 0
    assert pipeline_run.query("select sum(targeted) from marts.campaign_performance")[0][0] == (
        targeted
    )
    truth_targeted = sum(r["targeted"] for r in pipeline_run.truth["campaigns"])
    assert targeted == truth_targeted
    leaked = pipeline_run.query(
        """
        select count(*) from marts.message_lineage
        where dispatch_id in (
            select dispatch_id from staging.stg_raw__dispatches where result = 'HOLDOUT')
        """
    )[0][0]
    assert leaked == 0
    reasons = [r for (r,) in pipeline_run.query("select reason from raw._quarantine")]
    assert any(r.startswith("result HOLDOUT with a wamid: ") for r in reasons)


def test_the_report_and_the_dashboard_show_the_summary_over_all_dates(
    pipeline_run: PipelineRun,
) -> None:
    summary = {
        campaign: (tn, hn, low, high)
        for campaign, tn, hn, low, high in pipeline_run.query(
            "select campaign_id, treated_recipients, holdout_recipients, "
            "conversion_uplift_ci_lower, conversion_uplift_ci_upper "
            "from marts.holdout_uplift_summary"
        )
    }
    con = duckdb.connect(str(pipeline_run.serving), read_only=True)
    try:
        rows = holdout_rows(con, Scope("all"), DateRange())
        snap = snapshot(con, Selection())
        text = build_report(con, Scope("all"), DateRange())
    finally:
        con.close()
    assert {r.campaign_id for r in rows} == set(summary)
    assert [r.campaign_id for r in snap.holdout.rows] == [r.campaign_id for r in rows]
    for row in rows:
        tn, hn, low, high = summary[row.campaign_id]
        assert (row.treated_recipients, row.holdout_recipients) == (tn, hn)
        interval = row.conversion_uplift
        assert math.isclose(interval.low, low, abs_tol=5e-7)
        assert math.isclose(interval.high, high, abs_tol=5e-7)
    section = text[text.index("Holdout uplift") :]
    for campaign in summary:
        assert campaign in section
