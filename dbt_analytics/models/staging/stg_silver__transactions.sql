with source as (
    select * from {{ source('silver', 'transactions') }}
),

final as (
    select
        application_id::varchar as application_id,
        application_date::date as application_date,
        transaction_id::varchar as transaction_id,
        account_id::varchar as account_id,
        account_category::varchar as account_category,
        account_type::varchar as account_type,
        currency::varchar as currency,
        posted_date::date as posted_date,
        description::varchar as description,
        amount::double as amount,
        balance::double as balance,
        feed_position::integer as feed_position
    from source
)

select * from final
