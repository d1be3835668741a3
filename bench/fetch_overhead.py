"""The fetch client against the download floor, alternately, without Dagster around either.

    .venv/bin/python -m bench.fetch_overhead [--applications 2500] [--repeat 3]

``make bench``'s fetch + bronze stage adds the bronze write and the step's own overhead to the
client; this isolates the client: the same day's logins, on one mock server, fetched in turn by
the floor (plain httpx, bodies thrown away: :mod:`bench.floor`) and by the pipeline's
``FlinksResource.fetch_many`` (retries, the key handling, each body validated as a JSON object
and kept), ``--repeat`` times each, alternately so that both see the same machine. Prints each
pair and the medians, with the client's CPU seconds (the client is one busy core: every CPU
second it saves is a second of wall time).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import pandas as pd

from bench.figures import CONCURRENCY, CUSTOMER_ID, DAY, day_data, generate_cached
from bench.floor import download_floor
from credit_scoring.core.settings import REPO_ROOT
from credit_scoring.ingestion.flinks_resource import FlinksResource
from mock_api.process import running_mock_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applications", type=int, default=2500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    data = day_data(REPO_ROOT / "bench" / "data", args.applications)
    generate_cached(data, args.applications, 1, DAY)
    logins = list(pd.read_csv(data / "applications.csv")["login_id"])
    floors, clients, cpus = [], [], []
    with running_mock_server(data, args=("--threads", str(CONCURRENCY))) as server:
        flinks = FlinksResource(
            base_url=server.base_url, customer_id=CUSTOMER_ID, concurrency=CONCURRENCY
        )
        for attempt in range(args.repeat):
            floors.append(download_floor(server.base_url, CUSTOMER_ID, logins, CONCURRENCY))
            started, cpu = time.perf_counter(), time.process_time()
            results = flinks.fetch_many(logins)
            clients.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            failed = sum(not result.ok for result in results)
            del results
            print(
                f"[{attempt + 1}/{args.repeat}] floor {floors[-1]['seconds']:.2f} s, client "
                f"{clients[-1]:.2f} s ({cpus[-1]:.2f} CPU s, {failed} failed), ratio "
                f"{clients[-1] / floors[-1]['seconds']:.3f}",
                flush=True,
            )
    floor = statistics.median(f["seconds"] for f in floors)
    client = statistics.median(clients)
    print(
        f"medians: floor {floor:.2f} s, client {client:.2f} s "
        f"({statistics.median(cpus):.2f} CPU s), ratio {client / floor:.3f}; "
        f"{args.applications} applications, {floors[0]['transactions']:,} transactions, "
        f"{floors[0]['bytes'] / 2**20:,.0f} MiB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
