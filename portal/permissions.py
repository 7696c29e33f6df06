"""The only door to province-scoped rows, and the role checks.

Every view that touches something belonging to a province gets it through a
`get_<thing>_for_user` helper here: a province account and its IT focal point
see their own province only; the ministry sees all. A row of another province
is answered with 404, exactly like a row that does not exist, so ids cannot be
probed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar

from flask import abort, g
from flask_login import current_user
from sqlmodel import Session
from sqlmodel.sql.expression import Select

from portal.domain import notices
from portal.models import (
    BounceMessage,
    Campaign,
    CampaignProvince,
    NominationDocument,
    Notice,
    PositionTitle,
    Province,
    ProvinceRequest,
    Respondent,
    RespondentGroup,
    RespondentList,
    Role,
    User,
)

F = TypeVar("F", bound=Callable[..., Any])

# Endpoints an anonymous visitor may reach; everything else requires a login.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "assets.static", "healthz"})
# Blueprints that are public as a whole: the respondent behind a personal link, and the demo
# mailbox (which answers 404 unless PORTAL_DEMO is on: a demo respondent has no account).
PUBLIC_BLUEPRINTS = frozenset({"survey", "demo_mail"})
# Endpoints reachable before the first-login password change.
BEFORE_PASSWORD_CHANGE = frozenset({"auth.change_password", "auth.logout", "assets.static", "healthz"})


def is_public(endpoint: str | None) -> bool:
    if endpoint is None:
        return True  # 404s: let the error handler answer
    blueprint = endpoint.rpartition(".")[0]
    return endpoint in PUBLIC_ENDPOINTS or blueprint in PUBLIC_BLUEPRINTS


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Allow the view to the given roles only; others get 403."""
    allowed = {r.value for r in roles}

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated or current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


ministry_only = roles_required(Role.MINISTRY)
province_staff = roles_required(Role.PROVINCE, Role.IT_FOCAL)
province_only = roles_required(Role.PROVINCE)


def can_see_province(user: User, province_id: int) -> bool:
    """The ministry sees every province; everyone else only their own."""
    return user.role == Role.MINISTRY or user.province_id == province_id


def get_province_for_user(session: Session, user: User, province_id: int) -> Province:
    """The province when the user may see it; 404 otherwise."""
    province = session.get(Province, province_id)
    if province is None or not can_see_province(user, province_id):
        abort(404)
    return province


def own_province(session: Session, user: User) -> Province:
    """The province of a province or IT focal account; 403 for accounts without one."""
    if user.province_id is None:
        abort(403)
    province = session.get(Province, user.province_id)
    if province is None:
        abort(403)
    return province


def current_campaign_or_refuse(session: Session) -> Campaign:
    """The current campaign; without one, the page says the ministry has not opened a campaign yet (409)."""
    from portal.domain.campaigns import NoCurrentCampaign, current_campaign

    campaign = current_campaign(session)
    if campaign is None:
        raise NoCurrentCampaign()
    return campaign


def campaign_and_own_province(session: Session, user: User) -> tuple[Campaign, Province]:
    """The current campaign (a 409 page when there is none) and the user's own province (403 without one).

    A province outside the current campaign's map (merged in 2025) has no work in it: a 409 page sends it to
    its past campaigns, which it still reads.
    """
    from portal.domain import units
    from portal.domain.campaigns import NotInCampaign

    found = None
    place = g.pop("campaign_place", None)  # read with the account by a poll (accounts.signed_in_user_and_place)
    if place is not None and place.province.id == user.province_id:
        found = (place.campaign, place.province, place.in_map)
    elif user.province_id is not None:
        found = session.exec(_campaign_and_province(), params={"province_id": user.province_id}).first()
    if found is None:
        current_campaign_or_refuse(session)  # no current campaign: the 409 page, as for every user
        abort(403)
    campaign, province, in_map = found
    if in_map is None and units.map_entry(session, campaign, province.id) is None:
        raise NotInCampaign(campaign, province.name)
    return campaign, province


@lru_cache(maxsize=1)
def _campaign_and_province() -> Select:
    """The current campaign, the province and its place in the campaign's map, in one statement: every page of a
    province's survey work comes here (its polls read the same with the account instead:
    accounts.signed_in_user_and_place). No row without a current campaign or without that province.

    Built once, and marked PREPARED (equalities on keys of small tables: no plan to go stale): a request on the
    pool without transactions keeps its plan; the others, whose engine prepares nothing, plan it each time."""
    from sqlalchemy import and_, bindparam
    from sqlmodel import select

    from portal.extensions import PREPARED

    return (select(Campaign, Province, CampaignProvince.id).select_from(Campaign)
            .join(Province, Province.id == bindparam("province_id"))
            .outerjoin(CampaignProvince, and_(CampaignProvince.province_id == Province.id,
                                              CampaignProvince.campaign_id == Campaign.id))
            .where(Campaign.is_current == True)  # noqa: E712
            .execution_options(**PREPARED))


