"""The ministry's 63-province tables (issue 8): each exports to .xlsx with the page's columns and filters.

The files are read back with openpyxl: the header row must be the page's <thead>, the rows the page's rows
(the same filter and order), text cells text (never a formula).
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime

import openpyxl
import pytest
import time_machine
from sqlmodel import select

from portal.domain import lists
from portal.domain.campaigns import current_campaign
from portal.models import DeliveryStatus, Invitation, Province, Role
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in, make_user
from tests.support.html import text_of
from tests.support.survey import launch, load_questionnaire, send_list

DA_NANG, CAN_THO, QUANG_NINH = 48, 92, 22
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def header_cells(html: str) -> list[str]:
    head = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    return [text_of(cell) for cell in re.findall(r"<th\b[^>]*>(.*?)</th>", head, re.S)]


def body_rows(html: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    return [[text_of(cell) for cell in re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", row, re.S)]
            for row in re.findall(r"<tr\b[^>]*>(.*?)</tr>", body, re.S)]


def workbook_rows(response) -> tuple[list[str], list[list[object]], str]:
    """(headers, rows, title) of an exported sheet: a title, a blank row, then the header row."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == XLSX
    assert response.headers["Content-Disposition"].startswith("attachment;")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    return [str(v) for v in values[2]], [[("" if v is None else v) for v in row] for row in values[3:]], values[0][0]


def as_text(row: list[object]) -> list[str]:
    return [str(v) for v in row]


@pytest.fixture
def ministry(app, ministry_user):
    client = app.test_client()
    log_in(client, ministry_user)
    return client


@pytest.fixture
def nation(app, session, ministry_user):
    """Hà Nội launched; Hải Phòng sent, waiting; Đà Nẵng drafting with an extension to 20/01; Cần Thơ drafting;
    the others never started. The list deadline was 15/01/2022; tables are read on 17/01/2022."""
    send_list(session, HA_NOI)
    send_list(session, HAI_PHONG)
    load_questionnaire(session, ministry_user)
    with time_machine.travel("2022-01-16 09:00 +0700", tick=False):
        launch(app, session, ministry_user, [HA_NOI])
    campaign = current_campaign(session)
    for province_id in (DA_NANG, CAN_THO):
        rlist = lists.get_or_create_list(session, campaign, province_id)
        rlist.uploaded_at = datetime(2022, 1, 12, tzinfo=UTC)
        session.add(rlist)
    session.commit()
    da_nang = lists.list_for(session, campaign, DA_NANG)
    lists.grant_extension(session, ministry_user, da_nang, session.get(Province, DA_NANG), date(2022, 1, 20),
                          "Sáp nhập sở", tz_name="Asia/Ho_Chi_Minh", now=datetime(2022, 1, 14, tzinfo=UTC))
    with time_machine.travel("2022-01-17 09:00 +0700", tick=False) as traveller:
        yield traveller


# ---------------------------------------------------------------- lists


def test_the_lists_table_tells_waiting_from_launched_and_flags_late_provinces(nation, ministry):
    rows = {r[0]: r for r in body_rows(ministry.get("/bo/danh-sach").get_data(as_text=True))}

    assert rows["Thành phố Hà Nội"][1] == "Đã phát hành khảo sát"
    assert rows["Thành phố Hải Phòng"][1] == "Đã gửi danh sách, chờ phát hành"
    assert rows["Thành phố Hà Nội"][-1] == rows["Thành phố Hải Phòng"][-1] == ""
    # Đà Nẵng's extension runs to 20/01: not late yet.
    assert rows["Thành phố Đà Nẵng"][-3:] == ["20/01/2022", "20/01/2022", ""]
    assert rows["Thành phố Cần Thơ"][-1] == "Quá hạn, chưa gửi (hạn 15/01/2022)"
    assert rows["Tỉnh Quảng Ninh"][-1] == "Quá hạn, chưa gửi (hạn 15/01/2022)"


def test_a_province_whose_extension_ran_out_is_flagged(nation, ministry, ministry_user):
    with time_machine.travel("2022-01-21 09:00 +0700", tick=False):
        log_in(ministry, ministry_user)  # a session lasts 8 hours
        rows = {r[0]: r for r in body_rows(ministry.get("/bo/danh-sach").get_data(as_text=True))}

    assert rows["Thành phố Đà Nẵng"][-1] == "Quá hạn, chưa gửi (hạn 20/01/2022)"


@pytest.mark.parametrize(("status", "expected"), [
    ("waiting", ["Thành phố Hải Phòng"]),
    ("launched", ["Thành phố Hà Nội"]),
    ("sent", ["Thành phố Hà Nội", "Thành phố Hải Phòng"]),
    ("draft", ["Thành phố Đà Nẵng", "Thành phố Cần Thơ"]),
])
def test_the_lists_table_filters_by_stage(nation, ministry, status, expected):
    rows = body_rows(ministry.get(f"/bo/danh-sach?trang-thai={status}").get_data(as_text=True))

    assert [r[0] for r in rows] == expected


def test_the_overdue_filter_shows_every_late_province_and_only_them(nation, ministry):
    rows = body_rows(ministry.get("/bo/danh-sach?trang-thai=overdue").get_data(as_text=True))

    assert len(rows) == 63 - 3  # all but Hà Nội, Hải Phòng (sent) and Đà Nẵng (extended)
    assert {r[-1] for r in rows} == {"Quá hạn, chưa gửi (hạn 15/01/2022)"}


