"""Bounce intake (portal.domain.bounces.intake and its sources) on SQLite and PostgreSQL.

Each of the 74 real-world samples in tests/data/bounces is given an outbox message of its own (an invitation
to one respondent, sent), is dropped into a Maildir, and the intake must leave each invitation as the manifest
says: permanent -> bounced, temporary -> delayed, nothing readable -> untouched and kept aside.
"""

from __future__ import annotations

import mailbox
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from config import Config, ConfigError
from portal import jobs
from portal.domain import bounces, outbox
from portal.domain.bounce_parsing import parse_bounce
from portal.domain.bounces import IntakeResult, intake, read_imap, read_maildir
from portal.domain.campaigns import current_campaign
from portal.models import BounceMessage, Invitation, OutboxMessage, QuestionnaireVersion, Respondent, RespondentList
from tests.domain.test_bounces import SAMPLES, Sample
from tests.support.accounts import HA_NOI, HAI_PHONG
from tests.support.certificates import make_certificates
from tests.support.ci import skip_unless_ci
from tests.support.smtp import free_port

MAIL_DOMAIN = "chisocchc.gov.vn"
NOW = datetime(2021, 12, 20, 3, 0, tzinfo=UTC)
SENT_AT = NOW - timedelta(days=1)
STATE = {"permanent": "bounced", "temporary": "delayed", "unparsed": "sent"}

# Written by hand: a DSN cut off in the middle of its delivery-status part, with a stray NUL byte
# (PostgreSQL refuses NUL in text, so the kept copy must do without it).
MALFORMED = (b"From: MAILER-DAEMON@mx.hanoi.gov.vn\nTo: bounces@chisocchc.gov.vn\nSubject: Undelivered\n"
             b"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"XYZ\"\n\n"
             b"--XYZ\nContent-Type: text/plain\n\nThis is the mail sys\x00tem at host mx.hanoi.gov.vn.\n\n"
             b"--XYZ\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.han")


@pytest.fixture
def app_config(app_config):
    return {**app_config, "PORTAL_MAIL_DOMAIN": MAIL_DOMAIN, "PORTAL_BOUNCE_ADDRESS": f"bounces@{MAIL_DOMAIN}",
            "PORTAL_BOUNCE_MAILDIR": None, "PORTAL_BOUNCE_IMAP_HOST": None}


@dataclass
class Sent:
    """One sent outbox message and the invitation it belongs to."""

    outbox_id: int
    invitation_id: int
    bounce_token: str
    message_id: str


class Survey:
    """A province's list and questionnaire, to which respondents with sent invitations are added."""

    def __init__(self, session: Session, province_id: int = HA_NOI, version: QuestionnaireVersion | None = None
                 ) -> None:
        self.session = session
        self.province_id = province_id
        campaign = current_campaign(session)
        self.campaign_id = campaign.id
        self.list = RespondentList(campaign_id=campaign.id, province_id=province_id, status="sent")
        self.version = version or QuestionnaireVersion(campaign_id=campaign.id, version=1, title="Bộ phiếu mẫu",
                                                       document="{}")
        session.add_all([self.list, self.version])
        session.commit()
        self.count = 0

    def invite(self, to_addr: str) -> int:
        self.count += 1
        person = Respondent(list_id=self.list.id, province_id=self.province_id, row_number=self.count,
                            full_name=f"Người trả lời {self.count}", email=to_addr)
        self.session.add(person)
        self.session.flush()
        invitation = Invitation(respondent_id=person.id, campaign_id=self.campaign_id, province_id=self.province_id,
                                questionnaire_version_id=self.version.id, nonce=f"{self.count:032d}",
                                form_codes="P1")
        self.session.add(invitation)
        self.session.commit()
        return invitation.id

    def send(self, to_addr: str, *, invitation_id: int | None = None, message_id: str | None = None,
             sent_at: datetime = SENT_AT) -> Sent:
        """An invitation email to `to_addr`, sent (its invitation shows "sent")."""
        if invitation_id is None:
            invitation_id = self.invite(to_addr)
        row = outbox.enqueue(self.session, kind="invitation", to_addr=to_addr, subject="Mời trả lời phiếu",
                             body_text="Kính gửi ông/bà", invitation_id=invitation_id,
                             province_id=self.province_id, mail_domain=MAIL_DOMAIN, now=sent_at)
        if message_id is not None:
            row.message_id = message_id
        self.session.commit()
        outbox.record_outcome(self.session, row.id, "sent", "250 2.0.0 Ok: queued", sent_at)
        self.session.commit()
        return Sent(row.id, invitation_id, row.bounce_token, row.message_id)


