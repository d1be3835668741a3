"""The bad-input corpus through the real system: every row ends somewhere, with a reason.

All CSV-, API- and application-level cases are written into one data directory, served by one
real mock server over HTTP and ingested by one real pipeline run (``python -m
devtools.runner``, ingestion and silver) in a subprocess; each case is then checked on
its own. Config cases run the runner (or load the code location) in a subprocess each, all at
once. What must hold, per case and overall:

- the run exits 0: no bad input crashes the partition;
- every transaction the mock served ends in exactly one of silver or the quarantine, where the
  corpus says, the quarantined ones with a rule and a message;
- an application whose data cannot be used at all ends ERROR with a code and message; a bad
  applications row is rejected at the source with its rule and never fetched;
- counts reconcile: rows served by the mock == bronze transactions == silver + quarantine
  copies, silver == ledger, nothing lost and nothing duplicated;
- a bad setting or partition is refused with one clear line naming what to fix.
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import httpx
import pandas as pd
import pytest

from credit_scoring.core.settings import REPO_ROOT
from credit_scoring.lake.handoffs import latest_ok_responses
from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import table_for
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring.silver.flatten import flatten
from credit_scoring.silver.reconciliation import COORDS, reconcile
from credit_scoring_tests.pipeline import run_pipeline
from credit_scoring_tests.reliability.corpus import (
    ALL_CASES,
    CONFIG_CASES,
    CORPUS_DAY,
    DATA_CASES,
    SILVER,
    ConfigCase,
    DataCase,
    write_data_dir,
)
from credit_scoring_tests.reliability.report import ScenarioFigures

# one test process runs this module, so its module-scoped run is made once, not once per process
pytestmark = [
    pytest.mark.integration,
    pytest.mark.reliability,
    pytest.mark.xdist_group("bad_input"),
]

RUNNER_ERROR = "python -m devtools.runner: error:"
REJECT_KEY = ["application_id", "request_id", "account_id", "feed_position"]


@dataclass
class CorpusRun:
    """What one run over the whole corpus left behind, read back from the lake and ledger."""

    data_dir: Path
    code: int
    output: str
    health: dict
    stats: dict
    copies: pd.DataFrame
    silver: pd.DataFrame
    rejected: pd.DataFrame
    accounts: pd.DataFrame
    ledger_keys: pd.DataFrame
    applications: pd.DataFrame
    ingestion: pd.DataFrame
    source_rejects: pd.DataFrame
    reconciliation: dict


def statement_rows(data_dir: Path) -> int:
    """Records of every statement file, as a CSV reader counts them (header excluded)."""
    total = 0
    for path in sorted((data_dir / "statements").glob("*.csv")):
        with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
            total += max(0, sum(1 for _ in csv.reader(handle)) - 1)
    return total


def markdown_rows(text: str) -> pd.DataFrame:
    """The rows of a pipe table written by ``DataFrame.to_markdown``."""
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    if len(lines) < 2:
        return pd.DataFrame()
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    return pd.DataFrame(cells[2:], columns=cells[0])


def source_rejects(home: Path) -> pd.DataFrame:
    """The applications rows the run rejected, from the ``applications`` materialisation."""
    instance = dg.DagsterInstance.from_config(str(home / "dagster_home"))
    try:
        event = instance.get_latest_materialization_event(dg.AssetKey("applications"))
    finally:
        instance.dispose()
    assert event is not None
    assert event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    rejects = markdown_rows(metadata["rejected_preview"].value)
    assert len(rejects) == metadata["rejected_rows"].value, "the preview must list every reject"
    return rejects


# -- the commands: every config case at once, and one pipeline run over every data case --------


def _config_command(case: ConfigCase) -> list[str]:
    if case.entry == "definitions":
        return [sys.executable, "-c", "import credit_scoring.definitions"]
    return [sys.executable, "-m", "devtools.runner", *case.argv]


@pytest.fixture(scope="module")
def config_commands(tmp_path_factory) -> Iterator[dict[str, subprocess.Popen]]:
    """Every config case's command, started at once, each in its own process group.

    Each pays only Python's and Dagster's import, yet there are many: they are started before
    the corpus run so that they use the time it spends waiting on the mock.
    """
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CREDIT_SCORING_", "FLINKS_", "TAKTILE_", "DAGSTER_"))
    }
    running: dict[str, subprocess.Popen] = {}
    for case in CONFIG_CASES:
        scratch = tmp_path_factory.mktemp("config")
        env = {
            **base,
            "CREDIT_SCORING_ENV": "dev",
            "CREDIT_SCORING_HOME": str(scratch / "home"),
            "DAGSTER_HOME": str(scratch / "home" / "dagster_home"),
            "FLINKS_BASE_URL": "http://127.0.0.1:9",
            **case.env(scratch),
        }
        running[case.name] = subprocess.Popen(
            _config_command(case),
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    yield running
    for process in running.values():
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def config_outcomes(config_commands) -> dict[str, subprocess.CompletedProcess]:
    """Each config command's exit status and output, once it has finished."""
    outcomes = {}
    for name, process in config_commands.items():
        stdout, stderr = process.communicate(timeout=180)
        outcomes[name] = subprocess.CompletedProcess(
            process.args, process.returncode, stdout, stderr
        )
    return outcomes


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory, mock_server_module_factory, config_commands) -> CorpusRun:
    """The corpus served by a real mock, ingested to silver by one real run of its day."""
    data_dir = tmp_path_factory.mktemp("corpus-data")
    applications = write_data_dir(data_dir)
    server = mock_server_module_factory(data_dir)
    health = httpx.get(f"{server.base_url}/health", timeout=10).json()
    home = tmp_path_factory.mktemp("corpus-home")

    code, output = run_pipeline(
        home,
        server.base_url,
        start=CORPUS_DAY,
        CREDIT_SCORING_APPLICATIONS=str(applications),
        CREDIT_SCORING_START_DATE="2020-01-01",
    )

    store = LakeStore(home / "lake")
    ledger = Ledger(f"sqlite:///{home / 'ledger.sqlite'}")
    bronze = store.read(table_for("bronze/flinks_accounts_detail"), [CORPUS_DAY])
    latest = latest_ok_responses(bronze)
    _, copies, _ = flatten(latest) if len(latest) else (None, pd.DataFrame(), None)
    run = CorpusRun(
        data_dir=data_dir,
        code=code,
        output=output,
        health=health,
        stats=server.stats(),
        copies=copies,
        silver=store.read(table_for("silver/transactions"), [CORPUS_DAY]),
        rejected=store.read(table_for("silver/rejected_transactions"), [CORPUS_DAY]),
        accounts=store.read(table_for("silver/accounts"), [CORPUS_DAY]),
        ledger_keys=ledger.transaction_keys([CORPUS_DAY]),
        applications=ledger.application_statuses([CORPUS_DAY]),
        ingestion=ledger.ingestion_states([CORPUS_DAY]),
        source_rejects=source_rejects(home) if code == 0 else pd.DataFrame(),
        reconciliation=reconcile(store, ledger, CORPUS_DAY).as_dict(),
    )
    yield run
    dispose_engines()


