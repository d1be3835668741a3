{#
  The application-date window of a run, [min_date, max_date).

  Dagster passes it in the environment (CREDIT_SCORING_DBT_MIN_DATE, CREDIT_SCORING_DBT_MAX_DATE),
  read only when models run: unlike --vars, or a variable read while parsing, a new window then
  makes dbt parse nothing again. A `--vars '{"min_date": ..., "max_date": ...}'` given by hand
  wins over them, and with neither a bare `dbt build` builds every day. Every value is validated
  before it reaches SQL:
  a value that is not a real calendar date, or a window that ends before it starts, stops the
  run with a message naming where the value came from.
#}

{# (where the value came from, the value): a dbt var, else the environment, else every day #}
{% macro window_source(name) %}
    {%- set env_name = "CREDIT_SCORING_DBT_" ~ (name | upper) -%}
    {%- set every_day = {"min_date": "2000-01-01", "max_date": "2100-01-01"} -%}
    {%- if var(name, none) is not none -%}
        {{- return(("dbt var " ~ name, var(name))) -}}
    {%- endif -%}
    {#- read when models run, never while parsing: dbt parses a model again whenever a variable
        it read while parsing changes, and the window changes with every run -#}
    {%- if not execute -%}
        {{- return((env_name, every_day[name])) -}}
    {%- endif -%}
    {{- return((env_name, env_var(env_name, every_day[name]))) -}}
{% endmacro %}


{% macro validated_date_var(name) %}
    {%- set source, raw = window_source(name) -%}
    {%- set value = raw | string -%}
    {%- set match = modules.re.match('^(\d{4})-(\d{2})-(\d{2})$', value) -%}
    {%- if not match -%}
        {{ exceptions.raise_compiler_error(
            source ~ "=" ~ (value | tojson) ~ " is not a date: use YYYY-MM-DD") }}
    {%- endif -%}
    {%- set year, month, day = match.group(1) | int, match.group(2) | int, match.group(3) | int -%}
    {%- if month < 1 or month > 12 or day < 1 -%}
        {{ exceptions.raise_compiler_error(
            source ~ "=" ~ (value | tojson) ~ " is not a calendar date") }}
    {%- endif -%}
    {%- set next_month = modules.datetime.date(year + month // 12, month % 12 + 1, 1) -%}
    {%- set last_day = (next_month - modules.datetime.timedelta(days=1)).day -%}
    {%- if day > last_day -%}
        {{ exceptions.raise_compiler_error(
            source ~ "=" ~ (value | tojson) ~ " is not a calendar date") }}
    {%- endif -%}
    {{- return(value) -}}
{% endmacro %}


{% macro partition_window() %}
    {%- set min_date = validated_date_var('min_date') -%}
    {%- set max_date = validated_date_var('max_date') -%}
    {%- if min_date >= max_date -%}
        {{ exceptions.raise_compiler_error(
            "the window min_date=" ~ min_date ~ " and max_date=" ~ max_date
            ~ ": the window is empty (max_date is exclusive and must be after min_date)") }}
    {%- endif -%}
    {{- return((min_date, max_date)) -}}
{% endmacro %}


{# `column` falls in the run's window (dates are validated, so inlining them is safe). #}
{% macro in_partition_window(column) %}
    {%- set window = partition_window() -%}
    {{ column }} >= date '{{ window[0] }}' and {{ column }} < date '{{ window[1] }}'
{%- endmacro %}


{#
  Pre-hook of every incremental model: delete the window's slice before it is inserted again,
  so re-running a day replaces that day and never duplicates rows. Both happen in the model's
  one transaction.
#}
{% macro delete_partition_window() %}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ in_partition_window('application_date') }}
    {%- endif -%}
{% endmacro %}
