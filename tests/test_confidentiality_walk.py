"""Provinces and IT focal points never see answers: not in a page, a fragment, an export, an email or a log.

Hà Nội's survey is under way with free-text answers carrying a marker no other text has (submitted and
draft). Its province account and its IT focal point then try every route of the URL map (the isolation
matrix's list, with ids of their own province's rows, the answered person's above all), as a page and as an
HTMX fragment, GET and POST, and follow the links the pages offer (filters, exports); every body, every
spreadsheet cell, every email queued meanwhile and every log line is searched for the marker.
"""

from __future__ import annotations

import logging
import re
from collections import deque

import pytest
from sqlmodel import select

from portal.domain.campaigns import current_campaign
from portal.models import Answer, Notice, OutboxMessage, User
from tests.support.accounts import HA_NOI, log_in
from tests.support.survey import answer, complete_answers, form_def, launch_survey
from tests.test_isolation import ARGUMENT_MAKERS, POST_FORM, ROUTES
from tests.test_terms import links, readable

MARKER = "BiMat-7f3a9c-ykien"
MAX_PAGES_PER_SHAPE = 2


def _arguments(session, user: User, survey, names: set[str]) -> dict:
    """A value for each URL argument, naming the user's own province's rows: the answered person above all."""
    person = survey.of_group("LD_SO")
    values = {"invitation_id": person.invitation.id, "respondent_id": person.respondent.id, "province_id": HA_NOI,
              "campaign_id": current_campaign(session).id, "user_id": user.id, "form_code": "DP-LDSO"}
    for name in sorted(names - set(values)):
        values[name] = ARGUMENT_MAKERS[name](session, user)  # made for the user's own province
    return values


def _found_in(response) -> bool:
    body = response.get_data()
    text = readable(response) if response.status_code == 200 else None
    return MARKER.encode() in body or (text is not None and MARKER in text)


@pytest.mark.parametrize("role", ["province_user", "it_focal_user"])
def test_a_province_and_its_it_focal_point_see_no_answer_anywhere(request, app, session, ministry_user, role,
                                                                 during_survey, caplog):
    user = request.getfixturevalue(role)
    survey = launch_survey(app, session, ministry_user, HA_NOI, per_group=1)
    person = survey.of_group("LD_SO")
    submitted, draft = form_def(session, "DP-LDSO"), form_def(session, "BO-LD")
    answer(app, session, person, submitted.code, raw=complete_answers(submitted, text=MARKER))
    answer(app, session, person, draft.code, raw=complete_answers(draft, text=MARKER), submit=False)
    stored = session.exec(select(Answer.answers)).all()
    assert sum(MARKER in document for document in stored) == 2  # the answers are there to be found
    assert MARKER in app.test_client().get(person.form_url(draft.code)).get_data(as_text=True)

    client = app.test_client()
    log_in(client, user)
    caplog.set_level(logging.INFO)
    leaks, tried = [], 0
    # Logging out would end the walk; the survey is the respondent's own (behind the token); our static files
    # hold no answers; the demo mailbox answers 404 outside demo mode.
    routes = [(endpoint, method, arguments) for endpoint, method, _rule, arguments in ROUTES
              if endpoint != "auth.logout" and not endpoint.startswith(("survey.", "assets.", "demo_mail."))]
    values = _arguments(session, user, survey, {name for *_, arguments in routes for name in arguments})
    build = app.url_map.bind("localhost").build
    queue: deque[tuple[str, str]] = deque(
        (method, build(endpoint, {name: values[name] for name in arguments})) for endpoint, method, arguments in routes)
    seen: set[tuple[str, str]] = set()
    shapes: dict[str, int] = {}
    while queue:
        method, url = queue.popleft()
        shape = re.sub(r"\d+", "N", url.split("?")[0])
        if (method, url) in seen or shapes.get(f"{method} {shape}", 0) >= MAX_PAGES_PER_SHAPE:
            continue
        seen.add((method, url))
        shapes[f"{method} {shape}"] = shapes.get(f"{method} {shape}", 0) + 1
        for headers in ({}, {"HX-Request": "true"}):
            response = client.open(url, method=method, headers=headers, data=POST_FORM if method == "POST" else None)
            tried += 1
            if _found_in(response):
                leaks.append(f"{method} {url} {headers}")
        if method == "GET" and response.mimetype == "text/html":
            page = client.get(url)
            queue.extend(("GET", link) for link in links(page.get_data(as_text=True), f"http://localhost{url}")
                         if not link.startswith(("/dang-xuat", "/phieu/")))

    mails = session.exec(select(OutboxMessage)).all()
    leaks += [f"email {m.kind} to {m.to_addr}" for m in mails
              if MARKER in f"{m.subject}{m.body_text}{m.body_html}"]
    leaks += [f"notice {n.title}" for n in session.exec(select(Notice)).all() if MARKER in f"{n.title}{n.body}"]
    leaks += [f"log: {line}" for line in caplog.text.splitlines() if MARKER in line]
    assert tried >= 150
    assert leaks == []
