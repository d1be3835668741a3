"""The Parquet data lake: one file per asset per daily partition, written atomically."""
