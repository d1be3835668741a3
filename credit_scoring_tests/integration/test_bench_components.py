"""The benchmark's yardsticks against the real mock on the sample data: the download floor and
the dlt peer must see every login and exactly the transactions the mock served."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.floor import (
    TRANSPORTS,
    count_transactions,
    download_floor,
    pool_sizes,
    read_login_ids,
)
from credit_scoring_tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.integration

APPLICATIONS = SAMPLE_DATA / "applications.csv"


def test_transactions_are_counted_from_raw_bytes_whatever_the_descriptions_say():
    body = (
        b'{"Accounts":[{"Id":"a","Title":"Chequing","Transactions":['
        b'{"Id":"1","Description":"\\"Description\\": quoted","Debit":1.0},'
        b'{"Id":"2","Description":"Description","Credit":2.0}]},'
        b'{"Id":"b","Transactions":[{"Id":"3","Description": "indented"}]}]}'
    )
    assert count_transactions(body) == 3


def test_each_floor_records_the_connection_pools_it_downloaded_through():
    assert pool_sizes("httpx", 16) == [4, 4, 4, 4]  # the pipeline's clients' split
    assert pool_sizes("httpx-one-pool", 16) == [16]
    assert pool_sizes("aiohttp", 16) is None


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_floor_downloads_every_login_and_counts_what_the_mock_served(sample_server, transport):
    logins = read_login_ids(APPLICATIONS)
    sample_server.reset_stats()

    figures = download_floor(
        sample_server.base_url, "bench", logins, concurrency=4, transport=transport
    )

    stats = sample_server.stats()
    assert figures["downloaded"] == len(logins) == stats["distinct_logins_served"]
    assert figures["failed"] == 0
    assert figures["pools"] == pool_sizes(transport, 4)
    assert figures["transactions"] == stats["transactions_served"] > 0
    assert figures["http_calls"] == sum(stats["requests"].values()) == 2 * len(logins)
    assert figures["bytes"] > 0
    assert figures["seconds"] > 0


def test_floor_counts_an_unknown_login_as_failed_and_downloads_the_rest(sample_server):
    logins = read_login_ids(APPLICATIONS)[:3]

    figures = download_floor(sample_server.base_url, "bench", [*logins, "no-such-login"])

    assert figures["downloaded"] == 3
    assert figures["failures"] == {"Authorize HTTP 401": 1}


def test_floor_waits_out_pending_answers(mock_server_factory):
    server = mock_server_factory(SAMPLE_DATA, "--pending-polls", "2")
    logins = read_login_ids(APPLICATIONS)[:4]

    figures = download_floor(server.base_url, "bench", logins, poll_interval_seconds=0.01)

    assert figures["downloaded"] == 4
    assert figures["pending_answers"] == 8
    assert figures["transactions"] == server.stats()["transactions_served"]


def test_dlt_peer_loads_every_transaction_once_and_a_second_run_adds_none(
    sample_server, tmp_path: Path
):
    pytest.importorskip("dlt", reason="the dlt peer needs the optional bench dependencies")
    from bench.peer_dlt import run_dlt_peer

    sample_server.reset_stats()

    figures = run_dlt_peer(sample_server.base_url, "bench", APPLICATIONS, tmp_path, concurrency=4)

    served = sample_server.stats()["transactions_served"]
    first, second = figures["first_run"], figures["second_run"]
    assert first["rows_extracted"] == second["rows_extracted"] == served // 2
    assert first["rows_in_table"] == first["distinct_keys"] == served // 2
    assert second["rows_in_table"] == second["distinct_keys"] == first["rows_in_table"]
    assert figures["merge_holds"]


def test_a_servers_cpu_counts_the_children_it_has_reaped():
    """The scaled profile's PostgreSQL figure: backends end before the run does, and their CPU
    must still count (the kernel adds a reaped child's time to its parent's)."""
    import os
    import subprocess
    import sys

    from bench.profile import process_cpu_seconds

    before = process_cpu_seconds(os.getpid())
    burn = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)

    assert process_cpu_seconds(os.getpid()) - before >= 0.45
