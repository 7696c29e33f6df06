"""The ministry's overview with the appraisal: appraised score, states, late flags, and its .xlsx export read back.

2021 campaign (self-assessment deadline 15/02/2022), sample framework. Hà Nội sent on time and is appraised;
Hải Phòng sent on 18/02 under an exception until 20/02 (late against the general deadline); the others never sent.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from portal.domain import appraisal, appraisal_overview, assessment, framework
from portal.domain.campaigns import current_campaign
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HCM = "Asia/Ho_Chi_Minh"


@pytest.fixture
def setting(session, clock, province_user, other_province_user, ministry_user):
    campaign = current_campaign(session)
    version = framework.load_sample(session, campaign)
    content = framework.load(version)
    rows = {}
    for province_id, user in ((HA_NOI, province_user), (HAI_PHONG, other_province_user)):
        row = assessment.get_or_create(session, campaign, province_id)
        for code, form in (("1.1.1", {"answer": "yes"}), ("1.2.1", {"cases": "0"})):
            assert assessment.save_line(session, user, row, campaign, version, content, content.line(code),
                                        {**form, "version": "0"}, HCM).ok
        rows[province_id] = row
    rows[HA_NOI].sent_at = datetime(2022, 2, 14, 10, 0, tzinfo=TZ)
    rows[HAI_PHONG].exception_until = date(2022, 2, 20)
    rows[HAI_PHONG].sent_at = datetime(2022, 2, 18, 10, 0, tzinfo=TZ)
    session.add_all(rows.values())
    session.commit()
    assert appraisal.save_score(session, ministry_user, rows[HA_NOI], campaign, content.line("1.1.1"),
                                {"answer": "no", "version": "0", "round": "1"}, HCM).ok
    clock.move_to(datetime(2022, 2, 21, 9, 0, tzinfo=TZ), tick=False)
    return campaign, content


def test_the_overview_shows_appraised_scores_states_and_late_flags(session, setting):
    campaign, content = setting

    rows = {row.base.province.id: row for row in appraisal_overview.overview(session, campaign, content, HCM)}

    hanoi, haiphong = rows.pop(HA_NOI), rows.pop(HAI_PHONG)
    assert (hanoi.state, hanoi.base.score, hanoi.appraised, hanoi.flags) == ("đang thẩm định", 2.0, 1.0, [])
    assert (haiphong.state, haiphong.appraised, haiphong.flags) == ("đã gửi", None, ["gửi sau hạn chung"])
    assert {row.state for row in rows.values()} == {"khóa khi chưa gửi"}
    assert {tuple(row.flags) for row in rows.values()} == {("khóa khi chưa gửi",)}


def test_the_overview_page_links_each_sent_province_to_its_appraisal(client, session, ministry_user, setting):
    log_in(client, ministry_user)

    page = client.get("/bo/tu-danh-gia/").get_data(as_text=True)

    assert "Điểm thẩm định" in page and "Gửi sau hạn chung" in page and "(tạm tính)" in page
    assert page.count(">Thẩm định<span") >= 2


def test_the_overview_export_reads_back_with_vietnamese_headers_and_dates(client, session, ministry_user, setting):
    log_in(client, ministry_user)

    response = client.get("/bo/tu-danh-gia/xuat.xlsx")

    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet["A1"].value == "Tự đánh giá và thẩm định: Xác định Chỉ số CCHC năm 2021"
    assert [cell.value for cell in sheet[3]] == appraisal_overview.HEADERS
    rows = {row[1]: row for row in sheet.iter_rows(min_row=4, values_only=True)}
    hanoi, haiphong = rows["Thành phố Hà Nội"], rows["Thành phố Hải Phòng"]
    assert hanoi[2:8] == ("Đang thẩm định", "2/75", 2, 100, 1, "Vòng 1: đang thẩm định")
    assert hanoi[9].date() == date(2022, 2, 14) and hanoi[10:] == (None, None)
    assert haiphong[8].date() == date(2022, 2, 20) and haiphong[10] == "Có"
    dated = next(sheet.iter_rows(min_row=4 + list(rows).index("Thành phố Hà Nội"), max_row=4 + list(rows).index(
        "Thành phố Hà Nội")))
    assert dated[9].number_format == "dd/mm/yyyy"
    assert sum(1 for row in rows.values() if row[11] == "Có") == len(rows) - 2
