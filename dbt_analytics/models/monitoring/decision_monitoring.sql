-- Per application day: how many applications were decided and how (approval / review /
-- decline counts and rates), the score distribution, credit limits, and what is still open
-- (errors with their most common code, pending and in-flight applications).

with statuses as (
    select *
    from {{ source('scoring', 'decision_status') }}
    where {{ in_partition_window('application_date') }}
),

decisions as (
    select *
    from {{ source('scoring', 'credit_decisions') }}
    where {{ in_partition_window('application_date') }}
),

status_counts as (
    select
        application_date,
        count(*) as applications,
        count(*) filter (where status = 'SCORED') as scored,
        count(*) filter (where status = 'ERROR') as errors,
        count(*) filter (where status = 'ERROR' and error_stage = 'fetch') as fetch_errors,
        count(*) filter (where status = 'ERROR' and error_stage = 'decide') as decide_errors,
        count(*) filter (where status = 'PENDING') as pending,
        count(*) filter (where status = 'SENT') as sent_not_stored,
        mode(error_code) filter (where status = 'ERROR') as top_error_code
    from statuses
    group by all
),

decision_stats as (
    select
        application_date,
        count(*) as decisions,
        count(*) filter (where outcome = 'APPROVE') as approved,
        count(*) filter (where outcome = 'REVIEW') as review,
        count(*) filter (where outcome = 'DECLINE') as declined,
        avg(score) as avg_score,
        quantile_cont(score, 0.1) as score_p10,
        median(score) as score_median,
        quantile_cont(score, 0.9) as score_p90,
        count(*) filter (where score < 500) as score_300_499,
        count(*) filter (where score >= 500 and score < 600) as score_500_599,
        count(*) filter (where score >= 600 and score < 700) as score_600_699,
        count(*) filter (where score >= 700 and score < 800) as score_700_799,
        count(*) filter (where score >= 800) as score_800_900,
        avg(credit_limit) filter (where outcome != 'DECLINE') as avg_credit_limit,
        coalesce(sum(credit_limit), 0) as total_credit_limit
    from decisions
    group by all
),

days as (
    select application_date from status_counts
    union
    select application_date from decision_stats
),

final as (
    select
        days.application_date,
        coalesce(status_counts.applications, 0) as applications,
        coalesce(decision_stats.decisions, 0) as decisions,
        coalesce(decision_stats.approved, 0) as approved,
        coalesce(decision_stats.review, 0) as review,
        coalesce(decision_stats.declined, 0) as declined,
        round(decision_stats.approved / nullif(decision_stats.decisions, 0), 4) as approval_rate,
        round(decision_stats.review / nullif(decision_stats.decisions, 0), 4) as review_rate,
        round(decision_stats.declined / nullif(decision_stats.decisions, 0), 4) as decline_rate,
        round(decision_stats.avg_score, 1) as avg_score,
        decision_stats.score_p10,
        decision_stats.score_median,
        decision_stats.score_p90,
        coalesce(decision_stats.score_300_499, 0) as score_300_499,
        coalesce(decision_stats.score_500_599, 0) as score_500_599,
        coalesce(decision_stats.score_600_699, 0) as score_600_699,
        coalesce(decision_stats.score_700_799, 0) as score_700_799,
        coalesce(decision_stats.score_800_900, 0) as score_800_900,
        round(decision_stats.avg_credit_limit, 2) as avg_credit_limit,
        round(coalesce(decision_stats.total_credit_limit, 0), 2) as total_credit_limit,
        coalesce(status_counts.scored, 0) as scored,
        coalesce(status_counts.errors, 0) as errors,
        coalesce(status_counts.fetch_errors, 0) as fetch_errors,
        coalesce(status_counts.decide_errors, 0) as decide_errors,
        round(status_counts.errors / nullif(status_counts.applications, 0), 4) as error_rate,
        status_counts.top_error_code,
        coalesce(status_counts.pending, 0) as pending,
        coalesce(status_counts.sent_not_stored, 0) as sent_not_stored
    from days
    left join status_counts on days.application_date = status_counts.application_date
    left join decision_stats on days.application_date = decision_stats.application_date
)

select * from final
