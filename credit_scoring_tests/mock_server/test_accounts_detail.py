"""The mock's GetAccountsDetail, GetAccountsDetailAsync and GetAccountsSummary routes: the
contract's fields, history windows, parameters and their errors."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from credit_scoring_tests.mock_server.helpers import (
    ACCOUNT_FIELDS,
    API,
    MALFORMED,
    SAMPLE_LOGIN,
    TRANSACTION_FIELDS,
    accounts_of,
    assert_flinks_error,
    authorize,
    detail,
    flinks,
    read_csv,
    transactions,
)
from mock_api.app import create_app


def test_get_accounts_detail_answers_accounts_with_the_contract_fields(client):
    request_id = authorize(client)
    response = detail(client, request_id, WithTransactions=True, DaysOfTransactions="Days90")

    assert response.status_code == 200
    body = response.json
    assert body["HttpStatusCode"] == 200
    assert body["RequestId"] == request_id
    assert body["Login"]["Id"] == SAMPLE_LOGIN
    assert body["Accounts"]
    for account in body["Accounts"]:
        assert ACCOUNT_FIELDS | {"Transactions"} <= set(account)
        assert set(account["Balance"]) == {"Available", "Current", "Limit"}
        assert isinstance(account["Balance"]["Current"], float)
        assert account["Currency"] == "CAD"
        assert {"Name", "Address", "Email", "PhoneNumber"} <= set(account["Holder"])
        assert account["Transactions"]
        for transaction in account["Transactions"]:
            assert set(transaction) == TRANSACTION_FIELDS
    assert len({account["Id"] for account in body["Accounts"]}) == len(body["Accounts"])


def test_credit_card_accounts_have_no_available_balance_but_operations_do(generated_data):
    client = create_app(generated_data).test_client()
    login_id = read_csv(generated_data / "applications.csv")[0]["login_id"]
    accounts = {a["Category"]: a for a in accounts_of(client, login_id)}

    assert accounts["Credits"]["Balance"]["Available"] is None
    operations = accounts["Operations"]["Balance"]
    assert operations["Available"] == operations["Current"]


def test_transactions_are_listed_newest_first(generated_data):
    client = create_app(generated_data).test_client()
    for application in read_csv(generated_data / "applications.csv"):
        for account in accounts_of(client, application["login_id"], DaysOfTransactions="Days365"):
            dates = [t["Date"] for t in account["Transactions"]]
            assert dates, account["Title"]
            assert dates == sorted(dates, reverse=True)


def test_well_formed_rows_have_exactly_one_of_debit_and_credit(generated_data):
    client = create_app(generated_data).test_client()
    for application in read_csv(generated_data / "applications.csv"):
        served = transactions(
            accounts_of(client, application["login_id"], DaysOfTransactions="Days365")
        )
        assert served
        for transaction in served:
            amounts = [transaction["Debit"], transaction["Credit"]]
            assert sum(amount is not None for amount in amounts) == 1, transaction
            assert all(isinstance(a, float) and a > 0 for a in amounts if a is not None)
            assert isinstance(transaction["Balance"], float)


def test_days90_and_days365_count_back_from_the_logins_pull_not_the_wall_clock(generated_data):
    client = create_app(generated_data).test_client()
    application = read_csv(generated_data / "applications.csv")[0]
    pulled = datetime.fromisoformat(application["applied_at"].replace("Z", "+00:00")).date()
    cutoff = (pulled - timedelta(days=90)).isoformat()
    oldest_allowed = (pulled - timedelta(days=365)).isoformat()

    days90 = transactions(accounts_of(client, application["login_id"], DaysOfTransactions="Days90"))
    days365 = transactions(
        accounts_of(client, application["login_id"], DaysOfTransactions="Days365")
    )
    default = transactions(accounts_of(client, application["login_id"]))

    assert days90
    assert min(t["Date"] for t in days90) >= cutoff
    assert any(t["Date"] < cutoff for t in days365), "history must reach beyond 90 days"
    assert min(t["Date"] for t in days365) >= oldest_allowed
    assert {t["Id"] for t in days90} == {t["Id"] for t in days365 if t["Date"] >= cutoff}
    assert [t["Id"] for t in default] == [t["Id"] for t in days90]


def test_rows_dated_after_the_pull_are_still_listed(client):
    row = next(r for r in MALFORMED if r["kind"] == "date_after_pull")

    served = transactions(accounts_of(client, row["login_id"], DaysOfTransactions="Days90"))

    assert any(t["Date"] == row["date"] and t["Description"] == row["description"] for t in served)


def test_date_from_and_date_to_bound_the_window_inclusively(generated_data):
    client = create_app(generated_data).test_client()
    login_id = read_csv(generated_data / "applications.csv")[0]["login_id"]
    everything = transactions(accounts_of(client, login_id, DaysOfTransactions="Days365"))
    dates = sorted({t["Date"] for t in everything})
    date_from, date_to = dates[10], dates[20]

    served = transactions(accounts_of(client, login_id, DateFrom=date_from, DateTo=date_to))
    only_from = transactions(accounts_of(client, login_id, DateFrom=date_to))

    assert {t["Date"] for t in served} == set(dates[10:21])
    assert {t["Id"] for t in served} == {
        t["Id"] for t in everything if date_from <= t["Date"] <= date_to
    }
    assert {t["Id"] for t in only_from} == {t["Id"] for t in everything if t["Date"] >= date_to}


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"DateFrom": "2026-09-10", "DateTo": "2026-09-01"}, "is after DateTo"),
        ({"DateFrom": "2026-02-30"}, "is not a YYYY-MM-DD date"),
        ({"DateTo": "01/09/2026"}, "is not a YYYY-MM-DD date"),
        ({"DateFrom": "2026-09-01", "DaysOfTransactions": "Days90"}, "not both"),
        ({"DaysOfTransactions": "Days30"}, "is not one of Days90, Days365"),
        ({"WithTransactions": "yes"}, "WithTransactions must be true or false"),
        ({"AccountsFilter": "not-a-list"}, "AccountsFilter must be a list"),
        ({"AccountsFilter": [1, 2]}, "AccountsFilter must be a list"),
    ],
    ids=[
        "from-after-to", "impossible-date", "not-iso-date", "days-and-dates",
        "unknown-days", "non-bool-with-transactions", "filter-not-list", "filter-not-strings",
    ],
)  # fmt: skip
def test_invalid_detail_parameters_are_a_400_invalid_request(client, parameters, message):
    response = detail(client, authorize(client), **parameters)

    assert_flinks_error(response, 400, "INVALID_REQUEST", message)


@pytest.mark.parametrize("days", [["Days90"], {"Days": 90}], ids=["list", "object"])
def test_a_non_string_days_of_transactions_is_a_400_not_a_500(client, days):
    response = detail(client, authorize(client), DaysOfTransactions=days)

    assert_flinks_error(response, 400, "INVALID_REQUEST", "DaysOfTransactions")


def test_without_transactions_accounts_carry_no_transactions(client):
    response = detail(client, authorize(client), WithTransactions=False)

    assert response.status_code == 200
    assert response.json["Accounts"]
    assert all("Transactions" not in account for account in response.json["Accounts"])


def test_accounts_filter_serves_only_the_listed_accounts(client):
    everything = accounts_of(client, SAMPLE_LOGIN)
    assert len(everything) >= 2
    wanted = everything[1]

    filtered = accounts_of(client, SAMPLE_LOGIN, AccountsFilter=[wanted["Id"]])
    nothing = accounts_of(client, SAMPLE_LOGIN, AccountsFilter=["no-such-account"])

    assert filtered == [wanted]
    assert nothing == []


def test_unknown_request_id_is_400_session_nonexistent(client):
    response = detail(client, "11111111-2222-3333-4444-555555555555")

    assert_flinks_error(
        response, 400, "SESSION_NONEXISTENT", "11111111-2222-3333-4444-555555555555"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [({}, "RequestId is required"), ({"RequestId": 12}, "RequestId must be a string")],
    ids=["missing", "number"],
)
def test_missing_or_non_string_request_id_is_a_clear_400(client, body, message):
    response = flinks(client, "GetAccountsDetail", body)

    assert_flinks_error(response, 400, "INVALID_REQUEST", message)


def test_detail_async_without_a_prior_detail_request_is_a_400(client):
    request_id = authorize(client)

    response = client.get(f"{API}/GetAccountsDetailAsync/{request_id}")

    assert_flinks_error(
        response, 400, "INVALID_REQUEST", "no GetAccountsDetail request", request_id
    )


def test_detail_async_for_an_unknown_request_id_is_session_nonexistent(client):
    response = client.get(f"{API}/GetAccountsDetailAsync/unknown-request")

    assert_flinks_error(response, 400, "SESSION_NONEXISTENT", "unknown-request")


def test_detail_async_answers_the_same_question_as_the_detail_request(client):
    request_id = authorize(client)
    first = detail(client, request_id, DaysOfTransactions="Days365")

    again = client.get(f"{API}/GetAccountsDetailAsync/{request_id}")

    assert first.status_code == again.status_code == 200
    assert again.json["Accounts"] == first.json["Accounts"]


def test_accounts_summary_has_no_transactions_and_masks_account_numbers(client):
    full = {a["Id"]: a for a in accounts_of(client, SAMPLE_LOGIN)}
    request_id = authorize(client)

    response = flinks(client, "GetAccountsSummary", {"RequestId": request_id})

    assert response.status_code == 200
    body = response.json
    assert body["HttpStatusCode"] == 200
    assert body["RequestId"] == request_id
    assert {a["Id"] for a in body["Accounts"]} == set(full)
    for account in body["Accounts"]:
        assert "Transactions" not in account
        number = full[account["Id"]]["AccountNumber"]
        assert account["AccountNumber"] == "****" + number[-4:]
        assert account["AccountNumber"] != number
        assert account["Balance"] == full[account["Id"]]["Balance"]


def test_accounts_summary_for_an_unknown_request_id_is_session_nonexistent(client):
    response = flinks(client, "GetAccountsSummary", {"RequestId": "unknown-request"})

    assert_flinks_error(response, 400, "SESSION_NONEXISTENT")
