"""Characters PostgreSQL cannot store (NUL, lone surrogates) and odd numbers never give an error page.

Each test runs on both databases; before the cleaning, the PostgreSQL runs ended in 500 with
"A string literal cannot contain NUL (0x00) characters".
"""

from __future__ import annotations

import io

import pytest
import time_machine
from sqlmodel import select

from portal.models import Respondent
from tests.support.accounts import PASSWORD, log_in
from tests.support.respondent_files import GROUP_2, xlsx_bytes
from tests.support.survey import DURING_SURVEY, launch_survey

LISTS = "/khao-sat/danh-sach"


@pytest.fixture
def before_the_list_deadline():
    with time_machine.travel("2022-01-05 09:00 +0700", tick=False):
        yield


def test_a_nul_in_the_login_form_is_a_wrong_login_not_an_error(client, province_user):
    for username, password in (("ha-noi\x00", "SaiMatKhau2021"), ("ha\x00-noi", PASSWORD), ("\x00", "\x00"),
                               ("ha-noi", "Sai\x00MatKhau")):
        response = client.post("/dang-nhap", data={"username": username, "password": password})
        assert response.status_code in (302, 401), (username, password)
    # "ha-noi\x00" is the account's name once the NUL is gone: the right password logs in.
    assert client.post("/dang-nhap", data={"username": "ha-noi\x00", "password": PASSWORD}).status_code == 302


def test_list_fields_and_a_spreadsheet_with_nul_are_saved_without_it(before_the_list_deadline, client, session,
                                                                    province_user):
    log_in(client, province_user)
    # Excel writes NUL as _x0000_ in a cell; the reader turns it back into the character.
    sheet = xlsx_bytes([["1", "Nguyễn Văn_x0000_ An", "Giám đốc", GROUP_2, "Sở Tài chính", "an.nv@hanoi.gov.vn",
                         "0912345678", "ghi_x0000_chú"]])
    uploaded = client.post(f"{LISTS}/tai-len", data={"file": (io.BytesIO(sheet), "danh-sach.xlsx")},
                           content_type="multipart/form-data")
    added = client.post(f"{LISTS}/them", data={
        "full_name": "Vũ Thị\x00 Lan", "position": "Phó Giám đốc\x00", "group": GROUP_2, "unit": "Sở Y tế",
        "email": "lan.vt@hanoi.gov.vn\x00", "phone": "0987654321", "note": "\x00"})

    assert (uploaded.status_code, added.status_code) == (303, 303)
    people = {p.full_name: p for p in session.exec(select(Respondent))}
    assert set(people) == {"Nguyễn Văn An", "Vũ Thị Lan"}  # runs of spaces become one
    assert people["Nguyễn Văn An"].note == "ghichú"
    assert people["Vũ Thị Lan"].email == "lan.vt@hanoi.gov.vn"
    assert not any("\x00" in str(value) for p in people.values() for value in p.model_dump().values())


HOSTILE_QUERIES = ["q=an%00", "q=%ED%A0%80%00", "loc=%C2%B3", "loc=" + "9" * 30, "trang=" + "9" * 30, "xep=%00",
                   "trang-thai=%00", "q=%00&loc=%00&trang=%00"]


def test_search_boxes_and_filters_take_any_text_without_an_error(app, client, session, ministry_user,
                                                                 province_user):
    with time_machine.travel(DURING_SURVEY, tick=False):
        launch_survey(app, session, ministry_user)
        for args in HOSTILE_QUERIES:
            _search_everywhere(client, province_user, ministry_user, args)


def _search_everywhere(client, province_user, ministry_user, args: str) -> None:
    log_in(client, province_user)
    for path in (f"{LISTS}/ra-soat", "/khao-sat/tien-do/"):
        assert client.get(path, query_string=args).status_code == 200, (path, args)
    log_in(client, ministry_user)
    for path in ("/bo/danh-sach", "/bo/tien-do", "/bo/danh-sach/1"):
        assert client.get(path, query_string=args).status_code == 200, (path, args)


@pytest.mark.parametrize("path", ["/bo/danh-sach/" + "9" * 30, "/bo/danh-sach/" + "9" * 12,
                                  "/loi-gui/" + "9" * 25 + "/sua"])
def test_an_id_too_large_for_the_database_is_not_found(client, ministry_user, path):
    log_in(client, ministry_user)
    assert client.get(path).status_code == 404
    assert client.post(path, data={}).status_code in (404, 405)


def test_a_number_field_too_large_for_the_database_reads_as_missing(app):
    with app.test_request_context("/?trang=" + "9" * 30 + "&bo=12&xa=-" + "9" * 20):
        from flask import request

        assert request.args.get("trang", 1, type=int) == 1
        assert request.args.get("bo", type=int) == 12
        assert request.args.get("xa", type=int) is None


def test_a_parent_ministry_number_too_large_for_the_database_is_asked_again(before_the_list_deadline, client,
                                                                            province_user):
    log_in(client, province_user)
    response = client.post(f"{LISTS}/so-nganh", data={"ten": "Sở Thử nghiệm", "bo": "9" * 25})
    assert response.status_code < 500
