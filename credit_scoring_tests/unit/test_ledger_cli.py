"""The operator's ledger commands, run as ``python -m credit_scoring.ledger`` runs them (its
``main``), on SQLite and PostgreSQL: ranges and filters, one application's story, stuck claims
and dead locks released (never a live one), exit codes and one-line errors.

Holders are real processes: a live one holds its claim or lock while the command runs, and a
dead one was SIGKILLed after taking it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from credit_scoring.core.settings import REPO_ROOT
from credit_scoring.lake.locks import held_locks
from credit_scoring.lake.storage import LakeStore
from credit_scoring.lake.tables import TABLES
from credit_scoring.ledger import ERROR, PENDING, SCORED, SENT, Ledger, new_owner_token
from credit_scoring.ledger.__main__ import main
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring.ledger.schema import lake_locks
from credit_scoring_tests.builders.ledger_rows import DAY, apps, register

DAY2, DAY3 = "2026-10-06", "2026-10-07"


@pytest.fixture
def ledger(ledger_url, tmp_path, monkeypatch) -> Iterator[Ledger]:
    monkeypatch.setenv("CREDIT_SCORING_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CREDIT_SCORING_LEDGER_URL", ledger_url)
    monkeypatch.delenv("CREDIT_SCORING_LAKE_URL", raising=False)
    yield Ledger(ledger_url)
    dispose_engines()


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of one command; argparse's exits are caught."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def statuses(ledger: Ledger, day: str = DAY) -> dict[str, str]:
    frame = ledger.application_statuses([day])
    return dict(zip(frame["application_id"], frame["status"], strict=True))


@contextmanager
def holder(ledger_url: str, body: str) -> Iterator[subprocess.Popen[str]]:
    """A separate process that runs ``body`` (with ``ledger`` open), prints ``ready`` and then
    waits to be killed; stopped at the end whatever happened."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from credit_scoring.ledger import Ledger
        from credit_scoring.lake.locks import partition_lock
        ledger = Ledger({ledger_url!r})
        {body}
        print("ready", flush=True)
        time.sleep(600)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready", "the holder did not start"
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)


def kill(process: subprocess.Popen[str]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)  # reaped: its pid is gone


# -- status ----------------------------------------------------------------------------------


def test_status_takes_a_range_of_days_and_a_status(ledger, capsys):
    register(ledger, DAY, A=2)
    register(ledger, DAY2, B=1, C=3)
    register(ledger, DAY3, D=1)
    ledger.claim_for_decision([DAY2], application_ids=["C"])

    code, out, _ = cli(capsys, "status", "--from", DAY2, "--to", DAY3, "--json")
    assert code == 0
    rows = json.loads(out)
    assert {(r["partition_date"], r["status"], r["transactions"]) for r in rows} == {
        (DAY2, PENDING, 1),
        (DAY2, SENT, 3),
        (DAY3, PENDING, 1),
    }

    code, out, _ = cli(capsys, "status", "--from", DAY, "--status", SENT, "--json")
    assert [(r["partition_date"], r["applications"]) for r in json.loads(out)] == [(DAY2, 1)]

    code, out, _ = cli(capsys, "status", "--to", DAY2, "--status", PENDING, "--applications")
    assert code == 0
    listed = {line.split("|")[2].strip() for line in out.splitlines()[2:]}
    assert listed == {"A", "B"}


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["status", "--from", DAY3, "--to", DAY], f"--from {DAY3} is after --to {DAY}"),
        (["status", "--partition", DAY, "--from", DAY], "not both"),
        (["status", "--status", "DONE"], "'DONE'"),
        (["status", "--from", "2026-13-01"], "'2026-13-01' is not a date"),
        (["requeue-stuck", "--older-than", "soon"], "'soon' is not understood"),
    ],
)
def test_a_bad_argument_exits_2_naming_it(ledger, capsys, args, named):
    code, _, err = cli(capsys, *args)
    assert code == 2
    assert named in err.strip().splitlines()[-1]


# -- show ------------------------------------------------------------------------------------


