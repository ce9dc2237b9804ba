{#
  What the delivered messages of a campaign day cost, per market and pricing
  category. One row per (campaign, cohort date, recipient country, pricing
  category, billable flag): messages sharing those share one price, so the
  rate and exchange-rate lookups run once per group, not once per message.

  Rules (marts.md, "Cost and ROAS"):
  - Meta charges a template message when it is delivered: only messages
    delivered as of as_of cost anything.
  - The webhook's pricing decides: billable false is free; service and
    referral_conversion are free; marketing_lite (Marketing Messages API) is
    priced at the marketing rate. A delivered message whose statuses carried
    no pricing is not priced (cost_status 'no pricing').
  - The rate is the whatsapp_message_rates row of the message's market and
    category with the latest effective_from on or before its cohort date.
    No such row: 'no rate' (never a guessed price).
  - USD converts to the account currency through the euro with the fx_rates
    rows of each currency latest on or before the cohort date. No such row:
    cost_usd is known, cost is not ('no exchange rate').
#}
with

delivered_messages as (
    select
        account_id,
        campaign_id,
        cohort_date,
        recipient_country,
        pricing_category,
        is_billable
    from {{ ref('int_messages') }}
    where is_delivered
),

campaigns as (
    select campaign_id, account_currency from {{ ref('int_campaigns') }}
),

message_rates as (
    select * from {{ ref('whatsapp_message_rates') }}
),

fx_rates as (
    select * from {{ ref('fx_rates') }}
),

message_groups as (
    select
        delivered_messages.account_id,
        delivered_messages.campaign_id,
        delivered_messages.cohort_date,
        delivered_messages.recipient_country,
        delivered_messages.pricing_category,
        delivered_messages.is_billable,
        campaigns.account_currency as currency,
        count(*) as messages
    from delivered_messages
    left join campaigns
        on delivered_messages.campaign_id = campaigns.campaign_id
    group by
        delivered_messages.account_id,
        delivered_messages.campaign_id,
        delivered_messages.cohort_date,
        delivered_messages.recipient_country,
        delivered_messages.pricing_category,
        delivered_messages.is_billable,
        campaigns.account_currency
),

charged_groups as (
    select
        *,
        case
            when is_billable is null then 'no pricing'
            when not is_billable then 'free'
            when pricing_category in ('service', 'referral_conversion') then 'free'
        end as uncharged_status,
        case pricing_category
            when 'marketing_lite' then 'marketing'
            else pricing_category
        end as rate_category
    from message_groups
),

-- the latest rate effective on or before the cohort date, once per (market,
-- category, day) however many campaigns share it
day_rates as (
    select
        lookups.recipient_country,
        lookups.rate_category,
        lookups.cohort_date,
        {{ max_by('message_rates.rate_usd', 'message_rates.effective_from') }} as rate_usd
    from (
        select distinct recipient_country, rate_category, cohort_date
        from charged_groups
        where uncharged_status is null
    ) as lookups
    inner join message_rates
        on lookups.recipient_country = message_rates.market
        and lookups.rate_category = message_rates.pricing_category
        and lookups.cohort_date >= message_rates.effective_from
    group by lookups.recipient_country, lookups.rate_category, lookups.cohort_date
),

-- units per euro of USD and of the account currency, latest on or before the day
day_fx as (
    select
        lookups.currency,
        lookups.cohort_date,
        {{ max_by('usd.units_per_eur', 'usd.rate_date') }} as usd_per_eur,
        {{ max_by('account_fx.units_per_eur', 'account_fx.rate_date') }} as currency_per_eur
    from (select distinct currency, cohort_date from charged_groups) as lookups
    inner join fx_rates as usd
        on usd.currency = 'USD'
        and lookups.cohort_date >= usd.rate_date
    inner join fx_rates as account_fx
        on lookups.currency = account_fx.currency
        and lookups.cohort_date >= account_fx.rate_date
    group by lookups.currency, lookups.cohort_date
),

costed_groups as (
    select
        charged_groups.account_id,
        charged_groups.campaign_id,
        charged_groups.cohort_date,
        charged_groups.recipient_country,
        charged_groups.pricing_category,
        charged_groups.is_billable,
        charged_groups.currency,
        charged_groups.messages,
        day_rates.rate_usd,
        case
            when charged_groups.uncharged_status is not null then charged_groups.uncharged_status
            when day_rates.rate_usd is null then 'no rate'
            when day_fx.usd_per_eur is null then 'no exchange rate'
            else 'priced'
        end as cost_status,
        case
            when charged_groups.uncharged_status = 'free' then 0
            else charged_groups.messages * day_rates.rate_usd
        end as cost_usd,
        day_fx.currency_per_eur / day_fx.usd_per_eur as currency_per_usd
    from charged_groups
    left join day_rates
        on charged_groups.uncharged_status is null
        and charged_groups.recipient_country = day_rates.recipient_country
        and charged_groups.rate_category = day_rates.rate_category
        and charged_groups.cohort_date = day_rates.cohort_date
    left join day_fx
        on charged_groups.currency = day_fx.currency
        and charged_groups.cohort_date = day_fx.cohort_date
),

final as (
    select
        account_id,
        campaign_id,
        cohort_date,
        recipient_country,
        pricing_category,
        is_billable,
        currency,
        messages,
        cost_status,
        rate_usd,
        cast(cost_usd as decimal(18, 6)) as cost_usd,
        cast(
            case
                when cost_status = 'free' then 0
                when cost_status = 'priced' then cost_usd * currency_per_usd
            end as decimal(18, 6)
        ) as cost
    from costed_groups
)

select * from final