@pytest.fixture
def survey(session) -> Survey:
    return Survey(session)


def with_to(raw: bytes, address: str) -> bytes:
    """The sample as it would reach our VERP address: its To: header replaced (folded lines included)."""
    head, separator, body = raw.partition(b"\n\n")
    lines = head.split(b"\n")
    kept: list[bytes] = []
    skipping = False
    for line in lines:
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line.lower().startswith(b"to:")
        if not skipping:
            kept.append(line)
    kept.append(b"To: " + address.encode())
    return b"\n".join(kept) + separator + body


def fill_maildir(path: Path, messages: list[bytes]) -> mailbox.Maildir:
    box = mailbox.Maildir(path, create=True)
    for raw in messages:
        box.add(raw)
    return box


def invitation_states(session: Session) -> dict[int, str]:
    session.expire_all()
    return {row.id: row.delivery_status for row in session.exec(select(Invitation))}


def outbox_states(session: Session) -> dict[int, str]:
    session.expire_all()
    return {row.id: row.status for row in session.exec(select(OutboxMessage))}


def stored(session: Session) -> list[BounceMessage]:
    session.expire_all()
    return list(session.exec(select(BounceMessage).order_by(BounceMessage.id)))


def first_address(sample: Sample) -> str:
    return sample.addresses[0] if sample.addresses else f"khong-ro-{sample.file}@hanoi.gov.vn"


# ---------------------------------------------------------------- the real-world samples, by VERP


def test_every_sample_from_a_maildir_marks_its_own_invitation_as_the_manifest_says(session, survey, tmp_path):
    sent = {sample.file: survey.send(first_address(sample)) for sample in SAMPLES}
    maildir = tmp_path / "bounces"
    fill_maildir(maildir, [with_to(sample.raw, f"bounces+{sent[sample.file].bounce_token}@{MAIL_DOMAIN}")
                           for sample in SAMPLES] + [MALFORMED])

    result = intake(session, read_maildir(maildir), now=NOW)

    assert result == IntakeResult(processed=75, permanent=65, temporary=6, unmatched=0, unparsed=4, duplicates=0)
    invitations, messages = invitation_states(session), outbox_states(session)
    rows = {row.outbox_id: row for row in stored(session)}
    mismatches = []
    for sample in SAMPLES:
        item = sent[sample.file]
        expected = STATE[sample.expected_kind]
        row = rows[item.outbox_id]
        if (invitations[item.invitation_id], messages[item.outbox_id], row.kind) != (
                expected, expected, sample.expected_kind):
            mismatches.append(sample.file)
        assert row.province_id == HA_NOI and row.explanation
        assert row.addresses == ", ".join(sorted(sample.addresses))
        assert (row.raw != "") == (sample.expected_kind == "unparsed")  # kept only when not understood
    assert mismatches == []

    malformed = [row for row in stored(session) if row.outbox_id is None]
    assert len(malformed) == 1 and malformed[0].kind == "unparsed"
    assert malformed[0].raw.startswith("From: MAILER-DAEMON@mx.hanoi.gov.vn") and "\x00" not in malformed[0].raw
    assert bounces.unmatched_count(session) == 4

    # Every message was filed as seen; new/ is empty.
    assert os.listdir(maildir / "new") == []
    assert sorted(name.rsplit(":", 1)[1] for name in os.listdir(maildir / "cur")) == ["2,S"] * 75


