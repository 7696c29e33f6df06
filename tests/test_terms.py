"""One term per thing, on every page, export and email.

"Đã gửi" alone used to mean a list sent, an email delivered and a form submitted. The terms are now
"Đã gửi danh sách", "Đã gửi thư" and "Đã nộp phiếu"; forms are named ("Phiếu đánh giá địa phương",
"Phiếu đánh giá bộ chủ quản: Bộ …"), never shown by their code in the file; the ministry's menu says
"Đợt đánh giá"; the time zone is named one way, "giờ Việt Nam". This walks every page each role can
reach by links (and the spreadsheets they offer), the respondent's pages and every email the portal
wrote, and looks for the forbidden forms.
"""

from __future__ import annotations

import io
import re
from collections import deque
from urllib.parse import urljoin, urlsplit

import openpyxl
import pytest
from flask import Flask
from sqlmodel import select

from portal.domain import reminders
from portal.emails import render_email
from portal.models import DeliveryStatus, Invitation, OutboxMessage, Province, RespondentList
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in
from tests.support.html import text_of
from tests.support.survey import DURING_SURVEY, answer, launch_survey, questionnaire, send_list

FORBIDDEN = {
    "“Đã gửi” alone (say “Đã gửi danh sách”, “Đã gửi thư” or “Đã nộp phiếu”)":
        re.compile(r"Đã gửi(?! (danh sách|thư|thông báo|đề nghị))"),
    "“gửi phiếu” for a form submitted (say “nộp phiếu”)": re.compile(r"([Gg]ửi phiếu|[Pp]hiếu (đã|chưa) gửi)"),
    "“Chiến dịch” (say “Đợt đánh giá”)": re.compile(r"(?i)chiến dịch"),
    "a time zone not named “giờ Việt Nam”": re.compile(r"Asia/Ho_Chi_Minh|GMT|UTC|\bICT\b|giờ Hà Nội|múi giờ|giờ VN"),
}
# The ministry's questionnaire page shows each form's key in the file it imports, labelled as such.
FILE_KEY = re.compile(r"Mã trong tệp: \S+")
# The questionnaire set as a workbook is the file the ministry imports: its form codes are the file's keys.
# So is the criteria framework's workbook (its survey lines name questions by those keys), and the survey's analysis
# data, whose columns are the questionnaire file's keys ("form code.question id") for the analyst's codebook.
DOCUMENT_WORKBOOK = re.compile(r"^(/bo/phieu-khao-sat/(phien-ban-\d+|mau-bang-tinh)\.xlsx"
                               r"|/bo/bo-tieu-chi/(phien-ban-\d+|mau-bang-tinh)\.xlsx"
                               r"|/bo/ket-qua/\d+/khao-sat/du-lieu\.xlsx)$")
MAX_PAGES_PER_SHAPE = 2


def problems_in(text: str, codes: tuple[str, ...]) -> list[str]:
    text = FILE_KEY.sub("", text)
    found = [f"{name}: …{text[max(0, m.start() - 40):m.end() + 40]}…"
             for name, pattern in FORBIDDEN.items() for m in [pattern.search(text)] if m]
    found += [f"form code {code}" for code in codes if re.search(rf"(?<![\w-]){re.escape(code)}(?![\w-])", text)]
    return found


def readable(response) -> str | None:
    """The visible text of a page or of every cell of a spreadsheet; None for other files."""
    if response.mimetype == "text/html":
        return text_of(response.get_data(as_text=True))
    if response.get_data()[:2] == b"PK":
        book = openpyxl.load_workbook(io.BytesIO(response.get_data()), read_only=True)
        return " ".join(str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                        for cell in row if cell is not None)
    return None


def links(html: str, base: str) -> list[str]:
    found = re.findall(r'(?:href|hx-get)="([^"#]+)', html)
    found += [m for tag in re.findall(r"<form\b[^>]*>", html) if 'method="post"' not in tag.lower()
              for m in re.findall(r'action="([^"#]+)', tag)]
    paths = []
    for target in found:
        parts = urlsplit(urljoin(base, target.replace("&amp;", "&")))
        if parts.netloc in {"", "localhost"} and parts.path.startswith("/"):
            paths.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return paths


