"""Đợt đánh giá: the ministry's list of campaigns, a new one from scratch or by copying, the current switch,
and a past campaign read (never changed) by the ministry and each province (portal/campaigns, campaign_admin)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, func, select

from portal.domain import reminders
from portal.domain.campaigns import current_campaign
from portal.models import (
    Answer,
    AuditEntry,
    Campaign,
    Invitation,
    Notice,
    PositionTitle,
    ProvinceRequest,
    QuestionnaireVersion,
    ReminderSchedule,
    RespondentGroup,
    RespondentList,
)
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in
from tests.support.html import text_of
from tests.support.survey import DURING_SURVEY, answer, launch_survey

NEW_2022 = {"year": "2022", "name": "Xác định Chỉ số CCHC năm 2022", "plan_ref": "Kế hoạch số 12/KH-BNV",
            "it_focal_deadline": "10/01/2023", "list_deadline": "15/01/2023",
            "self_assessment_deadline": "15/02/2023", "response_deadline": "25/02/2023",
            "contact_name": "Bà Trần Thị Hạnh", "contact_unit": "Vụ Cải cách hành chính, Bộ Nội vụ",
            "contact_phone": "024 3824 0101", "contact_email": "cchc@moha.gov.vn"}


def count(session: Session, model, *where) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def groups_of(session: Session, campaign_id: int) -> list[tuple]:
    return [(g.code, g.number, g.name, g.who, g.answers_locality_form, g.answers_ministry_form)
            for g in session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign_id)
                                  .order_by(RespondentGroup.number))]


def titles_of(session: Session, campaign_id: int) -> list[tuple]:
    return sorted((g.code, t.title, t.common_forms) for t, g in session.exec(
        select(PositionTitle, RespondentGroup).join(RespondentGroup, RespondentGroup.id == PositionTitle.group_id)
        .where(RespondentGroup.campaign_id == campaign_id)))


def new_campaign(session: Session) -> Campaign:
    session.expire_all()
    return session.exec(select(Campaign).where(Campaign.year == 2022)).one()


def test_a_copy_carries_groups_questionnaire_and_reminder_days_and_never_lists_answers_or_requests(
        app, client, session, ministry_user, time_machine):
    time_machine.move_to(DURING_SURVEY, tick=False)
    survey = launch_survey(app, session, ministry_user, HA_NOI)  # a sent list, the questionnaire, invitations
    answer(app, session, survey.invitations[0], survey.invitations[0].form_codes[0])
    source = survey.campaign
    reminders.schedule_reminder(session, ministry_user, source, date(2022, 2, 15), tz_name="Asia/Ho_Chi_Minh",
                                max_reminders=3)
    session.add(ProvinceRequest(campaign_id=source.id, province_id=HA_NOI, author_id=ministry_user.id,
                                form_key="k", kind="technical", reason="Hỏi"))
    session.commit()
    notices_before = count(session, Notice)
    log_in(client, ministry_user)

    response = client.post(f"/bo/dot-danh-gia/moi?tu={source.id}", data={**NEW_2022, "tu": str(source.id)})

    assert response.status_code == 303
    copy = new_campaign(session)
    assert (copy.name, copy.plan_ref, copy.list_deadline, copy.response_deadline, copy.contact_email) == (
        "Xác định Chỉ số CCHC năm 2022", "Kế hoạch số 12/KH-BNV", date(2023, 1, 15), date(2023, 2, 25),
        "cchc@moha.gov.vn")
    assert (copy.is_current, copy.is_template, copy.copied_from_id) == (False, False, source.id)
    assert groups_of(session, copy.id) == groups_of(session, source.id)
    assert titles_of(session, copy.id) == titles_of(session, source.id) != []
    [version] = session.exec(select(QuestionnaireVersion).where(QuestionnaireVersion.campaign_id == copy.id)).all()
    original = session.exec(select(QuestionnaireVersion).where(QuestionnaireVersion.campaign_id == source.id)).one()
    assert original.frozen_at is not None
    assert (version.version, version.document, version.title, version.is_current, version.frozen_at) == (
        1, original.document, original.title, True, None)
    # 5 days before the response deadline then, 5 days before it now.
    assert [r.send_on for r in session.exec(select(ReminderSchedule).where(
        ReminderSchedule.campaign_id == copy.id))] == [date(2023, 2, 20)]
    for model in (RespondentList, Invitation, Answer, ProvinceRequest):
        assert count(session, model, model.campaign_id == copy.id) == 0, model.__name__
    assert count(session, Invitation, Invitation.campaign_id == source.id) == len(survey.invitations)
    assert count(session, Notice) == notices_before  # nobody is told of a campaign not opened yet
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "Tạo đợt đánh giá")).one()
    assert entry.detail.startswith(f"Xác định Chỉ số CCHC năm 2022 (sao chép từ {source.name}: 4 nhóm đối tượng")
    page = text_of(client.get("/bo/dot-danh-gia").get_data(as_text=True))
    assert "Xác định Chỉ số CCHC năm 2022" in page and "Đã tạo, chưa mở" in page
    assert f"Sao chép từ: {source.name}" in page


def test_a_campaign_from_scratch_gets_the_default_groups_and_no_questionnaire(client, session, ministry_user):
    log_in(client, ministry_user)

    response = client.post("/bo/dot-danh-gia/moi", data={**NEW_2022, "contact_name": "", "contact_unit": "",
                                                         "contact_phone": "", "contact_email": ""})

    assert response.status_code == 303
    campaign = new_campaign(session)
    assert [g[0] for g in groups_of(session, campaign.id)] == ["HDND", "LD_SO", "LD_PHONG", "LD_HUYEN"]
    assert count(session, QuestionnaireVersion, QuestionnaireVersion.campaign_id == campaign.id) == 0
    assert (campaign.copied_from_id, campaign.contact_name) == (None, "")


def test_the_copy_form_opens_with_the_source_dates_a_year_on(client, session, ministry_user):
    source = current_campaign(session)
    log_in(client, ministry_user)

    page = client.get(f"/bo/dot-danh-gia/moi?tu={source.id}").get_data(as_text=True)

    assert 'name="list_deadline" value="15/01/2027"' in page or 'value="15/01/2027"' in page  # 2022 + years to today
    assert "Không</strong> sao chép danh sách đối tượng" in page


def test_bad_values_are_refused_in_vietnamese_and_nothing_is_created(client, session, ministry_user):
    log_in(client, ministry_user)

    response = client.post("/bo/dot-danh-gia/moi", data={**NEW_2022, "year": "２０２２", "list_deadline": "31/02/2023",
                                                         "response_deadline": "01/01/2023",
                                                         "contact_email": "khong-phai-email"})

    assert response.status_code == 422
    page = text_of(response.get_data(as_text=True))
    assert "Năm đánh giá: vui lòng nhập năm gồm 4 chữ số, ví dụ 2026." in page
    assert "Gửi danh sách đối tượng khảo sát: vui lòng nhập ngày theo dạng dd/mm/yyyy." in page
    assert "Địa chỉ email không hợp lệ." in page
    assert 'value="khong-phai-email"' in response.get_data(as_text=True)  # what was typed stays
    assert count(session, Campaign) == 1

    out_of_order = client.post("/bo/dot-danh-gia/moi", data={**NEW_2022, "response_deadline": "01/01/2023"})
    assert "không được trước hạn gửi danh sách (15/01/2023)" in text_of(out_of_order.get_data(as_text=True))
    twice = client.post("/bo/dot-danh-gia/moi", data={**NEW_2022, "year": "2021"})
    assert "Đã có đợt đánh giá năm 2021; mỗi năm chỉ một đợt." in text_of(twice.get_data(as_text=True))
    assert count(session, Campaign) == 1


def test_making_a_campaign_current_closes_the_previous_one_audited_and_told_to_every_province(
        client, session, ministry_user, province_user):
    old = current_campaign(session)
    log_in(client, ministry_user)
    client.post("/bo/dot-danh-gia/moi", data=NEW_2022)
    copy = new_campaign(session)

    unconfirmed = client.post(f"/bo/dot-danh-gia/{copy.id}/hien-hanh", follow_redirects=True)
    assert "Vui lòng đánh dấu ô xác nhận" in text_of(unconfirmed.get_data(as_text=True))
    assert current_campaign(session).id == old.id

    response = client.post(f"/bo/dot-danh-gia/{copy.id}/hien-hanh", data={"xac_nhan": "1"})

    assert response.status_code == 303
    session.expire_all()
    assert current_campaign(session).id == copy.id
    assert count(session, Campaign, Campaign.is_current == True) == 1  # noqa: E712
    closed = session.get(Campaign, old.id)
    assert (closed.is_current, closed.closed_at is not None) == (False, True)
    entry = session.exec(select(AuditEntry).where(AuditEntry.action == "Chọn đợt đánh giá hiện hành")).one()
    assert entry.detail == f"{copy.name} (thay {old.name}, chuyển sang chỉ xem)"
    notice = session.exec(select(Notice)).one()
    assert (notice.title, notice.to_all) == (f"Bộ Nội vụ mở {copy.name}", True)
    # The old one cannot be opened again; the province works on the new one and reads the old one.
    again = client.post(f"/bo/dot-danh-gia/{old.id}/hien-hanh", data={"xac_nhan": "1"}, follow_redirects=True)
    assert "đã kết thúc nên không mở lại được" in text_of(again.get_data(as_text=True))
    assert current_campaign(session).id == copy.id
    log_in(client, province_user)
    home = text_of(client.get("/").get_data(as_text=True))
    assert copy.name in home and "15/01/2023" in home
    assert f"Các đợt trước (chỉ xem) {old.name}" in home


def test_two_campaigns_can_never_both_be_current(session, ministry_user):
    import pytest
    from sqlalchemy.exc import IntegrityError

    other = Campaign(year=2030, name="Đợt thử", it_focal_deadline=date(2030, 1, 1), list_deadline=date(2030, 1, 2),
                     self_assessment_deadline=date(2030, 1, 3), response_deadline=date(2030, 1, 4), is_current=True)
    session.add(other)
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_two_officers_opening_campaigns_at_once_get_one_opened_and_a_message_not_an_error(session, ministry_user):
    """PostgreSQL: the second switch waits on the first's lock, then meets the unique index."""
    import threading
    import time

    import pytest
    from sqlalchemy import text

    from portal.domain import campaign_admin
    from portal.models import User

    engine = session.get_bind()
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: the two switches cannot overlap there")

    def campaign(year: int) -> int:
        item = Campaign(year=year, name=f"Đợt {year}", it_focal_deadline=date(year, 1, 1),
                        list_deadline=date(year, 1, 2), self_assessment_deadline=date(year, 1, 3),
                        response_deadline=date(year, 1, 4))
        session.add(item)
        session.commit()
        return item.id

    first_id, second_id = campaign(2031), campaign(2032)
    outcome: list[object] = []
    with Session(engine) as first:
        campaign_admin.switch_current(first, first.get(Campaign, first_id))  # holds the lock, not committed

        def second_officer() -> None:
            with Session(engine) as second:
                try:
                    campaign_admin.make_current(second, second.get(User, ministry_user.id),
                                                second.get(Campaign, second_id), confirmed=True)
                    outcome.append("opened")
                except campaign_admin.CampaignSwitchError as refused:
                    outcome.append(refused.message)

        thread = threading.Thread(target=second_officer)
        thread.start()
        deadline = time.monotonic() + 30
        with engine.connect() as watcher:  # wait until the second switch is blocked on the first's lock
            def waiting() -> int:
                found = watcher.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                             " AND datname = current_database()")).scalar()
                # pg_stat_activity is read once per transaction: end it, or every later look sees the first one.
                watcher.rollback()
                return found

            while not waiting():
                assert time.monotonic() < deadline, "the second switch never waited on the first"
                time.sleep(0.02)
        first.commit()
        thread.join(timeout=30)

    assert outcome == ["Một cán bộ khác vừa chọn đợt hiện hành cùng lúc. Vui lòng tải lại trang, xem đợt nào "
                       "đang là đợt hiện hành rồi chọn lại nếu cần."]
    session.expire_all()
    assert current_campaign(session).id == first_id


