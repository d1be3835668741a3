"""Dagster concurrency pools shared by assets.

DuckDB allows one writer process per database file: every asset that opens the warehouse
(dbt, decisions) runs in the ``warehouse`` pool, so overlapping runs queue for it instead of
failing on the file lock. The instance's pool limit (``dagster.yaml``) sets it to 1.
"""

WAREHOUSE_POOL = "warehouse"
