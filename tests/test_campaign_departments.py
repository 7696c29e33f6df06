"""Each campaign's ministries and each province's departments (portal/domain/campaign_departments.py,
departments.py, the ministry's pages under /bo/dot-danh-gia/<id>/so-nganh): seeded per map, copied with a campaign,
edited by the ministry in one campaign without touching another, added to by a province in the current campaign
only; past delivery errors read-only; headings that name a province as the campaign's map does."""

from __future__ import annotations

import io

import pytest
from sqlmodel import Session, select

from portal.domain import campaign_admin, campaign_departments, departments, lists, units
from portal.domain.campaigns import PastCampaign, current_campaign
from portal.models import (
    AuditEntry,
    Campaign,
    DeliveryStatus,
    Department,
    Invitation,
    Ministry,
    Province,
    Role,
    User,
)
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in, make_user
from tests.support.html import text_of
from tests.support.respondent_files import GROUP_1, GROUP_2, xlsx_bytes
from tests.support.survey import DURING_SURVEY, launch_survey, send_list
from tests.test_migrations import empty_database_url  # noqa: F401 - the fixture of an empty database

HA_GIANG, YEN_BAI, HUE = 2, 15, 46
NEW = {"year": "2026", "name": "Xác định Chỉ số CCHC năm 2026", "plan_ref": "Kế hoạch số 1/KH-BNV",
       "it_focal_deadline": "10/01/2027", "list_deadline": "15/01/2027",
       "self_assessment_deadline": "15/02/2027", "response_deadline": "25/02/2027"}
MINISTRIES_2025 = [
    "Bộ Quốc phòng", "Bộ Công an", "Bộ Ngoại giao", "Bộ Nội vụ", "Bộ Tư pháp", "Bộ Tài chính", "Bộ Công Thương",
    "Bộ Nông nghiệp và Môi trường", "Bộ Xây dựng", "Bộ Văn hóa, Thể thao và Du lịch", "Bộ Khoa học và Công nghệ",
    "Bộ Giáo dục và Đào tạo", "Bộ Y tế", "Bộ Dân tộc và Tôn giáo", "Ngân hàng Nhà nước Việt Nam",
    "Thanh tra Chính phủ", "Văn phòng Chính phủ"]


def create(session: Session, actor: User, *, source: Campaign | None = None, map_key: str = units.MAP_2025,
           current: bool = False, **values: str) -> Campaign:
    created = campaign_admin.create_campaign(session, actor, {**NEW, "ban_do": map_key, **values}, source=source)
    assert created.errors == {}
    if current:
        campaign_admin.make_current(session, actor, created.campaign, confirmed=True)
    return created.campaign


def names(session: Session, campaign: Campaign, province_id: int, *, with_retired: bool = False) -> list[str]:
    return [d.name for d, _m in campaign_departments.departments_of(session, campaign.id, province_id,
                                                                     with_retired=with_retired)]


def ministry_of(session: Session, code: str) -> Ministry:
    return session.exec(select(Ministry).where(Ministry.code == code)).one()


# ---------------------------------------------------------------- seeded per map, copied with a campaign


def test_the_2021_campaign_keeps_its_22_ministries_and_every_province_its_departments(session):
    campaign = current_campaign(session)

    ministries = campaign_departments.ministries_of(session, campaign.id)

    assert len(ministries) == 22 and ministries[8].name == "Bộ Nông nghiệp và Phát triển nông thôn"
    assert {"Sở Du lịch", "Sở Văn hóa và Thể thao", "Sở Giao thông vận tải"} <= set(names(session, campaign, HA_NOI))
    assert "Thanh tra thành phố" in names(session, campaign, HA_NOI)
    assert "Thanh tra tỉnh" in names(session, campaign, YEN_BAI)


