"""The decision SLA is about yesterday's partition: an old day's backfill or a dry run does not
meet it; a warning before 09:00 UTC, a failure after."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from credit_scoring.decisioning import decision_sla
from credit_scoring.decisioning.decision_sla import (
    sla_day,
    yesterdays_decisions_by_0900_utc,
)
from credit_scoring.ledger import Ledger
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


def evaluate(resource: LedgerResource, now: datetime, monkeypatch) -> tuple[bool, str, dict]:
    monkeypatch.setattr(decision_sla, "utc_now", lambda: now)
    result = yesterdays_decisions_by_0900_utc(ledger=resource)
    return (
        result.passed,
        result.severity.value,
        {k: v.value for k, v in result.metadata.items()},
    )


def decide(book: Ledger, day: str, ids: list[str]) -> None:
    token, won = book.claim_for_decision([day], application_ids=ids)
    book.mark_scored(
        pd.DataFrame({"application_id": won, "decision_id": [f"d-{a}" for a in won]}), token=token
    )


def test_the_sla_day_is_yesterday_in_utc():
    assert sla_day(datetime(2026, 10, 6, 0, 30, tzinfo=UTC)).isoformat() == YESTERDAY


def test_an_old_days_backfill_and_a_dry_run_do_not_meet_it(ledger, monkeypatch):
    book, resource = ledger
    register(book, OLD_DAY, O1=2)
    decide(book, OLD_DAY, ["O1"])  # an old day, backfilled and decided

    passed, severity, metadata = evaluate(resource, AFTER_DEADLINE, monkeypatch)
    assert (passed, severity) == (False, "ERROR")
    assert metadata["partition"] == YESTERDAY
    assert (metadata["expected_applications"], metadata["undecided"]) == (2, 2)

    register(book, YESTERDAY, Y1=3, Y2=1)  # fetched and registered; a dry run stops here
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

    # a recorded error is an outcome too: the day is done
    token, _ = book.claim_for_decision([YESTERDAY], application_ids=["Y2"])
    book.mark_errors(
        pd.DataFrame(
            {"application_id": ["Y2"], "error_code": ["HTTP_422"], "error_message": ["bad"]}
        ),
        token=token,
    )
    passed, _, metadata = evaluate(resource, AFTER_DEADLINE, monkeypatch)
    assert passed
    assert (metadata["decided_or_failed"], metadata["undecided"]) == (2, 0)
