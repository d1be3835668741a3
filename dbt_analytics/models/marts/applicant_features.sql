-- One row per application: the cash-flow features sent to the decision engine.
--
-- For an application applied on date A the window is the 90 calendar days A-90 ... A-1;
-- transactions on or after A never count. Definitions of every column: _marts__models.yml.

with applications as (
    select *
    from {{ ref('stg_lake__applications') }}
    where {{ in_partition_window('application_date') }}
),

accounts as (
    select
        application_id,
        count(*) as account_count,
        count(*) filter (where account_category = 'Operations') as operating_account_count
    from {{ ref('stg_silver__accounts') }}
    where {{ in_partition_window('application_date') }}
    group by all
),

transactions as (
    select *
    from {{ ref('int_transactions_categorized') }}
    where {{ in_partition_window('application_date') }}
),

history as (
    select
        application_id,
        min(posted_date) as earliest_posted_date
    from transactions
    group by all
),

window_transactions as (
    select
        *,
        amount > 0 as is_credit,
        -- 30-day block of the window (0, 1, 2) for monthly figures
        floor(datediff('day', application_date - interval 90 day, posted_date) / 30)::integer
            as month_block
    from transactions
    where posted_date >= application_date - interval 90 day
        and posted_date < application_date
),

flows as (
    select
        application_id,
        count(*) as transaction_count_90d,
        count(*) filter (where category = 'nsf_fee') as nsf_count_90d,
        count(*) filter (where category = 'overdraft_fee') as overdraft_fee_count_90d,
        count(*) filter (where category = 'loan_payment' and not is_credit)
            as loan_payment_count_90d,
        count(*) filter (where category = 'micro_lender' and not is_credit)
            as micro_lender_payment_count_90d,
        count(*) filter (where category = 'payroll' and is_operating_account)
            as payroll_deposit_count_90d,
        coalesce(sum(amount) filter (where is_operating_account and is_credit), 0)
            as total_inflow_90d,
        coalesce(-sum(amount) filter (where is_operating_account and not is_credit), 0)
            as total_outflow_90d,
        coalesce(
            sum(amount) filter (where is_operating_account and category = 'payroll'), 0
        ) as payroll_90d,
        coalesce(
            sum(amount) filter (
                where is_operating_account and category = 'government_benefit'
            ), 0
        ) as government_90d,
        coalesce(
            sum(amount) filter (
                where is_operating_account and is_credit and category in ('gig_income', 'other')
            ), 0
        ) as other_income_90d,
        coalesce(
            -sum(amount) filter (where not is_credit and category = 'loan_payment'), 0
        ) as loan_payments_90d,
        coalesce(
            -sum(amount) filter (where not is_credit and category = 'micro_lender'), 0
        ) as micro_loan_payments_90d,
        coalesce(-sum(amount) filter (where not is_credit and category = 'mortgage'), 0)
            as mortgage_payments_90d,
        coalesce(-sum(amount) filter (where not is_credit and category = 'rent'), 0)
            as rent_payments_90d,
        coalesce(
            -sum(amount) filter (
                where is_operating_account and not is_credit and category = 'own_transfer'
            ), 0
        ) as own_transfers_out_90d,
        coalesce(
            -sum(amount) filter (
                where is_operating_account and not is_credit and category = 'gambling'
            ), 0
        ) as gambling_outflow_90d
    from window_transactions
    group by all
),

monthly_outflows as (
    select
        applications.application_id,
        blocks.month_block,
        coalesce(
            -sum(window_transactions.amount) filter (
                where window_transactions.is_operating_account and not window_transactions.is_credit
            ), 0
        ) as outflow
    from applications
    cross join (select unnest([0, 1, 2]) as month_block) as blocks
    left join window_transactions
        on applications.application_id = window_transactions.application_id
        and blocks.month_block = window_transactions.month_block
    group by all
),

outflow_medians as (
    select application_id, median(outflow) as median_monthly_outflow
    from monthly_outflows
    group by all
),

payroll_dates as (
    select distinct application_id, posted_date
    from window_transactions
    where category = 'payroll' and is_operating_account
),

payroll_gaps as (
    select
        application_id,
        datediff(
            'day',
            lag(posted_date) over (partition by application_id order by posted_date),
            posted_date
        ) as gap_days
    from payroll_dates
),

pay_cycles as (
    select
        application_id,
        median(gap_days) as median_pay_gap_days,
        stddev_samp(gap_days) / nullif(avg(gap_days), 0) as payroll_interval_cv
    from payroll_gaps
    where gap_days is not null
    group by all
),

daily_balances as (
    select
        application_id,
        balance_date,
        sum(end_of_day_balance) as daily_balance
    from {{ ref('int_daily_balances') }}
    where {{ in_partition_window('application_date') }}
    group by all
),

balances as (
    select
        application_id,
        avg(daily_balance) as avg_daily_balance_90d,
        min(daily_balance) as min_daily_balance_90d,
        count(*) filter (where daily_balance < 0) as days_negative_90d,
        regr_slope(daily_balance, epoch(balance_date) / 86400) as balance_trend_90d,
        arg_max(daily_balance, balance_date) as current_balance
    from daily_balances
    group by all
),

