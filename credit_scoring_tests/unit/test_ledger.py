"""Ledger transitions: set-based, compare-and-set, and safe with several processes at once."""

from __future__ import annotations

import json
import multiprocessing
import os
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from credit_scoring.ledger import (
    APPLICATION_ROW,
    ERROR,
    PENDING,
    SCORED,
    SENT,
    Ledger,
    new_owner_token,
)
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring_tests.builders.ledger_rows import DAY, apps, register, txs


@pytest.fixture
def ledger(ledger_url) -> Ledger:
    return Ledger(ledger_url)


def statuses(ledger: Ledger) -> dict[str, str]:
    frame = ledger.application_statuses([DAY])
    return dict(zip(frame["application_id"], frame["status"], strict=True))


def test_register_is_insert_or_ignore_and_counts_new_rows(ledger):
    first = register(ledger, A=3, B=0)
    again = register(ledger, A=3, B=0)

    assert (first.new_transactions, first.new_applications) == (3, 2)
    assert (again.new_transactions, again.already_registered, again.new_applications) == (0, 3, 0)
    # three of A's five present, two new; C new: only the rows actually inserted count
    mixed = register(ledger, A=5, C=1)
    assert (mixed.new_transactions, mixed.already_registered, mixed.new_applications) == (3, 3, 1)
    counts = ledger.status_counts([DAY])
    assert counts.to_dict("records") == [
        {"partition_date": DAY, "status": PENDING, "transactions": 6, "applications": 3}
    ]


def test_a_day_registered_as_a_stream_of_frames_counts_as_one_frame_would(ledger):
    """Silver registers a day read back from its spool a batch at a time: the batches may split
    an application, repeat rows already present and bring a new application."""
    register(ledger, A=3)
    a = txs("A", 5)
    stream = iter([a.iloc[:2], a.iloc[2:4], pd.concat([a.iloc[4:], txs("C", 2)])])

    result = ledger.register_transactions(stream, apps("A", "C"))

    assert (result.new_transactions, result.already_registered, result.new_applications) == (
        4,
        3,
        1,
    )
    counts = ledger.status_counts([DAY])
    assert counts.to_dict("records") == [
        {"partition_date": DAY, "status": PENDING, "transactions": 7, "applications": 2}
    ]


def test_claim_score_and_error_move_whole_applications(ledger):
    register(ledger, A=2, B=1, C=0)
    token, won = ledger.claim_for_decision([DAY])
    assert won == ["A", "B", "C"]

    ledger.mark_scored(
        pd.DataFrame({"application_id": ["A", "C"], "decision_id": ["d1", "d3"]}), token=token
    )
    ledger.mark_errors(
        pd.DataFrame(
            {"application_id": ["B"], "error_code": ["HTTP_422"], "error_message": ["bad payload"]}
        ),
        token=token,
    )

    rows = ledger.application_statuses([DAY]).set_index("application_id")
    assert rows.loc["A", "status"] == SCORED
    assert rows.loc["A", "tx_scored"] == 2
    assert rows.loc["A", "decision_id"] == "d1"
    assert rows.loc["B", "status"] == ERROR
    assert rows.loc["B", "error_code"] == "HTTP_422"
    assert rows.loc["C", "status"] == SCORED
    assert rows.loc["C", "transactions"] == 0


def test_a_second_claim_wins_nothing_while_the_first_is_alive(ledger):
    register(ledger, A=1, B=1)
    _, first = ledger.claim_for_decision([DAY])
    _, second = ledger.claim_for_decision([DAY])
    assert first == ["A", "B"]
    assert second == []


def test_rescoring_a_scored_partition_claims_nothing(ledger):
    register(ledger, A=1)
    token, won = ledger.claim_for_decision([DAY])
    ledger.mark_scored(pd.DataFrame({"application_id": won, "decision_id": ["d"]}), token=token)
    assert ledger.claim_for_decision([DAY])[1] == []


