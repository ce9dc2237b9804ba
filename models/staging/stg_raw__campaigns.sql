with

campaigns as (
    select * from {{ source('raw', 'campaigns') }}
),

deduplicated as (
    {{ deduplicate('campaigns', 'campaign_id', '_file_day desc, _row_number desc') }}
)

select
    campaign_id,
    account_id,
    campaign_name,
    campaign_type,
    template_name,
    template_language,
    template_category,
    goal_event,
    conversion_window_hours,
    created_at,
    _file_day as snapshot_day,
    copies_received
from deduplicated