def test_a_campaign_on_the_2025_map_has_the_17_ministries_and_the_merged_departments(session, ministry_user):
    campaign = create(session, ministry_user)

    assert [m.name for m in campaign_departments.ministries_of(session, campaign.id)] == MINISTRIES_2025
    hanoi = names(session, campaign, HA_NOI)
    assert hanoi[:3] == ["Sở Nội vụ", "Sở Tư pháp", "Sở Tài chính"]
    assert {"Sở Nông nghiệp và Môi trường", "Sở Quy hoạch - Kiến trúc", "Văn phòng Ủy ban nhân dân thành phố"} <= set(
        hanoi)
    assert not {"Sở Giao thông vận tải", "Sở Kế hoạch và Đầu tư", "Sở Du lịch"} & set(hanoi)
    assert "Thanh tra thành phố" in names(session, campaign, HUE)
    assert "Thanh tra tỉnh" in names(session, campaign, YEN_BAI)  # the code of Yên Bái, now Lào Cai
    assert names(session, campaign, HA_GIANG) == []  # merged into Tuyên Quang
    farming = session.exec(select(Department).where(Department.campaign_id == campaign.id,
                                                    Department.province_id == HUE,
                                                    Department.name == "Sở Nông nghiệp và Môi trường")).one()
    assert farming.ministry_id == ministry_of(session, "BNNMT").id


def test_a_copy_carries_the_ministries_and_the_departments_in_use_as_rows_of_its_own(session, ministry_user):
    source = create(session, ministry_user)
    hanoi = session.get(Province, HA_NOI)
    travel = departments.ministry_adds_department(session, ministry_user, source, hanoi, "Sở Du lịch",
                                                  ministry_of(session, "BVHTTDL").id)
    [foreign] = [d for d, _m in campaign_departments.departments_of(session, source.id, HA_NOI)
                 if d.name == "Sở Quy hoạch - Kiến trúc"]
    departments.retire_department(session, ministry_user, foreign, "Thử ngừng")

    copy = create(session, ministry_user, source=source, year="2027", name="Xác định Chỉ số CCHC năm 2027")

    assert campaign_departments.ministries_of(session, copy.id) == campaign_departments.ministries_of(session,
                                                                                                       source.id)
    assert names(session, copy, HA_NOI) == names(session, source, HA_NOI)
    assert "Sở Du lịch" in names(session, copy, HA_NOI) and "Sở Quy hoạch - Kiến trúc" not in names(session, copy,
                                                                                                      HA_NOI)
    copied = session.exec(select(Department).where(Department.campaign_id == copy.id,
                                                   Department.name == "Sở Du lịch")).one()
    assert copied.id != travel.id and copied.ministry_id == travel.ministry_id


# ---------------------------------------------------------------- the ministry's edits


def test_the_ministry_adds_renames_reparents_and_retires_a_department_of_a_prepared_campaign(
        client, session, ministry_user):
    old = current_campaign(session)
    before_2021 = names(session, old, HA_NOI, with_retired=True)
    campaign = create(session, ministry_user)
    base = f"/bo/dot-danh-gia/{campaign.id}/so-nganh/{HA_NOI}"
    log_in(client, ministry_user)
    religion = ministry_of(session, "BDTTG")

    listing = text_of(client.get(f"/bo/dot-danh-gia/{campaign.id}/so-nganh").get_data(as_text=True))
    added = client.post(base, data={"ten": "Sở Dân tộc và Tôn giáo", "bo": religion.id, "ly_do": "Nghị định 45"})
    twice = client.post(base, data={"ten": "sở dân tộc và tôn giáo", "bo": religion.id})
    wrong = client.post(base, data={"ten": "Sở Mới", "bo": ministry_of(session, "BGTVT").id})  # not on the 2025 list

    assert "Bộ Dân tộc và Tôn giáo" in listing and "Thành phố Hà Nội" in listing
    assert added.status_code == 303
    assert twice.status_code == 422 and "“Sở Dân tộc và Tôn giáo” đã có trong danh mục" in text_of(
        twice.get_data(as_text=True))
    assert wrong.status_code == 422 and "Vui lòng chọn bộ, ngành chủ quản" in text_of(wrong.get_data(as_text=True))
    department = session.exec(select(Department).where(Department.campaign_id == campaign.id,
                                                       Department.name == "Sở Dân tộc và Tôn giáo")).one()

    renamed = client.post(f"{base}/{department.id}", data={"ten": "Sở Dân tộc và Tôn giáo thành phố",
                                                           "bo": ministry_of(session, "BNV").id, "ly_do": "Thử"})
    retired = client.post(f"{base}/{department.id}/ngung", data={"ly_do": "Hợp nhất vào Sở Nội vụ"})
    again = client.post(f"{base}/{department.id}/ngung", data={})

    assert (renamed.status_code, retired.status_code, again.status_code) == (303, 303, 303)
    session.expire_all()
    department = session.get(Department, department.id)
    assert (department.name, department.ministry_id) == ("Sở Dân tộc và Tôn giáo thành phố",
                                                         ministry_of(session, "BNV").id)
    assert department.retired_at is not None
    assert department.name not in names(session, campaign, HA_NOI)
    page = text_of(client.get(base).get_data(as_text=True))
    assert "Đã ngừng sử dụng" in page
    actions = [e.action for e in session.exec(select(AuditEntry).where(AuditEntry.province_id == HA_NOI)
                                              .order_by(AuditEntry.id))]
    assert actions[-3:] == ["Bộ Nội vụ thêm sở, ngành của tỉnh", "Sửa sở, ngành của tỉnh",
                            "Ngừng sử dụng sở, ngành của tỉnh"]
    assert names(session, old, HA_NOI, with_retired=True) == before_2021
    # Another province's department through this province's URL: 404.
    [other] = campaign_departments.departments_of(session, campaign.id, HAI_PHONG)[:1]
    assert client.post(f"{base}/{other[0].id}/ngung", data={}).status_code == 404


