"""The Flinks client against a respx-mocked API: every path of the contract, retries included."""

from __future__ import annotations

import asyncio
import itertools

import httpx
import orjson
import pytest
import respx

from credit_scoring.core.retrying import RetryPolicy
from credit_scoring.ingestion.flinks_client import FetchResult, FlinksClient, PollPolicy
from credit_scoring.ingestion.flinks_resource import FlinksResource

BASE = "https://flinks.test"
CUSTOMER = "cust-1"
API = f"{BASE}/v3/{CUSTOMER}/BankingServices"
LOGIN = "11111111-2222-3333-4444-555555555555"
REQUEST_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
FAST_RETRY = RetryPolicy(max_attempts=3, wait_initial=0.001, wait_max=0.001, wait_jitter=0.0)
FAST_POLL = PollPolicy(interval_seconds=0.001, max_wait_seconds=5)

AUTHORIZED = {"HttpStatusCode": 200, "Login": {"Id": LOGIN}, "RequestId": REQUEST_ID}
DETAIL = {
    "HttpStatusCode": 200,
    "RequestId": REQUEST_ID,
    "Accounts": [
        {
            "Id": "acc-1",
            "Category": "Operations",
            "Transactions": [
                {"Id": "t1", "Date": "2026-10-01", "Debit": 12.5, "Credit": None, "Balance": 87.5}
            ],
        }
    ],
}
PENDING = {"HttpStatusCode": 202, "FlinksCode": "OPERATION_PENDING", "RequestId": REQUEST_ID}


def flinks_error(status: int, code: str) -> httpx.Response:
    return httpx.Response(
        status, json={"HttpStatusCode": status, "FlinksCode": code, "Message": code.lower()}
    )


def fetch(api_key: str | None = None, retry: RetryPolicy = FAST_RETRY):
    async def run():
        async with FlinksClient(
            BASE, CUSTOMER, api_key=api_key, retry=retry, poll=FAST_POLL, timeout_seconds=1
        ) as client:
            return await client.fetch_login(LOGIN)

    return asyncio.run(run())


@respx.mock
def test_200_returns_the_raw_payload_unchanged():
    authorize = respx.post(f"{API}/Authorize").respond(json=AUTHORIZED)
    raw = orjson.dumps(DETAIL)
    detail = respx.post(f"{API}/GetAccountsDetail").respond(200, content=raw)

    result = fetch()

    assert result.ok
    assert result.payload == raw
    assert result.http_status == 200
    assert result.request_id == REQUEST_ID
    assert result.http_calls == 2
    assert orjson.loads(authorize.calls[0].request.content) == {
        "LoginId": LOGIN,
        "MostRecentCached": True,
    }
    sent = orjson.loads(detail.calls[0].request.content)
    assert sent["RequestId"] == REQUEST_ID
    assert sent["WithTransactions"] is True
    assert sent["DaysOfTransactions"] == "Days365"


@respx.mock
def test_a_200_without_an_accounts_array_fails_retryable_once_with_its_body_kept():
    """Nothing to flatten: a failed fetch for the next run, not a success with no data, and
    not retried on the spot (the same cached answer would come back)."""
    respx.post(f"{API}/Authorize").respond(json=AUTHORIZED)
    raw = orjson.dumps({**DETAIL, "Accounts": None})
    respx.post(f"{API}/GetAccountsDetail").respond(200, content=raw)

    result = fetch()

    assert not result.ok
    assert result.error_code == "MALFORMED_RESPONSE"
    assert "its Accounts is null, not an array" in result.error_message
    assert result.retryable
    assert result.http_status == 200
    assert result.payload == raw
    assert result.http_calls == 2


@respx.mock
def test_202_is_polled_on_the_async_endpoint_until_200():
    respx.post(f"{API}/Authorize").respond(json=AUTHORIZED)
    respx.post(f"{API}/GetAccountsDetail").respond(202, json=PENDING)
    poll = respx.get(f"{API}/GetAccountsDetailAsync/{REQUEST_ID}").mock(
        side_effect=[httpx.Response(202, json=PENDING), httpx.Response(200, json=DETAIL)]
    )

    result = fetch()

    assert result.ok
    assert poll.call_count == 2
    assert result.http_calls == 4
    assert result.parsed()["Accounts"][0]["Id"] == "acc-1"


