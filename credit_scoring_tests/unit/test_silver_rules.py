"""Silver standardisation: every validation rule, one row each, lands in rejects with its rule."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pandas as pd
import pytest

from credit_scoring.ingestion.bronze_rows import PAYLOAD_TEXT
from credit_scoring.silver.rules import to_number
from credit_scoring.silver.standardise import standardise
from credit_scoring_tests.builders.flinks import account, bronze_row
from credit_scoring_tests.builders.flinks import response as flinks_response
from credit_scoring_tests.builders.flinks import transaction as tx

DAY = "2026-10-05"
PULLED = "2026-10-05T14:00:00"
HOSTILE = 'Robert\'); DROP TABLE silver;-- {{ 7*7 }} ${jndi:x} é€😀\n"quoted"'


#: The holder's PII, which must never reach silver.
HOLDER = {"Name": "Jeanne Canary", "Email": "jeanne@canary.test", "PhoneNumber": "5145550199"}


def response(app: str, transactions: list[dict], **account_fields) -> dict:
    """A bronze row: application ``app``'s answer with one chequing account."""
    chequing = account(
        f"acc-{app}", transactions, holder=HOLDER, AccountNumber="123456789", **account_fields
    )
    body = flinks_response(f"login-{app}", [chequing], pulled=PULLED, institution="RBC Royal Bank")
    return bronze_row(app, body, day=DAY)


CASES = {
    "missing_id": tx(None),
    "unparseable_date": tx("t-date", date="yesterday"),
    "impossible_date": tx("t-impossible", date="2026-02-30"),
    "date_after_pull": tx("t-future", date="2026-10-09"),
    "non_numeric_amount": tx("t-nan", credit="12,3x"),
    "both_debit_and_credit": tx("t-both", debit=5.0, credit=5.0),
    "neither_debit_nor_credit": tx("t-neither", debit=None, credit=None),
    "negative_amount": tx("t-neg", debit=-5.0, credit=None),
    "implausible_amount": tx("t-huge", credit=99999999999.99),
    "unparseable_balance": tx("t-bal", balance="n/a"),
}


def batch_with_every_rule():
    conflict = [tx("t-dup", credit=1.0), tx("t-dup", credit=2.0)]
    valid = [
        tx("t-ok-1", debit=12.5, credit=None, description="  GROCERY  "),
        tx("t-ok-2", description=HOSTILE),
        tx("t-ok-2", description=HOSTILE),
    ]
    bronze = pd.DataFrame([response("A", [*CASES.values(), *conflict, *valid])])
    return standardise(bronze, now=datetime(2026, 10, 5, tzinfo=UTC))


def test_every_rule_rejects_its_row_with_a_message():
    batch = batch_with_every_rule()
    rules = batch.rejected["rule"].value_counts().to_dict()
    expected = {name: 1 for name in CASES} | {"duplicate_id_conflict": 2}
    assert rules == expected
    messages = dict(zip(batch.rejected["rule"], batch.rejected["message"], strict=False))
    assert "'12,3x'" in messages["non_numeric_amount"]
    assert "2026-10-05" in messages["date_after_pull"]
    assert "'n/a'" in messages["unparseable_balance"]


def test_every_bronze_transaction_lands_in_exactly_one_place():
    batch = batch_with_every_rule()
    # 15 bronze copies = 2 silver rows + 1 identical copy collapsed into one of them + 12 rejects
    assert batch.bronze_transactions == 15
    assert (len(batch.transactions), batch.duplicates_collapsed, len(batch.rejected)) == (2, 1, 12)
    total = len(batch.transactions) + batch.duplicates_collapsed + len(batch.rejected)
    assert total == batch.bronze_transactions


def test_valid_rows_are_standardised_with_signed_amounts():
    silver = batch_with_every_rule().transactions.set_index("transaction_id")
    assert silver.loc["t-ok-1", "amount"] == -12.5
    assert silver.loc["t-ok-1", "description"] == "GROCERY"
    assert silver.loc["t-ok-2", "amount"] == 10.0
    assert str(silver.loc["t-ok-1", "posted_date"]) == "2026-10-01"
    assert silver.loc["t-ok-1", "account_category"] == "Operations"


def test_hostile_text_is_stored_verbatim():
    silver = batch_with_every_rule().transactions.set_index("transaction_id")
    assert silver.loc["t-ok-2", "description"] == HOSTILE.strip()


