"""The isolation matrix: who can reach which route, proved for every route the portal has.

Every endpoint is classified in ACCESS below; the tests walk the app's URL map, so
a route that nobody classified fails `test_every_endpoint_is_classified`, and each
classified route is then tried by an anonymous visitor, a province account and an
IT focal account of Hà Nội, with every id in its URL taken from another province
(Hải Phòng). Each check walks every route of its class in one test (one set-up, not one
app and database per route: the matrix was a third of the whole suite's time) and reports
every route that fails, by method and URL rule, not only the first.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func
from sqlalchemy import select as select_rows
from sqlmodel import Session, SQLModel, select

from portal import create_app
from portal.domain import notices
from portal.domain.campaigns import current_campaign
from portal.models import AuditEntry, NoticeRead, PositionTitle, Respondent, RespondentGroup, RespondentList, User
from portal.permissions import is_public
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in
from tests.support.survey import DURING_SURVEY

PUBLIC = "public"  # anyone, logged in or not
ANY_LOGGED_IN = "any logged in"  # every role, each sees its own
PROVINCE_SCOPED = "province-scoped"  # rows of one province: its accounts see theirs, never another's
MINISTRY_ONLY = "ministry only"  # the ministry's pages: 403 for every other role

# Who may reach each endpoint: an endpoint name, or "blueprint.*" for every route of a blueprint.
# A NEW ROUTE MUST BE ADDED HERE (with the lists, survey, progress, delivery blueprints and any later one);
# test_every_endpoint_is_classified fails until it is. Exact names win over "blueprint.*".
ACCESS: dict[str, str] = {
    "auth.login": PUBLIC,
    "assets.static": PUBLIC,
    "healthz": PUBLIC,
    "survey.*": PUBLIC,  # respondents, behind their personal link (the token is the permission)
    "home.index": ANY_LOGGED_IN,
    "auth.change_password": ANY_LOGGED_IN,
    "auth.logout": ANY_LOGGED_IN,
    "notices.*": PROVINCE_SCOPED,
    "lists.*": PROVINCE_SCOPED,  # the province's respondent list (province accounts only; 403 for IT focal)
    "progress.*": PROVINCE_SCOPED,  # the province's survey progress and reminders
    "ministry.*": MINISTRY_ONLY,
    # Launching the survey and its automatic reminder days (named although "ministry.*" covers them).
    "ministry.launch": MINISTRY_ONLY,
    "ministry.launch_confirm": MINISTRY_ONLY,
    "ministry.add_reminder": MINISTRY_ONLY,
    "ministry.remove_reminder": MINISTRY_ONLY,
    "questionnaires.*": MINISTRY_ONLY,  # the campaign's questionnaires, under /bo/
    "delivery.*": PROVINCE_SCOPED,  # delivery errors of the province; corrections by its IT focal point
    # Bounce messages kept aside: a province's accounts see those about their province, the ministry all.
    "delivery.kept": PROVINCE_SCOPED,
    "delivery.kept_message": PROVINCE_SCOPED,
    "delivery.nomination_file": PROVINCE_SCOPED,  # the nomination: the province's account and the ministry
    "demo_mail.*": PUBLIC,  # the demo mailbox: 404 unless PORTAL_DEMO is on
    # Requests to the ministry: a province's accounts see their own, the ministry all; only the ministry answers.
    "requests.index": ANY_LOGGED_IN,
    "requests.*": PROVINCE_SCOPED,
    "requests.answer": MINISTRY_ONLY,
    # Đợt đánh giá: the ministry creates, copies and opens campaigns; any campaign is read (read-only) by the
    # ministry for every province, by a province's accounts for their own province.
    "campaigns.index": MINISTRY_ONLY,
    "campaigns.new": MINISTRY_ONLY,
    "campaigns.make_current": MINISTRY_ONLY,
    "campaigns.campaign_map": MINISTRY_ONLY,
    "campaigns.campaign_map_province": MINISTRY_ONLY,
    # A campaign's respondent groups and positions, edited by the ministry while the campaign is prepared.
    "campaigns.groups": MINISTRY_ONLY,
    "campaigns.add_group": MINISTRY_ONLY,
    "campaigns.save_group": MINISTRY_ONLY,
    "campaigns.delete_group": MINISTRY_ONLY,
    "campaigns.add_position": MINISTRY_ONLY,
    "campaigns.save_position": MINISTRY_ONLY,
    "campaigns.delete_position": MINISTRY_ONLY,
    "campaigns.past": ANY_LOGGED_IN,
    "campaigns.past_list": PROVINCE_SCOPED,
    "campaigns.past_progress": PROVINCE_SCOPED,
    "campaigns.past_delivery_errors": PROVINCE_SCOPED,
    # The campaign's ministries and each province's departments: the ministry's to edit (the province adds its
    # own from its list's pages, lists.departments_page).
    "campaigns.campaign_departments": MINISTRY_ONLY,
    "campaigns.add_ministry": MINISTRY_ONLY,
    "campaigns.remove_ministry": MINISTRY_ONLY,
    "campaigns.province_departments": MINISTRY_ONLY,
    "campaigns.edit_department": MINISTRY_ONLY,
    "campaigns.retire_department": MINISTRY_ONLY,
    # Tự đánh giá, chấm điểm: a province scores its own assessment, the ministry reads every one; the framework,
    # the overview of provinces and the exception to the lock are the ministry's.
    "assessment.index": ANY_LOGGED_IN,
    "assessment.*": PROVINCE_SCOPED,
    "assessment_ministry.*": MINISTRY_ONLY,
    "framework.*": MINISTRY_ONLY,
    # Thẩm định: a province reads what the ministry released of its own appraisal and explains; the appraisers'
    # page, their scores and the steps are the ministry's.
    "appraisal.*": PROVINCE_SCOPED,
    "appraisal_ministry.*": MINISTRY_ONLY,
    # Kiểm tra can thiệp: the integrity flags, their evidence and the decisions are the ministry's alone.
    "integrity.*": MINISTRY_ONLY,
    # Kết quả điều tra xã hội học: every province's answers aggregated, the exports: the ministry's alone.
    "survey_results.*": MINISTRY_ONLY,
    # Corrections of the questionnaire set and the framework in the browser, and their versions compared.
    "questionnaire_corrections.*": MINISTRY_ONLY,
    "framework_corrections.*": MINISTRY_ONLY,
    # Kết quả: the index, its computations, the ranking and the publication are the ministry's; a province reads
    # its own published result and the public ranking (nothing before publication).
    "par_index.*": MINISTRY_ONLY,
    "par_results.*": PROVINCE_SCOPED,
}

SECRET_TITLE = "Thông báo riêng cho Hải Phòng"


def _respondent_of(session: Session, owner: User) -> int:
    """A person on the other province's respondent list."""
    campaign = current_campaign(session)
    assert campaign is not None
    rlist = session.exec(select(RespondentList).where(RespondentList.campaign_id == campaign.id,
                                                      RespondentList.province_id == owner.province_id)).first()
    if rlist is None:
        rlist = RespondentList(campaign_id=campaign.id, province_id=owner.province_id)
        session.add(rlist)
        session.flush()
    person = Respondent(list_id=rlist.id, province_id=owner.province_id, full_name=SECRET_TITLE,
                        email="bi.mat@haiphong.gov.vn")
    session.add(person)
    session.commit()
    return person.id


