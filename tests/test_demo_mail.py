""""Hộp thư thử nghiệm" (portal/demo_mail) and the local mail sink it reads (portal/mailsink.py)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from portal import mailsink
from portal.domain import outbox
from tests.support.accounts import log_in
from tests.support.html import text_of
from tests.support.outbox import SUBJECT, queue
from tests.support.smtp import MAIL_DOMAIN, free_port


@pytest.fixture
def maildir(tmp_path):
    return tmp_path / "demo-mail"


@pytest.fixture
def sink(maildir):
    controller = mailsink.start_sink(maildir, port=free_port())
    try:
        yield controller
    finally:
        controller.stop()


@pytest.fixture
def app_config(app_config, maildir, sink):
    return {**app_config, "PORTAL_DEMO": True, "PORTAL_DEMO_MAILDIR": str(maildir),
            "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": sink.port, "MAIL_SUPPRESS_SEND": False,
            "PORTAL_MAIL_DOMAIN": MAIL_DOMAIN, "PORTAL_BOUNCE_ADDRESS": f"bounces@{MAIL_DOMAIN}",
            "PORTAL_MAIL_RATE": 0.0}


def send_plain(port: int, to: str, subject: str, text: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "khaosat@chisocchc.gov.vn", to, subject
    message.set_content(text)
    with smtplib.SMTP("127.0.0.1", port) as host:
        host.send_message(message, from_addr=f"bounces+abc@{MAIL_DOMAIN}")


def test_the_sink_files_each_message_in_the_maildir_with_its_envelope_sender(app, session, sink, maildir):
    [row] = queue(session, 1, to="huong@hanoi.gov.vn")
    outbox.run_once(app, "test:1", limit=10)

    [caught] = mailsink.caught_messages(maildir)
    assert (caught.to, caught.subject) == ("huong@hanoi.gov.vn", row.subject)
    assert caught.envelope_from == f"bounces+{row.bounce_token}@{MAIL_DOMAIN}"
    full = mailsink.caught_message(maildir, caught.key)
    assert "http://localhost/phieu/1.abc" in full.text and full.html.strip() == row.body_html


def test_the_mailbox_lists_caught_mail_newest_first(app, client, session, sink, ministry_user):
    queue(session, 2)
    outbox.run_once(app, "test:1", limit=10)
    log_in(client, ministry_user)

    page = client.get("/hop-thu-thu-nghiem/").get_data(as_text=True)

    assert "Hộp thư thử nghiệm" in page
    assert page.count("nguoi") == 2
    newest = mailsink.caught_messages(app.config["PORTAL_DEMO_MAILDIR"])[0]
    assert page.index(newest.to) < page.index({"nguoi1@hanoi.gov.vn", "nguoi2@hanoi.gov.vn"}.difference(
        {newest.to}).pop())


def test_a_message_shows_its_text_escaped_with_clickable_links_and_its_html_only_in_a_sandbox(
        app, client, sink, ministry_user):
    send_plain(sink.port, "huong@hanoi.gov.vn", "Phiếu khảo sát: mời trả lời",
               "Kính gửi <b>bà</b> Hương,\nMở https://chisocchc.gov.vn/phieu/7.AbC_d-9. Cảm ơn.\n"
               '<script>alert("x")</script>\n')
    key = mailsink.caught_messages(app.config["PORTAL_DEMO_MAILDIR"])[0].key
    log_in(client, ministry_user)

    page = client.get(f"/hop-thu-thu-nghiem/{key}").get_data(as_text=True)

    assert "<h1>Phiếu khảo sát: mời trả lời</h1>" in page
    link = "https://chisocchc.gov.vn/phieu/7.AbC_d-9"
    assert f'<a href="{link}">{link}</a>. Cảm ơn.' in page
    assert "Kính gửi &lt;b&gt;bà&lt;/b&gt; Hương" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "<iframe" not in page  # no HTML part in this message


def test_the_html_part_is_served_alone_under_a_csp_sandbox(app, client, session, sink, ministry_user):
    queue(session, 1)
    outbox.run_once(app, "test:1", limit=10)
    key = mailsink.caught_messages(app.config["PORTAL_DEMO_MAILDIR"])[0].key
    log_in(client, ministry_user)

    page = client.get(f"/hop-thu-thu-nghiem/{key}").get_data(as_text=True)
    part = client.get(f"/hop-thu-thu-nghiem/{key}/html")

    assert f'sandbox src="/hop-thu-thu-nghiem/{key}/html"' in page
    assert "<p>Kính gửi ông/bà số 1</p>" not in page  # never inline in our page
    assert part.status_code == 200 and part.mimetype == "text/html"
    assert part.headers["Content-Security-Policy"].startswith("sandbox; default-src 'none'")
    assert part.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "<p>Kính gửi ông/bà số 1</p>" in part.get_data(as_text=True)


def test_unknown_or_crafted_message_keys_are_not_found(client, sink, ministry_user):
    log_in(client, ministry_user)

    for path in ("/hop-thu-thu-nghiem/1234.M1P1Q1.host", "/hop-thu-thu-nghiem/..%2F..%2Fsecret_key",
                 "/hop-thu-thu-nghiem/nope/html"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "<h1>Không tìm thấy trang</h1>" in response.get_data(as_text=True), path


def test_the_list_polls_and_gets_no_content_while_nothing_new_arrived(app, client, session, sink, ministry_user):
    queue(session, 1)
    outbox.run_once(app, "test:1", limit=10)
    latest = mailsink.caught_messages(app.config["PORTAL_DEMO_MAILDIR"])[0].key
    log_in(client, ministry_user)

    unchanged = client.get(f"/hop-thu-thu-nghiem/?sau={latest}", headers={"HX-Request": "true"})
    changed = client.get("/hop-thu-thu-nghiem/?sau=older", headers={"HX-Request": "true"})

    assert unchanged.status_code == 204
    fragment = changed.get_data(as_text=True)
    assert changed.status_code == 200 and fragment.startswith('<div id="caught"') and "<html" not in fragment
    assert f"sau={latest}" in fragment


def test_an_empty_mailbox_says_how_mail_gets_there(client, ministry_user):
    log_in(client, ministry_user)

    page = client.get("/hop-thu-thu-nghiem/").get_data(as_text=True)

    assert "Chưa có thư nào." in page and "portal mail-sink" in page


@pytest.mark.parametrize("path", ["/hop-thu-thu-nghiem/", "/hop-thu-thu-nghiem/1234.M1P1Q1.host",
                                  "/hop-thu-thu-nghiem/1234.M1P1Q1.host/html"])
def test_outside_demo_mode_the_mailbox_does_not_exist(app, client, ministry_user, path):
    app.config["PORTAL_DEMO"] = False
    log_in(client, ministry_user)

    response = client.get(path)

    assert response.status_code == 404
    assert "<h1>Không tìm thấy trang</h1>" in response.get_data(as_text=True)


def test_in_demo_mode_a_visitor_without_an_account_can_open_the_mailbox(app, client, session, sink):
    queue(session, 1)
    outbox.run_once(app, "test:1", limit=10)
    key = mailsink.caught_messages(app.config["PORTAL_DEMO_MAILDIR"])[0].key

    mailbox, message, part = (client.get(path) for path in (
        "/hop-thu-thu-nghiem/", f"/hop-thu-thu-nghiem/{key}", f"/hop-thu-thu-nghiem/{key}/html"))

    assert (mailbox.status_code, message.status_code, part.status_code) == (200, 200, 200)
    assert "<h1>Hộp thư thử nghiệm</h1>" in mailbox.get_data(as_text=True)
    assert "nguoi1@hanoi.gov.vn" in mailbox.get_data(as_text=True)
    assert f"<h1>{SUBJECT}</h1>" in message.get_data(as_text=True)
    assert "Kính gửi ông/bà số 1" in text_of(message.get_data(as_text=True))
    assert "<p>Kính gửi ông/bà số 1</p>" in part.get_data(as_text=True)


def test_text_with_links_keeps_every_character_and_stops_addresses_at_punctuation():
    from portal.demo_mail.routes import text_with_links

    text = "Xem (http://a.vn/x?y=1&z=2), rồi https://b.vn/phieu/3.QwE.\nHết"

    pieces = text_with_links(text)

    assert "".join(piece for piece, _ in pieces) == text
    assert [piece for piece, is_link in pieces if is_link] == ["http://a.vn/x?y=1&z=2", "https://b.vn/phieu/3.QwE"]


def test_the_mail_sink_command_catches_mail_into_the_maildir_and_stops_on_sigterm(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    port, folder = free_port(), tmp_path / "caught"
    env = {**os.environ, "PORTAL_INSTANCE_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
           "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789"}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "portal", "mail-sink", "--port", str(port),
         "--maildir", str(folder)],
        cwd=Path(__file__).resolve().parent.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                send_plain(port, "huong@hanoi.gov.vn", "Thư thử", "Nội dung thử\n")
                break
            except ConnectionRefusedError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read().decode()
                time.sleep(0.1)

        [caught] = mailsink.caught_messages(folder)
        assert (caught.to, caught.subject, caught.envelope_from) == (
            "huong@hanoi.gov.vn", "Thư thử", f"bounces+abc@{MAIL_DOMAIN}")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert "127.0.0.1:" in process.stdout.read().decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
