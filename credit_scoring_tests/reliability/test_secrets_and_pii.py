"""Secrets and PII: a canary API key and canary holder data, hunted wherever a run leaves a trace.

One whole-graph run (one application day) against the mock serving both APIs with its API key
enforced (``--api-key``), ``FLINKS_API_KEY`` and ``TAKTILE_API_KEY`` set to a canary key, on a
copy of the sample data in which one applicant's holder name, e-mail, address (with a phone
number in it: the statement export has no phone column) and full account number are canary
values, plus one application whose login Flinks does not know (so the fetch-error path also
writes to the ledger, bronze and the event log). Then:

- the canary key, as-is and in its obvious encodings (URL-encoded, hex, base64 at every byte
  alignment), must be nowhere: not in the run's output, not in any file under the state
  directory (lake Parquet, ledger SQLite, warehouse DuckDB, Dagster's run storage, event logs
  and compute logs: each file grepped raw and decoded, so compression cannot hide a copy), not
  in dbt's logs and target files of the run, not in any run or event record read back through
  the ``DagsterInstance`` API, and not in the errors and log lines produced when the API
  rejects the key or cannot be reached;
- the canary holder data must be nowhere in silver (raw and decoded Parquet) or the warehouse
  (raw file and every table and view read back), nor anywhere else outside bronze (the
  ledger, the run's output, Dagster's records, dbt's files), while bronze, which is
  restricted and keeps the raw answer, does hold it: the positive control that the canaries
  really went through;
- the mock refuses requests without the key on both APIs, and a rejected key ends as a clear
  error code, not a crash;
- hostile identifiers go through the ledger and the warehouse IO manager as bound values and
  come back literally.

Reliability rows. ``secrets: canary API key``: faults injected = places searched (the run's
output, files, run and event records, error texts); recovered = places found clean; recorded
as ERROR = applications the run ended in ERROR (the planted unknown login); rows lost =
applications the run left neither SCORED nor ERROR; duplicates = copies of the key found
(must be 0). ``PII: canary holder data``: the same over every place outside bronze (a file
counts once, however many of its tables are read back), duplicates being copies of canary
holder data found (must be 0).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import io
import logging
import sqlite3
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import duckdb
import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest

from credit_scoring.analytics.dbt_project import DBT_PROJECT_DIR
from credit_scoring.core.partitions import daily_partitions
from credit_scoring.core.retrying import RetryPolicy
from credit_scoring.core.settings import LOCAL_MOCK_CUSTOMER_ID
from credit_scoring.decisioning.decision_assets import STATUS_COLUMNS
from credit_scoring.decisioning.decision_store import DecisionBatch, DecisionStoreIOManager
from credit_scoring.decisioning.taktile_client import DecisionRequest
from credit_scoring.decisioning.taktile_resource import TaktileResource
from credit_scoring.ingestion.flinks_client import FlinksClient
from credit_scoring.ingestion.flinks_errors import FlinksError
from credit_scoring.ingestion.flinks_resource import FlinksResource
from credit_scoring.lake.locks import partition_lock
from credit_scoring.lake.storage import LakeResource
from credit_scoring.ledger import Ledger, new_owner_token
from credit_scoring.ledger.engine import dispose_engines
from credit_scoring.ledger.resource import LedgerResource
from credit_scoring.silver.pii import mask_account_number
from credit_scoring_tests.builders.features import GOOD_FEATURES as FEATURES
from credit_scoring_tests.conftest import SAMPLE_DATA
from credit_scoring_tests.pipeline import run_pipeline
from credit_scoring_tests.reliability.report import ScenarioFigures
from mock_api.process import MockServer

# one test process runs this module, so its module-scoped run is made once, not once per process
pytestmark = [
    pytest.mark.integration,
    pytest.mark.reliability,
    pytest.mark.xdist_group("secrets_and_pii"),
]

#: Random per session, so no file left by an earlier run can match; ``/+=`` make the URL and
#: base64 encodings differ from the key itself.
CANARY_CORE = uuid.uuid4().hex
CANARY_KEY = f"cs-canary-{CANARY_CORE}/+="
#: A key the server refuses; it contains the canary, so any copy of it is found too.
REJECTED_KEY = f"rejected-{CANARY_KEY}"

DAY = "2026-10-05"
CANARY_APPLICATION = "APP-20261005-0001"
UNKNOWN_LOGIN_APPLICATION = "APP-20261005-9001"
HOLDER_NAME = "Zephyrine Canaryworth-Quillon"
HOLDER_EMAIL = "zephyrine.canaryworth@pii-canary.example.org"
HOLDER_PHONE = "+1-555-014-7392"
HOLDER_ADDRESS = f"77 Bramblecanary Crescent, Tel. {HOLDER_PHONE}, Moncton, NB E1C 4B7"
ACCOUNT_NUMBER = "4719305528613"
#: Each PII canary, searched case-insensitively; name parts alone count as a leak too.
PII_CANARIES = {
    "holder name": HOLDER_NAME,
    "holder first name": "Zephyrine",
    "holder surname": "Canaryworth",
    "holder e-mail": HOLDER_EMAIL,
    "holder address": "Bramblecanary",
    "holder phone": HOLDER_PHONE,
    "holder phone digits": "5550147392",
    "full account number": ACCOUNT_NUMBER,
}

FAST_RETRY = RetryPolicy(max_attempts=2, wait_initial=0.01, wait_max=0.01, wait_jitter=0.0)


# -- searching ---------------------------------------------------------------------------------


def _base64_cores(raw: bytes) -> dict[str, bytes]:
    """The part of base64(raw) that does not depend on where ``raw`` sits in a longer value.

    Encoded inside something longer, ``raw`` starts at one of three byte alignments; for each,
    the characters that mix in neighbouring bytes (at most two at each end) are dropped.
    """
    cores = {}
    for shift, skip in ((0, 0), (1, 2), (2, 3)):
        encoded = base64.b64encode(b"\0" * shift + raw).rstrip(b"=")
        core = encoded[skip : len(encoded) - 2]
        cores[f"base64 (offset {shift})"] = core
        cores[f"url-safe base64 (offset {shift})"] = core.replace(b"+", b"-").replace(b"/", b"_")
    return cores


def key_needles(secret: str) -> dict[str, bytes]:
    """The secret as-is and in the encodings a careless log line or payload would use."""
    raw = secret.encode()
    return {
        "as-is": raw,
        "random core": CANARY_CORE.encode(),
        "url-encoded": quote(secret, safe="").encode(),
        "hex": raw.hex().encode(),
        **_base64_cores(raw),
    }


@dataclass(frozen=True)
class Finding:
    """One copy of a canary: the place, the view of it (raw bytes, a decoded table...), which
    form of the canary, and the byte offset when found in a file's raw bytes."""

    place: str
    view: str
    needle: str
    offset: int | None = None

    def __str__(self) -> str:
        where = f" at byte {self.offset}" if self.offset is not None else ""
        return f"{self.place} [{self.view}]: {self.needle}{where}"