def _request_of(session: Session, owner: User) -> int:
    """A request of the other province to the ministry, with a file (which must never be served to another)."""
    from portal.models import ProvinceRequest, StoredFile

    campaign = current_campaign(session)
    stored = StoredFile(sha256="0" * 64, size=10, content_type="application/pdf", original_name="bi-mat.pdf")
    session.add(stored)
    session.flush()
    item = ProvinceRequest(campaign_id=campaign.id, province_id=owner.province_id, author_id=owner.id,
                           form_key="isolation", kind="technical", reason=SECRET_TITLE, file_id=stored.id)
    session.add(item)
    session.commit()
    return item.id


def _invitation_of(session: Session, owner: User) -> int:
    """An invitation (a delivery error, even) of a person on the other province's list."""
    from portal.models import DeliveryStatus, Invitation
    from tests.support.survey import load_questionnaire

    version = load_questionnaire(session)
    invitation = Invitation(respondent_id=_respondent_of(session, owner), campaign_id=version.campaign_id,
                            province_id=owner.province_id, questionnaire_version_id=version.id, nonce="00" * 16,
                            form_codes="DP-LDSO", delivery_status=DeliveryStatus.BOUNCED.value,
                            delivery_reply=SECRET_TITLE)
    session.add(invitation)
    session.commit()
    return invitation.id


