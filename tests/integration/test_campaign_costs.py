"""marts.campaign_costs on the shared pipeline run: the generator's ground truth per
campaign day, the identities with campaign_performance_daily and data_quality, and the
ratios recomputed from the published counts."""

from __future__ import annotations

import pytest

from tests.conftest import PipelineRun

pytestmark = pytest.mark.slow

KEYS = ["account_id", "campaign_id", "cohort_date"]
COUNTS = [
    "billable_messages",
    "free_messages",
    "messages_without_pricing",
    "messages_without_rate",
    "messages_without_fx",
    "costed_messages",
]
COSTS = ["cost_usd", "cost"]
#: costs are stored to the micro-unit per (market, category) group of a campaign day, the
#: ground truth rounds the day's sum once: a day of many groups may differ in the 6th decimal
COST_TOLERANCE = 1e-4


def _mart(run: PipelineRun) -> dict[tuple, tuple]:
    rows = run.query(
        f"select {', '.join(KEYS)}, {', '.join(COUNTS + COSTS)} from marts.campaign_costs "
        "where delivered > 0"
    )
    return {(a, c, d.isoformat()): tuple(values) for a, c, d, *values in rows}


def test_rows_equal_the_ground_truth(pipeline_run: PipelineRun) -> None:
    expected = {
        tuple(r[k] for k in KEYS): tuple(r[c] for c in COUNTS + COSTS)
        for r in pipeline_run.truth["campaign_costs"]
    }
    actual = _mart(pipeline_run)
    assert set(actual) == set(expected)
    count_mismatches = {k: (actual[k], v) for k, v in expected.items() if actual[k][:6] != v[:6]}
    assert not count_mismatches, next(iter(count_mismatches.items()))
    for key, values in expected.items():
        assert [float(x) for x in actual[key][6:]] == pytest.approx(
            list(values[6:]), abs=COST_TOLERANCE
        ), key


def test_the_sample_exercises_every_kind_of_cost(pipeline_run: PipelineRun) -> None:
    (totals,) = pipeline_run.query(
        "select " + ", ".join(f"sum({c})" for c in COUNTS + COSTS) + " from marts.campaign_costs"
    )
    by_name = dict(zip(COUNTS + COSTS, totals, strict=True))
    for column in ("billable_messages", "free_messages", "messages_without_pricing"):
        assert by_name[column] > 0, column
    assert by_name["messages_without_rate"] > 0  # markets the rate seed has no row for
    assert by_name["cost"] > 0 and by_name["cost_usd"] > 0


def test_counts_equal_campaign_performance_daily(pipeline_run: PipelineRun) -> None:
    columns = "delivered, opens, clicks, conversions, revenue"
    costs = pipeline_run.query(
        f"select account_id, campaign_id, cohort_date, {columns} from marts.campaign_costs "
        "order by all"
    )
    daily = pipeline_run.query(
        f"select account_id, campaign_id, period_start, {columns} "
        "from marts.campaign_performance_daily order by all"
    )
    assert costs == daily


def test_delivered_messages_split_into_costed_and_unknown(pipeline_run: PipelineRun) -> None:
    rows = pipeline_run.query(
        "select delivered, costed_messages, messages_without_pricing, messages_without_rate, "
        "messages_without_fx, billable_messages, free_messages from marts.campaign_costs"
    )
    for delivered, costed, no_pricing, no_rate, no_fx, billable, free in rows:
        assert costed + no_pricing + no_rate + no_fx == delivered
        assert billable + free == costed + no_fx


def test_ratios_are_recomputed_from_the_row(pipeline_run: PipelineRun) -> None:
    rows = pipeline_run.query(
        "select cost, costed_messages, delivered, opens, clicks, conversions, revenue, "
        "cost_coverage, cost_per_delivered, cost_per_read, cost_per_click, "
        "cost_per_conversion, roas from marts.campaign_costs"
    )

    def ratio(numerator: float, denominator: float) -> float | None:
        return numerator / denominator if denominator else None

    for cost, costed, delivered, opens, clicks, conversions, revenue, *ratios in rows:
        cost, revenue = float(cost), float(revenue)
        expected = [
            ratio(costed, delivered),
            ratio(cost, costed),
            ratio(cost, opens),
            ratio(cost, clicks),
            ratio(cost, conversions),
            ratio(revenue, cost),
        ]
        assert [r is None for r in ratios] == [e is None for e in expected]
        assert [r for r in ratios if r is not None] == pytest.approx(
            [e for e in expected if e is not None], rel=1e-12
        )


def test_data_quality_counts_the_unpriced_messages(pipeline_run: PipelineRun) -> None:
    ((unknown,),) = pipeline_run.query(
        "select sum(messages_without_pricing + messages_without_rate + messages_without_fx) "
        "from marts.campaign_costs"
    )
    ((rows, details),) = pipeline_run.query(
        "select rows, details from marts.data_quality where check_name = 'unpriced_messages'"
    )
    assert rows == unknown > 0
    markets = {
        market
        for (market,) in pipeline_run.query(
            "select distinct coalesce(recipient_country, 'unknown market') "
            "from intermediate.int_message_costs "
            "where cost_status = 'no rate'"
        )
    }
    assert markets and all(f"{market} " in details for market in markets)
