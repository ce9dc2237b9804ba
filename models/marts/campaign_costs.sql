{#
  Cost and ROAS per campaign x cohort date (marts.md, "Cost and ROAS"). The
  counts and costs are additive: sum them over any range and recompute the
  ratios from the sums (cost_per_* = cost / count, roas = revenue / cost),
  never average the daily ratios. The ratios cover the cost that is known
  (cost_coverage says how much of the delivered messages that is).
#}
with

daily_metrics as (
    select * from {{ ref('int_campaign_daily_metrics') }}
),

message_costs as (
    select * from {{ ref('int_message_costs') }}
),

campaigns as (
    select campaign_id, account_currency from {{ ref('int_campaigns') }}
),

daily_costs as (
    select
        campaign_id,
        cohort_date,
        sum(messages) filter (where cost_status in ('priced', 'no exchange rate'))
            as billable_messages,
        sum(messages) filter (where cost_status = 'free') as free_messages,
        sum(messages) filter (where cost_status = 'no pricing') as messages_without_pricing,
        sum(messages) filter (where cost_status = 'no rate') as messages_without_rate,
        sum(messages) filter (where cost_status = 'no exchange rate') as messages_without_fx,
        sum(messages) filter (where cost_status in ('priced', 'free')) as costed_messages,
        sum(cost_usd) filter (where cost_status in ('priced', 'no exchange rate', 'free'))
            as cost_usd,
        sum(cost) filter (where cost_status in ('priced', 'free')) as cost
    from message_costs
    group by campaign_id, cohort_date
),

costed_days as (
    select
        daily_metrics.account_id,
        daily_metrics.campaign_id,
        daily_metrics.cohort_date,
        campaigns.account_currency as currency,
        daily_metrics.delivered,
        daily_metrics.opens,
        daily_metrics.clicks,
        daily_metrics.conversions,
        daily_metrics.revenue,
        cast(coalesce(daily_costs.billable_messages, 0) as bigint) as billable_messages,
        cast(coalesce(daily_costs.free_messages, 0) as bigint) as free_messages,
        cast(coalesce(daily_costs.messages_without_pricing, 0) as bigint)
            as messages_without_pricing,
        cast(coalesce(daily_costs.messages_without_rate, 0) as bigint) as messages_without_rate,
        cast(coalesce(daily_costs.messages_without_fx, 0) as bigint) as messages_without_fx,
        cast(coalesce(daily_costs.costed_messages, 0) as bigint) as costed_messages,
        cast(coalesce(daily_costs.cost_usd, 0) as decimal(18, 6)) as cost_usd,
        cast(coalesce(daily_costs.cost, 0) as decimal(18, 6)) as cost
    from daily_metrics
    left join daily_costs
        on daily_metrics.campaign_id = daily_costs.campaign_id
        and daily_metrics.cohort_date = daily_costs.cohort_date
    left join campaigns
        on daily_metrics.campaign_id = campaigns.campaign_id
),

final as (
    select
        account_id,
        campaign_id,
        cohort_date,
        currency,
        delivered,
        opens,
        clicks,
        conversions,
        revenue,
        billable_messages,
        free_messages,
        messages_without_pricing,
        messages_without_rate,
        messages_without_fx,
        costed_messages,
        cost_usd,
        cost,
        {{ safe_divide('costed_messages', 'delivered') }} as cost_coverage,
        {{ safe_divide('cost', 'costed_messages') }} as cost_per_delivered,
        {{ safe_divide('cost', 'opens') }} as cost_per_read,
        {{ safe_divide('cost', 'clicks') }} as cost_per_click,
        {{ safe_divide('cost', 'conversions') }} as cost_per_conversion,
        {{ safe_divide('revenue', 'cost') }} as roas
    from costed_days
)

select * from final
