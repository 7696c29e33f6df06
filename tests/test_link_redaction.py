"""Respondents' links never logged in full: gunicorn's access and error logs, the application log, tracebacks,
error pages, the audit log; survey pages are never cached nor sent as a Referer."""

from __future__ import annotations

import logging

from sqlmodel import select

from portal.domain import answers, audit
from portal.log_redaction import redact_links
from portal.models import AuditEntry
from tests.support.portal_server import fetch, served
from tests.support.survey import launch_survey

SECRET = "test-secret-key-that-is-long-enough-0123456789"


def test_the_token_of_every_respondent_link_is_redacted_and_the_rest_kept():
    line = ('127.0.0.1 "GET /phieu/17.kT3x-9_aQ/DP-LDSO/gui HTTP/1.1" 303 "https://cchc.gov.vn/phieu/17.kT3x-9_aQ" '
            "next=%2Fphieu%2F17.kT3x-9_aQ%2FDP-LDSO")

    assert redact_links(line) == ('127.0.0.1 "GET /phieu/***/DP-LDSO/gui HTTP/1.1" 303 "https://cchc.gov.vn/phieu/***" '
                                  "next=%2Fphieu%2F***%2FDP-LDSO")
    assert redact_links("/khao-sat/tien-do?trang=2") == "/khao-sat/tien-do?trang=2"


def test_gunicorn_logs_no_respondent_link(app, session, ministry_user, during_survey, database, tmp_path):
    person = launch_survey(app, session, ministry_user, per_group=1).invitations[0]
    access, errors = tmp_path / "access.log", tmp_path / "error.log"
    environment = {"DATABASE_URL": database.url, "SECRET_KEY": SECRET, "PORTAL_INSTANCE_DIR": str(tmp_path),
                   "PORTAL_BASE_URL": "http://localhost", "RATELIMIT_ENABLED": "false"}
    with served(environment, options=("--access-logfile", str(access), "--error-logfile", str(errors),
                                      "--log-level", "info")) as port:
        statuses = [fetch(port, path, headers={"Referer": f"http://localhost{person.url}"})[0]
                    for path in (person.url, person.form_url(person.form_codes[0]), f"{person.url}x")]

    logged = access.read_text(encoding="utf-8")
    assert statuses[2] == 404 and logged.count("/phieu/***") >= 6  # request lines and referrers
    assert person.token not in logged + errors.read_text(encoding="utf-8")
    assert person.token.split(".")[1] not in logged


def test_a_failing_survey_page_logs_and_shows_no_link(app, client, session, ministry_user, during_survey,
                                                      monkeypatch, caplog):
    person = launch_survey(app, session, ministry_user, per_group=1).invitations[0]

    def broken(*_args, **_kwargs):
        raise RuntimeError(f"cannot save for {person.url}")

    monkeypatch.setattr(answers, "save_draft", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    with caplog.at_level(logging.ERROR):
        response = client.post(person.form_url(person.form_codes[0]), data={"action": "save"})

    assert response.status_code == 500
    assert person.token not in response.get_data(as_text=True)
    assert caplog.records, "the failure is logged"
    logged = "\n".join(caplog.text.splitlines() + [r.exc_text or "" for r in caplog.records])
    assert "/phieu/***" in logged and person.token not in logged


def test_the_audit_log_keeps_a_link_quoted_in_a_detail_redacted(app, session, ministry_user):
    audit.record(session, ministry_user, "Gửi lại thư mời", detail="liên kết http://localhost/phieu/5.AbCdEf-12/DP",
                 reason="người nhận báo /phieu/5.AbCdEf-12 không mở được")
    session.commit()

    entry = session.exec(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.detail, entry.reason) == ("liên kết http://localhost/phieu/***/DP",
                                            "người nhận báo /phieu/*** không mở được")


def test_survey_pages_are_never_stored_nor_sent_as_referer(app, client, session, ministry_user, during_survey):
    person = launch_survey(app, session, ministry_user, per_group=1).invitations[0]
    code = person.form_codes[0]

    for url, status in ((person.url, 200), (person.form_url(code), 200), (f"{person.form_url(code)}/cam-on", 303),
                        (f"{person.url}x", 404)):
        response = client.get(url)
        assert response.status_code == status, url
        assert response.headers["Cache-Control"] == "no-store", url
        assert response.headers["Referrer-Policy"] == "no-referrer", url
