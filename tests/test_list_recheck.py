"""An edit re-checks only the rows it can affect, and stores exactly what a check of the whole list would.

The property test applies random edits, additions, removals and namesake dismissals to a small list full of
collisions (one name in several spellings, shared mailboxes and phones, council rows, namesakes in one unit).
Each step runs twice from the same saved state: once re-checking the whole list (the reference), once
incrementally; the stored rows, the list's notices, its merge record and its kept tally must be identical,
and the tally must be what the rows add up to.
"""

from __future__ import annotations

import json

import pytest
import time_machine
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert
from sqlmodel import Session, select

from portal.domain import list_import, list_tally, lists
from portal.domain.campaigns import current_campaign
from portal.domain.respondent_rules import RowInput
from portal.models import Province, Respondent, RespondentList
from tests.support.accounts import HA_NOI, log_in
from tests.support.big_list import generated_rows
from tests.support.respondent_files import GROUP_1, GROUP_2, GROUP_3, GROUP_4
from tests.support.statements import count_statements

TZ = "Asia/Ho_Chi_Minh"
NAMES = ["Nguyễn Văn An", "NGUYỄN VĂN AN", "Trần Thị Bình", "Lê Hà", ""]
EMAILS = ["an@hanoi.gov.vn", "AN@hanoi.gov.vn", "binh@hanoi.gov.vn", "chung@hanoi.gov.vn", ""]
PHONES = ["0912345678", "912345678", "091.234.5678", "987654321", ""]
GROUPS = [GROUP_1, GROUP_2, GROUP_3, GROUP_4, "nhóm lạ"]
UNITS = ["Sở Tài chính", "Sở Y tế", "Đông Anh", "Quận Ba Đình", ""]
POSITIONS = ["Giám đốc", "Trưởng phòng", "Đại biểu", "Chủ tịch UBND", "Phó Chủ tịch UBND"]

