"""End to end: generate extracts, run the real pipeline, compare every mart with the ground truth.

The generator writes the totals its simulation *decided*; the warehouse
derives them from the files. They must agree exactly, on every seed.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal

import pytest

from tests.conftest import CAMPAIGN_COUNTS, PipelineRun

pytestmark = pytest.mark.slow

COUNTS = list(CAMPAIGN_COUNTS)


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _truth_rows(rows: list[dict], keys: list[str], values: list[str]) -> dict:
    return {tuple(r[k] for k in keys): tuple(r[v] for v in values) for r in rows}


def test_campaign_totals_equal_ground_truth(pipeline_run: PipelineRun) -> None:
    expected = {
        (r["account_id"], r["campaign_id"]): {
            **{c: r[c] for c in COUNTS},
            "revenue": _money(r["revenue"]),
        }
        for r in pipeline_run.truth["campaigns"]
    }
    rows = pipeline_run.query(
        f"select account_id, campaign_id, {', '.join(COUNTS)}, revenue "
        "from marts.campaign_performance"
    )
    actual = {
        (r[0], r[1]): {**dict(zip(COUNTS, r[2:-1], strict=True)), "revenue": _money(r[-1])}
        for r in rows
    }
    assert set(actual) == set(expected)
    mismatches = {
        key: (actual[key], expected[key]) for key in expected if actual[key] != expected[key]
    }
    assert not mismatches, (
        f"{len(mismatches)} campaigns differ, e.g. {next(iter(mismatches.items()))}"
    )


def test_daily_rows_equal_ground_truth(pipeline_run: PipelineRun) -> None:
    expected = {
        (r["account_id"], r["campaign_id"], r["cohort_date"]): (
            *(r[c] for c in COUNTS),
            _money(r["revenue"]),
        )
        for r in pipeline_run.truth["campaign_daily"]
    }
    rows = pipeline_run.query(
        f"select account_id, campaign_id, strftime(period_start, '%Y-%m-%d'), {', '.join(COUNTS)}, "
        "revenue from marts.campaign_performance_daily"
    )
    actual = {(r[0], r[1], r[2]): (*r[3:-1], _money(r[-1])) for r in rows}
    assert actual == expected


@pytest.mark.parametrize("kind", ["dropped", "undelivered"])
def test_reason_rows_equal_ground_truth(pipeline_run: PipelineRun, kind: str) -> None:
    keys = ["account_id", "campaign_id", "cohort_date", "reason"]
    expected = _truth_rows(pipeline_run.truth[f"{kind}_reasons"], keys, ["messages"])
    rows = pipeline_run.query(
        f"select account_id, campaign_id, strftime(cohort_date, '%Y-%m-%d'), reason, messages "
        f"from marts.{kind}_reasons"
    )
    actual = {tuple(r[:4]): (r[4],) for r in rows}
    assert actual == expected
    reasons = {key[3] for key in actual}
    assert "Unmapped Error" in reasons
    if kind == "undelivered":
        assert "Delivery Report Missing" in reasons


def test_data_quality_equals_ground_truth(pipeline_run: PipelineRun) -> None:
    checks = {
        (name, source): rows
        for name, source, rows in pipeline_run.query(
            "select check_name, source, rows from marts.data_quality"
        )
    }
    truth = pipeline_run.truth["data_quality"]
    assert checks[("unmapped_codes", None)] == truth["unmapped_codes"]
    assert checks[("currency_mismatches", "conversions")] == truth["currency_mismatches"]
    assert (
        checks[("unattributed_unsubscribes", "unsubscribes")] == truth["unattributed_unsubscribes"]
    )
    unknown = truth["unknown_wamids"]
    assert checks[("unknown_wamids", "webhooks")] == unknown["statuses"] + unknown["replies"]
    assert checks[("unknown_wamids", "clicks")] == unknown["clicks"]
    assert checks[("unknown_wamids", "unsubscribes")] == unknown["unsubscribes"]
    for source, malformed in pipeline_run.truth["malformed_written"].items():
        assert checks[("quarantined_rows", source)] == malformed, source
    for source in ("clicks", "conversions", "unsubscribes"):
        assert (
            checks[("duplicates_removed", source)]
            == pipeline_run.truth["duplicates_written"][source]
        )


def test_every_generated_row_is_loaded_or_quarantined(pipeline_run: PipelineRun) -> None:
    loaded = dict(
        pipeline_run.query("select source, sum(rows_loaded) from raw._loads group by source")
    )
    quarantined = dict(
        pipeline_run.query(
            "select source, count(*) from raw._quarantine where line_number is not null "
            "group by source"
        )
    )
    truth = pipeline_run.truth
    reasons = " | ".join(r for (r,) in pipeline_run.query("select reason from raw._quarantine"))
    for kind in ("wrong column count", "bad timestamp", "non-numeric", "invalid JSON"):
        assert kind in reasons, kind
    for source, written in truth["rows_written"].items():
        assert loaded.get(source, 0) == written, source
        assert quarantined.get(source, 0) == truth["malformed_written"].get(source, 0), source


def test_no_mart_holds_a_phone_number(pipeline_run: PipelineRun) -> None:
    phones = {
        re.sub(r"\D", "", p)
        for (p,) in pipeline_run.query("select distinct phone_number from raw.dispatches")
        if p and len(re.sub(r"\D", "", p)) >= 7
    }
    tables = pipeline_run.query(
        "select table_name, column_name from duckdb_columns() "
        "where schema_name = 'marts' and data_type = 'VARCHAR'"
    )
    assert tables
    for table, column in tables:
        values = pipeline_run.query(f'select distinct "{column}" from marts."{table}"')
        digits = {re.sub(r"\D", "", v) for (v,) in values if v}
        assert not digits & phones, f"marts.{table}.{column} holds phone numbers"


def test_reason_dictionary_covers_every_reason(pipeline_run: PipelineRun) -> None:
    kinds = Counter(
        kind for (kind,) in pipeline_run.query("select kind from marts.reason_dictionary")
    )
    assert kinds == {"dropped": 15, "undelivered": 10}


def test_link_clicks_equal_ground_truth(pipeline_run: PipelineRun) -> None:
    keys = ["account_id", "campaign_id", "cohort_date", "url", "button_id", "card_index"]
    values = ["clicks", "unique_clickers", "conversions"]
    expected = {
        key: (*counts, _money(revenue))
        for key, (*counts, revenue) in _truth_rows(
            pipeline_run.truth["link_clicks"], keys, [*values, "revenue"]
        ).items()
    }
    rows = pipeline_run.query(
        "select account_id, campaign_id, strftime(cohort_date, '%Y-%m-%d'), url, button_id, "
        "card_index, clicks, unique_clickers, conversions, revenue from marts.link_click_activity"
    )
    actual = {tuple(r[:6]): (*r[6:9], _money(r[9])) for r in rows}
    assert actual == expected
    assert any(key[5] is not None for key in actual), "carousel card clicks are listed"
    assert any(key[4] is None for key in actual), "body links are listed"
    assert any(key[5] is not None and value[2] > 0 for key, value in actual.items()), (
        "conversions attributed to carousel card CTAs are listed"
    )


def test_responses_per_button_equal_ground_truth(pipeline_run: PipelineRun) -> None:
    keys = ["account_id", "campaign_id", "cohort_date", "card_index", "button_id"]
    values = [
        "responses", "unique_responders", "responder_conversions", "delivered", "responder_clicks",
    ]  # fmt: skip
    expected = {
        key: (*counts, _money(revenue))
        for key, (*counts, revenue) in _truth_rows(
            pipeline_run.truth["responses"], keys, [*values, "responder_revenue"]
        ).items()
    }
    rows = pipeline_run.query(
        "select account_id, campaign_id, strftime(cohort_date, '%Y-%m-%d'), card_index, "
        f"button_id, {', '.join(values)}, responder_revenue from marts.response_summary"
    )
    actual = {tuple(r[:5]): (*r[5:10], _money(r[10])) for r in rows}
    assert actual == expected
    assert any(key[3] is not None and value[4] > 0 for key, value in actual.items()), (
        "responders of carousel card options clicked"
    )
    # the rates of a row are its counts divided (null when the denominator is 0)
    wrong_rates = pipeline_run.query(
        "select count(*) from marts.response_summary where "
        "response_rate is distinct from responses / nullif(delivered, 0) "
        "or responder_click_through_rate is distinct from "
        "responder_clicks / nullif(unique_responders, 0) "
        "or responder_conversion_rate is distinct from "
        "responder_conversions / nullif(unique_responders, 0)"
    )[0][0]
    assert wrong_rates == 0
    external = pipeline_run.query(
        "select sum(button_clicks), count(*) filter (where button_click_rate is null) "
        "from marts.external_platform_responses"
    )[0]
    assert external[0] > 0


def test_benchmarks_publish_only_with_five_accounts(pipeline_run: PipelineRun) -> None:
    leaked = pipeline_run.query(
        "select count(*) from marts.template_benchmarks where cohort_accounts < 5 "
        "and (benchmark_read_rate is not null or benchmark_click_rate is not null)"
    )[0][0]
    assert leaked == 0
    published, withheld = pipeline_run.query(
        "select count(*) filter (where benchmark_read_rate is not null), "
        "count(*) filter (where benchmark_read_rate is null) from marts.template_benchmarks"
    )[0]
    assert published > 0 and withheld > 0
