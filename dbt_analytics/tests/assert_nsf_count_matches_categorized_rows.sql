-- nsf_count_90d is exactly the number of NSF / returned-item fee rows of the window.
{{ config(meta={'dagster': {'ref': {'name': 'applicant_features'}}}) }}

with counted as (
    select application_id, count(*) as nsf_rows
    from {{ ref('int_transactions_categorized') }}
    where category = 'nsf_fee'
        and posted_date >= application_date - interval 90 day
        and posted_date < application_date
    group by all
)

select features.application_id, features.nsf_count_90d, coalesce(counted.nsf_rows, 0) as nsf_rows
from {{ ref('applicant_features') }} as features
left join counted on features.application_id = counted.application_id
where features.has_bank_data
    and features.nsf_count_90d != coalesce(counted.nsf_rows, 0)
