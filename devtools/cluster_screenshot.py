"""The README's picture of the cluster: one run launched through the queue, its steps on two
Celery workers, as the Dagster UI shows it.

    python -m devtools.cluster_screenshot [--out docs/images/cluster-run.png]

Starts the cluster (:mod:`devtools.cluster`), launches the whole graph for the sample's first
day with ``dagster job launch`` (the daemon takes it from the queue), waits for it, and
photographs the run's event log filtered to the events that say which worker ran each step.
Everything it started is stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import dagster as dg

from credit_scoring.core.settings import REPO_ROOT
from devtools.cluster import Cluster, machine_environment, start_cluster, start_services
from devtools.servers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
DAY = "2026-10-05"


def launch(cluster: Cluster) -> None:
    """``dagster job launch`` on the control plane, as an operator types it: the run waits in
    the queue until the daemon launches it."""
    command = [
        *(str(Path(sys.executable).with_name("dagster")), "job", "launch"),
        *("-w", str(cluster.control / "workspace.yaml"), "-j", "__ASSET_JOB"),
        *("--tags", json.dumps({"dagster/partition": DAY})),
    ]
    environment = machine_environment(cluster.control, cluster.services)
    subprocess.run(command, env=environment, cwd=cluster.control, check=True, timeout=300)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.cluster_screenshot")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs/images/cluster-run.png")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="credit-scoring-cluster-shot-"))
    with ExitStack() as stack:
        services = start_services(stack)
        ui_port = free_port()
        cluster = start_cluster(root, services, workers=2, webserver_port=ui_port)
        stack.callback(cluster.stop)
        launch(cluster)
        with cluster.open_instance() as instance:
            deadline = time.monotonic() + 900
            while True:
                (run,) = instance.get_runs(limit=1)
                if run.is_finished:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("the run did not finish within 15 minutes")
                cluster.check_running()
                time.sleep(2)
        if run.status != dg.DagsterRunStatus.SUCCESS:
            raise SystemExit(f"the run ended {run.status.value}: see the logs under {root}")
        photograph(f"http://127.0.0.1:{ui_port}/runs/{run.run_id}", args.out)
    print(f"wrote {args.out}")
    return 0


def photograph(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        page.goto(url, wait_until="networkidle")
        page.get_by_text("Success").first.wait_for(timeout=60_000)
        # a fresh Dagster home greets with a "Join the Dagster community" dialog
        skip = page.get_by_role("button", name="Skip")
        try:
            skip.wait_for(timeout=10_000)
            skip.click()
        except Exception:  # not shown: nothing to dismiss
            pass
        search = page.get_by_placeholder("Filter…").first
        search.fill("celery worker")
        page.keyboard.press("Enter")
        page.wait_for_timeout(1500)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


if __name__ == "__main__":
    raise SystemExit(main())