def test_show_tells_one_applications_story_from_fetch_to_decision(ledger, capsys):
    owner = new_owner_token("fetch")
    ledger.claim_fetch(apps("A", "B"), owner=owner)
    fetched_at = datetime(2026, 10, 5, 8, 30, tzinfo=UTC)
    ledger.record_fetch_outcomes(
        pd.DataFrame(
            {
                "application_id": ["A", "B"],
                "partition_date": [DAY, DAY],
                "ok": [True, False],
                "retryable": [None, False],
                "request_id": ["req-A", None],
                "http_status": [200, 401],
                "error_code": [None, "INVALID_LOGIN"],
                "error_message": [None, "unknown login"],
                "fetched_at": [fetched_at, fetched_at],
            }
        ),
        owner=owner,
    )
    register(ledger, A=3)
    token, _ = ledger.claim_for_decision([DAY], application_ids=["A"])
    ledger.mark_scored(
        pd.DataFrame({"application_id": ["A"], "decision_id": ["dec-A"]}), token=token
    )
    decision = {
        "application_id": "A",
        "application_date": pd.Timestamp(DAY).date(),
        "decision_id": "dec-A",
        "score": 0.31,
        "outcome": "DECLINE",
        "credit_limit": 0.0,
        "reasons": "NSF_EVENTS;LOW_INCOME",
        "flow_version": "v1.0",
        "decision_engine": "decide.example.com",
        "features_hash": "f" * 16,
        "features": "{}",
        "requested_at": pd.Timestamp("2026-10-05T09:00:00Z"),
        "decided_at": pd.Timestamp("2026-10-05T09:00:01Z"),
    }
    LakeStore(Path(os.environ["CREDIT_SCORING_HOME"]) / "lake").write(
        TABLES["scoring/credit_decisions"], DAY, pd.DataFrame([decision])
    )

    code, out, _ = cli(capsys, "show", "A", "--json")
    assert code == 0
    story = json.loads(out)
    assert story["application"]["status"] == SCORED
    assert story["application"]["decision_id"] == "dec-A"
    assert story["fetch"]["request_id"] == "req-A"
    assert (story["fetch"]["state"], story["fetch"]["http_status"]) == ("SILVERED", 200)
    assert story["transactions"] == {PENDING: 0, SENT: 0, SCORED: 3, ERROR: 0}
    assert (story["decision"]["outcome"], story["decision"]["reasons"]) == (
        "DECLINE",
        "NSF_EVENTS;LOW_INCOME",
    )
    assert story["decision"]["decision_engine"] == "decide.example.com"

    code, out, _ = cli(capsys, "show", "A")
    assert code == 0
    for line in ("outcome", "DECLINE", "decide.example.com", "req-A", SCORED):
        assert line in out

    # a fetch that failed: the error and its verdict, no decision
    code, out, _ = cli(capsys, "show", "B")
    assert code == 0
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    assert lines["error_stage"] == ["fetch"]
    assert lines["retryable"] == ["False"]
    assert "INVALID_LOGIN" in out
    assert "none stored" in out

    code, out, err = cli(capsys, "show", "NOPE")
    assert code == 1
    assert "'NOPE' is not in the ledger" in err


# -- requeue-stuck ---------------------------------------------------------------------------


def test_requeue_stuck_returns_a_dead_holders_claim_and_never_a_live_one(
    ledger, ledger_url, capsys
):
    register(ledger, A=2, B=2, C=1)
    dispose_engines()
    claim = "ledger.claim_for_decision([{day!r}], application_ids=[{app!r}])"
    with holder(ledger_url, claim.format(day=DAY, app="A")) as dead:
        kill(dead)
        with holder(ledger_url, claim.format(day=DAY, app="B")):
            code, out, _ = cli(capsys, "requeue-stuck", "--json")
            assert code == 0
            result = json.loads(out)
            assert [r["application_id"] for r in result["requeued"]] == ["A"]
            assert [r["application_id"] for r in result["live"]] == ["B"]
            assert statuses(ledger) == {"A": PENDING, "B": SENT, "C": PENDING}
            keys = ledger.transaction_keys([DAY]).set_index("transaction_id")["status"]
            assert keys.to_dict() == {
                "A-t0": PENDING,
                "A-t1": PENDING,
                "B-t0": SENT,
                "B-t1": SENT,
                "C-t0": PENDING,
            }

            # named, however old: a live claim is refused, and the exit status says so
            code, out, _ = cli(capsys, "requeue-stuck", "--older-than", "0s", "--application", "B")
            assert code == 1
            assert "1 live claim(s) left as they are" in out
            assert statuses(ledger)["B"] == SENT

    # the requeued application is claimed by the next decide step, exactly once
    _, won = ledger.claim_for_decision([DAY], application_ids=["A"])
    assert won == ["A"]


