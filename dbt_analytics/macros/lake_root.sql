{#
  on-run-start: the lake's root as a DuckDB macro, `lake_root()`, that every source reads from
  (models/staging/_lake__sources.yml, models/monitoring/_scoring__sources.yml).

  The root is CREDIT_SCORING_LAKE_URL (an s3:// URL on S3-compatible storage), else the `lake`
  folder of CREDIT_SCORING_HOME. It is read when dbt runs, never while parsing: a source whose
  location read it while parsing would change with every home and every lake, and dbt then
  parses the sources and every node that depends on them again (two to three seconds per dbt
  step on a new home or a new machine). A DuckDB macro is part of the database, so every dbt
  thread's connection sees it, and each query that reads a source expands it when it runs.
#}
{% macro define_lake_root() %}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set root = env_var('CREDIT_SCORING_LAKE_URL', '') | trim -%}
    {%- if not root -%}
        {%- set root = env_var('CREDIT_SCORING_HOME') ~ '/lake' -%}
    {%- endif -%}
    create or replace macro lake_root() as '{{ root.rstrip('/') | replace("'", "''") }}';
{% endmacro %}
