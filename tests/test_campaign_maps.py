"""Each campaign's map (portal/domain/units.py): the 2021 map of 63 provinces and their districts, the 2025 map
of 34 provinces and their wards and communes; copying a campaign carries its map; a list is checked against the
map of its campaign; a province merged in 2025 keeps its 2021 history, readable only."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
from sqlmodel import Session, select

from portal.domain import campaign_admin, demo, list_import, lists, units
from portal.domain.respondent_rules import RowInput
from portal.models import Campaign, CampaignProvince, District, Province, RespondentList, Role, User
from tests.support.accounts import HA_NOI, log_in, make_user
from tests.support.html import text_of
from tests.support.survey import send_list

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HA_GIANG, TUYEN_QUANG, HUE = 2, 8, 46

NEW_2026 = {"year": "2026", "name": "Xác định Chỉ số CCHC năm 2026", "plan_ref": "Kế hoạch số 1/KH-BNV",
            "it_focal_deadline": "10/01/2027", "list_deadline": "15/01/2027",
            "self_assessment_deadline": "15/02/2027", "response_deadline": "25/02/2027"}


def campaign_2026(session: Session, ministry_user: User, *, map_key: str = units.MAP_2025,
                  current: bool = False) -> Campaign:
    created = campaign_admin.create_campaign(session, ministry_user, {**NEW_2026, "ban_do": map_key})
    assert created.errors == {}
    if current:
        campaign_admin.make_current(session, ministry_user, created.campaign, confirmed=True)
    return created.campaign


def map_of(session: Session, campaign: Campaign) -> list[tuple]:
    return [(r.province_id, r.name, r.unit_map, r.unit_kind) for r in session.exec(
        select(CampaignProvince).where(CampaignProvince.campaign_id == campaign.id)
        .order_by(CampaignProvince.province_id))]


def test_a_2025_campaign_assesses_34_provinces_and_their_3321_wards_and_communes(client, session, ministry_user):
    log_in(client, ministry_user)

    response = client.post("/bo/dot-danh-gia/moi", data={**NEW_2026, "ban_do": "2025"})

    assert response.status_code == 303
    campaign = session.exec(select(Campaign).where(Campaign.year == 2026)).one()
    summary = units.summary(session, campaign)
    assert (summary.provinces, summary.units) == (34, 3321)
    assert summary.by_type == {"phường": 687, "xã": 2621, "đặc khu": 13}
    entry = units.map_entry(session, campaign, HUE)
    assert (entry.name, entry.short_name, entry.unit_kind) == ("Thành phố Huế", "Huế", "commune")
    assert units.map_entry(session, campaign, HA_GIANG) is None  # merged into Tuyên Quang
    page = text_of(client.get(f"/bo/dot-danh-gia/{campaign.id}/ban-do").get_data(as_text=True))
    assert "34 tỉnh, thành phố; 3.321 đơn vị hành chính cấp dưới" in page
    province_page = text_of(client.get(f"/bo/dot-danh-gia/{campaign.id}/ban-do/{TUYEN_QUANG}").get_data(as_text=True))
    assert "Tỉnh Tuyên Quang: 124 xã, phường, đặc khu" in province_page
    assert client.get(f"/bo/dot-danh-gia/{campaign.id}/ban-do/{HA_GIANG}").status_code == 404
    listing = text_of(client.get("/bo/dot-danh-gia").get_data(as_text=True))
    assert "Bản đồ: 34 tỉnh, thành phố; 3.321 xã, phường, đặc khu" in listing
    assert "Bản đồ: 63 tỉnh, thành phố; 696 quận, huyện, thị xã" in listing


def test_the_2021_map_stays_the_template_s_63_provinces_and_696_districts(session):
    template = session.exec(select(Campaign).where(Campaign.year == 2021)).one()

    summary = units.summary(session, template)

    assert (summary.provinces, summary.units) == (63, 696)
    assert units.map_entry(session, template, HA_GIANG).name == "Tỉnh Hà Giang"
    assert [d.name for d in units.units_of(session, template, HA_NOI)][:2] == ["Quận Ba Đình", "Quận Hoàn Kiếm"]


def test_a_campaign_from_scratch_refuses_an_unknown_map_and_saves_nothing(client, session, ministry_user):
    log_in(client, ministry_user)

    response = client.post("/bo/dot-danh-gia/moi", data={**NEW_2026, "ban_do": "1999"})

    assert response.status_code == 422
    assert "Vui lòng chọn bản đồ hành chính của đợt" in text_of(response.get_data(as_text=True))
    assert session.exec(select(Campaign).where(Campaign.year == 2026)).first() is None


def test_copying_a_campaign_carries_its_map_and_a_new_one_can_take_another_campaign_s_map(
        client, session, ministry_user):
    source = campaign_2026(session, ministry_user)
    log_in(client, ministry_user)

    copied = client.post(f"/bo/dot-danh-gia/moi?tu={source.id}",
                         data={**NEW_2026, "year": "2027", "name": "Năm 2027", "tu": str(source.id)})
    like = client.post("/bo/dot-danh-gia/moi", data={**NEW_2026, "year": "2028", "name": "Năm 2028",
                                                     "ban_do": f"dot-{source.id}"})

    assert (copied.status_code, like.status_code) == (303, 303)
    for year in (2027, 2028):
        campaign = session.exec(select(Campaign).where(Campaign.year == year)).one()
        assert map_of(session, campaign) == map_of(session, source)
        assert len(map_of(session, campaign)) == 34


def test_a_list_in_a_2025_campaign_takes_the_province_s_wards_and_communes_as_units(session, ministry_user):
    campaign = campaign_2026(session, ministry_user, current=True)
    hanoi = session.get(Province, HA_NOI)
    account = make_user(session, "ha-noi", Role.PROVINCE, HA_NOI)
    rows = demo.sample_rows(session, hanoi, campaign=campaign)
    fourth = [r for r in rows if r["group"] == "4"]
    fourth[0]["unit"] = "UBND phường Hoàn Kiếm"  # a ward of Hà Nội in 2025
    fourth[1]["unit"] = "Quận Ba Đình"  # a district: none since 1 July 2025
    fourth[2]["unit"] = "Xã Minh Tân"  # a commune of another province
    rlist = lists.get_or_create_list(session, campaign, HA_NOI)

    list_import.import_rows(session, account, rlist, campaign, hanoi,
                      [RowInput(key=n, number=n + 1, values=row) for n, row in enumerate(rows, start=1)], "ds.xlsx")

    people = {p.full_name: p for p in lists.review_page(session, rlist, per_page=500).rows}
    ward = people[fourth[0]["full_name"]]
    unit = session.get(District, ward.district_id)
    assert (ward.unit, unit.unit_map, unit.province_id, ward.error_count) == ("Phường Hoàn Kiếm", "2025", HA_NOI, 0)
    assert [p["message"] for p in lists.row_problems(people[fourth[1]["full_name"]])] == [
        "Dòng {}, cột Cơ quan/đơn vị: “Quận Ba Đình” không phải xã, phường hoặc đặc khu thuộc thành phố Hà Nội."
        .format(people[fourth[1]["full_name"]].row_number)]
    assert people[fourth[2]["full_name"]].error_count == 1
    # The other sample rows name wards of Hà Nội's 2025 map and pass.
    assert sum(p.error_count for p in people.values()) == 2
    # The template's drop-down offers the province's wards and communes, not the 2021 districts.
    book = openpyxl.load_workbook(io.BytesIO(lists.template_for(session, campaign, hanoi)))
    cells = {c.value for sheet in book.worksheets for row in sheet.iter_rows() for c in row}
    assert {"Phường Hoàn Kiếm", "Xã Sóc Sơn"} <= cells and "Quận Ba Đình" not in cells


def test_a_province_merged_in_2025_reads_its_2021_list_and_progress_and_changes_nothing(
        client, session, ministry_user):
    old = session.exec(select(Campaign).where(Campaign.is_current == True)).one()  # noqa: E712
    send_list(session, HA_GIANG)
    hagiang = make_user(session, "ha-giang", Role.PROVINCE, HA_GIANG)
    tuyenquang = make_user(session, "tuyen-quang", Role.PROVINCE, TUYEN_QUANG)
    rlist = lists.list_for(session, old, HA_GIANG)
    person = lists.review_page(session, rlist, per_page=1).rows[0]
    campaign_2026(session, ministry_user, current=True)

    log_in(client, hagiang)
    home = text_of(client.get("/").get_data(as_text=True))
    past_list = client.get(f"/dot/{old.id}/tinh/{HA_GIANG}/danh-sach")
    past_progress = client.get(f"/dot/{old.id}/tinh/{HA_GIANG}/tien-do")
    work = client.get("/khao-sat/danh-sach/")
    # A poll reads the campaign and the province with the account (accounts.signed_in_user_and_place).
    poll = client.get("/khao-sat/tien-do/", headers={"HX-Request": "true", "HX-Target": "progress-live"})
    upload = client.post("/khao-sat/danh-sach/tai-len", data={})
    edit = client.post(f"/khao-sat/danh-sach/nguoi/{person.id}", data={"full_name": "Đổi tên"})

    assert "Tỉnh Hà Giang không thuộc bản đồ hành chính" in home and old.name in home
    assert past_list.status_code == 200 and person.full_name in text_of(past_list.get_data(as_text=True))
    assert past_progress.status_code == 200
    assert work.status_code == 409 and "không thuộc bản đồ hành chính" in text_of(work.get_data(as_text=True))
    assert poll.status_code == 409 and "không thuộc bản đồ hành chính" in text_of(poll.get_data(as_text=True))
    assert upload.status_code in (409, 404) and edit.status_code in (409, 404, 405)
    session.expire_all()
    assert session.get(RespondentList, rlist.id).version == rlist.version
    # The province that continues works on the new campaign; the ministry reads Hà Giang's 2021 list.
    log_in(client, tuyenquang)
    assert client.get("/khao-sat/danh-sach/").status_code == 200
    log_in(client, ministry_user)
    assert person.full_name in text_of(client.get(f"/dot/{old.id}/tinh/{HA_GIANG}/danh-sach").get_data(as_text=True))


def test_making_current_a_campaign_with_a_province_new_to_the_maps_gives_it_an_account(
        client, session, ministry_user):
    campaign = campaign_2026(session, ministry_user)
    session.add(Province(id=99, name="Tỉnh Thử Nghiệm", short_name="Thử Nghiệm", slug="thu-nghiem"))
    session.flush()
    session.add(CampaignProvince(campaign_id=campaign.id, province_id=99, name="Tỉnh Thử Nghiệm",
                                 short_name="Thử Nghiệm", unit_map="", unit_kind=""))
    session.commit()
    log_in(client, ministry_user)

    response = client.post(f"/bo/dot-danh-gia/{campaign.id}/hien-hanh", data={"xac_nhan": "1"})

    assert response.status_code == 200
    page = text_of(response.get_data(as_text=True))
    assert "Tài khoản mới cho 1 tỉnh, thành phố" in page and "thu-nghiem" in page
    account = session.exec(select(User).where(User.username == "thu-nghiem")).one()
    assert (account.province_id, account.role, account.must_change_password) == (99, "province", True)
    # The 34 provinces that continue already had their place in the 2021 map: none of them is new.
    assert session.exec(select(User).where(User.role == "province")).all() == [account]


def test_a_campaign_made_by_hand_without_a_map_counts_as_on_the_2021_map(session):
    bare = Campaign(year=2030, name="Đợt thử", it_focal_deadline=datetime(2030, 1, 1).date(),
                    list_deadline=datetime(2030, 1, 2).date(), self_assessment_deadline=datetime(2030, 1, 3).date(),
                    response_deadline=datetime(2030, 1, 4).date())
    session.add(bare)
    session.commit()

    assert len(units.provinces_of(session, bare)) == 63
    assert units.unit_kind_of(session, bare, HA_NOI).code == "district"
