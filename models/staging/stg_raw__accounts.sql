with

accounts as (
    select * from {{ source('raw', 'accounts') }}
),

deduplicated as (
    {{ deduplicate('accounts', 'account_id', '_loaded_at desc, _row_number desc') }}
)

select
    account_id,
    account_name,
    industry,
    country as account_country,
    timezone,
    currency as account_currency,
    copies_received
from deduplicated
