{{
    config(
        materialized="incremental",
        incremental_strategy="replace_changed",
        unique_key=["account_id", "campaign_id", "period_start"],
        tags=["partitioned", "weekly"],
        meta={"incremental": {
            "upstream": ["int_campaign_daily_metrics"],
            "as_of_sensitive": false,
            "period_column": "period_start",
        }},
        post_hook="{{ record_incremental_state() }}",
    )
}}

{{ campaign_performance_by_period(week_start('cohort_date')) }}
