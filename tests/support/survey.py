"""A launched survey for tests: a province's list sent, the sample questionnaire loaded, invitations made.

    survey = launch_survey(app, session, ministry_user)          # Hà Nội, a short list of every group
    person = survey.of_group("LD_SO")                            # a respondent with the locality and ministry forms
    client.get(person.url)                                       # /phieu/<id>.<mac>

Everything that builds links or emails runs in an app context of its own, pushed and popped here, so
that no context stays pushed while the test client makes requests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from flask import Flask
from sqlmodel import Session, select

from portal.domain import demo, invitations, list_import, lists, questionnaires
from portal.domain.campaigns import current_campaign, local_today
from portal.domain.respondent_rules import RowInput
from portal.models import (
    Campaign,
    Invitation,
    ListStatus,
    Province,
    Respondent,
    RespondentGroup,
    RespondentList,
    Role,
    User,
)

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# The 2021 list deadline is 15/01/2022: lists are imported and sent before it.
LIST_SENT_AT = datetime(2022, 1, 10, 9, 0, tzinfo=TZ)
# A morning during the 2021 response period (deadline 20/02/2022).
DURING_SURVEY = datetime(2022, 2, 1, 9, 0, tzinfo=TZ)
# A little after the response deadline: 20/02/2022 23:59:59 +07 has passed.
AFTER_DEADLINE = datetime(2022, 2, 21, 0, 0, 1, tzinfo=TZ)
# The last moment of the deadline day: 20/02/2022 23:59:59.999999 +07 (a form is still open then).
JUST_BEFORE_DEADLINE = datetime(2022, 2, 20, 23, 59, 58, tzinfo=TZ)
LAST_MOMENT_OF_DEADLINE = datetime(2022, 2, 20, 23, 59, 59, 999999, tzinfo=TZ)
FIRST_MOMENT_AFTER_DEADLINE = datetime(2022, 2, 21, 0, 0, 0, tzinfo=TZ)

GROUP_CODES = ("HDND", "LD_SO", "LD_PHONG", "LD_HUYEN")  # groups 1 to 4


@dataclass
class SentInvitation:
    """One respondent of a launched survey and the link from their email."""

    invitation: Invitation
    respondent: Respondent
    group_code: str
    group_number: int
    token: str
    form_codes: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"/phieu/{self.token}"

    def form_url(self, code: str) -> str:
        return f"/phieu/{self.token}/{code}"

    def submit_url(self, code: str) -> str:
        return f"/phieu/{self.token}/{code}/gui"


@dataclass
class LaunchedSurvey:
    campaign: Campaign
    province: Province
    invitations: list[SentInvitation]

    def of_group(self, code: str, nth: int = 0) -> SentInvitation:
        """The nth respondent of the group (by list order)."""
        return [i for i in self.invitations if i.group_code == code][nth]


def open_by_the_real_clock(app: Flask, session: Session) -> Campaign:
    """The current campaign with its deadlines ahead of today's real date: servers, workers and browsers
    run in other processes, where a frozen clock does not reach."""
    campaign = current_campaign(session)
    today = local_today(app.config["PORTAL_TIMEZONE"])
    campaign.list_deadline = today + timedelta(days=5)
    campaign.self_assessment_deadline = today + timedelta(days=20)
    campaign.response_deadline = today + timedelta(days=30)
    session.add(campaign)
    session.commit()
    return campaign


def sample_rows(session: Session, province: Province, per_group: int | None = 2) -> list[dict[str, str]]:
    """The demo list of the province, cut to `per_group` people of each group (None: all ~52 people)."""
    rows = demo.sample_rows(session, province)
    if per_group is None:
        return rows
    kept: list[dict[str, str]] = []
    taken: dict[str, int] = {}
    for row in rows:
        if taken.get(row["group"], 0) < per_group:
            kept.append(row)
            taken[row["group"]] = taken.get(row["group"], 0) + 1
    return kept


def province_account(session: Session, province: Province) -> User:
    """The province's account (made when the test did not ask for one)."""
    account = session.exec(select(User).where(User.province_id == province.id, User.role == Role.PROVINCE)).first()
    if account is None:
        from portal.domain import accounts

        account, _ = accounts.create_user(session, f"{province.slug}-survey", Role.PROVINCE, password="MatKhau2021cchc",
                                          province_id=province.id)
        session.commit()
    return account


def send_list(
    session: Session, province_id: int, *, per_group: int | None = 2, rows: list[dict[str, str]] | None = None,
    now: datetime = LIST_SENT_AT, tz_name: str = "Asia/Ho_Chi_Minh",
) -> RespondentList:
    """Import the province's sample list and send it to the ministry, as the province does before the deadline."""
    campaign = current_campaign(session)
    assert campaign is not None
    province = session.get(Province, province_id)
    account = province_account(session, province)
    rlist = lists.get_or_create_list(session, campaign, province.id)
    chosen = rows if rows is not None else sample_rows(session, province, per_group)
    list_import.import_rows(session, account, rlist, campaign, province,
                      [RowInput(key=n, number=n + 1, values=row) for n, row in enumerate(chosen, start=1)],
                      "danh-sach-mau.xlsx", now=now)
    session.refresh(rlist)
    assert lists.send_list(session, account, rlist, campaign, province, version=rlist.version, tz_name=tz_name,
                           confirmed_warnings=True, now=now)
    assert rlist.status == ListStatus.SENT
    return rlist


def load_questionnaire(session: Session, user: User | None = None):
    campaign = current_campaign(session)
    assert campaign is not None
    return questionnaires.load_sample(session, campaign, user)


