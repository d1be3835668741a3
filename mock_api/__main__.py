"""Run the mock: ``python -m mock_api --data-dir DIR [--port 0] [switches...]``.

Serves ``DIR/statements/*.csv`` as the Flinks v3 API from one process (see :mod:`mock_api.app`).
Prints ``mock_api listening on http://HOST:PORT`` on stdout once it accepts connections; logs go
to stderr. Exits non-zero with a message when the data directory cannot be served.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from mock_api.app import create_app
from mock_api.behaviour import FAULT_KINDS, MockConfig
from mock_api.server import SERVERS, serve
from mock_api.store import StoreError


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return number


def _non_negative_float(value: str) -> float:
    number = float(value)
    if not number >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


def _rate(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return number


def _fault_kinds(value: str) -> tuple[str, ...]:
    kinds = tuple(kind.strip() for kind in value.split(",") if kind.strip())
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"unknown fault kinds {unknown or value!r}; choose from {','.join(FAULT_KINDS)}"
        )
    return kinds


def build_parser() -> argparse.ArgumentParser:
    defaults = MockConfig()
    parser = argparse.ArgumentParser(
        prog="python -m mock_api",
        description="Serve Flinks statement-export CSVs as the Flinks v3 BankingServices API.",
    )
    serving = parser.add_argument_group("serving")
    serving.add_argument("--data-dir", required=True, help="directory holding statements/*.csv")
    serving.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    serving.add_argument(
        "--port", type=_non_negative_int, default=0, help="port; 0 picks a free one (default: 0)"
    )
    serving.add_argument("--server", choices=SERVERS, default="waitress")
    serving.add_argument(
        "--threads", type=_positive_int, default=16, help="waitress worker threads (default: 16)"
    )
    serving.add_argument(
        "--connection-limit",
        type=_positive_int,
        default=1000,
        help="waitress: open connections accepted at once (default: 1000)",
    )
    serving.add_argument("--log-level", default="INFO", help="logging level (default: INFO)")

    switches = parser.add_argument_group("behaviour switches")
    switches.add_argument(
        "--pending-polls",
        type=_non_negative_int,
        default=defaults.pending_polls,
        help="202 OPERATION_PENDING answers per RequestId before the 200 (default: 0)",
    )
    switches.add_argument(
        "--latency-ms",
        type=_non_negative_float,
        default=defaults.latency_ms,
        help="delay added to every API call (default: 0)",
    )
    switches.add_argument(
        "--fault-rate",
        type=_rate,
        default=defaults.fault_rate,
        help="probability that an API call faults (default: 0)",
    )
    switches.add_argument("--fault-seed", type=int, default=defaults.fault_seed)
    switches.add_argument(
        "--terminal-rate",
        type=float,
        default=defaults.terminal_rate,
        help="share of logins and decision entities refused on every call with a terminal "
        "error: Flinks 401 DISABLED_LOGIN, Taktile 422 (default: 0)",
    )
    switches.add_argument(
        "--fault-kinds",
        type=_fault_kinds,
        default=defaults.fault_kinds,
        help=f"comma list of fault kinds (default: {','.join(FAULT_KINDS)})",
    )
    switches.add_argument(
        "--fault-max-consecutive",
        type=_positive_int,
        default=defaults.fault_max_consecutive,
        help="after this many faults in a row for one login and endpoint the next answer is "
        "real (default: %(default)s)",
    )
    switches.add_argument(
        "--slow-ms",
        type=_non_negative_float,
        default=defaults.slow_ms,
        help="wait of a 'slow' fault before answering (default: %(default)s)",
    )
    switches.add_argument(
        "--api-key",
        default=None,
        help="require header x-api-key with this value (default: open, like the sandbox)",
    )
    switches.add_argument(
        "--session-ttl-s",
        type=_positive_float,
        default=defaults.session_ttl_s,
        help="seconds a RequestId stays valid after Authorize (default: %(default)s)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> MockConfig:
    return MockConfig(
        pending_polls=args.pending_polls,
        latency_ms=args.latency_ms,
        fault_rate=args.fault_rate,
        fault_seed=args.fault_seed,
        terminal_rate=args.terminal_rate,
        fault_kinds=args.fault_kinds,
        fault_max_consecutive=args.fault_max_consecutive,
        slow_ms=args.slow_ms,
        api_key=args.api_key or None,
        session_ttl_s=args.session_ttl_s,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = config_from_args(args)
    try:
        app = create_app(args.data_dir, config)
    except StoreError as exc:
        print(f"mock_api: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    serve(
        app,
        host=args.host,
        port=args.port,
        server=args.server,
        threads=args.threads,
        connection_limit=args.connection_limit,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
