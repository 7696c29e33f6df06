"""Khảo sát Chỉ số CCHC > Chi tiết tiến độ khảo sát, and the ministry's national table.

The fixture is built by hand and counted by hand: Hà Nội's short list (two people of each group, twelve
forms), launched on 01/02/2022 at 09:00 +07 with the clock frozen there, then

    person  group  forms               delivery          opened  answers
    A       1      DP-HDND             sent              yes     DP-HDND submitted             -> finished
    B       1      DP-HDND             bounced (5.1.1)   no      -
    C       2      DP-LDSO, BO-LD      sent              yes     DP-LDSO submitted, BO-LD draft
    D       2      DP-LDSO, BO-LD      failed (550 spam) no      -
    E       3      DP-LDPHONG, BO-LD   sent              yes     both submitted                -> finished
    F       3      DP-LDPHONG, BO-LD   sent              yes     DP-LDPHONG draft
    G       4      DP-LDHUYEN          sent              no      -
    H       4      DP-LDHUYEN          queued            no      -

Every text answer is SECRET, which no page, fragment or export a province or IT focal point can reach
may contain.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import text, update
from sqlmodel import Session, select

from portal import polling
from portal.domain import (
    answers,
    bounces,
    campaign_admin,
    delivery,
    invitations,
    national_progress,
    outbox,
    progress,
)
from portal.domain.text import fold
from portal.extensions import db
from portal.models import (
    Answer,
    FormProgress,
    Invitation,
    OutboxMessage,
    Province,
    Respondent,
    RespondentGroup,
    Role,
)
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in, make_user
from tests.support.big_list import generated_rows
from tests.support.html import text_of
from tests.support.statements import Statements, count_round_trips, count_statements
from tests.support.survey import (
    AFTER_DEADLINE,
    DURING_SURVEY,
    TZ,
    LaunchedSurvey,
    SentInvitation,
    answer,
    complete_answers,
    form_def,
    launch,
    launch_survey,
    load_questionnaire,
    send_list,
    sent_invitations,
)

# Forms by name, as the province reads them (the people of the sample list work in Sở Nội vụ).
LOCALITY = "Phiếu đánh giá địa phương"
MINISTRY = "Phiếu đánh giá bộ chủ quản: Bộ Nội vụ"

PAGE = "/khao-sat/tien-do/"
EXPORT = "/khao-sat/tien-do/chua-tra-loi.xlsx"
POLL = {"HX-Request": "true", "HX-Target": "progress-live"}
SECRET = "Ý kiến riêng Q7-bí-mật-không-được-lộ"
BOUNCED_REPLY = "550 5.1.1 <lan.dk@ha-noi.gov.vn>: Recipient address rejected: User unknown"
REFUSED_REPLY = "550 5.7.1 Message rejected as spam"
DSN = (Path(__file__).parent / "data" / "bounces" / "dsn_14.txt").read_bytes()



class Hanoi:
    """The hand-built fixture: the people A to H of the module docstring."""

    def __init__(self, app, session: Session, survey: LaunchedSurvey) -> None:
        self.app, self.session, self.survey = app, session, survey
        self.people: dict[str, SentInvitation] = dict(zip("ABCDEFGH", survey.invitations, strict=True))

    def __getitem__(self, letter: str) -> SentInvitation:
        return self.people[letter]

    def outbox_id(self, letter: str) -> int:
        return self.session.exec(select(OutboxMessage.id).where(
            OutboxMessage.invitation_id == self[letter].invitation.id).order_by(OutboxMessage.id.desc())).first()

    def deliver(self, letter: str, status: str, reply: str = "250 2.0.0 Ok: queued", now: datetime | None = None):
        outbox.record_outcome(self.session, self.outbox_id(letter), status, reply, now or DURING_SURVEY)
        self.session.commit()

    def open(self, letter: str) -> None:
        answers.mark_opened(self.session, self.session.get(Invitation, self[letter].invitation.id))

    def answer(self, letter: str, code: str, *, submit: bool = True) -> None:
        form = form_def(self.session, code)
        answer(self.app, self.session, self[letter], code, submit=submit, raw=complete_answers(form, text=SECRET))

    def ids(self, letters: str) -> list[int]:
        return [self[letter].respondent.id for letter in letters]


@pytest.fixture
def hanoi(app, session, ministry_user, clock) -> Hanoi:
    built = Hanoi(app, session, launch_survey(app, session, ministry_user, per_group=2))
    assert [p.group_number for p in built.people.values()] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert [p.form_codes for p in built.people.values()] == [
        ["DP-HDND"], ["DP-HDND"], ["DP-LDSO", "BO-LD"], ["DP-LDSO", "BO-LD"],
        ["DP-LDPHONG", "BO-LD"], ["DP-LDPHONG", "BO-LD"], ["DP-LDHUYEN"], ["DP-LDHUYEN"]]
    for letter in "ACEFG":
        built.deliver(letter, "sent")
    built.deliver("B", "bounced", BOUNCED_REPLY)
    built.deliver("D", "failed", REFUSED_REPLY)
    for letter in "ACEF":
        built.open(letter)
    built.answer("A", "DP-HDND")
    built.answer("C", "DP-LDSO")
    built.answer("C", "BO-LD", submit=False)
    built.answer("E", "DP-LDPHONG")
    built.answer("E", "BO-LD")
    built.answer("F", "DP-LDPHONG", submit=False)
    session.expire_all()
    return built


def numbers(line: progress.GroupProgress) -> tuple:
    return (line.group.number if line.group else "Tổng", line.people, line.invited, line.failed, line.opened,
            line.started, line.forms_submitted, line.forms_expected, round(line.rate, 1))


def summary_rows(html: str) -> list[list[str]]:
    """The cells of the summary table, row by row, as a reader sees them."""
    section = html.split('id="progress-summary"', 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1]
    return [[text_of(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]


def row_ids(html: str) -> list[int]:
    """The respondents of the per-respondent table, in the order shown."""
    return [int(ident) for ident in re.findall(r'<tr id="p-(\d+)"', html)]


def row_text(html: str, person: SentInvitation) -> str:
    return text_of(html.split(f'id="p-{person.respondent.id}">', 1)[1].split("</tr>", 1)[0])


def poll(client, url: str = PAGE, etag: str | None = None, **headers):
    extra = {"If-None-Match": etag} if etag else {}
    return client.get(url, headers={**POLL, **extra, **headers})


# ---------------------------------------------------------------- the summary, counted by hand


def test_the_summary_per_group_and_in_total_equals_the_hand_count(session, hanoi):
    lines = progress.province_summary(session, hanoi.survey.campaign.id, HA_NOI)

    # group, people, invitations sent, failures, opened, started, forms submitted, forms expected, rate %
    assert [numbers(line) for line in lines] == [
        (1, 2, 1, 1, 1, 1, 1, 2, 50.0),
        (2, 2, 1, 1, 1, 1, 1, 4, 25.0),
        (3, 2, 2, 0, 2, 2, 2, 4, 50.0),
        (4, 2, 1, 0, 0, 0, 0, 2, 0.0),
        ("Tổng", 8, 5, 2, 4, 4, 4, 12, 33.3),
    ]


def test_the_page_shows_the_hand_counted_summary_and_the_days_left(client, province_user, hanoi):
    log_in(client, province_user)

    page = client.get(PAGE).get_data(as_text=True)

    assert summary_rows(page) == [
        ["1. Đại biểu Hội đồng nhân dân cấp tỉnh", "2", "1", "1", "1", "1", "1/2", "50,0%"],
        ["2. Lãnh đạo cấp sở", "2", "1", "1", "1", "1", "1/4", "25,0%"],
        ["3. Lãnh đạo cấp phòng thuộc sở", "2", "2", "0", "2", "2", "2/4", "50,0%"],
        ["4. Lãnh đạo UBND cấp huyện", "2", "1", "0", "0", "0", "0/2", "0,0%"],
        ["Tổng", "8", "5", "2", "4", "4", "4/12", "33,3%"],
    ]
    assert "Hạn trả lời phiếu: 20/02/2022 (còn 19 ngày)" in text_of(page)


@pytest.mark.parametrize(("moment", "says"), [
    (datetime(2022, 2, 19, 8, 0, tzinfo=TZ), "(còn 1 ngày (hết hạn ngày mai))"),
    (datetime(2022, 2, 20, 23, 59, tzinfo=TZ), "(hết hạn hôm nay)"),
    (datetime(2022, 2, 23, 8, 0, tzinfo=TZ), "(đã quá hạn 3 ngày)"),
])
def test_the_days_left_count_in_the_portal_time_zone(client, province_user, hanoi, clock, moment, says):
    clock.move_to(moment, tick=False)
    log_in(client, province_user)

    assert f"Hạn trả lời phiếu: 20/02/2022 {says}" in text_of(client.get(PAGE).get_data(as_text=True))


# ---------------------------------------------------------------- the per-respondent table


@pytest.mark.parametrize(("query", "letters"), [
    ("Đặng", "BF"),  # Đặng Kim Lan, Đặng Xuân Long
    ("dang", "BF"),  # without diacritics
    ("DANG XUAN", "F"),
    ("Hoàng Xuân Bình", "E"),
    ("hoang", "EG"),  # Hoàng Xuân Bình, Võ Hoàng Phong
    ("ha.pt@ha-noi.gov.vn", "C"),  # an address
    ("nam.hq@", "D"),
    ("không có ai", ""),
    ("%", ""),  # LIKE's wildcards are taken literally: no one's name or address holds them
    ("_", ""),
    ("/", ""),  # nor the escape character
])
def test_search_by_name_with_or_without_diacritics_and_by_email(client, province_user, hanoi, query, letters):
    log_in(client, province_user)

    page = client.get(PAGE, query_string={"q": query}).get_data(as_text=True)

    assert row_ids(page) == hanoi.ids(letters)
    assert f"{len(letters)} người" in text_of(page)


@pytest.mark.parametrize(("show", "letters"), [
    ("", "ABCDEFGH"),
    ("chua-xong", "BCDFGH"),  # C has sent one of two forms: not finished
    ("chua-mo", "BDGH"),
    ("loi-gui", "BD"),
    ("da-xong", "AE"),
])
def test_each_filter_keeps_exactly_the_right_people(client, province_user, hanoi, show, letters):
    log_in(client, province_user)

    page = client.get(PAGE, query_string={"loc": show}).get_data(as_text=True)

    assert row_ids(page) == hanoi.ids(letters)


@pytest.mark.parametrize(("number", "letters"), [(1, "AB"), (2, "CD"), (3, "EF"), (4, "GH")])
def test_the_group_filter_keeps_one_group(client, session, province_user, hanoi, number, letters):
    group = session.exec(select(RespondentGroup).where(RespondentGroup.number == number)).one()
    log_in(client, province_user)

    page = client.get(PAGE, query_string={"loc": str(group.id)}).get_data(as_text=True)

    assert row_ids(page) == hanoi.ids(letters)
    assert f'<option value="{group.id}" selected>Nhóm {number}</option>' in page


def test_filters_and_search_combine(client, province_user, hanoi):
    log_in(client, province_user)

    page = client.get(PAGE, query_string={"q": "dang", "loc": "loi-gui"}).get_data(as_text=True)

    assert row_ids(page) == hanoi.ids("B")


@pytest.mark.parametrize(("sort", "letters"), [
    ("stt", "ABCDEFGH"),
    # By name, diacritics folded (Đ with D), the same on every database: Đặng Kim Lan, Đặng Xuân Long,
    # Hoàng Xuân Bình, Huỳnh Quốc Nam, Lý Kim Quân, Ngô Thị Việt, Phan Thị Hà, Võ Hoàng Phong.
    ("ten", "BFEDHACG"),
    ("nhom", "ABCDEFGH"),
    # Those with least done first: nothing submitted (list order), then one form of two, then the finished.
    ("trang-thai", "BDFGHCAE"),
])
def test_each_sort_orders_the_table(client, province_user, hanoi, sort, letters):
    log_in(client, province_user)

    page = client.get(PAGE, query_string={"xep": sort}).get_data(as_text=True)

    assert row_ids(page) == hanoi.ids(letters)


def test_the_group_sort_puts_groups_together_whatever_the_list_order(client, session, province_user, hanoi):
    # Move a group 1 person to the end of the list: sorting by group brings them back beside B.
    session.exec(update(Respondent).where(Respondent.id == hanoi["A"].respondent.id).values(row_number=99))
    session.commit()
    log_in(client, province_user)

    by_order = client.get(PAGE, query_string={"xep": "stt"}).get_data(as_text=True)
    by_group = client.get(PAGE, query_string={"xep": "nhom"}).get_data(as_text=True)

    assert row_ids(by_order) == hanoi.ids("BCDEFGHA")
    assert row_ids(by_group) == hanoi.ids("BACDEFGH")


def test_each_row_shows_delivery_time_forms_and_never_an_answer(client, province_user, hanoi):
    log_in(client, province_user)

    page = client.get(PAGE).get_data(as_text=True)

    assert row_text(page, hanoi["B"]) == (
        "Đặng Kim Lan Trưởng ban Pháp chế HĐND thành phố 1 lan.dk@ha-noi.gov.vn Bị trả lại 09:00 01/02/2022 "
        f"{LOCALITY}: Chưa trả lời")
    assert row_text(page, hanoi["C"]).endswith(
        f"Đã gửi thư 09:00 01/02/2022 {LOCALITY}: Đã nộp phiếu {MINISTRY}: Đang trả lời")
    assert "Đang chờ gửi" in row_text(page, hanoi["H"])


@pytest.fixture
def crowd(app, session, ministry_user, clock) -> LaunchedSurvey:
    """Hà Nội with 120 people."""
    send_list(session, HA_NOI, rows=generated_rows(session, HA_NOI, 120))
    load_questionnaire(session, ministry_user)
    launch(app, session, ministry_user, [HA_NOI])
    return LaunchedSurvey(None, session.get(Province, HA_NOI), sent_invitations(app, session, HA_NOI))


def test_paging_shows_fifty_people_a_page_over_three_pages(client, province_user, crowd):
    log_in(client, province_user)

    pages = [client.get(PAGE, query_string={"trang": n}).get_data(as_text=True) for n in (1, 2, 3)]

    assert [len(row_ids(page)) for page in pages] == [50, 50, 20]
    shown = [ident for page in pages for ident in row_ids(page)]
    assert shown == [p.respondent.id for p in crowd.invitations]  # each once, in list order
    assert "120 người, trang 1/3" in text_of(pages[0])
    assert re.search(r'href="/khao-sat/tien-do/\?[^"]*trang=2"', pages[0])
    assert "Trang trước" not in pages[0] and "Trang sau" in pages[1] and "Trang sau" not in pages[2]
    beyond = client.get(PAGE, query_string={"trang": 99}).get_data(as_text=True)
    assert row_ids(beyond) == row_ids(pages[2]) and "trang 3/3" in text_of(beyond)


def test_paging_keeps_the_search_and_the_sort(client, province_user, crowd):
    log_in(client, province_user)

    first = client.get(PAGE, query_string={"q": "nguyen", "xep": "ten"}).get_data(as_text=True)

    expected = sorted((p for p in crowd.invitations if fold(p.respondent.full_name).startswith("nguyen")),
                      key=lambda p: (fold(p.respondent.full_name), p.respondent.id))
    assert len(expected) > 0
    assert row_ids(first) == [p.respondent.id for p in expected][:50]


# ---------------------------------------------------------------- the fingerprint a poll compares


def fingerprint_of(hanoi: Hanoi) -> str:
    return progress.fingerprint(hanoi.session, hanoi.survey.campaign.id, HA_NOI)


def test_the_fingerprint_stays_the_same_while_nothing_changes_even_when_the_page_is_read(hanoi):
    before = fingerprint_of(hanoi)

    progress.respondent_page(hanoi.session, hanoi.survey.campaign.id, HA_NOI, sort="trang-thai")
    progress.province_summary(hanoi.session, hanoi.survey.campaign.id, HA_NOI)

    assert fingerprint_of(hanoi) == before


@pytest.mark.parametrize("submit", [True, False], ids=["submitted", "draft"])
def test_the_fingerprint_changes_when_an_answer_arrives(hanoi, clock, submit):
    before = fingerprint_of(hanoi)

    clock.move_to(DURING_SURVEY + timedelta(minutes=1), tick=False)
    hanoi.answer("G", "DP-LDHUYEN", submit=submit)

    assert fingerprint_of(hanoi) != before


def test_the_fingerprint_changes_when_a_row_of_the_list_is_edited(hanoi, clock):
    before = fingerprint_of(hanoi)

    clock.move_to(DURING_SURVEY + timedelta(minutes=1), tick=False)
    hanoi.session.exec(update(Respondent).where(Respondent.id == hanoi["G"].respondent.id)
                       .values(full_name="Nguyễn Văn Giáp", updated_at=DURING_SURVEY + timedelta(minutes=1)))
    hanoi.session.commit()

    assert fingerprint_of(hanoi) != before


def test_the_fingerprint_changes_when_two_invitations_swap_their_delivery_states(hanoi):
    # No time moves and the count of each state stays: only which row is in which state changes.
    before = fingerprint_of(hanoi)

    for letter, status in (("B", "failed"), ("D", "bounced")):
        hanoi.session.exec(update(Invitation).where(Invitation.id == hanoi[letter].invitation.id)
                           .values(delivery_status=status))
    hanoi.session.commit()

    assert fingerprint_of(hanoi) != before


def test_the_next_campaign_reads_none_of_the_past_years_forms_or_people(hanoi, ministry_user):
    """Forms and people stay from year to year: the new campaign's summary and fingerprint leave the past
    year's out (filtered by the province alone, every poll would read more with each year, and a past row
    changing would change this year's page)."""
    past = hanoi.survey.campaign
    created = campaign_admin.create_campaign(hanoi.session, ministry_user, {
        "year": "2022", "name": "Xác định Chỉ số CCHC năm 2022", "it_focal_deadline": "10/01/2023",
        "list_deadline": "15/01/2023", "self_assessment_deadline": "15/02/2023",
        "response_deadline": "25/02/2023"}, source=past)
    campaign_admin.make_current(hanoi.session, ministry_user, created.campaign, confirmed=True)
    now = created.campaign.id
    before = progress.fingerprint(hanoi.session, now, HA_NOI)

    hanoi.session.exec(update(FormProgress).where(FormProgress.invitation_id == hanoi["G"].invitation.id)
                       .values(state="submitted"))
    hanoi.session.exec(update(Respondent).where(Respondent.id == hanoi["G"].respondent.id)
                       .values(updated_at=DURING_SURVEY + timedelta(days=1)))
    hanoi.session.commit()

    assert progress.fingerprint(hanoi.session, now, HA_NOI) == before
    assert progress.fingerprint(hanoi.session, past.id, HA_NOI) != before
    total = progress.province_summary(hanoi.session, now, HA_NOI)[-1]
    assert (total.people, total.forms_expected, total.forms_submitted, total.started) == (0, 0, 0, 0)
    assert progress.province_summary(hanoi.session, past.id, HA_NOI)[-1].forms_submitted == 5  # four, and G


