{#
  Each campaign's read rate and click rate per cohort date, beside three
  baselines, each stored as additive counts so that any range of cohort
  dates can be summed and the rates recomputed:

  - history: the same account's *other* campaigns over the 30 cohort dates
    before the row's (cohort_date - 30 to cohort_date - 1, both inclusive: a
    message 31 days back is out, 30 days back in, the same day out);
  - reference: reference_engagement_rates (seed) for each recipient country
    and the campaign's template category;
  - benchmark: the cross-account cohort benchmark template_benchmarks
    publishes for (recipient country, industry, template category), only
    where it publishes one (at least 5 accounts): read from that mart, so
    this model never sees a cohort it does not publish.

  read rate = opens / delivered; click rate = delivered messages with at
  least one click / delivered (as in template_benchmarks). For each baseline
  X, X_compared_* are the row's own counts over the messages that have an X
  baseline and X_expected_* what those messages would have had at the
  baseline's rates (sum of delivered x rate over recipient countries).
#}
{%- set history_days = 30 -%}
with

messages as (
    select * from {{ ref('int_messages') }}
),

clicked_messages as (
    select distinct dispatch_id
    from {{ ref('int_clicks') }}
    where is_known_message
),

campaigns as (
    select * from {{ ref('int_campaigns') }}
),

reference_rates as (
    select
        *,
        source || ' (' || cast(published_on as string) || ')' as source_label
    from {{ ref('reference_engagement_rates') }}
),

-- One row per published cohort benchmark (the same value on every template
-- row of its cohort); a cohort with fewer than 5 accounts has none.
published_benchmarks as (
    select
        recipient_country,
        industry,
        template_category,
        window_end,
        max(benchmark_read_rate) as benchmark_read_rate,
        max(benchmark_click_rate) as benchmark_click_rate
    from {{ ref('template_benchmarks') }}
    where benchmark_read_rate is not null
        and benchmark_click_rate is not null
    group by recipient_country, industry, template_category, window_end
),

country_days as (
    select
        messages.account_id,
        messages.campaign_id,
        messages.cohort_date,
        messages.recipient_country,
        count(*) filter (where messages.is_delivered) as delivered,
        count(*) filter (where messages.is_opened) as opens,
        count(*) filter (where messages.is_delivered and clicked_messages.dispatch_id is not null)
            as delivered_clicked
    from messages
    left join clicked_messages
        on messages.dispatch_id = clicked_messages.dispatch_id
    group by
        messages.account_id,
        messages.campaign_id,
        messages.cohort_date,
        messages.recipient_country
),

country_baselines as (
    select
        country_days.*,
        campaigns.template_category,
        campaigns.industry,
        reference_rates.read_rate as reference_read_rate,
        reference_rates.click_rate as reference_click_rate,
        case when country_days.delivered > 0 then reference_rates.source_label end
            as reference_source,
        published_benchmarks.benchmark_read_rate,
        published_benchmarks.benchmark_click_rate,
        published_benchmarks.window_end as benchmark_window_end
    from country_days
    left join campaigns
        on country_days.campaign_id = campaigns.campaign_id
    left join reference_rates
        on country_days.recipient_country = reference_rates.country_code
        and campaigns.template_category = reference_rates.template_category
    left join published_benchmarks
        on country_days.recipient_country = published_benchmarks.recipient_country
        and campaigns.industry is not distinct from published_benchmarks.industry
        and campaigns.template_category is not distinct from published_benchmarks.template_category
),

campaign_days as (
    select
        account_id,
        campaign_id,
        cohort_date,
        max(template_category) as template_category,
        max(industry) as industry,
        sum(delivered) as delivered,
        sum(opens) as opens,
        sum(delivered_clicked) as delivered_clicked,
        -- expected counts are summed as decimals: a sum of doubles depends on the
        -- order DuckDB adds them in, and a rebuild must give the same marts
        coalesce(sum(delivered) filter (where reference_read_rate is not null), 0)
            as reference_compared_delivered,
        coalesce(sum(opens) filter (where reference_read_rate is not null), 0)
            as reference_compared_opens,
        coalesce(sum(delivered_clicked) filter (where reference_read_rate is not null), 0)
            as reference_compared_delivered_clicked,
        coalesce(sum({{ exact_product("delivered", "reference_read_rate") }}), 0)
            as reference_expected_opens,
        coalesce(sum({{ exact_product("delivered", "reference_click_rate") }}), 0)
            as reference_expected_clicked,
        {{ string_agg_ordered('reference_source', '; ', distinct=true) }} as reference_sources,
        coalesce(sum(delivered) filter (where benchmark_read_rate is not null), 0)
            as benchmark_compared_delivered,
        coalesce(sum(opens) filter (where benchmark_read_rate is not null), 0)
            as benchmark_compared_opens,
        coalesce(sum(delivered_clicked) filter (where benchmark_read_rate is not null), 0)
            as benchmark_compared_delivered_clicked,
        coalesce(sum({{ exact_product("delivered", "benchmark_read_rate") }}), 0)
            as benchmark_expected_opens,
        coalesce(sum({{ exact_product("delivered", "benchmark_click_rate") }}), 0)
            as benchmark_expected_clicked,
        max(benchmark_window_end) filter (where delivered > 0) as benchmark_window_end
    from country_baselines
    group by account_id, campaign_id, cohort_date
),

