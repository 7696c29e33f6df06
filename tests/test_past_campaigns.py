"""A past campaign stays exactly as it was: every POST route of the app, walked from the URL map, is sent by
the role that may use it, with every id in its URL taken from the closed 2021 campaign, and nothing of that
campaign changes (its lists, people, invitations, form states, answers, requests, reminder days, questionnaires,
groups, outbox messages, the campaign itself)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import or_
from sqlalchemy import select as select_rows
from sqlmodel import Session, SQLModel, select

from portal.domain import campaign_admin, reminders
from portal.models import (
    Assessment,
    AssessmentEvidence,
    BounceMessage,
    Campaign,
    DeliveryStatus,
    Department,
    IntegrityDecision,
    Invitation,
    NominationDocument,
    Operation,
    PositionTitle,
    ProvinceRequest,
    Respondent,
    RespondentGroup,
    RespondentList,
    Role,
    StoredFile,
)
from tests.support.accounts import HA_NOI, log_in, make_user
from tests.support.html import text_of
from tests.support.survey import DURING_SURVEY, complete_answers, form_def, launch_survey
from tests.test_isolation import MINISTRY_ONLY, POST_FORM, PUBLIC, ROUTES, access_of

POST_ROUTES = [(endpoint, rule, arguments) for endpoint, method, rule, arguments in ROUTES if method == "POST"]


def actor_for(endpoint: str) -> str | None:
    """The role that may use the route: the ministry on its pages, the IT focal point on delivery errors, the
    province account elsewhere; nobody (a respondent's link) on public routes."""
    access = access_of(endpoint)
    if access == PUBLIC:
        return None
    if access == MINISTRY_ONLY:
        return "ministry_user"
    if endpoint in {"delivery.correct", "delivery.resend"}:
        return "it_focal_user"
    return "province_user"


@pytest.fixture
def closed_2021(app, session, ministry_user, province_user, it_focal_user, time_machine):
    """Hà Nội's 2021 survey launched (one person per group, one form answered, a request, a reminder day, a
    delivery error), then the 2022 campaign opened: 2021 is past. Returns the ids the URLs are built from."""
    time_machine.move_to(DURING_SURVEY, tick=False)
    survey = launch_survey(app, session, ministry_user, HA_NOI, per_group=1)
    past = survey.campaign
    first = survey.invitations[0]
    bounced = session.get(Invitation, survey.invitations[1].invitation.id)
    bounced.delivery_status = DeliveryStatus.BOUNCED.value
    session.add(bounced)
    schedule = reminders.schedule_reminder(session, ministry_user, past, date(2022, 2, 15),
                                           tz_name="Asia/Ho_Chi_Minh", max_reminders=3)
    request_row = ProvinceRequest(campaign_id=past.id, province_id=HA_NOI, author_id=province_user.id,
                                  form_key="past", kind="list_extension", reason="Xin gia hạn",
                                  wanted_until=date(2022, 1, 30))
    message = BounceMessage(digest="cd" * 32, province_id=HA_NOI, kind="unparsed", raw="x")
    stored = StoredFile(sha256="0" * 64, size=1, content_type="application/pdf", original_name="a.pdf")
    session.add(stored)
    session.flush()
    document = NominationDocument(province_id=HA_NOI, file_id=stored.id)
    department = Department(campaign_id=past.id, province_id=HA_NOI, ministry_id=1, name="Sở Du lịch thử",
                            added_by_id=province_user.id)
    # An operation that stopped (its retry would queue it again): the past year's one stays as it is.
    stopped = Operation(kind="remind", campaign_id=past.id, province_id=HA_NOI, state="failed", last_error="x")
    session.add_all([request_row, message, document, department, stopped])
    session.commit()
    assessment_id = _scored_assessment(session, past, province_user)
    evidence = AssessmentEvidence(assessment_id=assessment_id, province_id=HA_NOI, line_code="1.1.1",
                                  file_id=stored.id, added_by_id=province_user.id)
    session.add(evidence)
    # A proposal to void Hà Nội's 2021 result by another administrator: the ministry_user could confirm it then.
    decision = IntegrityDecision(campaign_id=past.id, province_id=HA_NOI, kind="void_province", reason="Thử",
                                 form_key="past", proposed_by_id=make_user(session, "bo-de-xuat", Role.MINISTRY).id)
    session.add(decision)
    session.commit()
    explained = _appraisal_in_its_explanation_window(session, past, assessment_id, stored.id, province_user)
    created = campaign_admin.create_campaign(session, ministry_user, {
        "year": "2022", "name": "Xác định Chỉ số CCHC năm 2022", "it_focal_deadline": "10/01/2023",
        "list_deadline": "15/01/2023", "self_assessment_deadline": "15/02/2023",
        "response_deadline": "25/02/2023"}, source=past)
    campaign_admin.make_current(session, ministry_user, created.campaign, confirmed=True)
    first_group = session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == past.id)
                               .order_by(RespondentGroup.number)).first()
    first_position = session.exec(select(PositionTitle).where(PositionTitle.group_id == first_group.id)).first()
    return {
        "campaign": past,
        "respondent_id": first.respondent.id, "invitation_id": bounced.id, "request_id": request_row.id,
        "schedule_id": schedule.id, "province_id": HA_NOI, "campaign_id": past.id, "user_id": it_focal_user.id,
        "message_id": message.id, "document_id": document.id, "department_id": department.id,
        "operation_id": stopped.id, "question_id": "c1_1",
        "ministry_id": 1,
        "notice_id": _notice_to_ha_noi(session), "number": 1, "form_code": "DP", "token": first.token,
        "code": first.form_codes[0],
        "assessment_id": assessment_id, "line_code": "1.1.1", "framework_number": 1, "evidence_id": evidence.id,
        "appraisal_evidence_id": explained,
        "group_id": first_group.id, "position_id": first_position.id,
        "decision_id": decision.id,
    }


