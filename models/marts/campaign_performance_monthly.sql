{{ campaign_performance_by_period(month_start('cohort_date')) }}
