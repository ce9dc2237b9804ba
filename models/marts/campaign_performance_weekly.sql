{{ campaign_performance_by_period(week_start('cohort_date')) }}
