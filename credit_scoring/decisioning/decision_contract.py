"""What the pipeline sends to a decision engine, declared once, and how a mock says it is one.

The features are the ``applicant_features`` dbt model, whose contract is enforced by dbt
(``dbt_analytics/models/marts/_marts__models.yml``: every column and its type). The features a
decision cannot be made without are marked there ``decision_input: required``; this module
reads that list from the same file, so the model, its documentation and what is checked before
sending cannot drift apart. Every other non-key column is sent too, ``null`` when missing.

Anything may import this module (the mock server does, to score what the pipeline sends): it
needs nothing but the file.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

FEATURES_MODEL = "applicant_features"
#: The dbt file that declares the model's contract.
CONTRACT_FILE = (
    Path(__file__).resolve().parents[2]
    / "dbt_analytics"
    / "models"
    / "marts"
    / "_marts__models.yml"
)
#: Columns of applicant_features that identify the row rather than describe the applicant.
KEY_COLUMNS = ("application_id", "application_date", "partition_date", "login_id")
#: A server that answers with this header says it is a mock: its decisions are stored with
#: ``decision_engine = 'mock'``, so a mock's decision can never pass for a real one.
MOCK_ENGINE_HEADER = "X-Mock-Decision-Engine"
MOCK_ENGINE = "mock"


class ContractError(RuntimeError):
    """The contract file does not declare the features model as expected."""


@cache
def declared_columns(path: Path = CONTRACT_FILE) -> dict[str, dict]:
    """Every column the contract declares for the features model, by name, in order."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for model in document.get("models") or []:
        if model.get("name") == FEATURES_MODEL:
            return {column["name"]: column for column in model.get("columns") or []}
    raise ContractError(f"{path} declares no model named {FEATURES_MODEL!r}")


def required_features(path: Path = CONTRACT_FILE) -> tuple[str, ...]:
    """The columns marked ``decision_input: required``, in the order they are declared."""
    required = tuple(
        name
        for name, column in declared_columns(path).items()
        if ((column.get("config") or {}).get("meta") or {}).get("decision_input") == "required"
    )
    if not required:
        raise ContractError(f"{path}: no column of {FEATURES_MODEL} is a required decision input")
    return required


#: The features a decision cannot be made without.
REQUIRED_FEATURES = required_features()