def _kept_message_of(session: Session, owner: User) -> int:
    """A message of the bounce mailbox kept aside, about an invitation of the other province."""
    from portal.models import BounceMessage

    message = BounceMessage(digest="ab" * 32, province_id=owner.province_id, kind="unparsed",
                            explanation="Không đọc được thư báo lỗi này",
                            raw=f"From: MAILER-DAEMON@mx.haiphong.gov.vn\nSubject: {SECRET_TITLE}\n\n{SECRET_TITLE}\n")
    session.add(message)
    session.commit()
    return message.id


def _nomination_of(session: Session, owner: User) -> int:
    """The other province's nomination document (văn bản cử); its file need not exist for the guard to answer."""
    from portal.models import NominationDocument, StoredFile

    stored = StoredFile(sha256="0" * 64, size=1, content_type="application/pdf", original_name=f"{SECRET_TITLE}.pdf")
    session.add(stored)
    session.flush()
    document = NominationDocument(province_id=owner.province_id, file_id=stored.id)
    session.add(document)
    session.commit()
    return document.id


def _questionnaire_version(session: Session):
    """The campaign's questionnaire (the sample), loaded once: its version and forms exist for the pages."""
    from portal.domain import questionnaires
    from tests.support.survey import load_questionnaire

    return questionnaires.current_version(session, current_campaign(session)) or load_questionnaire(session)


def _added_department_of(session: Session, owner: User) -> int:
    """A department the other province added to its own list; only the ministry may correct it."""
    from portal.models import Department

    department = Department(campaign_id=current_campaign(session).id, province_id=owner.province_id, ministry_id=1,
                            name=SECRET_TITLE, added_by_id=owner.id)
    session.add(department)
    session.commit()
    return department.id


def _ministry_in_use(session: Session, owner: User) -> int:
    """Bộ Nội vụ, on the campaign's list: its departments keep it there (removing it is refused), so the seeded
    list the other tests read never changes."""
    from sqlmodel import select

    from portal.models import Ministry

    return session.exec(select(Ministry.id).where(Ministry.code == "BNV")).one()


def _operation_of(session: Session, owner: User) -> int:
    """The other province's "Đôn đốc tất cả" under way (the ministry follows every operation)."""
    from portal.domain import operations

    operation = operations.create(session, kind="remind", campaign_id=current_campaign(session).id,
                                  province_id=owner.province_id, requested_by=owner, params={}, total=0)
    session.commit()
    return operation.id


def _sample_framework(session: Session):
    from portal.domain import framework

    return framework.load_sample(session, current_campaign(session))


def _assessment_of(session: Session, owner: User) -> int:
    """The other province's self-assessment on the sample framework, with a scored line whose explanation and
    history must never show to another province."""
    from portal.domain import assessment, framework

    campaign = current_campaign(session)
    version = framework.load_sample(session, campaign)
    content = framework.load(version)
    row = assessment.get_or_create(session, campaign, owner.province_id)
    result = assessment.save_line(session, owner, row, campaign, version, content, content.line("1.1.1"),
                                  {"answer": "yes", "explanation": SECRET_TITLE, "version": "0"}, "Asia/Ho_Chi_Minh",
                                  now=DURING_SURVEY)
    assert result.ok
    return row.id