@pytest.mark.parametrize("status", ["", "overdue", "waiting", "draft"])
def test_the_lists_export_has_the_page_columns_and_rows(nation, ministry, status):
    html = ministry.get(f"/bo/danh-sach?trang-thai={status}").get_data(as_text=True)

    headers, rows, title = workbook_rows(ministry.get(f"/bo/danh-sach/xuat.xlsx?trang-thai={status}"))

    assert f'href="/bo/danh-sach/xuat.xlsx{"?trang-thai=" + status if status else ""}"' in html
    assert headers == header_cells(html)
    assert [as_text(r) for r in rows] == body_rows(html)
    assert title.startswith("Danh sách đối tượng khảo sát của các địa phương")


# ---------------------------------------------------------------- progress


@pytest.mark.parametrize("sort", ["ma", "ten", "ty-le"])
def test_the_progress_export_has_the_page_columns_in_the_page_order(nation, ministry, sort):
    html = ministry.get(f"/bo/tien-do?xep={sort}").get_data(as_text=True)

    headers, rows, _title = workbook_rows(ministry.get(f"/bo/tien-do/xuat.xlsx?xep={sort}"))

    assert headers == header_cells(html)
    page_rows = body_rows(html)
    assert [r[0] for r in rows[:-1]] == [r[0] for r in page_rows]
    assert rows[-1][0] == "Cả nước"
    hanoi = next(r for r in rows if r[0] == "Thành phố Hà Nội")
    shown = next(r for r in page_rows if r[0] == "Thành phố Hà Nội")
    assert hanoi[2] == int(shown[2]) and hanoi[3] == int(shown[3])  # people, invitations sent: numbers
    assert hanoi[-3] == shown[-3]  # forms submitted/expected


# ---------------------------------------------------------------- IT focal points


@pytest.fixture
def focal_points(session, nation):
    """Hà Nội registered on time; a Hải Phòng focal point whose name is a formula."""
    campaign = current_campaign(session)
    for province_id, name, when in ((HA_NOI, "Trần Minh Đức", datetime(2022, 1, 5, tzinfo=UTC)),
                                    (HAI_PHONG, '=HYPERLINK("http://x.example","Bấm")',
                                     datetime(2022, 1, 12, tzinfo=UTC))):
        user = make_user(session, f"p{province_id}-cntt", Role.IT_FOCAL, province_id)
        user.full_name, user.position, user.phone, user.email = name, "Chuyên viên", "0912345678", "a@b.gov.vn"
        user.registered_at = when
        session.add(user)
    session.commit()
    return campaign


@pytest.mark.parametrize("status", ["", "on_time", "late", "missing"])
def test_the_focal_export_has_the_page_columns_and_filter(focal_points, ministry, status):
    html = ministry.get(f"/bo/dau-moi-cntt?tinh-trang={status}").get_data(as_text=True)

    headers, rows, _title = workbook_rows(ministry.get(f"/bo/dau-moi-cntt/xuat.xlsx?tinh-trang={status}"))

    assert headers == header_cells(html)
    assert [r[0] for r in rows] == [r[0] for r in body_rows(html)]
    assert len(rows) == {"": 63, "on_time": 1, "late": 1, "missing": 61}[status]


def test_a_formula_in_the_focal_table_is_exported_as_text(focal_points, ministry):
    response = ministry.get("/bo/dau-moi-cntt/xuat.xlsx?tinh-trang=late")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active

    name = sheet.cell(row=4, column=3)
    assert name.data_type == "s"
    assert str(name.value).endswith('=HYPERLINK("http://x.example","Bấm")')
    assert sheet.cell(row=4, column=5).value == "0912345678"


# ---------------------------------------------------------------- delivery errors


@pytest.fixture
def failures(session, nation):
    """Two of Hà Nội's invitations bounced and one was refused."""
    invitations = list(session.exec(select(Invitation).where(Invitation.province_id == HA_NOI)
                                    .order_by(Invitation.id)))
    for invitation, state in zip(invitations, (DeliveryStatus.BOUNCED, DeliveryStatus.BOUNCED,
                                               DeliveryStatus.FAILED), strict=False):
        invitation.delivery_status = state.value
        invitation.delivery_at = datetime(2022, 1, 16, 10, 0, tzinfo=UTC)
        invitation.delivery_reply = "550 5.1.1 User unknown"
        session.add(invitation)
    session.commit()


def test_the_delivery_table_counts_each_province_undelivered_invitations(failures, ministry):
    rows = {r[0]: r for r in body_rows(ministry.get("/bo/loi-gui-thu").get_data(as_text=True))}

    assert rows["Thành phố Hà Nội"][1:7] == ["1", "2", "0", "0", "3", "17:00 16/01/2022"]
    assert rows["Thành phố Hải Phòng"][1:6] == ["0", "0", "0", "0", "0"]
    assert rows["Thành phố Hà Nội"][7] == "Chưa đăng ký"


@pytest.mark.parametrize("show", ["", "co-loi"])
def test_the_delivery_export_has_the_page_columns_and_filter(failures, ministry, show):
    html = ministry.get(f"/bo/loi-gui-thu?loc={show}").get_data(as_text=True)

    headers, rows, _title = workbook_rows(ministry.get(f"/bo/loi-gui-thu/xuat.xlsx?loc={show}"))

    assert headers == header_cells(html)
    assert [as_text(r) for r in rows] == body_rows(html)
    assert len(rows) == (1 if show else 63)


def test_province_staff_cannot_download_the_national_tables(app, session, failures, province_user):
    client = app.test_client()
    log_in(client, province_user)

    for url in ("/bo/danh-sach/xuat.xlsx", "/bo/tien-do/xuat.xlsx", "/bo/dau-moi-cntt/xuat.xlsx",
                "/bo/loi-gui-thu/xuat.xlsx", "/bo/loi-gui-thu"):
        assert client.get(url).status_code == 403