def sent_invitations(app: Flask, session: Session, province_id: int) -> list[SentInvitation]:
    """The province's invitations with their link tokens, in list order."""
    groups = {g.id: g for g in session.exec(select(RespondentGroup))}
    rows = session.exec(select(Invitation, Respondent).join(Respondent, Respondent.id == Invitation.respondent_id)
                        .where(Invitation.province_id == province_id).order_by(Respondent.row_number)).all()
    with app.app_context():
        return [SentInvitation(invitation, person, groups[person.group_id].code, groups[person.group_id].number,
                               invitations.link_token(invitation), invitation.form_codes.split(","))
                for invitation, person in rows]


def launch(app: Flask, session: Session, actor: User, province_ids: Iterable[int] | None,
           *, now: datetime | None = None) -> invitations.LaunchOutcome:
    """`invitations.launch` with the app's settings, in an app context of its own."""
    campaign = current_campaign(session)
    with app.app_context():
        return invitations.launch(session, actor, campaign, None if province_ids is None else list(province_ids),
                                  base_url=app.config["PORTAL_BASE_URL"],
                                  mail_domain=app.config["PORTAL_MAIL_DOMAIN"],
                                  tz_name=app.config["PORTAL_TIMEZONE"], accept_sample=True, now=now)


def launch_survey(
    app: Flask, session: Session, actor: User, province_id: int = 1, *, per_group: int | None = 2,
    now: datetime | None = None,
) -> LaunchedSurvey:
    """A sent list for the province, the sample questionnaire, the survey launched: its invitations and links.

    `now` is the moment of the launch (default: the clock, which tests usually freeze during the survey).
    """
    send_list(session, province_id, per_group=per_group)
    load_questionnaire(session, actor)
    launch(app, session, actor, [province_id], now=now)
    campaign = current_campaign(session)
    province = session.get(Province, province_id)
    return LaunchedSurvey(campaign, province, sent_invitations(app, session, province_id))


# ---------------------------------------------------------------- answering


def questionnaire(session: Session) -> questionnaires.Questionnaire:
    """The campaign's current questionnaire (the sample, once launched)."""
    campaign = current_campaign(session)
    version = questionnaires.current_version(session, campaign)
    assert version is not None
    return questionnaires.load(version)


def form_def(session: Session, code: str) -> questionnaires.FormDef:
    form = questionnaire(session).form(code)
    assert form is not None, code
    return form


def complete_answers(form: questionnaires.FormDef, *, text: str = "Không có ý kiến thêm.",
                     shift: int = 0) -> dict[str, list[str]]:
    """An answer to every question of the form, as the browser posts it (`shift` varies the choices)."""
    raw: dict[str, list[str]] = {}
    for position, question in enumerate(form.questions):
        if question.kind == "single":
            raw[question.id] = [question.options[(position + shift) % 5 % len(question.options)].value]
        elif question.kind == "multiple":
            raw[question.id] = [question.options[shift % len(question.options)].value]
        elif question.kind == "number":
            low = int(question.min or 0)
            high = int(question.max) if question.max is not None else low + 100
            raw[question.id] = [str(min(low + 7 + shift, high))]
        else:
            raw[question.id] = [text]
    return raw


def first_half(form: questionnaires.FormDef, raw: dict[str, list[str]]) -> dict[str, list[str]]:
    """The answers to the first half of the form's questions."""
    ids = [q.id for q in form.questions][: len(form.questions) // 2]
    return {qid: raw[qid] for qid in ids if qid in raw}


class _FormValues(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        name = found.get("name")
        if tag == "textarea" and name:
            self._textarea = name
            self.values.setdefault(name, [])
        elif tag == "input" and name:
            kind = (found.get("type") or "text").lower()
            if kind in {"radio", "checkbox"}:
                if "checked" in found:
                    self.values.setdefault(name, []).append(found.get("value") or "")
            elif kind in {"text", "number"} and found.get("value"):
                self.values.setdefault(name, []).append(found.get("value") or "")

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and data:
            self.values[self._textarea].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            name = self._textarea
            self._textarea = None
            if name is not None:
                joined = "".join(self.values[name])
                self.values[name] = [joined] if joined else []
                if not joined:
                    del self.values[name]


def form_values(html: str) -> dict[str, list[str]]:
    """What the page's form would post as it stands: checked choices, filled numbers and texts."""
    parser = _FormValues()
    parser.feed(html)
    parser.close()
    return parser.values


_CARD = re.compile(r'<li class="card">\s*<h2>(?P<title>.*?)</h2>.*?<span class="tag[^"]*">(?P<state>[^<]*)</span>',
                   re.S)


def form_states(html: str) -> dict[str, str]:
    """The respondent's page: each form's title and the state shown beside it."""
    return {unescape(m["title"]): m["state"] for m in _CARD.finditer(html)}


def answer(app: Flask, session: Session, person: SentInvitation, code: str, *, submit: bool = True,
           raw: dict[str, list[str]] | None = None) -> None:
    """Answer one form as the respondent would (every question), and send it unless `submit` is False."""
    from portal.domain import answers

    campaign = current_campaign(session)
    form = form_def(session, code)
    tz_name = app.config["PORTAL_TIMEZONE"]
    invitation = session.get(Invitation, person.invitation.id)
    with app.app_context():
        answers.save_draft(session, invitation, campaign, form, raw or complete_answers(form), tz_name=tz_name)
        if submit:
            result = answers.submit(session, invitation, campaign, form, tz_name=tz_name)
            assert result.submitted and not result.errors


def finish(app: Flask, session: Session, person: SentInvitation) -> None:
    """Answer and send every form of the respondent."""
    for code in person.form_codes:
        answer(app, session, person, code)