# ---------------------------------------------------------------- live: polling with an ETag


def test_a_poll_answers_the_fragment_with_an_etag_and_an_unchanged_poll_gets_304_without_a_body(
        client, province_user, hanoi):
    log_in(client, province_user)

    first = poll(client)
    again = poll(client, etag=first.headers["ETag"])

    assert first.status_code == 200
    body = first.get_data(as_text=True)
    assert body.startswith('<div id="progress-live"') and "<html" not in body
    assert 'hx-trigger="every 30s"' in body
    assert row_ids(body) == hanoi.ids("ABCDEFGH") and 'id="progress-summary"' in body
    assert first.headers["ETag"].strip('"')
    assert "HX-Request" in first.headers.get("Vary", "")  # never served from cache for the full page
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == first.headers["ETag"]


def test_the_etag_depends_on_the_filter_as_well(client, province_user, hanoi):
    log_in(client, province_user)

    everyone = poll(client)
    failures = poll(client, f"{PAGE}?loc=loi-gui", etag=everyone.headers["ETag"])

    assert failures.status_code == 200
    assert row_ids(failures.get_data(as_text=True)) == hanoi.ids("BD")
    assert failures.headers["ETag"] != everyone.headers["ETag"]


def test_a_compressed_unchanged_poll_is_answered_304_before_any_table_is_built(app, client, province_user, hanoi):
    # Flask-Compress appends ":gzip" to the ETag of a compressed fragment; the browser sends it back.
    log_in(client, province_user)
    first = poll(client, **{"Accept-Encoding": "gzip"})
    assert first.headers["Content-Encoding"] == "gzip" and first.headers["ETag"].endswith(':gzip"')
    with app.app_context(), count_statements() as statements:
        unchanged = poll(client, etag=first.headers["ETag"], **{"Accept-Encoding": "gzip"})

    assert unchanged.status_code == 304 and unchanged.get_data() == b""
    # The fingerprint's few queries (and the login's), none of the respondent table's.
    assert statements and not any("respondent.full_name" in s.lower() for s in statements)