def test_a_claim_from_another_host_is_requeued_only_past_the_age_given(ledger, capsys):
    register(ledger, A=1)
    ledger.claim_for_decision([DAY], owner="another-host:4242:decide:x")

    assert json.loads(cli(capsys, "requeue-stuck", "--json")[1])["requeued"] == []
    assert statuses(ledger)["A"] == SENT
    code, out, _ = cli(capsys, "requeue-stuck", "--older-than", "0s", "--json")
    assert code == 0
    assert [r["application_id"] for r in json.loads(out)["requeued"]] == ["A"]
    assert statuses(ledger)["A"] == PENDING


# -- locks and unlock ------------------------------------------------------------------------


def test_unlock_releases_a_dead_writers_lock_and_refuses_a_live_one(ledger, ledger_url, capsys):
    dispose_engines()
    # held by a name: a context manager left to the garbage collector would release it
    take = "held = partition_lock(ledger.engine, {name!r}); held.__enter__()"
    dead_lock, live_lock = f"silver/transactions/{DAY}", f"silver/transactions/{DAY2}"
    with holder(ledger_url, take.format(name=dead_lock)) as dead:
        kill(dead)
        with holder(ledger_url, take.format(name=live_lock)):
            code, out, _ = cli(capsys, "locks", "--json")
            assert code == 0
            assert {(r["name"], r["alive"]) for r in json.loads(out)} == {
                (dead_lock, False),
                (live_lock, True),
            }

            code, out, _ = cli(capsys, "unlock", DAY2)
            assert code == 1
            assert f"refused {live_lock}" in out
            assert [lock.name for lock in held_locks(ledger.engine)] == [dead_lock, live_lock]

            code, out, _ = cli(capsys, "unlock", dead_lock)
            assert code == 0
            assert f"released {dead_lock}" in out
            assert [lock.name for lock in held_locks(ledger.engine)] == [live_lock]

    code, out, _ = cli(capsys, "unlock", DAY3)
    assert code == 1
    assert f"no lake lock named '{DAY3}'" in out


def test_a_running_holder_on_this_host_keeps_its_lock_even_past_its_lease(ledger, capsys):
    """Its renewal may be waiting on the database: a process of this host that still runs is
    alive whatever its lease says; only another host's holder is judged by the lease."""
    name = f"silver/transactions/{DAY}"
    past = datetime(2026, 1, 1, tzinfo=UTC)
    with ledger.engine.begin() as conn:
        conn.execute(
            lake_locks.insert(),
            [
                {"name": name, "owner": new_owner_token("lock"), "expires_at": past},
                {
                    "name": f"silver/accounts/{DAY}",
                    "owner": "elsewhere:1:lock:x",
                    "expires_at": past,
                },
            ],
        )

    code, out, _ = cli(capsys, "unlock", DAY)
    assert code == 1
    assert f"refused {name}" in out
    assert f"released silver/accounts/{DAY}" in out
    assert [lock.name for lock in held_locks(ledger.engine)] == [name]


# -- retry-errors and upgrade, for scripts ---------------------------------------------------


def test_retry_errors_and_upgrade_answer_in_json_too(ledger, capsys):
    register(ledger, A=2)
    token, _ = ledger.claim_for_decision([DAY])
    ledger.mark_errors(
        pd.DataFrame({"application_id": ["A"], "error_code": ["HTTP_422"], "error_message": ["x"]}),
        token=token,
    )
    code, out, _ = cli(capsys, "retry-errors", "--partition", DAY, "--json")
    assert code == 0
    assert json.loads(out) == {"reopened_rows": 3}  # the application and its two transactions
    assert statuses(ledger) == {"A": PENDING}

    code, out, _ = cli(capsys, "upgrade", "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer["before"] == answer["after"] is not None
    assert answer["baseline_stamped"] is False


def test_an_unreachable_ledger_exits_3_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CREDIT_SCORING_HOME", str(tmp_path / "home"))
    # a port nothing listens on: the connection is refused at once
    monkeypatch.setenv(
        "CREDIT_SCORING_LEDGER_URL", "postgresql+psycopg://scorer@127.0.0.1:9/ledger"
    )
    code, _, err = cli(capsys, "status")
    assert code == 3
    (line,) = err.strip().splitlines()
    assert "the ledger or the lake is unreachable" in line
    dispose_engines()
