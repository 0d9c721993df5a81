"""What a client of either app sees: real work, validation, JSON errors, a guarded reset."""

import pytest
import requests

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
