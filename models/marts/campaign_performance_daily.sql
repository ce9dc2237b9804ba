{{ campaign_performance_by_period('cohort_date') }}
