{#
  on-run-start: how much memory dbt's DuckDB may hold, and where it writes what does not fit.

  Without a limit DuckDB takes up to 80% of the machine's memory, and dbt under Dagster computes
  in memory: a 2M-transaction day's models then held 1.2 GB. Bounded, DuckDB spills the tables
  and the joins that do not fit to its temporary directory, and the day peaks at about the
  limit plus 200 MB, for a second or so more.

  CREDIT_SCORING_DBT_MEMORY_LIMIT (default 512MB; DuckDB's units: KB, MB, GB, KiB, MiB, GiB)
  sets the limit. CREDIT_SCORING_DBT_SPILL_DIR names the folder to spill to (Dagster gives each
  dbt step its own, removed when the step ends: two processes must never share one); without it
  DuckDB's own default applies (beside a database file, or ./.tmp in memory).

  Both are read when dbt runs, never while parsing: dbt parses everything again whenever a
  value it read while parsing changes, and the spill folder is new at every step.
#}
{% macro bound_memory() %}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {%- set limit = env_var('CREDIT_SCORING_DBT_MEMORY_LIMIT', '512MB') | trim -%}
    {%- if not modules.re.match('^[0-9]+(\.[0-9]+)? ?([KMGT]i?B)$', limit) -%}
        {{ exceptions.raise_compiler_error(
            "CREDIT_SCORING_DBT_MEMORY_LIMIT=" ~ (limit | tojson)
            ~ " is not an amount of memory: use e.g. 512MB or 2GB") }}
    {%- endif -%}
    {%- set spill = env_var('CREDIT_SCORING_DBT_SPILL_DIR', '') -%}
    set memory_limit = '{{ limit }}';
    {%- if spill %}
    set temp_directory = '{{ spill | replace("'", "''") }}';
    {%- endif %}
{% endmacro %}
