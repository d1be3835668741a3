"""One Celery worker for this code location: it runs the steps of runs that use Celery.

    python -m credit_scoring.worker [--name NAME] [--concurrency N]

With ``CREDIT_SCORING_EXECUTOR=celery``, a run's process sends each step to the broker
(``CREDIT_SCORING_CELERY_BROKER_URL``) and any worker started here takes it, runs it with
dagster-celery's own task (the run, the code and the instance come with the step), and sends
its events back through the result backend. A worker needs no shared disk: the same package
and the same environment as the code location (lake and ledger URLs, endpoints, ``AWS_*``),
and a ``DAGSTER_HOME`` whose ``dagster.yaml`` points at the deployment's PostgreSQL storage.

Each step received and finished is logged (Celery's INFO lines) to standard output. A bad or
missing setting exits with status 2 and one line naming the variable, before any step is
taken. The code location is imported once, here, so that every pool process starts with it
(and a worker that cannot load it fails now, not on its first step).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from credit_scoring.core.celery_settings import QUEUE, CelerySettings, load_celery_settings
from credit_scoring.core.settings import SettingsError, load_endpoints, load_settings

if TYPE_CHECKING:
    from celery import Celery

LOG_FORMAT = "[%(asctime)s: %(levelname)s/%(processName)s] %(message)s"


def build_app(settings: CelerySettings) -> Celery:
    """The Celery app a run's executor builds, with dagster-celery's step task registered."""
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    executor = CeleryExecutor.for_cli(
        broker=settings.broker_url,
        backend=settings.backend_url,
        config_source=settings.config_source(),
    )
    app = make_app(executor.app_args())
    create_task(app)
    return app


def worker_arguments(name: str, concurrency: int | None, loglevel: str) -> list[str]:
    """Celery's own worker command line for one named worker on dagster-celery's queue."""
    arguments = [
        "worker",
        f"--hostname={name}@%h",
        f"--loglevel={loglevel}",
        f"--queues={QUEUE}",
        # steps are long and few: no broker chatter between workers
        "--without-gossip",
        "--without-mingle",
    ]
    if concurrency is not None:
        arguments.append(f"--concurrency={concurrency}")
    return arguments


def _log_to_stdout(loglevel: str | int | None = None, **_: object) -> None:
    """Celery's ``setup_logging`` signal: its lines go to standard output, not standard error."""
    logging.basicConfig(
        stream=sys.__stdout__, level=loglevel or logging.INFO, format=LOG_FORMAT, force=True
    )


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of processes")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m credit_scoring.worker",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--name",
        default="worker",
        help="worker name, shown in Dagster's step events and Celery's logs as <name>@<host> "
        "(default: worker)",
    )
    parser.add_argument(
        "--concurrency",
        type=_positive,
        help="steps run at once (default: Celery's, the number of CPUs)",
    )
    parser.add_argument("--loglevel", default="INFO", help="Celery's log level (default INFO)")
    args = parser.parse_args(argv)
    try:
        load_settings()
        load_endpoints()
        celery_settings = load_celery_settings()
    except SettingsError as exc:
        parser.error(str(exc))

    from celery import signals

    import credit_scoring.definitions  # noqa: F401  (see the module docstring)

    signals.setup_logging.connect(_log_to_stdout, weak=False)
    app = build_app(celery_settings)
    app.worker_main(worker_arguments(args.name, args.concurrency, args.loglevel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
