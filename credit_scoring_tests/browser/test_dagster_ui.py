"""The Dagster UI in a real browser: the lineage is there, a backfill launched from the graph runs
as the backfill policy says and passes its checks, and a day whose ledger disagrees is stopped
by the blocking reconciliation check before any feature is built.

Starts what `make dev` starts - the mock APIs and `dagster dev` (webserver + daemon) - on free
loopback ports with a temporary CREDIT_SCORING_HOME and DAGSTER_HOME, drives Debian's Chromium
through Playwright, and saves screenshots (``CREDIT_SCORING_SCREENSHOTS`` names a folder to keep
them in; the README's images come from this test).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from credit_scoring.core.settings import REPO_ROOT
from credit_scoring_tests.builders.ledger_rows import forget_one_transaction
from credit_scoring_tests.conftest import SAMPLE_DATA
from devtools.instance import write_dagster_yaml
from devtools.servers import free_port
from mock_api.process import stop_process_group

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.slow,
    # one `dagster dev` for the module's tests: keep them on one test process
    pytest.mark.xdist_group("browser"),
]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DAY = "2026-10-05"
DAYS = ["2026-10-05", "2026-10-06", "2026-10-07"]
NO_COMMUNITY_DIALOG = "nux:\n  enabled: false\n"
GROUPS = ["ingestion", "silver", "analytics", "decisioning"]
#: Every asset's name as the lineage shows it in full (a node's name without its key prefix).
ASSET_NAMES = [
    "applications",
    "flinks_accounts_detail",
    "transactions",
    "accounts",
    "rejected_transactions",
    "transaction_patterns",
    "stg_silver__transactions",
    "stg_silver__accounts",
    "stg_lake__applications",
    "int_transactions_categorized",
    "int_daily_balances",
    "applicant_features",
    "credit_decisions",
    "decision_status",
    "decision_monitoring",
]
#: The page size the lineage screenshot is taken at: top to bottom, one zoom step past the fit,
#: where the UI draws each asset whole (name, checks, partitions) and the graph still fits.
LINEAGE_VIEWPORT = {"width": 2000, "height": 1900}
VIEWPORT = {"width": 1600, "height": 1000}
ASSETS = [
    "applications",
    "bronze/flinks_accounts_detail",
    "silver/transactions",
    "int_transactions_categorized",
    "applicant_features",
    "scoring/credit_decisions",
    "decision_monitoring",
]


@dataclass
class DagsterUI:
    base_url: str
    home: Path
    process: subprocess.Popen

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        response = httpx.post(
            f"{self.base_url}/graphql",
            json={"query": query, "variables": variables or {}},
            timeout=30,
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body
        return body["data"]


LOCATION_STATUS = """
{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def wait_until_loaded(ui: DagsterUI, log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if ui.process.poll() is not None:
            raise AssertionError(f"dagster dev exited:\n{log.read_text()[-4000:]}")
        try:
            entries = ui.graphql(LOCATION_STATUS)["workspaceOrError"]["locationEntries"]
            last = entries
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                kinds = {e["locationOrLoadError"]["__typename"] for e in entries}
                assert kinds == {"RepositoryLocation"}, entries
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError(f"the code location did not load: {last}\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def ui(tmp_path_factory, mock_server_module_factory) -> Iterator[DagsterUI]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs it from Debian's packages")
    home = tmp_path_factory.mktemp("ui_home")
    config = write_dagster_yaml(home / "dagster_home")
    # Dagster's own "Join the Dagster community" dialog, which a fresh home opens whenever the
    # webserver gets round to it (on a busy machine, over whatever page the test is on), is
    # not this product's: switched off for the test's instance only
    config.write_text(config.read_text(encoding="utf-8") + NO_COMMUNITY_DIALOG, encoding="utf-8")
    server = mock_server_module_factory(SAMPLE_DATA)
    port = free_port()
    env = {
        # the partitions a new user sees: from the default start date, not the tests' 2020
        **{k: v for k, v in os.environ.items() if k != "CREDIT_SCORING_START_DATE"},
        "CREDIT_SCORING_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "FLINKS_BASE_URL": server.base_url,
        "TAKTILE_BASE_URL": server.base_url,
        "CREDIT_SCORING_APPLICATIONS": str(SAMPLE_DATA / "applications.csv"),
    }
    log = home / "dagster-dev.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("dagster")),
                "dev",
                "-w",
                str(REPO_ROOT / "workspace.yaml"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = DagsterUI(f"http://127.0.0.1:{port}", home, process)
    try:
        started = time.monotonic()
        wait_until_loaded(running, log)
        print(f"dagster dev usable after {time.monotonic() - started:.1f}s")
        yield running
    finally:
        stop_process_group(process, grace_seconds=15)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium_profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport=VIEWPORT,
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    keep = os.environ.get("CREDIT_SCORING_SCREENSHOTS")
    folder = Path(keep) if keep else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


RUNS = """
{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }
"""
CHECKS = """
query($runId: ID!) { logsForRun(runId: $runId, limit: 5000) {
  ... on EventConnection { events { __typename
    ... on AssetCheckEvaluationEvent { evaluation { checkName success assetKey { path } } } } } } }
"""


BACKFILLS = """
{ partitionBackfillsOrError { ... on PartitionBackfills { results {
    id status numPartitions runs { runId status tags { key value } } } } } }
"""
STEP_STARTS = """
query($runId: ID!) { logsForRun(runId: $runId, limit: 5000) {
  ... on EventConnection { events { __typename ... on ExecutionStepStartEvent { stepKey } } } } }
"""


@contextmanager
def screenshot_on_failure(page, shots: Path) -> Iterator[None]:
    """Keep what the browser showed when a step of the test fails."""
    try:
        yield
    except Exception:
        page.screenshot(path=str(shots / "failure.png"))
        raise


def test_a_backfill_from_the_graph_is_one_run_and_a_day_that_disagrees_is_stopped(
    ui, browser, shots
):
    """Two steps on one home, in order (one test: pytest-xdist may run a module's tests on
    different processes): a three-day backfill launched from the lineage, then one of its days,
    with a ledger row deleted, materialised again and stopped at the blocking check."""
    page = browser.new_page()
    with screenshot_on_failure(page, shots):
        backfill_three_days_by_clicking(ui, page, shots)
        materialise_a_planted_day_by_clicking(ui, page, shots)


def backfill_three_days_by_clicking(ui: DagsterUI, page, shots: Path) -> None:
    # every asset of the lineage is in the catalog
    page.goto(f"{ui.base_url}/assets", wait_until="networkidle")
    for key in ASSETS:
        # the catalog shows a key's path as "bronze / flinks_accounts_detail"
        page.get_by_text(key.replace("/", " / "), exact=True).first.wait_for(timeout=60_000)
    page.screenshot(path=str(shots / "catalog.png"))

    # the global lineage, groups expanded: it reads as the architecture
    page.goto(f"{ui.base_url}/asset-groups", wait_until="networkidle")
    expand_all_groups(page)
    page.get_by_text("applicant_features", exact=True).first.wait_for(timeout=30_000)
    page.get_by_text("credit_decisions", exact=True).first.wait_for(timeout=30_000)

    # three days of the whole graph, by clicking: the dialog's "varying backfill policies"
    # notice aside (Dagster's UI compares the assets' policies as objects), every asset is
    # single-run, so the backfill must be one run over the range
    dialog = open_materialize_dialog(page, f"[{DAYS[0]}...{DAYS[-1]}]", "3 partitions")
    dialog.get_by_role("button", name="Launch backfill").click()

    backfill = wait_for_backfill(ui, timeout=600)
    assert backfill["status"] == "COMPLETED_SUCCESS", backfill
    assert backfill["numPartitions"] == 3
    (run,) = backfill["runs"]
    assert run["status"] == "SUCCESS", run
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert (
        tags["dagster/asset_partition_range_start"],
        tags["dagster/asset_partition_range_end"],
    ) == (
        DAYS[0],
        DAYS[-1],
    )

    page.goto(f"{ui.base_url}/runs/b/{backfill['id']}", wait_until="networkidle")
    page.get_by_text("Succeeded").first.wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "backfill.png"))
    page.goto(f"{ui.base_url}/runs/{run['runId']}", wait_until="networkidle")
    page.get_by_text("Success").first.wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "run.png"))

    evaluations = check_evaluations(ui, run["runId"])
    names = {e["checkName"] for e in evaluations}
    assert {
        "bronze_silver_reconciliation",
        "flinks_error_rate",
        "decisions_are_valid_and_match_the_ledger",
        "taktile_error_rate",
        "assert_features_within_physical_bounds",
    } <= names
    failed = [e for e in evaluations if not e["success"]]
    assert not failed, failed

    screenshot_the_lineage(ui, page, shots)

    # what an operator reads: an asset's metadata plotted over its partitions, and its checks
    page.goto(f"{ui.base_url}/assets/scoring/credit_decisions", wait_until="networkidle")
    page.get_by_text("decisions_per_second").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Plots").click()
    page.get_by_text("approval_rate").first.wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "asset.png"))
    page.goto(
        f"{ui.base_url}/assets/scoring/credit_decisions?view=checks", wait_until="networkidle"
    )
    page.get_by_text("taktile_error_rate", exact=True).first.wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "checks.png"))

    # the screenshots are committed in docs/images: they must stay small
    for name in ("lineage.png", "run.png", "backfill.png", "asset.png", "checks.png"):
        path = shots / name
        assert path.exists(), name
        assert path.stat().st_size < 600_000, (name, path.stat().st_size)