def test_on_postgresql_an_unchanged_poll_takes_two_round_trips(app, client, session, province_user, hanoi):
    """The account with the campaign and the province (polling.OWN_PROVINCE_POLLS), then the fingerprint: no
    BEGIN or ROLLBACK, since a poll only reads (polling.READ_ONLY_POLLS)."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite's statements are calls in the process, not round trips")
    log_in(client, province_user)
    etag = poll(client).headers["ETag"]

    with app.app_context(), count_round_trips() as seen:
        unchanged = poll(client, etag=etag)

    assert unchanged.status_code == 304
    assert len(seen) == 2, seen


def test_on_postgresql_a_poll_keeps_the_plan_of_its_account_and_campaign_statement(app, client, session,
                                                                                      province_user, hanoi):
    """Polls run on the pool of requests without transactions, where statements marked PREPARED are prepared
    and kept: the account's with the campaign is planned once per connection, not at every poll. A full load
    of the page in between (a transaction on the other pool, ended by ROLLBACK) takes none of them away."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite prepares nothing on a server")
    log_in(client, province_user)
    etag = poll(client).headers["ETag"]
    assert client.get(PAGE).status_code == 200

    with count_round_trips() as seen:
        assert poll(client, etag=etag).status_code == 304

    assert len(seen) == 2 and not any("DEALLOCATE" in trip for trip in seen), seen
    with app.app_context(), db.autocommit_engine.connect() as connection:
        kept = connection.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert any('FROM "user"' in statement and "is_current" in statement for statement in kept), kept