def _group_of(session: Session) -> RespondentGroup:
    return session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == current_campaign(session).id)
                        .order_by(RespondentGroup.number)).first()


def _evidence_of(session: Session, owner: User) -> int:
    """An evidence file on a line of the other province's self-assessment (its bytes need not exist for the
    guard to answer)."""
    from portal.domain import assessment, framework
    from portal.models import AssessmentEvidence, StoredFile

    campaign = current_campaign(session)
    framework.load_sample(session, campaign)
    row = assessment.get_or_create(session, campaign, owner.province_id)
    stored = StoredFile(sha256="0" * 64, size=1, content_type="application/pdf", original_name=f"{SECRET_TITLE}.pdf")
    session.add(stored)
    session.flush()
    link = AssessmentEvidence(assessment_id=row.id, province_id=owner.province_id, line_code="1.1.1",
                              file_id=stored.id)
    session.add(link)
    session.commit()
    return link.id


def _appraisal_evidence_of(session: Session, owner: User) -> int:
    """A file the other province added with an explanation of its appraisal (its bytes need not exist)."""
    from portal.domain import assessment, framework
    from portal.models import AppraisalEvidence, StoredFile

    campaign = current_campaign(session)
    framework.load_sample(session, campaign)
    assessment_id = assessment.get_or_create(session, campaign, owner.province_id).id
    stored = StoredFile(sha256="0" * 64, size=1, content_type="application/pdf", original_name=f"{SECRET_TITLE}.pdf")
    session.add(stored)
    session.flush()
    link = AppraisalEvidence(assessment_id=assessment_id, province_id=owner.province_id, line_code="1.1.1",
                             file_id=stored.id)
    session.add(link)
    session.commit()
    return link.id


def _decision_of(session: Session, owner: User) -> int:
    """A proposal to void the other province's whole survey result, waiting for its second administrator."""
    from portal.models import IntegrityDecision, Role
    from tests.support.accounts import make_user

    proposer = make_user(session, "bo-de-xuat", Role.MINISTRY)
    decision = IntegrityDecision(campaign_id=current_campaign(session).id, province_id=owner.province_id,
                                 kind="void_province", reason=SECRET_TITLE, form_key="isolation",
                                 proposed_by_id=proposer.id)
    session.add(decision)
    session.commit()
    return decision.id


# For each URL argument, how to make a row that belongs to the *other* province (`owner` is Hải Phòng's account).
# A new route whose URL has another argument must add its maker here, or the matrix fails naming it.
ARGUMENT_MAKERS: dict[str, Callable[[Session, User], int | str]] = {
    "notice_id": lambda session, owner: notices.post_system_notice(session, owner.province_id, SECRET_TITLE).id,
    "province_id": lambda session, owner: owner.province_id,
    "campaign_id": lambda session, owner: current_campaign(session).id,
    "user_id": lambda session, owner: owner.id,
    "respondent_id": _respondent_of,
    "invitation_id": _invitation_of,
    "request_id": _request_of,
    "message_id": _kept_message_of,
    "document_id": _nomination_of,
    "department_id": _added_department_of,
    "operation_id": _operation_of,
    "assessment_id": _assessment_of,
    "evidence_id": _evidence_of,
    "appraisal_evidence_id": _appraisal_evidence_of,
    # The current campaign's first group (the council) and its position title: the campaign's, no province's.
    "group_id": lambda session, owner: _group_of(session).id,
    "position_id": lambda session, owner: session.exec(select(PositionTitle).where(
        PositionTitle.group_id == _group_of(session).id).order_by(PositionTitle.id)).first().id,
    "decision_id": _decision_of,
    "line_code": lambda session, owner: "1.1.1",  # a line of the sample framework the assessment maker loads
    "framework_number": lambda session, owner: _sample_framework(session).version,
    # Ids of the campaign's own things, which belong to no province: any value tests the guard.
    "schedule_id": lambda session, owner: 1,
    "ministry_id": _ministry_in_use,
    "number": lambda session, owner: _questionnaire_version(session).version,
    "form_code": lambda session, owner: _questionnaire_version(session) and "DP-LDSO",
    "question_id": lambda session, owner: _questionnaire_version(session) and "c1_1",  # a question of that form
}

