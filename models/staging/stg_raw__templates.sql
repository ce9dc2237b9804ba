{# One row per template (account_id, template_name, language): the newest file wins. #}
with

templates as (
    select * from {{ source('raw', 'templates') }}
),

deduplicated as (
    {{ deduplicate(
        'templates', 'account_id, template_name, language', '_file_day desc, _row_number desc'
    ) }}
)

select
    account_id,
    template_name,
    language as template_language,
    upper(category) as template_category,
    status as template_status,
    components,
    _file_day as snapshot_day,
    copies_received
from deduplicated
