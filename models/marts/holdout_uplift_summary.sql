{#
  Holdout uplift per campaign over its whole history: holdout_uplift summed
  over every cohort date, the conversion rates and revenue per recipient of
  both groups, their differences (treated - holdout) and 95 % intervals.

  Conversion uplift: Newcombe's hybrid score interval (method 10 of Newcombe
  1998, the two groups' Wilson score intervals combined square-and-add).
  Revenue per recipient uplift: normal approximation, difference ± z·√(s1²/n1 +
  s2²/n2) with each group's sample variance from its sum and sum of squares
  (null when a group has fewer than two recipients). Bounds are rounded to 6
  decimals (rates) and 4 (money); orchestration/stats.py computes the same for
  any date range from holdout_uplift's additive counts.
#}
with

daily as (
    select * from {{ ref('holdout_uplift') }}
),

campaign_totals as (
    select
        account_id,
        campaign_id,
        min(cohort_date) as first_cohort_date,
        max(cohort_date) as last_cohort_date,
        cast(sum(treated_recipients) as bigint) as treated_recipients,
        cast(sum(treated_converters) as bigint) as treated_converters,
        cast(sum(treated_revenue) as decimal(18, 4)) as treated_revenue,
        cast(sum(treated_revenue_sum_squares) as decimal(38, 8))
            as treated_revenue_sum_squares,
        cast(sum(holdout_recipients) as bigint) as holdout_recipients,
        cast(sum(holdout_converters) as bigint) as holdout_converters,
        cast(sum(holdout_revenue) as decimal(18, 4)) as holdout_revenue,
        cast(sum(holdout_revenue_sum_squares) as decimal(38, 8))
            as holdout_revenue_sum_squares,
        any_value(currency) as currency
    from daily
    group by account_id, campaign_id
),

rates as (
    select
        *,
        {{ safe_divide('treated_converters', 'treated_recipients') }} as treated_conversion_rate,
        {{ safe_divide('holdout_converters', 'holdout_recipients') }} as holdout_conversion_rate,
        {{ wilson_bound('treated_converters', 'treated_recipients', 'lower') }}
            as treated_wilson_lower,
        {{ wilson_bound('treated_converters', 'treated_recipients', 'upper') }}
            as treated_wilson_upper,
        {{ wilson_bound('holdout_converters', 'holdout_recipients', 'lower') }}
            as holdout_wilson_lower,
        {{ wilson_bound('holdout_converters', 'holdout_recipients', 'upper') }}
            as holdout_wilson_upper,
        {{ proportion_difference(
            'treated_converters', 'treated_recipients', 'holdout_converters', 'holdout_recipients'
        ) }} as conversion_uplift,
        {{ safe_divide('treated_revenue', 'treated_recipients') }} as treated_revenue_per_recipient,
        {{ safe_divide('holdout_revenue', 'holdout_recipients') }} as holdout_revenue_per_recipient,
        {{ variance_of_mean(
            'treated_revenue', 'treated_revenue_sum_squares', 'treated_recipients'
        ) }}
            as treated_variance_of_mean,
        {{ variance_of_mean(
            'holdout_revenue', 'holdout_revenue_sum_squares', 'holdout_recipients'
        ) }}
            as holdout_variance_of_mean
    from campaign_totals
),

intervals as (
    select
        *,
        {%- for side in ['lower', 'upper'] %}
        round({{ newcombe_bound(
            'conversion_uplift',
            'treated_conversion_rate', 'treated_wilson_lower', 'treated_wilson_upper',
            'holdout_conversion_rate', 'holdout_wilson_lower', 'holdout_wilson_upper',
            side,
        ) }}, 6) as conversion_uplift_ci_{{ side }},
        {%- endfor %}
        treated_revenue_per_recipient - holdout_revenue_per_recipient
            as revenue_per_recipient_uplift,
        {{ z_95() }} * sqrt(treated_variance_of_mean + holdout_variance_of_mean)
            as revenue_half_width
    from rates
),

final as (
    select
        account_id,
        campaign_id,
        first_cohort_date,
        last_cohort_date,
        treated_recipients,
        treated_converters,
        treated_revenue,
        holdout_recipients,
        holdout_converters,
        holdout_revenue,
        currency,
        treated_conversion_rate,
        holdout_conversion_rate,
        conversion_uplift,
        conversion_uplift_ci_lower,
        conversion_uplift_ci_upper,
        treated_revenue_per_recipient,
        holdout_revenue_per_recipient,
        revenue_per_recipient_uplift,
        round(revenue_per_recipient_uplift - revenue_half_width, 4)
            as revenue_per_recipient_uplift_ci_lower,
        round(revenue_per_recipient_uplift + revenue_half_width, 4)
            as revenue_per_recipient_uplift_ci_upper
    from intervals
)

select * from final
