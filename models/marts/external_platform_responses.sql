{{ config(materialized=view_materialization()) }}

{#
  External platform response options, ready for BI: the rows of
  response_summary whose button hands the conversation to an external
  platform, with their button clicks (= responses: presses of the option,
  never link clicks) and the button click rate against the delivered
  messages of the same campaign and cohort date.
#}
with

responses as (
    select * from {{ ref('response_summary') }}
    where is_external_platform
),

daily_metrics as (
    select * from {{ ref('int_campaign_daily_metrics') }}
),

final as (
    select
        responses.account_id,
        responses.campaign_id,
        responses.cohort_date,
        responses.card_index,
        responses.button_id,
        responses.button_text,
        responses.responses as button_clicks,
        responses.unique_responders,
        responses.responder_conversions,
        daily_metrics.delivered,
        {{ safe_divide('responses.responses', 'daily_metrics.delivered') }} as button_click_rate
    from responses
    left join daily_metrics
        on responses.account_id = daily_metrics.account_id
        and responses.campaign_id = daily_metrics.campaign_id
        and responses.cohort_date = daily_metrics.cohort_date
)

select * from final
