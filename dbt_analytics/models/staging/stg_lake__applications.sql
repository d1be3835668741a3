with source as (
    select * from {{ source('lake', 'applications') }}
),

final as (
    select
        application_id::varchar as application_id,
        login_id::varchar as login_id,
        applied_at::timestamptz as applied_at,
        application_date::date as application_date,
        requested_amount::double as requested_amount
    from source
)

select * from final
