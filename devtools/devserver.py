"""`make dev`: the mock APIs and the Dagster UI (webserver + daemon) together.

- The mock server answers both Flinks and Taktile's decide endpoint, so the pipeline's real
  HTTP clients run (unless ``FLINKS_BASE_URL`` / ``TAKTILE_BASE_URL`` point elsewhere).
- ``DAGSTER_HOME`` is ``$CREDIT_SCORING_HOME/dagster_home``: run history survives restarts. Its
  ``dagster.yaml`` is (re)written from :mod:`devtools.instance`.
- Every child runs in its own process group; Ctrl-C (or SIGTERM) stops each group, TERM then
  KILL after a grace period, so no webserver, daemon or code server is left behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from credit_scoring.core.settings import (
    DEV,
    ENV_VAR,
    FLINKS_BASE_URL_VAR,
    HOME_VAR,
    REPO_ROOT,
    TAKTILE_BASE_URL_VAR,
    load_settings,
)
from devtools.instance import write_dagster_yaml
from mock_api.process import start_mock_server, stop_process_group


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ui-port", type=int, default=int(os.environ.get("DAGSTER_PORT", 3000)))
    parser.add_argument("--mock-port", type=int, default=int(os.environ.get("MOCK_PORT", 8765)))
    args = parser.parse_args(argv)

    settings = load_settings()
    dagster_home = settings.dagster_home
    write_dagster_yaml(dagster_home, overwrite=True)
    mock = start_mock_server(REPO_ROOT / "data", port=args.mock_port)
    env = {
        **os.environ,
        # the venv's tools (dbt) for every process dagster dev starts, activated or not
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
        "DAGSTER_HOME": str(dagster_home),
        HOME_VAR: str(settings.home),
        # the local mocks are intended here (unless the endpoints below point elsewhere)
        ENV_VAR: os.environ.get(ENV_VAR, DEV),
        FLINKS_BASE_URL_VAR: os.environ.get(FLINKS_BASE_URL_VAR, mock.base_url),
        TAKTILE_BASE_URL_VAR: os.environ.get(TAKTILE_BASE_URL_VAR, mock.base_url),
    }
    print(
        f"mock Flinks + Taktile API on {mock.base_url}\n"
        f"  Flinks  -> {env[FLINKS_BASE_URL_VAR]}\n  Taktile -> {env[TAKTILE_BASE_URL_VAR]}\n"
        f"DAGSTER_HOME={dagster_home}",
        flush=True,
    )
    ui = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "dagster"),
            "dev",
            "-w",
            str(REPO_ROOT / "workspace.yaml"),
            "--host",
            "127.0.0.1",
            "--port",
            str(args.ui_port),
        ],
        cwd=REPO_ROOT,
        env=env,
        start_new_session=True,
    )
    print(
        f"Dagster UI on http://127.0.0.1:{args.ui_port} (ready in about 15 s; "
        "Ctrl-C stops everything)",
        flush=True,
    )

    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        while not stopping and ui.poll() is None and mock.process.poll() is None:
            time.sleep(0.5)
    finally:
        print("stopping Dagster and the mock API...", flush=True)
        stop_process_group(ui, grace_seconds=10)
        mock.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