def test_the_ministry_reads_but_cannot_change_a_closed_campaign_s_departments(client, session, ministry_user):
    old = current_campaign(session)
    create(session, ministry_user, current=True)
    [department] = [d for d, _m in campaign_departments.departments_of(session, old.id, HA_NOI)][:1]
    log_in(client, ministry_user)

    page = client.get(f"/bo/dot-danh-gia/{old.id}/so-nganh/{HA_NOI}")
    response = client.post(f"/bo/dot-danh-gia/{old.id}/so-nganh/{HA_NOI}/{department.id}/ngung", data={})

    assert page.status_code == 200 and "chỉ để xem, không sửa được" in text_of(page.get_data(as_text=True))
    assert response.status_code == 409
    session.expire_all()
    assert session.get(Department, department.id).retired_at is None
    with pytest.raises(PastCampaign):
        departments.ministry_adds_department(session, ministry_user, old, session.get(Province, HA_NOI), "Sở X",
                                             ministry_of(session, "BNV").id)


def test_a_province_adds_departments_only_to_the_current_campaign(session, ministry_user, province_user):
    old = current_campaign(session)
    create(session, ministry_user, current=True)

    with pytest.raises(PastCampaign):
        departments.add_department(session, province_user, session.get(Province, HA_NOI), old, "Sở Du lịch",
                                   ministry_of(session, "BVHTTDL").id)
    assert "Sở Du lịch" not in names(session, current_campaign(session), HA_NOI)


def test_a_province_on_the_2025_map_adds_a_department_and_imports_a_list_naming_it(
        client, session, ministry_user, province_user):
    campaign = create(session, ministry_user, current=True)
    log_in(client, province_user)
    religion = ministry_of(session, "BDTTG")

    form = client.get("/khao-sat/danh-sach/so-nganh?ten=S%E1%BB%9F+D%C3%A2n+t%E1%BB%99c+v%C3%A0+T%C3%B4n+gi%C3%A1o")
    added = client.post("/khao-sat/danh-sach/so-nganh", data={"ten": "Sở Dân tộc và Tôn giáo", "bo": religion.id})
    rows = [
        [1, "Nguyễn Văn An", "Đại biểu", GROUP_1, "HĐND thành phố", "an.nv@hanoi.gov.vn", "0912000001", ""],
        [2, "Trần Thị Bình", "Giám đốc", GROUP_2, "Sở Dân tộc và Tôn giáo", "binh.tt@hanoi.gov.vn", "0912000002", ""],
        [3, "Lê Văn Cường", "Giám đốc", GROUP_2, "Sở Giao thông vận tải", "cuong.lv@hanoi.gov.vn", "0912000003", ""],
    ]
    uploaded = client.post("/khao-sat/danh-sach/tai-len", data={"file": (io.BytesIO(xlsx_bytes(rows)), "ds.xlsx")},
                           content_type="multipart/form-data")

    # The department is a known kind whose ministry is on the 2025 list: it is offered already chosen.
    assert f'value="{religion.id}" selected' in form.get_data(as_text=True)
    assert added.status_code == 303 and uploaded.status_code == 303
    rlist = lists.list_for(session, campaign, HA_NOI)
    people = {p.full_name: p for p in lists.review_page(session, rlist, per_page=50).rows}
    binh = people["Trần Thị Bình"]
    department = session.get(Department, binh.department_id)
    assert (department.campaign_id, department.name, binh.ministry_id, binh.error_count) == (
        campaign.id, "Sở Dân tộc và Tôn giáo", religion.id, 0)
    # Sở Giao thông vận tải merged into Sở Xây dựng in 2025: the row names a department the province no longer has.
    assert people["Lê Văn Cường"].error_count == 1
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "Thêm sở, ngành vào danh mục của tỉnh")).one()
    assert entry.detail.startswith("Sở Dân tộc và Tôn giáo (bộ chủ quản: Bộ Dân tộc và Tôn giáo")


