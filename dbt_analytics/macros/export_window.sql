{#
  Post-hook of every model Dagster publishes to the lake: when CREDIT_SCORING_DBT_EXPORT_DIR
  names a folder (Dagster sets it per dbt step), the run's window of the model is written there:
  <model>.parquet with the model's columns and no rows, and <model>/application_date=<day>/ with
  the window's rows by day (none for a day without rows). Dagster then writes each day to the
  lake, under its partition's lock (credit_scoring/analytics/publish.py), a batch at a time: dbt
  itself never writes the lake, so a step that fails leaves the lake as it was.
  Without the variable (dbt run by hand) the model stays in dbt's own database only.
#}
{% macro export_window() %}
    {#- read when the model runs, never while parsing (the folder is new at every step) -#}
    {%- set folder = env_var('CREDIT_SCORING_DBT_EXPORT_DIR', '') if execute else '' -%}
    {%- if folder -%}
        {%- set target = (folder ~ '/' ~ this.identifier) | replace("'", "''") -%}
        copy (select * from {{ this }} limit 0) to '{{ target }}.parquet' (format parquet);
        copy (
            select * from {{ this }} where {{ in_partition_window('application_date') }}
        ) to '{{ target }}'
            (format parquet, partition_by (application_date), write_partition_columns true)
    {%- endif -%}
{% endmacro %}
