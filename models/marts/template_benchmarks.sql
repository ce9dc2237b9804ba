{#
  Read-rate and click-rate benchmarks for the 30 days (720 h) ending at
  as_of, per template and recipient country. A cohort is (recipient country,
  account industry, template category); its benchmark is the 75th percentile
  (continuous, linear interpolation) of the rates of the cohort's templates
  that delivered at least 100 messages in the window, published only when at
  least 5 distinct accounts contribute to it, otherwise null.
#}
{%- set min_delivered = var('benchmark_min_delivered', 100) -%}
{%- set min_accounts = var('benchmark_min_accounts', 5) -%}
with

template_rates as (
    select * from {{ ref('int_template_country_rates') }}
),

with_rates as (
    select
        *,
        {{ safe_divide('opens', 'delivered') }} as read_rate,
        {{ safe_divide('delivered_clicked', 'delivered') }} as click_rate
    from template_rates
),

cohort_benchmarks as (
    select
        recipient_country,
        industry,
        template_category,
        count(distinct account_id) as cohort_accounts,
        {{ percentile_cont('read_rate', 0.75) }} as read_rate_p75,
        {{ percentile_cont('click_rate', 0.75) }} as click_rate_p75
    from with_rates
    where delivered >= {{ min_delivered }}
    group by recipient_country, industry, template_category
),

final as (
    select
        with_rates.account_id,
        with_rates.template_name,
        with_rates.template_language,
        with_rates.recipient_country,
        cast({{ as_of() }} as date) as window_end,
        with_rates.template_category,
        with_rates.industry,
        with_rates.delivered,
        with_rates.read_rate,
        with_rates.click_rate,
        case
            when cohort_benchmarks.cohort_accounts >= {{ min_accounts }}
                then cohort_benchmarks.read_rate_p75
        end as benchmark_read_rate,
        case
            when cohort_benchmarks.cohort_accounts >= {{ min_accounts }}
                then cohort_benchmarks.click_rate_p75
        end as benchmark_click_rate,
        coalesce(cohort_benchmarks.cohort_accounts, 0) as cohort_accounts,
        with_rates.read_rate - case
            when cohort_benchmarks.cohort_accounts >= {{ min_accounts }}
                then cohort_benchmarks.read_rate_p75
        end as read_rate_vs_benchmark,
        with_rates.click_rate - case
            when cohort_benchmarks.cohort_accounts >= {{ min_accounts }}
                then cohort_benchmarks.click_rate_p75
        end as click_rate_vs_benchmark
    from with_rates
    left join cohort_benchmarks
        on with_rates.recipient_country = cohort_benchmarks.recipient_country
        and with_rates.industry is not distinct from cohort_benchmarks.industry
        and with_rates.template_category is not distinct from cohort_benchmarks.template_category
)

select * from final