def test_a_bounce_tells_the_invitation_the_reason_and_the_plain_explanation(session, survey):
    item = survey.send("userx@example.com")
    raw = with_to(_sample("dsn_14.txt"), f"bounces+{item.bounce_token}@{MAIL_DOMAIN}")

    intake(session, [("dsn_14", raw)], now=NOW)

    session.expire_all()
    invitation = session.get(Invitation, item.invitation_id)
    message = session.get(OutboxMessage, item.outbox_id)
    assert (invitation.delivery_status, invitation.delivery_at.replace(tzinfo=UTC)) == ("bounced", NOW)
    assert invitation.delivery_reply == message.last_reply == "550 5.1.1 User unknown"
    [row] = stored(session)
    assert (row.kind, row.source, row.reason, row.raw) == ("permanent", "dsn_14", "550 5.1.1 User unknown", "")
    assert row.explanation == bounces.MAILBOX_UNKNOWN
    assert row.received_at.replace(tzinfo=UTC) == NOW


def _sample(name: str) -> bytes:
    return next(sample.raw for sample in SAMPLES if sample.file == name)


def test_running_again_processes_nothing_new_and_the_same_bounce_delivered_again_is_a_duplicate(
        session, survey, tmp_path):
    chosen = [sample for sample in SAMPLES if sample.file in {"dsn_14.txt", "dsn_05.txt", "qmail_08.txt"}]
    sent = {sample.file: survey.send(first_address(sample)) for sample in chosen}
    raws = [with_to(sample.raw, f"bounces+{sent[sample.file].bounce_token}@{MAIL_DOMAIN}") for sample in chosen]
    maildir = tmp_path / "bounces"
    fill_maildir(maildir, raws)
    first = intake(session, read_maildir(maildir), now=NOW)
    states = invitation_states(session)

    second = intake(session, read_maildir(maildir), now=NOW + timedelta(minutes=2))
    fill_maildir(maildir, raws)  # the mail server delivers the very same messages once more
    third = intake(session, read_maildir(maildir), now=NOW + timedelta(minutes=4))

    assert first == IntakeResult(processed=3, permanent=1, temporary=1, unparsed=1)
    assert second == IntakeResult()
    assert third == IntakeResult(duplicates=3)
    assert len(stored(session)) == 3
    assert invitation_states(session) == states
    assert os.listdir(maildir / "new") == []


def test_a_run_that_dies_half_way_loses_nothing_and_the_next_run_takes_the_rest(session, survey, tmp_path):
    chosen = SAMPLES[:6]
    sent = {sample.file: survey.send(first_address(sample)) for sample in chosen}
    maildir = tmp_path / "bounces"
    fill_maildir(maildir, [with_to(sample.raw, f"bounces+{sent[sample.file].bounce_token}@{MAIL_DOMAIN}")
                           for sample in chosen])

    def dies_after_two() -> Iterator[tuple[str, bytes]]:
        for number, item in enumerate(read_maildir(maildir)):
            if number == 2:
                raise RuntimeError("killed")
            yield item

    with pytest.raises(RuntimeError):
        intake(session, dies_after_two(), now=NOW)
    assert len(stored(session)) == 2
    rest = intake(session, read_maildir(maildir), now=NOW)

    assert rest.processed == 4 and rest.duplicates == 0
    assert len(stored(session)) == 6
    assert Counter(outbox_states(session).values()) == Counter(
        STATE[sample.expected_kind] for sample in chosen)


# ---------------------------------------------------------------- without VERP: Message-ID, then address


