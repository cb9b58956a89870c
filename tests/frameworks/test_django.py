"""Django's ASGI handler (``get_asgi_application``) under ``bench serve``."""

from __future__ import annotations

import pytest

from .conftest import (
    DELAY,
    N_CHUNKS,
    assert_streamed,
    expected_chunks,
    server_fixture,
    timed_request,
)

# Chunks must arrive within PROMPT of being produced: alone on the machine under xdist.
pytestmark = [pytest.mark.timeout(30), pytest.mark.quiet]
server = server_fixture("django_app:application", warmup="/hello/")


def test_plain_view(server, client):
    response = client.get(server.url + "/hello/")
    assert response.status_code == 200
    assert response.text == "django ok GET /hello/"
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["x-framework"] == "django"
    assert response.headers["content-length"] == str(len(response.content))
    # CommonMiddleware's APPEND_SLASH redirect, and Django's own 404.
    redirect = client.get(server.url + "/hello")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "/hello/"
    assert client.get(server.url + "/nowhere/").status_code == 404


def test_async_json_view(server, client):
    response = client.get(server.url + "/items/7/", params={"q": "x y"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"item_id": 7, "q": "x y"}


def test_streaming_http_response_chunks_arrive_as_produced(server, client):
    timed = timed_request(client, "GET", f"{server.url}/stream/?n={N_CHUNKS}&delay={DELAY}")
    assert timed.response.status_code == 200
    assert timed.response.headers["content-type"] == "application/octet-stream"
    assert "content-length" not in timed.response.headers
    chunks = expected_chunks()
    assert timed.body == b"".join(chunks)
    assert_streamed(timed, chunks)


def test_admin_login_page(server, client):
    response = client.get(server.url + "/admin/login/")
    assert response.status_code == 200, response.text[:2000]
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert '<form action="/admin/login/" method="post" id="login-form">' in html
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "csrftoken" in response.cookies
    assert response.headers["content-length"] == str(len(response.content))


def test_admin_index_redirects_to_login(server, client):
    response = client.get(server.url + "/admin/")
    assert response.status_code == 302
    assert response.headers["location"] == "/admin/login/?next=/admin/"
