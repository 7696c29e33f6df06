"""`flask --app wsgi portal ...`: init-db, create-admin, provision-provinces, demo (portal/cli.py)."""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select

from portal import create_app
from portal.domain import accounts, units
from portal.extensions import db, make_engine
from portal.models import Campaign, District, Notice, Province, Role, User
from tests.support.accounts import make_user
from tests.support.database import count_rows, create_postgres_database, drop_postgres_database

DEMO_PASSWORD = "ChayThu2021demo"
SHEET_ROW = re.compile(r"Tên đăng nhập: <code>([^<]+)</code><br>\s*Mật khẩu: <code>([^<]+)</code>")
KEPT = "Tài khoản đã được cấp trước đây; mật khẩu không thay đổi."


@pytest.fixture(autouse=True)
def files_dir(app_config, tmp_path):
    """The demo's approved reports go to a file store of the test's own."""
    app_config["PORTAL_FILES_DIR"] = str(tmp_path / "tep")



def province_hashes(session: Session) -> dict[str, str]:
    session.expire_all()
    return {u.username: u.password_hash for u in session.exec(select(User).where(User.role == Role.PROVINCE.value))}


def invoke(runner, *args: str):
    result = runner.invoke(args=["portal", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


# ---------------------------------------------------------------- init-db


@pytest.fixture
def empty_database(app_config, request, tmp_path):
    """A database with no schema at all, on the backend of this run: a fresh machine."""
    if app_config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = create_postgres_database(server)
    yield url
    drop_postgres_database(server, url)


def test_init_db_on_an_empty_database_creates_the_schema_and_reference_data(app_config, empty_database):
    fresh = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": empty_database})
    try:
        first = invoke(fresh.test_cli_runner(), "init-db")
        second = invoke(fresh.test_cli_runner(), "init-db")
    finally:
        db.dispose()

    assert first.exit_code == 0
    assert "provinces 63, districts 696, provinces_2025 0, communes_2025 3321" in first.output
    assert second.exit_code == 0
    assert second.output.strip() == ("Cơ sở dữ liệu đã sẵn sàng. Dữ liệu danh mục thêm mới: ministries 0, "
                                     "department_types 0, provinces 0, districts 0, provinces_2025 0, communes_2025 0, "
                                     "departments 0, campaigns 0, "
                                     "groups 0, positions 0, frameworks 0")
    assert "frameworks 1" in first.output  # the sample criteria framework, for the 2021 campaign
    engine = make_engine(empty_database)
    with Session(engine) as session:
        assert count_rows(session, Province) == 63
        assert count_rows(session, District, District.unit_map == "2021") == 696
        assert count_rows(session, District, District.unit_map == "2025") == 3321
        assert count_rows(session, Campaign) == 1
    engine.dispose()


def test_init_db_keeps_the_ministry_edits_to_reference_data(runner, session):
    campaign = session.exec(select(Campaign)).one()
    campaign.list_deadline = date(2022, 1, 20)  # a column the fixtures put back after the test
    session.add(campaign)
    session.commit()

    invoke(runner, "init-db")

    session.expire_all()
    assert session.exec(select(Campaign.list_deadline)).one() == date(2022, 1, 20)
    assert count_rows(session, Province) == 63


# ---------------------------------------------------------------- create-admin


def test_create_admin_makes_a_ministry_account_with_a_one_time_password(runner, session):
    result = invoke(runner, "create-admin", "QuanTri", "--full-name", "Nguyễn Văn Quản")

    assert result.exit_code == 0
    password = re.search(r"Đã tạo tài khoản quản trị quantri\. Mật khẩu dùng một lần: (\S+)", result.output).group(1)
    assert "Người dùng phải đổi mật khẩu ở lần đăng nhập đầu tiên." in result.output
    user = session.exec(select(User).where(User.username == "quantri")).one()
    assert (user.role, user.province_id, user.full_name, user.must_change_password) == (
        "ministry", None, "Nguyễn Văn Quản", True)
    assert len(password) == 12
    assert accounts.verify_password(user.password_hash, password)


def test_create_admin_refuses_a_duplicate_and_keeps_its_password(runner, session, ministry_user):
    result = invoke(runner, "create-admin", "BONOIVU")

    assert result.exit_code == 1
    assert "Tài khoản BONOIVU đã tồn tại; mật khẩu không bị thay đổi." in result.output
    session.expire_all()
    assert session.get(User, ministry_user.id).password_hash == ministry_user.password_hash
    assert count_rows(session, User) == 1


# ---------------------------------------------------------------- provision-provinces


def sheet_passwords(path: Path) -> dict[str, str]:
    return dict(SHEET_ROW.findall(path.read_text(encoding="utf-8")))


def test_provision_creates_63_accounts_with_their_passwords_on_the_sheet(runner, session, tmp_path):
    sheet = tmp_path / "sheet.html"

    result = invoke(runner, "provision-provinces", "--out", str(sheet))

    assert result.exit_code == 0
    assert f"Đã ghi {sheet}: 63 mật khẩu mới, 0 tài khoản giữ nguyên mật khẩu." in result.output
    passwords = sheet_passwords(sheet)
    assert len(passwords) == 63
    assert {"ha-noi", "hai-phong", "ho-chi-minh", "ba-ria-vung-tau"} <= passwords.keys()
    users = {u.username: u for u in session.exec(select(User))}
    assert len(users) == 63
    assert all(u.role == "province" and u.must_change_password for u in users.values())
    assert users["ha-noi"].province_id == 1
    assert accounts.verify_password(users["hai-phong"].password_hash, passwords["hai-phong"])
    assert "Địa chỉ đăng nhập: http://localhost/dang-nhap." in sheet.read_text(encoding="utf-8")
    assert sheet.stat().st_mode & 0o777 == 0o600


def test_provision_again_keeps_every_password_and_the_sheet_says_so(runner, session, tmp_path):
    invoke(runner, "provision-provinces", "--out", str(tmp_path / "first.html"))
    before = province_hashes(session)
    again = tmp_path / "again.html"

    result = invoke(runner, "provision-provinces", "--out", str(again))

    assert "0 mật khẩu mới, 63 tài khoản giữ nguyên mật khẩu." in result.output
    assert province_hashes(session) == before
    assert sheet_passwords(again) == {}
    assert again.read_text(encoding="utf-8").count(KEPT) == 63


def test_provision_with_reset_renews_only_that_account(runner, session, tmp_path):
    invoke(runner, "provision-provinces", "--out", str(tmp_path / "first.html"))
    before = province_hashes(session)
    sheet = tmp_path / "reset.html"

    result = invoke(runner, "provision-provinces", "--out", str(sheet), "--reset", "ha-noi")

    assert "1 mật khẩu mới, 62 tài khoản giữ nguyên mật khẩu." in result.output
    after = province_hashes(session)
    assert after["ha-noi"] != before["ha-noi"]
    assert {k: v for k, v in after.items() if k != "ha-noi"} == {k: v for k, v in before.items() if k != "ha-noi"}
    new_password = sheet_passwords(sheet)
    assert list(new_password) == ["ha-noi"]
    assert accounts.verify_password(after["ha-noi"], new_password["ha-noi"])


def test_provision_refuses_a_reset_of_an_unknown_account_and_changes_nothing(runner, session, tmp_path):
    invoke(runner, "provision-provinces", "--out", str(tmp_path / "first.html"))
    before = province_hashes(session)
    sheet = tmp_path / "typo.html"

    result = invoke(runner, "provision-provinces", "--out", str(sheet), "--reset", "ha-noi", "--reset", "hanoi")

    assert result.exit_code == 1
    assert "Không có tài khoản tỉnh nào tên hanoi; không cấp lại mật khẩu nào." in result.output
    assert province_hashes(session) == before
    assert not sheet.exists()


def test_provision_keeps_accounts_that_already_exist_before_the_first_run(runner, session, tmp_path,
                                                                           province_user):
    result = invoke(runner, "provision-provinces", "--out", str(tmp_path / "sheet.html"))

    assert "62 mật khẩu mới, 1 tài khoản giữ nguyên mật khẩu." in result.output
    assert province_hashes(session)["ha-noi"] == province_user.password_hash


def test_provision_writes_a_csv_sheet(runner, session, tmp_path):
    sheet = tmp_path / "sheet.csv"

    invoke(runner, "provision-provinces", "--out", str(sheet))

    with sheet.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["Tỉnh, thành phố", "Tên đăng nhập", "Mật khẩu dùng một lần"]
    assert len(rows) == 64
    by_user = {username: (province, password) for province, username, password in rows[1:]}
    assert by_user["ha-noi"][0] == "Thành phố Hà Nội"
    users = {u.username: u for u in session.exec(select(User))}
    assert all(accounts.verify_password(users[name].password_hash, pw) for name, (_, pw) in by_user.items())


def test_provision_csv_of_a_second_run_marks_passwords_as_unchanged(runner, tmp_path):
    invoke(runner, "provision-provinces", "--out", str(tmp_path / "first.csv"))
    sheet = tmp_path / "again.csv"

    invoke(runner, "provision-provinces", "--out", str(sheet))

    with sheet.open(encoding="utf-8-sig", newline="") as handle:
        passwords = {row[2] for row in list(csv.reader(handle))[1:]}
    assert passwords == {"(đã cấp trước đây, không đổi)"}


# ---------------------------------------------------------------- demo


def test_demo_with_a_password_creates_accounts_ready_to_log_in(runner, client, session):
    result = invoke(runner, "demo", "--password", DEMO_PASSWORD)

    assert result.exit_code == 0
    for line in (f"Bộ Nội vụ     bonoivu          {DEMO_PASSWORD}",
                 f"Tỉnh          ha-noi           {DEMO_PASSWORD}  Thành phố Hà Nội",
                 f"Tỉnh          hai-phong        {DEMO_PASSWORD}  Thành phố Hải Phòng",
                 f"Đầu mối CNTT  ha-noi-cntt      {DEMO_PASSWORD}  Thành phố Hà Nội"):
        assert line in result.output
    users = {u.username: u for u in session.exec(select(User))}
    assert len(users) == 1 + 63 + 63
    assert users["bonoivu"].role == "ministry"
    assert (users["ha-noi-cntt"].role, users["ha-noi-cntt"].province_id) == ("it_focal", 1)
    assert not any(u.must_change_password for u in users.values())
    response = client.post("/dang-nhap", data={"username": "ha-noi", "password": DEMO_PASSWORD})
    assert response.headers["Location"] == "/"
    assert "<h1>Thành phố Hà Nội</h1>" in client.get("/").get_data(as_text=True)


def test_demo_sets_up_a_current_campaign_with_deadlines_ahead_and_a_welcome_notice(runner, session):
    invoke(runner, "demo", "--password", DEMO_PASSWORD)

    current = session.exec(select(Campaign).where(Campaign.is_current == True)).all()  # noqa: E712
    assert [c.is_demo for c in current] == [True]
    assert count_rows(session, Notice, Notice.title == "Triển khai xác định Chỉ số CCHC (chạy thử)") == 1
    # Hà Nội half-way through its self-assessment: 37 of the sample's 75 lines to enter are scored
    from portal.models import AssessmentScore

    assert count_rows(session, AssessmentScore, AssessmentScore.province_id == 1) == 37
    # Hải Phòng sent; Đà Nẵng sent, appraised in two rounds and released to it.
    from portal.models import Appraisal, Assessment

    sent = {row.province_id for row in session.exec(select(Assessment).where(Assessment.sent_at.is_not(None)))}
    assert sent == {31, 48}
    released = session.exec(select(Appraisal)).one()
    assert (released.province_id, released.state, released.released_at is not None) == (48, "closed", True)
    # A sample campaign on the 2025 map, to copy: a template, never current.
    sample = session.exec(select(Campaign).where(Campaign.year == 2025, Campaign.is_template == True)).one()  # noqa: E712
    assert "Đợt mẫu năm 2025" in sample.name and not sample.is_current
    assert len(units.provinces_of(session, sample)) == 34


def test_demo_a_second_time_is_safe(runner, session):
    invoke(runner, "demo", "--password", DEMO_PASSWORD)
    hashes = {u.username: u.password_hash for u in session.exec(select(User))}
    rows = (count_rows(session, Notice), count_rows(session, Campaign))

    result = invoke(runner, "demo", "--password", "MotMatKhauKhac2022")

    assert result.exit_code == 0
    assert "bonoivu          (giữ mật khẩu cũ)" in result.output
    session.expire_all()
    assert {u.username: u.password_hash for u in session.exec(select(User))} == hashes
    assert (count_rows(session, Notice), count_rows(session, Campaign)) == rows
    assert count_rows(session, Campaign, Campaign.is_demo == True) == 1  # noqa: E712


def test_demo_without_a_password_gives_one_time_passwords(runner, session):
    result = invoke(runner, "demo")

    password = re.search(r"Bộ Nội vụ\s+bonoivu\s+(\S+)", result.output).group(1)
    admin = session.exec(select(User).where(User.username == "bonoivu")).one()
    assert admin.must_change_password is True
    assert accounts.verify_password(admin.password_hash, password)


def test_demo_keeps_an_existing_account_as_it_is(runner, session):
    existing = make_user(session, "ha-noi", Role.PROVINCE, 1, must_change=True)

    invoke(runner, "demo", "--password", DEMO_PASSWORD)

    session.expire_all()
    kept = session.get(User, existing.id)
    assert (kept.password_hash, kept.must_change_password) == (existing.password_hash, True)
