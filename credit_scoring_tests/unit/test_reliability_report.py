"""The reliability report: every reporting test has a line with its result, a test that failed
before reporting included, and figures a scenario does not measure show as a dash."""

from __future__ import annotations

from credit_scoring_tests.reliability import report


def test_a_failed_scenario_keeps_its_line_and_unmeasured_figures_are_dashes(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "_session_rows", tmp_path)  # not this session's real table
    report.record(report.ScenarioFigures("crash: x", 1, 1, 0, 0, 0), "t.py::test_crash")
    report.record_outcome("t.py::test_crash", passed=True)
    report.record(
        report.ScenarioFigures("secrets: key", places_searched=40, copies_found=0), "t.py::test_key"
    )
    report.record_outcome("t.py::test_key", passed=True)
    report.record_outcome("t.py::test_faults", passed=False)

    rows = report.collected()
    table = report.markdown_table(rows).splitlines()

    assert [(row.figures.scenario, row.result) for row in rows] == [
        ("crash: x", "PASS"),
        ("secrets: key", "PASS"),
        ("test_faults (failed before reporting)", "FAIL"),
    ]
    assert [c.strip() for c in table[2].split("|")[3:10]] == ["1", "1", "0", "0", "0", "—", "—"]
    assert [c.strip() for c in table[3].split("|")[3:10]] == ["—", "—", "—", "—", "—", "40", "0"]
    assert "2 pass, 1 not" in table[-1]
