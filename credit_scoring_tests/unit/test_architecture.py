"""The code location's architecture, checked: rooms layered and free of the mock, one concern per
module, no module a reader has to scroll through for long."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from credit_scoring.core.settings import REPO_ROOT

PACKAGE = REPO_ROOT / "credit_scoring"
#: Beyond this a module holds more than one concern (the ledger was once 937 lines).
MAX_MODULE_LINES = 400


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_rooms_import_only_the_rooms_below_them_and_never_the_mock():
    """import-linter's contracts in pyproject.toml: layers, and no mock_api or devtools."""
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_no_module_of_the_code_location_mentions_an_import_of_the_mock():
    importing = re.compile(r"^\s*(from|import)\s+(mock_api|devtools)\b", re.MULTILINE)
    offenders = [str(path) for path in modules() if importing.search(path.read_text())]
    assert offenders == []


def test_no_module_is_longer_than_a_concern():
    lengths = {
        str(path.relative_to(REPO_ROOT)): len(path.read_text().splitlines()) for path in modules()
    }
    assert {path: n for path, n in lengths.items() if n > MAX_MODULE_LINES} == {}


def test_no_two_modules_share_a_name_across_rooms():
    names = Counter(
        path.name for path in modules() if path.name not in ("__init__.py", "__main__.py")
    )
    assert [name for name, count in names.items() if count > 1] == []
