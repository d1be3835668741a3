"""Named crash points: deterministic SIGKILLs at the instants that matter for recovery.

Recovery is only proven by killing the process exactly between two effects (file renamed,
ledger not yet updated...). When ``CREDIT_SCORING_CRASH_AT`` names a point, the process that
reaches it kills itself with SIGKILL — no cleanup, no finally blocks, as a power cut or an OOM
kill would. Unset (always, in production) a crash point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

CRASH_AT_VAR = "CREDIT_SCORING_CRASH_AT"

#: Every point the code declares. Lake points are qualified by table, e.g.
#: ``lake.temp_written:silver/transactions``; the bare name matches any table. dbt points are
#: qualified by the dbt asset, e.g. ``dbt.midway:dbt_features`` (after dbt's first result).
POINTS = (
    "fetch.halfway",
    "bronze.before_write",
    "lake.temp_written",
    "lake.renamed_before_ledger",
    "silver.before_write",
    "ledger.register_before_commit",
    "dbt.midway",
    "dbt.finished",
    "decide.claimed",
    "decide.halfway",
    "decide.after_send",
    "decisions.stored_before_ledger",
)


def crash_point(name: str, qualifier: str | None = None) -> None:
    """SIGKILL this process if ``CREDIT_SCORING_CRASH_AT`` names this point."""
    wanted = os.environ.get(CRASH_AT_VAR)
    if wanted and (wanted == name or (qualifier and wanted == f"{name}:{qualifier}")):
        os.kill(os.getpid(), signal.SIGKILL)
