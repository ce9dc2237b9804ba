{#
  One row per dispatch attempted by `as_of`, with its message state as of
  `as_of` (precedence in marts.md): delivered (any delivered/read/played),
  opened (read), undelivered (failed, reason by the earliest failed status'
  code), undelivered "Delivery Report Missing" (no delivery or failure report
  720 h after the attempt), otherwise delivery pending. Dropped dispatches
  carry their dropped reason.

  A view over int_message_timelines: the state is the timeline read at
  as_of, so every run evaluates it for every message at no storage cost and
  nothing here has to be maintained incrementally. api: null in timeline rows
  built before the column existed, which were all Cloud API sends.

  Holdout dispatches (result HOLDOUT: the campaign's control group, never
  sent) are not targeted messages and are left out here, so no mart that
  counts messages counts them (targeted = sent + dropped); holdout_uplift
  reads them from int_message_timelines. is_holdout is null in timeline rows
  built before the column existed: not holdout.
#}
{{ config(materialized=view_materialization()) }}

with

timelines as (
    select * from {{ ref('int_message_timelines') }}
    where attempted_at <= {{ as_of() }}
        and not coalesce(is_holdout, false)
),

error_code_reasons as (
    select * from {{ ref('error_code_reasons') }}
),

drop_code_reasons as (
    select * from {{ ref('drop_code_reasons') }}
),

as_of_facts as (
    select
        *,
        coalesce(first_status_at <= {{ as_of() }}, false) as has_status_by_as_of,
        coalesce(delivered_at <= {{ as_of() }}, false) as has_delivery_status,
        coalesce(read_at <= {{ as_of() }}, false) as has_read_status,
        coalesce(first_failed_at <= {{ as_of() }}, false) as has_failed_status,
        coalesce(marketing_opt_out_at <= {{ as_of() }}, false) as has_marketing_opt_out_status,
        {{ hours_between('attempted_at', as_of()) }} >= 720 as is_past_report_deadline
    from timelines
),

messages as (
    select
        as_of_facts.*,
        case
            when drop_code_reasons.uses_meta_error_code then send_call_reasons.reason
            else drop_code_reasons.reason
        end as mapped_dropped_reason,
        webhook_reasons.reason as failed_code_reason
    from as_of_facts
    left join drop_code_reasons
        on as_of_facts.is_dropped
        and as_of_facts.drop_code = drop_code_reasons.drop_code
    left join error_code_reasons as send_call_reasons
        on as_of_facts.is_dropped
        and send_call_reasons.channel = 'send_call'
        and as_of_facts.meta_error_code = send_call_reasons.error_code
    left join error_code_reasons as webhook_reasons
        on as_of_facts.has_failed_status
        and webhook_reasons.channel = 'webhook'
        and as_of_facts.failed_error_code = webhook_reasons.error_code
),

final as (
    select
        dispatch_id,
        account_id,
        campaign_id,
        send_id,
        user_id,
        wamid,
        recipient_country,
        attempted_at,
        cohort_date,
        coalesce(api, 'cloud_api') as api,
        case
            when is_dropped then 'dropped'
            when has_delivery_status then 'delivered'
            when has_failed_status or is_past_report_deadline then 'undelivered'
            else 'pending'
        end as message_state,
        is_sent,
        is_dropped,
        is_sent and has_status_by_as_of as has_any_status,
        is_sent and has_delivery_status as is_delivered,
        is_sent and has_read_status as is_opened,
        (
            is_sent and not has_delivery_status
            and (has_failed_status or is_past_report_deadline)
        ) as is_undelivered,
        (
            is_sent and not has_delivery_status
            and not has_failed_status and not is_past_report_deadline
        ) as is_delivery_pending,
        is_sent and has_marketing_opt_out_status as is_marketing_opt_out_signal,
        pricing_category,
        is_billable,
        case when has_delivery_status then delivered_at end as delivered_at,
        case when has_read_status then read_at end as read_at,
        case when has_failed_status then first_failed_at end as first_failed_at,
        case when is_dropped then coalesce(mapped_dropped_reason, 'Unmapped Error') end
            as dropped_reason,
        case
            when not is_sent or has_delivery_status then null
            when has_failed_status then coalesce(failed_code_reason, 'Unmapped Error')
            when is_past_report_deadline then 'Delivery Report Missing'
        end as undelivered_reason,
        case when is_dropped then drop_code end as drop_code,
        case
            when is_dropped then meta_error_code
            when is_sent and not has_delivery_status and has_failed_status then failed_error_code
        end as error_code
    from messages
)

select * from final
