"""The applications source: bad rows are rejected with a reason, never crashed on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from credit_scoring.ingestion.applications_source import (
    ApplicationsSourceError,
    in_window,
    read_applications_csv,
    validate_applications,
)

HEADER = "application_id,login_id,applied_at,requested_amount\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "applications.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_valid_rows_are_typed_and_dated_in_utc(tmp_path):
    path = write(
        tmp_path,
        "APP-1,login-1,2026-10-05T23:30:00-04:00,1500\nAPP-2,login-2,2026-10-05T10:00:00Z,250.5\n",
    )
    valid, rejects = validate_applications(read_applications_csv(path))

    assert rejects.empty
    assert list(valid["application_id"]) == ["APP-1", "APP-2"]
    # 23:30 in Montreal is already the next day in UTC: the partition follows UTC.
    assert list(valid["application_date"]) == [date(2026, 10, 6), date(2026, 10, 5)]
    assert list(valid["requested_amount"]) == [1500.0, 250.5]


def test_each_malformed_row_is_rejected_with_its_rule_and_source_row(tmp_path):
    path = write(
        tmp_path,
        "\n".join(
            [
                "APP-1,login-1,2026-10-05T10:00:00Z,1000",
                ",login-2,2026-10-05T10:00:00Z,1000",
                "APP-3,,2026-10-05T10:00:00Z,1000",
                "APP-4,login-4,yesterday,1000",
                "APP-5,login-5,2026-02-30T10:00:00Z,1000",
                "APP-6,login-6,2026-10-05T10:00:00Z,lots",
                "APP-7,login-7,2026-10-05T10:00:00Z,-5",
                "APP-1,login-8,2026-10-05T11:00:00Z,1000",
            ]
        )
        + "\n",
    )
    valid, rejects = validate_applications(read_applications_csv(path))

    assert list(valid["application_id"]) == ["APP-1"]
    assert list(valid["login_id"]) == ["login-1"]
    assert dict(zip(rejects["source_row"], rejects["rule"], strict=True)) == {
        3: "missing_application_id",
        4: "missing_login_id",
        5: "bad_applied_at",
        6: "bad_applied_at",
        7: "non_numeric_amount",
        8: "implausible_amount",
        9: "duplicate_application_id",
    }
    assert "'lots'" in rejects.loc[rejects["rule"] == "non_numeric_amount", "message"].item()
    assert len(valid) + len(rejects) == 8


def test_missing_file_names_the_variable_to_set(tmp_path):
    with pytest.raises(ApplicationsSourceError, match="CREDIT_SCORING_APPLICATIONS"):
        read_applications_csv(tmp_path / "nope.csv")


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "applications.csv"
    path.write_text("application_id,login_id,applied_at\nAPP-1,l,2026-10-05T00:00:00Z\n")
    with pytest.raises(ApplicationsSourceError, match="requested_amount"):
        read_applications_csv(path)


def test_window_is_half_open_on_application_date(tmp_path):
    path = write(
        tmp_path,
        "A,l1,2026-10-04T23:59:59Z,1\nB,l2,2026-10-05T00:00:00Z,1\nC,l3,2026-10-06T00:00:00Z,1\n",
    )
    valid, _ = validate_applications(read_applications_csv(path))
    assert list(in_window(valid, date(2026, 10, 5), date(2026, 10, 6))["application_id"]) == ["B"]


def test_applications_asset_materializes_one_partition_and_reports_rejects(tmp_path, monkeypatch):
    path = write(
        tmp_path,
        "A,l1,2026-10-05T08:00:00Z,100\nB,,2026-10-05T09:00:00Z,100\nC,l3,2026-10-06T08:00:00Z,1\n",
    )
    monkeypatch.setenv("CREDIT_SCORING_APPLICATIONS", str(path))
    from credit_scoring.deployment import build_resources
    from credit_scoring.ingestion.applications_asset import applications

    result = dg.materialize([applications], partition_key="2026-10-05", resources=build_resources())

    assert result.success
    frame = result.output_for_node("applications")
    assert list(frame["application_id"]) == ["A"]
    metadata = result.asset_materializations_for_node("applications")[0].metadata
    assert metadata["dagster/row_count"].value == 1
    assert metadata["rejected_rows"].value == 1


def test_an_application_dated_in_the_future_is_rejected_not_left_waiting(tmp_path):
    path = write(
        tmp_path,
        "A,l1,2026-10-05T12:04:00Z,100\nB,l2,2026-10-05T12:06:00Z,100\nC,l3,2099-01-01,100\n",
    )
    now = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)

    valid, rejects = validate_applications(read_applications_csv(path), now=now)

    # a few minutes ahead is a clock running fast; later is a typo no partition would hold
    assert list(valid["application_id"]) == ["A"]
    assert dict(zip(rejects["application_id"], rejects["rule"], strict=True)) == {
        "B": "applied_at_in_future",
        "C": "applied_at_in_future",
    }
    assert "2026-10-05 12:00 UTC" in rejects["message"].iloc[0]