# -- the corpus itself ------------------------------------------------------------------------


def test_the_corpus_holds_at_least_25_kinds_on_every_level():
    names = [case.name for case in ALL_CASES]
    assert len(set(names)) == len(names), "every kind is named once"
    assert len(names) >= 25
    assert Counter(case.level for case in ALL_CASES).keys() == {
        "csv",
        "api",
        "application",
        "config",
    }


# -- one run over every data case -------------------------------------------------------------


def test_the_run_over_the_whole_corpus_succeeds_and_counts_reconcile(corpus_run):
    run = corpus_run
    assert run.code == 0, run.output[-6000:]

    # the mock loaded every statement row (empty and header-only files add none)
    assert run.health["transactions"] == statement_rows(run.data_dir)
    # what the mock served is what bronze holds, and what the corpus says each case serves
    served = run.stats["transactions_served"]
    assert served == len(run.copies) == sum(case.expected_served for case in DATA_CASES)
    # every served copy is in exactly one of silver or the quarantine; silver == ledger
    reconciliation = run.reconciliation
    assert reconciliation["ok"], reconciliation["examples"]
    assert reconciliation["bronze_transactions"] == served
    assert reconciliation["in_silver"] + reconciliation["in_rejects"] == served
    assert not run.silver.duplicated(["application_id", "transaction_id"]).any()
    assert not run.rejected.duplicated(REJECT_KEY).any()
    assert (run.rejected["rule"].str.len() > 0).all()
    assert (run.rejected["message"].str.len() > 0).all()


def _outcomes(run: CorpusRun, application_id: str) -> tuple[Counter, list[str]]:
    """(description, silver or rule) of the application's stored transactions, and the rules
    of its whole-account or whole-response quarantine rows."""
    silver = run.silver.loc[run.silver["application_id"] == application_id]
    rejected = run.rejected.loc[run.rejected["application_id"] == application_id]
    rows = rejected.loc[rejected["feed_position"] >= 0]
    outcomes = Counter(
        [(str(d).strip(), SILVER) for d in silver["description"].fillna("")]
        + [
            (str(d).strip(), rule)
            for d, rule in zip(rows["description"].fillna(""), rows["rule"], strict=True)
        ]
    )
    whole = sorted(rejected.loc[rejected["feed_position"] < 0, "rule"])
    return outcomes, whole


def _copies_stored(run: CorpusRun, application_id: str) -> tuple[int, int]:
    """(served copies of the application, those found in silver or the quarantine)."""
    copies = run.copies.loc[run.copies["application_id"] == application_id]
    if copies.empty:
        return 0, 0
    copies = copies.assign(feed_position=copies["feed_position"].astype("int32"))
    key = ["application_id", "transaction_id", "content_hash"]
    in_silver = (
        copies.loc[:, key]
        .merge(run.silver.loc[:, key].drop_duplicates().assign(_s=True), how="left", on=key)["_s"]
        .notna()
    )
    in_rejects = (
        copies.loc[:, COORDS]
        .merge(
            run.rejected.loc[:, COORDS].drop_duplicates().assign(_r=True), how="left", on=COORDS
        )["_r"]
        .notna()
    )
    return len(copies), int((in_silver.to_numpy() | in_rejects.to_numpy()).sum())


