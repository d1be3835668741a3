"""Ingestion: the day's applications, the Flinks client and resource, raw responses in bronze,
and the fetch-error check."""
