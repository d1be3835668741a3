"""`make demo`: start the mock Flinks API, fetch every sample application, print a summary.

It runs on the embedded default (the sample data under ``data/``) and always stops the
server it started, even when interrupted.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

from credit_scoring.applications import read_applications_csv, validate_applications
from credit_scoring.flinks.client import FetchResult
from credit_scoring.resources.flinks import FlinksResource
from credit_scoring.settings import REPO_ROOT, load_settings
from mock_api.process import running_mock_server


def summarise(results: list[FetchResult], applications: pd.DataFrame) -> pd.DataFrame:
    """One row per application: accounts, transactions, outcome and fetch time."""
    rows = []
    for app, result in zip(applications.itertuples(index=False), results, strict=True):
        accounts = result.parsed().get("Accounts") or [] if result.ok else []
        rows.append(
            {
                "application": app.application_id,
                "date": app.application_date.isoformat(),
                "accounts": len(accounts),
                "transactions": sum(len(a.get("Transactions") or []) for a in accounts),
                "status": "ok" if result.ok else result.error_code,
                "http_calls": result.http_calls,
                "fetch_s": round(result.elapsed_seconds, 3),
            }
        )
    return pd.DataFrame(rows)


def main() -> int:
    settings = load_settings()
    data_dir = REPO_ROOT / "data"
    raw = read_applications_csv(settings.applications_path)
    applications, rejects = validate_applications(raw)
    print(
        f"applications: {len(applications)} valid, {len(rejects)} rejected "
        f"({settings.applications_path})"
    )
    with running_mock_server(Path(data_dir)) as server:
        print(f"mock Flinks API: {server.base_url} (data: {data_dir})")
        flinks = FlinksResource(base_url=server.base_url, customer_id=settings.flinks_customer_id)
        started = time.perf_counter()
        results = flinks.fetch_many(applications["login_id"])
        elapsed = time.perf_counter() - started
        stats = server.stats()
    table = summarise(results, applications)
    print()
    print(table.to_markdown(index=False))
    transactions = int(table["transactions"].sum())
    print()
    print(
        f"{len(table)} applications, {int(table['accounts'].sum())} accounts, "
        f"{transactions} transactions fetched in {elapsed:.2f}s "
        f"({transactions / elapsed:,.0f} transactions/s); "
        f"{int((table['status'] != 'ok').sum())} failed; "
        f"mock served {sum(stats.get('requests', {}).values())} requests"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
