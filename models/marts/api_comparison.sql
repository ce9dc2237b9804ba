{#
  Marketing Messages API vs Cloud API: one row per (account, template, api,
  cohort date) with messages sent, states as of as_of. cohort_date is the
  attempt's calendar date in the account's time zone; api is the dispatch's
  (cloud_api when the extract did not say). Counts are additive, so any range
  of cohort dates (and templates, accounts) sums, and rates are recomputed
  from the summed counts: delivery rate = delivered / sent, read rate = opens
  / delivered, click rate = delivered_clicked / delivered.

  delivered_clicked: delivered messages with at least one known click at or
  before as_of (each message once, as in template_benchmarks). Messages of a
  campaign no snapshot gives a template name are left out (no template to
  compare). No phone numbers: only ids and counts.
#}
with

messages as (
    select * from {{ ref('int_messages') }}
    where is_sent
),

campaigns as (
    select * from {{ ref('int_campaigns') }}
),

clicked_messages as (
    select distinct dispatch_id
    from {{ ref('int_clicks') }}
    where is_known_message
        and clicked_at <= {{ as_of() }}
),

template_messages as (
    select
        messages.account_id,
        campaigns.template_name,
        messages.api,
        messages.cohort_date,
        messages.is_delivered,
        messages.is_opened,
        messages.is_delivered and clicked_messages.dispatch_id is not null as is_delivered_clicked
    from messages
    inner join campaigns
        on messages.campaign_id = campaigns.campaign_id
    left join clicked_messages
        on messages.dispatch_id = clicked_messages.dispatch_id
    where campaigns.template_name is not null
),

final as (
    select
        account_id,
        template_name,
        api,
        cohort_date,
        count(*) as sent,
        count(*) filter (where is_delivered) as delivered,
        count(*) filter (where is_opened) as opens,
        count(*) filter (where is_delivered_clicked) as delivered_clicked
    from template_messages
    group by account_id, template_name, api, cohort_date
)

select
    account_id,
    template_name,
    api,
    cohort_date,
    sent,
    delivered,
    opens,
    delivered_clicked
from final
