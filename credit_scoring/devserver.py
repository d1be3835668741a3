"""`make dev`: the mock Flinks API and the Dagster UI together; Ctrl-C stops both.

Each child runs in its own process group so stopping it reaches every process it spawned
(``dagster dev`` starts a webserver, a daemon and code servers) and nothing else.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from credit_scoring.instance import ensure_dagster_home
from credit_scoring.settings import REPO_ROOT, load_settings
from mock_api.process import start_mock_server, stop_process_group


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ui-port", type=int, default=int(os.environ.get("DAGSTER_PORT", 3000)))
    parser.add_argument("--mock-port", type=int, default=int(os.environ.get("MOCK_PORT", 8765)))
    args = parser.parse_args(argv)

    settings = load_settings()
    dagster_home = ensure_dagster_home()
    mock = start_mock_server(REPO_ROOT / "data", port=args.mock_port)
    print(f"mock Flinks API on {mock.base_url}", flush=True)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "CREDIT_SCORING_HOME": str(settings.home),
        "FLINKS_BASE_URL": os.environ.get("FLINKS_BASE_URL", mock.base_url),
    }
    ui = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "dagster"),
            "dev",
            "-m",
            "credit_scoring.definitions",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.ui_port),
        ],
        cwd=REPO_ROOT,
        env=env,
        start_new_session=True,
    )
    print(f"Dagster UI on http://127.0.0.1:{args.ui_port} (Ctrl-C stops everything)", flush=True)

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
