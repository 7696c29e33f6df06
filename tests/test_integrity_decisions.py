"""The ministry's integrity decisions: voiding forms or a province's whole result, dismissing a flag, the two-person
rule (the proposer cannot confirm, a second administrator does), withdrawal, reversal, the audit, the province told,
and `counted_answers` leaving voided answers out while they stay stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlmodel import select

from portal.domain import integrity_decisions as decisions
from portal.domain import integrity_review as review
from portal.domain import integrity_rules as rules
from portal.domain.campaigns import PastCampaign
from portal.models import Answer, AuditEntry, IntegrityDecision, IntegrityFlag, Notice, NoticeRecipient, Role
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in, make_user
from tests.support.html import text_of
from tests.support.survey import answer, launch_survey

DEVICE = "Zm9vYmFyLWRldmljZS0xMjM"  # a device cookie as the survey pages make them (22 characters)
REASON = "Một thiết bị nộp phiếu thay ba người; cán bộ tỉnh thừa nhận."


@pytest.fixture
def second_admin(session):
    return make_user(session, "bo-thu-hai", Role.MINISTRY)


@pytest.fixture
def flagged(app, session, ministry_user, during_survey):
    """Hà Nội's survey with three people's first forms submitted, and a shared-device flag naming them."""
    survey = launch_survey(app, session, ministry_user, per_group=1)
    people = survey.invitations[:3]
    for person in people:
        answer(app, session, person, person.form_codes[0])
    forms = tuple((p.invitation.id, p.form_codes[0]) for p in people)
    evidence = {"device": DEVICE, "respondents": 3, "forms": 3, "first": "2022-02-01T02:00:00Z",
                "last": "2022-02-01T02:04:00Z", "address_prefixes": ["203.0.113.0/24"]}
    rules.save_findings(session, survey.campaign.id, HA_NOI,
                        [rules.Finding(rules.SHARED_DEVICE, "high", forms, evidence)])
    flag = session.exec(select(IntegrityFlag)).one()
    return survey, flag, forms


def _counted(app, session, campaign_id) -> int:
    return len(decisions.counted_answers(session, campaign_id, app.config["SECRET_KEY"]))


def _audit(session) -> list[tuple[str, str]]:
    return [(e.action, e.actor_name) for e in session.exec(select(AuditEntry).where(
        AuditEntry.action.startswith("Kiểm tra can thiệp")).order_by(AuditEntry.id))]


def _propose(session, actor, survey, **kwargs) -> IntegrityDecision:
    values = {"reason": REASON, "form_key": decisions.new_form_key(), **kwargs}
    return decisions.propose(session, actor, survey.campaign, HA_NOI, **values).decision


def test_a_province_void_takes_effect_only_when_a_second_administrator_confirms_it(
        app, session, ministry_user, second_admin, flagged):
    survey, _flag, _ = flagged
    stored = session.exec(select(func.count()).select_from(Answer)).one()

    decision = _propose(session, ministry_user, survey, kind=decisions.VOID_PROVINCE)
    assert decision.state == decisions.PROPOSED
    assert not decisions.is_province_voided(session, survey.campaign.id, HA_NOI)
    assert _counted(app, session, survey.campaign.id) == 3
    with pytest.raises(decisions.DecisionError, match="Người đề xuất không tự xác nhận"):
        decisions.confirm(session, ministry_user, decision)
    assert session.get(IntegrityDecision, decision.id).state == decisions.PROPOSED

    decisions.confirm(session, second_admin, decision)

    assert (decision.state, decision.decided_by_id) == (decisions.IN_EFFECT, second_admin.id)
    assert decisions.is_province_voided(session, survey.campaign.id, HA_NOI)
    assert not decisions.is_province_voided(session, survey.campaign.id, HAI_PHONG)
    assert _counted(app, session, survey.campaign.id) == 0
    assert session.exec(select(func.count()).select_from(Answer)).one() == stored  # kept for an appeal
    assert _audit(session) == [("Kiểm tra can thiệp: đề xuất quyết định", "bonoivu"),
                               ("Kiểm tra can thiệp: quyết định có hiệu lực", "bo-thu-hai")]
    [notice] = session.exec(select(Notice).join(NoticeRecipient).where(NoticeRecipient.province_id == HA_NOI)
                            .where(Notice.title.contains("hủy"))).all()
    assert notice.title == "Bộ Nội vụ hủy toàn bộ kết quả khảo sát của tỉnh" and REASON in notice.body
    assert DEVICE not in notice.body
    with pytest.raises(decisions.DecisionError, match="không còn chờ xác nhận"):
        decisions.confirm(session, second_admin, decision)  # a second click applies nothing twice


def test_voided_forms_stay_stored_and_only_they_stop_counting(app, session, ministry_user, second_admin, flagged):
    survey, flag, forms = flagged

    decision = _propose(session, ministry_user, survey, kind=decisions.VOID_FORMS, flag_id=flag.id,
                        forms=forms[:2])
    decisions.confirm(session, second_admin, decision)

    assert decisions.voided_forms(session, survey.campaign.id, HA_NOI) == set(forms[:2])
    assert _counted(app, session, survey.campaign.id) == 1
    assert session.exec(select(func.count()).select_from(Answer).where(Answer.submitted == True)).one() == 3  # noqa: E712
    session.refresh(flag)
    assert flag.state == "voided"
    [shown] = review.for_province(session, survey.campaign.id, HA_NOI)
    assert (shown.title, shown.reason, shown.reversed_at) == ("Bộ Nội vụ hủy 2 phiếu khảo sát của tỉnh", REASON, None)
    # The same forms again: refused, nothing added.
    with pytest.raises(decisions.DecisionError, match="đã bị hủy"):
        _propose(session, ministry_user, survey, kind=decisions.VOID_FORMS, forms=forms[:2])


def test_a_reversal_is_proposed_and_confirmed_the_same_way_and_the_answers_count_again(
        app, session, ministry_user, second_admin, flagged):
    survey, flag, forms = flagged
    decision = _propose(session, ministry_user, survey, kind=decisions.VOID_FORMS, flag_id=flag.id, forms=forms)
    decisions.confirm(session, second_admin, decision)

    reversal = decisions.propose_reversal(session, second_admin, decision, reason="Tỉnh giải trình: phòng máy chung.",
                                          form_key="dao-nguoc").decision
    assert _counted(app, session, survey.campaign.id) == 0  # not yet: the reversal waits for its confirmation
    with pytest.raises(decisions.DecisionError, match="Người đề xuất không tự xác nhận"):
        decisions.confirm(session, second_admin, reversal)
    decisions.confirm(session, ministry_user, reversal)

    session.refresh(decision)
    session.refresh(flag)
    assert (decision.state, reversal.state, flag.state) == (decisions.REVERSED, decisions.IN_EFFECT, "open")
    assert _counted(app, session, survey.campaign.id) == 3
    [shown] = review.for_province(session, survey.campaign.id, HA_NOI)
    assert shown.reversal_reason == "Tỉnh giải trình: phòng máy chung." and shown.reversed_at is not None
    titles = [n.title for n in session.exec(select(Notice).order_by(Notice.id))]
    assert titles[-2:] == ["Bộ Nội vụ hủy 3 phiếu khảo sát của tỉnh", "Bộ Nội vụ khôi phục 3 phiếu khảo sát của tỉnh"]
    assert [a for a, _ in _audit(session)] == ["Kiểm tra can thiệp: đề xuất quyết định",
                                               "Kiểm tra can thiệp: quyết định có hiệu lực"] * 2
    with pytest.raises(decisions.DecisionError, match="đang có hiệu lực"):
        decisions.propose_reversal(session, ministry_user, decision, reason="Lần nữa", form_key="lan-nua")


def test_reversing_one_of_two_voids_on_a_flag_leaves_the_flag_voided(app, session, ministry_user, second_admin,
                                                                     flagged):
    survey, flag, forms = flagged
    first = _propose(session, ministry_user, survey, kind=decisions.VOID_FORMS, flag_id=flag.id, forms=forms[:1])
    decisions.confirm(session, second_admin, first)
    second = _propose(session, ministry_user, survey, kind=decisions.VOID_FORMS, flag_id=flag.id, forms=forms[1:])
    decisions.confirm(session, second_admin, second)

    reversal = decisions.propose_reversal(session, ministry_user, first, reason="Nhầm người", form_key="r").decision
    decisions.confirm(session, second_admin, reversal)

    session.refresh(flag)
    assert flag.state == "voided"
    assert decisions.voided_forms(session, survey.campaign.id, HA_NOI) == set(forms[1:])
    assert _counted(app, session, survey.campaign.id) == 1


def test_a_withdrawn_proposal_changes_nothing_and_can_no_longer_be_confirmed(
        app, session, ministry_user, second_admin, flagged):
    survey, _flag, _ = flagged
    decision = _propose(session, ministry_user, survey, kind=decisions.VOID_PROVINCE)

    decisions.withdraw(session, ministry_user, decision)

    assert decision.state == decisions.WITHDRAWN
    with pytest.raises(decisions.DecisionError):
        decisions.confirm(session, second_admin, decision)
    assert not decisions.is_province_voided(session, survey.campaign.id, HA_NOI)
    assert review.for_province(session, survey.campaign.id, HA_NOI) == []
    assert _audit(session)[-1] == ("Kiểm tra can thiệp: rút đề xuất", "bonoivu")
    # Withdrawn, the same decision may be proposed again.
    assert _propose(session, ministry_user, survey, kind=decisions.VOID_PROVINCE).state == decisions.PROPOSED


def test_a_dismissed_flag_needs_a_reason_and_the_province_is_told_nothing(
        app, session, ministry_user, second_admin, flagged):
    survey, flag, _ = flagged
    notices_before = session.exec(select(func.count()).select_from(Notice)).one()
    with pytest.raises(decisions.DecisionError, match="lý do"):
        _propose(session, ministry_user, survey, kind=decisions.DISMISS, flag_id=flag.id, reason="  ")

    decision = _propose(session, ministry_user, survey, kind=decisions.DISMISS, flag_id=flag.id)
    with pytest.raises(decisions.DecisionError, match="đang chờ xác nhận"):
        _propose(session, second_admin, survey, kind=decisions.DISMISS, flag_id=flag.id)
    decisions.confirm(session, second_admin, decision)

    session.refresh(flag)
    assert flag.state == "dismissed"
    assert _counted(app, session, survey.campaign.id) == 3
    assert session.exec(select(func.count()).select_from(Notice)).one() == notices_before
    assert review.for_province(session, survey.campaign.id, HA_NOI) == []


def test_posting_the_same_proposal_twice_makes_one(app, session, ministry_user, flagged):
    survey, _flag, _ = flagged

    first = decisions.propose(session, ministry_user, survey.campaign, HA_NOI, kind=decisions.VOID_PROVINCE,
                              reason=REASON, form_key="mot-lan")
    again = decisions.propose(session, ministry_user, survey.campaign, HA_NOI, kind=decisions.VOID_PROVINCE,
                              reason=REASON, form_key="mot-lan")

    assert (first.created, again.created, again.decision.id) == (True, False, first.decision.id)
    assert session.exec(select(func.count()).select_from(IntegrityDecision)).one() == 1


def test_forms_of_another_province_cannot_be_voided(app, session, ministry_user, flagged):
    survey, _flag, forms = flagged

    with pytest.raises(decisions.DecisionError, match="không thuộc tỉnh này"):
        decisions.propose(session, ministry_user, survey.campaign, HAI_PHONG, kind=decisions.VOID_FORMS,
                          reason=REASON, form_key="tinh-khac", forms=forms)
    assert session.exec(select(func.count()).select_from(IntegrityDecision)).one() == 0


def test_with_the_two_person_rule_off_a_proposal_takes_effect_at_once_and_the_audit_says_so(
        app, session, ministry_user, flagged):
    survey, _flag, _ = flagged

    decision = _propose(session, ministry_user, survey, kind=decisions.VOID_PROVINCE, two_person=False)

    assert (decision.state, decision.decided_by_id) == (decisions.IN_EFFECT, ministry_user.id)
    assert decisions.is_province_voided(session, survey.campaign.id, HA_NOI)
    last = session.exec(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert "không cần người thứ hai xác nhận" in last.detail


def test_a_past_campaign_takes_no_decision(app, session, ministry_user, flagged):
    survey, _flag, _ = flagged
    survey.campaign.is_current = False
    session.add(survey.campaign)
    session.commit()

    with pytest.raises(PastCampaign):
        _propose(session, ministry_user, survey, kind=decisions.VOID_PROVINCE)


# ---------------------------------------------------------------- the pages


def test_the_ministry_reads_the_evidence_and_two_administrators_void_through_the_pages(
        app, client, session, ministry_user, second_admin, province_user, flagged):
    survey, flag, forms = flagged
    page_url = f"/bo/kiem-tra-can-thiep/dot/{survey.campaign.id}/tinh/{HA_NOI}"
    log_in(client, ministry_user)

    index = client.get("/bo/kiem-tra-can-thiep/").get_data(as_text=True)
    overview = client.get(f"/bo/kiem-tra-can-thiep/dot/{survey.campaign.id}").get_data(as_text=True)
    page = client.get(page_url).get_data(as_text=True)

    assert f'<tr id="dot-{survey.campaign.id}">' in index and "Cảnh báo theo tỉnh" in index
    assert "Thành phố Hà Nội" in overview and "Bằng chứng và quyết định" in overview
    assert "Một thiết bị nộp phiếu của nhiều người" in page and "Mức cao" in page
    assert "01/02/2022 09:00" in page and "01/02/2022 09:04" in page  # UTC evidence in giờ Việt Nam
    assert review.short_hash(DEVICE) in page and DEVICE not in page
    assert "203.0.113.0/24" in page
    assert survey.invitations[0].respondent.full_name in page
    # Forms by the names people use, never the file's codes; "Đã nộp phiếu", as every page says it.
    assert "Phiếu đánh giá địa phương" in page and "Đã nộp phiếu" in page
    assert not {code for _, code in forms} & set(text_of(page).replace(",", " ").split())

    missing = client.post(f"{page_url}/de-xuat", data={"kind": "void_province", "reason": "", "form_key": "k1"})
    assert missing.status_code == 422 and "Vui lòng nêu lý do" in missing.get_data(as_text=True)
    # Without a reason the page comes back with the forms ticked as they were, nothing saved.
    one = f"{forms[0][0]}:{forms[0][1]}"
    unticked = client.post(f"{page_url}/de-xuat", data={"kind": "void_forms", "flag_id": str(flag.id), "reason": "",
                                                         "form_key": "k3", "form": [one]}).get_data(as_text=True)
    assert unticked.count(" checked>") == 1 and f'value="{one}"' in unticked
    assert session.exec(select(func.count()).select_from(IntegrityDecision)).one() == 0
    sent = client.post(f"{page_url}/de-xuat", data={
        "kind": "void_forms", "flag_id": str(flag.id), "reason": REASON, "form_key": "k2",
        "form": [f"{i}:{c}" for i, c in forms]})
    assert sent.status_code == 303
    client.post(f"{page_url}/de-xuat", data={  # the same form posted again
        "kind": "void_forms", "flag_id": str(flag.id), "reason": REASON, "form_key": "k2",
        "form": [f"{i}:{c}" for i, c in forms]})
    decision = session.exec(select(IntegrityDecision)).one()
    assert "đề xuất quyết định chờ một quản trị viên khác xác nhận" in client.get("/").get_data(as_text=True)
    own = client.post(f"/bo/kiem-tra-can-thiep/quyet-dinh/{decision.id}/xac-nhan")
    assert own.status_code == 422 and "Người đề xuất không tự xác nhận" in own.get_data(as_text=True)

    log_in(client, second_admin)
    assert f"Xác nhận quyết định số {decision.id}" in client.get(page_url).get_data(as_text=True)
    confirmed = client.post(f"/bo/kiem-tra-can-thiep/quyet-dinh/{decision.id}/xac-nhan", follow_redirects=True)
    assert "quyết định có hiệu lực" in confirmed.get_data(as_text=True)
    assert _counted(app, session, survey.campaign.id) == 0

    log_in(client, province_user)
    home = client.get("/").get_data(as_text=True)
    progress_page = client.get("/khao-sat/tien-do/").get_data(as_text=True)
    for shown in (home, progress_page):
        assert "Bộ Nội vụ hủy 3 phiếu khảo sát của tỉnh" in shown and REASON in shown
        assert DEVICE not in shown and review.short_hash(DEVICE) not in shown and "203.0.113" not in shown
    assert client.get(page_url).status_code == 403


def test_evidence_of_every_rule_reads_in_words():
    lines = review.evidence_lines(rules.MANY_DEVICES, {"devices": ["a" * 22, "b" * 22],
                                                      "first_seen": ["2022-02-01T17:30:00Z", "2022-02-02T01:00:00Z"]},
                                  "Asia/Ho_Chi_Minh")
    changes = review.evidence_lines(rules.CHANGED_THEN_ANSWERED, {"changes": [{
        "audit_entry": 7, "changed_at": "2022-02-01T01:00:00Z", "changed_by": "ha-noi", "device": "d" * 22,
        "invitation": 1, "submitted_at": "2022-02-01T03:00:00Z"}], "devices": ["d" * 22], "forms": 1},
        "Asia/Ho_Chi_Minh")

    assert [line.text for line in lines][1] == (f"{review.short_hash('a' * 22)}: 02/02/2022 00:30; "
                                                f"{review.short_hash('b' * 22)}: 02/02/2022 08:00")
    assert [line.label for line in changes] == ["Số phiếu", "Thiết bị (mã rút gọn)", "Sửa địa chỉ email rồi trả lời"]
    assert changes[2].text == (f"01/02/2022 08:00 tài khoản “ha-noi” sửa địa chỉ (nhật ký số 7); phiếu nộp lúc "
                               f"01/02/2022 10:00 từ thiết bị {review.short_hash('d' * 22)}")
    assert json.dumps([line.text for line in lines + changes]).count("d" * 22) == 0