def get_campaign_for_user(session: Session, user: User, campaign_id: int) -> Campaign:
    """A campaign to read (any staff may read a past year's campaign: their own province's part of it); 404
    for an unknown id. Templates hold no province's work and are read on the ministry's pages only."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or (campaign.is_template and user.role != Role.MINISTRY):
        abort(404)
    return campaign


def get_group_for_user(session: Session, user: User, campaign_id: int, group_id: int,
                       position_id: int | None = None) -> tuple[Campaign, RespondentGroup, PositionTitle | None]:
    """A campaign's respondent group (and one of its position titles) for the ministry; 404 when the group is
    not the campaign's or the title not the group's, 403 for any other role."""
    if user.role != Role.MINISTRY:
        abort(403)
    campaign = get_campaign_for_user(session, user, campaign_id)
    group = session.get(RespondentGroup, group_id)
    if group is None or group.campaign_id != campaign.id:
        abort(404)
    position = None
    if position_id is not None:
        position = session.get(PositionTitle, position_id)
        if position is None or position.group_id != group.id:
            abort(404)
    return campaign, group, position


def get_notice_for_user(session: Session, user: User, notice_id: int) -> Notice:
    """A notice sent to the user's province; 404 for any other."""
    notice = notices.notice_for_user(session, user, notice_id)
    if notice is None:
        abort(404)
    return notice


def get_respondent_for_user(session: Session, user: User, respondent_id: int) -> Respondent:
    """A person on the user's own province list (province accounts only); 404 for anyone else's."""
    from portal.domain.campaigns import require_current

    person = session.get(Respondent, respondent_id)
    if person is None or user.role != Role.PROVINCE or person.province_id != user.province_id:
        abort(404)
    # A person on a past year's list is read on that year's read-only page, never edited.
    require_current(session, session.get(RespondentList, person.list_id).campaign_id)
    return person


def get_request_for_user(session: Session, user: User, request_id: int) -> ProvinceRequest:
    """A request to the ministry: the ministry sees all, a province's accounts their own; 404 otherwise."""
    item = session.get(ProvinceRequest, request_id)
    if item is None or not can_see_province(user, item.province_id):
        abort(404)
    return item


def get_kept_message_for_user(session: Session, user: User, message_id: int) -> BounceMessage:
    """A message of the bounce mailbox kept aside: the ministry sees all; a province's accounts only those
    about their own province's messages (one tied to no province is the ministry's alone); 404 otherwise."""
    from portal.domain.kept_aside import get_kept_message

    message = get_kept_message(session, message_id)
    if message is None:
        abort(404)
    if user.role != Role.MINISTRY and (message.province_id is None or message.province_id != user.province_id):
        abort(404)
    return message


def get_nomination_for_user(session: Session, user: User, document_id: int) -> NominationDocument:
    """A nomination document (văn bản cử): the ministry's for any province, a province account's for its own;
    404 otherwise (the IT focal point uploads nothing and downloads nothing)."""
    document = session.get(NominationDocument, document_id)
    if document is None or user.role not in (Role.MINISTRY, Role.PROVINCE) or not can_see_province(
            user, document.province_id):
        abort(404)
    return document


def get_assessment_for_user(session: Session, user: User, assessment_id: int):
    """A province's self-assessment: the ministry reads every one, a province account its own; 404 otherwise
    (the IT focal account has no part in it)."""
    from portal.models import Assessment

    assessment = session.get(Assessment, assessment_id)
    if assessment is None or user.role not in (Role.MINISTRY, Role.PROVINCE) or not can_see_province(
            user, assessment.province_id):
        abort(404)
    return assessment


def get_evidence_for_user(session: Session, user: User, assessment_id: int, evidence_id: int):
    """An evidence file of a self-assessment's line, through its assessment (`get_assessment_for_user`): the
    ministry reads every one, a province account its own; 404 otherwise, also when the file belongs to
    another assessment than the one named in the address."""
    from portal.models import AssessmentEvidence

    assessment = get_assessment_for_user(session, user, assessment_id)
    link = session.get(AssessmentEvidence, evidence_id)
    if link is None or link.assessment_id != assessment.id:
        abort(404)
    return assessment, link


def get_appraisal_evidence_for_user(session: Session, user: User, assessment_id: int, evidence_id: int):
    """A file the province added with an explanation of the appraisal, through its assessment
    (`get_assessment_for_user`): the ministry reads every one, a province account its own; 404 otherwise, also when
    the file belongs to another assessment than the one named in the address."""
    from portal.models import AppraisalEvidence

    assessment = get_assessment_for_user(session, user, assessment_id)
    link = session.get(AppraisalEvidence, evidence_id)
    if link is None or link.assessment_id != assessment.id:
        abort(404)
    return assessment, link
