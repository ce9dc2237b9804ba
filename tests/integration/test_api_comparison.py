"""marts.api_comparison on the shared pipeline run: the generator's ground truth per
(account, template, api, cohort date), and the identity with campaign_performance_daily."""

from __future__ import annotations

import pytest

from tests.conftest import PipelineRun

pytestmark = pytest.mark.slow

KEYS = ["account_id", "template_name", "api", "cohort_date"]
COUNTS = ["sent", "delivered", "opens", "delivered_clicked"]


def _mart(run: PipelineRun) -> dict[tuple, tuple]:
    rows = run.query(f"select {', '.join(KEYS)}, {', '.join(COUNTS)} from marts.api_comparison")
    return {(a, t, api, d.isoformat()): tuple(counts) for a, t, api, d, *counts in rows}


def test_rows_equal_the_ground_truth(pipeline_run: PipelineRun) -> None:
    expected = {
        tuple(r[k] for k in KEYS): tuple(r[c] for c in COUNTS)
        for r in pipeline_run.truth["api_comparison"]
    }
    actual = _mart(pipeline_run)
    assert set(actual) == set(expected)
    mismatches = {k: (actual[k], expected[k]) for k in expected if actual[k] != expected[k]}
    assert not mismatches, f"{len(mismatches)} rows differ, e.g. {next(iter(mismatches.items()))}"


def test_per_account_template_and_api_totals_equal_the_ground_truth(
    pipeline_run: PipelineRun,
) -> None:
    expected: dict[tuple, list[int]] = {}
    for r in pipeline_run.truth["api_comparison"]:
        totals = expected.setdefault((r["account_id"], r["template_name"], r["api"]), [0] * 4)
        for i, c in enumerate(COUNTS):
            totals[i] += r[c]
    rows = pipeline_run.query(
        "select account_id, template_name, api, "
        + ", ".join(f"sum({c})::bigint" for c in COUNTS)
        + " from marts.api_comparison group by all"
    )
    assert {(a, t, api): list(counts) for a, t, api, *counts in rows} == expected


def test_both_apis_are_present_and_differ_modestly(pipeline_run: PipelineRun) -> None:
    rows = dict(
        (api, (sent, delivered, opens))
        for api, sent, delivered, opens in pipeline_run.query(
            "select api, sum(sent), sum(delivered), sum(opens) from marts.api_comparison "
            "group by api"
        )
    )
    assert set(rows) == {"cloud_api", "marketing_messages_api"}
    for sent, delivered, opens in rows.values():
        assert 0 < opens <= delivered <= sent
    assert rows["cloud_api"][0] > rows["marketing_messages_api"][0]  # most sends: Cloud API


def test_summed_over_apis_equals_campaign_performance_daily(pipeline_run: PipelineRun) -> None:
    """Per (account, template, cohort date): the mart's counts summed over api equal the
    template's campaigns' counts in campaign_performance_daily (period_start is the
    cohort date; joined through campaign_performance, which names each campaign's
    template)."""
    mismatches = pipeline_run.query(
        """
        with by_api as (
            select account_id, template_name, cohort_date,
                   sum(sent) as sent, sum(delivered) as delivered, sum(opens) as opens
            from marts.api_comparison
            group by all
        ),
        by_campaign as (
            select daily.account_id, campaigns.template_name, daily.period_start as cohort_date,
                   sum(daily.sent) as sent, sum(daily.delivered) as delivered,
                   sum(daily.opens) as opens
            from marts.campaign_performance_daily as daily
            inner join marts.campaign_performance as campaigns
                on daily.campaign_id = campaigns.campaign_id
            where campaigns.template_name is not null
            group by all
            having sum(daily.sent) > 0
        )
        select *
        from by_api
        full outer join by_campaign using (account_id, template_name, cohort_date)
        where by_api.sent is distinct from by_campaign.sent
            or by_api.delivered is distinct from by_campaign.delivered
            or by_api.opens is distinct from by_campaign.opens
        """
    )
    assert not mismatches, mismatches[:5]
    (total,) = pipeline_run.query("select sum(sent) from marts.api_comparison")[0]
    assert total > 0
