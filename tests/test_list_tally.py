"""The list keeps what its rows add up to (list_tally): current after every change, never trusted beyond it.

The random edits of test_list_recheck prove the kept tally equals the rows' count after each edit; here,
the cases where it must not be carried: two requests editing one list at once, a change that bumps the
version without counting, a tally that lies (sending decides on the rows), and what a return carries.
"""

from __future__ import annotations

import pytest
import time_machine
from sqlalchemy import update
from sqlmodel import Session, select

from portal.domain import list_tally, lists
from portal.domain.campaigns import current_campaign
from portal.models import Province, Respondent, RespondentList
from tests.support.accounts import HA_NOI
from tests.support.respondent_files import GROUP_2
from tests.test_list_recheck import import_draft, person

TZ = "Asia/Ho_Chi_Minh"


@pytest.fixture
def draft(session, province_user):
    with time_machine.travel("2022-01-05 09:00 +0700", tick=False):
        campaign = current_campaign(session)
        province = session.get(Province, HA_NOI)
        rlist = lists.get_or_create_list(session, campaign, HA_NOI)
        import_draft(session, province_user, (campaign, province, rlist),
                     [person("Nguyễn Văn An", "an@hanoi.gov.vn"), person("Trần Thị Bình", "binh@hanoi.gov.vn"),
                      person("Lê Hà", "ha@hanoi.gov.vn", "Sở Tài chính"), person("Phạm Chung", "")])
        yield campaign, province, rlist


def row(session: Session, name: str) -> Respondent:
    return session.exec(select(Respondent).where(Respondent.full_name == name)).one()


def values_of(person_row: Respondent, **changes: str) -> dict[str, str]:
    values = {"full_name": person_row.full_name, "position": person_row.position, "group": GROUP_2,
              "unit": person_row.unit, "email": person_row.email, "phone": person_row.phone, "note": ""}
    return {**values, **changes}


def fix_and_send(session: Session, user, draft) -> None:
    """Give Phạm Chung an address (the list's one error), then send the list."""
    campaign, province, rlist = draft
    chung = row(session, "Phạm Chung")
    lists.update_respondent(session, user, rlist, campaign, province, chung,
                            values_of(chung, email="chung@hanoi.gov.vn"), tz_name=TZ)
    session.refresh(rlist)
    assert lists.send_list(session, user, rlist, campaign, province, version=rlist.version, tz_name=TZ,
                           confirmed_warnings=True)


def kept_and_counted(session: Session, rlist: RespondentList) -> tuple:
    session.expire_all()
    return list_tally.stored(rlist), list_tally.count_rows(session, rlist.id)


def test_an_import_keeps_what_its_rows_add_up_to(session, draft):
    campaign, _province, rlist = draft
    kept, counted = kept_and_counted(session, rlist)
    assert kept == counted
    facts = lists.summary(session, rlist, campaign)
    assert (facts.total, facts.rows_with_errors) == (4, 1)  # Phạm Chung has no address
    assert facts == lists.summary(session, rlist, campaign, from_rows=True)


def test_two_edits_of_one_list_at_once_leave_the_tally_of_both(session, province_user, draft):
    campaign, province, rlist = draft
    with time_machine.travel("2022-01-05 09:05 +0700", tick=False), Session(session.get_bind()) as other:
        # This request reads the list and its row first; another one saves its edit before this one does.
        mine = row(session, "Lê Hà")
        session.refresh(rlist)
        other_list = other.get(RespondentList, rlist.id)
        lists.update_respondent(other, province_user, other_list, campaign, other.get(Province, HA_NOI),
                                row(other, "Phạm Chung"), values_of(row(other, "Phạm Chung"),
                                                                    email="chung@hanoi.gov.vn"), tz_name=TZ)
        # Its kept tally, plus this edit's change, would miss the other's fix: counted from the rows instead.
        lists.update_respondent(session, province_user, rlist, campaign, province, mine,
                                values_of(mine, email="an@hanoi.gov.vn"), tz_name=TZ)
    kept, counted = kept_and_counted(session, rlist)
    assert kept == counted
    facts = lists.summary(session, rlist, campaign)
    # Phạm Chung's row is fixed by the other request; Lê Hà's now shares Nguyễn Văn An's mailbox.
    assert (facts.total, facts.rows_with_errors) == (4, 2)
    assert facts == lists.summary(session, rlist, campaign, from_rows=True)