@dataclass
class Search:
    """Searches places for a set of needles and remembers what it looked at and what it found."""

    needles: dict[str, bytes]
    case_insensitive: bool = False
    places: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.case_insensitive:
            self.needles = {name: value.lower() for name, value in self.needles.items()}

    def look(self, place: str, haystack: bytes | str, view: str = "text") -> None:
        """Search one place (counted once, however many views of it are searched)."""
        if place not in self.places:
            self.places.append(place)
        data = haystack.encode("utf-8", "surrogatepass") if isinstance(haystack, str) else haystack
        if self.case_insensitive:
            data = data.lower()
        for name, needle in self.needles.items():
            offset = data.find(needle)
            if offset >= 0:
                raw = view == "raw bytes"
                self.findings.append(Finding(place, view, name, offset if raw else None))

    def look_in_file(self, path: Path) -> None:
        """Raw bytes, then every decoded view of the file (Parquet, SQLite, DuckDB, gzip)."""
        try:
            content = path.read_bytes()
        except FileNotFoundError:  # a shared dbt file replaced by another run meanwhile
            return
        self.look(str(path), content, "raw bytes")
        for view, decoded in decoded_views(path):
            self.look(str(path), decoded, view)

    @property
    def clean_places(self) -> int:
        dirty = {finding.place for finding in self.findings}
        return sum(1 for place in self.places if place not in dirty)

    def report(self) -> str:
        return "\n".join(str(finding) for finding in self.findings)


