"""Faults survived: the fast scenarios, run in CI (the slow ones run under gunicorn in ./scripts/faults).

Each test breaks a real part (a process killed with SIGKILL half way, a disk that is full, a PostgreSQL
server stopped and started again, an SMTP relay that is down, slow or hangs up) and checks what is left:
nothing half-saved, nothing lost, nothing done twice, and a clear Vietnamese message where a person waits.
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from aiosmtpd.controller import Controller
from sqlalchemy import update
from sqlmodel import Session, func, select

from portal import create_app
from portal.domain import accounts, invitations, operations, outbox
from portal.domain.campaigns import current_campaign, local_today
from portal.domain.invitations import response_key
from portal.errors import UNAVAILABLE_MESSAGE
from portal.extensions import db
from portal.models import (
    Answer,
    FormProgress,
    Invitation,
    NominationDocument,
    Notice,
    NoticeRecipient,
    Operation,
    OutboxMessage,
    ProvinceRequest,
    ReminderSchedule,
    Respondent,
    RespondentList,
    Role,
    User,
    utcnow,
)
from tests.support.accounts import HA_NOI, log_in
from tests.support.crash import run_and_die
from tests.support.html import text_of
from tests.support.outbox import queue
from tests.support.smtp import mail_config
from tests.support.survey import (
    complete_answers,
    form_def,
    launch_survey,
    load_questionnaire,
    open_by_the_real_clock,
    send_list,
)

DISK_FULL = "không còn đủ chỗ để lưu tệp"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


# ---------------------------------------------------------------- a full disk during an upload


@pytest.fixture
def tiny_disk(tmp_path, monkeypatch):
    """A folder on a 64 KB tmpfs; where this machine does not let the tests mount one, writes under it fail
    with ENOSPC after half the bytes, as a full disk makes them fail."""
    folder = tmp_path / "dia-nho"
    folder.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True).returncode == 0
    if not mounted:
        _fail_writes_under(folder, monkeypatch)
    yield folder
    if mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _fail_writes_under(folder: Path, monkeypatch) -> None:
    real_fdopen, real_write_bytes = os.fdopen, Path.write_bytes

    class HalfThenFull(io.RawIOBase):
        def __init__(self, handle) -> None:
            self.handle = handle

        def write(self, data) -> int:
            self.handle.write(bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:
            self.handle.close()
            super().close()

    def fdopen(fd, *args, **kwargs):
        handle = real_fdopen(fd, *args, **kwargs)
        inside = folder in Path(os.readlink(f"/proc/self/fd/{fd}")).parents
        return HalfThenFull(handle) if inside else handle

    def write_bytes(self, data):
        if folder in self.parents:
            real_write_bytes(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_bytes(self, data)

    monkeypatch.setattr(os, "fdopen", fdopen)
    monkeypatch.setattr(Path, "write_bytes", write_bytes)


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()]


@pytest.fixture
def app_config(app_config, tiny_disk, sink):
    return {**app_config, **mail_config(sink), "PORTAL_FILES_DIR": str(tiny_disk / "tep")}


def test_a_full_disk_during_a_request_upload_says_so_and_leaves_no_file_and_no_request(
        app, session, province_user, tiny_disk):
    client = app.test_client()
    with time_machine.travel("2022-01-17 09:00 +0700", tick=False):
        log_in(client, province_user)
        page = client.get("/de-nghi/moi?loai=technical")
        assert page.status_code == 200, page.headers
        page = page.get_data(as_text=True)
        form_key = page.split('name="form_key" value="')[1].split('"')[0]
        response = client.post("/de-nghi/moi", content_type="multipart/form-data", data={
            "kind": "technical", "reason": "Không mở được trang tiến độ.", "form_key": form_key,
            "file": (io.BytesIO(PNG + b"\x01" * 100_000), "anh-chup.png")})

    assert response.status_code == 422
    assert DISK_FULL in text_of(response.get_data(as_text=True))
    assert session.exec(select(ProvinceRequest)).all() == []
    assert files_under(tiny_disk) == []


def test_a_full_disk_during_the_nomination_upload_keeps_no_account_no_document_and_no_file(
        app, session, province_user, tiny_disk):
    client = app.test_client()
    log_in(client, province_user)
    pdf = b"%PDF-1.4\n" + b"0" * 100_000 + b"\n%%EOF\n"

    response = client.post("/dau-moi-cntt/dang-ky", content_type="multipart/form-data", data={
        "full_name": "Trần Minh Đức", "position": "Phó Giám đốc Trung tâm CNTT", "phone": "0912 345 678",
        "email": "duc.tm@hanoi.gov.vn", "nomination": (io.BytesIO(pdf), "Quyết định cử.pdf")})

    assert response.status_code == 422
    assert DISK_FULL in text_of(response.get_data(as_text=True))
    assert session.exec(select(NominationDocument)).all() == []
    assert session.exec(select(User).where(User.role == Role.IT_FOCAL)).all() == []
    assert files_under(tiny_disk) == []


# ---------------------------------------------------------------- a process killed half way


def test_a_portal_process_killed_inside_a_submission_stores_all_or_nothing_and_the_form_can_be_sent_again(
        app, app_config, session, ministry_user):
    open_by_the_real_clock(app, session)
    person = launch_survey(app, session, ministry_user, per_group=1).of_group("LD_SO")
    code = person.form_codes[0]
    client = app.test_client()
    answers = complete_answers(form_def(session, code))
    assert client.post(person.form_url(code), data={**answers, "action": "save"}).status_code == 200

    died = run_and_die(app_config, f"""
        import portal.domain.answers as answers
        submit = answers.submit

        def submit_then_die(session, *args, **kwargs):
            session.commit = die  # every UPDATE of the submission has run; the process dies before COMMIT
            return submit(session, *args, **kwargs)

        answers.submit = submit_then_die
        app.test_client().post({person.submit_url(code)!r})
    """)

    assert died
    key = response_key(person.invitation.id, code, app.config["SECRET_KEY"])
    session.expire_all()
    [progress] = session.exec(select(FormProgress).where(FormProgress.invitation_id == person.invitation.id,
                                                         FormProgress.form_code == code)).all()
    [answer] = session.exec(select(Answer).where(Answer.response_key == key)).all()
    assert progress.state != "submitted"
    assert answer.submitted is False  # the draft as it was saved, not half a submission

    again = client.post(person.submit_url(code))

    assert again.status_code == 303 and again.headers["Location"].endswith("/cam-on")
    session.expire_all()
    assert session.exec(select(func.count()).select_from(Answer).where(Answer.response_key == key)).one() == 1
    assert session.exec(select(Answer.submitted).where(Answer.response_key == key)).one() is True
    assert session.get(FormProgress, progress.id).state == "submitted"


def test_a_launch_worker_killed_inside_a_chunk_leaves_no_province_half_launched_and_the_next_worker_invites_each_once(
        app, app_config, session, ministry_user):
    open_by_the_real_clock(app, session)
    send_list(session, HA_NOI, per_group=2, now=utcnow())  # 8 people: chunks of 3, 3, then 2 and the launch mark
    send_list(session, 31, per_group=1, now=utcnow())
    load_questionnaire(session, ministry_user)
    with app.app_context():
        operation = invitations.start_launch(session, session.get(User, ministry_user.id), current_campaign(session),
                                             None, base_url="http://localhost", mail_domain="chisocchc.gov.vn",
                                             tz_name="Asia/Ho_Chi_Minh", accept_sample=True)

    died = run_and_die(app_config, """
        from portal.domain import invitations, operations

        real_step, steps = invitations.launch_step, []

        def step_then_die(*args):
            done = real_step(*args)
            steps.append(done)
            if len(steps) == 3:
                die()  # the third chunk's invitations are flushed, not committed: the process dies here
            return done

        invitations.launch_step = step_then_die
        with app.app_context(), db.new_session() as session:
            operations.run_pending(session, "doomed-worker", chunk=3)
    """)

    assert died
    session.expire_all()
    told = lambda: Counter(session.exec(  # noqa: E731 - read twice below
        select(NoticeRecipient.province_id).join(Notice, Notice.id == NoticeRecipient.notice_id)
        .where(Notice.title == "Bộ Nội vụ đã phát hành khảo sát")).all())
    left = session.get(Operation, operation.id)
    assert (left.state, left.done, left.claimed_by) == ("running", 6, "doomed-worker")
    assert session.exec(select(func.count()).select_from(Invitation)).one() == 6  # two chunks, nothing of the third
    assert told() == Counter()  # Hà Nội is not launched from anyone's point of view: 2 of its 8 are not invited
    assert session.exec(select(func.count()).select_from(RespondentList)
                        .where(RespondentList.launched_at.is_not(None))).one() == 0
    with app.app_context():
        assert operations.claim_next(session, "too-early") is None  # the dead worker's lease still holds

        operations.run_until_done(session, operation.id, worker="rescuer", chunk=3,
                                  now=utcnow() + operations.LEASE + timedelta(seconds=1))

    session.expire_all()
    assert told() == Counter({HA_NOI: 1, 31: 1})
    people = session.exec(select(func.count()).select_from(Respondent)).one()
    invited = Counter(i.respondent_id for i in session.exec(select(Invitation)))
    emails = Counter(m.invitation_id for m in session.exec(select(OutboxMessage).where(
        OutboxMessage.kind == "invitation", OutboxMessage.status == "queued")))
    assert len(invited) == people and set(invited.values()) == {1}
    assert len(emails) == people and set(emails.values()) == {1}
    finished = session.get(Operation, operation.id)
    assert (finished.state, finished.done, finished.total) == ("done", people, people)


def test_a_reminder_day_killed_half_way_is_finished_by_the_next_run_reminding_each_person_once(
        app, app_config, session, ministry_user):
    from portal import jobs

    campaign = open_by_the_real_clock(app, session)
    launch_survey(app, session, ministry_user, per_group=2)
    session.add(ReminderSchedule(campaign_id=campaign.id, send_on=local_today(app.config["PORTAL_TIMEZONE"])))
    session.commit()
    people = session.exec(select(func.count()).select_from(Invitation)).one()
    assert people >= 6

    died = run_and_die(app_config, """
        from portal.domain import reminders
        from portal.models import utcnow

        remind, calls = reminders.remind, []

        def remind_then_die_on_the_third_chunk(*args, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                die()
            return remind(*args, **kwargs)

        reminders.remind = remind_then_die_on_the_third_chunk
        with app.app_context():
            reminders.enqueue_due_reminders(db.session, now=utcnow(), tz_name="Asia/Ho_Chi_Minh",
                                            mail_domain="chisocchc.gov.vn", base_url="http://localhost", chunk=2)
    """)

    assert died
    session.expire_all()
    assert session.exec(select(func.count()).select_from(OutboxMessage)
                        .where(OutboxMessage.kind == "reminder")).one() == 4  # two chunks stored

    jobs.enqueue_reminders(app)

    session.expire_all()
    reminded = Counter(m.invitation_id for m in session.exec(select(OutboxMessage)
                                                             .where(OutboxMessage.kind == "reminder")))
    assert len(reminded) == people and set(reminded.values()) == {1}
    [schedule] = session.exec(select(ReminderSchedule)).all()
    assert schedule.enqueued_at is not None and schedule.enqueued_count == people


# ---------------------------------------------------------------- the SMTP relay down, slow, hanging up


def test_a_relay_down_then_slow_then_hanging_up_mid_batch_gets_every_message_out_exactly_once(app, session, sink):
    queue(session, 30)
    sink.stop()  # down: nothing is tried, nothing counted
    assert outbox.run_once(app, "w:1", limit=10) == 0
    assert statuses(session) == Counter({"queued": 30})
    assert {m.attempts for m in session.exec(select(OutboxMessage))} == {0}

    # Back on its port, slow, and hanging up once in the middle of a batch.
    sink.controller = Controller(sink.handler, hostname="127.0.0.1", port=sink.port, ready_timeout=5)
    sink.controller.start()
    sink.running = True
    sink.delay = 0.02
    sink.drop_after = 15
    for _ in range(20):
        outbox.run_once(app, "w:1", limit=10)
        # The clock moves on: the message cut off by the hang-up waits its backoff, not this test.
        with app.app_context(), db.new_session() as own:
            own.exec(update(OutboxMessage).where(OutboxMessage.status == "queued")
                     .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
            own.commit()
        if statuses(session) == Counter({"sent": 30}):
            break

    assert sink.drops == 1
    assert statuses(session) == Counter({"sent": 30})
    assert sorted(sink.outbox_ids().values()) == [1] * 30


def statuses(session: Session) -> Counter[str]:
    session.expire_all()
    return Counter(m.status for m in session.exec(select(OutboxMessage)))


# ---------------------------------------------------------------- PostgreSQL restarted


@pytest.fixture(scope="module")
def own_postgres():
    """A PostgreSQL cluster of this module's own, to stop and start without disturbing other tests."""
    from tests.support.pgcluster import ClusterUnavailable, start_cluster

    try:
        cluster = start_cluster()
    except ClusterUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    yield cluster
    cluster.stop()


def test_postgresql_restarted_gives_the_friendly_page_during_the_gap_saves_nothing_half_and_recovers_alone(
        own_postgres, tmp_path):
    from tests.support.database import PreparedDatabase, create_postgres_database
    from tests.support.pgcluster import restart_cluster, stop_cluster

    url = create_postgres_database(own_postgres.url)
    prepared = PreparedDatabase(url)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
                      "PORTAL_BASE_URL": "http://localhost", "SERVER_NAME": None})
    try:
        with Session(prepared.engine) as session:
            ministry, _ = accounts.create_user(session, "bonoivu", Role.MINISTRY, password="MatKhau2021cchc")
            officer, _ = accounts.create_user(session, "ha-noi", Role.PROVINCE, password="MatKhau2021cchc",
                                              province_id=HA_NOI, must_change_password=False)
            session.commit()
            open_by_the_real_clock(app, session)
            person = launch_survey(app, session, ministry, per_group=1).of_group("LD_SO")
            code = person.form_codes[0]
            answers = complete_answers(form_def(session, code))
            client, staff = app.test_client(), app.test_client()
            log_in(staff, officer)
        assert client.get(person.form_url(code)).status_code == 200  # the pool holds live connections now
        assert staff.get("/").status_code == 200

        stop_cluster(own_postgres)
        during = client.post(person.form_url(code), data={**answers, "action": "save"})
        staff_during = staff.get("/")
        health = client.get("/healthz")
        restart_cluster(own_postgres)
        after = client.get(person.form_url(code))

        assert during.status_code == 503 and during.headers["Retry-After"] == "30"
        page = text_of(during.get_data(as_text=True))
        assert UNAVAILABLE_MESSAGE[0] in page and "chưa được lưu" in page
        assert staff_during.status_code == 503  # a logged-in page too: its account cannot be loaded either
        assert UNAVAILABLE_MESSAGE[0] in text_of(staff_during.get_data(as_text=True))
        assert health.status_code == 503
        assert staff.get("/").status_code == 200  # still logged in once the server is back
        assert after.status_code == 200  # the same app, no restart: the pool reconnected
        with Session(prepared.engine) as session:
            assert session.exec(select(func.count()).select_from(Answer)).one() == 0  # nothing half-saved
        saved = client.post(person.form_url(code), data={**answers, "action": "save"})
        assert saved.status_code == 200
        assert client.post(person.submit_url(code)).status_code == 303
    finally:
        with app.app_context():
            db.dispose()
        prepared.dispose()