def _scored_assessment(session: Session, campaign: Campaign, user) -> int:
    """Hà Nội's 2021 self-assessment on the sample framework, with one line scored."""
    from portal.domain import assessment, framework

    version = framework.load_sample(session, campaign)
    content = framework.load(version)
    row = assessment.get_or_create(session, campaign, HA_NOI)
    assert assessment.save_line(session, user, row, campaign, version, content, content.line("1.1.1"),
                                {"answer": "no", "version": "0"}, "Asia/Ho_Chi_Minh").ok
    return row.id


def _appraisal_in_its_explanation_window(session: Session, campaign: Campaign, assessment_id: int, file_id: int,
                                         user) -> int:
    """Hà Nội's 2021 assessment sent and appraised, its explanation window open until 2030 (only the campaign's end
    closes it), with a round-1 score, an explanation and a file; returns the file's link id."""
    from portal.models import Appraisal, AppraisalEvidence, AppraisalExplanation, AppraisalScore

    row = session.get(Assessment, assessment_id)
    row.sent_at = row.created_at
    session.add_all([row, Appraisal(assessment_id=assessment_id, campaign_id=campaign.id, province_id=HA_NOI,
                                    state="explaining", explanation_until=date(2030, 1, 1),
                                    explanation_opened_at=row.created_at),
                     AppraisalScore(assessment_id=assessment_id, province_id=HA_NOI, line_code="1.1.1", round=1,
                                    figures='{"answer": "no"}', points=0.0),
                     AppraisalExplanation(assessment_id=assessment_id, province_id=HA_NOI, line_code="1.1.1",
                                          text="Giải trình")])
    link = AppraisalEvidence(assessment_id=assessment_id, province_id=HA_NOI, line_code="1.1.1", file_id=file_id,
                             added_by_id=user.id)
    session.add(link)
    session.commit()
    return link.id


def _notice_to_ha_noi(session: Session) -> int:
    from portal.domain import notices

    return notices.post_system_notice(session, HA_NOI, "Thông báo").id


