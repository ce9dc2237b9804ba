select
    source,
    file,
    line_number,
    raw_text,
    reason,
    line_number is null and reason like 'file name%' as is_unknown_file,
    quarantined_at
from {{ source('raw', '_quarantine') }}
