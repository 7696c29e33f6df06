"""Behind a proxy, limits are per client and shared by every gunicorn worker; https gets HSTS.

Two gunicorn processes serve one database, as two workers of one deployment do; every request comes as
nginx forwards it (X-Forwarded-For ending with the client's own address, whatever the client put first).
"""

from __future__ import annotations

import pytest

from tests.support.portal_server import fetch, served

SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture
def two_workers(app, database, tmp_path):
    environment = {"DATABASE_URL": database.url, "SECRET_KEY": SECRET, "PORTAL_INSTANCE_DIR": str(tmp_path),
                   "PORTAL_PROXY_HOPS": "1", "PORTAL_LINK_GUESS_RATE": "4 per minute",
                   "PORTAL_BASE_URL": "https://chisocchc.example.vn"}
    with served(environment) as first, served(environment) as second:
        yield first, second


def forwarded(client_address: str, claimed: str = "10.0.0.1", proto: str = "https") -> dict[str, str]:
    # nginx: proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for, i.e. what the client sent plus
    # the address nginx saw; only that last entry can be trusted.
    return {"X-Forwarded-For": f"{claimed}, {client_address}", "X-Forwarded-Proto": proto,
            "X-Forwarded-Host": "chisocchc.example.vn"}


def test_a_guessing_client_is_held_back_across_workers_other_clients_are_not_and_https_gets_hsts(two_workers):
    ports = list(two_workers)
    guesser, respondent = "198.51.100.1", "198.51.100.2"

    # Four wrong links, alternating between the workers, each claiming another address up front.
    first_four = [fetch(ports[n % 2], f"/phieu/{n + 1}.khongdung", headers=forwarded(guesser, f"10.0.0.{n}"))[0]
                  for n in range(4)]
    fifth = fetch(ports[0], "/phieu/9.khongdung", headers=forwarded(guesser, "10.0.0.99"))[0]
    on_the_other_worker = fetch(ports[1], "/phieu/9.khongdung", headers=forwarded(guesser))[0]
    other_client = [fetch(port, "/phieu/9.khongdung", headers=forwarded(respondent))[0] for port in ports]

    assert first_four == [404] * 4
    assert (fifth, on_the_other_worker) == (429, 429)
    assert other_client == [404, 404]

    # The same deployment: https as nginx saw it gets HSTS, plain http does not.
    _status, secure, _body = fetch(ports[0], "/dang-nhap", headers=forwarded("198.51.100.3"))
    _status, plain, _body = fetch(ports[0], "/dang-nhap", headers=forwarded("198.51.100.3", proto="http"))
    assert secure["strict-transport-security"] == "max-age=31536000"
    assert "strict-transport-security" not in plain
