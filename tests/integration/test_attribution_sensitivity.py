"""attribution_sensitivity on the shared pipeline run: the headline rows are the
campaign marts' conversions, single-touch models credit each event once, any_click
double counts by design, and two models recomputed independently from the
warehouse's staging tables give the same rows (docs/contract/marts.md,
"Attribution sensitivity")."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import SEED_CONFIGS, PipelineRun, midnight_after

pytestmark = pytest.mark.slow

#: The shared run's as-of time (its files end on the config's end_date), naive UTC.
AS_OF = midnight_after(SEED_CONFIGS["seed7-csv"]["end_date"]).replace(tzinfo=None)
#: Window hours of the click models: a number, or the clicked campaign's own.
CLICK_WINDOWS = {"1d": "24", "7d": "168", "campaign": "clicked_messages.conversion_window_hours"}


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _clicks_in_window_sql(window_hours: str) -> str:
    """Every (goal event, click) of the staging tables whose window holds the event,
    with the clicked message's account, campaign, attempt time and account time zone
    and the event's revenue in the account currency. Rewritten from the contract, not
    from the dbt models."""
    return f"""
        with
        conversions as (
            select * from staging.stg_raw__conversions where occurred_at <= $as_of
        ),
        clicked_messages as (
            select
                clicks.click_id, clicks.clicked_at, dispatches.dispatch_id,
                dispatches.account_id, dispatches.user_id, dispatches.campaign_id,
                dispatches.attempted_at, campaigns.goal_event,
                campaigns.conversion_window_hours
            from staging.stg_raw__clicks as clicks
            join staging.stg_raw__dispatches as dispatches
                on clicks.wamid = dispatches.wamid and dispatches.result = 'SENT'
            join staging.stg_raw__campaigns as campaigns
                on dispatches.campaign_id = campaigns.campaign_id
            where clicks.clicked_at <= $as_of and dispatches.attempted_at <= $as_of
        )
        select
            conversions.event_id, conversions.account_id, clicked_messages.campaign_id,
            clicked_messages.click_id, clicked_messages.clicked_at,
            clicked_messages.attempted_at, accounts.timezone,
            case when conversions.currency = accounts.account_currency
                then coalesce(conversions.revenue, 0) else 0 end as revenue
        from conversions
        join clicked_messages
            on conversions.account_id = clicked_messages.account_id
            and conversions.user_id = clicked_messages.user_id
            and conversions.event_name = clicked_messages.goal_event
        join staging.stg_raw__accounts as accounts
            on conversions.account_id = accounts.account_id
        where clicked_messages.clicked_at <= conversions.occurred_at
            and conversions.occurred_at
                <= clicked_messages.clicked_at + to_hours(cast({window_hours} as bigint))
    """


def _delivered_views_sql() -> str:
    """Every (goal event, message) of the staging tables delivered (earliest
    delivered, read or played status by as_of) to the event's user in the 24 h up to
    the event, on a campaign whose goal is the event's name."""
    return """
        with
        conversions as (
            select * from staging.stg_raw__conversions where occurred_at <= $as_of
        ),
        deliveries as (
            select wamid, min(status_at) as delivered_at
            from staging.stg_raw__webhook_statuses
            where status in ('delivered', 'read', 'played') and status_at <= $as_of
            group by wamid
        ),
        delivered_messages as (
            select
                dispatches.dispatch_id, dispatches.account_id, dispatches.user_id,
                dispatches.campaign_id, dispatches.attempted_at, deliveries.delivered_at,
                campaigns.goal_event
            from staging.stg_raw__dispatches as dispatches
            join deliveries on dispatches.wamid = deliveries.wamid
            join staging.stg_raw__campaigns as campaigns
                on dispatches.campaign_id = campaigns.campaign_id
            where dispatches.result = 'SENT' and dispatches.attempted_at <= $as_of
        )
        select
            conversions.event_id, conversions.account_id, delivered_messages.campaign_id,
            delivered_messages.dispatch_id, delivered_messages.delivered_at,
            delivered_messages.attempted_at, accounts.timezone,
            case when conversions.currency = accounts.account_currency
                then coalesce(conversions.revenue, 0) else 0 end as revenue
        from conversions
        join delivered_messages
            on conversions.account_id = delivered_messages.account_id
            and conversions.user_id = delivered_messages.user_id
            and conversions.event_name = delivered_messages.goal_event
        join staging.stg_raw__accounts as accounts
            on conversions.account_id = accounts.account_id
        where delivered_messages.delivered_at <= conversions.occurred_at
            and conversions.occurred_at <= delivered_messages.delivered_at + interval 24 hour
    """


