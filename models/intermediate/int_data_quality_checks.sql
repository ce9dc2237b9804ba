{#
  One row per (check_name, source) of the data_quality mart. Every check is
  always present: a check with nothing to report has rows = 0.
#}
{%- set sources = [
    'accounts', 'campaigns', 'templates', 'dispatches',
    'webhooks', 'clicks', 'conversions', 'unsubscribes',
] -%}
with

extract_sources as (
    select extract_sources.source
    from (
        values
        {%- for s in sources %}{{ ',' if not loop.first }}
        ('{{ s }}'){% endfor %}
    ) as extract_sources (source)
),

quarantine as (
    select * from {{ ref('stg_raw__quarantine') }}
),

quarantined_rows as (
    select
        'quarantined_rows' as check_name,
        extract_sources.source,
        count(quarantine.source) as rows,
        coalesce(
            {{ string_agg_ordered('quarantine.reason', '; ', distinct=true) }},
            'nothing quarantined'
        ) as details
    from extract_sources
    left join quarantine
        on extract_sources.source = quarantine.source
        and not quarantine.is_unknown_file
    group by extract_sources.source
),

unknown_files as (
    select
        'unknown_files' as check_name,
        cast(null as string) as source,
        count(*) as rows,
        coalesce({{ string_agg_ordered('file', ', ') }}, 'every file matches the layout')
            as details
    from quarantine
    where is_unknown_file
),

duplicates as (
    {%- set deduplicated = [
        ('dispatches', 'stg_raw__dispatches', 'dispatches'),
        ('webhooks', 'stg_raw__webhook_statuses', 'statuses'),
        ('webhooks', 'stg_raw__webhook_messages', 'inbound messages'),
        ('clicks', 'stg_raw__clicks', 'clicks'),
        ('conversions', 'stg_raw__conversions', 'conversions'),
        ('unsubscribes', 'stg_raw__unsubscribes', 'unsubscribes'),
    ] %}
    {%- for source, model, noun in deduplicated %}
    select
        '{{ source }}' as source,
        '{{ noun }}' as noun,
        coalesce(sum(copies_received - 1), 0) as rows
    from {{ ref(model) }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

duplicates_removed as (
    select
        'duplicates_removed' as check_name,
        source,
        sum(rows) as rows,
        {{ string_agg_ordered("rows || ' ' || noun", ', ', order_by='noun') }}
        || ' removed as duplicate copies' as details
    from duplicates
    group by source
),

known_wamids as (
    select wamid from {{ ref('int_messages') }}
    where wamid is not null
),

statuses_of_unknown_wamids as (
    select count(*) as rows
    from {{ ref('stg_raw__webhook_statuses') }} as statuses
    where statuses.status_at <= {{ as_of() }}
        and statuses.wamid not in (select known_wamids.wamid from known_wamids)
),

unknown_wamid_counts as (
    select 'webhooks' as source, 'statuses' as noun, rows from statuses_of_unknown_wamids
    union all
    select
        'webhooks' as source,
        'replies' as noun,
        count(*) filter (where not is_known_message) as rows
    from {{ ref('int_responses') }}
    union all
    select
        'clicks' as source,
        'clicks' as noun,
        count(*) filter (where not is_known_message) as rows
    from {{ ref('int_clicks') }}
    union all
    select
        'unsubscribes' as source,
        'unsubscribes' as noun,
        count(*) filter (where has_unknown_wamid) as rows
    from {{ ref('int_unsubscribes_attributed') }}
),

unknown_wamids as (
    select
        'unknown_wamids' as check_name,
        source,
        sum(rows) as rows,
        (
            {{ string_agg_ordered("rows || ' ' || noun", ', ', order_by='noun') }}
            || ' name a wamid no dispatch knows (kept in staging, left out of campaign marts)'
        ) as details
    from unknown_wamid_counts
    group by source
),

unmapped_messages as (
    select
        is_dropped,
        is_undelivered,
        case
            when is_undelivered
                then 'webhook ' || coalesce(cast(error_code as string), 'without code')
            when drop_code = 'META_API_ERROR'
                then 'send call ' || coalesce(cast(error_code as string), 'without code')
            else 'drop code ' || coalesce(drop_code, 'missing')
        end as unmapped_code
    from {{ ref('int_messages') }}
    where dropped_reason = 'Unmapped Error' or undelivered_reason = 'Unmapped Error'
),

unmapped_codes as (
    select
        'unmapped_codes' as check_name,
        cast(null as string) as source,
        count(*) as rows,
        (
            count(*) filter (where is_dropped) || ' dropped, '
            || count(*) filter (where is_undelivered)
            || ' undelivered messages under Unmapped Error'
            || coalesce(
                ' (codes: '
                || {{ string_agg_ordered('unmapped_code', ', ', distinct=true) }}
                || ')',
                ''
            )
        ) as details
    from unmapped_messages
),

currency_mismatches as (
    select
        'currency_mismatches' as check_name,
        'conversions' as source,
        count(*) as rows,
        (
            'attributed conversions in another currency than the account''s: '
            || 'counted, revenue not summed'
        ) as details
    from {{ ref('int_conversions_attributed') }}
    where is_attributed and is_currency_mismatch
),

unattributed_unsubscribes as (
    select
        'unattributed_unsubscribes' as check_name,
        'unsubscribes' as source,
        count(*) filter (where not is_attributed) as rows,
        (
            'unsubscribes matched to no campaign message (unknown wamid, '
            || 'or no delivered message in the 168 h before)'
        ) as details
    from {{ ref('int_unsubscribes_attributed') }}
),

unknown_reply_payloads as (
    select
        'unknown_reply_payloads' as check_name,
        'webhooks' as source,
        count(*) as rows,
        (
            'replies whose button payload matches no button of the campaign''s template'
            || coalesce(
                ' (' || {{ string_agg_ordered('button_id', ', ', distinct=true) }} || ')', ''
            )
            || ': counted under the raw payload'
        ) as details
    from {{ ref('int_responses') }}
    where is_known_message and response_kind = 'unknown_payload'
),

unpriced_messages as (
    select
        'unpriced_messages' as check_name,
        cast(null as string) as source,
        coalesce(sum(messages), 0) as rows,
        case
            when count(*) = 0 then 'every delivered message has a known cost'
            else
                'delivered messages whose cost is unknown (campaign_costs): '
                || coalesce(sum(messages) filter (where cost_status = 'no pricing'), 0)
                || ' without pricing in their webhooks; '
                || coalesce(sum(messages) filter (where cost_status = 'no rate'), 0)
                || ' without a rate in whatsapp_message_rates'
                || coalesce(
                    ' (' || {{ string_agg_ordered(
                        "coalesce(recipient_country, 'unknown market') || ' ' || pricing_category",
                        ', ', distinct=true, where="cost_status = 'no rate'"
                    ) }} || ')',
                    ''
                )
                || '; '
                || coalesce(sum(messages) filter (where cost_status = 'no exchange rate'), 0)
                || ' without an exchange rate in fx_rates'
                || coalesce(
                    ' (' || {{ string_agg_ordered(
                        'currency', ', ', distinct=true, where="cost_status = 'no exchange rate'"
                    ) }} || ')',
                    ''
                )
        end as details
    from {{ ref('int_message_costs') }}
    where cost_status in ('no pricing', 'no rate', 'no exchange rate')
),

final as (
    {%- for check in [
        'quarantined_rows', 'unknown_files', 'duplicates_removed', 'unknown_wamids',
        'unmapped_codes', 'currency_mismatches', 'unattributed_unsubscribes',
        'unknown_reply_payloads', 'unpriced_messages',
    ] %}
    select check_name, source, rows, details from {{ check }}
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select * from final
