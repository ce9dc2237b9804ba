"""The marts contract as dbt enforces it, read from the parsed manifest (no build).

Every mart has an enforced dbt contract: a data type for every column, checked
against what its SQL produces at build time, and the constraints DuckDB
enforces when the table is written (a violation fails the build; the previous
publication stays). The exposures name what reads the marts outside dbt.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from orchestration.defs.dbt_project import PROJECT_DIR, manifest_path

COUNTS = (
    "targeted", "sent", "dropped", "delivered", "undelivered", "delivery_pending",
    "opens", "clicks", "conversions", "revenue", "unsubscribes", "responses",
    "marketing_opt_out_signals",
)  # fmt: skip
RATES = (
    "delivery_rate", "open_rate", "click_through_rate", "conversion_rate",
    "unsubscribe_rate", "response_rate",
)  # fmt: skip
PERIOD_KEY = ("account_id", "campaign_id", "period_start")
REASON_KEY = ("account_id", "campaign_id", "cohort_date", "reason")

#: The primary key of each mart whose grain columns are never null (DuckDB
#: enforces it: unique and not null). None: a grain column may be null (a body
#: link has no button, a check spanning sources no source), so no primary key
#: can hold it, or the index costs too much (:data:`NO_PRIMARY_KEY_FOR_COST`);
#: the grain test checks those marts (nulls compared equal).
PRIMARY_KEYS: dict[str, tuple[str, ...] | None] = {
    "campaign_performance": ("campaign_id",),
    "campaign_performance_daily": PERIOD_KEY,
    "campaign_performance_weekly": PERIOD_KEY,
    "campaign_performance_monthly": PERIOD_KEY,
    "dropped_reasons": REASON_KEY,
    "undelivered_reasons": REASON_KEY,
    "reason_dictionary": ("kind", "reason"),
    "reason_recipients": None,
    "template_benchmarks": (
        "account_id",
        "template_name",
        "template_language",
        "recipient_country",
        "window_end",
    ),
    "campaign_benchmarks": ("account_id", "campaign_id", "cohort_date"),
    "message_latency_daily": ("account_id", "campaign_id", "cohort_date"),
    "delivery_survival": ("account_id", "campaign_id", "cohort_date", "horizon_hours"),
    "attribution_sensitivity": (
        "account_id",
        "campaign_id",
        "cohort_date",
        "attribution_model",
        "attribution_window",
    ),
    "data_quality": None,
    "message_lineage": None,
    "api_comparison": ("account_id", "template_name", "api", "cohort_date"),
    "campaign_costs": ("account_id", "campaign_id", "cohort_date"),
    "holdout_uplift": ("account_id", "campaign_id", "cohort_date"),
    "holdout_uplift_summary": ("campaign_id",),
    "link_click_activity": None,
    "response_summary": None,
    "external_platform_responses": None,
}

#: Not-null constraints beyond the primary key: the non-null key columns and the counts.
NOT_NULL: dict[str, set[str]] = {
    "campaign_performance": {"account_id", *COUNTS},
    "campaign_performance_daily": set(COUNTS),
    "campaign_performance_weekly": set(COUNTS),
    "campaign_performance_monthly": set(COUNTS),
    "dropped_reasons": {"messages"},
    "undelivered_reasons": {"messages"},
    "reason_dictionary": {"description", "possible_solution"},
    "reason_recipients": {
        "account_id",
        "campaign_id",
        "cohort_date",
        "kind",
        "reason",
        "user_id",
        "messages",
        "last_cohort_date",
    },
    "template_benchmarks": {"delivered", "cohort_accounts"},
    "campaign_benchmarks": {
        "delivered",
        "opens",
        "delivered_clicked",
        "history_campaigns",
        *(f"history_window_{c}" for c in ("delivered", "opens", "delivered_clicked")),
        *(
            f"{baseline}_{count}"
            for baseline in ("history", "reference", "benchmark")
            for count in (
                "compared_delivered",
                "compared_opens",
                "compared_delivered_clicked",
                "expected_opens",
                "expected_clicked",
            )
        ),
    },
    "message_latency_daily": {
        "sent",
        *(f"{count}" for count in ("delivered", "opens", "clicked_messages")),
        *(f"{event}_before_send" for event in ("delivered", "read", "first_click")),
    },
    "delivery_survival": {"horizon_label", "sent", "at_risk", "without_report"},
    "attribution_sensitivity": {"is_headline", "conversions", "revenue"},
    "data_quality": {"check_name", "rows"},
    "api_comparison": {"sent", "delivered", "opens", "delivered_clicked"},
    "campaign_costs": {"delivered", "billable_messages", "costed_messages", "cost_usd", "cost"},
    "holdout_uplift": {
        f"{group}_{count}"
        for group in ("treated", "holdout")
        for count in ("recipients", "converters", "revenue", "revenue_sum_squares")
    },
    "holdout_uplift_summary": {
        "account_id",
        "first_cohort_date",
        "last_cohort_date",
        *(
            f"{group}_{count}"
            for group in ("treated", "holdout")
            for count in ("recipients", "converters", "revenue")
        ),
    },
    "message_lineage": {
        "dispatch_id",
        "event_seq",
        "account_id",
        "campaign_id",
        "cohort_date",
        "event_at",
        "event_kind",
        "message_state",
        "detail",
    },
    "link_click_activity": {
        "account_id",
        "campaign_id",
        "cohort_date",
        "url",
        "clicks",
        "unique_clickers",
        "conversions",
        "revenue",
    },
    "response_summary": {
        "account_id",
        "campaign_id",
        "cohort_date",
        "is_external_platform",
        "responses",
        "unique_responders",
        "responder_conversions",
        "delivered",
        "responder_clicks",
        "responder_revenue",
    },
    # a view: dbt checks its column names and types; DuckDB has no constraints on views
    "external_platform_responses": set(),
}

#: Marts whose grain columns are never null but which have no primary key: the
#: largest mart, whose primary-key index cost 1.4 to 1.9 s at 5M dispatches
#: against 0.1 s for writing its rows (its yml description says so).
NO_PRIMARY_KEY_FOR_COST = {"reason_recipients", "message_lineage"}

EXPOSURES = {
    "serving_publication": "application",
    "campaign_report": "application",
    "reason_recipients_export": "application",
    "campaign_analytics_dashboard": "dashboard",
    "message_trace": "application",
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return json.loads(manifest_path().read_text())


@pytest.fixture(scope="module")
def marts(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["original_file_path"].startswith("models/marts/")
    }


def _primary_key(node: dict[str, Any]) -> tuple[str, ...] | None:
    """The primary key: a model-level constraint, or a column's own."""
    keys = [tuple(c["columns"]) for c in node["constraints"] if c["type"] == "primary_key"]
    keys += [
        (name,)
        for name, column in node["columns"].items()
        if any(c["type"] == "primary_key" for c in column["constraints"])
    ]
    assert len(keys) <= 1, f"{node['name']}: several primary keys {keys}"
    return keys[0] if keys else None