def decoded_views(path: Path) -> Iterator[tuple[str, bytes]]:
    """Readings of a file in which compression or encoding cannot hide a string."""
    head = path.read_bytes()[:16]
    if path.suffix == ".parquet":
        yield "decoded Parquet", pq.read_table(path).to_pandas().to_csv(index=False).encode()
    elif head.startswith(b"SQLite format 3\x00"):
        yield from sqlite_views(path)
    elif path.suffix == ".duckdb":
        for name, frame in duckdb_relations(path).items():
            yield f"table {name}", frame.to_csv(index=False).encode()
    elif head.startswith(b"\x1f\x8b"):
        yield "gunzipped", gzip.decompress(path.read_bytes())


def sqlite_views(path: Path) -> Iterator[tuple[str, bytes]]:
    """Every value of every table; blobs also zlib-inflated (Dagster compresses snapshots)."""
    connection = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in connection.execute("select name from sqlite_master where type = 'table'")
        ]
        for table in tables:
            parts: list[bytes] = []
            identifier = '"' + table.replace('"', '""') + '"'
            for row in connection.execute(f"select * from {identifier}"):
                for value in row:
                    if isinstance(value, bytes):
                        parts.append(value)
                        with contextlib.suppress(zlib.error):
                            parts.append(zlib.decompress(value))
                    elif value is not None:
                        parts.append(str(value).encode("utf-8", "surrogatepass"))
            yield f"table {table}", b"\x00".join(parts)
    finally:
        connection.close()


def duckdb_relations(path: Path) -> dict[str, pd.DataFrame]:
    """Every table and view of a DuckDB file, read back in full."""
    with duckdb.connect(str(path), read_only=True) as connection:
        names = connection.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() order by 1, 2"
        ).fetchall()
        return {
            f"{schema}.{table}": connection.execute(f'select * from "{schema}"."{table}"').df()
            for schema, table in names
        }


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def dbt_files_of(home: Path, run_ids: list[str]) -> list[Path]:
    """dbt's shared log and top-level target files in the project. The target folders of these
    runs' dbt steps (``$CREDIT_SCORING_HOME/dbt/runs/<run id[:8]>-<step>-<nonce>``, each with
    that step's dbt.log) are under the home, searched with it; they must exist."""
    logs = [
        log
        for run_id in run_ids
        for log in (home / "dbt" / "runs").glob(f"{run_id[:8]}-*/**/dbt.log")
    ]
    assert logs, "no dbt log of these runs under the home to search"
    target = DBT_PROJECT_DIR / "target"
    files = [path for path in target.glob("*") if path.is_file()]
    files += files_under(DBT_PROJECT_DIR / "logs") if (DBT_PROJECT_DIR / "logs").exists() else []
    return files


def dagster_records(dagster_home: Path) -> Iterator[tuple[str, str]]:
    """Every run (tags, config, selection) and every event record, through the instance API."""
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        for run in instance.get_runs():
            yield f"run {run.run_id} (record, tags, config)", dg.serialize_value(run)
            for number, entry in enumerate(instance.all_logs(run.run_id)):
                kind = entry.dagster_event_type.value if entry.dagster_event_type else "log"
                yield f"run {run.run_id[:8]} event #{number} ({kind})", dg.serialize_value(entry)
    finally:
        instance.dispose()


# -- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CanaryRun:
    home: Path
    output: str
    server: MockServer
    statuses: pd.DataFrame
    run_ids: list[str]


