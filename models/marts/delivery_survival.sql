{#
  The pending survival curve: one row per (account, campaign, cohort date,
  horizon) for every cohort date with sent messages and each horizon of
  1 h, 6 h, 24 h, 72 h, 7 d (168 h) and 30 d (720 h).

  Right-censoring: a message can be judged at horizon H only once its
  attempted_at + H is at or before as_of. Those messages are `at_risk`; of
  them, `without_report` had no delivery report (no delivered, read or played
  status and no failed status) at or before attempted_at + H. A later message
  is left out of that horizon's row altogether (never counted as still
  pending), so a recent day has at_risk = 0 at the long horizons.

  The counts are additive over cohort dates, campaigns and accounts for one
  horizon: the curve over any range is sum(without_report) / sum(at_risk) per
  horizon. A receiver outage (webhooks not reaching the warehouse) shows as
  the share without a report staying high past the first hours.
#}

{%- set horizons = [
    (1, '1 h'), (6, '6 h'), (24, '24 h'), (72, '72 h'), (168, '7 d'), (720, '30 d')
] %}

with

as_of_time as (
    select {{ as_of() }} as as_of
),

messages as (
    select * from {{ ref('int_messages') }}
    where is_sent
),

-- the first delivery report (delivery or failure) at or before as_of (least skips a null);
-- null when there is none: "no report yet" at every horizon
message_reports as (
    select
        messages.account_id,
        messages.campaign_id,
        messages.cohort_date,
        messages.attempted_at,
        as_of_time.as_of,
        least(
            case when messages.delivered_at <= as_of_time.as_of then messages.delivered_at end,
            case
                when messages.first_failed_at <= as_of_time.as_of
                    then messages.first_failed_at
            end
        ) as first_report_at
    from messages
    cross join as_of_time
),

-- each message's end of every horizon: attempted_at + H
message_horizon_ends as (
    select
        account_id,
        campaign_id,
        cohort_date,
        as_of,
        first_report_at
        {%- for hours, label in horizons %},
        {{ add_hours('attempted_at', hours) }} as ends_{{ hours }}{% endfor %}
    from message_reports
),

-- one pass over the messages: every horizon's counts side by side
cohort_counts as (
    select
        account_id,
        campaign_id,
        cohort_date,
        count(*) as sent
        {%- for hours, label in horizons %},
        count(*) filter (where ends_{{ hours }} <= as_of) as at_risk_{{ hours }},
        count(*) filter (
            where ends_{{ hours }} <= as_of
            and (first_report_at is null or first_report_at > ends_{{ hours }})
        ) as without_report_{{ hours }}{% endfor %}
    from message_horizon_ends
    group by account_id, campaign_id, cohort_date
),

horizons as (
    {%- for hours, label in horizons %}
    select
        cast({{ hours }} as integer) as horizon_hours,
        cast('{{ label }}' as string) as horizon_label
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

final as (
    select
        cohort_counts.account_id,
        cohort_counts.campaign_id,
        cohort_counts.cohort_date,
        horizons.horizon_hours,
        horizons.horizon_label,
        cast(cohort_counts.sent as bigint) as sent,
        cast(case horizons.horizon_hours
            {%- for hours, label in horizons %}
            when {{ hours }} then cohort_counts.at_risk_{{ hours }}{% endfor %}
        end as bigint) as at_risk,
        cast(case horizons.horizon_hours
            {%- for hours, label in horizons %}
            when {{ hours }} then cohort_counts.without_report_{{ hours }}{% endfor %}
        end as bigint) as without_report
    from cohort_counts
    cross join horizons
)

select * from final