def test_a_change_that_bumps_the_version_without_counting_retires_the_tally(session, draft):
    campaign, _province, rlist = draft
    session.refresh(rlist)
    rlist.version += 1
    session.add(rlist)
    session.commit()
    assert list_tally.stored(rlist) is None
    assert lists.summary(session, rlist, campaign).total == 4  # read from the rows


def test_sending_decides_on_the_rows_not_on_a_kept_tally(session, province_user, draft):
    campaign, province, rlist = draft
    session.refresh(rlist)
    # A tally that says the list is clean while a row still has no address.
    clean = list_tally.ListTally({key: [people, 0, 0] for key, (people, _e, _r)
                                  in list_tally.count_rows(session, rlist.id).counts.items()})
    rlist.tally, rlist.tally_version = clean.to_json(), rlist.version
    session.add(rlist)
    session.commit()
    assert lists.summary(session, rlist, campaign).errors == 0
    refused = pytest.raises(lists.ListError, match="1 dòng có lỗi")
    with time_machine.travel("2022-01-05 09:10 +0700", tick=False), refused:
        lists.send_list(session, province_user, rlist, campaign, province, version=rlist.version, tz_name=TZ,
                        confirmed_warnings=True)


def test_sending_and_returning_carry_a_current_tally(session, province_user, ministry_user, draft):
    campaign, province, rlist = draft
    with time_machine.travel("2022-01-05 09:10 +0700", tick=False):
        fix_and_send(session, province_user, draft)
        kept, counted = kept_and_counted(session, rlist)
        assert kept == counted
        lists.return_list(session, ministry_user, rlist, province, "Sửa lại chức vụ")
        kept, counted = kept_and_counted(session, rlist)
        assert kept == counted


def bump_elsewhere(session: Session, rlist: RespondentList) -> None:
    """Another request's change that retires the tally, committed after this request read the list (a
    department renamed: its rows' ministry changed, the version bumped in SQL)."""
    with Session(session.get_bind()) as other:
        other.exec(update(RespondentList).where(RespondentList.id == rlist.id)
                   .values(version=RespondentList.version + 1))
        other.commit()


def test_an_import_that_read_the_list_before_another_change_does_not_take_its_version_back(
        session, province_user, draft):
    campaign, province, rlist = draft
    session.refresh(rlist)
    read = rlist.version
    bump_elsewhere(session, rlist)
    with time_machine.travel("2022-01-05 09:20 +0700", tick=False):
        import_draft(session, province_user, (campaign, province, rlist),
                     [person("Nguyễn Văn An", "an@hanoi.gov.vn"), person("Lê Hà", "")])
    session.expire_all()
    assert rlist.version == read + 2  # after the other change's, never equal to it
    kept, counted = kept_and_counted(session, rlist)
    assert kept == counted
    assert lists.summary(session, rlist, campaign).rows_with_errors == 1


def test_a_return_that_read_the_list_before_another_change_leaves_the_tally_retired(
        session, province_user, ministry_user, draft):
    campaign, province, rlist = draft
    with time_machine.travel("2022-01-05 09:10 +0700", tick=False):
        fix_and_send(session, province_user, draft)
        session.refresh(rlist)
        read = rlist.version
        bump_elsewhere(session, rlist)
        lists.return_list(session, ministry_user, rlist, province, "Sửa lại chức vụ")
    session.expire_all()
    assert rlist.version == read + 2
    assert list_tally.stored(rlist) is None  # retired by the other change: counted from the rows
    assert lists.summary(session, rlist, campaign) == lists.summary(session, rlist, campaign, from_rows=True)