@respx.mock
def test_polling_gives_up_after_the_bounded_wait():
    respx.post(f"{API}/Authorize").respond(json=AUTHORIZED)
    respx.post(f"{API}/GetAccountsDetail").respond(202, json=PENDING)
    respx.get(f"{API}/GetAccountsDetailAsync/{REQUEST_ID}").respond(202, json=PENDING)

    async def run():
        async with FlinksClient(
            BASE, CUSTOMER, retry=FAST_RETRY, poll=PollPolicy(0.01, max_wait_seconds=0.05)
        ) as client:
            return await client.fetch_login(LOGIN)

    result = asyncio.run(run())
    assert not result.ok
    assert result.error_code == "OPERATION_PENDING"
    assert result.retryable is True


@respx.mock
def test_invalid_login_is_terminal_and_not_retried():
    authorize = respx.post(f"{API}/Authorize").mock(return_value=flinks_error(401, "INVALID_LOGIN"))

    result = fetch()

    assert not result.ok
    assert result.error_code == "INVALID_LOGIN"
    assert result.http_status == 401
    assert authorize.call_count == 1
    assert result.retryable is False
    # bronze keeps the server's own error body
    assert orjson.loads(result.payload)["FlinksCode"] == "INVALID_LOGIN"


@pytest.mark.parametrize(
    ("status", "code"), [(503, "RETRY_LATER"), (401, "TOO_MANY_REQUESTS"), (500, "INTERNAL")]
)
@respx.mock
def test_transient_errors_are_retried_then_succeed(status, code):
    authorize = respx.post(f"{API}/Authorize").mock(
        side_effect=[flinks_error(status, code), httpx.Response(200, json=AUTHORIZED)]
    )
    respx.post(f"{API}/GetAccountsDetail").respond(json=DETAIL)

    result = fetch()

    assert result.ok
    assert authorize.call_count == 2
    assert result.http_calls == 3


@pytest.mark.parametrize(("status", "code"), [(503, "RETRY_LATER"), (401, "TOO_MANY_REQUESTS")])
@respx.mock
def test_transient_errors_exhaust_the_bounded_attempts(status, code):
    authorize = respx.post(f"{API}/Authorize").mock(return_value=flinks_error(status, code))

    result = fetch()

    assert not result.ok
    assert result.error_code == code
    assert authorize.call_count == FAST_RETRY.max_attempts
    assert result.retryable is True


@respx.mock
def test_timeouts_are_retried_and_reported_as_timeout_when_exhausted():
    respx.post(f"{API}/Authorize").respond(json=AUTHORIZED)
    detail = respx.post(f"{API}/GetAccountsDetail").mock(
        side_effect=httpx.ReadTimeout("slow", request=None)
    )

    result = fetch()

    assert not result.ok
    assert result.error_code == "TIMEOUT"
    assert detail.call_count == FAST_RETRY.max_attempts


@respx.mock
def test_a_dropped_connection_is_retried():
    respx.post(f"{API}/Authorize").respond(json=AUTHORIZED)
    detail = respx.post(f"{API}/GetAccountsDetail").mock(
        side_effect=[httpx.RemoteProtocolError("peer closed"), httpx.Response(200, json=DETAIL)]
    )

    result = fetch()

    assert result.ok
    assert detail.call_count == 2


@respx.mock
def test_malformed_json_body_gives_a_clear_error_naming_the_endpoint():
    respx.post(f"{API}/Authorize").respond(json=AUTHORIZED)
    respx.post(f"{API}/GetAccountsDetail").respond(
        200, content=b'{"HttpStatusCode": 200, "Accounts": [', headers={"Content-Type": "json"}
    )

    result = fetch()

    assert not result.ok
    assert result.error_code == "MALFORMED_RESPONSE"
    assert "not JSON" in result.error_message
    assert "GetAccountsDetail" in orjson.loads(result.payload)["Endpoint"]