def test_sent_left_by_a_dead_process_is_taken_over(ledger):
    register(ledger, A=1)
    dead_owner = f"{os.uname().nodename}:999999:decide:x"
    ledger.claim_for_decision([DAY], owner=dead_owner)
    token, won = ledger.claim_for_decision([DAY])
    assert won == ["A"]
    assert token != dead_owner


def test_old_sent_from_another_host_is_taken_over_only_after_the_threshold(ledger):
    register(ledger, A=1)
    ledger.claim_for_decision([DAY], owner="elsewhere:1:decide:x")
    assert ledger.claim_for_decision([DAY])[1] == []
    assert ledger.claim_for_decision([DAY], stale_sent_after=timedelta(0))[1] == ["A"]


def test_errors_return_to_pending_only_when_asked(ledger):
    register(ledger, A=2)
    token, _ = ledger.claim_for_decision([DAY])
    ledger.mark_errors(
        pd.DataFrame(
            {"application_id": ["A"], "error_code": ["TIMEOUT"], "error_message": ["slow"]}
        ),
        token=token,
    )
    assert ledger.claim_for_decision([DAY])[1] == []
    assert ledger.retry_errors([DAY]) == 3
    assert statuses(ledger) == {"A": PENDING}
    assert ledger.claim_for_decision([DAY])[1] == ["A"]


def test_marking_with_a_foreign_token_changes_nothing(ledger):
    register(ledger, A=1)
    ledger.claim_for_decision([DAY])
    changed = ledger.mark_scored(
        pd.DataFrame({"application_id": ["A"], "decision_id": ["d"]}), token="not-mine"
    )
    assert changed == 0
    assert statuses(ledger) == {"A": SENT}


def test_transactions_arriving_after_a_decision_are_not_sent_again(ledger):
    register(ledger, A=1)
    token, _ = ledger.claim_for_decision([DAY])
    ledger.mark_scored(pd.DataFrame({"application_id": ["A"], "decision_id": ["d"]}), token=token)

    result = register(ledger, A=2)

    assert result.new_transactions == 1
    assert result.late_transactions == 1
    assert ledger.claim_for_decision([DAY])[1] == []
    keys = ledger.transaction_keys([DAY]).set_index("transaction_id")
    assert keys.loc["A-t1", "status"] == ERROR


def test_a_days_keys_come_as_one_json_array_per_application_and_no_other_days(ledger):
    """The reconciliation reads a day's keys as one JSON array of ids per application, in
    batches of the number of applications asked: every key once, exactly as registered (quotes,
    backslashes and non-ASCII included), none of another day's."""
    register(ledger, A=3, B=2, C=1)
    odd = pd.DataFrame(
        {
            "application_id": "D",
            "transaction_id": ['say "hi"', "back\\slash", "café ✓", "tab\tin"],
            "partition_date": DAY,
        }
    )
    ledger.register_transactions(odd, apps("D"))
    register(ledger, "2026-10-06", E=1)

    batches = list(ledger.transaction_key_batches(DAY, applications=3))

    assert [batch.num_rows for batch in batches] == [3, 1]
    assert batches[0].schema.names == ["application_id", "transaction_ids"]
    keys = sorted(
        (row["application_id"], tid)
        for batch in batches
        for row in batch.to_pylist()
        for tid in json.loads(row["transaction_ids"])
    )
    expected = ledger.transaction_keys([DAY]).loc[:, ["application_id", "transaction_id"]]
    assert keys == sorted(expected.itertuples(index=False, name=None))
    assert {app for app, _ in keys} == {"A", "B", "C", "D"}
    assert {tid for app, tid in keys if app == "D"} == set(odd["transaction_id"])
    assert list(ledger.transaction_key_batches("2026-10-07")) == []