def test_pii_never_reaches_silver(monkeypatch):
    monkeypatch.delenv("CREDIT_SCORING_PII_KEY", raising=False)
    batch = batch_with_every_rule()
    text = pd.concat([batch.accounts.astype(str), batch.transactions.astype(str)]).to_csv()
    for secret in ("Jeanne Canary", "jeanne@canary.test", "5145550199", "123456789"):
        assert secret not in text
    assert batch.accounts["account_number_masked"].item() == "****6789"
    assert batch.accounts["holder_key"].isna().all()


def test_holder_key_is_a_keyed_hash_when_a_key_is_configured(monkeypatch):
    monkeypatch.setenv("CREDIT_SCORING_PII_KEY", "k1")
    first = batch_with_every_rule().accounts["holder_key"].item()
    monkeypatch.setenv("CREDIT_SCORING_PII_KEY", "k2")
    second = batch_with_every_rule().accounts["holder_key"].item()
    assert len(first) == 64
    assert first != second


def test_a_copy_conflicting_with_stored_silver_is_quarantined_and_identical_is_skipped():
    bronze = pd.DataFrame([response("A", [tx("t1", credit=1.0), tx("t2", credit=2.0)])])
    first = standardise(bronze)
    stored = first.transactions.loc[:, ["application_id", "transaction_id", "content_hash"]]
    changed = pd.DataFrame([response("A", [tx("t1", credit=1.0), tx("t2", credit=3.0)])])

    second = standardise(changed, stored)

    # the identical copy is handed on again (the IO manager keeps the stored row) but not new
    assert second.transactions["transaction_id"].tolist() == ["t1"]
    assert second.already_in_silver == 1
    assert second.new_transactions == 0
    assert second.rejected["rule"].tolist() == ["duplicate_id_conflict"]
    assert "already in silver" in second.rejected["message"].item()


@pytest.mark.parametrize(
    ("payload", "message"),
    [('{"Accounts": [', "not valid JSON"), ('{"Accounts": null}', "NULL")],
)
def test_an_unreadable_response_is_quarantined_not_crashed_on(payload, message):
    row = response("A", [])
    row["payload"] = payload
    batch = standardise(pd.DataFrame([row]))
    assert batch.rejected["rule"].tolist() == ["unreadable_response"]
    assert message in batch.rejected["message"].item()
    assert batch.transactions.empty


def test_zero_transactions_is_fine():
    batch = standardise(pd.DataFrame([response("A", [])]))
    assert batch.transactions.empty
    assert batch.rejected.empty
    assert len(batch.accounts) == 1


def test_no_responses_make_one_empty_batch_and_leave_what_the_process_froze_frozen():
    import gc

    # as the lake hands them over: the payloads as Arrow text
    no_responses = pd.DataFrame([response("A", [])]).iloc[:0].astype({"payload": PAYLOAD_TEXT})
    gc.freeze()
    try:
        batch = standardise(no_responses)
        # unfreezing empties the permanent generation (frozen objects that died leave it too)
        assert gc.get_freeze_count() > 0, "silver unfroze the process's objects"
    finally:
        gc.unfreeze()
    assert batch.transactions.empty
    assert batch.rejected.empty
    assert batch.accounts.empty


def test_responses_are_flattened_in_slices_of_bounded_payload():
    from credit_scoring.silver.flatten import payload_batches

    frame = pd.DataFrame({"payload": ["x" * 40, "x" * 40, "x" * 40, "x" * 200, "x" * 10]})

    batches = payload_batches(frame, limit=100)

    assert [list(b.index) for b in batches] == [[0, 1], [2], [3], [4]]
    assert sum(len(b) for b in batches) == len(frame)


def test_slicing_does_not_change_what_silver_gets(monkeypatch):
    import credit_scoring.silver.flatten as flatten_module

    bronze = pd.DataFrame(
        [response(f"A{i}", [tx(f"t{j}", credit=float(j + 1)) for j in range(3)]) for i in range(5)]
    )
    whole = standardise(bronze)
    monkeypatch.setattr(flatten_module, "BATCH_PAYLOAD_BYTES", 1)
    sliced = standardise(bronze)

    pd.testing.assert_frame_equal(
        whole.transactions.drop(columns=["fetched_at"]),
        sliced.transactions.drop(columns=["fetched_at"]),
    )
    assert len(sliced.transactions) == 15