@respx.mock
def test_api_key_header_is_sent_when_configured():
    authorize = respx.post(f"{API}/Authorize").respond(json=AUTHORIZED)
    detail = respx.post(f"{API}/GetAccountsDetail").respond(json=DETAIL)

    assert fetch(api_key="s3cret-key").ok

    assert authorize.calls[0].request.headers["x-api-key"] == "s3cret-key"
    assert detail.calls[0].request.headers["x-api-key"] == "s3cret-key"


@respx.mock
def test_api_key_header_is_absent_when_not_configured():
    authorize = respx.post(f"{API}/Authorize").respond(json=AUTHORIZED)
    respx.post(f"{API}/GetAccountsDetail").respond(json=DETAIL)

    assert fetch(api_key=None).ok

    assert "x-api-key" not in authorize.calls[0].request.headers


@respx.mock
def test_fetch_each_hands_over_every_result_with_its_position_and_isolates_failures():
    good, bad = "good-login", "bad-login"

    def authorize(request: httpx.Request) -> httpx.Response:
        login = orjson.loads(request.content)["LoginId"]
        if login == bad:
            return flinks_error(401, "INVALID_LOGIN")
        return httpx.Response(200, json={**AUTHORIZED, "RequestId": f"req-{login}"})

    respx.post(f"{API}/Authorize").mock(side_effect=authorize)
    respx.post(f"{API}/GetAccountsDetail").respond(json=DETAIL)
    progress: list[tuple[int, int]] = []
    received: dict[int, FetchResult] = {}

    async def run():
        async with FlinksClient(BASE, CUSTOMER, retry=FAST_RETRY, poll=FAST_POLL) as client:
            await client.fetch_each(
                [good, bad, good],
                received.__setitem__,
                concurrency=2,
                on_progress=lambda d, t: progress.append((d, t)),
            )

    asyncio.run(run())

    assert sorted(received) == [0, 1, 2]
    assert [received[i].login_id for i in range(3)] == [good, bad, good]
    assert [received[i].ok for i in range(3)] == [True, False, True]
    assert received[1].error_code == "INVALID_LOGIN"
    assert sorted(progress) == [(1, 3), (2, 3), (3, 3)]


@respx.mock
def test_what_the_result_callback_raises_stops_the_fetch_and_is_raised_as_it_is():
    respx.post(f"{API}/Authorize").respond(json=AUTHORIZED)
    respx.post(f"{API}/GetAccountsDetail").respond(json=DETAIL)

    def full_disk(index: int, result: FetchResult) -> None:
        raise OSError(28, "No space left on device")

    async def run():
        async with FlinksClient(BASE, CUSTOMER, retry=FAST_RETRY, poll=FAST_POLL) as client:
            await client.fetch_each(["a", "b", "c"], full_disk, concurrency=1)

    with pytest.raises(OSError, match="No space left"):
        asyncio.run(run())


@respx.mock
def test_the_resource_returns_results_in_the_order_of_the_logins_whatever_order_they_finish():
    slow, quick = "slow-login", "quick-login"

    def authorize(request: httpx.Request) -> httpx.Response:
        login = orjson.loads(request.content)["LoginId"]
        return httpx.Response(200, json={**AUTHORIZED, "RequestId": f"req-{login}"})

    def detail(request: httpx.Request) -> httpx.Response:
        request_id = orjson.loads(request.content)["RequestId"]
        if request_id == f"req-{slow}":  # pending: finished only after a few polls
            return httpx.Response(202, json={**PENDING, "RequestId": request_id})
        return httpx.Response(200, json={**DETAIL, "RequestId": request_id})

    respx.post(f"{API}/Authorize").mock(side_effect=authorize)
    respx.post(f"{API}/GetAccountsDetail").mock(side_effect=detail)
    polls = itertools.count(1)
    respx.get(f"{API}/GetAccountsDetailAsync/req-{slow}").mock(
        side_effect=lambda _: (
            httpx.Response(200, json=DETAIL)
            if next(polls) % 3 == 0
            else httpx.Response(202, json=PENDING)
        )
    )
    flinks = FlinksResource(
        base_url=BASE, customer_id=CUSTOMER, concurrency=3, poll_interval_seconds=0.01
    )
    finished: list[int] = []

    flinks.fetch_each([slow, quick, quick], lambda index, _: finished.append(index))
    results = flinks.fetch_many([slow, quick, quick])

    assert finished[-1] == 0, "the slow login finishes last: the order below is restored"
    assert [r.login_id for r in results] == [slow, quick, quick]
    assert all(r.ok for r in results)