# ---------------------------------------------------------------- the worker killed during bounce intake


def test_a_bounce_intake_killed_between_storing_a_message_and_marking_it_read_is_finished_once(
        app_config, session, tmp_path):
    from tests.test_bounce_intake import (
        MAIL_DOMAIN,
        NOW,
        SAMPLES,
        Survey,
        fill_maildir,
        first_address,
        outbox_states,
        stored,
        with_to,
    )

    chosen = SAMPLES[:6]
    survey = Survey(session)
    sent = {sample.file: survey.send(first_address(sample)) for sample in chosen}
    maildir = tmp_path / "bounces"
    fill_maildir(maildir, [with_to(sample.raw, f"bounces+{sent[sample.file].bounce_token}@{MAIL_DOMAIN}")
                           for sample in chosen])

    died = run_and_die(app_config, f"""
        from datetime import datetime
        from sqlmodel import Session
        from portal.domain import bounces

        real_commit, commits = Session.commit, []

        def commit_then_die_at_the_third(self):
            real_commit(self)
            commits.append(1)
            if len(commits) == 3:
                die()  # the third bounce is stored; its file is still unread in the Maildir

        Session.commit = commit_then_die_at_the_third
        with app.app_context():
            bounces.intake(db.session, bounces.read_maildir({str(maildir)!r}),
                           now=datetime.fromisoformat({NOW.isoformat()!r}))
    """)

    assert died
    assert len(stored(session)) == 3
    rest = bounces_intake_again(session, maildir, NOW)

    assert (rest.processed, rest.duplicates) == (3, 1)  # the one stored but not marked read is not applied twice
    assert len(stored(session)) == 6
    assert len({item.digest for item in stored(session)}) == 6
    assert "queued" not in outbox_states(session).values()


def bounces_intake_again(session: Session, maildir: Path, now):
    from portal.domain.bounces import intake, read_maildir

    return intake(session, read_maildir(maildir), now=now)
