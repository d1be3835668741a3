"""The crash matrix: the whole graph SIGKILLed at every stage boundary and mid-stage, then re-run.

Each case kills a whole-graph run (applications -> bronze -> silver + ledger -> dbt features
-> decisions -> stored decisions -> dbt monitoring) at one named crash point, with no cleanup,
as a power cut or an OOM kill would, and kills whatever the run left behind (an orphaned dbt).
The next ordinary run must leave exactly the state of an undisturbed run: the same silver and
rejected rows, the same ledger, the same features, one decision per application with the same
decision ids, and the mock asked to decide again only applications that were SENT at the kill.
"""

from __future__ import annotations

import signal

import pytest

from credit_scoring.ledger import Ledger
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.pipeline import (
    assert_same_state,
    lost_and_duplicated,
    run_pipeline,
    sample_days,
    whole_graph_snapshot,
)
from credit_scoring_tests.reliability.report import ScenarioFigures

pytestmark = [pytest.mark.integration, pytest.mark.reliability, pytest.mark.slow]

#: (crash point, stage it interrupts), in pipeline order.
CRASHES = [
    ("fetch.halfway", "fetching, mid-stage"),
    ("bronze.before_write", "fetch -> bronze boundary"),
    ("lake.temp_written:bronze/flinks_accounts_detail", "writing bronze, mid-stage"),
    ("lake.renamed_before_ledger:bronze/flinks_accounts_detail", "bronze -> silver boundary"),
    ("silver.before_write", "silver standardised, before writing"),
    ("lake.temp_written:silver/transactions", "writing silver, mid-stage"),
    ("lake.renamed_before_ledger:silver/transactions", "silver written -> ledger boundary"),
    ("ledger.register_before_commit", "registering the ledger, mid-stage"),
    ("dbt.midway:dbt_features", "dbt features, mid-build"),
    ("dbt.finished:dbt_features", "dbt -> decide boundary"),
    ("decide.claimed", "decide: claimed, nothing sent"),
    ("decide.halfway", "deciding, mid-stage"),
    ("decide.after_send", "decide -> store boundary"),
    ("decisions.stored_before_ledger", "storing decisions, mid-stage"),
    ("dbt.midway:dbt_monitoring", "dbt monitoring, mid-build"),
]


def whole_graph(home, server, **env: str) -> tuple[int, str]:
    days = sample_days()
    return run_pipeline(
        home,
        server.base_url,
        start=days[0],
        end=days[-1],
        groups=None,
        TAKTILE_BASE_URL=server.base_url,
        **env,
    )


@pytest.mark.parametrize(("crash_at", "stage"), CRASHES, ids=[c for c, _ in CRASHES])
def test_a_whole_graph_run_killed_anywhere_is_completed_by_the_next_run(
    sample_server, undisturbed_state, tmp_path, reliability_report, crash_at, stage
):
    server, reference = sample_server, undisturbed_state
    days = sample_days()
    server.reset_stats()
    code, output = whole_graph(tmp_path, server, CREDIT_SCORING_CRASH_AT=crash_at)
    assert code == -signal.SIGKILL, f"the run was not killed at {crash_at}:\n{output[-3000:]}"
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    at_kill = ledger.application_statuses(days)
    in_flight = set(at_kill.loc[at_kill["status"] == "SENT", "application_id"])
    killed = server.stats()

    code, output = whole_graph(tmp_path, server)
    assert code == 0, output[-4000:]

    state = whole_graph_snapshot(tmp_path, days)
    lost, duplicated = lost_and_duplicated(state, reference)
    resumed = server.stats()
    statuses = state["applications"]["status"]
    reliability_report(
        ScenarioFigures(
            scenario=f"crash: {stage} ({crash_at})",
            faults_injected=1,
            recovered=int(lost == duplicated == 0 and statuses.isin(["SCORED", "ERROR"]).all()),
            recorded_error=int((statuses == "ERROR").sum()),
            rows_lost=lost,
            duplicates=duplicated,
        )
    )
    assert (lost, duplicated) == (0, 0)
    assert_same_state(state, reference)
    assert set(statuses) <= {"SCORED", "ERROR"}
    assert not list((tmp_path / "lake").rglob("*.tmp")), "a temporary file was left visible"
    # only applications SENT at the kill may be asked again, and only once each
    asked_again = set(resumed["repeated_entities"])
    assert asked_again <= in_flight, asked_again - in_flight
    assert resumed["decision_repeats"] == len(asked_again)
    if crash_at in ("decide.after_send", "decisions.stored_before_ledger"):
        # every claimed decision was answered before the kill, none was stored for good
        assert in_flight
        assert asked_again == in_flight
    if crash_at == "decide.claimed":
        assert in_flight
        assert killed["decisions"] == 0
        assert not asked_again
    dispose_engines()