def past_rows(session: Session, campaign: Campaign) -> dict[str, list[str]]:
    """Every row that belongs to the campaign, directly or through its lists, invitations or groups."""
    session.rollback()
    lists = select_rows(RespondentList.id).where(RespondentList.campaign_id == campaign.id)
    invited = select_rows(Invitation.id).where(Invitation.campaign_id == campaign.id)
    groups = select_rows(RespondentGroup.id).where(RespondentGroup.campaign_id == campaign.id)
    people = select_rows(Respondent.id).where(Respondent.list_id.in_(lists))
    assessments = select_rows(Assessment.id).where(Assessment.campaign_id == campaign.id)
    snapshot = {}
    for table in SQLModel.metadata.sorted_tables:
        conditions = []
        if table.name == "campaign":
            conditions.append(table.c.id == campaign.id)
        if "campaign_id" in table.c:
            conditions.append(table.c.campaign_id == campaign.id)
        if "list_id" in table.c:
            conditions.append(table.c.list_id.in_(lists))
        if "invitation_id" in table.c:
            conditions.append(table.c.invitation_id.in_(invited))
        if "respondent_id" in table.c:
            conditions.append(table.c.respondent_id.in_(people))
        if "group_id" in table.c:
            conditions.append(table.c.group_id.in_(groups))
        if "assessment_id" in table.c:
            conditions.append(table.c.assessment_id.in_(assessments))
        if conditions:
            rows = session.connection().execute(select_rows(table).where(or_(*conditions)))
            snapshot[table.name] = sorted(repr(tuple(row)) for row in rows)
    return snapshot


def test_the_snapshot_covers_the_campaign_tables():
    """A new table tied to a campaign (by campaign_id, list, invitation, person or group) is covered; this
    names the ones covered today, so a new kind of tie is noticed."""
    ties = {"campaign_id", "list_id", "invitation_id", "respondent_id", "group_id", "assessment_id"}
    tied = sorted(t.name for t in SQLModel.metadata.sorted_tables if ties & set(t.c.keys()))
    assert tied == ["answer", "appraisal", "appraisalevidence", "appraisalexplanation", "appraisalscore",
                    "assessment", "assessmentevidence", "assessmentscore", "campaignministry", "campaignprovince",
                    "department", "formprogress", "formsignal", "frameworkversion", "indexcomputation",
                    "integritydecision", "integrityflag", "invitation", "operation", "outboxmessage", "positiontitle",
                    "provinceindex", "provincerequest", "questionnaireversion", "reminderschedule", "respondent",
                    "respondentgroup", "respondentlist", "scorechange"]


def test_no_post_route_changes_a_past_campaign(request, app, client, session, closed_2021):
    """One set-up, every POST route in turn (each by the role that may use it, logged in afresh, since a route
    may log out or change the password); the failures are collected so that each names its route."""
    failures = []
    for number, (endpoint, rule, arguments) in enumerate(POST_ROUTES):
        client.delete_cookie("session")
        role = actor_for(endpoint)
        if role is not None:
            user = request.getfixturevalue(role)
            session.rollback()
            session.refresh(user)
            log_in(client, user)
        url = app.url_map.bind("localhost").build(endpoint, {name: closed_2021[name] for name in arguments})
        # A name of its own for each route, so that a department one route added never blocks another's change.
        form = {**POST_FORM, "xac_nhan": "1", "ten": f"Sở thử số {number}"}
        if "code" in arguments:
            form.update(complete_answers(form_def(session, closed_2021["code"])))
        before = past_rows(session, closed_2021["campaign"])

        response = client.post(url, data=form)

        if response.status_code >= 500:
            failures.append(f"{rule}: {response.status_code}")
        if past_rows(session, closed_2021["campaign"]) != before:
            failures.append(f"{rule}: changed the past campaign")
        if {"respondent_id", "request_id"} & set(arguments) and (
                response.status_code != 409
                or "dữ liệu của đợt này chỉ để xem, không sửa được" not in text_of(response.get_data(as_text=True))):
            failures.append(f"{rule}: {response.status_code} without the read-only message")
        if "token" in arguments and response.status_code != 410:
            failures.append(f"{rule}: {response.status_code}, not 410 (closed)")

    assert len(POST_ROUTES) >= 25
    assert failures == []