@pytest.mark.parametrize(("method", "path", "target", "read_only"), [
    ("GET", PAGE, "progress-live", True),
    ("GET", f"{PAGE}?q=lan", "progress-live", True),
    ("GET", PAGE, None, False),
    ("GET", PAGE, "operation-live", False),
    ("POST", "/khao-sat/tien-do/don-doc", "progress-live", False),
    ("GET", "/", "progress-live", False),
])
def test_only_the_polls_that_write_nothing_run_without_a_transaction(app, method, path, target, read_only):
    headers = {"HX-Request": "true", **({"HX-Target": target} if target else {})}
    with app.test_request_context(path, method=method, headers=headers):
        assert polling.is_read_only_poll() is read_only


def _submit(hanoi: Hanoi, client) -> str:
    hanoi.answer("F", "DP-LDPHONG")
    return f"{LOCALITY}: Đã nộp phiếu {MINISTRY}: Chưa trả lời"


def _remind(hanoi: Hanoi, client) -> str:
    assert client.post("/khao-sat/tien-do/don-doc", data={"invitation_id": str(hanoi["G"].invitation.id)}
                       ).status_code == 303
    return "09:01 01/02/2022"


def _correct(hanoi: Hanoi, client) -> str:
    app, session = hanoi.app, hanoi.session
    focal = make_user(session, "ha-noi-cntt", Role.IT_FOCAL, HA_NOI)
    with app.app_context():
        delivery.correct_address(session, focal, session.get(Invitation, hanoi["B"].invitation.id),
                                 "kimlan.dang@ha-noi.gov.vn", base_url="http://localhost",
                                 mail_domain=app.config["PORTAL_MAIL_DOMAIN"])
    return "kimlan.dang@ha-noi.gov.vn Đang chờ gửi"