def _staging_rows(run: PipelineRun, sql: str) -> list[tuple]:
    return run.query(sql.replace("$as_of", f"timestamp '{AS_OF.isoformat(sep=' ')}'"))


def _cohort_date(attempted_at: datetime, timezone: str) -> str:
    return attempted_at.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).date().isoformat()


def _credit_rows(credited: list[tuple]) -> dict[tuple, tuple]:
    """(account, campaign, cohort date) -> (conversions, revenue) of one credited
    touch per row: (account, campaign, attempted_at, timezone, revenue)."""
    totals: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    for account, campaign, attempted_at, timezone, revenue in credited:
        row = totals[(account, campaign, _cohort_date(attempted_at, timezone))]
        row[0] += 1
        row[1] += Decimal(str(revenue))
    return {key: (n, _money(revenue)) for key, (n, revenue) in totals.items()}


def _mart_rows(run: PipelineRun, model: str, window: str) -> dict[tuple, tuple]:
    """The mart's non-zero rows of one model and window."""
    rows = run.query(
        "select account_id, campaign_id, strftime(cohort_date, '%Y-%m-%d'), conversions, "
        "revenue from marts.attribution_sensitivity "
        "where attribution_model = ? and attribution_window = ? and conversions > 0",
        [model, window],
    )
    return {tuple(r[:3]): (r[3], _money(r[4])) for r in rows}


def test_every_campaign_date_has_the_ten_model_and_window_rows(pipeline_run: PipelineRun) -> None:
    pairs = pipeline_run.query(
        "select attribution_model, attribution_window, count(*), count(*) filter (is_headline) "
        "from marts.attribution_sensitivity group by all"
    )
    (daily_rows,) = pipeline_run.query("select count(*) from marts.campaign_performance_daily")[0]
    assert {(m, w) for m, w, _, _ in pairs} == {
        *((m, w) for m in ("last_click", "first_click", "any_click") for w in CLICK_WINDOWS),
        ("delivered_view_24h", "24h"),
    }
    assert {n for _, _, n, _ in pairs} == {daily_rows}
    assert {(m, w) for m, w, _, headline in pairs if headline} == {("last_click", "campaign")}


def test_headline_rows_equal_campaign_performance_daily_and_ground_truth(
    pipeline_run: PipelineRun,
) -> None:
    headline = {
        (r[0], r[1], r[2]): (r[3], _money(r[4]))
        for r in pipeline_run.query(
            "select account_id, campaign_id, strftime(cohort_date, '%Y-%m-%d'), conversions, "
            "revenue from marts.attribution_sensitivity where is_headline"
        )
    }
    daily = {
        (r[0], r[1], r[2]): (r[3], _money(r[4]))
        for r in pipeline_run.query(
            "select account_id, campaign_id, strftime(period_start, '%Y-%m-%d'), conversions, "
            "revenue from marts.campaign_performance_daily"
        )
    }
    truth = {
        (r["account_id"], r["campaign_id"], r["cohort_date"]): (
            r["conversions"],
            _money(r["revenue"]),
        )
        for r in pipeline_run.truth["campaign_daily"]
    }
    assert headline == daily == truth
    assert sum(n for n, _ in headline.values()) > 0


@pytest.mark.parametrize("window", list(CLICK_WINDOWS))
def test_first_and_last_click_credit_each_event_with_a_click_in_the_window_once(
    pipeline_run: PipelineRun, window: str
) -> None:
    candidates = _staging_rows(pipeline_run, _clicks_in_window_sql(CLICK_WINDOWS[window]))
    events_per_account = Counter(account for account, _ in {(row[1], row[0]) for row in candidates})
    assert events_per_account
    for model in ("last_click", "first_click"):
        credited = Counter()
        for (account, _, _), (conversions, _) in _mart_rows(pipeline_run, model, window).items():
            credited[account] += conversions
        assert credited == events_per_account, model


