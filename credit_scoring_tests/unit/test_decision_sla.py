"""The decision SLA is about one partition: an old day's backfill, applications left PENDING (as a
dry run leaves them), a decide error or a fetch the next run would retry do not meet it; a
warning before 09:00 UTC, a failure after. The check runs as the SLA schedule's job runs it."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import pandas as pd
import pytest

from credit_scoring.decisioning import decision_sla
from credit_scoring.decisioning.decision_sla import SLA_PARTITION_TAG, sla_day
from credit_scoring.decisioning.decision_sla import yesterdays_decisions_by_0900_utc as SLA_CHECK
from credit_scoring.ledger import Ledger, new_owner_token
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring.ledger.resource import LedgerResource
from credit_scoring_tests.builders.applications import write_applications
from credit_scoring_tests.builders.ledger_rows import register

YESTERDAY, OLD_DAY = "2026-10-05", "2026-09-30"
BEFORE_DEADLINE = datetime(2026, 10, 6, 8, 59, tzinfo=UTC)
AFTER_DEADLINE = datetime(2026, 10, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    applications = write_applications(
        tmp_path / "applications.csv",
        [
            ("Y1", "l1", f"{YESTERDAY}T10:00:00Z", 1000),
            ("Y2", "l2", f"{YESTERDAY}T23:59:00Z", 2000),
            ("O1", "l3", f"{OLD_DAY}T12:00:00Z", 3000),
        ],
    )
    monkeypatch.setenv("CREDIT_SCORING_APPLICATIONS", str(applications))
    monkeypatch.setenv("CREDIT_SCORING_HOME", str(tmp_path / "home"))
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    yield Ledger(url), LedgerResource(url=url)
    dispose_engines()


def evaluate(
    resource: LedgerResource, now: datetime, monkeypatch, tags: dict[str, str] | None = None
) -> tuple[bool, str, dict]:
    """The check run as the SLA schedule's job runs it, at ``now``."""
    monkeypatch.setattr(decision_sla, "utc_now", lambda: now)
    job = dg.define_asset_job("sla", selection=dg.AssetSelection.checks(SLA_CHECK))
    defs = dg.Definitions(asset_checks=[SLA_CHECK], jobs=[job], resources={"ledger": resource})
    result = defs.resolve_job_def("sla").execute_in_process(tags=tags or {})
    (evaluation,) = [
        event.event_specific_data
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    ]
    return (
        evaluation.passed,
        evaluation.severity.value,
        {k: v.value for k, v in evaluation.metadata.items()},
    )


def decide(book: Ledger, day: str, ids: list[str]) -> None:
    token, won = book.claim_for_decision([day], application_ids=ids)
    book.mark_scored(
        pd.DataFrame({"application_id": won, "decision_id": [f"d-{a}" for a in won]}), token=token
    )


def test_the_sla_day_is_yesterday_in_utc():
    assert sla_day(datetime(2026, 10, 6, 0, 30, tzinfo=UTC)).isoformat() == YESTERDAY


def test_an_old_days_backfill_or_applications_left_pending_do_not_meet_it(ledger, monkeypatch):
    book, resource = ledger
    register(book, OLD_DAY, O1=2)
    decide(book, OLD_DAY, ["O1"])  # an old day, backfilled and decided

    passed, severity, metadata = evaluate(resource, AFTER_DEADLINE, monkeypatch)
    assert (passed, severity) == (False, "ERROR")
    assert metadata["partition"] == YESTERDAY
    assert (metadata["expected_applications"], metadata["undecided"]) == (2, 2)

    register(
        book, YESTERDAY, Y1=3, Y2=1
    )  # fetched and registered, left PENDING (as a dry run leaves them)
    passed, _, metadata = evaluate(resource, AFTER_DEADLINE, monkeypatch)
    assert not passed
    assert metadata["undecided_examples"] == "Y1, Y2"


def test_before_the_deadline_an_unfinished_day_warns_and_a_decided_one_passes(ledger, monkeypatch):
    book, resource = ledger
    register(book, YESTERDAY, Y1=3, Y2=1)
    decide(book, YESTERDAY, ["Y1"])

    passed, severity, metadata = evaluate(resource, BEFORE_DEADLINE, monkeypatch)
    assert (passed, severity, metadata["past_deadline"]) == (False, "WARN", False)
    assert metadata["undecided_examples"] == "Y2"

    # a decide error is not a decision: the SLA is not met
    token, _ = book.claim_for_decision([YESTERDAY], application_ids=["Y2"])
    book.mark_errors(
        pd.DataFrame(
            {"application_id": ["Y2"], "error_code": ["HTTP_503"], "error_message": ["down"]}
        ),
        token=token,
    )
    passed, _, metadata = evaluate(resource, AFTER_DEADLINE, monkeypatch)
    assert not passed
    assert metadata["undecided_examples"] == "Y2"


def fetch_fails(book: Ledger, app: str, *, retryable: bool) -> None:
    owner = new_owner_token("fetch")
    frame = pd.DataFrame(
        {"application_id": [app], "login_id": ["l"], "partition_date": [YESTERDAY]}
    )
    assert book.claim_fetch(frame, owner=owner) == [app]
    outcome = {"application_id": app, "partition_date": YESTERDAY, "ok": False}
    outcome |= {"retryable": retryable, "request_id": None, "http_status": 401}
    outcome |= {"error_code": "INVALID_LOGIN", "error_message": "unknown login"}
    outcome["fetched_at"] = datetime(2026, 10, 6, 6, 0, tzinfo=UTC)
    book.record_fetch_outcomes(pd.DataFrame([outcome]), owner=owner)


def test_a_final_fetch_error_is_an_outcome_and_a_retryable_one_is_not(ledger, monkeypatch):
    book, resource = ledger
    register(book, YESTERDAY, Y1=3)
    decide(book, YESTERDAY, ["Y1"])
    fetch_fails(book, "Y2", retryable=True)  # the next run would try again

    passed, _, metadata = evaluate(resource, AFTER_DEADLINE, monkeypatch)
    assert not passed
    assert metadata["undecided_examples"] == "Y2"

    # the next run's retry answers for good: the login is gone, no run will change that
    fetch_fails(book, "Y2", retryable=False)
    passed, _, metadata = evaluate(resource, AFTER_DEADLINE, monkeypatch)
    assert passed
    assert (metadata["decided_or_failed_for_good"], metadata["undecided"]) == (2, 0)


def test_the_schedules_run_checks_the_day_it_names(ledger, monkeypatch):
    book, resource = ledger
    register(book, OLD_DAY, O1=1)
    decide(book, OLD_DAY, ["O1"])
    passed, _, metadata = evaluate(
        resource, AFTER_DEADLINE, monkeypatch, tags={SLA_PARTITION_TAG: OLD_DAY}
    )
    assert passed
    assert (metadata["partition"], metadata["expected_applications"]) == (OLD_DAY, 1)
