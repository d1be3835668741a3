"""Analytics: the dbt_analytics project bound to Dagster (features, then decision monitoring)."""