# One form posted to every POST route: a field for what each route changes, so that a missing guard
# would show as a changed database. New routes add the fields they read.
POST_FORM = {
    "title": "Thông báo không được phép gửi",
    "body": "Nội dung",
    "audience": "all",
    "province_ids": [str(HA_NOI), str(HAI_PHONG)],
    "it_focal_deadline": "01/01/2030",
    "list_deadline": "02/01/2030",
    "self_assessment_deadline": "03/01/2030",
    "response_deadline": "04/01/2030",
    # the respondent list: a row's fields, the send form's version, the ministry's return and extension
    "full_name": "Người không được phép thêm",
    "position": "Giám đốc",
    "group": "2. Lãnh đạo cấp sở",
    "unit": "Sở Tài chính",
    "email": "khong.duoc.phep@example.vn",
    "phone": "0912345678",
    "note": "",
    "version": "1",
    "reason": "Không được phép",
    "until": "30/01/2030",
    "extension_until": "30/01/2030",
    # a department a province adds, or the ministry corrects; a ministry added; dismissing a namesake warning
    "ten": "Sở không được phép thêm",
    "ten_bo": "Bộ không được phép thêm",
    "loai": "bo",
    "bo": "1",
    "key": "khong-duoc-phep",
    # the survey: the ministry's launch and reminder days, the province's reminders
    "emails": "8",
    "accept_sample": "1",
    "send_on": "20/02/2022",
    "all": "1",
    # requests to the ministry: the province's form and the ministry's answer
    "kind": "list_extension",
    "form_key": "isolation-form",
    "wanted_until": "30/01/2030",
    "decision": "grant",
    "answer": "Không được phép",
    # the appraisal: an appraiser's score and comment in round 1, the explanation window's deadline, an explanation
    "comment": "Không được phép",
    "round": "1",
    "deadline": "30/01/2030",
    "explanation": "Không được phép",
    # a respondent group and a position title of the campaign
    "number": "9",
    "code": "KHONG_DUOC",
    "name": "Nhóm không được phép sửa",
    "unit_kind": "none",
    "answers_locality_form": "1",
    "common_forms": "Không được phép",
    # corrections of the questionnaire set and the framework in the browser
    "base": "1",
    "noi_dung": "Câu hỏi không được phép sửa",
    "vi_tri": "2",
    "ten_1.1.1": "Tiêu chí không được phép sửa",
    "tong": "100",
}


def access_of(endpoint: str) -> str | None:
    return ACCESS.get(endpoint) or ACCESS.get(endpoint.rpartition(".")[0] + ".*")


def _routes() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(endpoint, method, rule, arguments) for every route, read from an app built without a database."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "RATELIMIT_ENABLED": False,
                      "SECRET_KEY": "collection-only-secret-key-0123456789abcdef"})
    return sorted(
        (rule.endpoint, method, rule.rule, tuple(sorted(rule.arguments)))
        for rule in app.url_map.iter_rules()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    )


ROUTES = _routes()


