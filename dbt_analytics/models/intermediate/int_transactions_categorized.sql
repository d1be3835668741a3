-- Every transaction of the window's applications with its rule-based category.
--
-- Descriptions repeat heavily (a payroll line, a utility, a grocer), so each distinct
-- (description, direction) is matched against the patterns once and the result joined back:
-- the regular expressions run per distinct description, not per transaction.

with transactions as (
    select *
    from {{ ref('stg_silver__transactions') }}
    where {{ in_partition_window('application_date') }}
),

patterns as (
    select category, direction, priority, pattern
    from {{ ref('transaction_patterns') }}
),

distinct_descriptions as (
    select distinct
        upper(trim(description)) as description_key,
        amount > 0 as is_credit
    from transactions
),

matches as (
    select
        distinct_descriptions.description_key,
        distinct_descriptions.is_credit,
        arg_min(patterns.category, patterns.priority) as category
    from distinct_descriptions
    inner join patterns
        on (
            patterns.direction = 'any'
            or (patterns.direction = 'credit' and distinct_descriptions.is_credit)
            or (patterns.direction = 'debit' and not distinct_descriptions.is_credit)
        )
        and regexp_matches(distinct_descriptions.description_key, patterns.pattern)
    group by all
),

final as (
    select
        transactions.application_id,
        transactions.application_date,
        transactions.transaction_id,
        transactions.account_id,
        transactions.account_category,
        coalesce(transactions.account_category = 'Operations', false) as is_operating_account,
        transactions.posted_date,
        transactions.description,
        transactions.amount,
        transactions.balance,
        transactions.feed_position,
        coalesce(matches.category, 'other') as category
    from transactions
    left join matches
        on upper(trim(transactions.description)) = matches.description_key
        and (transactions.amount > 0) = matches.is_credit
)

select * from final
