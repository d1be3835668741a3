"""Bronze rows written away as the responses arrive, so a day's bodies are never all in memory.

The fetch hands each login's result over the moment it is complete
(:meth:`~credit_scoring.ingestion.flinks_resource.FlinksResource.fetch_each`). Results are
gathered into chunks of a few row groups; each chunk becomes bronze rows appended to the step's
spool (:mod:`credit_scoring.lake.spool`), and the lake IO manager then adopts the spooled file
into the lake partition, as it does silver's. On the benchmark's 2M-transaction day the step
held every body (312 MB) and a joined copy of them before writing a byte; now it holds one
chunk. A chunk is written on the event loop, between downloads: a writer thread overlapping
them measured no faster on two cores the mock server shares, and left the process about 50 MB
larger for the rest of the run.

Nothing reaches the lake or the ledger before the step's output is handled, exactly as before:
a run killed during the fetch leaves only its spool (a temporary folder) behind, and the next
run takes over its fetch leases as it always did.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from credit_scoring.ingestion.bronze_rows import bronze_rows
from credit_scoring.ingestion.flinks_client import FetchResult
from credit_scoring.lake.spool import Spool, Spooled
from credit_scoring.lake.tables import table_for

BRONZE = table_for("bronze/flinks_accounts_detail")
#: Results per chunk: four of bronze's row groups (about 32 MB of bodies on the benchmark's
#: days), enough that a chunk's fixed costs (a frame, an Arrow table) are small beside its rows.
RESULTS_PER_CHUNK = 4 * (BRONZE.rows_per_group or 64)


class BronzeSpool:
    """Receives fetch results (:meth:`add`, the fetch's ``on_result``) for ``applications``
    (the frame of logins being fetched, in the order given to the fetch) and spools their
    bronze rows under ``folder``.
    """

    def __init__(
        self,
        applications: pd.DataFrame,
        folder: Path,
        *,
        claim_token: str,
        run_id: str,
        results_per_chunk: int = RESULTS_PER_CHUNK,
    ) -> None:
        self._applications = applications.reset_index(drop=True)
        self._spool = Spool(folder)
        self._claim_token = claim_token
        self._run_id = run_id
        self._results_per_chunk = results_per_chunk
        self._positions: list[int] = []
        self._results: list[FetchResult] = []
        #: every spooled row but its payload, in the order written
        self._outcomes: list[pd.DataFrame] = []

    def add(self, position: int, result: FetchResult) -> None:
        """One login's result, ``position`` being its row in ``applications``."""
        self._positions.append(position)
        self._results.append(result)
        if len(self._results) >= self._results_per_chunk:
            self._write()

    def close(self) -> tuple[Spooled, pd.DataFrame]:
        """Write what remains: the spooled rows, and every row without its payload (the fetch's
        outcomes, for the step's metadata)."""
        self._write()
        outcomes = (
            pd.concat(self._outcomes, ignore_index=True)
            if self._outcomes
            else self._rows(self._applications.iloc[:0], []).drop(columns="payload")
        )
        return self._spool.close(BRONZE), outcomes

    def _write(self) -> None:
        if not self._results:
            return
        rows = self._rows(self._applications.iloc[self._positions], self._results)
        self._positions, self._results = [], []
        self._spool.append(BRONZE, rows)
        self._outcomes.append(rows.drop(columns="payload"))

    def _rows(self, applications: pd.DataFrame, results: list[FetchResult]) -> pd.DataFrame:
        return bronze_rows(
            applications, results, claim_token=self._claim_token, run_id=self._run_id
        )
