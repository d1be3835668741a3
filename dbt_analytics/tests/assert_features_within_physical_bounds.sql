-- Features an applicant with bank data can physically have: counts and sums never negative,
-- a minimum never above the mean, at most 90 days in a 90-day window, shares within [0, 1].
{{ config(meta={'dagster': {'ref': {'name': 'applicant_features'}}}) }}

select application_id, 'out of bounds' as problem
from {{ ref('applicant_features') }}
where has_bank_data
    and (
        nsf_count_90d < 0
        or total_inflow_90d < 0
        or total_outflow_90d < 0
        or employer_income_monthly < 0
        or government_income_monthly < 0
        or min_daily_balance_90d > avg_daily_balance_90d + 0.01
        or days_negative_90d not between 0 and 90
        or history_days < 0
        or gambling_share not between 0 and 1
        or transaction_count_90d < nsf_count_90d
        or nsf_count_90d is null
        or total_inflow_90d is null
        or total_outflow_90d is null
        or avg_daily_balance_90d is null
        or min_daily_balance_90d is null
        or days_negative_90d is null
        or employer_income_monthly is null
    )