def test_a_number_beyond_float_range_is_implausible_not_unreadable():
    bronze = pd.DataFrame(
        [
            response(
                "A",
                [
                    tx("t-digits", credit="9" * 400),
                    tx("t-exponent", debit="1e999", credit=None),
                    tx("t-balance", balance="1" + "0" * 400),
                ],
            )
        ]
    )

    batch = standardise(bronze)

    rules = dict(zip(batch.rejected["transaction_id"], batch.rejected["rule"], strict=True))
    assert rules == {
        "t-digits": "implausible_amount",
        "t-exponent": "implausible_amount",
        "t-balance": "unparseable_balance",
    }


@pytest.mark.parametrize(
    ("transactions", "kind"),
    [
        ({"Id": "t2"}, "OBJECT"),
        # text that reads like an array is still text: the account's transactions are unreadable
        ('[{"Id": "t2"}]', "VARCHAR"),
        (42, "UBIGINT"),
        (True, "BOOLEAN"),
    ],
)
def test_an_account_whose_transactions_is_not_a_list_is_quarantined_with_its_id(
    transactions: object, kind: str
):
    row = response("A", [tx("t1")])
    body = orjson.loads(row["payload"])
    broken = {**body["Accounts"][0], "Id": "acc-broken", "Transactions": transactions}
    body["Accounts"].append(broken)
    row["payload"] = orjson.dumps(body).decode()

    batch = standardise(pd.DataFrame([row]))

    assert batch.transactions["transaction_id"].tolist() == ["t1"]
    (reject,) = batch.rejected.to_dict("records")
    assert (reject["rule"], reject["account_id"]) == ("unreadable_transactions", "acc-broken")
    assert f"is {kind}, not an array" in reject["message"]


def test_two_accounts_sharing_an_id_lose_none_of_their_rows():
    row = response("A", [tx("t1"), tx("t2", date="never")])
    body = orjson.loads(row["payload"])
    twin = {**body["Accounts"][0], "Transactions": [tx("t3"), tx("t4", date="never")]}
    body["Accounts"].append(twin)
    row["payload"] = orjson.dumps(body).decode()

    batch = standardise(pd.DataFrame([row]))

    assert sorted(batch.transactions["transaction_id"]) == ["t1", "t3"]
    # the quarantine's key includes the feed position: the twin's rows are numbered after
    assert sorted(batch.rejected["transaction_id"]) == ["t2", "t4"]
    assert batch.rejected["feed_position"].tolist() == [1, 3]


def test_to_number_parses_numbers_and_reads_a_number_beyond_float_range_as_infinite():
    """Only text that is a number too large for a float becomes infinite; other text that is
    not a number, and missing values, become NaN."""
    text = pd.Series(
        ["12.50", "-3", "1e999", "-1e999", "9" * 400, "abc", "12,50", None, "+.5"],
        dtype="string",
    )

    numbers = to_number(text).tolist()

    assert numbers[:2] == [12.5, -3.0]
    assert numbers[2:5] == [float("inf"), float("-inf"), float("inf")]
    assert all(pd.isna(value) for value in numbers[5:8])
    assert numbers[8] == 0.5


def test_values_of_the_wrong_json_shape_are_read_as_the_text_the_feed_sent():
    from credit_scoring.silver.flatten import flatten

    row = response("A", [])
    body = orjson.loads(row["payload"])
    body["Accounts"] = [
        42,  # not an object: an account without fields or transactions
        None,
        {
            "Id": "acc-odd",
            "Balance": 5,  # not an object: no balances, not an error
            "Transactions": [
                {"Id": 7, "Date": 20261005, "Debit": {"x": [1, 2]}, "Credit": True},
                {"Id": "t-big", "Debit": 1e2, "Credit": "12.50", "Balance": "1e999"},
                "text",  # not an object: a transaction without values, rejected downstream
                None,
            ],
        },
    ]
    row["payload"] = orjson.dumps(body).decode()

    accounts, transactions, unreadable = flatten(pd.DataFrame([row]))

    assert accounts["account_id"].tolist() == ["position-0", "position-1", "acc-odd"]
    assert accounts["balance_current"].isna().all()
    assert unreadable.empty
    values = transactions.loc[
        :, ["transaction_id", "date_raw", "debit_raw", "credit_raw", "balance_raw"]
    ]
    assert values.astype(object).where(values.notna(), None).values.tolist() == [
        # a number as its JSON text, an object as compact JSON, true as "true"
        ["7", "20261005", '{"x":[1,2]}', "true", None],
        # a string as its value, untouched ("12.50" stays as sent)
        ["t-big", None, "100.0", "12.50", "1e999"],
        [None, None, None, None, None],
        [None, None, None, None, None],
    ]
    assert transactions["feed_position"].tolist() == [0, 1, 2, 3]