def test_a_transaction_follows_its_application_unless_it_arrived_after_the_decision(ledger):
    """A transaction's status is its application's, however it is read (the day's keys, the
    counts, the view); one arriving after the decision is held until a new decision is asked
    for, and that decision then covers every transaction of the application."""
    import sqlalchemy as sa

    register(ledger, A=2, B=1)
    token, _ = ledger.claim_for_decision([DAY])
    ledger.mark_scored(pd.DataFrame({"application_id": ["A"], "decision_id": ["d1"]}), token=token)
    register(ledger, A=3)  # A-t2 arrives after A's decision

    def by_status() -> dict[str, int]:
        keys = ledger.transaction_keys([DAY])
        from_keys = keys.groupby("status").size().to_dict()
        counts = ledger.status_counts([DAY]).set_index("status")["transactions"]
        with ledger.engine.connect() as conn:
            view = conn.execute(
                sa.text("select status, count(*) from transaction_status group by status")
            ).all()
        assert from_keys == counts[counts > 0].to_dict() == dict(view)
        return from_keys

    assert by_status() == {SCORED: 2, SENT: 1, ERROR: 1}
    assert ledger.claim_for_decision([DAY])[1] == []

    assert ledger.retry_errors([DAY]) == 4  # A and its three transactions
    token, won = ledger.claim_for_decision([DAY])
    assert won == ["A"]
    closed = ledger.mark_scored(
        pd.DataFrame({"application_id": ["A"], "decision_id": ["d2"]}), token=token
    )
    assert closed == 4
    assert by_status() == {SCORED: 3, SENT: 1}
    with ledger.engine.connect() as conn:
        decisions = conn.execute(
            sa.text(
                "select distinct decision_id from transaction_status where application_id = 'A'"
            )
        ).all()
    assert decisions == [("d2",)]


def test_fetch_claims_split_between_owners_and_dead_leases_are_taken_over(ledger):
    me, other = new_owner_token("fetch"), new_owner_token("fetch")
    assert ledger.claim_fetch(apps("A", "B"), owner=me) == ["A", "B"]
    assert ledger.claim_fetch(apps("A", "B", "C"), owner=other) == ["C"]

    dead = f"{os.uname().nodename}:999999:fetch:x"
    assert ledger.claim_fetch(apps("D"), owner=dead) == ["D"]
    assert ledger.claim_fetch(apps("D"), owner=other) == ["D"]


def test_fetch_outcomes_record_errors_and_the_fetchs_verdict_decides_the_retry(ledger):
    owner = new_owner_token("fetch")
    ledger.claim_fetch(apps("A", "B", "C"), owner=owner)
    now = datetime.now(UTC)
    ledger.record_fetch_outcomes(
        pd.DataFrame(
            {
                "application_id": ["A", "B", "C"],
                "partition_date": [DAY, DAY, DAY],
                "ok": [True, False, False],
                "retryable": [None, False, True],
                "request_id": ["r1", None, "r3"],
                "http_status": [200, 401, 404],
                "error_code": [None, "INVALID_LOGIN", "ANY_VENDOR_CODE"],
                "error_message": [None, "unknown login", "the fetch called this transient"],
                "fetched_at": [now, now, now],
            }
        ),
        owner=owner,
    )
    assert ledger.applications_to_silver([DAY]) == ["A"]
    rows = ledger.application_statuses([DAY]).set_index("application_id")
    assert rows.loc["B", "status"] == ERROR
    assert (rows.loc["B", "error_stage"], rows.loc["B", "error_code"]) == ("fetch", "INVALID_LOGIN")
    leases = ledger.ingestion_states([DAY]).set_index("application_id")
    assert leases["retryable"].to_dict() == {"A": None, "B": False, "C": True}
    # the ledger knows no vendor codes: what the fetch called retryable is retried by the next
    # run whatever its code or status; terminal errors only when asked; finished ones only
    # with refetch
    other = new_owner_token("fetch")
    assert ledger.claim_fetch(apps("A", "B", "C"), owner=other) == ["C"]
    assert ledger.claim_fetch(apps("A", "B"), owner=other, retry_errors=True) == ["B"]
    assert ledger.claim_fetch(apps("A"), owner=other, refetch=True) == ["A"]


