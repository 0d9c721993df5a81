"""What a client of either app sees: real work, validation, JSON errors, a guarded reset."""

import json
import socket

import pytest
import requests
from extra_app import ExtraAppFactory

from leaklab.stack.process import free_port
from leaklab.stack.state import RunState

VARIANTS = ["leaky", "fixed"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_endpoints_do_real_work(state: RunState, variant: str) -> None:
    url = state.url(variant)
    product = requests.get(f"{url}/api/database", params={"id": 42}, timeout=5).json()
    assert product == {"id": 42, "name": "product 42", "price_cents": (42 * 7919) % 100000}

    first = requests.get(f"{url}/api/redis", params={"key": f"k-{variant}"}, timeout=5).json()
    second = requests.get(f"{url}/api/redis", params={"key": f"k-{variant}"}, timeout=5).json()
    assert second["value"] == first["value"] and second["hit"] is True

    assert requests.get(f"{url}/api/database", timeout=5).status_code == 200
    assert requests.get(f"{url}/api/redis", timeout=5).status_code == 200
    assert requests.get(f"{url}/health", timeout=5).json()["variant"] == variant
    ready = requests.get(f"{url}/ready", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgresql": "ok", "redis": "ok"}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/database", {"id": "abc"}),
        ("/api/database", {"id": "0"}),
        ("/api/database", {"id": "1001"}),
        ("/api/redis", {"key": "no spaces please"}),
        ("/api/redis", {"key": "x" * 65}),
    ],
)
def test_bad_parameters_get_a_400_with_a_json_message(
    state: RunState, path: str, params: dict[str, str]
) -> None:
    response = requests.get(f"{state.url('leaky')}{path}", params=params, timeout=5)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert "must" in response.json()["error"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/database", "id=%C2%B9"),  # superscript one: str.isdigit() says yes, int() no
        ("/api/database", "id=%C2%B2"),
        ("/api/database", "id=%E2%91%A0"),  # circled digit one
        ("/api/database", "id=%D9%A3"),  # Arabic-Indic three: int() accepts it
        ("/api/database", "id=" + "9" * 4000),  # Gunicorn refuses request lines over 4094 bytes
        ("/api/database", "id=%2042"),
        ("/api/database", "id=42%0A"),
        ("/api/database", "id=4%002"),
        ("/api/database", "id=+42"),
        ("/api/database", "id=4_2"),
        ("/api/database", "id="),
        ("/api/database", "id=1&id=2"),
        ("/api/database", "ID=1"),
        ("/api/redis", "key=a%00b"),
        ("/api/redis", "key=caf%C3%A9"),
        ("/api/redis", "key=a&key=b"),
        ("/api/redis", "key="),
        ("/health", "verbose=1"),
        ("/ready", "x"),
        ("/metrics", "name[]=leaklab_db_connections_open"),
    ],
)
def test_any_invalid_parameter_is_a_json_400_never_a_500(
    state: RunState, variant: str, path: str, query: str
) -> None:
    response = requests.get(f"{state.url(variant)}{path}?{query}", timeout=5)
    assert response.status_code == 400, response.text[:300]
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == 400 and len(body["error"]) < 300
    assert "Traceback" not in response.text


def test_unknown_paths_and_methods_answer_json(state: RunState) -> None:
    url = state.url("fixed")
    assert requests.get(f"{url}/nope", timeout=5).json()["status"] == 404
    assert requests.delete(f"{url}/api/database", timeout=5).status_code == 405


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 403), ({"Authorization": "Basic x"}, 401)],
)
def test_admin_reset_needs_the_token(state: RunState, headers: dict[str, str], status: int) -> None:
    response = requests.post(f"{state.url('leaky')}/admin/reset", headers=headers, timeout=5)
    assert response.status_code == status
    assert response.json()["error"]


def test_unreachable_backends_answer_503_without_their_addresses(
    extra_app: ExtraAppFactory,
) -> None:
    """/ready and the endpoints name the backend; host, port and error text go to the log."""
    pg_port, redis_port = free_port(), free_port()  # nothing listens there
    with extra_app(
        "fixed-no-backends",
        database_url=f"postgresql://leaklab:pw@127.0.0.1:{pg_port}/leaklab",
        redis_url=f"redis://:pw@127.0.0.1:{redis_port}/0",
    ) as app:
        ready = requests.get(f"{app.url}/ready", timeout=10)
        database = requests.get(f"{app.url}/api/database", timeout=10)
        cache = requests.get(f"{app.url}/api/redis", timeout=10)
        log = app.log.read_text()
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not ready",
        "checks": {"postgresql": "unavailable", "redis": "unavailable"},
    }
    assert database.status_code == cache.status_code == 503
    assert database.json() == {
        "error": "backend unavailable",
        "backend": "postgresql",
        "status": 503,
    }
    assert cache.json() == {"error": "backend unavailable", "backend": "redis", "status": 503}
    for response in (ready, database, cache):
        assert "127.0.0.1" not in response.text and str(pg_port) not in response.text
        assert str(redis_port) not in response.text
    assert f"port {pg_port} failed" in log and f"127.0.0.1:{redis_port}" in log


def _raw(url: str, request: bytes) -> tuple[int, str, str]:
    """Send bytes no HTTP library would; return the status, content type and body."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.decode("latin1").partition("\r\n\r\n")
    lines = head.split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers["Content-Type"], body


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: \x7f\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400),
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"BREW /health HTTP/1.1\r\nHost: x\r\n\r\n", 405),
    ],
    ids=["control character in a header", "space in a header name", "overlong line", "BREW"],
)
def test_requests_gunicorn_cannot_parse_get_json_too(
    state: RunState, variant: str, request_bytes: bytes, status: int
) -> None:
    """Gunicorn answers these itself, before Flask: it sent an HTML page."""
    got, content_type, body = _raw(state.url(variant), request_bytes)
    assert (got, content_type) == (status, "application/json"), body
    parsed = json.loads(body)
    assert parsed["status"] == status and parsed["error"] and len(body) < 400
