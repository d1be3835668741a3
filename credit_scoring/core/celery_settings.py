"""Where the Celery workers take their steps from, and how a step survives a worker's death.

Stated once, for both sides that must agree: the run process, whose ``celery_executor`` sends
each step to the broker (:func:`credit_scoring.deployment.build_executor`), and every worker
(``python -m credit_scoring.worker``). A broker URL may carry a password, so the executor
reads it through its environment variable (Dagster's ``{"env": ...}``) and never stores it.

A step is acknowledged only once it has finished (``task_acks_late``), and a step whose pool
process dies is handed back to the broker (``task_reject_on_worker_lost``): a SIGKILLed
worker loses no step. On Redis, a step taken by a worker that vanished entirely comes back
after the visibility timeout, which must therefore exceed the longest step: a step still
running when it passes is handed to a second worker as well.

A broker that restarts or fails over (seconds, up to about two minutes) is ridden out: the run
process and the workers retry the result backend and the publishing of steps with backoff
instead of failing at the first refused connection, and a step running through the outage
finishes and is acknowledged on the new connection (``reliability/test_broker_restart.py``
takes Redis down for three seconds). An outage past the retries fails the run; the ledger
makes the next run finish the work without repeating any, as it did in that test before the
retries existed, but no test takes the broker down for that long.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from credit_scoring.core.settings import SettingsError

BROKER_URL_VAR = "CREDIT_SCORING_CELERY_BROKER_URL"
BACKEND_URL_VAR = "CREDIT_SCORING_CELERY_BACKEND_URL"
VISIBILITY_TIMEOUT_VAR = "CREDIT_SCORING_CELERY_VISIBILITY_TIMEOUT"
#: Redis' own default: an hour is longer than any step of a day's partition.
DEFAULT_VISIBILITY_TIMEOUT = 3600
#: Brokers Celery's transports speak: Redis, RabbitMQ, or a database through SQLAlchemy.
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp", "sqla+postgresql")
#: Result backends for the run process to collect each step's events from.
BACKEND_SCHEMES = ("redis", "rediss", "db+postgresql", "rpc")
#: The queue dagster-celery routes every step to (``dagster_celery.make_app``).
QUEUE = "dagster"
#: Retries of one result-backend call while the broker is unreachable: Celery's backoff (full
#: jitter, at most 10 s apart) makes 30 about two minutes on average.
BACKEND_RETRIES = 30
#: Publishing a step while the broker is unreachable: 0.5 s, 1 s, ... then every 5 s, about
#: two minutes in all (Celery's default gives up after 3 tries within a second).
PUBLISH_RETRY_POLICY = {
    "max_retries": 30,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 5,
}


@dataclass(frozen=True)
class CelerySettings:
    """The validated Celery settings of a deployment."""

    broker_url: str
    backend_url: str
    visibility_timeout: int = DEFAULT_VISIBILITY_TIMEOUT

    def config_source(self) -> dict[str, object]:
        """Celery's own settings, the same for the run process and the workers."""
        return {
            "task_acks_late": True,
            "task_reject_on_worker_lost": True,
            # one step at a time per pool process: a long dbt step never holds a second one
            "worker_prefetch_multiplier": 1,
            "broker_connection_retry_on_startup": True,
            # A step running when the broker connection drops runs on and is acknowledged on
            # the new connection (Celery 5's default, stated because Celery 6 changes it).
            # Cancelling it instead would leave its message to be restored by a broker that,
            # during a restart, is down: it would wait out the visibility timeout (an hour).
            "worker_cancel_long_running_tasks_on_connection_loss": False,
            "result_backend_always_retry": True,
            "result_backend_max_retries": BACKEND_RETRIES,
            "task_publish_retry_policy": PUBLISH_RETRY_POLICY,
            # this replaces dagster-celery's defaults, so they are repeated here
            "broker_transport_options": {
                "visibility_timeout": self.visibility_timeout,
                "max_retries": 3,
                "interval_start": 0,
                "interval_step": 0.2,
                "interval_max": 0.5,
            },
        }

    def executor_config(self) -> dict[str, object]:
        """``celery_executor``'s config: URLs by variable name, so no run stores a password."""
        backend_var = BACKEND_URL_VAR if _read(BACKEND_URL_VAR) else BROKER_URL_VAR
        return {
            "broker": {"env": BROKER_URL_VAR},
            "backend": {"env": backend_var},
            "config_source": self.config_source(),
        }


def _read(name: str) -> str | None:
    return os.environ.get(name, "").strip() or None


def _scheme(url: str) -> str:
    return urlsplit(url).scheme.lower()


def _redacted(url: str) -> str:
    """The URL without its password, fit for an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def parse_broker_url(raw: str | None) -> str:
    if not raw:
        raise SettingsError(
            f"{BROKER_URL_VAR} is not set: CREDIT_SCORING_EXECUTOR=celery needs the broker the "
            "workers listen to, e.g. redis://127.0.0.1:6379/0"
        )
    if _scheme(raw) not in BROKER_SCHEMES:
        raise SettingsError(
            f"{BROKER_URL_VAR}={_redacted(raw)!r} is not a broker URL: use one of "
            f"{', '.join(s + '://' for s in BROKER_SCHEMES)}, e.g. redis://127.0.0.1:6379/0"
        )
    return raw


def parse_backend_url(raw: str | None, broker_url: str) -> str:
    """The result backend; a Redis broker serves as its own backend when none is set."""
    if not raw:
        if _scheme(broker_url) in ("redis", "rediss"):
            return broker_url
        raise SettingsError(
            f"{BACKEND_URL_VAR} is not set: with a {_scheme(broker_url)} broker, set the "
            "result backend, e.g. db+postgresql://user@host/db or redis://host:6379/1"
        )
    if _scheme(raw) not in BACKEND_SCHEMES:
        raise SettingsError(
            f"{BACKEND_URL_VAR}={_redacted(raw)!r} is not a result backend URL: use one of "
            f"{', '.join(s + '://' for s in BACKEND_SCHEMES)}"
        )
    return raw


def parse_visibility_timeout(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_VISIBILITY_TIMEOUT
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise SettingsError(
            f"{VISIBILITY_TIMEOUT_VAR}={raw!r} is not a positive number of seconds: set it "
            f"above the longest step, e.g. {DEFAULT_VISIBILITY_TIMEOUT}"
        )
    return value


def load_celery_settings() -> CelerySettings:
    """The Celery settings from the environment; a missing or bad one names its variable."""
    broker_url = parse_broker_url(_read(BROKER_URL_VAR))
    return CelerySettings(
        broker_url=broker_url,
        backend_url=parse_backend_url(_read(BACKEND_URL_VAR), broker_url),
        visibility_timeout=parse_visibility_timeout(_read(VISIBILITY_TIMEOUT_VAR)),
    )
