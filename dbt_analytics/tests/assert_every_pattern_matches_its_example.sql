-- Each pattern of the seed matches the real-world example written next to it, and the whole
-- seed assigns that example the pattern's own category (so priorities do not hide it).
{{ config(meta={'dagster': {'ref': {'name': 'transaction_patterns'}}}) }}

with patterns as (
    select * from {{ ref('transaction_patterns') }}
),

winners as (
    select
        examples.pattern as example_of,
        arg_min(candidates.category, candidates.priority) as winning_category
    from patterns as examples
    inner join patterns as candidates
        on regexp_matches(upper(examples.example), candidates.pattern)
        and (
            candidates.direction = 'any'
            or examples.direction = 'any'
            or candidates.direction = examples.direction
        )
    group by all
)

select patterns.pattern, patterns.example, winners.winning_category
from patterns
left join winners on patterns.pattern = winners.example_of
where not regexp_matches(upper(patterns.example), patterns.pattern)
    or winners.winning_category is distinct from patterns.category
