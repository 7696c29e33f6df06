"""Importing a list streams its rows: the stored result is still the whole-list check's, and a refused file
leaves the saved draft as it was.

The import checks each row as it reads it, writes the rows in chunks, then applies the rules between rows
(merges, council priority, namesakes, one mailbox for two people) to the rows the database finds sharing a
name or a mailbox. These tests hold that to `respondent_rules.check_list` over the whole file, on a list
longer than one chunk and full of collisions.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
import time_machine
from sqlmodel import Session, delete, select

from portal.domain import bulk_rows, list_import, lists, respondent_rules
from portal.domain.campaigns import current_campaign
from portal.models import AuditEntry, Province, Respondent, RespondentList
from tests.support.accounts import HA_NOI
from tests.support.respondent_files import GROUP_1, GROUP_2, GROUP_3, GROUP_4, csv_text, realistic_rows, xlsx_bytes

TZ = "Asia/Ho_Chi_Minh"

# Rows that collide with each other in every way the rules know, spread over the list.
COLLISIONS = [
    ["Nguyễn Văn An", "Đại biểu HĐND thành phố", GROUP_1, "Sở Tài chính", "an@hanoi.gov.vn", "", ""],
    ["NGUYỄN VĂN AN", "Giám đốc", GROUP_2, "Sở Tài chính", "AN@hanoi.gov.vn", "0912345678", ""],
    ["Nguyễn Văn An", "Trưởng phòng Tổng hợp", GROUP_3, "Sở Y tế", "an.khac@hanoi.gov.vn", "912345678", ""],
    ["Trần Thị Bình", "Chủ tịch UBND", GROUP_4, "Đông Anh", "binh@hanoi.gov.vn", "0987654321", ""],
    ["Trần Thị Bình", "Phó Chủ tịch UBND", GROUP_4, "Huyện Đông Anh", "binh2@hanoi.gov.vn", "0987000111", ""],
    ["Lê Hà", "Phó Giám đốc", GROUP_2, "Sở Y tế", "binh@hanoi.gov.vn", "", ""],
    ["Lê Hà", "Phó Giám đốc", GROUP_2, "Sở Y tế", "leha@hanoi.gov.vn", "", ""],
    ["", "Phó Giám đốc", GROUP_2, "Sở Y tế", "leha@hanoi.gov.vn", "", ""],
    ["Phạm Minh", "Trưởng phòng", "nhóm lạ", "", "", "091.234.5678", ""],
    ["Phạm Minh", "Trưởng phòng", "nhóm lạ", "", "", "091.234.5678", ""],
]


@pytest.fixture
def draft(session, province_user):
    with time_machine.travel("2022-01-05 09:00 +0700", tick=False):
        campaign = current_campaign(session)
        yield campaign, session.get(Province, HA_NOI), lists.get_or_create_list(session, campaign, HA_NOI)


def long_list(count: int) -> list[list[str]]:
    """`count` realistic rows with the collisions spread through them (across the insert's chunks)."""
    rows = [row[1:] for row in realistic_rows(count - len(COLLISIONS) * 3)]
    for copy in range(3):
        for i, collision in enumerate(COLLISIONS):
            rows.insert((copy * 997 + i * 131) % len(rows), list(collision))
    return [[str(n), *row] for n, row in enumerate(rows, start=1)]


def stored(session: Session, rlist: RespondentList) -> list[tuple]:
    session.expire_all()
    return [(p.row_number, p.full_name, p.position, p.group_id, p.group_text, p.unit, p.department_id,
             p.district_id, p.ministry_id, p.answers_ministry_form, p.email, p.phone, p.search_text,
             json.loads(p.problems), p.error_count, p.name_key, p.has_notice)
            for p in session.exec(select(Respondent).where(Respondent.list_id == rlist.id)
                                  .order_by(Respondent.row_number))]


def whole_list_check(session: Session, draft, rows: list[list[str]]) -> tuple[list[tuple], list[str], list[list[int]]]:
    """What the check of the whole list at once gives for `rows` (as the file's rows 2, 3, …): the rows
    as they would be stored, the list's notices and the merges ([row gone, row kept])."""
    campaign, province, rlist = draft
    keys = ("full_name", "position", "group", "unit", "email", "phone", "note")
    inputs = [respondent_rules.RowInput(key=n, number=n, values=dict(zip(keys, row[1:], strict=True)))
              for n, row in enumerate(rows, start=2)]
    check = respondent_rules.check_list(inputs, lists.province_refs(session, campaign, province))
    lookups = lists.Lookups.load(session, campaign)
    by_key = {r.key: r for r in inputs}
    expected = []
    for row in check.rows:
        v = lists.row_values(row, by_key[row.key].values["group"], lookups)
        expected.append((v["row_number"], v["full_name"], v["position"], v["group_id"], v["group_text"], v["unit"],
                         v["department_id"], v["district_id"], v["ministry_id"], v["answers_ministry_form"],
                         v["email"], v["phone"], v["search_text"], json.loads(v["problems"]), v["error_count"],
                         v["name_key"], v["has_notice"]))
    notices = sorted([(p.number, p.message) for row in check.rows for p in row.problems if p.level == "notice"]
                     + [(d.number, d.message) for d in check.dropped], key=lambda item: item[0])
    merges = [[d.number, d.kept_number] for d in sorted(check.dropped, key=lambda d: d.number)]
    return expected, [message for _, message in notices], merges


@pytest.mark.parametrize("kind", ["xlsx", "csv"])
def test_a_streamed_import_stores_what_the_whole_list_check_gives(session, province_user, draft, kind):
    campaign, province, rlist = draft
    rows = long_list(2300)
    data = xlsx_bytes(rows) if kind == "xlsx" else csv_text(rows).encode()

    outcome = list_import.import_file(session, province_user, rlist, campaign, province, data, f"ds.{kind}", tz_name=TZ)

    expected, notices, merges = whole_list_check(session, draft, rows)
    assert stored(session, rlist) == expected
    assert json.loads(rlist.check_notices) == notices
    assert (outcome.kept, outcome.dropped) == (len(expected), len(merges))
    assert outcome.errors == sum(row[14] for row in expected)
    assert outcome.rows_with_errors == sum(1 for row in expected if row[14])
    assert [entry["rows"] for entry in json.loads(rlist.merge_record)] == merges
    problems = [p["message"] for row in expected for p in row[13]]
    assert len(merges) >= 6 and any("cùng họ tên và cơ quan" in m for m in problems)
    assert any("cũng được ghi cho người khác" in m for m in problems)


@pytest.mark.parametrize("refusal", ["too_many_rows", "damaged_record"])
def test_a_file_refused_half_way_leaves_the_saved_draft_as_it_was(session, province_user, draft, refusal):
    campaign, province, rlist = draft
    list_import.import_file(session, province_user, rlist, campaign, province, csv_text(long_list(1200)).encode(),
                      "cu.csv", tz_name=TZ)
    before = stored(session, rlist)
    session.refresh(rlist)
    fields = (rlist.source_filename, rlist.check_notices, rlist.merge_record, rlist.version)
    if refusal == "too_many_rows":
        data, limit = csv_text(long_list(2500)).encode(), 2400
    else:  # after 1,500 good rows, a quote never closed runs past the CSV reader's field limit
        data, limit = (csv_text(long_list(1500)) + '1501,"Nguyễn Văn Hỏng' + "x" * 140_000).encode(), 20_000

    with pytest.raises(lists.ListError) as refused:
        list_import.import_file(session, province_user, rlist, campaign, province, data, "moi.csv", tz_name=TZ,
                          max_rows=limit)

    assert ("tối đa 2.400 dòng" in refused.value.message) if refusal == "too_many_rows" else (
        "CSV bị lỗi định dạng" in refused.value.message)
    assert stored(session, rlist) == before
    session.refresh(rlist)
    assert (rlist.source_filename, rlist.check_notices, rlist.merge_record, rlist.version) == fields
    assert session.exec(select(AuditEntry).where(AuditEntry.action == "Tải lên danh sách")).all().__len__() == 1


def row_template(rlist: RespondentList) -> tuple[dict, tuple[str, ...]]:
    """A respondent row of `rlist` as the table's columns (all but the id) and their names."""
    at = datetime(2022, 1, 5, 2, 0, 0, tzinfo=UTC)
    template = Respondent(list_id=rlist.id, province_id=HA_NOI, created_at=at, updated_at=at).model_dump()
    del template["id"]
    return template, tuple(template)


def test_bulk_rows_are_read_back_as_the_orm_writes_them_and_leave_with_a_rollback(session, draft):
    campaign, province, rlist = draft
    template, columns = row_template(rlist)
    at = template["created_at"]

    def person(n: int) -> tuple:
        return tuple({**template, "row_number": n, "full_name": f"Người {n}", "answers_ministry_form": n % 2 == 0}
                     .values())

    written = bulk_rows.insert_rows(session, Respondent.__table__, columns, (person(n) for n in range(1, 2502)),
                                    chunk=1000)

    people = session.exec(select(Respondent).where(Respondent.list_id == rlist.id)
                          .order_by(Respondent.row_number)).all()
    assert written == len(people) == 2501
    assert (people[1].full_name, people[1].answers_ministry_form, people[1].created_at) == ("Người 2", True, at)
    assert session.exec(select(Respondent).where(Respondent.list_id == rlist.id,
                                                 Respondent.created_at == at)).all().__len__() == 2501
    session.rollback()
    assert session.exec(select(Respondent).where(Respondent.list_id == rlist.id)).all() == []


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "bulk-rows"]


