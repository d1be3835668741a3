"""Fault profiles on both APIs: every transient fault recovered, every terminal one an ERROR.

Each profile switches the mock's faults on for Flinks and Taktile's decide at once and runs
the whole graph over every sample day. Faults are deterministic per (seed, endpoint, key,
call) and capped at two in a row per key, below the clients' five attempts, so every transient
fault must be recovered by a retry; terminal faults refuse a fixed set of keys on every call,
so exactly those applications must end as ERROR with the API's code. Compared with an
undisturbed run: nothing lost, nothing duplicated, and the mock saw exactly one extra call per
injected fault (the retries are bounded: no storm).
"""

from __future__ import annotations

import pandas as pd
import pytest

from credit_scoring.ingestion.applications_source import (
    read_applications_csv,
    validate_applications,
)
from credit_scoring.ledger import Ledger
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.conftest import SAMPLE_DATA
from credit_scoring_tests.pipeline import (
    lost_and_duplicated,
    run_pipeline,
    sample_days,
    whole_graph_snapshot,
)
from credit_scoring_tests.reliability.report import ScenarioFigures

pytestmark = [pytest.mark.integration, pytest.mark.reliability, pytest.mark.slow]

#: Client timeouts short enough that a ``slow`` fault (2.5 s) is a timeout, then a retry.
SHORT_TIMEOUTS = {"FLINKS_TIMEOUT_SECONDS": "1", "TAKTILE_TIMEOUT_SECONDS": "1"}

PROFILES = {
    "faults: 5xx, RETRY_LATER, TOO_MANY_REQUESTS/429": (
        "--fault-rate 0.35 --fault-kinds 500,retry_later,too_many_requests --fault-seed 11",
        {},
    ),
    "faults: dropped connections, slow past the timeout, 202 pending x2": (
        "--fault-rate 0.35 --fault-kinds drop,slow --slow-ms 2500 --pending-polls 2 "
        "--fault-seed 12",
        SHORT_TIMEOUTS,
    ),
    "faults: terminal (20% of keys) plus every transient kind": (
        "--fault-rate 0.25 --terminal-rate 0.2 --slow-ms 2500 --pending-polls 1 --fault-seed 13",
        SHORT_TIMEOUTS,
    ),
}

#: The code each API's terminal refusal must be recorded with.
FLINKS_TERMINAL_CODE = "DISABLED_LOGIN"
TAKTILE_TERMINAL_CODE = "HTTP_422"


def without(frame: pd.DataFrame, applications: set[str]) -> pd.DataFrame:
    if frame.empty:
        return frame
    return frame.loc[~frame["application_id"].isin(applications)].reset_index(drop=True)