row_values = st.fixed_dictionaries({
    "full_name": st.sampled_from(NAMES), "position": st.sampled_from(POSITIONS), "group": st.sampled_from(GROUPS),
    "unit": st.sampled_from(UNITS), "email": st.sampled_from(EMAILS), "phone": st.sampled_from(PHONES),
    "note": st.just(""),
})
operations = st.lists(st.one_of(
    st.tuples(st.just("edit"), st.integers(0, 50), row_values),
    st.tuples(st.just("add"), st.just(0), row_values),
    st.tuples(st.just("delete"), st.integers(0, 50), st.just({})),
    st.tuples(st.just("dismiss"), st.integers(0, 50), st.just({})),
), min_size=1, max_size=4)
PROPERTIES = settings(max_examples=20, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def list_period():
    with time_machine.travel("2022-01-05 09:00 +0700", tick=False):
        yield


@pytest.fixture
def draft(session, province_user, list_period):
    campaign = current_campaign(session)
    province = session.get(Province, HA_NOI)
    rlist = lists.get_or_create_list(session, campaign, HA_NOI)
    return campaign, province, rlist


def import_draft(session: Session, user, draft, rows: list[dict[str, str]]) -> None:
    campaign, province, rlist = draft
    list_import.import_rows(session, user, rlist, campaign, province,
                      [RowInput(key=n, number=n + 1, values=row) for n, row in enumerate(rows, start=1)], "tep.xlsx")


def saved(session: Session, rlist: RespondentList) -> tuple[list[dict], dict]:
    """Every stored row (all columns) and the list's check fields: what a restore puts back."""
    session.expire_all()
    rows = [person.model_dump() for person in session.exec(
        select(Respondent).where(Respondent.list_id == rlist.id).order_by(Respondent.row_number, Respondent.id))]
    fields = {key: getattr(rlist, key) for key in ("check_notices", "merge_record", "dismissed_namesakes", "version",
                                                   "tally", "tally_version")}
    return rows, fields


def comparable(state: tuple[list[dict], dict]) -> tuple:
    """A state without what differs between two runs of one step by construction (new ids, timestamps)."""
    rows, fields = state
    skip = {"id", "created_at", "updated_at"}
    return [{k: v for k, v in row.items() if k not in skip} for row in rows], fields


def restore(session: Session, rlist: RespondentList, state: tuple[list[dict], dict]) -> None:
    rows, fields = state
    session.exec(delete(Respondent).where(Respondent.list_id == rlist.id))
    if rows:
        session.exec(insert(Respondent), params=rows)
    for key, value in fields.items():
        setattr(rlist, key, value)
    session.add(rlist)
    session.commit()


def apply(session: Session, user, draft, operation: tuple, *, whole_list: bool) -> None:
    campaign, province, rlist = draft
    kind, index, values = operation
    session.refresh(rlist)  # read before its rows, as a request reads it: the kept tally is then carried
    people = session.exec(select(Respondent).where(Respondent.list_id == rlist.id)
                          .order_by(Respondent.row_number, Respondent.id)).all()
    if kind == "add":
        if any(values.values()):
            lists.add_respondent(session, user, rlist, campaign, province, values, tz_name=TZ, whole_list=whole_list)
    elif not people:
        return
    elif kind == "edit":
        lists.update_respondent(session, user, rlist, campaign, province, people[index % len(people)], values,
                                tz_name=TZ, whole_list=whole_list)
    elif kind == "delete":
        lists.delete_respondent(session, user, rlist, campaign, province, people[index % len(people)], tz_name=TZ,
                                whole_list=whole_list)
    else:
        keys = sorted({p["namesake_key"] for person in people for p in json.loads(person.problems)
                       if p.get("namesake_key")})
        if keys:
            key = keys[index % len(keys)]
            if whole_list:
                rlist.dismissed_namesakes = json.dumps(sorted(lists.dismissed_namesakes(rlist) | {key}),
                                                       ensure_ascii=False)
                lists.recheck(session, rlist, campaign, province, "Xác nhận người trùng họ tên")
                session.commit()
            else:
                lists.dismiss_namesake(session, user, rlist, campaign, province, key, tz_name=TZ)


def person(name: str, email: str, unit: str = "Sở Y tế", phone: str = "") -> dict[str, str]:
    return {"full_name": name, "position": "Giám đốc", "group": GROUP_2, "unit": unit, "email": email,
            "phone": phone, "note": ""}


# Namesakes (rows 1 and 2) of whom one shares a mailbox with another person (row 3): editing row 3 re-checks
# row 1, whose namesake warning needs row 2, read though it is neither edited nor sharing anything with row 3.
NAMESAKE_BEHIND_A_MAILBOX = [person("Trần Thị Bình", "binh@hanoi.gov.vn"),
                             person("Trần Thị Bình", "chung@hanoi.gov.vn"),
                             person("Nguyễn Văn An", "binh@hanoi.gov.vn", "Sở Tài chính")]


@PROPERTIES
@given(start=st.lists(row_values, min_size=2, max_size=8), steps=operations)
@example(start=NAMESAKE_BEHIND_A_MAILBOX, steps=[("edit", 2, person("Lê Hà", "binh@hanoi.gov.vn"))])
def test_an_incremental_recheck_stores_exactly_what_the_whole_list_check_stores(
        session, province_user, draft, start, steps):
    rlist = draft[2]
    import_draft(session, province_user, draft, start)
    assert_tally_adds_up(session, rlist)
    for operation in steps:
        before = saved(session, rlist)
        apply(session, province_user, draft, operation, whole_list=True)
        reference = comparable(saved(session, rlist))
        restore(session, rlist, before)
        apply(session, province_user, draft, operation, whole_list=False)
        assert comparable(saved(session, rlist)) == reference, operation
        assert_tally_adds_up(session, rlist)


def assert_tally_adds_up(session: Session, rlist: RespondentList) -> None:
    session.expire_all()
    kept = list_tally.stored(rlist)
    assert kept is not None, "the list's tally is not current"
    assert kept == list_tally.count_rows(session, rlist.id)


def test_a_row_nobody_edited_keeps_the_notice_of_how_its_value_was_read(session, province_user, draft):
    campaign, province, rlist = draft
    import_draft(session, province_user, draft, [
        {"full_name": "Lê Văn Cường", "position": "Chủ tịch UBND", "group": GROUP_4, "unit": "Huyện Đông Anh",
         "email": "cuong@hanoi.gov.vn", "phone": "912345678", "note": ""},
        {"full_name": "Trần Thị Bình", "position": "Giám đốc", "group": GROUP_2, "unit": "Sở Y tế",
         "email": "binh@hanoi.gov.vn", "phone": "", "note": ""}])
    binh = session.exec(select(Respondent).where(Respondent.full_name == "Trần Thị Bình")).one()
    lists.update_respondent(session, province_user, rlist, campaign, province, binh,
                            {**{k: getattr(binh, k) for k in ("full_name", "position", "unit", "email", "phone")},
                             "group": GROUP_2, "note": "đã sửa"}, tz_name=TZ)
    session.refresh(rlist)
    notice = ("Dòng 2, cột Số điện thoại: số “912345678” bị mất số 0 ở đầu (ô kiểu số trong bảng tính), đã sửa "
              "thành “0912345678”.")
    assert lists.list_notices(rlist) == [notice]
    cuong = session.exec(select(Respondent).where(Respondent.full_name == "Lê Văn Cường")).one()
    assert [p["message"] for p in lists.row_problems(cuong)] == [notice]


def edit_statements(app, session, province_user, size: int) -> list[str]:
    """Statements of one HTMX edit of one row in a list of `size` valid, distinct people."""
    campaign, province, rlist = current_campaign(session), session.get(Province, HA_NOI), None
    rlist = lists.get_or_create_list(session, campaign, HA_NOI)
    import_draft(session, province_user, (campaign, province, rlist), generated_rows(session, HA_NOI, size))
    person = session.exec(select(Respondent).where(Respondent.list_id == rlist.id)
                          .order_by(Respondent.row_number).limit(1)).one()
    client = app.test_client()
    log_in(client, province_user)
    form = {"full_name": person.full_name, "position": person.position, "group": person.group_text,
            "unit": person.unit, "email": person.email, "phone": "0912345678", "note": ""}
    with count_statements() as statements:
        response = client.post(f"/khao-sat/danh-sach/nguoi/{person.id}", data=form, headers={"HX-Request": "true"})
    assert response.status_code == 200
    session.expire_all()
    assert session.get(Respondent, person.id).phone == "0912345678"
    return list(statements)


def reads_whole_rows_of_the_list(statement: str) -> bool:
    """A SELECT of respondent rows narrowed by nothing but the list (what a whole-list re-check sends)."""
    head, _, where = " ".join(statement.split()).partition(" WHERE ")
    return (head.lstrip().upper().startswith("SELECT") and "respondent.problems" in head
            and "FROM respondent" in head and "respondent.list_id" in where and "IN (" not in where
            and "respondent.id =" not in where and "LIMIT" not in where.upper() and "has_notice" not in where)


def test_an_edit_of_one_row_sends_as_many_statements_in_a_long_list_as_in_a_short_one(
        app, session, province_user, list_period):
    short = edit_statements(app, session, province_user, 20)
    long = edit_statements(app, session, province_user, 400)
    assert len(long) == len(short) <= 40
    assert not [s for s in long if reads_whole_rows_of_the_list(s)]
    # The counts the page shows after the edit come from the list's kept tally, not from its rows.
    assert not [s for s in long if "GROUP BY" in s and "FROM respondent" in s]