-- The account's other campaigns over the 30 cohort dates before each row's.
history as (
    select
        campaign_days.account_id,
        campaign_days.campaign_id,
        campaign_days.cohort_date,
        count(distinct earlier.campaign_id) filter (where earlier.delivered > 0)
            as history_campaigns,
        sum(earlier.delivered) as history_window_delivered,
        sum(earlier.opens) as history_window_opens,
        sum(earlier.delivered_clicked) as history_window_delivered_clicked
    from campaign_days
    inner join campaign_days as earlier
        on campaign_days.account_id = earlier.account_id
        and campaign_days.campaign_id != earlier.campaign_id
        and earlier.cohort_date
        between campaign_days.cohort_date - {{ history_days }} and campaign_days.cohort_date - 1
    group by campaign_days.account_id, campaign_days.campaign_id, campaign_days.cohort_date
),

with_history as (
    select
        campaign_days.*,
        coalesce(history.history_campaigns, 0) as history_campaigns,
        coalesce(history.history_window_delivered, 0) as history_window_delivered,
        coalesce(history.history_window_opens, 0) as history_window_opens,
        coalesce(history.history_window_delivered_clicked, 0)
            as history_window_delivered_clicked,
        coalesce(history.history_window_delivered, 0) > 0 as has_history
    from campaign_days
    left join history
        on campaign_days.account_id = history.account_id
        and campaign_days.campaign_id = history.campaign_id
        and campaign_days.cohort_date = history.cohort_date
),

final as (
    select
        account_id,
        campaign_id,
        cohort_date,
        template_category,
        industry,
        cast(delivered as bigint) as delivered,
        cast(opens as bigint) as opens,
        cast(delivered_clicked as bigint) as delivered_clicked,
        {{ safe_divide('opens', 'delivered') }} as read_rate,
        {{ safe_divide('delivered_clicked', 'delivered') }} as click_rate,
        cast(history_campaigns as bigint) as history_campaigns,
        cast(history_window_delivered as bigint) as history_window_delivered,
        cast(history_window_opens as bigint) as history_window_opens,
        cast(history_window_delivered_clicked as bigint) as history_window_delivered_clicked,
        {{ safe_divide('history_window_opens', 'history_window_delivered') }}
            as history_read_rate,
        {{ safe_divide('history_window_delivered_clicked', 'history_window_delivered') }}
            as history_click_rate,
        cast(case when has_history then delivered else 0 end as bigint)
            as history_compared_delivered,
        cast(case when has_history then opens else 0 end as bigint) as history_compared_opens,
        cast(case when has_history then delivered_clicked else 0 end as bigint)
            as history_compared_delivered_clicked,
        case
            when has_history then delivered * history_window_opens / history_window_delivered
            else 0
        end as history_expected_opens,
        case
            when has_history
                then delivered * history_window_delivered_clicked / history_window_delivered
            else 0
        end as history_expected_clicked,
        cast(reference_compared_delivered as bigint) as reference_compared_delivered,
        cast(reference_compared_opens as bigint) as reference_compared_opens,
        cast(reference_compared_delivered_clicked as bigint)
            as reference_compared_delivered_clicked,
        cast(reference_expected_opens as double) as reference_expected_opens,
        cast(reference_expected_clicked as double) as reference_expected_clicked,
        {{ safe_divide('reference_expected_opens', 'reference_compared_delivered') }}
            as reference_read_rate,
        {{ safe_divide('reference_expected_clicked', 'reference_compared_delivered') }}
            as reference_click_rate,
        reference_sources,
        cast(benchmark_compared_delivered as bigint) as benchmark_compared_delivered,
        cast(benchmark_compared_opens as bigint) as benchmark_compared_opens,
        cast(benchmark_compared_delivered_clicked as bigint)
            as benchmark_compared_delivered_clicked,
        cast(benchmark_expected_opens as double) as benchmark_expected_opens,
        cast(benchmark_expected_clicked as double) as benchmark_expected_clicked,
        {{ safe_divide('benchmark_expected_opens', 'benchmark_compared_delivered') }}
            as benchmark_read_rate,
        {{ safe_divide('benchmark_expected_clicked', 'benchmark_compared_delivered') }}
            as benchmark_click_rate,
        benchmark_window_end
    from with_history
)

select * from final