def _deliver(hanoi: Hanoi, client) -> str:
    hanoi.deliver("H", "sent", now=DURING_SURVEY + timedelta(minutes=1))
    return "Đã gửi thư 09:01 01/02/2022"


def _resend(hanoi: Hanoi, client) -> str:
    # "Gửi lại" changes the invitation's delivery state only: no time of the page moves.
    app, session = hanoi.app, hanoi.session
    with app.app_context():
        invitations.resend(session, None, session.get(Invitation, hanoi["D"].invitation.id),
                           base_url="http://localhost", mail_domain=app.config["PORTAL_MAIL_DOMAIN"])
    return "nam.hq@ha-noi.gov.vn Đang chờ gửi"


def _bounce(hanoi: Hanoi, client) -> str:
    token = hanoi.session.get(OutboxMessage, hanoi.outbox_id("G")).bounce_token
    raw = f"Delivered-To: bounces+{token}@{hanoi.app.config['PORTAL_MAIL_DOMAIN']}\n".encode() + DSN
    bounces.intake(hanoi.session, [("dsn_14", raw)], now=DURING_SURVEY + timedelta(minutes=1),
                   bounce_local="bounces")
    return "Bị trả lại 09:01 01/02/2022"


@pytest.mark.parametrize(("change", "letter"), [
    (_submit, "F"), (_remind, "G"), (_correct, "B"), (_deliver, "H"), (_resend, "D"), (_bounce, "G"),
], ids=["submission", "reminder", "email-correction", "delivery-outcome", "resend", "bounce"])
def test_after_a_change_the_etag_changes_and_the_fragment_shows_the_new_state(
        app, client, session, province_user, hanoi, clock, change, letter):
    log_in(client, province_user)
    before = poll(client)
    assert poll(client, etag=before.headers["ETag"]).status_code == 304

    clock.move_to(DURING_SURVEY + timedelta(minutes=1), tick=False)
    expected = change(hanoi, client)
    after = poll(client, etag=before.headers["ETag"])

    assert after.status_code == 200
    assert after.headers["ETag"] != before.headers["ETag"]
    assert expected in row_text(after.get_data(as_text=True), hanoi[letter])
    assert poll(client, etag=after.headers["ETag"]).status_code == 304


def test_a_submission_shows_in_the_summary_of_the_next_poll(client, province_user, hanoi, clock):
    log_in(client, province_user)
    before = poll(client)

    clock.move_to(DURING_SURVEY + timedelta(minutes=1), tick=False)
    hanoi.answer("G", "DP-LDHUYEN")
    after = poll(client, etag=before.headers["ETag"]).get_data(as_text=True)

    assert summary_rows(after)[3] == ["4. Lãnh đạo UBND cấp huyện", "2", "1", "0", "0", "1", "1/2", "50,0%"]
    assert summary_rows(after)[4][-2:] == ["5/12", "41,7%"]


