"""What a client sees when the app itself fails: JSON, never a traceback (no servers needed)."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

from leaklab.settings import AppSettings
from webapp import create_app

NOWHERE = AppSettings(
    variant="fixed",
    database_url="postgresql://leaklab:secret@127.0.0.1:9/leaklab",
    redis_url="redis://:secret@127.0.0.1:9/0",
    app_name="leaklab-unit",
)


@pytest.fixture
def app() -> Flask:
    app = create_app(NOWHERE)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("internal state 0xdeadbeef")

    return app


def test_an_unexpected_error_is_a_json_500_and_its_traceback_is_logged(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.is_json and response.get_json()["status"] == 500
    assert "0xdeadbeef" not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert any(r.exc_info and "0xdeadbeef" in str(r.exc_info[1]) for r in caplog.records)


def test_a_failure_after_the_view_is_still_a_json_500(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    """A teardown that raises escapes Flask's handlers; Gunicorn would answer with HTML."""

    @app.teardown_request
    def broken(exc: BaseException | None) -> None:
        raise RuntimeError("teardown broke")

    answers: list[tuple[str, dict[str, str]]] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> None:
        answers.append((status, dict(headers)))  # as Gunicorn: headers not sent yet, replaced

    with caplog.at_level(logging.ERROR):
        body = b"".join(app(EnvironBuilder(path="/health").get_environ(), start_response))
    status, headers = answers[-1]
    assert status.startswith("500") and headers["Content-Type"] == "application/json"
    assert json.loads(body)["status"] == 500 and b"teardown" not in body
    assert any("teardown broke" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_the_backend_503s_name_the_backend_not_its_address(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = app.test_client()
    with caplog.at_level(logging.WARNING):
        database = client.get("/api/database?id=1")
        cache = client.get("/api/redis?key=k")
        ready = client.get("/ready")
    assert (database.status_code, cache.status_code, ready.status_code) == (503, 503, 503)
    assert database.get_json() == {
        "error": "backend unavailable",
        "backend": "postgresql",
        "status": 503,
    }
    assert cache.get_json() == {"error": "backend unavailable", "backend": "redis", "status": 503}
    assert ready.get_json()["checks"] == {"postgresql": "unavailable", "redis": "unavailable"}
    for response in (database, cache, ready):
        assert "127.0.0.1" not in response.get_data(as_text=True)
    logged = caplog.text
    assert "port 9" in logged and "127.0.0.1:9" in logged  # the details are in the log
