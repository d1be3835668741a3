"""Bronze rows spooled as the fetch results arrive: every result lands once, in its day's file."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pandas as pd
import pyarrow.parquet as pq
import pytest

from credit_scoring.ingestion.bronze_spool import BRONZE, BronzeSpool
from credit_scoring.ingestion.flinks_client import FetchResult
from credit_scoring.lake.storage import adoptable

DAYS = ["2026-09-13", "2026-09-14"]


def applications(count: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "application_id": [f"app-{i}" for i in range(count)],
            "login_id": [f"login-{i}" for i in range(count)],
            "partition_date": [DAYS[i % 2] for i in range(count)],
        }
    )


def result(login: str, *, ok: bool = True) -> FetchResult:
    return FetchResult(
        login_id=login,
        request_id=f"req-{login}",
        http_status=200 if ok else 401,
        fetched_at=datetime.now(UTC),
        payload=f'{{"Login": "{login}", "Accounts": []}}'.encode(),
        http_calls=2,
        elapsed_seconds=0.1,
        error_code=None if ok else "INVALID_LOGIN",
        error_message=None if ok else "bad login",
        retryable=False,
    )


def test_results_arriving_in_any_order_land_once_each_in_their_days_file(tmp_path):
    apps = applications(23)
    arrival = list(range(len(apps)))
    random.Random(7).shuffle(arrival)

    spool = BronzeSpool(apps, tmp_path, claim_token="owner-1", run_id="run-1", results_per_chunk=4)
    for position in arrival:
        login = apps.loc[position, "login_id"]
        spool.add(position, result(login, ok=position != 5))
    spooled, outcomes = spool.close()

    assert spooled.days() == set(DAYS)
    assert spooled.rows() == len(apps)
    for day in DAYS:
        assert adoptable(spooled.files[day], BRONZE.schema), "the lake adopts the file as it is"
        rows = pq.read_table(spooled.files[day]).to_pandas()
        expected = apps.loc[apps["partition_date"] == day]
        assert sorted(rows["application_id"]) == sorted(expected["application_id"])
        assert (rows["login_id"] == rows["application_id"].str.replace("app", "login")).all()
        assert (
            rows["payload"] == rows["login_id"].map(lambda x: f'{{"Login": "{x}", "Accounts": []}}')
        ).all()
        assert set(rows["claim_token"]) == {"owner-1"}
        assert set(rows["run_id"]) == {"run-1"}
    assert "payload" not in outcomes.columns
    assert sorted(outcomes["application_id"]) == sorted(apps["application_id"])
    assert outcomes["response_id"].is_unique
    failed = outcomes.loc[~outcomes["ok"]]
    assert list(failed["application_id"]) == ["app-5"]
    assert list(failed["error_code"]) == ["INVALID_LOGIN"]


def test_a_fetch_of_nothing_spools_no_file_and_reports_no_outcomes(tmp_path):
    spooled, outcomes = BronzeSpool(applications(0), tmp_path, claim_token="o", run_id="r").close()

    assert spooled.files == {}
    assert outcomes.empty
    assert list(outcomes.columns) == [c for c in BRONZE.schema.names if c != "payload"]


def test_a_spool_that_cannot_be_written_fails_the_fetch_with_its_own_error(tmp_path):
    """What writing raises (here the spool's folder is a file, as a full or read-only disk
    would refuse) is raised where the fetch hands its result over, so it fails the fetch."""
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    apps = applications(6)
    spool = BronzeSpool(apps, blocked, claim_token="o", run_id="r", results_per_chunk=2)
    spool.add(0, result(apps.loc[0, "login_id"]))

    with pytest.raises(NotADirectoryError, match="not-a-folder"):
        spool.add(1, result(apps.loc[1, "login_id"]))