joined as (
    select
        applications.application_id,
        applications.application_date,
        applications.login_id,
        applications.requested_amount,
        accounts.application_id is not null as has_bank_data,
        coalesce(accounts.account_count, 0) as account_count,
        coalesce(accounts.operating_account_count, 0) as operating_account_count,
        coalesce(flows.transaction_count_90d, 0) as transaction_count_90d,
        coalesce(flows.nsf_count_90d, 0) as nsf_count_90d,
        coalesce(flows.overdraft_fee_count_90d, 0) as overdraft_fee_count_90d,
        coalesce(flows.loan_payment_count_90d, 0) as loan_payment_count_90d,
        coalesce(flows.micro_lender_payment_count_90d, 0) as micro_lender_payment_count_90d,
        coalesce(flows.payroll_deposit_count_90d, 0) as payroll_deposit_count_90d,
        coalesce(flows.total_inflow_90d, 0) as total_inflow_90d,
        coalesce(flows.total_outflow_90d, 0) as total_outflow_90d,
        coalesce(flows.payroll_90d, 0) / 3 as employer_income_monthly,
        coalesce(flows.government_90d, 0) / 3 as government_income_monthly,
        coalesce(flows.other_income_90d, 0) / 3 as other_income_monthly,
        coalesce(flows.loan_payments_90d, 0) / 3 as loan_payments_monthly,
        coalesce(flows.micro_loan_payments_90d, 0) / 3 as micro_loan_payments_monthly,
        coalesce(flows.mortgage_payments_90d, 0) / 3 as mortgage_payments_monthly,
        coalesce(flows.rent_payments_90d, 0) / 3 as rent_payments_monthly,
        coalesce(flows.own_transfers_out_90d, 0) as own_transfers_out_90d,
        coalesce(flows.gambling_outflow_90d, 0) as gambling_outflow_90d,
        coalesce(balances.avg_daily_balance_90d, 0) as avg_daily_balance_90d,
        coalesce(balances.min_daily_balance_90d, 0) as min_daily_balance_90d,
        coalesce(balances.days_negative_90d, 0) as days_negative_90d,
        coalesce(balances.balance_trend_90d, 0) as balance_trend_90d,
        coalesce(balances.current_balance, 0) as current_balance,
        coalesce(outflow_medians.median_monthly_outflow, 0) as median_monthly_outflow,
        pay_cycles.median_pay_gap_days,
        pay_cycles.payroll_interval_cv,
        datediff('day', history.earliest_posted_date, applications.application_date)
            as history_days
    from applications
    left join accounts on applications.application_id = accounts.application_id
    left join flows on applications.application_id = flows.application_id
    left join balances on applications.application_id = balances.application_id
    left join outflow_medians on applications.application_id = outflow_medians.application_id
    left join pay_cycles on applications.application_id = pay_cycles.application_id
    left join history on applications.application_id = history.application_id
),

derived as (
    select
        *,
        employer_income_monthly + government_income_monthly + other_income_monthly
            as total_income_monthly,
        loan_payments_monthly + micro_loan_payments_monthly + mortgage_payments_monthly
            as debt_payments_monthly
    from joined
),

final as (
    -- an application without bank data (fetch failed, unreadable response) has no features:
    -- zeros would read as a clean file, so every feature is null and the decision step
    -- records it as an error instead of scoring it
    select
        application_id,
        application_date,
        login_id,
        requested_amount,
        has_bank_data,
        {% for column, expression in [
            ('nsf_count_90d', 'nsf_count_90d'),
            ('total_inflow_90d', 'round(total_inflow_90d, 2)'),
            ('total_outflow_90d', 'round(total_outflow_90d, 2)'),
            ('avg_daily_balance_90d', 'round(avg_daily_balance_90d, 2)'),
            ('min_daily_balance_90d', 'round(min_daily_balance_90d, 2)'),
            ('days_negative_90d', 'days_negative_90d'),
            ('employer_income_monthly', 'round(employer_income_monthly, 2)'),
            ('history_days', 'history_days'),
            ('government_income_monthly', 'round(government_income_monthly, 2)'),
            ('other_income_monthly', 'round(other_income_monthly, 2)'),
            ('total_income_monthly', 'round(total_income_monthly, 2)'),
            ('payroll_deposit_count_90d', 'payroll_deposit_count_90d'),
            ('pay_frequency', pay_frequency_sql()),
            ('payroll_interval_cv', 'round(payroll_interval_cv, 4)'),
            ('loan_payment_count_90d', 'loan_payment_count_90d'),
            ('loan_payments_monthly', 'round(loan_payments_monthly, 2)'),
            ('micro_lender_payment_count_90d', 'micro_lender_payment_count_90d'),
            ('micro_loan_payments_monthly', 'round(micro_loan_payments_monthly, 2)'),
            ('mortgage_payments_monthly', 'round(mortgage_payments_monthly, 2)'),
            ('rent_payments_monthly', 'round(rent_payments_monthly, 2)'),
            ('debt_payments_monthly', 'round(debt_payments_monthly, 2)'),
            ('debt_to_income',
                'round(debt_payments_monthly / nullif(total_income_monthly, 0), 4)'),
            ('expense_to_income',
                'round((total_outflow_90d - own_transfers_out_90d) / 3'
                ~ ' / nullif(total_income_monthly, 0), 4)'),
            ('net_cash_flow_monthly', 'round((total_inflow_90d - total_outflow_90d) / 3, 2)'),
            ('overdraft_fee_count_90d', 'overdraft_fee_count_90d'),
            ('balance_trend_90d', 'round(balance_trend_90d, 4)'),
            ('current_balance', 'round(current_balance, 2)'),
            ('median_monthly_outflow', 'round(median_monthly_outflow, 2)'),
            ('current_ratio', 'round(current_balance / nullif(median_monthly_outflow, 0), 4)'),
            ('gambling_share',
                'round(coalesce(gambling_outflow_90d / nullif(total_outflow_90d, 0), 0), 4)'),
            ('account_count', 'account_count'),
            ('operating_account_count', 'operating_account_count'),
            ('transaction_count_90d', 'transaction_count_90d'),
        ] %}
        case when has_bank_data then {{ expression }} end as {{ column }}{{ "," if not loop.last }}
        {% endfor %}
    from derived
)

select * from final
