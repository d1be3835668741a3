{#
  Post-hook of every model Dagster publishes to the lake: when CREDIT_SCORING_DBT_EXPORT_DIR
  names a folder (Dagster sets it per dbt step), the run's window of the model is written there
  as <model>.parquet. Dagster then writes it to the lake, one file per application date, under
  each partition's lock (credit_scoring/analytics/publish.py): dbt itself never writes the
  lake, so a step that fails leaves the lake as it was. Without the variable (dbt run by hand)
  the model stays in dbt's own database only.
#}
{% macro export_window() %}
    {#- read when the model runs, never while parsing (the folder is new at every step) -#}
    {%- set folder = env_var('CREDIT_SCORING_DBT_EXPORT_DIR', '') if execute else '' -%}
    {%- if folder -%}
        copy (
            select * from {{ this }} where {{ in_partition_window('application_date') }}
        ) to '{{ folder | replace("'", "''") }}/{{ this.identifier }}.parquet' (format parquet)
    {%- endif -%}
{% endmacro %}
