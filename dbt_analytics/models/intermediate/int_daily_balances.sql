-- One row per operating account per calendar day of the application's 90-day window
-- (A-90 ... A-1): the account's end-of-day balance.
--
-- End-of-day balance: the Balance of the account's chronologically last transaction on or
-- before that day (the feed is newest first, so within a day the lowest feed position was
-- posted last); before the account's first transaction, its opening balance (that first
-- transaction's Balance minus its signed amount).

with transactions as (
    select *
    from {{ ref('int_transactions_categorized') }}
    where {{ in_partition_window('application_date') }}
        and is_operating_account
),

ordered as (
    select
        *,
        row_number() over (
            partition by application_id, account_id
            order by posted_date asc, feed_position desc
        ) as chronological_rank
    from transactions
),

accounts as (
    select
        application_id,
        application_date,
        account_id,
        balance - amount as opening_balance,
        posted_date as first_posted_date
    from ordered
    where chronological_rank = 1
),

end_of_posting_day as (
    select
        application_id,
        account_id,
        posted_date,
        arg_min(balance, feed_position) as end_of_day_balance
    from transactions
    group by all
),

calendar as (
    select
        accounts.*,
        unnest(
            generate_series(
                accounts.application_date - interval 90 day,
                accounts.application_date - interval 1 day,
                interval 1 day
            )
        )::date as balance_date
    from accounts
),

final as (
    select
        calendar.application_id,
        calendar.application_date,
        calendar.account_id,
        calendar.balance_date,
        coalesce(end_of_posting_day.end_of_day_balance, calendar.opening_balance)
            as end_of_day_balance,
        end_of_posting_day.posted_date is null as before_first_transaction
    from calendar
    asof left join end_of_posting_day
        on calendar.application_id = end_of_posting_day.application_id
        and calendar.account_id = end_of_posting_day.account_id
        and calendar.balance_date >= end_of_posting_day.posted_date
)

select * from final
