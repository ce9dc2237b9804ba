with

campaigns as (
    select * from {{ ref('int_campaigns') }}
),

daily_metrics as (
    select * from {{ ref('int_campaign_daily_metrics') }}
),

campaign_totals as (
    select
        account_id,
        campaign_id
        {%- for column in campaign_count_columns() %},
        {{ sum_metric(column) }} as {{ column }}{% endfor %}
    from daily_metrics
    group by account_id, campaign_id
),

zero_filled as (
    select
        campaigns.account_id,
        campaigns.campaign_id,
        campaigns.campaign_name,
        campaigns.campaign_type,
        campaigns.template_name,
        campaigns.template_category
        {%- for column in campaign_count_columns() %},
        coalesce(campaign_totals.{{ column }}, 0) as {{ column }}{% endfor %}
    from campaigns
    left join campaign_totals
        on campaigns.account_id = campaign_totals.account_id
        and campaigns.campaign_id = campaign_totals.campaign_id
),

final as (
    select
        account_id,
        campaign_id,
        campaign_name,
        campaign_type,
        template_name,
        template_category,
        {%- for column in campaign_count_columns() %}
        {{ column }},
        {%- endfor %}
        {{ campaign_rate_columns() }}
    from zero_filled
)

select * from final