def test_without_verp_the_message_id_and_then_the_address_find_the_message(session, survey, tmp_path):
    """The samples as they are (no VERP token): those that carry the original's Message-ID are matched by it,
    the others by their failed address among messages sent in the last days."""
    parsed = {sample.file: parse_bounce(sample.raw) for sample in SAMPLES}
    by_id = [sample for sample in SAMPLES if sample.addresses and parsed[sample.file].message_ids]
    by_address = [sample for sample in SAMPLES if sample.addresses and not parsed[sample.file].message_ids]
    unreadable = [sample for sample in SAMPLES if not sample.addresses]
    assert (len(by_id), len(by_address), len(unreadable)) == (9, 62, 3)

    # Sent two days ago, each with the Message-ID its bounce quotes (to the same, shared, addresses).
    id_sent = {sample.file: survey.send(first_address(sample), message_id=parsed[sample.file].message_ids[0],
                                        sent_at=NOW - timedelta(days=2))
               for sample in by_id}
    # One message per failed address, sent yesterday: the most recent message to that address.
    addresses = sorted({address for sample in by_address for address in sample.addresses})
    address_sent = {address: survey.send(address.upper() if address == "bad_user@aol.com" else address)
                    for address in addresses}
    # A bounce for an address last written to a month ago finds nothing: kept as unmatched.
    old = survey.send("cu@hanoi.gov.vn", sent_at=NOW - timedelta(days=30))
    stale = _sample("simple_34.txt").replace(b"roland@example.com", b"cu@hanoi.gov.vn")
    maildir = tmp_path / "bounces"
    fill_maildir(maildir, [sample.raw for sample in SAMPLES] + [stale])

    result = intake(session, read_maildir(maildir), now=NOW)

    assert result == IntakeResult(processed=75, permanent=65, temporary=6, unmatched=1, unparsed=3)
    invitations = invitation_states(session)
    rows = {row.outbox_id: row for row in stored(session) if row.kind in ("permanent", "temporary")}
    for sample in by_id:
        item = id_sent[sample.file]
        assert invitations[item.invitation_id] == STATE[sample.expected_kind], sample.file
        assert rows[item.outbox_id].kind == sample.expected_kind
    for address, item in address_sent.items():
        naming = [sample for sample in by_address if address in sample.addresses]
        expected = "bounced" if any(address in sample.permanent for sample in naming) else "delayed"
        assert invitations[item.invitation_id] == expected, address
    assert invitations[old.invitation_id] == "sent"
    [unmatched] = [row for row in stored(session) if row.kind == "unmatched"]
    assert unmatched.outbox_id is None and "cu@hanoi.gov.vn" in unmatched.raw
    assert unmatched.addresses == "cu@hanoi.gov.vn"


# ---------------------------------------------------------------- never downgrade


def test_a_delay_never_downgrades_a_bounce_and_a_bounce_follows_a_delay(session, survey):
    item = survey.send("userx@example.cz")
    verp = f"bounces+{item.bounce_token}@{MAIL_DOMAIN}"

    intake(session, [("1", with_to(_sample("dsn_05.txt"), verp))], now=NOW)
    after_delay = (invitation_states(session)[item.invitation_id], outbox_states(session)[item.outbox_id])
    intake(session, [("2", with_to(_sample("dsn_14.txt"), verp))], now=NOW + timedelta(hours=1))
    intake(session, [("3", with_to(_sample("dsn_08.txt"), verp))], now=NOW + timedelta(hours=2))

    assert after_delay == ("delayed", "delayed")
    assert invitation_states(session)[item.invitation_id] == "bounced"
    assert outbox_states(session)[item.outbox_id] == "bounced"
    assert [row.kind for row in stored(session)] == ["temporary", "permanent", "temporary"]


def test_a_delay_leaves_an_invitation_whose_link_was_opened(session, survey):
    item = survey.send("userx@example.cz")
    invitation = session.get(Invitation, item.invitation_id)
    invitation.first_opened_at = SENT_AT + timedelta(hours=1)
    session.commit()

    intake(session, [("1", with_to(_sample("dsn_05.txt"), f"bounces+{item.bounce_token}@x"))], now=NOW)

    assert invitation_states(session)[item.invitation_id] == "sent"
    assert outbox_states(session)[item.outbox_id] == "delayed"


def test_a_late_bounce_for_a_corrected_address_leaves_the_invitation_to_the_new_message(session, survey):
    old = survey.send("userx@example.com", sent_at=NOW - timedelta(days=2))
    new = survey.send("huong@hanoi.gov.vn", invitation_id=old.invitation_id, sent_at=NOW - timedelta(days=1))

    intake(session, [("1", with_to(_sample("dsn_14.txt"), f"bounces+{old.bounce_token}@x"))], now=NOW)

    assert outbox_states(session) == {old.outbox_id: "bounced", new.outbox_id: "sent"}
    assert invitation_states(session)[old.invitation_id] == "sent"


def test_a_bounce_leaves_a_message_the_server_refused_at_send_time_as_failed(session, survey):
    item = survey.send("userx@example.com")
    outbox.record_outcome(session, item.outbox_id, "failed", "550 5.1.1 User unknown", SENT_AT)
    session.commit()

    result = intake(session, [("1", with_to(_sample("dsn_14.txt"), f"bounces+{item.bounce_token}@x"))], now=NOW)

    assert result.permanent == 1
    assert outbox_states(session)[item.outbox_id] == "failed"
    assert invitation_states(session)[item.invitation_id] == "failed"