def test_a_template_is_copied_never_made_current(client, session, ministry_user):
    template = current_campaign(session)
    template.is_template, template.is_current = True, False
    session.add(template)
    session.commit()
    log_in(client, ministry_user)

    response = client.post(f"/bo/dot-danh-gia/{template.id}/hien-hanh", data={"xac_nhan": "1"},
                           follow_redirects=True)

    assert "Đợt mẫu chỉ dùng để sao chép" in text_of(response.get_data(as_text=True))
    assert current_campaign(session) is None


def test_a_past_campaign_is_read_by_the_ministry_and_its_province_and_changed_by_nobody(
        app, client, session, ministry_user, province_user, other_province_user, time_machine):
    time_machine.move_to(DURING_SURVEY, tick=False)
    survey = launch_survey(app, session, ministry_user, HA_NOI)
    past = survey.campaign
    log_in(client, ministry_user)
    client.post("/bo/dot-danh-gia/moi", data=NEW_2022)
    client.post(f"/bo/dot-danh-gia/{new_campaign(session).id}/hien-hanh", data={"xac_nhan": "1"})
    person = survey.invitations[0].respondent

    log_in(client, province_user)
    overview = text_of(client.get(f"/dot/{past.id}/").get_data(as_text=True))
    listing = client.get(f"/dot/{past.id}/tinh/{HA_NOI}/danh-sach")
    progress_page = client.get(f"/dot/{past.id}/tinh/{HA_NOI}/tien-do")
    edit = client.post(f"/khao-sat/danh-sach/nguoi/{person.id}", data={"full_name": "Tên mới"})

    assert "không phải đợt đánh giá hiện hành: dữ liệu chỉ để xem, không sửa được" in overview
    assert listing.status_code == 200 and person.full_name in listing.get_data(as_text=True)
    assert "/sua" not in listing.get_data(as_text=True) and "<form method=\"post\"" not in listing.get_data(
        as_text=True)
    assert progress_page.status_code == 200 and person.full_name in progress_page.get_data(as_text=True)
    assert "/khao-sat/tien-do/don-doc" not in progress_page.get_data(as_text=True)
    assert edit.status_code == 409
    assert f"“{past.name}” không phải đợt đánh giá hiện hành" in text_of(edit.get_data(as_text=True))
    assert client.get(f"/dot/{past.id}/tinh/{HAI_PHONG}/danh-sach").status_code == 404
    log_in(client, ministry_user)
    table = text_of(client.get(f"/dot/{past.id}/").get_data(as_text=True))
    assert "Thành phố Hà Nội Đã phát hành khảo sát" in table
    assert client.get(f"/dot/{past.id}/tinh/{HA_NOI}/danh-sach").status_code == 200
    # The respondent's link of the closed year answers "closed", whatever its dates said.
    link = client.get(f"/phieu/{survey.invitations[0].token}/{survey.invitations[0].form_codes[0]}")
    assert link.status_code == 410
    assert past.response_deadline > (DURING_SURVEY + timedelta(days=1)).date()