def test_after_the_deadline_a_poll_answers_286_to_stop_polling_even_when_nothing_changed(
        client, province_user, hanoi, clock):
    log_in(client, province_user)
    before = poll(client)

    clock.move_to(AFTER_DEADLINE, tick=False)
    log_in(client, province_user)
    unchanged = poll(client, etag=before.headers["ETag"])
    fresh = poll(client)

    for response in (unchanged, fresh):
        assert response.status_code == 286
        body = response.get_data(as_text=True)
        assert body.startswith('<div id="progress-live"') and "hx-trigger" not in body
        assert row_ids(body) == hanoi.ids("ABCDEFGH")
    page = client.get(PAGE).get_data(as_text=True)
    assert "Đã hết hạn trả lời phiếu." in text_of(page) and "hx-trigger" not in page


def test_without_javascript_the_refresh_link_reloads_the_page_with_its_filters(client, province_user, hanoi):
    log_in(client, province_user)

    page = client.get(PAGE, query_string={"loc": "chua-xong", "xep": "ten"}).get_data(as_text=True)

    link = re.search(r'<a class="button secondary" href="([^"]+)">Làm mới</a>', page)
    assert link is not None
    assert link.group(1) == "/khao-sat/tien-do/?loc=chua-xong&amp;xep=ten"
    assert 'hx-get="/khao-sat/tien-do/?loc=chua-xong&amp;xep=ten"' in page  # the poll keeps them too
    assert "Trang tự cập nhật mỗi 30 giây khi có thay đổi." in text_of(page)


def test_the_poll_interval_comes_from_the_configuration(app, client, province_user, hanoi):
    app.config["PORTAL_PROGRESS_POLL_SECONDS"] = 5
    log_in(client, province_user)

    page = client.get(PAGE).get_data(as_text=True)

    assert 'hx-trigger="every 5s"' in page
    assert "Trang tự cập nhật mỗi 5 giây khi có thay đổi." in text_of(page)


def test_a_poll_after_the_session_expired_redirects_the_whole_page_to_the_login(client, hanoi):
    response = poll(client)

    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/dang-nhap")


# ---------------------------------------------------------------- export of those who have not answered


