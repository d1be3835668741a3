"""`make demo`: the whole asset graph on the sample data, against the mock APIs, with a summary.

It starts the mock server (Flinks and Taktile's decide endpoint, over real HTTP), runs every
asset for the sample application days as one Dagster run (recorded in ``DAGSTER_HOME`` under
``CREDIT_SCORING_HOME``, so ``make dev`` shows it), then prints what happened: the ledger, the
reconciliation, a few feature rows and the decisions. Running it again is a no-op re-run: the
ledger says everything is done, so nothing is fetched or decided twice.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import pandas as pd

from credit_scoring.core.settings import (
    DEV,
    ENV_VAR,
    FLINKS_BASE_URL_VAR,
    REPO_ROOT,
    TAKTILE_BASE_URL_VAR,
    load_settings,
)
from credit_scoring.ingestion.applications_source import (
    read_applications_csv,
    validate_applications,
)
from mock_api.process import running_mock_server

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
FEATURE_PREVIEW = [
    "application_id",
    "nsf_count_90d",
    "total_inflow_90d",
    "total_outflow_90d",
    "avg_daily_balance_90d",
    "days_negative_90d",
    "employer_income_monthly",
    "history_days",
]


def _section(title: str) -> None:
    print(f"\n## {title}\n")


def _table(frame: pd.DataFrame) -> None:
    print(frame.to_markdown(index=False, floatfmt=",.2f") if len(frame) else "(no rows)")


def _warehouse(sql: str) -> pd.DataFrame:
    """Read the catalogue the runs keep (views over the lake), as an analyst would."""
    import duckdb

    with duckdb.connect(str(load_settings().warehouse_path), read_only=True) as connection:
        return connection.sql(sql).df()


def main() -> int:
    settings = load_settings()
    raw = read_applications_csv(settings.applications_path)
    applications, rejects = validate_applications(raw)
    days = sorted(applications["partition_date"].unique())
    print(
        f"{len(applications)} applications over {days[0]}..{days[-1]} from "
        f"{settings.applications_path} ({len(rejects)} malformed rows rejected); "
        f"state in {settings.home}"
    )
    with running_mock_server(REPO_ROOT / "data") as server:
        # the real HTTP clients for both APIs, pointed at the mock, unless configured otherwise;
        # running the demo is asking for the mocks
        os.environ.setdefault(ENV_VAR, DEV)
        os.environ.setdefault(FLINKS_BASE_URL_VAR, server.base_url)
        os.environ.setdefault(TAKTILE_BASE_URL_VAR, server.base_url)
        print(
            f"mock Flinks + Taktile API on {server.base_url}; "
            f"Flinks -> {os.environ[FLINKS_BASE_URL_VAR]}, "
            f"Taktile -> {os.environ[TAKTILE_BASE_URL_VAR]}"
        )
        from devtools.runner import run

        log_path = settings.home / "logs" / f"demo-{time.strftime('%Y%m%dT%H%M%S')}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        print(
            f"running the whole graph for {days[0]}...{days[-1]} as one Dagster run "
            f"(dbt's output goes to {log_path}) ..."
        )
        started = time.perf_counter()
        with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
            result = run(days[0], days[-1], run_config=QUIET, raise_on_error=False)
        elapsed = time.perf_counter() - started
        stats = server.stats()
    print(
        f"run {result.run_id}: {'SUCCESS' if result.success else 'FAILURE'} in {elapsed:.1f}s; "
        f"the mock answered {stats['requests'].get('Authorize', 0)} Flinks logins, "
        f"{stats['transactions_served']:,} transactions, {stats['decisions']} decisions "
        f"({stats['decision_repeats']} repeats)"
    )
    if not result.success:
        for event in result.all_events:
            if event.is_failure and event.event_specific_data is not None:
                print(event.message, file=sys.stderr)
        print("the run failed: see the errors above, or the run in the UI (make dev)")
        return 1
    _summary(days)
    return 0


def _summary(days: list[str]) -> None:
    from credit_scoring.lake.storage import LakeStore
    from credit_scoring.ledger import Ledger
    from credit_scoring.silver.reconciliation import reconcile

    settings = load_settings()
    ledger = Ledger(settings.ledger_url)
    _section("Ledger (scoring_status): transactions and applications per day and status")
    _table(ledger.status_counts(days))

    _section("Reconciliation: bronze transactions = silver + quarantined, silver = ledger")
    store = LakeStore(settings.lake_root)
    reports = [reconcile(store, ledger, day) for day in days]
    _table(
        pd.DataFrame(
            [
                {
                    "day": r.partition,
                    "bronze": r.copies.bronze_transactions,
                    "silver": r.copies.in_silver,
                    "quarantined": r.copies.in_rejects,
                    "missing": r.copies.missing,
                    "in both": r.copies.in_both,
                    "ledger rows": r.ledger_rows,
                    "verdict": "OK" if r.ok else "MISMATCH",
                }
                for r in reports
            ]
        )
    )

    _section("Features (applicant_features, first rows)")
    _table(
        _warehouse(
            # the column names are this module's constant, not input
            f"select {', '.join(FEATURE_PREVIEW)} from applicant_features order by 1 limit 6"  # noqa: S608
        )
    )

    _section("Decisions by engine and outcome (the mock marks its own: engine 'mock')")
    _table(
        _warehouse(
            "select decision_engine, outcome, count(*) as applications, "
            "round(avg(score)) as avg_score, sum(credit_limit) as total_limit "
            "from scoring.credit_decisions group by 1, 2 order by 1, 2"
        )
    )
    _section("Decisions (a few, with adverse-action reasons)")
    _table(
        _warehouse(
            "select application_id, score, outcome, credit_limit, reasons, decision_id "
            "from scoring.credit_decisions order by outcome desc, application_id limit 8"
        )
    )
    _section("Monitoring (decision_monitoring)")
    _table(
        _warehouse(
            "select strftime(application_date, '%Y-%m-%d') as day, applications, approved, "
            "review, declined, approval_rate, avg_score, errors, pending "
            "from decision_monitoring order by 1"
        )
    )
    print(
        "\nRun `make demo` again: nothing is fetched or decided twice. "
        "`make dev` opens the Dagster UI with this run in its history."
    )


if __name__ == "__main__":
    sys.exit(main())
