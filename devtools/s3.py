"""A throwaway S3-compatible server on loopback (moto's), for the tests and for trying the lake
on object storage.

It runs ``moto_server`` (from the ``moto[server]`` package in the dev install) as a child
process in its own process group, on a free port. Its objects live in memory and vanish when
it stops. The pipeline reaches it as it would reach AWS or MinIO: through the standard
variables (:meth:`S3Server.environment`), read by s3fs, so a lake URL ``s3://<bucket>/<prefix>``
is the only thing that changes.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from devtools.servers import free_port, wait_until_ready
from mock_api.process import stop_process_group

#: Credentials moto accepts (any non-empty pair); never real ones.
ACCESS_KEY_ID = "credit-scoring-test"
SECRET_ACCESS_KEY = "credit-scoring-test-secret"
REGION = "us-east-1"


class S3Unavailable(RuntimeError):
    """The S3-compatible server did not start; says why."""


@dataclass
class S3Server:
    """A running moto server: its process (group leader) and endpoint."""

    process: subprocess.Popen
    endpoint: str

    def environment(self) -> dict[str, str]:
        """The standard AWS variables that point s3fs (hence the lake, DuckDB and dbt) here."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def create_bucket(self, prefix: str = "lake") -> str:
        """A new empty bucket; returns its name."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        response = httpx.put(f"{self.endpoint}/{name}", timeout=30)
        if response.status_code != 200:
            raise S3Unavailable(f"creating bucket {name}: HTTP {response.status_code}")
        return name

    def put_object(self, bucket: str, key: str, body: bytes) -> str:
        """Store ``body`` at ``s3://bucket/key``; returns that URL."""
        response = httpx.put(f"{self.endpoint}/{bucket}/{key}", content=body, timeout=60)
        if response.status_code != 200:
            raise S3Unavailable(f"putting s3://{bucket}/{key}: HTTP {response.status_code}")
        return f"s3://{bucket}/{key}"

    def stop(self, grace_seconds: float = 10.0) -> None:
        stop_process_group(self.process, grace_seconds)


def start_s3(*, port: int = 0, ready_timeout: float = 60.0) -> S3Server:
    """Start ``moto_server`` on 127.0.0.1 and wait until it answers."""
    executable = Path(sys.executable).with_name("moto_server")
    if not executable.exists():
        raise S3Unavailable(
            f"{executable} not found: run `make setup` (moto[server] is a dev dependency)"
        )
    port = port or free_port()
    process = subprocess.Popen(
        [str(executable), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = S3Server(process=process, endpoint=f"http://127.0.0.1:{port}")

    def answers() -> bool:
        try:
            httpx.get(server.endpoint, timeout=2)
            return True
        except httpx.TransportError:
            return False

    wait_until_ready(
        f"moto_server on {server.endpoint}",
        process,
        answers,
        timeout=ready_timeout,
        stop=server.stop,
        error=S3Unavailable,
    )
    return server


def main() -> int:
    """``make s3-server``: a throwaway S3-compatible server with a lake bucket, the variables
    that point the pipeline at it, and Ctrl-C to stop (its objects go with it)."""
    server = start_s3()
    try:
        bucket = server.create_bucket()
        exports = " ".join(f"{name}={value}" for name, value in server.environment().items())
        print(
            "An S3-compatible server (moto) is running; in another shell:\n\n"
            f"  export {exports}\n"
            f"  export CREDIT_SCORING_LAKE_URL=s3://{bucket}/lake\n\n"
            "Ctrl-C stops it and deletes every object.",
            flush=True,
        )
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
