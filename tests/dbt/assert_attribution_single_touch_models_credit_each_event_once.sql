-- last_click and first_click credit every goal event with a click in the
-- window exactly once, delivered_view_24h every event with a delivered
-- message in the 24 h before it, so their conversions summed per account and
-- window are those events; any_click credits at least as much as last_click
-- on every row (the last click's campaign is always among the clicked ones).
-- Dagster shows this test as a check of attribution_sensitivity (it reads two models).
{{ config(meta={'dagster': {'ref': {'name': 'attribution_sensitivity'}}}) }}
with

touches as (
    select
        event_id,
        account_id,
        touch_kind,
        is_in_1d_window,
        is_in_7d_window,
        is_in_campaign_window
    from {{ ref('int_conversion_touches') }}
),

attribution as (
    select
        account_id,
        campaign_id,
        cohort_date,
        attribution_model,
        attribution_window,
        conversions
    from {{ ref('attribution_sensitivity') }}
),

events_per_window as (
    {%- for window, flag in [
        ('1d', "touch_kind = 'click' and is_in_1d_window"),
        ('7d', "touch_kind = 'click' and is_in_7d_window"),
        ('campaign', "touch_kind = 'click' and is_in_campaign_window"),
        ('24h', "touch_kind = 'delivered_view'"),
    ] %}
    select
        account_id,
        '{{ window }}' as attribution_window,
        count(distinct event_id) as events
    from touches
    where {{ flag }}
    group by account_id
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

single_touch_models as (
    select
        single_touch_models.attribution_model,
        single_touch_models.attribution_window
    from (
        values
        ('last_click', '1d'), ('last_click', '7d'), ('last_click', 'campaign'),
        ('first_click', '1d'), ('first_click', '7d'), ('first_click', 'campaign'),
        ('delivered_view_24h', '24h')
    ) as single_touch_models (attribution_model, attribution_window)
),

expected as (
    select
        events_per_window.account_id,
        single_touch_models.attribution_model,
        single_touch_models.attribution_window,
        events_per_window.events
    from events_per_window
    inner join single_touch_models
        on events_per_window.attribution_window = single_touch_models.attribution_window
),

credited as (
    select account_id, attribution_model, attribution_window, sum(conversions) as credited
    from attribution
    where attribution_model <> 'any_click'
    group by account_id, attribution_model, attribution_window
    having sum(conversions) > 0
),

miscounted as (
    select
        account_id,
        attribution_model,
        attribution_window,
        expected.events,
        credited.credited
    from expected
    full outer join credited
        using (account_id, attribution_model, attribution_window)
    where expected.events is distinct from credited.credited
),

any_click_below_last_click as (
    select
        last_click.account_id,
        last_click.campaign_id,
        last_click.cohort_date,
        last_click.attribution_window,
        last_click.conversions as last_click_conversions,
        any_click.conversions as any_click_conversions
    from attribution as last_click
    inner join attribution as any_click
        on last_click.account_id = any_click.account_id
        and last_click.campaign_id = any_click.campaign_id
        and last_click.cohort_date = any_click.cohort_date
        and last_click.attribution_window = any_click.attribution_window
    where last_click.attribution_model = 'last_click'
        and any_click.attribution_model = 'any_click'
        and any_click.conversions < last_click.conversions
)

select
    account_id,
    attribution_model,
    attribution_window,
    'credited events differ from events with a touch' as problem,
    coalesce(events, 0) as expected,
    coalesce(credited, 0) as actual
from miscounted
union all
select
    account_id,
    'any_click' as attribution_model,
    attribution_window,
    'any_click below last_click on ' || campaign_id || ' ' || cast(cohort_date as string)
        as problem,
    last_click_conversions as expected,
    any_click_conversions as actual
from any_click_below_last_click