# ---------------------------------------------------------------- for the pages


def test_recent_bounces_of_one_province_or_of_some_kinds_newest_first(session, survey):
    other = Survey(session, HAI_PHONG, survey.version)
    here = survey.send("userx@example.com")
    there = other.send("userx@example.jp")
    intake(session, [("a", with_to(_sample("dsn_14.txt"), f"bounces+{here.bounce_token}@x"))], now=NOW)
    intake(session, [("b", with_to(_sample("dsn_12.txt"), f"bounces+{there.bounce_token}@x")),
                     ("c", _sample("qmail_08.txt"))], now=NOW + timedelta(minutes=1))

    assert [row.source for row in bounces.recent_bounces(session)] == ["c", "b", "a"]
    assert [row.source for row in bounces.recent_bounces(session, province_id=HA_NOI)] == ["a"]
    assert [row.source for row in bounces.recent_bounces(session, province_id=HAI_PHONG)] == ["b"]
    assert [row.source for row in bounces.recent_bounces(session, kinds=["unparsed", "unmatched"])] == ["c"]
    assert [row.source for row in bounces.recent_bounces(session, limit=1)] == ["c"]
    assert bounces.unmatched_count(session) == 1


# ---------------------------------------------------------------- the job and the command


@pytest.fixture
def bounce_maildir(app, tmp_path) -> Path:
    path = tmp_path / "bounce-mailbox"
    app.config["PORTAL_BOUNCE_MAILDIR"] = str(path)
    return path


def test_flask_portal_bounces_once_reads_the_configured_maildir_and_prints_the_counts(
        session, survey, bounce_maildir, runner):
    item = survey.send("userx@example.com")
    fill_maildir(bounce_maildir, [with_to(_sample("dsn_14.txt"), f"bounces+{item.bounce_token}@{MAIL_DOMAIN}"),
                                  _sample("qmail_08.txt")])

    first = runner.invoke(args=["portal", "bounces", "--once"])
    second = runner.invoke(args=["portal", "bounces", "--once"])

    assert first.exit_code == 0, first.output
    assert ("Thư báo lỗi mới: 2 (bị trả lại 1, chậm 0, không rõ thư gốc 0, không đọc được 1); "
            "đã xử lý trước đây: 0.") in first.output
    assert "Thư báo lỗi mới: 0" in second.output
    assert invitation_states(session)[item.invitation_id] == "bounced"


def test_flask_portal_bounces_says_what_to_configure_when_no_mailbox_is_set(runner):
    result = runner.invoke(args=["portal", "bounces", "--once"])

    assert result.exit_code != 0
    assert "PORTAL_BOUNCE_MAILDIR" in result.output


def test_the_worker_runs_bounce_intake_every_interval_only_when_a_mailbox_is_configured(app, bounce_maildir):
    app.config["PORTAL_BOUNCE_INTERVAL"] = 45

    found = {job.id: job for job in jobs.build_scheduler(app).get_jobs()}
    app.config["PORTAL_BOUNCE_MAILDIR"] = None
    without = {job.id for job in jobs.build_scheduler(app).get_jobs()}

    assert found["bounce_intake"].trigger.interval == timedelta(seconds=45)
    assert found["bounce_intake"].max_instances == 1 and found["bounce_intake"].coalesce
    assert "bounce_intake" not in without


def test_the_bounce_job_reads_the_mailbox(app, session, survey, bounce_maildir):
    item = survey.send("userx@example.cz")
    fill_maildir(bounce_maildir, [with_to(_sample("dsn_05.txt"), f"bounces+{item.bounce_token}@{MAIL_DOMAIN}")])

    assert jobs.intake_bounces(app) == 1
    assert jobs.intake_bounces(app) == 0
    assert invitation_states(session)[item.invitation_id] == "delayed"