def plant_canaries(data_dir: Path) -> None:
    """Canary holder data for one applicant, and an application for a login nobody knows."""
    applications = pd.read_csv(data_dir / "applications.csv", dtype=str, keep_default_na=False)
    login = applications.set_index("application_id").loc[CANARY_APPLICATION, "login_id"]
    planted = False
    for path in sorted((data_dir / "statements").glob("*.csv")):
        rows = pd.read_csv(path, dtype=str, keep_default_na=False)
        mine = rows["Login ID"] == login
        if not mine.any():
            continue
        first_account = rows.loc[mine, "Account Number"].iloc[0]
        rows.loc[mine, ["Username", "Email", "Address"]] = [
            HOLDER_NAME,
            HOLDER_EMAIL,
            HOLDER_ADDRESS,
        ]
        rows.loc[mine & (rows["Account Number"] == first_account), "Account Number"] = (
            ACCOUNT_NUMBER
        )
        rows.to_csv(path, index=False)
        planted = True
    assert planted, f"no statement rows for {CANARY_APPLICATION}'s login"
    unknown = pd.DataFrame(
        [
            {
                "application_id": UNKNOWN_LOGIN_APPLICATION,
                "login_id": str(uuid.uuid4()),
                "applied_at": f"{DAY}T12:00:00Z",
                "requested_amount": "5000.00",
            }
        ]
    )
    pd.concat([applications, unknown]).to_csv(data_dir / "applications.csv", index=False)


@pytest.fixture(scope="module")
def canary_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("canary_data")
    (data_dir / "statements").mkdir()
    for path in (SAMPLE_DATA / "statements").glob("*.csv"):
        (data_dir / "statements" / path.name).write_bytes(path.read_bytes())
    (data_dir / "applications.csv").write_bytes((SAMPLE_DATA / "applications.csv").read_bytes())
    plant_canaries(data_dir)
    return data_dir


