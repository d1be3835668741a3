"""The warehouse IO manager for decisions: dagster-duckdb-pandas, plus the ledger step.

dagster-duckdb-pandas replaces the partition's slice of the table (``partition_expr``) with the
asset's output. Only after that write succeeds are the applications it carries marked SCORED in
the ledger (compare-and-set on the run's claim token): a crash before that point leaves them
SENT, and the next run re-sends them with the same idempotency key and stores the same decision.
"""

import dagster as dg
import pandas as pd
from dagster._core.storage.db_io_manager import DbIOManager
from dagster_duckdb_pandas import DuckDBPandasIOManager

from credit_scoring.crashpoints import crash_point
from credit_scoring.resources.ledger import LedgerResource

#: ``DataFrame.attrs`` keys the decision asset uses to hand its claim over.
CLAIM_TOKEN = "credit_scoring.claim_token"
SCORED = "credit_scoring.scored"


def with_claim(frame: pd.DataFrame, token: str, scored: pd.DataFrame) -> pd.DataFrame:
    """Attach the claim token and the (application_id, decision_id) pairs to mark SCORED."""
    frame.attrs[CLAIM_TOKEN] = token
    frame.attrs[SCORED] = scored.loc[:, ["application_id", "decision_id"]]
    return frame


class _LedgerStep(dg.IOManager):
    def __init__(self, inner: DbIOManager, ledger: LedgerResource) -> None:
        self.inner = inner
        self.ledger = ledger

    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame) -> None:
        token = obj.attrs.get(CLAIM_TOKEN)
        scored = obj.attrs.get(SCORED)
        self.inner.handle_output(context, obj)
        crash_point("warehouse.stored_before_ledger")
        if token and scored is not None and not scored.empty:
            marked = self.ledger.get().mark_scored(scored, token=token)
            context.add_output_metadata({"marked_scored": marked})

    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        return self.inner.load_input(context)


class LedgerAwareDuckDBIOManager(DuckDBPandasIOManager):
    """DuckDBPandasIOManager that closes the decision claim in the ledger after each write."""

    ledger: LedgerResource

    def create_io_manager(self, context: dg.InitResourceContext) -> dg.IOManager:
        return _LedgerStep(super().create_io_manager(context), self.ledger)