@pytest.fixture
def bounce_environment(monkeypatch, tmp_path):
    for name in ("PORTAL_BOUNCE_MAILDIR", "PORTAL_BOUNCE_IMAP_HOST", "PORTAL_BOUNCE_IMAP_PORT",
                 "PORTAL_BOUNCE_IMAP_USER", "PORTAL_BOUNCE_IMAP_PASSWORD", "PORTAL_BOUNCE_IMAP_FOLDER",
                 "PORTAL_BOUNCE_INTERVAL"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    monkeypatch.setenv("PORTAL_INSTANCE_DIR", str(tmp_path / "instance"))
    return monkeypatch


def test_bounce_settings_default_to_no_mailbox_every_two_minutes_imaps_inbox(bounce_environment):
    config = Config()

    assert (config.PORTAL_BOUNCE_MAILDIR, config.PORTAL_BOUNCE_IMAP_HOST) == (None, None)
    assert (config.PORTAL_BOUNCE_IMAP_PORT, config.PORTAL_BOUNCE_IMAP_FOLDER) == (993, "INBOX")
    assert config.PORTAL_BOUNCE_INTERVAL == 120
    assert not bounces.source_configured(vars(config))


def test_the_imap_password_may_come_from_a_file_and_an_imap_host_needs_credentials(bounce_environment, tmp_path):
    secret = tmp_path / "imap-password"
    secret.write_text("mat-khau-hop-thu\n", encoding="utf-8")
    bounce_environment.setenv("PORTAL_BOUNCE_IMAP_HOST", "mail.chisocchc.gov.vn")
    bounce_environment.setenv("PORTAL_BOUNCE_IMAP_USER", "bounces")
    bounce_environment.setenv("PORTAL_BOUNCE_IMAP_PASSWORD_FILE", str(secret))

    config = Config()

    assert config.PORTAL_BOUNCE_IMAP_PASSWORD == "mat-khau-hop-thu"
    assert bounces.source_configured(vars(config))
    bounce_environment.delenv("PORTAL_BOUNCE_IMAP_PASSWORD_FILE")
    with pytest.raises(ConfigError, match="PORTAL_BOUNCE_IMAP_PASSWORD"):
        Config()
    bounce_environment.setenv("PORTAL_BOUNCE_IMAP_PASSWORD_FILE", str(secret))
    bounce_environment.setenv("PORTAL_BOUNCE_INTERVAL", "1")
    with pytest.raises(ConfigError, match="PORTAL_BOUNCE_INTERVAL"):
        Config()


# ---------------------------------------------------------------- IMAP over TLS on loopback (Dovecot)


@dataclass
class ImapServer:
    port: int
    user: str
    password: str
    ca_file: Path


def _dovecot_or_skip() -> str:
    dovecot = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    if dovecot is None:
        skip_unless_ci("no IMAP server to run on loopback: Dovecot is not installed (Debian: apt-get install "
                       "dovecot-imapd); the intake itself is tested through the Maildir source")
    if os.geteuid() != 0:
        skip_unless_ci("Dovecot on loopback is started here as root (it hands mail to the user nobody)")
    return dovecot


@contextmanager
def running_dovecot(messages: list[bytes]) -> Iterator[ImapServer]:
    """Dovecot on 127.0.0.1 (IMAPS only) with one mailbox holding `messages`, stopped afterwards."""
    dovecot = _dovecot_or_skip()
    # Not under pytest's private tmp folder: Dovecot's mail process (user nobody) must reach the mailbox.
    root = Path(tempfile.mkdtemp(prefix="cchc-imap-"))
    try:
        root.chmod(0o755)
        # For "localhost" only, so that 127.0.0.1 fails the name check.
        certificates = make_certificates(root / "tls", hosts=("localhost",))
        (root / "home" / "bounces").mkdir(parents=True)
        maildir = mailbox.Maildir(root / "home" / "bounces" / "Maildir", create=True)
        for raw in messages:
            maildir.add(raw)
        nobody = pwd.getpwnam("nobody")
        for path in [root / "home", *(root / "home").rglob("*")]:
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        port = free_port()
        config = root / "dovecot.conf"
        config.write_text(f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{certificates.cert_file}
ssl_key = <{certificates.key_file}
auth_mechanisms = plain
service imap-login {{
  chroot =
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = static
  args = password=mat-khau-thu-nghiem
}}
userdb {{
  driver = static
  args = uid={nobody.pw_uid} gid={nobody.pw_gid} home={root}/home/%u
}}
mail_location = maildir:{root}/home/%u/Maildir
""", encoding="utf-8")
        # The daemon keeps its standard streams: give it none, or waiting for its output would never end.
        quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        subprocess.run([dovecot, "-c", str(config)], check=True, timeout=30, **quiet)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield ImapServer(port, "bounces", "mat-khau-thu-nghiem", certificates.ca_file)
        finally:
            subprocess.run([dovecot, "-c", str(config), "stop"], timeout=30, **quiet)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_imap_over_tls_with_certificate_checks_reads_marks_seen_and_never_takes_a_bounce_twice(
        app, session, survey, tmp_path):
    permanent = survey.send("userx@example.com")
    temporary = survey.send("userx@example.cz")
    raws = [with_to(_sample("dsn_14.txt"), f"bounces+{permanent.bounce_token}@{MAIL_DOMAIN}"),
            with_to(_sample("dsn_05.txt"), f"bounces+{temporary.bounce_token}@{MAIL_DOMAIN}"),
            _sample("qmail_08.txt")]
    with running_dovecot(raws) as server:
        app.config.update(PORTAL_BOUNCE_IMAP_HOST="localhost", PORTAL_BOUNCE_IMAP_PORT=server.port,
                          PORTAL_BOUNCE_IMAP_USER=server.user, PORTAL_BOUNCE_IMAP_PASSWORD=server.password,
                          PORTAL_BOUNCE_IMAP_FOLDER="INBOX")
        trusted = ssl.create_default_context(cafile=str(server.ca_file))

        first = bounces.intake_configured(app, NOW, ssl_context=trusted)
        again = bounces.intake_configured(app, NOW, ssl_context=trusted)
        with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
            list(read_imap("localhost", server.port, server.user, server.password))  # the system's authorities
        with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch|match"):
            list(read_imap("127.0.0.1", server.port, server.user, server.password, ssl_context=trusted))

    assert first == IntakeResult(processed=3, permanent=1, temporary=1, unparsed=1)
    assert again == IntakeResult()
    assert invitation_states(session)[permanent.invitation_id] == "bounced"
    assert invitation_states(session)[temporary.invitation_id] == "delayed"
    assert all(row.source.startswith("imap:INBOX:") for row in stored(session))
    # The same bounces arriving through the Maildir as well (IMAP gave them with CRLF line ends) are known.
    maildir = tmp_path / "bounces"
    fill_maildir(maildir, raws)
    assert intake(session, read_maildir(maildir), now=NOW) == IntakeResult(duplicates=3)


def test_a_global_delivery_status_report_is_applied_not_kept_aside(session, survey):
    """RFC 6533 (message/global-delivery-status): read like RFC 3464, the invitation marked bounced."""
    item = survey.send("nguyễn@hanoi.gov.vn")
    raw = (f"From: MAILER-DAEMON@mx.hanoi.gov.vn\nTo: bounces+{item.bounce_token}@{MAIL_DOMAIN}\n"
           "Subject: Undelivered\nMIME-Version: 1.0\n"
           'Content-Type: multipart/report; report-type=global-delivery-status; boundary="B"\n\n'
           "--B\nContent-Type: text/plain; charset=utf-8\n\nThư không gửi được.\n\n"
           "--B\nContent-Type: message/global-delivery-status\n\nReporting-MTA: dns; mx.hanoi.gov.vn\n\n"
           "Final-Recipient: utf-8; nguyễn@hanoi.gov.vn\nAction: failed\nStatus: 5.1.1\n"
           "Diagnostic-Code: smtp; 550 5.1.1 Hộp thư không tồn tại\n\n--B--\n").encode()

    result = intake(session, [("g1", raw)], now=NOW)

    assert result == IntakeResult(processed=1, permanent=1)
    assert invitation_states(session)[item.invitation_id] == "bounced"
    [row] = stored(session)
    assert (row.kind, row.raw, row.reason) == ("permanent", "", "550 5.1.1 Hộp thư không tồn tại")
    assert row.explanation == bounces.MAILBOX_UNKNOWN