def test_the_windows_differ_on_this_dataset(pipeline_run: PipelineRun) -> None:
    """The dataset exercises the rules: the windows and the models give different totals."""
    totals = dict(
        (f"{m} {w}", n)
        for m, w, n in pipeline_run.query(
            "select attribution_model, attribution_window, sum(conversions) "
            "from marts.attribution_sensitivity group by all"
        )
    )
    assert totals["last_click 1d"] < totals["last_click 7d"]
    assert totals["any_click 7d"] > totals["last_click 7d"]


@pytest.mark.parametrize("window", list(CLICK_WINDOWS))
def test_any_click_is_never_below_last_click_and_double_counts_by_design(
    pipeline_run: PipelineRun, window: str
) -> None:
    last = _mart_rows(pipeline_run, "last_click", window)
    any_click = _mart_rows(pipeline_run, "any_click", window)
    for key, (conversions, revenue) in last.items():
        assert any_click[key][0] >= conversions, key
        assert any_click[key][1] >= revenue, key
    # an event clicked in several campaigns counts once for each of them
    candidates = _staging_rows(pipeline_run, _clicks_in_window_sql(CLICK_WINDOWS[window]))
    clicked_campaigns_per_event = {(row[0], row[2]) for row in candidates}
    assert sum(n for n, _ in any_click.values()) == len(clicked_campaigns_per_event)


def test_first_click_7d_recomputed_from_staging(pipeline_run: PipelineRun) -> None:
    """The earliest click in the 168 h before each event (ties at that second: the
    greatest click_id as text), counted on the clicked message's cohort date."""
    candidates = _staging_rows(pipeline_run, _clicks_in_window_sql("168"))
    earliest = {}
    for event_id, _, _, _, clicked_at, *_ in candidates:
        earliest[event_id] = min(clicked_at, earliest.get(event_id, clicked_at))
    first: dict[str, tuple] = {}
    for event_id, account, campaign, click_id, clicked_at, attempted_at, tz, revenue in candidates:
        if clicked_at == earliest[event_id] and click_id > first.get(event_id, ("",))[0]:
            first[event_id] = (click_id, (account, campaign, attempted_at, tz, revenue))
    expected = _credit_rows([credit for _, credit in first.values()])
    assert len({campaign for _, campaign, _ in expected}) >= 3
    assert _mart_rows(pipeline_run, "first_click", "7d") == expected


def test_delivered_view_24h_recomputed_from_staging(pipeline_run: PipelineRun) -> None:
    """The latest delivery of a matching campaign in the 24 h before each event (ties:
    the greatest dispatch_id)."""
    candidates = _staging_rows(pipeline_run, _delivered_views_sql())
    latest: dict[str, tuple] = {}
    for (
        event_id,
        account,
        campaign,
        dispatch_id,
        delivered_at,
        attempted_at,
        tz,
        revenue,
    ) in candidates:
        rank = (delivered_at, dispatch_id)
        if event_id not in latest or rank > latest[event_id][0]:
            latest[event_id] = (rank, (account, campaign, attempted_at, tz, revenue))
    expected = _credit_rows([credit for _, credit in latest.values()])
    assert expected
    assert _mart_rows(pipeline_run, "delivered_view_24h", "24h") == expected


def test_every_model_and_window_equals_the_ground_truth(pipeline_run: PipelineRun) -> None:
    """All ten model and window pairs, row for row, against the generator's ground truth
    (computed from the simulation's own clicks, deliveries and goal events)."""
    rows = pipeline_run.query(
        "select attribution_model, attribution_window, account_id, campaign_id, "
        "strftime(cohort_date, '%Y-%m-%d'), conversions, revenue "
        "from marts.attribution_sensitivity where conversions > 0"
    )
    actual = {tuple(r[:5]): (r[5], _money(r[6])) for r in rows}
    expected = {
        (r["attribution_model"], r["attribution_window"], r["account_id"], r["campaign_id"],
         r["cohort_date"]): (r["conversions"], _money(r["revenue"]))
        for r in pipeline_run.truth["attribution_sensitivity"]
    }  # fmt: skip
    assert {key[:2] for key in expected} == {key[:2] for key in actual}
    assert actual == expected