def _recovered(
    case: DataCase,
    actual: Counter,
    whole: list[str],
    status: pd.DataFrame,
    source_rules: list[str],
) -> int:
    """How many of the case's planted inputs ended where the corpus says.

    Planted rows and accounts count one each when found with their outcome; a case whose bad
    input is the response or the application itself counts one when that ended as expected
    (ERROR recorded, rejected at the source, or processed), and a file with no rows counts one
    for loading without harm (the run-wide test checks the counts).
    """
    planted = Counter((row.description.strip(), row.outcome) for row in case.rows if row.planted)
    if planted or case.account_rejects:
        found_rows = sum((planted & actual).values())
        found_accounts = sum((Counter(case.account_rejects) & Counter(whole)).values())
        return found_rows + found_accounts
    if not case.applications:
        return 1
    if case.source_rejects:
        return int(source_rules == sorted(case.source_rejects))
    return int(list(status["status"]) == [case.status])


@pytest.mark.parametrize("case", DATA_CASES, ids=[case.name for case in DATA_CASES])
def test_every_data_case_ends_where_the_corpus_says(corpus_run, reliability_report, case):
    run = corpus_run
    assert run.code == 0, run.output[-6000:]
    app = case.application_id
    expected = Counter((row.description.strip(), row.outcome) for row in case.rows)
    actual, whole = _outcomes(run, app) if app else (Counter(), [])
    served, stored = _copies_stored(run, app) if app else (0, 0)

    silver = run.silver.loc[run.silver["application_id"] == app]
    ledger = run.ledger_keys.loc[run.ledger_keys["application_id"] == app]
    rejected = run.rejected.loc[run.rejected["application_id"] == app]
    rows_lost = (served - stored) + sum((expected - actual).values())
    duplicates = (
        sum((actual - expected).values())
        + int(silver.duplicated(["application_id", "transaction_id"]).sum())
        + int(rejected.duplicated(REJECT_KEY).sum())
        + int(ledger.duplicated(["application_id", "transaction_id"]).sum())
    )
    status = run.applications.loc[run.applications["application_id"] == app]
    errored = int((status["status"] == "ERROR").sum())
    source = run.source_rejects
    source_rules = sorted(source.loc[source["application_id"] == app, "rule"]) if app else []
    recovered = _recovered(case, actual, whole, status, source_rules)
    reliability_report(
        ScenarioFigures(
            scenario=f"bad input: {case.name}",
            faults_injected=case.faults,
            recovered=recovered,
            recorded_error=errored,
            rows_lost=rows_lost,
            duplicates=duplicates,
        )
    )

    assert served == case.expected_served
    assert actual == expected
    assert whole == sorted(case.account_rejects)
    assert (rejected["message"].str.len() > 0).all()
    assert rows_lost == 0
    assert duplicates == 0
    # silver and the ledger hold the same transactions
    assert set(silver["transaction_id"]) == set(ledger["transaction_id"])
    assert source_rules == sorted(case.source_rejects)
    if case.status is None:
        assert status.empty, status.to_dict("records")
        assert not run.ingestion["application_id"].eq(app).any(), "it must never be fetched"
    else:
        (record,) = status.to_dict("records")
        assert record["status"] == case.status, record
        assert record["transactions"] == len(silver)
        if case.code:
            assert record["error_code"] == case.code, record
            assert case.message in (record["error_message"] or ""), record
    if case.accounts is not None:
        assert (run.accounts["application_id"] == app).sum() == case.accounts
    if len(case.applications) > 1:
        # only the first row of a duplicated application id was fetched, with its own login
        fetched = run.ingestion.loc[run.ingestion["application_id"] == app, "login_id"]
        assert list(fetched) == [case.applications[0].login_id]


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[case.name for case in CONFIG_CASES])
def test_every_bad_setting_or_partition_is_refused_with_a_message_naming_it(
    config_outcomes, reliability_report, case
):
    outcome = config_outcomes[case.name]
    lines = outcome.stderr.strip().splitlines()
    last = lines[-1] if lines else ""
    clear = case.names in last and case.message in last
    reliability_report(
        ScenarioFigures(
            scenario=f"bad input: {case.name}",
            # one bad setting; refused with a clear line, or not. No run starts: nothing else
            # to measure
            faults_injected=1,
            recovered=int(outcome.returncode != 0 and clear),
        )
    )

    assert outcome.returncode != 0
    assert clear, outcome.stderr[-3000:]
    if case.entry == "runner":
        # refused before any run: one line, no traceback
        assert outcome.returncode == 2
        assert last.startswith(RUNNER_ERROR), last
        assert "Traceback" not in outcome.stderr, outcome.stderr[-3000:]
    else:
        assert "SettingsError" in last
