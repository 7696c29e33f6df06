"""CSRF on every state-changing route of the URL map: no token, a 400 and nothing done; the page's token, through.

The walk reads the app's URL map, so a route added later is walked too. The survey blueprint is the one
exemption: a respondent has no session, and the personal link in the URL is the secret a forger lacks.
"""

from __future__ import annotations

import pytest
from werkzeug.routing import Rule

from portal.models import User
from tests.support.accounts import log_in
from tests.support.html import csrf_token

EXEMPT = {"survey.form", "survey.submit"}

# Who may post to each area, so that a valid token meets the view itself rather than the login page.
_ROLE_BY_PREFIX = (
    ("/bo/", "ministry_user"),
    ("/de-nghi/<int:request_id>/", "ministry_user"),
    ("/dau-moi-cntt/", "it_focal_user"),
    ("/dang-nhap", None),
)


def post_routes(app) -> list[Rule]:
    return sorted((rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())),
                  key=lambda rule: rule.rule)


def url_of(app, rule: Rule) -> str:
    """The rule's URL with 1 for each part (any converter takes it; ids that need not exist: the view may say 404)."""
    values = dict.fromkeys(rule.arguments, 1)
    with app.test_request_context():
        return app.url_map.bind("localhost").build(rule.endpoint, values)


def user_for(rule: Rule, request) -> User | None:
    for prefix, fixture in _ROLE_BY_PREFIX:
        if rule.rule.startswith(prefix):
            return None if fixture is None else request.getfixturevalue(fixture)
    return request.getfixturevalue("province_user")


def client_for(app, user: User | None, *, with_token: bool):
    """A fresh client (one per route: a logout must not end the next route's session) and its form token."""
    client = app.test_client()
    token = csrf_token(client.get("/dang-nhap").get_data(as_text=True)) if with_token else None
    if user is not None:
        log_in(client, user)
    return client, token


@pytest.fixture
def app_config(app_config):
    return {**app_config, "WTF_CSRF_ENABLED": True}


def test_every_post_route_but_the_personal_links_refuses_a_post_without_token_with_the_expired_session_page(
        app, request):
    routes = post_routes(app)
    assert len(routes) >= 27, [rule.rule for rule in routes]
    let_through = set()
    for rule in routes:
        client, _ = client_for(app, user_for(rule, request), with_token=False)
        response = client.post(url_of(app, rule), data={"note": "x"})
        body = response.get_data(as_text=True)
        if response.status_code != 400 or "Phiên làm việc đã hết hạn" not in body:
            let_through.add(rule.endpoint)
    assert let_through == EXEMPT


def test_every_post_route_with_the_pages_token_gets_past_the_csrf_check(app, request):
    routes = [rule for rule in post_routes(app) if rule.endpoint not in EXEMPT]
    wrong = {}
    for rule in routes:
        client, token = client_for(app, user_for(rule, request), with_token=True)
        response = client.post(url_of(app, rule), data={"csrf_token": token})
        if response.status_code == 400 or "Phiên làm việc đã hết hạn" in response.get_data(as_text=True):
            wrong[rule.rule] = response.status_code
    assert wrong == {}
