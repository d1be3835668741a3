"""Flinks statement exports (the mock's CSV input) and payload files, written as a data directory
holds them: ``statements/*.csv`` in ``export_format.COLUMNS`` order, ``payloads/<LoginId>.json``."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import orjson

from mock_api.export_format import COLUMNS

PULLED_AT = "2026-10-05 12:00:00"


def statement_row(
    login_id: str = "login-1",
    description: str = "ITEM",
    *,
    date: str = "2026-10-01",
    withdrawals: str = "",
    deposits: str = "",
    balance: str = "1000.00",
    **overrides: str,
) -> dict[str, str]:
    """One export row of the login's chequing account; any other column is set by its name,
    e.g. ``**{"Account Number": "123"}``."""
    values = {
        "Username": "Test Holder",
        "Email": "holder@example.com",
        "Address": "1 Main Street, Ottawa, ON K1A 0B1",
        "Financial Institution": "Test Bank",
        "Employer Name": "",
        "Login ID": login_id,
        "Request ID": f"request-{login_id}",
        "Request Date/Time": PULLED_AT,
        "Request Status": "Completed",
        "Account Name": "Chequing",
        "Account Number": f"0042-{login_id}",
        "Account Type": "Operation",
        "Account Balance": "1000.00",
        "Date": date,
        "Description": description,
        "Withdrawals": withdrawals,
        "Deposits": deposits,
        "Balance": balance,
    }
    unknown = set(overrides) - set(COLUMNS)
    if unknown:
        raise KeyError(f"no export column(s) {sorted(unknown)}")
    return {**values, **overrides}


def cells(row: dict[str, str] | list[str]) -> list[str]:
    """A row's values in the export's column order (a list is taken as it is)."""
    return row if isinstance(row, list) else [row.get(column, "") for column in COLUMNS]


def export_text(rows: list[dict[str, str] | list[str]], *, line_end: str = "\n") -> str:
    """Header and rows as the export writes them (fields quoted only when needed)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=line_end).writerows(
        [list(COLUMNS), *(cells(row) for row in rows)]
    )
    return buffer.getvalue()


def write_statements(
    data_dir: Path,
    rows: list[dict[str, str] | list[str]],
    *,
    file_name: str = "statements_2026-10-05_001",
    line_end: str = "\n",
    prefix: bytes = b"",
    encoding: str = "utf-8",
) -> Path:
    """``<data_dir>/statements/<file_name>.csv`` holding ``rows``; returns ``data_dir``."""
    write_statement_bytes(
        data_dir, file_name, prefix + export_text(rows, line_end=line_end).encode(encoding)
    )
    return data_dir


def write_statement_bytes(data_dir: Path, file_name: str, body: bytes) -> Path:
    """A statement file of exactly these bytes (an empty file, a bare header, a BOM...)."""
    folder = data_dir / "statements"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{file_name}.csv"
    path.write_bytes(body)
    return path


def write_payload(data_dir: Path, login_id: str, body: bytes | Any) -> bytes:
    """``<data_dir>/payloads/<login_id>.json``: answered verbatim to that login's detail call."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    folder = data_dir / "payloads"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{login_id}.json").write_bytes(raw)
    return raw