def test_the_ministry_puts_a_ministry_on_a_campaign_s_list_and_takes_one_off_once_nothing_answers_to_it(
        client, session, ministry_user):
    old = current_campaign(session)
    campaign = create(session, ministry_user, map_key=units.MAP_2021)
    base = f"/bo/dot-danh-gia/{campaign.id}/so-nganh/bo-nganh"
    transport, building = ministry_of(session, "BGTVT"), ministry_of(session, "BXD")
    log_in(client, ministry_user)

    known = client.post(base, data={"ten_bo": "bộ nông nghiệp và môi trường", "loai": "bo"})
    new = client.post(base, data={"ten_bo": "Bộ Kinh tế số", "loai": "bo"})
    twice = client.post(base, data={"ten_bo": "Bộ Kinh tế số", "loai": "bo"}, follow_redirects=True)
    in_use = client.post(f"{base}/{transport.id}/bo", data={}, follow_redirects=True)

    assert (known.status_code, new.status_code) == (303, 303)
    assert "“Bộ Kinh tế số” đã có trong danh sách bộ, ngành của đợt này." in text_of(twice.get_data(as_text=True))
    assert "Còn 63 sở, ngành của các tỉnh thuộc “Bộ Giao thông vận tải”" in text_of(in_use.get_data(as_text=True))
    listed = [m.name for m in campaign_departments.ministries_of(session, campaign.id)]
    assert listed[-2:] == ["Bộ Nông nghiệp và Môi trường", "Bộ Kinh tế số"] and transport.name in listed
    # The 2025 ministry is the row the 2025 campaigns name; a new one gets a code of its own.
    assert session.exec(select(Ministry).where(Ministry.name == "Bộ Nông nghiệp và Môi trường")).one().code == "BNNMT"
    assert session.exec(select(Ministry).where(Ministry.name == "Bộ Kinh tế số")).one().code == "BKTS"

    # Every Sở Giao thông vận tải moves to Bộ Xây dựng (as in 2025): then the ministry can leave the list.
    for province_id in (row.province_id for row in units.map_rows(session, campaign)):
        for department, ministry in campaign_departments.departments_of(session, campaign.id, province_id):
            if ministry.id == transport.id:
                departments.correct_department(session, ministry_user, department, department.name, building.id)
    removed = client.post(f"{base}/{transport.id}/bo", data={})

    assert removed.status_code == 303
    assert transport.name not in [m.name for m in campaign_departments.ministries_of(session, campaign.id)]
    assert transport.name in [m.name for m in campaign_departments.ministries_of(session, old.id)]
    actions = [e.action for e in session.exec(select(AuditEntry).where(AuditEntry.province_id.is_(None))
                                              .order_by(AuditEntry.id))][-3:]
    assert actions == ["Thêm bộ, ngành vào danh sách của đợt", "Thêm bộ, ngành vào danh sách của đợt",
                       "Bỏ bộ, ngành khỏi danh sách của đợt"]


# ---------------------------------------------------------------- past delivery errors; names in the map


def test_past_delivery_errors_are_read_by_the_province_its_it_focal_point_and_the_ministry_only(
        app, client, session, ministry_user, province_user, it_focal_user, other_province_user, time_machine):
    time_machine.move_to(DURING_SURVEY, tick=False)
    survey = launch_survey(app, session, ministry_user, HA_NOI, per_group=1)
    old = survey.campaign
    bounced = session.get(Invitation, survey.invitations[0].invitation.id)
    bounced.delivery_status = DeliveryStatus.BOUNCED.value
    session.add(bounced)
    session.commit()
    create(session, ministry_user, source=old, map_key="", current=True, year="2022", name="Năm 2022")
    url = f"/dot/{old.id}/tinh/{HA_NOI}/loi-gui"
    email = survey.invitations[0].respondent.email

    for user in (province_user, it_focal_user, ministry_user):
        log_in(client, user)
        response = client.get(url)
        page = text_of(response.get_data(as_text=True))
        assert response.status_code == 200 and email in page and "chỉ để xem, không sửa được" in page
        assert "Sửa và gửi lại" not in page
    log_in(client, province_user)
    assert url in client.get(f"/dot/{old.id}/").get_data(as_text=True)
    log_in(client, other_province_user)
    assert client.get(url).status_code == 404


