"""Credit scoring code location: Flinks bank data -> bronze/silver lake -> dbt -> Taktile.

Where things are (one folder per asset group, plus what they share):

- ``core/``: settings, partitions, crash points, retry policy, API-key hygiene;
- ``ledger/``: the scoring_status ledger, its migrations and its operator CLI;
- ``lake/``: Parquet storage, partition locks, the ledger-aware IO manager and its handoffs,
  the warehouse catalogue (views over the lake);
- ``ingestion/``: applications, the Flinks client and resource, bronze, the fetch check;
- ``silver/``: flatten, validation rules, standardisation, PII, reconciliation;
- ``analytics/``: the dbt project bound to Dagster, publishing its models to the lake;
- ``decisioning/``: the feature contract, Taktile, decisions, their store and checks;
- ``automation/``: the job, the daily schedule, the new-applications sensor;
- ``deployment.py``: which resources the environment binds; ``definitions.py``: assembly.
"""