def walk(client, seeds: list[str], codes: tuple[str, ...]) -> tuple[int, list[str]]:
    """Every page reachable by links from the seeds (a couple of each shape): pages read and problems."""
    seen: set[str] = set()
    shapes: dict[str, int] = {}
    queue = deque(seeds)
    problems, read = [], 0
    while queue:
        path = queue.popleft()
        shape = re.sub(r"\d+", "N", path.split("?")[0])
        if path in seen or path.startswith(("/dang-xuat", "/static", "/assets")) or \
                shapes.get(shape, 0) >= MAX_PAGES_PER_SHAPE:
            continue
        seen.add(path)
        shapes[shape] = shapes.get(shape, 0) + 1
        response = client.get(path)
        text = readable(response) if response.status_code == 200 else None
        if text is None:
            continue
        read += 1
        problems += [f"{path}: {p}" for p in problems_in(text, () if DOCUMENT_WORKBOOK.match(path) else codes)]
        if response.mimetype == "text/html":
            queue.extend(links(response.get_data(as_text=True), f"http://localhost{path}"))
    return read, problems


@pytest.fixture
def campaign_under_way(app: Flask, session, ministry_user, province_user, it_focal_user, other_province_user,
                       time_machine):
    """Hà Nội launched (answers in, one invitation bounced, a reminder sent); Hải Phòng's list sent, waiting."""
    time_machine.move_to(DURING_SURVEY, tick=False)
    survey = launch_survey(app, session, ministry_user, HA_NOI)
    send_list(session, HAI_PHONG, per_group=1)
    answer(app, session, survey.of_group("LD_SO"), "DP-LDSO")
    answer(app, session, survey.of_group("LD_SO"), "BO-LD", submit=False)
    bounced = session.get(Invitation, survey.of_group("HDND").invitation.id)
    bounced.delivery_status = DeliveryStatus.BOUNCED.value
    session.add(bounced)
    session.commit()
    with app.app_context():
        reminders.remind(session, None, [session.get(Invitation, survey.of_group("LD_PHONG").invitation.id)],
                         base_url="http://localhost", mail_domain="localhost", tz_name="Asia/Ho_Chi_Minh")
    return survey


def codes_of(session) -> tuple[str, ...]:
    return tuple(form.code for form in questionnaire(session).forms)


@pytest.mark.parametrize("role", ["ministry_user", "province_user", "it_focal_user"])
def test_no_page_or_export_of_a_role_uses_a_forbidden_term(request, app, session, campaign_under_way, role):
    client = app.test_client()
    log_in(client, request.getfixturevalue(role))
    seeds = ["/", "/thong-bao/", "/khao-sat/danh-sach/", "/khao-sat/danh-sach/ra-soat", "/khao-sat/danh-sach/gui",
             "/khao-sat/danh-sach/xuat.xlsx", "/khao-sat/tien-do/", "/khao-sat/tien-do/chua-tra-loi.xlsx",
             f"/bo/danh-sach/{HA_NOI}", f"/bo/danh-sach/{HAI_PHONG}", f"/bo/tien-do/{HA_NOI}"]

    read, problems = walk(client, seeds, codes_of(session))

    assert read >= {"ministry_user": 20, "province_user": 10, "it_focal_user": 5}[role]
    assert problems == []


def test_the_respondents_pages_use_the_terms(app, session, campaign_under_way):
    person = campaign_under_way.of_group("LD_SO")
    client = app.test_client()
    pages = [person.url, person.form_url("BO-LD"), f"{person.url}/DP-LDSO/cam-on"]

    problems = [f"{url}: {p}" for url in pages
                for p in problems_in(text_of(client.get(url, follow_redirects=True).get_data(as_text=True)),
                                     codes_of(session))]

    assert problems == []


def test_every_email_uses_the_terms(app, session, campaign_under_way):
    messages = list(session.exec(select(OutboxMessage)))
    assert {m.kind for m in messages} >= {"invitation", "reminder"}
    hai_phong = session.get(Province, HAI_PHONG)
    rlist = session.exec(select(RespondentList).where(RespondentList.province_id == HAI_PHONG)).one()
    with app.app_context():
        list_sent = render_email("list-sent", {"province": hai_phong, "rlist": rlist})

    texts = [(m.kind, part) for m in messages for part in (m.subject, m.body_text, text_of(m.body_html))]
    texts += [("list-sent", part) for part in list_sent]
    problems = [f"{kind}: {p}" for kind, text in texts for p in problems_in(text, codes_of(session))]

    assert problems == []