def _not_null(node: dict[str, Any]) -> set[str]:
    return {
        name
        for name, column in node["columns"].items()
        if any(c["type"] == "not_null" for c in column["constraints"])
    }


def _grain_test(manifest: dict[str, Any], model_id: str) -> dict[str, Any]:
    (test,) = (
        node["test_metadata"]["kwargs"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "test"
        and node.get("test_metadata", {}).get("name") == "grain"
        and node["attached_node"] == model_id
    )
    return test


def test_the_expected_marts_are_the_marts(marts: dict[str, dict[str, Any]]) -> None:
    """A new mart gets a contract and a line here."""
    assert set(marts) == set(PRIMARY_KEYS) == set(NOT_NULL)


def test_every_mart_has_an_enforced_contract_with_a_type_on_every_column(
    marts: dict[str, dict[str, Any]],
) -> None:
    for name, node in marts.items():
        assert node["config"]["contract"]["enforced"] is True, name
        assert node["columns"], name
        untyped = [c for c, column in node["columns"].items() if not column.get("data_type")]
        assert not untyped, f"{name}: columns without data_type: {untyped}"


def test_counts_are_bigint_revenue_decimal_and_rates_double(
    marts: dict[str, dict[str, Any]],
) -> None:
    """The published types of the campaign performance marts (README: Reading the marts)."""
    expected = {c: "bigint" for c in COUNTS} | {"revenue": "decimal(18,4)"}
    expected |= {c: "double" for c in RATES}
    periods = ("daily", "weekly", "monthly")
    for name in ("campaign_performance", *(f"campaign_performance_{p}" for p in periods)):
        types = {c: column["data_type"] for c, column in marts[name]["columns"].items()}
        assert {c: types[c] for c in expected} == expected, name


def test_the_constraints_are_the_chosen_ones(marts: dict[str, dict[str, Any]]) -> None:
    for name, node in marts.items():
        assert _primary_key(node) == PRIMARY_KEYS[name], name
        assert _not_null(node) == NOT_NULL[name], name
        declared = {c["type"] for c in node["constraints"]} | {
            c["type"] for column in node["columns"].values() for c in column["constraints"]
        }
        # check and foreign keys are left out: the marts are rebuilt one by one
        assert declared <= {"primary_key", "not_null"}, name
        if node["config"]["materialized"] == "view":
            assert not declared, f"{name}: dbt applies no constraints to a view"


def test_a_primary_key_is_the_grain_the_grain_test_checks(
    manifest: dict[str, Any], marts: dict[str, dict[str, Any]]
) -> None:
    """Where a mart has a primary key, it is its grain test's key; where it has none,
    a grain column may be null (the grain test's nullable columns), or the mart is
    too large for the index and every grain column is not null."""
    for name, node in marts.items():
        grain = _grain_test(manifest, node["unique_id"])
        if name in NO_PRIMARY_KEY_FOR_COST:
            assert PRIMARY_KEYS[name] is None, name
            assert not grain.get("nullable"), name
            assert {*grain["key"], *grain.get("not_null", [])} == NOT_NULL[name], name
            assert "primary key" in node["description"], f"{name}: say why there is none"
        elif PRIMARY_KEYS[name] is None:
            assert grain.get("nullable"), name
            nullable = set(grain["nullable"])
            required = set(grain["key"]) - nullable | set(grain.get("not_null", []))
            if node["config"]["materialized"] != "view":
                assert required <= NOT_NULL[name], name
        else:
            assert tuple(grain["key"]) == PRIMARY_KEYS[name], name
            assert not grain.get("nullable"), name
            assert set(grain.get("not_null", [])) <= NOT_NULL[name], name


def _depends_on_marts(manifest: dict[str, Any], name: str) -> set[str]:
    exposure = manifest["exposures"][f"exposure.wa_warehouse.{name}"]
    nodes = exposure["depends_on"]["nodes"]
    assert all(n.startswith("model.wa_warehouse.") for n in nodes), nodes
    return {manifest["nodes"][n]["name"] for n in nodes}


def test_the_exposures_exist_and_depend_on_marts(
    manifest: dict[str, Any], marts: dict[str, dict[str, Any]]
) -> None:
    for name, kind in EXPOSURES.items():
        exposure = manifest["exposures"].get(f"exposure.wa_warehouse.{name}")
        assert exposure is not None, f"no exposure {name}"
        assert exposure["type"] == kind, name
        assert exposure["owner"]["name"] == "wa-warehouse maintainers", name
        assert exposure["description"].strip(), name
        depends_on = _depends_on_marts(manifest, name)
        assert depends_on and depends_on <= set(marts), name


def test_the_serving_publication_exposure_depends_on_every_mart(
    manifest: dict[str, Any], marts: dict[str, dict[str, Any]]
) -> None:
    """The asset serving_publication copies every mart (deps: every dbt mart)."""
    assert _depends_on_marts(manifest, "serving_publication") == set(marts)


def test_the_report_exposure_depends_on_the_marts_the_report_reads(
    manifest: dict[str, Any],
) -> None:
    """The marts orchestration/report.py queries (``from``/``join marts.<name>``;
    ``{kind}_reasons`` is dropped_reasons and undelivered_reasons; ``_publication`` is
    written by the publication, no dbt model)."""
    source = (PROJECT_DIR / "orchestration" / "report.py").read_text()
    read = set()
    for name in re.findall(r"\b(?:from|join)\s+marts\.(\{kind\}_reasons|\w+)", source):
        if name == "{kind}_reasons":
            read |= {"dropped_reasons", "undelivered_reasons"}
        elif name != "_publication":
            read.add(name)
    assert len(read) >= 5, read  # the pattern still finds the report's queries
    assert _depends_on_marts(manifest, "campaign_report") == read


def test_the_export_exposure_depends_on_the_marts_the_export_reads(
    manifest: dict[str, Any],
) -> None:
    """The marts orchestration/export.py names (``marts.<name>``), and the two that the
    report functions it calls read (resolve_scope, cohort_date_bounds)."""
    source = (PROJECT_DIR / "orchestration" / "export.py").read_text()
    read = set(re.findall(r"\bmarts\.(\w+)", source))
    assert "reason_recipients" in read  # the pattern still finds the export's queries
    read |= {"campaign_performance", "campaign_performance_daily"}
    assert _depends_on_marts(manifest, "reason_recipients_export") == read