def test_a_fetch_failing_transiently_run_after_run_is_given_up_at_the_cap(ledger_url):
    ledger = Ledger(ledger_url, fetch_attempts=3)

    def fail_once(code: str) -> list[str]:
        owner = new_owner_token("fetch")
        won = ledger.claim_fetch(apps("A"), owner=owner)
        if won:
            outcome = {
                "application_id": "A",
                "partition_date": DAY,
                "ok": False,
                "retryable": True,
                "request_id": None,
                "http_status": 503,
                "error_code": code,
                "error_message": "service unavailable",
                "fetched_at": datetime.now(UTC),
            }
            ledger.record_fetch_outcomes(pd.DataFrame([outcome]), owner=owner)
        return won

    assert [fail_once(f"HTTP_503_{n}") for n in range(1, 5)] == [["A"], ["A"], ["A"], []]

    lease = ledger.ingestion_states([DAY]).set_index("application_id").loc["A"]
    assert (lease["state"], lease["attempts"], lease["retryable"]) == (ERROR, 3, False)
    assert lease["error_code"] == "HTTP_503_3"
    assert lease["error_message"].startswith("gave up after 3 fetch attempts")
    row = ledger.application_statuses([DAY]).set_index("application_id").loc["A"]
    assert (row["status"], row["error_stage"], row["error_code"]) == (ERROR, "fetch", "HTTP_503_3")
    # an operator can still ask for it, and the count starts afresh for them
    assert ledger.claim_fetch(apps("A"), owner=new_owner_token("fetch"), retry_errors=True) == ["A"]
    assert ledger.ingestion_states([DAY]).set_index("application_id").loc["A", "attempts"] == 0


def test_refetching_a_fetched_application_does_not_spend_its_attempts(ledger_url):
    ledger = Ledger(ledger_url, fetch_attempts=2)
    ok = {"ok": True, "retryable": None, "request_id": "r", "http_status": 200}
    failed = {"ok": False, "retryable": True, "request_id": None, "http_status": 503}

    def fetch(outcome: dict, **kwargs: bool) -> None:
        owner = new_owner_token("fetch")
        assert ledger.claim_fetch(apps("A"), owner=owner, **kwargs) == ["A"]
        row = {"application_id": "A", "partition_date": DAY, "error_code": None}
        row |= {"error_message": None, "fetched_at": datetime.now(UTC), **outcome}
        if not outcome["ok"]:
            row |= {"error_code": "HTTP_503", "error_message": "unavailable"}
        ledger.record_fetch_outcomes(pd.DataFrame([row]), owner=owner)

    fetch(ok)
    fetch(ok, refetch=True)
    fetch(failed, refetch=True)  # a first failure after two good fetches: retried
    lease = ledger.ingestion_states([DAY]).set_index("application_id").loc["A"]
    assert (lease["state"], lease["retryable"]) == (ERROR, True)
    fetch(failed)  # the second in a row reaches the cap of 2
    lease = ledger.ingestion_states([DAY]).set_index("application_id").loc["A"]
    assert (lease["state"], lease["retryable"]) == (ERROR, False)


def test_a_lease_given_back_by_a_failed_run_is_retried_by_the_next(ledger):
    owner = new_owner_token("fetch")
    ledger.claim_fetch(apps("A"), owner=owner)

    assert ledger.release_fetch_claims(owner) == 1

    leases = ledger.ingestion_states([DAY]).set_index("application_id")
    assert (leases.loc["A", "error_code"], leases.loc["A", "retryable"]) == ("RUN_FAILED", True)
    assert ledger.claim_fetch(apps("A"), owner=new_owner_token("fetch")) == ["A"]