def test_unknown_days_of_transactions_is_refused_with_the_allowed_values():
    async def run():
        async with FlinksClient(BASE, CUSTOMER) as client:
            await client.accounts_detail(REQUEST_ID, days_of_transactions="Days30")

    with pytest.raises(ValueError, match="Days90"):
        asyncio.run(run())


ELSEWHERE = "https://collector.elsewhere.test"


@respx.mock
def test_a_redirect_to_another_host_is_refused_and_the_key_never_leaves_the_configured_host():
    authorize = respx.post(f"{API}/Authorize").respond(
        307, headers={"Location": f"{ELSEWHERE}/v3/{CUSTOMER}/BankingServices/Authorize?t=1"}
    )
    elsewhere = respx.route(host="collector.elsewhere.test").respond(json=AUTHORIZED)

    result = fetch(api_key="s3cret-key")

    assert elsewhere.call_count == 0
    assert authorize.call_count == 1, "a redirect is terminal: asking again cannot help"
    assert result.error_code == "REDIRECT_REFUSED"
    assert result.retryable is False
    assert "https://collector.elsewhere.test:443" in result.error_message
    assert "FLINKS_BASE_URL" in result.error_message
    assert "t=1" not in result.error_message, "only the origin of the Location is quoted"


@respx.mock
def test_a_server_echoing_the_key_in_its_error_does_not_put_the_key_in_the_result():
    def echo(request: httpx.Request) -> httpx.Response:
        key = request.headers["x-api-key"]
        return httpx.Response(
            403,
            json={"FlinksCode": "FORBIDDEN", "Message": f"key {key} is not allowed here"},
        )

    respx.post(f"{API}/Authorize").mock(side_effect=echo)

    result = fetch(api_key="s3cret-key")

    assert result.error_code == "FORBIDDEN"
    assert "s3cret-key" not in result.error_message
    assert "[REDACTED]" in result.error_message
    assert b"s3cret-key" not in result.payload, "the error body is what bronze stores"


@respx.mock
def test_a_non_json_error_page_echoing_the_key_is_scrubbed_before_it_is_cut():
    key = "k" * 100 + "-s3cret"
    respx.post(f"{API}/Authorize").respond(
        502, content=b"<html>bad gateway; request headers: x-api-key: " + key.encode()
    )

    result = fetch(api_key=key, retry=RetryPolicy(max_attempts=1))

    assert result.error_code == "HTTP_502"
    assert "k" * 40 not in result.error_message


@respx.mock
def test_a_key_with_a_trailing_newline_is_sent_trimmed():
    authorize = respx.post(f"{API}/Authorize").respond(json=AUTHORIZED)
    respx.post(f"{API}/GetAccountsDetail").respond(json=DETAIL)

    assert fetch(api_key="  s3cret-key\n").ok

    assert authorize.calls[0].request.headers["x-api-key"] == "s3cret-key"


@pytest.mark.parametrize("bad_key", ["s3cret\nkey", "s3cret\r\nX-Injected: 1", "s3crét-key"])
def test_a_key_no_header_can_carry_is_refused_without_echoing_it(bad_key):
    with pytest.raises(ValueError, match="FLINKS_API_KEY") as refused:
        FlinksClient(BASE, CUSTOMER, api_key=bad_key)

    assert "s3cr" not in str(refused.value)


def test_the_resource_never_shows_its_key():
    resource = FlinksResource(base_url=BASE, customer_id=CUSTOMER, api_key="s3cret-key")

    assert "s3cret-key" not in repr(resource)
    assert "s3cret-key" not in str(resource)
    assert resource.api_key == "s3cret-key"