def test_a_copy_carries_the_framework_unfrozen_and_never_the_scores(client, session, ministry_user, province_user,
                                                                     time_machine):
    from portal.domain import assessment, framework
    from portal.models import Assessment, AssessmentScore, FrameworkVersion

    time_machine.move_to(DURING_SURVEY, tick=False)
    source = current_campaign(session)
    version = framework.load_sample(session, source)
    content = framework.load(version)
    row = assessment.get_or_create(session, source, HA_NOI)
    assert assessment.save_line(session, province_user, row, source, version, content, content.line("1.1.1"),
                                {"answer": "yes", "version": "0"}, "Asia/Ho_Chi_Minh").ok
    log_in(client, ministry_user)

    client.post(f"/bo/dot-danh-gia/moi?tu={source.id}", data={**NEW_2022, "tu": str(source.id)})

    copy = new_campaign(session)
    [carried] = session.exec(select(FrameworkVersion).where(FrameworkVersion.campaign_id == copy.id)).all()
    session.refresh(version)
    assert version.frozen_at is not None
    assert (carried.version, carried.document, carried.is_current, carried.frozen_at) == (
        1, version.document, True, None)
    assert count(session, Assessment, Assessment.campaign_id == copy.id) == 0
    assert count(session, AssessmentScore) == 1
    assert "bộ tiêu chí “Bộ tiêu chí MẪU" in session.exec(select(AuditEntry).where(
        AuditEntry.action == "Tạo đợt đánh giá")).one().detail