@pytest.mark.parametrize("profile", list(PROFILES))
def test_a_fault_profile_on_both_apis_loses_nothing_and_duplicates_nothing(
    mock_server_factory, undisturbed_state, tmp_path, reliability_report, profile
):
    switches, env = PROFILES[profile]
    args = switches.split()
    server = mock_server_factory(SAMPLE_DATA, *args)
    days = sample_days()
    code, output = run_pipeline(
        tmp_path,
        server.base_url,
        start=days[0],
        end=days[-1],
        groups=None,
        TAKTILE_BASE_URL=server.base_url,
        **env,
    )
    assert code == 0, output[-4000:]
    stats = server.stats()
    state = whole_graph_snapshot(tmp_path, days)

    # which applications the mock refused for good, by API
    apps, _ = validate_applications(read_applications_csv(SAMPLE_DATA / "applications.csv"))
    login_of = dict(zip(apps["application_id"], apps["login_id"], strict=True))
    app_of = {login: app for app, login in login_of.items()}
    refused_logins = set(stats["terminal_keys"].get("Authorize", []))
    flinks_refused = {a for a, login in login_of.items() if login in refused_logins}
    taktile_refused = set(stats["terminal_keys"].get("decide", []))
    assert not taktile_refused & flinks_refused  # a login refused never reaches Taktile

    # expected state: the undisturbed one minus what the terminal faults took out
    reference = undisturbed_state
    expected = {
        name: without(frame, flinks_refused)
        for name, frame in reference.items()
        if name not in ("applications", "decisions")
    }
    expected["decisions"] = without(reference["decisions"], flinks_refused | taktile_refused)
    # an application Taktile refuses keeps its transactions, closed as ERROR in the ledger
    refused_rows = expected["ledger"]["application_id"].isin(taktile_refused)
    expected["ledger"] = expected["ledger"].assign(
        status=expected["ledger"]["status"].where(~refused_rows, "ERROR")
    )
    lost, duplicated = lost_and_duplicated(state, expected)
    # rows the run holds for refused applications would be rows it should not have
    extra = sum(
        int(state[name]["application_id"].isin(flinks_refused).sum())
        for name in ("silver", "rejected", "accounts", "ledger")
    ) + int(state["decisions"]["application_id"].isin(flinks_refused | taktile_refused).sum())

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    statuses = ledger.application_statuses(days).set_index("application_id")
    errors = statuses.loc[statuses["status"] == "ERROR"]
    expected_codes = {
        **dict.fromkeys(flinks_refused, FLINKS_TERMINAL_CODE),
        **dict.fromkeys(taktile_refused, TAKTILE_TERMINAL_CODE),
    }
    unexpected = {
        app: code for app, code in errors["error_code"].items() if expected_codes.get(app) != code
    }
    transient = sum(sum(keys.values()) for keys in stats["faults_by_key"].values())
    unrecovered = sum(
        count
        for endpoint, keys in stats["faults_by_key"].items()
        for key, count in keys.items()
        if (key if endpoint == "decide" else app_of.get(key)) in unexpected
    )
    reliability_report(
        ScenarioFigures(
            scenario=profile,
            faults_injected=transient + stats["pending_answers"] + stats["terminal_answers"],
            recovered=transient - unrecovered + stats["pending_answers"],
            recorded_error=len(errors),
            rows_lost=lost,
            duplicates=duplicated + extra,
        )
    )

    assert transient > 0, "the profile injected no transient fault"
    if "--pending-polls" in args:
        assert stats["pending_answers"] > 0
    if "--terminal-rate" in args:
        assert flinks_refused, "no login drawn terminal: pick another seed"
        assert taktile_refused, "no decision entity drawn terminal: pick another seed"
    assert unexpected == {}, f"ERROR not explained by a terminal fault: {unexpected}"
    assert set(errors.index) == set(expected_codes)
    assert (errors["error_message"].str.len() > 0).all()
    assert set(statuses["status"]) <= {"SCORED", "ERROR"}
    assert (lost, duplicated, extra) == (0, 0, 0)
    # an application without bank data still gets a features row, flagged as such
    features = state["features"]
    assert not features.loc[features["application_id"].isin(flinks_refused), "has_bank_data"].any()
    state["features"] = without(features, flinks_refused)
    for name in ("silver", "rejected", "accounts", "ledger", "features", "decisions"):
        pd.testing.assert_frame_equal(
            state[name].reset_index(drop=True),
            expected[name].reset_index(drop=True),
            check_dtype=False,
            obj=name,
        )
    # bounded retries: one extra call per injected fault, no more (no retry storm)
    calls = stats["requests"]
    fetched = len(login_of)
    faults = {e: sum(keys.values()) for e, keys in stats["faults_by_key"].items()}
    assert calls["Authorize"] == fetched + faults.get("Authorize", 0)
    # a refused login stops at Authorize; every other asks GetAccountsDetail once, plus retries
    accepted = fetched - len(flinks_refused)
    assert calls["GetAccountsDetail"] == accepted + faults.get("GetAccountsDetail", 0)
    # polls: with N pending answers per login, at most N polls that were not faulted (a slow
    # or dropped call may use a pending answer up unseen, so fewer is possible), plus one
    # retry per faulted poll; without pending answers, none at all
    pending = int(args[args.index("--pending-polls") + 1]) if "--pending-polls" in args else 0
    polls = calls.get("GetAccountsDetailAsync", 0) - faults.get("GetAccountsDetailAsync", 0)
    assert 0 <= polls <= accepted * pending
    assert stats["pending_answers"] <= accepted * pending
    decided = len(statuses) - len(flinks_refused)
    assert calls["decide"] == decided + faults.get("decide", 0)
    dispose_engines()