def materialise_a_planted_day_by_clicking(ui: DagsterUI, page, shots: Path) -> None:
    planted = forget_one_transaction(ui.home / "ledger.sqlite", DAY)
    assert planted == 1, "the backfill left no ledger row to plant a mismatch in"
    seen = {run["runId"] for run in ui.graphql(RUNS)["runsOrError"]["results"]}

    page.goto(f"{ui.base_url}/asset-groups", wait_until="networkidle")
    dialog = open_materialize_dialog(page, DAY, "1 partition")
    dialog.get_by_role("button", name="Launch 1 run").click()

    run = wait_for_run(ui, timeout=300, ignore=seen)
    assert run["status"] == "FAILURE", run
    evaluations = check_evaluations(ui, run["runId"])
    (reconciliation,) = [e for e in evaluations if e["checkName"] == "bronze_silver_reconciliation"]
    assert not reconciliation["success"]
    events = ui.graphql(STEP_STARTS, {"runId": run["runId"]})["logsForRun"]["events"]
    started = {e["stepKey"] for e in events if e["__typename"] == "ExecutionStepStartEvent"}
    assert "silver" in started
    assert not {"dbt_features", "credit_decisions", "dbt_monitoring"} & started, started

    page.goto(f"{ui.base_url}/runs/{run['runId']}", wait_until="networkidle")
    page.get_by_text("Not executed").first.wait_for(timeout=30_000)
    page.screenshot(path=str(shots / "blocked.png"))
    assert (shots / "blocked.png").stat().st_size < 600_000


