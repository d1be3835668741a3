-- Outcomes partition the decisions, and every SCORED application has exactly one stored
-- decision: a mismatch means a decision was lost or stored twice.
{{ config(meta={'dagster': {'ref': {'name': 'decision_monitoring'}}}, tags=['decisioning']) }}

select application_date, decisions, approved, review, declined, scored
from {{ ref('decision_monitoring') }}
where approved + review + declined != decisions
    or decisions != scored
    or scored + errors + pending + sent_not_stored != applications
