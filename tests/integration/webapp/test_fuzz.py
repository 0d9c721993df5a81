"""Generated input to every endpoint of both apps: never a 5xx but the documented JSON 503.

Property-based (hypothesis): parameter names and values from any Unicode text, raw bytes
that are not UTF-8, repeats, missing '=', odd paths and methods, and random tokens for
the admin endpoint. Issue #12 found a 500 that one Unicode digit caused.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leaklab.stack.state import RunState

VARIANTS = ("leaky", "fixed")
EXAMPLES = 250  # per test and app: 1,500 generated requests in all

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis directory in the user's clone
    suppress_health_check=[HealthCheck.too_slow],
)

names = st.sampled_from(["id", "key", "ID", "Id", "id[]", "", "verbose", "name[]"]) | st.text(
    max_size=12
)
raw_bytes = st.binary(min_size=1, max_size=8).map(lambda b: "".join(f"%{x:02X}" for x in b))
values = (
    st.text(max_size=24).map(lambda t: quote(t, safe=""))
    | st.from_regex(r"[0-9]{1,6}", fullmatch=True)
    | st.from_regex(r"[A-Za-z0-9_:.-]{1,70}", fullmatch=True)
    | raw_bytes
    | st.sampled_from(["%C2%B9", "%E2%91%A0", "%D9%A3", "+42", "4_2", " 42", "42\n", "-1", "0"])
)
pair = st.tuples(names.map(lambda n: quote(n, safe="")), st.none() | values).map(
    lambda p: p[0] if p[1] is None else f"{p[0]}={p[1]}"
)
queries = st.lists(pair, max_size=4).map("&".join)


def _check(response: requests.Response) -> None:
    """What a client may get: success, a JSON 4xx, or the documented JSON 503."""
    status = response.status_code
    assert status < 500 or status == 503, (status, response.text[:300])
    assert "Traceback" not in response.text
    if status >= 400 and response.request.method != "HEAD":
        assert response.headers["Content-Type"] == "application/json", response.text[:300]
        body = response.json()
        assert body["status"] == status and body["error"]
        if status == 503:  # a limit or a backend, named
            assert {"resource", "backend"} & set(body), body


def _report(test: str, variant: str, sent: int) -> None:
    print(f"fuzz: {test} on {variant}: {sent} generated requests")  # shown with -s
    assert sent >= EXAMPLES * 0.9  # hypothesis ran the cases it was asked for


@pytest.mark.parametrize("variant", VARIANTS)
def test_any_query_string_on_any_endpoint(state: RunState, variant: str) -> None:
    sent = 0

    @FUZZ
    @given(
        path=st.sampled_from(["/api/database", "/api/redis", "/health", "/ready", "/metrics"]),
        query=queries,
    )
    def one(path: str, query: str) -> None:
        nonlocal sent
        sent += 1
        _check(requests.get(f"{state.url(variant)}{path}?{query}", timeout=15))

    one()
    _report("query strings", variant, sent)


@pytest.mark.parametrize("variant", VARIANTS)
def test_any_method_on_any_path(state: RunState, variant: str) -> None:
    sent = 0

    @FUZZ
    @given(
        method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]),
        path=st.sampled_from(["/api/database", "/api/redis", "/health", "/admin/reset"])
        | st.text(min_size=1, max_size=20).map(lambda t: "/" + quote(t, safe="/")),
    )
    def one(method: str, path: str) -> None:
        nonlocal sent
        sent += 1
        response = requests.request(method, f"{state.url(variant)}{path}", timeout=15)
        if method == "POST" and path == "/admin/reset":
            assert response.status_code == 401  # no token, no reset
        _check(response)

    one()
    _report("methods and paths", variant, sent)


@pytest.mark.parametrize("variant", VARIANTS)
def test_any_authorization_header_on_the_reset(state: RunState, variant: str) -> None:
    sent = 0
    latin1 = st.characters(min_codepoint=0x20, max_codepoint=0xFF)

    @FUZZ
    @given(authorization=st.text(alphabet=latin1, max_size=80).map(str.strip))
    def one(authorization: str) -> None:
        nonlocal sent
        sent += 1
        response = requests.post(
            f"{state.url(variant)}/admin/reset",
            headers={"Authorization": authorization},
            timeout=15,
        )
        assert response.status_code in (400, 401, 403), (authorization, response.text[:200])
        _check(response)

    one()
    _report("admin tokens", variant, sent)