def test_the_writer_runs_its_statements_in_order_and_leaves_no_thread_behind(session, draft):
    campaign, province, rlist = draft
    template, columns = row_template(rlist)
    old = [tuple({**template, "row_number": n, "full_name": f"Cũ {n}"}.values()) for n in range(1, 1201)]
    bulk_rows.insert_rows(session, Respondent.__table__, columns, old, chunk=500)
    session.commit()

    with bulk_rows.writing(session) as writer:
        writer.execute(delete(Respondent).where(Respondent.list_id == rlist.id, Respondent.row_number > 100))
        written = writer.insert(Respondent.__table__, columns, (
            tuple({**template, "row_number": n, "full_name": f"Mới {n}"}.values()) for n in range(101, 2602)),
            chunk=500)
    session.commit()

    names = session.exec(select(Respondent.full_name).where(Respondent.list_id == rlist.id)
                         .order_by(Respondent.row_number)).all()
    assert written == 2501
    assert names == [f"Cũ {n}" for n in range(1, 101)] + [f"Mới {n}" for n in range(101, 2602)]
    assert writer_threads() == []


def test_a_row_the_database_refuses_raises_from_the_writer_and_the_rollback_keeps_the_draft(session, draft):
    campaign, province, rlist = draft
    template, columns = row_template(rlist)
    bulk_rows.insert_rows(session, Respondent.__table__, columns,
                          [tuple({**template, "row_number": n, "full_name": f"Cũ {n}"}.values()) for n in (1, 2)])
    session.commit()

    def rows():
        for n in range(1, 3001):  # the 1,500th names a list that does not exist: a foreign key refuses it
            yield tuple({**template, "row_number": n, "list_id": rlist.id if n != 1500 else 987_654}.values())

    with pytest.raises(Exception, match="(?i)foreign key"), bulk_rows.writing(session) as writer:
        writer.execute(delete(Respondent).where(Respondent.list_id == rlist.id))
        writer.insert(Respondent.__table__, columns, rows(), chunk=500)
    session.rollback()

    assert session.exec(select(Respondent.full_name).where(Respondent.list_id == rlist.id)
                        .order_by(Respondent.row_number)).all() == ["Cũ 1", "Cũ 2"]
    assert writer_threads() == []


def test_a_failure_while_rows_are_read_drops_what_the_writer_had_queued(session, draft):
    campaign, province, rlist = draft
    template, columns = row_template(rlist)

    def rows():
        for n in range(1, 2201):
            yield tuple({**template, "row_number": n}.values())
        raise lists.ListError("Tệp bị hỏng ở dòng 2.201.")

    with pytest.raises(lists.ListError, match="dòng 2.201"), bulk_rows.writing(session) as writer:
        writer.insert(Respondent.__table__, columns, rows(), chunk=500)
    session.rollback()

    assert session.exec(select(Respondent.id).where(Respondent.list_id == rlist.id)).all() == []
    assert writer_threads() == []
