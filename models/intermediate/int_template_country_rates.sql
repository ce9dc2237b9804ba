{#
  One row per (account, template, language, recipient country) with messages
  sent in the 30 days (720 h) ending at as_of: delivered, opened and
  delivered-and-clicked messages, states as of as_of. The input of
  template_benchmarks. Messages to numbers that are not E.164 (no country)
  are left out.
#}
with

messages as (
    select * from {{ ref('int_messages') }}
    where is_sent
        and recipient_country is not null
        and attempted_at > {{ add_hours(as_of(), -720) }}
),

campaigns as (
    select * from {{ ref('int_campaigns') }}
),

clicked_messages as (
    select distinct dispatch_id
    from {{ ref('int_clicks') }}
    where is_known_message
),

template_rates as (
    select
        messages.account_id,
        campaigns.template_name,
        campaigns.template_language,
        messages.recipient_country,
        max(campaigns.template_category) as template_category,
        max(campaigns.industry) as industry,
        count(*) filter (where messages.is_delivered) as delivered,
        count(*) filter (where messages.is_opened) as opens,
        count(*) filter (where messages.is_delivered and clicked_messages.dispatch_id is not null)
            as delivered_clicked
    from messages
    inner join campaigns
        on messages.campaign_id = campaigns.campaign_id
    left join clicked_messages
        on messages.dispatch_id = clicked_messages.dispatch_id
    where campaigns.template_name is not null
    group by
        messages.account_id,
        campaigns.template_name,
        campaigns.template_language,
        messages.recipient_country
)

select * from template_rates
