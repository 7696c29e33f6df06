"""What each role's home page shows: its province, the campaign's deadlines and what is due next.

The ministry sees the campaign's next deadline. A province and its IT focal point see the tasks that
are still open for *their* province ("Việc cần làm tiếp theo"), worked out from what it has done
(IT focal point registered, list sent, survey launched, delivery errors), never from dates alone:
a province that has done a task is not asked again, and a deadline it met shows as met.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, select

from portal.domain.campaigns import (
    Deadline,
    current_campaign,
    deadlines,
    end_of_day_utc,
    is_past,
    local_today,
    next_deadline,
)
from portal.models import Campaign, ListStatus, Province, Role, User

# What a province does for each deadline, in the ministry's words.
TASKS = {
    "it_focal_deadline": "Sở Thông tin và Truyền thông cử đầu mối kỹ thuật CNTT (họ tên, chức vụ, số điện thoại).",
    "list_deadline": "Nhập danh sách đối tượng khảo sát theo mẫu, kiểm tra và bấm “Gửi danh sách”.",
    "self_assessment_deadline": "Phê duyệt báo cáo tự đánh giá và hoàn thành nhập điểm; sau hạn phần mềm tự khóa.",
    "response_deadline": "Theo dõi, đôn đốc người được khảo sát trả lời phiếu trước hạn.",
}


@dataclass(frozen=True)
class Task:
    """One thing a role still has to do (or wait for), with the deadline it answers to."""

    title: str
    text: str
    deadline: Deadline | None = None
    endpoint: str = ""  # the page where it is done
    link_label: str = ""
    overdue: bool = False


@dataclass
class Overview:
    campaign: Campaign | None
    deadlines: list[Deadline] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)

    @property
    def all_passed(self) -> bool:
        return bool(self.deadlines) and all(d.passed for d in self.deadlines)


def overview(session: Session, tz_name: str, now: datetime | None = None) -> Overview:
    """The current campaign with its deadlines and the next one due (the ministry's view)."""
    campaign = current_campaign(session)
    if campaign is None:
        return Overview(None)
    upcoming = next_deadline(campaign, tz_name, now)
    tasks = [Task(upcoming.label, TASKS.get(upcoming.key, ""), upcoming)] if upcoming else []
    return Overview(campaign, deadlines(campaign, tz_name, now), tasks)


@dataclass(frozen=True)
class AccountStats:
    provinces: int
    province_accounts: int
    activated: int  # changed the one-time password
    it_focal_accounts: int


def account_stats(session: Session) -> AccountStats:
    """For the ministry: how far the province accounts have come into use."""
    def count(*conditions) -> int:
        return session.exec(select(func.count()).select_from(User).where(*conditions)).one()

    return AccountStats(
        provinces=session.exec(select(func.count()).select_from(Province).where(Province.is_active)).one(),
        province_accounts=count(User.role == Role.PROVINCE.value),
        activated=count(User.role == Role.PROVINCE.value, User.must_change_password == False),  # noqa: E712
        it_focal_accounts=count(User.role == Role.IT_FOCAL.value),
    )


def province_accounts(session: Session) -> list[tuple[Province, User | None, User | None]]:
    """Every province with its province account and IT focal account (None where missing)."""
    users = list(session.exec(select(User).where(User.province_id.is_not(None))))
    by_role: dict[tuple[int, str], User] = {(u.province_id, u.role): u for u in users}  # type: ignore[misc]
    return [
        (p, by_role.get((p.id, Role.PROVINCE.value)), by_role.get((p.id, Role.IT_FOCAL.value)))
        for p in session.exec(select(Province).where(Province.is_active).order_by(Province.id))
    ]


@dataclass(frozen=True)
class ProvinceStatus:
    """Where a province stands in the current campaign, for its home page."""

    list_label: str
    people: int
    rows_with_errors: int
    sent_at: datetime | None
    launched: bool
    forms_submitted: int
    forms_expected: int
    delivery_errors: int
    focal_registered: bool
    list_state: ListStatus | None = None  # None: nothing entered yet
    list_deadline: date | None = None  # the campaign's, or the extension granted to this province
    response_deadline: date | None = None  # likewise for the answers
    list_sent_at: datetime | None = None  # set while the list stands sent
    return_reason: str = ""
    focal_registered_at: datetime | None = None
    assessment_sent_at: datetime | None = None  # set while the self-assessment stands sent
    assessment_deadline: date | None = None  # the campaign's, or the ministry's exception for this province
    explanation_until: date | None = None  # set while the appraisal waits for the province's giải trình
    appraisal_released_at: datetime | None = None  # the ministry published the final appraised points

    @property
    def rate(self) -> float:
        return 100.0 * self.forms_submitted / self.forms_expected if self.forms_expected else 0.0


def province_status(session: Session, campaign: Campaign, province_id: int) -> ProvinceStatus:
    """The list's state, the survey's progress, open delivery errors, the self-assessment and its appraisal of one
    province."""
    from portal.domain import assessment as assessments
    from portal.domain import delivery, it_focal, lists
    from portal.models import LIST_STATUS_LABELS, Appraisal, AppraisalState, FormProgress, FormState, Invitation

    rlist = lists.list_for(session, campaign, province_id)
    facts = lists.summary(session, rlist, campaign)
    started = rlist is not None and (facts.total or rlist.uploaded_at)
    expected, submitted = session.exec(
        select(func.count(FormProgress.id),
               func.count(FormProgress.id).filter(FormProgress.state == FormState.SUBMITTED.value))
        .where(FormProgress.province_id == province_id, FormProgress.campaign_id == campaign.id)).one()
    errors = session.exec(select(func.count(Invitation.id)).where(
        Invitation.campaign_id == campaign.id, Invitation.province_id == province_id,
        Invitation.delivery_status.in_(delivery.ERROR_STATES), Invitation.withdrawn_at.is_(None))).one()
    focal = it_focal.focal_point(session, province_id)
    assessment = assessments.assessment_for(session, campaign, province_id)
    appraisal = session.exec(select(Appraisal).where(Appraisal.assessment_id == assessment.id)).first() \
        if assessment is not None else None
    return ProvinceStatus(
        list_label=LIST_STATUS_LABELS[ListStatus(rlist.status) if started else None],
        people=facts.total, rows_with_errors=facts.rows_with_errors,
        sent_at=rlist.sent_at if rlist is not None and rlist.status == ListStatus.SENT else None,
        launched=rlist is not None and rlist.launched_at is not None,
        forms_submitted=submitted, forms_expected=expected, delivery_errors=errors,
        focal_registered=focal is not None and focal.registered_at is not None,
        list_state=ListStatus(rlist.status) if started else None,
        list_deadline=lists.deadline_of(rlist, campaign),
        response_deadline=lists.response_deadline_of(rlist, campaign),
        list_sent_at=rlist.sent_at if rlist is not None and rlist.status == ListStatus.SENT else None,
        return_reason=rlist.return_reason if rlist is not None and rlist.status == ListStatus.RETURNED else "",
        focal_registered_at=focal.registered_at if focal is not None else None,
        assessment_sent_at=assessment.sent_at if assessment is not None else None,
        assessment_deadline=assessments.deadline_of(assessment, campaign) if assessment is not None else None,
        explanation_until=appraisal.explanation_until
        if appraisal is not None and appraisal.state == AppraisalState.EXPLAINING else None,
        appraisal_released_at=appraisal.released_at if appraisal is not None else None)


def _local_day(moment: datetime, tz_name: str) -> date:
    return moment.astimezone(ZoneInfo(tz_name)).date()


def province_deadlines(campaign: Campaign, status: ProvinceStatus, tz_name: str,
                       now: datetime | None = None) -> list[Deadline]:
    """The campaign's deadlines as they stand for one province.

    The list and response deadlines are the province's own (an extension moves them); a deadline whose
    task the province has done carries the day it was done, and whether that was after the deadline.
    """
    today = local_today(tz_name, now)
    done_at = {"it_focal_deadline": status.focal_registered_at, "list_deadline": status.list_sent_at,
               "self_assessment_deadline": status.assessment_sent_at}
    own = {"list_deadline": status.list_deadline, "response_deadline": status.response_deadline,
           "self_assessment_deadline": status.assessment_deadline}
    items = []
    for item in deadlines(campaign, tz_name, now):
        day = own.get(item.key)
        if day and day != item.day:
            item = replace(item, day=day, label=f"{item.label} (đã được gia hạn)", days_left=(day - today).days,
                           passed=is_past(day, tz_name, now))
        moment = done_at.get(item.key)
        if moment is not None:
            item = replace(item, done_on=_local_day(moment, tz_name),
                           done_late=moment > end_of_day_utc(item.day, tz_name))
        items.append(item)
    return sorted(items, key=lambda d: d.day)


def province_tasks(campaign: Campaign, status: ProvinceStatus, role: Role | str, tz_name: str,
                   now: datetime | None = None) -> list[Task]:
    """What the province account (or its IT focal account) still has to do, most pressing first.

    Worked out from the province's state: a task done is never asked again. The IT focal account
    registers no one and sends no list, so it sees only its own work: the delivery errors.
    Once the response deadline has passed the survey is over and nothing of it is asked any more; the
    appraisal goes on after it (its explanation window, then its result to read).
    """
    by_key = {d.key: d for d in province_deadlines(campaign, status, tz_name, now)}
    province = Role(role) == Role.PROVINCE
    first, last = _appraisal_tasks(status, tz_name, now) if province else ([], [])
    if by_key["response_deadline"].passed:
        return first + last
    tasks: list[Task] = []
    focal = by_key["it_focal_deadline"]
    if province and not status.focal_registered:
        tasks.append(Task(focal.label, TASKS["it_focal_deadline"] if not focal.passed else
                          "Đã quá hạn nhưng tỉnh chưa đăng ký đầu mối kỹ thuật CNTT: hãy đăng ký ngay để có người "
                          "xử lý lỗi gửi thư khi khảo sát được phát hành.", focal, "delivery.register",
                          "Đăng ký ngay", overdue=focal.passed))
    listed = by_key["list_deadline"]
    if status.list_state != ListStatus.SENT and province:
        if listed.passed:
            text = ("Đã quá hạn nhưng danh sách chưa được gửi: đề nghị Bộ Nội vụ gia hạn, hoàn thành danh sách "
                    "và bấm “Gửi danh sách”.")
        elif status.list_state == ListStatus.RETURNED:
            text = f"Bộ Nội vụ đã trả lại danh sách để chỉnh sửa ({status.return_reason}). Sửa và gửi lại."
        else:
            text = TASKS["list_deadline"]
        tasks.append(Task(listed.label, text, listed, "lists.index", "Mở danh sách", overdue=listed.passed))
    assessment = by_key["self_assessment_deadline"]
    if province and not assessment.passed and status.assessment_sent_at is None:
        tasks.append(Task(assessment.label, TASKS["self_assessment_deadline"], assessment, "assessment.index",
                          "Mở trang “Tự đánh giá, chấm điểm”"))
    responses = by_key["response_deadline"]
    if status.list_state != ListStatus.SENT and not province:
        tasks.append(Task("Chờ tỉnh gửi danh sách đối tượng khảo sát",
                          "Khi tỉnh đã gửi danh sách và Bộ Nội vụ phát hành khảo sát, hãy theo dõi và xử lý các "
                          "thư mời không đến được người nhận."))
    elif status.list_state == ListStatus.SENT and not status.launched:
        tasks.append(Task("Chờ Bộ Nội vụ phát hành khảo sát",
                          "Danh sách đã được gửi; Bộ Nội vụ sẽ gửi thư mời đến từng người trong danh sách. "
                          + ("Khi đó, hãy theo dõi và đôn đốc người được khảo sát." if province else
                             "Khi đó, hãy theo dõi và xử lý các thư mời không đến được người nhận.")))
    elif status.launched and province:
        if status.forms_expected and status.forms_submitted == status.forms_expected:
            tasks.append(Task("Mọi phiếu đã được nộp", "Tất cả người trong danh sách đã nộp phiếu.",
                              endpoint="progress.index", link_label="Theo dõi từng người"))
        else:
            tasks.append(Task(responses.label, TASKS["response_deadline"], responses, "progress.index",
                              "Theo dõi từng người"))
    elif status.launched:
        if status.delivery_errors:
            tasks.append(Task(f"Xử lý {status.delivery_errors} thư mời chưa đến được người nhận",
                              "Xem lý do từng lỗi, sửa địa chỉ hoặc hộp thư công vụ và gửi lại thư mời.",
                              responses, "delivery.errors", "Xem và xử lý từng lỗi"))
        else:
            tasks.append(Task("Theo dõi lỗi gửi thư", "Hiện không có thư mời nào bị lỗi; mỗi lỗi mới hiện ở "
                              "“Lỗi gửi thư”.", responses, "delivery.errors", "Xem và xử lý từng lỗi"))
    # Overdue work first (it is the most pressing), then the rest by deadline; waiting comes last.
    return first + sorted(tasks, key=lambda t: (not t.overdue, t.deadline.day if t.deadline else date.max)) + last


def _appraisal_tasks(status: ProvinceStatus, tz_name: str, now: datetime | None) -> tuple[list[Task], list[Task]]:
    """The appraisal's tasks of a province account: the open explanation window, to go before everything else
    (an overdue task can still be done late, an explanation after the window's last day is refused for good), and
    the released result, to read once the rest is done."""
    first: list[Task] = []
    last: list[Task] = []
    until = status.explanation_until
    if until is not None and not is_past(until, tz_name, now):
        window = Deadline("explanation_until", "Giải trình kết quả thẩm định vòng 1", until,
                          (until - local_today(tz_name, now)).days, False)
        first.append(Task(window.label, f"Bộ Nội vụ đã gửi điểm và nhận xét thẩm định vòng 1: giải trình từng tiêu chí "
                          f"(kèm tài liệu kiểm chứng bổ sung nếu có) trước 23:59 ngày {until:%d/%m/%Y} (giờ Việt Nam); "
                          "sau hạn này Cổng không nhận thêm giải trình.", window, "appraisal.index",
                          "Mở trang “Thẩm định” để giải trình"))
    if status.appraisal_released_at is not None:
        day = _local_day(status.appraisal_released_at, tz_name)
        last.append(Task("Đọc kết quả thẩm định", f"Bộ Nội vụ đã công bố kết quả thẩm định ngày {day:%d/%m/%Y}: "
                         "điểm thẩm định cuối cùng của từng tiêu chí.", endpoint="appraisal.index",
                         link_label="Xem kết quả thẩm định"))
    return first, last


def province_overview(session: Session, campaign: Campaign, province_id: int, role: Role | str, tz_name: str,
                      now: datetime | None = None) -> tuple[Overview, ProvinceStatus]:
    """The home page of a province or its IT focal point: its deadlines and tasks, and its state."""
    status = province_status(session, campaign, province_id)
    return (Overview(campaign, province_deadlines(campaign, status, tz_name, now),
                     province_tasks(campaign, status, role, tz_name, now)), status)