def screenshot_the_lineage(ui: DagsterUI, page, shots: Path) -> None:
    """The whole lineage with every asset drawn whole and readable, after the backfill.

    At the zoom that fits the graph in one screen the UI draws each asset as a compact box with
    its name shortened (``flinks_acc…_detail``); one zoom step in, it draws the asset's whole
    name, checks and partitions. Top to bottom, on a tall page, that step still fits. The
    orientation is the graph's own setting, kept by the browser; the page goes back to its
    usual size afterwards.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.goto(f"{ui.base_url}/asset-groups", wait_until="networkidle")
    page.get_by_role("button", name="settings", exact=True).click()
    page.get_by_role("menuitem", name="Change graph to vertical orientation").click()
    page.set_viewport_size(LINEAGE_VIEWPORT)
    try:
        # laid out again and zoomed to fit the new orientation and page
        page.reload(wait_until="networkidle")
        for group in GROUPS:
            node = page.locator("foreignObject.group").get_by_text(group, exact=True)
            node.first.wait_for(timeout=60_000)
        page.get_by_role("button", name="zoom_in", exact=True).click()
        try:
            page.get_by_text(ASSET_NAMES[1], exact=True).first.wait_for(timeout=15_000)
        except PlaywrightTimeout:  # the first click landed before the fit: once more
            page.get_by_role("button", name="zoom_in", exact=True).click()
        for name in ASSET_NAMES:
            page.get_by_text(name, exact=True).first.wait_for(timeout=30_000)
        groups = [node.bounding_box() for node in page.locator("foreignObject.group").all()]
        left = min(box["x"] for box in groups) - 16
        top = min(box["y"] for box in groups) - 16
        right = max(box["x"] + box["width"] for box in groups) + 16
        bottom = max(box["y"] + box["height"] for box in groups) + 16
        width, height = LINEAGE_VIEWPORT["width"], LINEAGE_VIEWPORT["height"]
        assert all((left >= 0, top >= 0, right <= width, bottom <= height)), (
            "the lineage does not fit the page at the zoom that draws assets whole",
            (left, top, right, bottom),
        )
        clip = {"x": left, "y": top, "width": right - left, "height": bottom - top}
        page.screenshot(path=str(shots / "lineage.png"), clip=clip)
    finally:
        page.set_viewport_size(VIEWPORT)


def open_materialize_dialog(page, partitions: str, selected: str):
    """The lineage's *Materialize all* dialog with ``partitions`` typed in, once it shows
    ``selected`` (e.g. "3 partitions")."""
    page.get_by_role("button", name="Materialize all").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for(timeout=30_000)
    field = dialog.locator("input[type=text]").first
    field.click()
    field.fill(partitions)
    field.press("Enter")
    dialog.get_by_text(selected, exact=True).wait_for(timeout=30_000)
    return dialog


def check_evaluations(ui: DagsterUI, run_id: str) -> list[dict]:
    events = ui.graphql(CHECKS, {"runId": run_id})["logsForRun"]["events"]
    return [e["evaluation"] for e in events if e["__typename"] == "AssetCheckEvaluationEvent"]


def wait_for_backfill(ui: DagsterUI, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    backfills: list[dict] = []
    while time.monotonic() < deadline:
        backfills = ui.graphql(BACKFILLS)["partitionBackfillsOrError"]["results"]
        if backfills and backfills[0]["status"] not in ("REQUESTED", "CANCELING"):
            return backfills[0]
        time.sleep(2)
    raise AssertionError(f"no backfill finished within {timeout:.0f}s: {backfills}")


def expand_all_groups(page, timeout: float = 90.0) -> None:
    """Expand every group of the global lineage through the graph's own context menu.

    The sidebar lists the groups as soon as the page loads; the graph lays itself out in a
    web worker afterwards, which takes longer on a busy machine. Wait for the group nodes of
    the graph itself, then right-click its background. The right-click is repeated while no
    menu shows, as a guard against a graph that is still laying itself out (not seen once its
    group nodes are drawn, but cheap to allow for); the deadline bounds it.
    """
    for group in GROUPS:
        node = page.locator("foreignObject.group").get_by_text(group, exact=True)
        node.first.wait_for(timeout=timeout * 1000)
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    menu_item = page.get_by_role("menuitem", name="Expand all groups")
    deadline = time.monotonic() + timeout
    while True:
        # the background above the row of groups: no node there at the graph's zoom-to-fit
        page.mouse.click(1100, 250, button="right")
        try:
            menu_item.wait_for(timeout=5000)
            break
        except PlaywrightTimeout:  # the graph did not take the gesture yet
            if time.monotonic() > deadline:
                raise
            page.keyboard.press("Escape")
    menu_item.click()


def wait_for_run(ui: DagsterUI, timeout: float, ignore: set[str] = frozenset()) -> dict:
    """The newest finished run not in ``ignore`` (the runs there before it was launched)."""
    deadline = time.monotonic() + timeout
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = [r for r in ui.graphql(RUNS)["runsOrError"]["results"] if r["runId"] not in ignore]
        finished = [r for r in runs if r["status"] in ("SUCCESS", "FAILURE", "CANCELED")]
        if finished:
            return finished[0]
        time.sleep(2)
    raise AssertionError(f"no run finished within {timeout:.0f}s: {runs}")
