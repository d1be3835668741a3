with source as (
    select * from {{ source('silver', 'accounts') }}
),

final as (
    select
        application_id::varchar as application_id,
        application_date::date as application_date,
        account_id::varchar as account_id,
        title::varchar as account_title,
        account_number_masked::varchar as account_number_masked,
        category::varchar as account_category,
        type::varchar as account_type,
        currency::varchar as currency,
        balance_current::double as balance_current,
        balance_available::double as balance_available,
        balance_limit::double as balance_limit,
        institution::varchar as institution,
        fetched_at::timestamptz as fetched_at
    from source
)

select * from final