def test_headings_name_the_province_as_the_campaign_s_map_does_and_a_merged_one_keeps_its_history(
        client, session, ministry_user):
    old = current_campaign(session)
    send_list(session, HA_GIANG)
    # Yên Bái merged with Lào Cai in 2025 under Yên Bái's code and Lào Cai's name: one account, two names.
    account = make_user(session, "yen-bai", Role.PROVINCE, YEN_BAI)
    create(session, ministry_user, current=True)

    log_in(client, account)
    home = client.get("/").get_data(as_text=True)
    lists_page = client.get("/khao-sat/danh-sach/").get_data(as_text=True)
    past = client.get(f"/dot/{old.id}/").get_data(as_text=True)

    assert "<h1>Tỉnh Lào Cai</h1>" in home and "Trang chủ Lào Cai" in home
    assert "Tỉnh Lào Cai" in text_of(lists_page) and "Yên Bái" not in text_of(lists_page)
    assert "<h2>Tỉnh Yên Bái</h2>" in past
    log_in(client, ministry_user)
    national = text_of(client.get(f"/dot/{old.id}/").get_data(as_text=True))
    errors = client.get(f"/dot/{old.id}/tinh/{HA_GIANG}/loi-gui")
    assert "Tỉnh Hà Giang" in national
    assert errors.status_code == 200 and "Tỉnh Hà Giang" in text_of(errors.get_data(as_text=True))


# ---------------------------------------------------------------- the migration


def test_the_migration_gives_each_campaign_its_own_departments_and_its_people_follow(empty_database_url):  # noqa: F811
    """An install with two campaigns and a list of the second: down to before this migration (one department per
    province and name, people pointing at the first campaign's rows) and up again (each campaign its own rows,
    people on their campaign's), with foreign keys checked on SQLite."""
    from alembic import command
    from sqlalchemy import text

    from portal.database import alembic_config, upgrade_schema
    from portal.domain.reference import load_reference_data
    from portal.extensions import make_engine
    from tests.support.database import running_2021

    engine = make_engine(empty_database_url)
    try:
        upgrade_schema(engine)
        with Session(engine) as session:
            load_reference_data(session)
            first = running_2021(session)
            actor = make_user(session, "bonoivu", Role.MINISTRY)
            second = create(session, actor, source=first, current=True, year="2022", name="Năm 2022")
            send_list(session, HA_NOI)
            second_id, first_id = second.id, first.id
        cfg = alembic_config(empty_database_url)

        def people_units(connection) -> list[tuple]:
            return sorted(connection.execute(text(
                "SELECT respondent.full_name, department.name, department.campaign_id FROM respondent "
                "JOIN department ON department.id = respondent.department_id")).all())

        with engine.connect() as connection:
            before = people_units(connection)
        assert before and {campaign for *_, campaign in before} == {second_id}

        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "assessment_evidence")
        with engine.connect() as connection:
            (duplicates,) = connection.execute(text(
                "SELECT count(*) - count(DISTINCT province_id || '|' || name) FROM department")).one()
            named = sorted(connection.execute(text(
                "SELECT respondent.full_name, department.name FROM respondent "
                "JOIN department ON department.id = respondent.department_id")).all())
        assert duplicates == 0 and named == [(person, unit) for person, unit, _c in before]

        upgrade_schema(engine)
        with engine.connect() as connection:
            after = people_units(connection)
            links = connection.execute(text("SELECT campaign_id, count(*) FROM campaignministry "
                                            "GROUP BY campaign_id ORDER BY campaign_id")).all()
            if engine.dialect.name == "sqlite":
                assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
        assert after == before
        assert [tuple(row) for row in links] == [(first_id, 22), (second_id, 22)]
    finally:
        engine.dispose()
