with

reasons as (
    select * from {{ ref('reasons') }}
),

final as (
    select
        kind,
        reason,
        description,
        possible_solution
    from reasons
)

select * from final