@pytest.fixture(scope="module")
def canary_run(
    canary_data: Path,
    mock_server_module_factory: Callable[..., MockServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> CanaryRun:
    """One day through the whole graph with the canary key required by the mock and set."""
    server = mock_server_module_factory(canary_data, "--api-key", CANARY_KEY)
    home = tmp_path_factory.mktemp("canary_home")
    code, output = run_pipeline(
        home,
        server.base_url,
        start=DAY,
        groups=None,
        TAKTILE_BASE_URL=server.base_url,
        FLINKS_API_KEY=CANARY_KEY,
        TAKTILE_API_KEY=CANARY_KEY,
        CREDIT_SCORING_APPLICATIONS=str(canary_data / "applications.csv"),
    )
    assert code == 0, output[-6000:]
    statuses = Ledger(f"sqlite:///{home / 'ledger.sqlite'}").application_statuses([DAY])
    dispose_engines()
    instance = dg.DagsterInstance.from_config(str(home / "dagster_home"))
    try:
        run_ids = [run.run_id for run in instance.get_runs()]
    finally:
        instance.dispose()
    return CanaryRun(home, output, server, statuses, run_ids)


@dataclass(frozen=True)
class ErrorPaths:
    """What the clients said when the key was refused or the API could not be reached: the
    text of each exception, failed result and log line, and the error code each call ended
    with."""

    texts: list[tuple[str, str]]
    codes: dict[str, str | None]


@pytest.fixture(scope="module")
def error_paths(canary_run: CanaryRun) -> ErrorPaths:
    """Drive the error paths of both clients with the canary key in hand, logging at DEBUG."""
    handler = _Collect()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    printed = io.StringIO()  # the retry policy's structured log lines are printed, not logged
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            texts, codes = _exercise_error_paths(canary_run.server.base_url)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    texts.append(("printed output", printed.getvalue()))
    lines = [f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in handler.records]
    texts.append(("log records", "\n".join(lines)))
    return ErrorPaths(texts, codes)


def _exercise_error_paths(base: str) -> tuple[list[tuple[str, str]], dict[str, str | None]]:
    """A key the server refuses, and an address nothing answers on, through each client."""
    unreachable = "http://127.0.0.1:9"
    texts: list[tuple[str, str]] = []
    codes: dict[str, str | None] = {}

    async def refused_authorize() -> FlinksError | None:
        async with FlinksClient(
            base, LOCAL_MOCK_CUSTOMER_ID, api_key=REJECTED_KEY, retry=FAST_RETRY
        ) as client:
            try:
                await client.authorize("any-login")
            except FlinksError as exc:
                return exc
        return None

    error = asyncio.run(refused_authorize())
    if error is not None:
        texts += [("FlinksError str", str(error)), ("FlinksError repr", repr(error))]
        texts.append(("FlinksError body", (error.body or b"").decode()))
    codes["Flinks client, key refused"] = error.code if error is not None else None

    for label, url, key in (
        ("Flinks resource, key refused", base, REJECTED_KEY),
        ("Flinks resource, unreachable", unreachable, CANARY_KEY),
    ):
        result = FlinksResource(
            base_url=url,
            customer_id=LOCAL_MOCK_CUSTOMER_ID,
            api_key=key,
            max_attempts=2,
            retry_wait_initial_seconds=0.01,
        ).fetch_many(["any-login"])[0]
        texts.append((label, f"{result!r} {result.payload!r}"))
        codes[label] = result.error_code

    for label, url, key in (
        ("Taktile resource, key refused", base, REJECTED_KEY),
        ("Taktile resource, unreachable", unreachable, CANARY_KEY),
    ):
        decision = TaktileResource(
            base_url=url, api_key=key, max_attempts=2, retry_wait_initial_seconds=0.01
        ).decide_many([DecisionRequest("APP-canary", FEATURES)])[0]
        texts.append((label, repr(decision)))
        codes[label] = decision.error_code
    return texts, codes


class _Collect(logging.Handler):
    """Keeps every record (formatted exceptions included) for searching."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        self.records.append(record)


# -- the mock and the error paths --------------------------------------------------------------


def test_the_mock_refuses_both_apis_without_the_configured_key(canary_run: CanaryRun) -> None:
    base = canary_run.server.base_url
    authorize = f"{base}/v3/{LOCAL_MOCK_CUSTOMER_ID}/BankingServices/Authorize"
    decide = f"{base}/run/api/v1/flows/credit-decision/decide"
    known_login = (
        pd.read_csv(SAMPLE_DATA / "applications.csv")
        .set_index("application_id")
        .loc[CANARY_APPLICATION, "login_id"]
    )
    body = {"LoginId": known_login, "MostRecentCached": True}

    for headers in ({}, {"x-api-key": REJECTED_KEY}, {"x-api-key": CANARY_KEY.upper()}):
        flinks = httpx.post(authorize, json=body, headers=headers, timeout=10)
        taktile = httpx.post(decide, json={"data": FEATURES}, headers=headers, timeout=10)
        assert flinks.status_code == 401, flinks.text
        assert flinks.json()["FlinksCode"] == "UNAUTHORIZED"
        assert taktile.status_code == 401, taktile.text
        assert "x-api-key" in taktile.json()["detail"]

    accepted = httpx.post(authorize, json=body, headers={"x-api-key": CANARY_KEY}, timeout=10)
    assert accepted.status_code == 200, accepted.text
    decided = httpx.post(
        decide,
        json={"data": FEATURES, "metadata": {"entity_id": "APP-key-check", "version": "v1.0"}},
        headers={"X-Api-Key": CANARY_KEY},
        timeout=10,
    )
    assert decided.status_code == 200, decided.text


def test_a_refused_or_unreachable_api_ends_as_a_clear_error_without_the_key(
    error_paths: ErrorPaths,
) -> None:
    assert error_paths.codes == {
        "Flinks client, key refused": "UNAUTHORIZED",
        "Flinks resource, key refused": "UNAUTHORIZED",
        "Flinks resource, unreachable": "CONNECTION_ERROR",
        "Taktile resource, key refused": "HTTP_401",
        "Taktile resource, unreachable": "CONNECTION_ERROR",
    }
    search = Search(key_needles(CANARY_KEY))
    for label, text in error_paths.texts:
        search.look(label, text)
    assert len(error_paths.texts[-1][1].splitlines()) > 10, "the clients logged nothing"
    assert not search.findings, f"the API key leaked into error texts:\n{search.report()}"


# -- the canary key ----------------------------------------------------------------------------


def test_the_canary_api_key_is_nowhere_a_run_leaves_a_trace(
    canary_run: CanaryRun,
    error_paths: ErrorPaths,
    reliability_report: Callable[[ScenarioFigures], None],
) -> None:
    statuses = canary_run.statuses.set_index("application_id")
    # the key really was in use: the mock refuses every call without it
    assert statuses.loc[CANARY_APPLICATION, "status"] == "SCORED"
    assert statuses.loc[UNKNOWN_LOGIN_APPLICATION, "status"] == "ERROR"
    assert statuses.loc[UNKNOWN_LOGIN_APPLICATION, "error_code"] == "INVALID_LOGIN"

    search = Search(key_needles(CANARY_KEY))
    search.look("run output", canary_run.output)
    for path in files_under(canary_run.home):
        search.look_in_file(path)
    for path in dbt_files_of(canary_run.home, canary_run.run_ids):
        search.look_in_file(path)
    for place, record in dagster_records(canary_run.home / "dagster_home"):
        search.look(place, record)
    for label, text in error_paths.texts:
        search.look(label, text)

    searched = len(search.places)
    assert searched > 100, f"only {searched} places searched: the run left too little to judge"
    assert any("warehouse.duckdb" in place for place in search.places)
    assert any(place.endswith("ledger.sqlite") for place in search.places)
    assert any("event #" in place for place in search.places)
    reliability_report(
        ScenarioFigures(
            scenario="secrets: canary API key",
            recorded_error=int((statuses["status"] == "ERROR").sum()),
            places_searched=searched,
            copies_found=len(search.findings),
        )
    )
    assert not search.findings, f"the API key was found:\n{search.report()}"


# -- canary holder data ------------------------------------------------------------------------


def test_canary_holder_data_never_leaves_restricted_bronze(
    canary_run: CanaryRun, reliability_report: Callable[[ScenarioFigures], None]
) -> None:
    """Silver and the warehouse above all, and likewise the ledger, the run's output, Dagster's
    records and dbt's files: only bronze, restricted and lossless, holds holder data."""
    home = canary_run.home
    needles = {name: value.encode() for name, value in PII_CANARIES.items()}

    # positive control: the canaries were served and landed in bronze
    bronze = Search(needles, case_insensitive=True)
    for path in files_under(home / "lake" / "bronze"):
        bronze.look_in_file(path)
    assert {f.needle for f in bronze.findings} >= {"holder name", "full account number"}

    search = Search(needles, case_insensitive=True)
    silver_files = files_under(home / "lake" / "silver")
    assert silver_files, "silver wrote nothing to search"
    outside_bronze = [
        path for path in files_under(home) if (home / "lake" / "bronze") not in path.parents
    ]
    for path in outside_bronze + dbt_files_of(canary_run.home, canary_run.run_ids):
        search.look_in_file(path)  # the warehouse: raw, then every table and view read back
    for place, record in dagster_records(home / "dagster_home"):
        search.look(place, record)
    search.look("run output", canary_run.output)

    accounts = pq.read_table(home / "lake" / "silver" / "accounts").to_pandas()
    canary_accounts = accounts.loc[accounts["application_id"] == CANARY_APPLICATION]
    assert f"****{ACCOUNT_NUMBER[-4:]}" in set(canary_accounts["account_number_masked"])
    features = duckdb_relations(home / "warehouse.duckdb")["main.applicant_features"]
    assert CANARY_APPLICATION in set(features["application_id"])

    statuses = canary_run.statuses
    reliability_report(
        ScenarioFigures(
            scenario="PII: canary holder data",
            recorded_error=int((statuses["status"] == "ERROR").sum()),
            places_searched=len(search.places),
            copies_found=len(search.findings),
        )
    )
    assert not search.findings, f"canary holder data was found:\n{search.report()}"


def test_masking_never_shows_a_whole_account_number() -> None:
    """Only the last four digits survive, and none of a number that has only four."""
    numbers = pd.Series([ACCOUNT_NUMBER, "98-76-54321", "1234", "12", "", None])

    masked = mask_account_number(numbers).tolist()

    assert masked[:4] == [f"****{ACCOUNT_NUMBER[-4:]}", "****4321", "****", "****"]
    assert pd.isna(masked[4])
    assert pd.isna(masked[5])


# -- SQL: values are bound, names are quoted ---------------------------------------------------

HOSTILE_IDS = [
    "APP-'; DROP TABLE x; --",
    'APP-"; DROP TABLE x; --',
    "APP-\\'); delete from scoring_status; --",
    "APP-%s %(x)s ? :name $1 {0}",
    "APP-ünïcødé 😀\n\t'\"",
]
HOSTILE_TEXT = 'it\'s "quoted"; DROP TABLE x; -- ${jndi:x} {{ 7*7 }} %s ? :p \x7f'


def output_context(key: dg.AssetKey) -> dg.OutputContext:
    """A hand-built context for the day; use it in a ``with`` block, which closes what it opens."""
    return dg.build_output_context(
        asset_key=key, partition_key=DAY, asset_partitions_def=daily_partitions
    )


def input_context(key: dg.AssetKey) -> dg.InputContext:
    """A hand-built context for the day; use it in a ``with`` block, which closes what it opens."""
    return dg.build_input_context(
        asset_key=key, partition_key=DAY, asset_partitions_def=daily_partitions
    )


def test_hostile_identifiers_are_stored_literally_by_the_ledger_the_lake_and_the_catalogue(
    tmp_path: Path,
) -> None:
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    catalogue = tmp_path / "warehouse.duckdb"
    ledger = Ledger(ledger_url)
    with ledger.engine.begin() as connection:
        connection.exec_driver_sql("create table x (kept integer)")

    scored, failed, fetch_failed = HOSTILE_IDS[0], HOSTILE_IDS[1], HOSTILE_IDS[2]
    deciding = [scored, failed, *HOSTILE_IDS[3:]]
    applications = pd.DataFrame(
        {
            "application_id": HOSTILE_IDS,
            "login_id": [f"login {i}'; --" for i in HOSTILE_IDS],
            "partition_date": DAY,
        }
    )
    owner = new_owner_token("fetch")
    assert ledger.claim_fetch(applications, owner=owner) == HOSTILE_IDS
    now = pd.Timestamp(datetime.now(UTC))
    outcomes = applications.assign(
        ok=[app != fetch_failed for app in HOSTILE_IDS],
        retryable=[False if app == fetch_failed else None for app in HOSTILE_IDS],
        request_id=[f"req {app}" for app in HOSTILE_IDS],
        http_status=[401 if app == fetch_failed else 200 for app in HOSTILE_IDS],
        error_code=[HOSTILE_TEXT[:60] if app == fetch_failed else None for app in HOSTILE_IDS],
        error_message=[HOSTILE_TEXT if app == fetch_failed else None for app in HOSTILE_IDS],
        fetched_at=now,
    )
    ledger.record_fetch_outcomes(outcomes, owner=owner)
    transactions = pd.DataFrame(
        {
            "application_id": [app for app in deciding for _ in range(2)],
            "transaction_id": [f"{app}|tx{n}" for app in deciding for n in range(2)],
            "partition_date": DAY,
        }
    )
    registered = ledger.register_transactions(
        transactions, applications.loc[applications["application_id"] != fetch_failed]
    )
    assert registered.new_transactions == len(transactions)
    with partition_lock(ledger.engine, f"lake/silver/{HOSTILE_TEXT}"):
        pass

    token, won = ledger.claim_for_decision([DAY])
    assert sorted(won) == sorted(deciding)
    errors = pd.DataFrame(
        {"application_id": [failed], "error_code": ["HTTP_422"], "error_message": [HOSTILE_TEXT]}
    )
    ledger.mark_errors(errors, token=token)

    io_manager = DecisionStoreIOManager(
        lake=LakeResource(root=str(tmp_path / "lake"), catalogue=str(catalogue)),
        ledger=LedgerResource(url=ledger_url),
    )
    decisions_key = dg.AssetKey(["scoring", "credit_decisions"])
    decided = [app for app in deciding if app != failed]
    decisions = pd.DataFrame(
        {
            "application_id": decided,
            "application_date": date.fromisoformat(DAY),
            "decision_id": [f"dec {app}" for app in decided],
            "score": 700.0,
            "outcome": "APPROVE",
            "credit_limit": 1000.0,
            "reasons": HOSTILE_TEXT,
            "flow_version": "v1'--",
            "decision_engine": "taktile.example'--",
            "features_hash": "h",
            "features": '{"note": "' + HOSTILE_TEXT.replace('"', '\\"') + '"}',
            "requested_at": now,
            "decided_at": now,
        }
    )
    with output_context(decisions_key) as context:
        io_manager.handle_output(context, DecisionBatch(decisions, claim_token=token))
    statuses = ledger.application_statuses([DAY])
    status_key = dg.AssetKey(["scoring", "decision_status"])
    status_frame = statuses.assign(application_date=date.fromisoformat(DAY)).loc[:, STATUS_COLUMNS]
    with output_context(status_key) as context:
        io_manager.handle_output(context, status_frame)

    by_app = statuses.set_index("application_id")
    assert set(by_app.index) == set(HOSTILE_IDS)
    assert (by_app.loc[decided, "status"] == "SCORED").all()
    assert list(by_app.loc[decided, "decision_id"]) == [f"dec {app}" for app in decided]
    assert (by_app.loc[failed, "status"], by_app.loc[failed, "error_message"]) == (
        "ERROR",
        HOSTILE_TEXT,
    )
    assert by_app.loc[fetch_failed, "error_message"] == HOSTILE_TEXT
    keys = ledger.transaction_keys([DAY])
    assert set(keys["transaction_id"]) == set(transactions["transaction_id"])

    def load(key: dg.AssetKey) -> pd.DataFrame:
        with input_context(key) as context:
            return io_manager.load_input(context).set_index("application_id")

    stored = load(decisions_key)
    assert sorted(stored.index) == sorted(decided)
    assert (stored["reasons"] == HOSTILE_TEXT).all()
    assert stored.loc[decided[0], "decision_id"] == f"dec {decided[0]}"
    stored_status = load(status_key)
    assert stored_status.loc[failed, "error_message"] == HOSTILE_TEXT
    assert sorted(stored_status.index) == sorted(HOSTILE_IDS)

    # the files hold the table's declared columns only: a hostile column name is never written
    hostile_column = 'a") select 1; drop table x; --'
    with output_context(status_key) as context:
        io_manager.handle_output(context, status_frame.assign(**{hostile_column: 1}))
    again = load(status_key)
    assert sorted(again.index) == sorted(HOSTILE_IDS)
    assert hostile_column not in again.columns

    # and the catalogue's views read the hostile values back literally
    with duckdb.connect(str(catalogue), read_only=True) as connection:
        reasons = connection.execute("select distinct reasons from scoring.credit_decisions")
        assert reasons.fetchall() == [(HOSTILE_TEXT,)]
        messages = connection.execute(
            "select error_message from scoring.decision_status where application_id = ?",
            [failed],
        )
        assert messages.fetchall() == [(HOSTILE_TEXT,)]
    with ledger.engine.begin() as connection:
        assert connection.exec_driver_sql("select count(*) from x").scalar() == 0
    dispose_engines()


def test_the_search_finds_the_key_in_every_encoding_it_looks_for(tmp_path: Path) -> None:
    """The searcher itself: each form it claims to cover is found, where it was planted."""
    needles = key_needles(CANARY_KEY)
    search = Search(needles)
    expected: dict[str, str] = {}
    for name in ("as-is", "url-encoded", "hex"):
        path = tmp_path / f"{name}.log"
        path.write_bytes(b"prefix " + needles[name] + b" suffix")
        expected[str(path)] = name
    for prefix in (b"", b"a", b"ab"):
        path = tmp_path / f"base64-{len(prefix)}.txt"
        path.write_bytes(base64.b64encode(prefix + b"X-Api-Key: " + CANARY_KEY.encode()))
        expected[str(path)] = "base64"
    frame = pd.DataFrame({"note": [f"compressed {CANARY_KEY} in a column"] * 50})
    frame.to_parquet(tmp_path / "data.parquet", compression="zstd")
    expected[str(tmp_path / "data.parquet")] = "decoded Parquet"
    with contextlib.closing(sqlite3.connect(tmp_path / "blob.db")) as connection:
        connection.execute("create table snapshots (body blob)")
        connection.execute(
            "insert into snapshots values (?)", [zlib.compress(CANARY_KEY.encode() * 3)]
        )
        connection.commit()
    expected[str(tmp_path / "blob.db")] = "table snapshots"

    for place in expected:
        search.look_in_file(Path(place))

    for place, form in expected.items():
        found = [f for f in search.findings if f.place == place]
        assert any(f.needle.startswith(form) or f.view == form for f in found), (place, found)
    assert search.clean_places == 0
    assert any(f.offset == len(b"prefix ") for f in search.findings if f.needle == "as-is")