def read_xlsx(data: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_export_lists_only_those_not_finished_and_neutralises_formulas(client, session, province_user, hanoi):
    formula = '=HYPERLINK("http://lua-dao.example/","Bấm vào đây")'
    session.exec(update(Respondent).where(Respondent.id == hanoi["D"].respondent.id).values(full_name=formula))
    session.commit()
    log_in(client, province_user)

    response = client.get(EXPORT)

    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "chua-tra-loi-ha-noi.xlsx" in response.headers["Content-Disposition"]
    rows = read_xlsx(response.data)
    assert rows[0][0] == "Người chưa hoàn thành phiếu khảo sát: Thành phố Hà Nội"
    assert rows[2][:7] == ["Họ và tên", "Chức vụ", "Cơ quan/đơn vị", "Nhóm", "Email", "Số điện thoại",
                           "Phiếu chưa nộp"]
    people = rows[3:]
    assert [row[4] for row in people] == [hanoi[x].respondent.email for x in "BCDFGH"]
    assert people[1][6] == f"{MINISTRY} (đang trả lời)"  # C: the form still open, not the one sent
    assert people[3][6] == f"{LOCALITY} (đang trả lời), {MINISTRY} (chưa trả lời)"
    assert people[0][7] == "Bị trả lại"
    assert people[2][0] == formula  # shown as the text it is, with no stray apostrophe
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    assert all(cell.data_type == "s" for cell in sheet[6] if cell.value is not None)
    assert sheet.cell(row=6, column=1).quotePrefix  # kept text, never run, even after an edit in Excel


# ---------------------------------------------------------------- never an answer


def _texts_of(response) -> str:
    if response.mimetype.endswith("spreadsheetml.sheet"):
        with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
            return "".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return response.get_data(as_text=True)


def test_no_page_fragment_or_export_a_province_or_it_focal_point_reaches_contains_an_answer(
        app, client, session, province_user, it_focal_user, hanoi):
    stored = session.exec(select(Answer.answers)).all()
    assert len(stored) == 6 and all(SECRET in text for text in stored)  # the answers are really there
    urls = [PAGE, EXPORT, "/dau-moi-cntt/loi-gui", "/dau-moi-cntt/loi-gui.xlsx", "/thong-bao/", "/"]
    urls += [f"{PAGE}?loc={show}" for show in progress.FILTERS]
    urls += [f"{PAGE}?xep={sort}" for sort in progress.SORTS]
    for user in (province_user, it_focal_user):
        log_in(client, user)
        for url in urls:
            for headers in ({}, POLL):
                response = client.get(url, headers=headers)
                assert response.status_code == 200, (user.username, url)
                text = _texts_of(response)
                assert SECRET not in text and fold(SECRET) not in fold(text), (user.username, url)


# ---------------------------------------------------------------- the ministry's national table


@pytest.fixture
def nation(app, session, ministry_user, hanoi, clock) -> dict[str, Hanoi]:
    """Hà Nội as above (4/12 forms, 2 failures) and Hải Phòng: 1/12 forms, 1 failure, all others sent."""
    send_list(session, HAI_PHONG, per_group=2)
    launch(app, session, ministry_user, [HAI_PHONG])
    haiphong = Hanoi(app, session, LaunchedSurvey(None, session.get(Province, HAI_PHONG),
                                                  sent_invitations(app, session, HAI_PHONG)))
    for letter in "ABCDEFG":
        haiphong.deliver(letter, "sent")
    haiphong.deliver("H", "failed", REFUSED_REPLY)
    haiphong.answer("G", "DP-LDHUYEN", submit=True)
    session.expire_all()
    return {"hanoi": hanoi, "haiphong": haiphong}


def test_the_national_totals_equal_the_sum_of_the_provinces(session, nation):
    campaign_id = nation["hanoi"].survey.campaign.id
    table, total = national_progress.national_table(session, campaign_id)

    assert len(table) == 63
    rows = {row.province_id: row for row in table}
    assert (rows[HA_NOI].people, rows[HA_NOI].invited, rows[HA_NOI].failed, rows[HA_NOI].submitted,
            rows[HA_NOI].expected) == (8, 5, 2, 4, 12)
    assert (rows[HAI_PHONG].people, rows[HAI_PHONG].invited, rows[HAI_PHONG].failed, rows[HAI_PHONG].submitted,
            rows[HAI_PHONG].expected) == (8, 7, 1, 1, 12)
    for name in ("people", "invited", "failed", "submitted", "expected"):
        assert getattr(total, name) == sum(getattr(row, name) for row in table), name
    assert (total.people, total.invited, total.failed, total.submitted, total.expected) == (16, 12, 3, 5, 24)
    assert sorted(rows[HA_NOI].by_group.values()) == [(0, 2), (1, 2), (1, 4), (2, 4)]
    assert sum(done for done, _ in total.by_group.values()) == 5
    assert rows[HA_NOI].list_status == "Đã gửi danh sách" and rows[2].list_status == "Chưa nhập"
    # Each province's own figures are those of its own progress page.
    summary = progress.province_summary(session, campaign_id, HA_NOI)[-1]
    assert (summary.people, summary.invited, summary.failed, summary.forms_submitted) == (8, 5, 2, 4)


def test_the_national_page_shows_the_totals_row(client, ministry_user, nation):
    log_in(client, ministry_user)

    page = client.get("/bo/tien-do").get_data(as_text=True)

    foot = text_of(page.split("<tfoot>", 1)[1].split("</tfoot>", 1)[0])
    assert foot.startswith("Cả nước 16 12 3")
    assert "5/24 20,8%" in foot
    row = text_of(page.split('href="/bo/tien-do/1"', 1)[1].split("</tr>", 1)[0])
    assert "Đã gửi danh sách 8 5 2" in row and "4/12 33,3%" in row and "09:00 01/02/2022" in row


def _province_order(client, sort: str) -> list[int]:
    page = client.get("/bo/tien-do", query_string={"xep": sort}).get_data(as_text=True)
    table = page.split('<table class="national">', 1)[1].split("<tfoot>", 1)[0]
    return [int(ident) for ident in re.findall(r'href="/bo/tien-do/(\d+)"', table)]


def test_each_sort_key_of_the_national_table_works(client, session, ministry_user, nation, clock):
    clock.move_to(DURING_SURVEY + timedelta(hours=1), tick=False)
    nation["haiphong"].answer("A", "DP-HDND")  # Hải Phòng: the latest activity
    log_in(client, ministry_user)
    provinces = {p.id: p for p in session.exec(select(Province).where(Province.is_active))}

    by_code = _province_order(client, "ma")
    by_name = _province_order(client, "ten")
    by_rate = _province_order(client, "ty-le")
    by_failures = _province_order(client, "loi")
    by_activity = _province_order(client, "hoat-dong")

    assert by_code == sorted(provinces)
    assert by_name == sorted(provinces, key=lambda pid: (fold(provinces[pid].short_name), pid))
    assert [provinces[pid].short_name for pid in by_name[:3]] == ["An Giang", "Bà Rịa - Vũng Tàu", "Bắc Giang"]
    assert by_name.index(48) < by_name.index(11) < by_name.index(1)  # Đà Nẵng, Điện Biên, Hà Nội: Đ with D
    assert by_rate[:2] == [HA_NOI, HAI_PHONG] and by_rate[2:] == sorted(set(provinces) - {HA_NOI, HAI_PHONG})
    assert by_failures[:2] == [HA_NOI, HAI_PHONG]
    assert by_activity[:2] == [HAI_PHONG, HA_NOI]
    assert sorted(by_name) == sorted(by_rate) == sorted(by_failures) == sorted(by_activity) == by_code


def test_the_chart_is_an_svg_with_a_title_and_one_bar_per_province_with_forms(client, ministry_user, nation):
    log_in(client, ministry_user)

    page = client.get("/bo/tien-do").get_data(as_text=True)

    svg = re.search(r"<svg\b.*?</svg>", page, re.S)
    assert svg is not None
    chart = svg.group(0)
    assert re.search(r"<title[^>]*>Tỷ lệ phiếu đã nộp của 2 tỉnh, thành phố, từ cao đến thấp</title>", chart)
    assert 'role="img"' in chart
    assert chart.count("<rect") == 2
    labels = re.findall(r'text-anchor="end" fill="#1b1b1b">([^<]+)</text>', chart)
    assert labels == ["Thành phố Hà Nội", "Thành phố Hải Phòng"]  # highest rate first
    assert "33,3%" in chart and "8,3%" in chart
    assert "<script" not in page.split("</header>", 1)[-1]  # no chart library


def test_the_ministry_sees_a_province_as_the_province_sees_it_without_remind_buttons(
        client, ministry_user, province_user, nation):
    log_in(client, province_user)
    own = client.get(PAGE).get_data(as_text=True)
    log_in(client, ministry_user)

    national = client.get("/bo/tien-do").get_data(as_text=True)
    response = client.get("/bo/tien-do/1")
    seen = response.get_data(as_text=True)

    assert 'href="/bo/tien-do/1"' in national
    assert response.status_code == 200
    assert "Chi tiết tiến độ khảo sát: Thành phố Hà Nội" in text_of(seen)
    assert summary_rows(seen) == summary_rows(own)
    assert row_ids(seen) == row_ids(own) == nation["hanoi"].ids("ABCDEFGH")
    assert [row_text(seen, p) for p in nation["hanoi"].people.values()] == [
        row_text(own, p) for p in nation["hanoi"].people.values()]
    assert "Đôn đốc" in text_of(own)
    assert "Đôn đốc tất cả" not in seen and "Đôn đốc những người" not in seen
    assert 'name="invitation_id"' not in seen
    assert 'hx-get="/bo/tien-do/1"' in seen  # the ministry's view polls its own URL
    fragment = poll(client, "/bo/tien-do/1")
    assert fragment.status_code == 200 and row_ids(fragment.get_data(as_text=True)) == row_ids(own)


@pytest.mark.parametrize("url", ["/bo/tien-do", "/bo/tien-do/1", "/bo/tien-do/31", "/bo/dau-moi-cntt"])
def test_province_and_it_focal_accounts_get_403_on_the_national_pages(client, province_user, it_focal_user, url):
    for user in (province_user, it_focal_user):
        log_in(client, user)
        assert client.get(url).status_code == 403, (user.username, url)


def test_the_ministry_view_of_an_unknown_province_is_404(client, ministry_user, hanoi):
    log_in(client, ministry_user)

    assert client.get("/bo/tien-do/999").status_code == 404


# ---------------------------------------------------------------- statements per request


def progress_statements(app, client, headers: dict) -> Statements:
    client.get(PAGE, headers=headers)  # warm: the first request of a client compiles templates
    with app.app_context(), count_statements() as statements:
        response = client.get(PAGE, headers=headers)
    assert response.status_code in {200, 304}
    return statements


def test_the_progress_fragment_sends_a_fixed_handful_of_statements_scoped_to_the_province(
        app, client, province_user, hanoi):
    log_in(client, province_user)

    statements = progress_statements(app, client, POLL)

    # user; campaign with the province; the fingerprint with the extension; one page of rows with its total;
    # their forms; groups; the summary's aggregates (one statement). None per row, none for the notices badge.
    assert len(statements) <= 7, statements.text()
    assert not any("noticerecipient" in s for s in statements)
    assert not any("questionnaireversion" in s for s in statements)  # parsed once per process
    assert not any("nonce" in s for s in statements)  # the links' secrets are not needed to show progress
    survey_tables = re.compile(r"\b(respondent|invitation|formprogress)\b")
    for statement in statements:
        if survey_tables.search(statement.split("FROM", 1)[-1]):
            # Each one filters on the province's own column, never on the campaign alone (the whole country).
            assert re.search(r"(respondent|invitation|formprogress)\.province_id = ", statement), statement
        if re.search(r"\bformprogress\b", statement.split("FROM", 1)[-1]):
            # And its forms on the campaign (the past years' stay in the table), or on the page's invitations.
            assert re.search(r"formprogress\.(campaign_id = |invitation_id IN )", statement), statement


def test_more_people_in_the_province_means_no_more_statements(app, client, session, province_user, hanoi):
    log_in(client, province_user)
    before = len(progress_statements(app, client, POLL))
    for letter in "BDGH":
        hanoi.open(letter)

    after = progress_statements(app, client, POLL)

    assert len(after) == before, after.text()


def test_an_unchanged_poll_costs_one_statement_beyond_the_request_basics(app, client, province_user, hanoi):
    log_in(client, province_user)
    etag = client.get(PAGE, headers=POLL).headers["ETag"]

    statements = progress_statements(app, client, {**POLL, "If-None-Match": etag})

    # The user; the campaign with the province and its place in the map; the fingerprint with the extension.
    assert len(statements) <= 3, statements.text()


@pytest.mark.parametrize("change", ["account_disabled", "password_changed", "no_current_campaign"])
def test_a_poll_that_reads_the_campaign_with_the_account_refuses_what_a_page_load_refuses(
        client, session, province_user, hanoi, change):
    """A poll of the province's page reads its account, the current campaign and the province in one
    statement (accounts.signed_in_user_and_place): an account ended since, or a campaign gone, is refused as
    the page refuses it (a province off the campaign's map: test_campaign_maps)."""
    log_in(client, province_user)
    etag = poll(client).headers["ETag"]
    if change == "account_disabled":
        province_user.is_active = False
    elif change == "password_changed":
        province_user.password_hash = province_user.password_hash[:-12] + "x" * 12
    else:
        hanoi.survey.campaign.is_current = False
    session.add_all([province_user, hanoi.survey.campaign])
    session.commit()

    polled = poll(client, etag=etag)
    page = client.get(PAGE)

    if change in ("account_disabled", "password_changed"):
        assert polled.status_code == 204 and "/dang-nhap" in polled.headers["HX-Redirect"]
        assert page.status_code == 302 and "/dang-nhap" in page.headers["Location"]
    else:
        assert polled.status_code == page.status_code == 409
