"""A fresh install on the README's production path (init-db, create-admin, provision-provinces) opens on no
campaign: the 2021 one is a template; the ministry is asked to create its first campaign (copying the template
is offered), provinces are told the ministry has not opened one; once the ministry copies and opens it, every
role lands on a working current campaign."""

from __future__ import annotations

import csv
import re

from sqlmodel import Session, select

from portal import create_app
from portal.domain.campaigns import current_campaign
from portal.extensions import db, make_engine
from portal.models import Campaign
from tests.support.accounts import log_in
from tests.support.html import text_of
from tests.test_cli import empty_database, invoke  # noqa: F401 - the fixture of a database with no schema
from tests.test_isolation import ROUTES  # read at import: it builds an app of its own

NEW_PASSWORD = "MatKhauMoi2026cchc"


def first_login(client, username: str, one_time: str) -> None:
    """Log in with the one-time password and change it, as a person does on the first day."""
    response = client.post("/dang-nhap", data={"username": username, "password": one_time})
    assert response.headers["Location"].endswith("/doi-mat-khau")
    response = client.post("/doi-mat-khau", data={"current": one_time, "new": NEW_PASSWORD,
                                                  "confirm": NEW_PASSWORD})
    assert response.status_code == 302


def test_the_production_path_asks_the_ministry_for_a_campaign_and_then_every_role_works_on_it(
        app_config, empty_database, tmp_path):  # noqa: F811
    fresh = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": empty_database})
    try:
        runner = fresh.test_cli_runner()
        invoke(runner, "init-db")
        admin = invoke(runner, "create-admin", "quantri")
        admin_password = re.search(r"Mật khẩu dùng một lần: (\S+)", admin.output).group(1)
        invoke(runner, "provision-provinces", "--out", str(tmp_path / "tai-khoan.csv"))
        with (tmp_path / "tai-khoan.csv").open(encoding="utf-8-sig") as handle:
            sheet = {row[1]: row[2] for row in csv.reader(handle)}

        engine = make_engine(empty_database)
        with Session(engine) as session:
            [template] = session.exec(select(Campaign)).all()
            assert (template.year, template.is_template, template.is_current) == (2021, True, False)
            assert current_campaign(session) is None
        engine.dispose()

        ministry, province = fresh.test_client(), fresh.test_client()
        first_login(ministry, "quantri", admin_password)
        first_login(province, "ha-noi", sheet["ha-noi"])

        home = ministry.get("/").get_data(as_text=True)
        assert "Chưa có đợt đánh giá hiện hành" in text_of(home)
        assert f'href="/bo/dot-danh-gia/moi?tu={template.id}"' in home
        assert "Tạo đợt mới bằng cách sao chép “Xác định Chỉ số CCHC năm 2021 (đợt mẫu)”" in text_of(home)
        assert "Đã hết hạn" not in text_of(home)
        province_home = text_of(province.get("/").get_data(as_text=True))
        assert "Bộ Nội vụ chưa mở đợt đánh giá nào." in province_home
        assert "15/01/2022" not in province_home
        refused = province.get("/khao-sat/danh-sach/")
        assert refused.status_code == 409
        assert "Bộ Nội vụ chưa mở đợt đánh giá nào." in text_of(refused.get_data(as_text=True))
        assert ministry.get("/bo/danh-sach").status_code == 409
        assert ministry.post(f"/bo/dot-danh-gia/{template.id}/hien-hanh", data={"xac_nhan": "1"}).status_code == 303

        form = ministry.get(f"/bo/dot-danh-gia/moi?tu={template.id}").get_data(as_text=True)
        values = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form))
        created = ministry.post("/bo/dot-danh-gia/moi", data={**values, "plan_ref": "Kế hoạch số 1/KH-BNV"})
        assert created.status_code == 303, text_of(created.get_data(as_text=True))
        with Session(make_engine(empty_database)) as session:
            campaign = session.exec(select(Campaign).where(Campaign.is_template == False)).one()  # noqa: E712
        ministry.post(f"/bo/dot-danh-gia/{campaign.id}/hien-hanh", data={"xac_nhan": "1"})

        assert campaign.name in text_of(ministry.get("/").get_data(as_text=True))
        province_home = text_of(province.get("/").get_data(as_text=True))
        assert f"Bộ Nội vụ mở {campaign.name}" in province_home
        assert f"{campaign.list_deadline:%d/%m/%Y}: Gửi danh sách đối tượng khảo sát" in province_home
        assert province.get("/khao-sat/danh-sach/").status_code == 200
        assert province.get("/khao-sat/danh-sach/mau.xlsx").status_code == 200
    finally:
        db.dispose()


def test_no_page_fails_before_the_first_campaign(request, client, session, ministry_user, province_user,
                                                 it_focal_user):
    """Every page without ids in its URL, for every role, while no campaign is current: a page or a clear 409,
    never a 500."""
    campaign = current_campaign(session)
    campaign.is_current, campaign.is_template = False, True
    session.add(campaign)
    session.commit()
    failures = []
    for user in (ministry_user, province_user, it_focal_user):
        log_in(client, user)
        for endpoint, method, rule, arguments in ROUTES:
            if method != "GET" or arguments or endpoint in {"auth.logout"}:
                continue
            response = client.get(rule)
            if response.status_code >= 500:
                failures.append(f"{user.username} {rule}: {response.status_code}")
            if response.status_code == 409 and "Bộ Nội vụ chưa mở đợt đánh giá nào" not in text_of(
                    response.get_data(as_text=True)):
                failures.append(f"{user.username} {rule}: 409 without the message")

    assert failures == []