def _claim_in_process(url: str, ready, queue, release) -> None:
    """A decision run's claim: claimed together with the others, then alive until released.

    A claimer that exits before the others claim looks like a run that died holding its
    claim, which the next claimer rightly takes over: the claimers stay alive, as runs do
    while they send their decisions.
    """
    ledger = Ledger(url)
    ready.wait(timeout=120)
    _, won = ledger.claim_for_decision([DAY])
    queue.put(won)
    release.wait(timeout=120)


def test_processes_claiming_at_once_never_win_the_same_application(ledger_url):
    ledger = Ledger(ledger_url)
    ids = [f"APP-{i:04d}" for i in range(300)]
    ledger.register_transactions(pd.concat([txs(a, 3) for a in ids], ignore_index=True), apps(*ids))
    dispose_engines()
    context = multiprocessing.get_context("spawn")
    ready, queue, release = context.Barrier(4), context.Queue(), context.Event()
    workers = [
        context.Process(target=_claim_in_process, args=(ledger_url, ready, queue, release))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    try:
        results = [queue.get(timeout=180) for _ in workers]
    finally:
        release.set()
        for worker in workers:
            worker.join(timeout=60)

    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    claimed = [app for won in results for app in won]
    assert sorted(claimed) == ids  # every application won exactly once
    keys = Ledger(ledger_url).transaction_keys([DAY])
    assert (keys["status"] == SENT).all()
    assert len(keys) == 900
    dispose_engines()


def test_a_claim_whose_holder_exited_is_taken_over_by_the_next_claimer(ledger_url):
    """The other side of the same rule: a claim left by a process that is gone is re-claimed
    at once (and re-sent with the same idempotency key), not after the stale age."""
    Ledger(ledger_url).register_transactions(txs("A", 2), apps("A"))
    dispose_engines()
    context = multiprocessing.get_context("spawn")
    ready, queue, release = context.Barrier(1), context.Queue(), context.Event()
    release.set()  # the holder claims, then exits without closing its claim
    holder = context.Process(target=_claim_in_process, args=(ledger_url, ready, queue, release))
    holder.start()
    assert queue.get(timeout=120) == ["A"]
    holder.join(timeout=60)
    assert holder.exitcode == 0

    token, won = Ledger(ledger_url).claim_for_decision([DAY])

    assert won == ["A"]
    assert f":{os.getpid()}:" in token
    dispose_engines()


def test_application_row_marker_is_star():
    assert APPLICATION_ROW == "*"


@pytest.mark.parametrize("paramstyle", ["qmark", "named"])
def test_bulk_registration_stores_what_sqlalchemy_reads_back(tmp_path, paramstyle):
    """Rows inserted through the driver read back like any other: aware timestamps, PENDING.

    ``named`` stands in for drivers that take parameters by name (psycopg's pyformat).
    """
    import sqlalchemy as sa

    from credit_scoring.ledger.schema import application_transactions, scoring_status
    from credit_scoring.ledger.upgrades import ensure_current

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    ledger.engine = sa.create_engine(
        f"sqlite:///{tmp_path / 'named.sqlite'}", paramstyle=paramstyle
    )
    ensure_current(ledger.engine)
    before = datetime.now(UTC)
    result = register(ledger, A=3, B=0)
    again = register(ledger, A=4)

    assert (result.new_transactions, result.new_applications) == (3, 2)
    assert (again.new_transactions, again.already_registered) == (1, 3)
    with ledger.engine.connect() as conn:
        applications = conn.execute(sa.select(scoring_status)).mappings().all()
        transactions = conn.execute(sa.select(application_transactions)).mappings().all()
    assert len(applications) == 2
    assert {r["status"] for r in applications} == {PENDING}
    assert {r["transaction_id"] for r in applications} == {APPLICATION_ROW}
    assert sorted(r["transaction_id"] for r in transactions) == [f"A-t{i}" for i in range(4)]
    assert {r["held_code"] for r in transactions} == {None}
    for row in [*applications, *transactions]:
        created = row["created_at"].replace(tzinfo=UTC)
        assert before - timedelta(seconds=1) <= created <= datetime.now(UTC)
    ledger.engine.dispose()
    dispose_engines()


def test_application_statuses_count_only_the_days_transactions(ledger):
    register(ledger, A=2)
    ledger.register_transactions(txs("B", 3, day="2026-10-06"), apps("B", day="2026-10-06"))

    both = ledger.application_statuses().set_index("application_id")
    one_day = ledger.application_statuses(["2026-10-06"]).set_index("application_id")
    no_counts = ledger.application_statuses([DAY], transaction_counts=False)

    assert both["transactions"].to_dict() == {"A": 2, "B": 3}
    assert one_day["transactions"].to_dict() == {"B": 3}
    assert one_day.loc["B", "tx_pending"] == 3
    assert no_counts[["application_id", "status", "transactions"]].to_dict("records") == [
        {"application_id": "A", "status": PENDING, "transactions": 0}
    ]


def test_rows_for_the_driver_are_made_a_slice_at_a_time_and_are_all_text():
    """What registration hands the driver: every row once, in order, as strings, whatever the
    slice size (Arrow-backed text and numbers alike)."""
    from credit_scoring.ledger.sql import text_rows

    frame = pd.DataFrame(
        {
            "application_id": pd.array(["A", "A", "B", "C", "C"], dtype="string[pyarrow]"),
            "transaction_id": [1, 2, 3, 4, 5],
        }
    )
    expected = [("A", "1"), ("A", "2"), ("B", "3"), ("C", "4"), ("C", "5")]

    rows = text_rows(frame, size=2)

    assert next(rows) == ("A", "1")  # lazily: the first slice, before the rest is made
    assert [("A", "1"), *rows] == expected
    assert list(text_rows(frame, size=50)) == expected
    assert list(text_rows(frame.iloc[:0])) == []


def test_a_registration_racing_another_insert_of_its_rows_stores_each_once(postgres_server):
    """On PostgreSQL, registration inserts without ``ON CONFLICT`` (rows already present are
    left out by an anti-join). A row another transaction inserts while the registration runs
    is not yet visible to that anti-join: the insert waits for the other transaction, which
    commits, and the registration must then fall back to insert-or-ignore, not fail."""
    import threading
    import time

    import sqlalchemy as sa

    from credit_scoring.ledger.schema import application_transactions

    url = postgres_server.url(postgres_server.create_database())
    ledger = Ledger(url)
    other = sa.create_engine(url)
    outcome: dict[str, object] = {}

    def register_a() -> None:
        try:
            outcome["result"] = ledger.register_transactions(txs("A", 3), apps("A"))
        except Exception as error:  # reported by the assertions below
            outcome["error"] = error

    try:
        with other.connect() as racer:
            racer.execute(
                sa.insert(application_transactions).values(
                    application_id="A", transaction_id="A-t1", created_at=datetime.now(UTC)
                )
            )  # not committed yet
            racer_pid = racer.execute(sa.text("select pg_backend_pid()")).scalar()
            registering = threading.Thread(target=register_a)
            registering.start()
            deadline = time.monotonic() + 60
            with other.connect() as watcher:
                # a backend blocked by the racer's transaction: the registration's insert
                while not watcher.execute(
                    sa.text(
                        "select count(*) from pg_stat_activity "
                        "where :racer = any(pg_blocking_pids(pid))"
                    ),
                    {"racer": racer_pid},
                ).scalar():
                    watcher.commit()  # pg_stat_activity is read anew in each transaction
                    assert time.monotonic() < deadline, "the registration never waited on the row"
                    assert registering.is_alive(), f"registration ended first: {outcome}"
                    time.sleep(0.05)
            racer.commit()
        registering.join(timeout=60)
        assert not registering.is_alive(), "the registration did not finish after the commit"
    finally:
        other.dispose()

    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert (result.new_transactions, result.already_registered) == (2, 1)
    keys = ledger.transaction_keys([DAY])
    assert sorted(keys["transaction_id"]) == ["A-t0", "A-t1", "A-t2"]
    dispose_engines()
