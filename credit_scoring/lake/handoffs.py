"""The typed values that carry ledger work between assets and the lake IO manager.

The exactly-once protocol is explicit: an asset that must move the ledger when its rows land
returns one of these instead of a bare frame, and :class:`~credit_scoring.lake.io_manager.
LakeIOManager` does the ledger's part after each partition file is written, under that
partition's lock. A bare ``DataFrame`` is simply stored. On the way in, an input annotated
:class:`ResponsesAwaitingSilver` receives only the bronze responses the ledger says still need
silver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from credit_scoring.lake.spool import Spooled


@dataclass(frozen=True)
class FetchedResponses:
    """Bronze rows of one fetch, spooled as they arrived, and the owner of the fetch leases
    they were fetched under.

    Once a day's rows are in the lake the IO manager closes those leases: FETCHED, or ERROR
    with the fetch's code and its verdict on retrying.
    """

    rows: Spooled
    lease_owner: str


@dataclass(frozen=True)
class SilverTransactions:
    """Silver transactions, and every application silver processed (``application_id``,
    ``partition_date``), with or without transactions.

    Once a day's rows are in the lake the IO manager registers them in the ledger under their
    applications' rows and marks those applications SILVERED: an application without
    transactions still gets its ledger row, and so its decision.
    """

    rows: pd.DataFrame
    applications: pd.DataFrame


@dataclass(frozen=True)
class ResponsesAwaitingSilver:
    """Silver's input: the latest successful bronze response of each application whose
    transactions are not in silver yet (the ledger's FETCHED applications).

    The responses are read when the asset calls :meth:`read`, not before: Dagster holds an
    input value until the step ends, and a day's payloads (hundreds of MB) should be gone once
    they are standardised, before silver's own rows are written and registered.
    """

    reader: Callable[[], pd.DataFrame]

    def read(self) -> pd.DataFrame:
        return self.reader()


#: The bronze columns that pick each application's latest successful response, payload aside.
LATEST_COLUMNS = ["response_id", "application_id", "fetched_at", "ok"]


def latest_ok_responses(bronze: pd.DataFrame) -> pd.DataFrame:
    """The most recent successful response per application (a refetch supersedes older ones)."""
    ok = bronze.loc[bronze["ok"].astype(bool)]
    return (
        ok.sort_values(["application_id", "fetched_at"])
        .drop_duplicates("application_id", keep="last")
        .reset_index(drop=True)
    )
