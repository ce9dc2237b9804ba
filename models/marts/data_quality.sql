with

checks as (
    select * from {{ ref('int_data_quality_checks') }}
),

final as (
    select
        check_name,
        source,
        cast(rows as bigint) as rows,
        details
    from checks
)

select * from final
