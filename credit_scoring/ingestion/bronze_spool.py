"""Bronze rows written away as the responses arrive, so a day's bodies are never all in memory.

The fetch hands each login's result over the moment it is complete
(:meth:`~credit_scoring.ingestion.flinks_resource.FlinksResource.fetch_each`). Results are
gathered into chunks of a few row groups; each chunk becomes bronze rows and is appended to the
step's spool (:mod:`credit_scoring.lake.spool`) by one writer thread, while the event loop goes
on downloading. The lake IO manager then adopts the spooled file into the lake partition, as it
does silver's. On the benchmark's 2M-transaction day the step held every body (312 MB) and a
joined copy of them before writing a byte; now it holds at most a few chunks, and Parquet's
compression (which releases the GIL) runs on the other core during the download instead of
after it.

Nothing reaches the lake or the ledger before the step's output is handled, exactly as before:
a run killed during the fetch leaves only its spool (a temporary folder) behind, and its fetch
leases expire as they always did.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import pandas as pd

from credit_scoring.ingestion.bronze_rows import bronze_rows
from credit_scoring.ingestion.flinks_client import FetchResult
from credit_scoring.lake.spool import Spool, Spooled
from credit_scoring.lake.tables import table_for

BRONZE = table_for("bronze/flinks_accounts_detail")
#: Results per chunk: four of bronze's row groups (about 32 MB of bodies on the benchmark's
#: days), enough that a chunk's fixed costs (a frame, an Arrow table) are small beside its rows.
RESULTS_PER_CHUNK = 4 * (BRONZE.rows_per_group or 64)
#: Chunks handed to the writer and not yet written: when the writer falls behind, the fetch
#: waits for it rather than piling bodies up in memory.
CHUNKS_IN_FLIGHT = 2


class BronzeSpool:
    """Receives fetch results (:meth:`add`, the fetch's ``on_result``) for ``applications``
    (the frame of logins being fetched, in the order given to the fetch) and spools their
    bronze rows under ``folder``. Use as a context manager: leaving it stops the writer.
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
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bronze-spool")
        self._in_flight: deque[Future[None]] = deque()
        #: every spooled row but its payload, in the order written (the writer's only output)
        self._outcomes: list[pd.DataFrame] = []

    def __enter__(self) -> BronzeSpool:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        # on an error, chunks not started are dropped: nothing of this fetch is kept
        self._writer.shutdown(wait=True, cancel_futures=error is not None)

    def add(self, position: int, result: FetchResult) -> None:
        """One login's result, ``position`` being its row in ``applications``."""
        self._positions.append(position)
        self._results.append(result)
        if len(self._results) >= self._results_per_chunk:
            self._hand_over()

    def close(self) -> tuple[Spooled, pd.DataFrame]:
        """Write what remains and wait for the writer: the spooled rows, and every row without
        its payload (the fetch's outcomes, for the step's metadata)."""
        self._hand_over()
        while self._in_flight:
            self._in_flight.popleft().result()
        outcomes = (
            pd.concat(self._outcomes, ignore_index=True)
            if self._outcomes
            else self._rows(self._applications.iloc[:0], []).drop(columns="payload")
        )
        return self._spool.close(BRONZE), outcomes

    def _hand_over(self) -> None:
        if not self._results:
            return
        applications = self._applications.iloc[self._positions]
        results = self._results
        self._positions, self._results = [], []
        while len(self._in_flight) >= CHUNKS_IN_FLIGHT:
            # raises here, in the fetch, what the writer raised (a full disk...)
            self._in_flight.popleft().result()
        self._in_flight.append(self._writer.submit(self._write, applications, results))

    def _write(self, applications: pd.DataFrame, results: list[FetchResult]) -> None:
        rows = self._rows(applications, results)
        self._spool.append(BRONZE, rows)
        self._outcomes.append(rows.drop(columns="payload"))

    def _rows(self, applications: pd.DataFrame, results: list[FetchResult]) -> pd.DataFrame:
        return bronze_rows(
            applications, results, claim_token=self._claim_token, run_id=self._run_id
        )
