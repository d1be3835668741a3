"""Terminal faults: logins and decision entities the mock refuses for good, drawn per key."""

from __future__ import annotations

from credit_scoring_tests.mock_server.helpers import (
    SAMPLE_LOGIN,
    decide,
    decide_body,
    flinks,
)
from mock_api.behaviour import terminal_draw


def test_terminal_draw_is_a_pure_function_of_seed_and_key_near_the_rate():
    keys = [f"login-{n}" for n in range(2000)]
    drawn = [terminal_draw(5, key, 0.2) for key in keys]
    assert drawn == [terminal_draw(5, key, 0.2) for key in keys]
    assert drawn != [terminal_draw(6, key, 0.2) for key in keys]
    assert 0.17 < sum(drawn) / len(keys) < 0.23
    assert not any(terminal_draw(5, key, 0.0) for key in keys)
    assert all(terminal_draw(5, key, 1.0) for key in keys)


def test_a_login_drawn_terminal_is_refused_on_every_call_as_disabled(sample_client):
    client = sample_client(terminal_rate=1.0, fault_rate=1.0)
    answers = [flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN}) for _ in range(4)]
    assert {a.status_code for a in answers} == {401}
    assert {a.get_json()["FlinksCode"] for a in answers} == {"DISABLED_LOGIN"}
    stats = client.get("/_mock/stats").get_json()
    assert stats["terminal_answers"] == 4
    assert stats["terminal_keys"] == {"Authorize": [SAMPLE_LOGIN]}
    # a terminal key draws no transient fault: nothing to recover, nothing to count
    assert sum(stats["faults"].values()) == 0


def test_a_decision_entity_drawn_terminal_is_a_422_every_time(sample_client):
    client = sample_client(terminal_rate=1.0)
    answers = [decide(client, decide_body("APP-T")) for _ in range(3)]
    assert {a.status_code for a in answers} == {422}
    stats = client.get("/_mock/stats").get_json()
    assert stats["terminal_keys"] == {"decide": ["APP-T"]}
    assert stats["decisions"] == 0


def test_faults_are_counted_per_endpoint_and_key(sample_client):
    client = sample_client(fault_rate=1.0, fault_kinds=("500",), fault_max_consecutive=2)
    statuses = [
        flinks(client, "Authorize", {"LoginId": SAMPLE_LOGIN}).status_code for _ in range(3)
    ]
    assert statuses == [500, 500, 200]
    stats = client.get("/_mock/stats").get_json()
    assert stats["faults_by_key"] == {"Authorize": {SAMPLE_LOGIN: 2}}