def routes_with(*classes: str, method: str | None = None,
                with_arguments: bool | None = None) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(endpoint, method, rule, arguments) of every route of these classes."""
    return [
        (endpoint, verb, rule, arguments)
        for endpoint, verb, rule, arguments in ROUTES
        if access_of(endpoint) in classes
        and (method is None or verb == method)
        and (with_arguments is None or bool(arguments) == with_arguments)
    ]


def walk(routes: list[tuple[str, str, str, tuple[str, ...]]],
         check: Callable[[str, str, tuple[str, ...]], None]) -> None:
    """Run `check(endpoint, method, arguments)` on every route and fail with all the routes that failed."""
    assert routes, "no route of this class: the classification or the filter is wrong"
    failures = []
    for endpoint, method, rule, arguments in routes:
        try:
            check(endpoint, method, arguments)
        except Exception as exc:  # noqa: BLE001 - an error on one route is reported with the others
            failures.append(f"{method} {rule} ({endpoint}): {type(exc).__name__}: {exc}")
    assert not failures, f"{len(failures)} of {len(routes)} routes failed:\n" + "\n\n".join(failures)


def build_url(app, session: Session, endpoint: str, arguments: tuple[str, ...], owner: User,
              made: dict[str, object] | None = None) -> str:
    """The route's URL with every id taken from `owner`'s province; `made` keeps the ids already made in this
    test, so that a walk over many routes makes each row once."""
    made = {} if made is None else made
    for name in arguments:
        if name not in ARGUMENT_MAKERS:
            pytest.fail(f"{endpoint}: add a maker for the URL argument {name!r} to ARGUMENT_MAKERS")
        if name not in made:
            made[name] = ARGUMENT_MAKERS[name](session, owner)
    return app.url_map.bind("localhost").build(endpoint, {name: made[name] for name in arguments})


def send(client, method: str, url: str, **kwargs):
    if method == "POST":
        kwargs.setdefault("data", POST_FORM)
    return client.open(url, method=method, **kwargs)


def database_snapshot(session: Session, *, own_province_id: int | None = None) -> dict[str, list[tuple]]:
    """Every row of every table, to prove that a refused request wrote nothing.

    Rows of the acting user's own province are left out: opening a page may set up the user's own
    province (an empty draft list); what must never change is another province's rows and shared ones.
    The large, read-only geography is only counted.
    """
    session.rollback()  # a fresh transaction: see what the request committed, on either backend
    snapshot = {}
    for table in SQLModel.metadata.sorted_tables:
        if table.name in {"district", "department"}:
            snapshot[table.name] = [(session.exec(select(func.count()).select_from(table)).one(),)]
            continue
        query = select_rows(table)
        if own_province_id is not None and "province_id" in table.c:
            query = query.where(table.c.province_id.is_distinct_from(own_province_id))
        snapshot[table.name] = sorted(tuple(map(repr, row)) for row in session.connection().execute(query))
    return snapshot


# ---------------------------------------------------------------- (a) every route is classified


def test_every_endpoint_is_classified(app):
    unclassified = sorted({rule.endpoint for rule in app.url_map.iter_rules() if access_of(rule.endpoint) is None})

    assert unclassified == [], f"add these endpoints to ACCESS in {__name__}: {unclassified}"


def test_classification_names_only_endpoints_that_exist(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}

    stale = sorted(name for name in ACCESS if not name.endswith(".*") and name not in endpoints)

    assert stale == []


def test_public_endpoints_are_exactly_those_the_login_check_lets_through(app):
    endpoints = sorted({rule.endpoint for rule in app.url_map.iter_rules()})

    disagreeing = [e for e in endpoints if is_public(e) != (access_of(e) == PUBLIC)]

    assert disagreeing == []


def test_the_matrix_covers_every_class_of_route():
    classes = {access_of(endpoint) for endpoint, *_ in ROUTES}

    assert {PUBLIC, ANY_LOGGED_IN, PROVINCE_SCOPED, MINISTRY_ONLY} <= classes


# ---------------------------------------------------------------- (b) anonymous visitors


def test_anonymous_visitor_is_sent_to_the_login_page(app, client, session, other_province_user):
    made: dict[str, object] = {}

    def check(endpoint, method, arguments):
        url = build_url(app, session, endpoint, arguments, other_province_user, made)
        before = database_snapshot(session)

        response = send(client, method, url)

        assert response.status_code in {302, 401, 403}
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/dang-nhap")
        assert SECRET_TITLE.encode() not in response.get_data()
        assert database_snapshot(session) == before

    walk(routes_with(ANY_LOGGED_IN, PROVINCE_SCOPED, MINISTRY_ONLY), check)


def test_anonymous_htmx_request_gets_hx_redirect_to_the_login_page(app, client, session, other_province_user):
    made: dict[str, object] = {}

    def check(endpoint, method, arguments):
        url = build_url(app, session, endpoint, arguments, other_province_user, made)

        response = send(client, method, url, headers={"HX-Request": "true"})

        assert response.status_code == 204
        assert response.headers["HX-Redirect"].startswith("/dang-nhap")
        assert response.get_data() == b""

    walk(routes_with(ANY_LOGGED_IN, PROVINCE_SCOPED, MINISTRY_ONLY), check)


def test_anonymous_visitor_reaches_the_public_pages(app, client):
    def check(endpoint, method, arguments):
        response = send(client, method, app.url_map.bind("localhost").build(endpoint))

        assert response.status_code not in {401, 403}
        assert not response.headers.get("Location", "").startswith("/dang-nhap")

    walk(routes_with(PUBLIC, method="GET", with_arguments=False), check)


# ---------------------------------------------------------------- (c) the ministry's pages

PROVINCE_STAFF = ["province_user", "it_focal_user"]


@pytest.mark.parametrize("role", PROVINCE_STAFF)
def test_province_staff_get_403_on_every_ministry_route(request, app, client, session, other_province_user, role):
    log_in(client, request.getfixturevalue(role))
    made: dict[str, object] = {}

    def check(endpoint, method, arguments):
        url = build_url(app, session, endpoint, arguments, other_province_user, made)
        before = database_snapshot(session)

        response = send(client, method, url)

        assert response.status_code == 403
        assert "Không có quyền truy cập" in response.get_data(as_text=True)
        assert database_snapshot(session) == before

    walk(routes_with(MINISTRY_ONLY), check)


def test_the_ministry_reaches_every_ministry_page(app, client, session, ministry_user, other_province_user):
    """The control for the 403s above: with real ids (the other province's list, the loaded questionnaire's version
    and form) the ministry gets each page itself, so a 403 there is the guard and nothing else."""
    from portal.domain import lists

    lists.get_or_create_list(session, current_campaign(session), other_province_user.province_id)
    session.commit()
    log_in(client, ministry_user)
    made: dict[str, object] = {}

    def check(endpoint, method, arguments):
        url = build_url(app, session, endpoint, arguments, other_province_user, made)

        assert send(client, method, url).status_code == 200

    # The pages without ids first: they see the database as a fresh campaign has it, before the rows made for the
    # routes with ids (a framework, a scored line) are there, so an empty page that fails is not hidden.
    walk(sorted(routes_with(MINISTRY_ONLY, method="GET"), key=lambda route: bool(route[3])), check)


# ---------------------------------------------------------------- (d) another province's rows


@pytest.mark.parametrize("role", PROVINCE_STAFF)
def test_province_staff_reach_nothing_of_another_province(request, app, client, session, other_province_user, role):
    user = request.getfixturevalue(role)
    log_in(client, user)
    made: dict[str, object] = {}

    def check(endpoint, method, arguments):
        url = build_url(app, session, endpoint, arguments, other_province_user, made)
        before = database_snapshot(session, own_province_id=user.province_id)

        plain = send(client, method, url)
        fragment = send(client, method, url, headers={"HX-Request": "true"})

        # 404 for a row of another province, exactly as for a row that does not exist; 403 for a role the whole
        # blueprint refuses (an IT focal account on the respondent list).
        assert plain.status_code in {403, 404}
        assert fragment.status_code == plain.status_code
        assert SECRET_TITLE.encode() not in plain.get_data() + fragment.get_data()
        assert database_snapshot(session, own_province_id=user.province_id) == before

    walk(routes_with(PROVINCE_SCOPED, with_arguments=True), check)


@pytest.mark.parametrize("role", PROVINCE_STAFF)
def test_province_staff_pages_never_show_another_province_notice(request, app, client, session, other_province_user,
                                                                 role):
    notices.post_system_notice(session, HAI_PHONG, SECRET_TITLE)
    log_in(client, request.getfixturevalue(role))
    made: dict[str, object] = {}

    def check(endpoint, method, arguments):
        response = send(client, method, build_url(app, session, endpoint, arguments, other_province_user, made))

        assert response.status_code in {200, 403}  # 403: a blueprint closed to this role as a whole
        assert SECRET_TITLE.encode() not in response.get_data()

    walk(routes_with(ANY_LOGGED_IN, PROVINCE_SCOPED, method="GET", with_arguments=False), check)


@pytest.mark.parametrize("role", PROVINCE_STAFF)
def test_province_staff_see_their_own_province_notice(request, client, session, role):
    """The control for the test above: a notice to Hà Nội does show, on the home page and the notices page."""
    notices.post_system_notice(session, HA_NOI, "Thông báo cho Hà Nội")
    log_in(client, request.getfixturevalue(role))

    assert "Thông báo cho Hà Nội" in client.get("/").get_data(as_text=True)
    assert "Thông báo cho Hà Nội" in client.get("/thong-bao/").get_data(as_text=True)


@pytest.mark.parametrize("role", PROVINCE_STAFF)
def test_marking_another_province_notice_read_is_404_and_leaves_it_unread(request, client, session, other_province_user,
                                                                          role):
    secret = notices.post_system_notice(session, HAI_PHONG, SECRET_TITLE)
    log_in(client, request.getfixturevalue(role))

    response = client.post(f"/thong-bao/{secret.id}/da-doc")

    assert response.status_code == 404
    assert session.exec(select(func.count()).select_from(NoticeRead)).one() == 0
    assert notices.unread_count(session, other_province_user) == 1


@pytest.mark.parametrize("role", PROVINCE_STAFF)
def test_marking_all_read_touches_only_the_own_province_notices(request, client, session, other_province_user, role):
    secret = notices.post_system_notice(session, HAI_PHONG, SECRET_TITLE)
    own = notices.post_system_notice(session, HA_NOI, "Thông báo cho Hà Nội")
    user = request.getfixturevalue(role)
    log_in(client, user)

    client.post("/thong-bao/da-doc-tat-ca")

    assert [(r.notice_id, r.user_id) for r in session.exec(select(NoticeRead))] == [(own.id, user.id)]
    assert notices.unread_count(session, other_province_user) == 1
    assert secret.id not in {r.notice_id for r in session.exec(select(NoticeRead))}


# ---------------------------------------------------------------- (e) a ministry page about another province


@pytest.mark.parametrize("role", PROVINCE_STAFF)
@pytest.mark.parametrize("province_id", [HAI_PHONG, HA_NOI])
def test_ministry_page_of_a_province_is_403_for_province_staff(request, client, session, role, province_id):
    log_in(client, request.getfixturevalue(role))

    response = client.get(f"/bo/tinh-thanh/{province_id}")

    assert response.status_code == 403
    assert "Hải Phòng" not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", PROVINCE_STAFF)
def test_province_staff_cannot_reset_another_province_password(request, client, session, other_province_user, role):
    log_in(client, request.getfixturevalue(role))

    response = client.post(f"/bo/tinh-thanh/{HAI_PHONG}/cap-lai-mat-khau/{other_province_user.id}")

    assert response.status_code == 403
    session.expire_all()
    assert session.get(User, other_province_user.id).password_hash == other_province_user.password_hash
    assert session.exec(select(func.count()).select_from(AuditEntry)).one() == 0


def test_the_ministry_cannot_reset_a_password_through_another_province_url(client, session, ministry_user,
                                                                          other_province_user):
    log_in(client, ministry_user)

    response = client.post(f"/bo/tinh-thanh/{HA_NOI}/cap-lai-mat-khau/{other_province_user.id}")

    assert response.status_code == 404
    session.expire_all()
    assert session.get(User, other_province_user.id).password_hash == other_province_user.password_hash
