{#
  The application-date window of a run, [min_date, max_date), from the dbt vars Dagster passes.

  Every value is validated before it reaches SQL: a var that is not a real calendar date, or a
  window that ends before it starts, stops the run with a message naming the var.
#}

{% macro validated_date_var(name) %}
    {%- set value = var(name) | string -%}
    {%- set match = modules.re.match('^(\d{4})-(\d{2})-(\d{2})$', value) -%}
    {%- if not match -%}
        {{ exceptions.raise_compiler_error(
            "dbt var " ~ name ~ "=" ~ (value | tojson) ~ " is not a date: use YYYY-MM-DD") }}
    {%- endif -%}
    {%- set year, month, day = match.group(1) | int, match.group(2) | int, match.group(3) | int -%}
    {%- if month < 1 or month > 12 or day < 1 -%}
        {{ exceptions.raise_compiler_error(
            "dbt var " ~ name ~ "=" ~ (value | tojson) ~ " is not a calendar date") }}
    {%- endif -%}
    {%- set next_month = modules.datetime.date(year + month // 12, month % 12 + 1, 1) -%}
    {%- set last_day = (next_month - modules.datetime.timedelta(days=1)).day -%}
    {%- if day > last_day -%}
        {{ exceptions.raise_compiler_error(
            "dbt var " ~ name ~ "=" ~ (value | tojson) ~ " is not a calendar date") }}
    {%- endif -%}
    {{- return(value) -}}
{% endmacro %}


{% macro partition_window() %}
    {%- set min_date = validated_date_var('min_date') -%}
    {%- set max_date = validated_date_var('max_date') -%}
    {%- if min_date >= max_date -%}
        {{ exceptions.raise_compiler_error(
            "dbt vars min_date=" ~ min_date ~ " and max_date=" ~ max_date
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
