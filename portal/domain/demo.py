"""A demo campaign a newcomer can click through: accounts for every role and sample data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from portal.domain import accounts, notices, units
from portal.domain.campaign_admin import switch_current
from portal.domain.campaigns import current_campaign, local_today
from portal.domain.it_focal import focal_username
from portal.domain.reference import load_groups
from portal.models import Campaign, Notice, Province, Role, User, utcnow

DEMO_ADMIN = "bonoivu"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    province: str
    password: str | None  # None: existed already, password unchanged


def ensure_demo_campaign(session: Session, tz_name: str) -> Campaign:
    """A current campaign whose deadlines lie ahead, spaced like 2021's, so every step is open."""
    campaign = session.exec(select(Campaign).where(Campaign.is_demo == True)).first()  # noqa: E712
    if campaign is None:
        today = local_today(tz_name)
        campaign = Campaign(
            year=today.year, name=f"Xác định Chỉ số CCHC năm {today.year} (chạy thử)", is_demo=True,
            plan_ref="Kế hoạch chạy thử", framework_ref="Quyết định 1149/QĐ-BNV ngày 30/12/2020",
            guide_ref="Công văn 383/BNV-CCHC ngày 28/01/2021", questionnaire_ref="Phiếu mẫu (chạy thử)",
            it_focal_deadline=today + timedelta(days=14), list_deadline=today + timedelta(days=21),
            self_assessment_deadline=today + timedelta(days=52), response_deadline=today + timedelta(days=57),
        )
        session.add(campaign)
        session.flush()
        load_groups(session, campaign)
        units.assign_map(session, campaign, units.MAP_2021)
    switch_current(session, campaign)
    session.commit()
    return campaign


SAMPLE_2025_NAME = ("Đợt mẫu năm 2025: bản đồ 34 tỉnh, thành phố và các xã, phường; nhóm 4 là lãnh đạo UBND cấp xã "
                    "(chỉ để sao chép)")


def ensure_sample_2025(session: Session) -> Campaign:
    """A sample campaign on the 2025 map (34 provinces, their wards and communes), kept as a template to copy.

    Never current: the ministry copies it to open a campaign on the new map. Its deadlines are 2025's,
    spaced like 2021's; its groups are the 2025 set, whose fourth is the commune leaders (Lãnh đạo UBND cấp xã,
    naming a ward or commune of the province); its questionnaire is the 2025 sample (marked as a sample).
    """
    campaign = session.exec(select(Campaign).where(Campaign.name == SAMPLE_2025_NAME)).first()
    if campaign is None:
        from datetime import date

        from portal.domain import questionnaires

        campaign = Campaign(year=2025, name=SAMPLE_2025_NAME, is_template=True, created_at=utcnow(),
                            plan_ref="Mẫu: chưa có kế hoạch", framework_ref="Quyết định 1149/QĐ-BNV ngày 30/12/2020",
                            questionnaire_ref="Phiếu mẫu năm 2025 (không phải nội dung chính thức)",
                            it_focal_deadline=date(2026, 1, 10), list_deadline=date(2026, 1, 15),
                            self_assessment_deadline=date(2026, 2, 15), response_deadline=date(2026, 2, 20))
        session.add(campaign)
        session.flush()
        units.assign_map(session, campaign, units.MAP_2025)
        load_groups(session, campaign, "2025")
        session.commit()
        questionnaires.load_sample(session, campaign)
    return campaign


def create_demo_accounts(session: Session, password: str | None) -> list[DemoAccount]:
    """The ministry admin, one account per province (its slug) and one IT focal account per province.

    With `password`, every demo account gets it and is ready to use; without, each gets a
    one-time password to change at first login. Existing accounts are left as they are.
    """
    shared_hash = accounts.hash_password(password) if password else None
    existing = set(session.exec(select(User.username)))
    created: list[DemoAccount] = []

    def add(username: str, role: Role, province: Province | None, full_name: str) -> None:
        if username in existing:
            created.append(DemoAccount(username, role.value, province.name if province else "", None))
            return
        _user, pw = accounts.create_user(
            session, username, role, password=password, province_id=province.id if province else None,
            full_name=full_name, must_change_password=password is None, password_hash=shared_hash)
        created.append(DemoAccount(username, role.value, province.name if province else "", pw))

    add(DEMO_ADMIN, Role.MINISTRY, None, "Vụ Cải cách hành chính")
    for province in session.exec(select(Province).where(Province.is_active).order_by(Province.id)):
        add(province.slug, Role.PROVINCE, province, f"UBND {province.name}")
        add(focal_username(province), Role.IT_FOCAL, province, f"Đầu mối CNTT {province.short_name}")
    # Demo IT focal points count as registered by the province, with plausible details.
    for user in session.exec(select(User).where(User.role == Role.IT_FOCAL.value, User.registered_at.is_(None))):
        province = session.get(Province, user.province_id)
        user.position = "Chuyên viên Trung tâm Công nghệ thông tin, Sở Thông tin và Truyền thông"
        user.email = f"cntt@{province.slug}.gov.vn"
        user.phone = f"09{province.id:08d}"
        user.registered_at = utcnow()
        session.add(user)
    session.commit()
    return created


def post_demo_notices(session: Session) -> None:
    """A welcome notice from the ministry, once."""
    admin = session.exec(select(User).where(User.username == DEMO_ADMIN)).first()
    title = "Triển khai xác định Chỉ số CCHC (chạy thử)"
    if session.exec(select(Notice).where(Notice.title == title)).first():
        return
    notices.post_notice(
        session, admin, title,
        "Bộ Nội vụ đề nghị Ủy ban nhân dân các tỉnh, thành phố trực thuộc Trung ương:\n"
        "1. Cử đầu mối kỹ thuật CNTT đúng hạn;\n"
        "2. Nhập danh sách đối tượng khảo sát theo mẫu và bấm “Gửi danh sách” trước hạn;\n"
        "3. Hoàn thành tự đánh giá, chấm điểm trước hạn.\n"
        "Đây là dữ liệu chạy thử.",
    )


# ---------------------------------------------------------------- sample lists, a launched survey, answers

_FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô",
           "Dương", "Lý")
_MIDDLE = ("Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Quốc", "Ngọc", "Thu", "Hoàng", "Xuân", "Kim")
_GIVEN = ("An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hùng", "Hương", "Lan", "Linh", "Long", "Mai", "Nam", "Nga",
          "Phong", "Phương", "Quân", "Sơn", "Thảo", "Trang", "Tuấn", "Việt", "Yến", "Khánh", "Giang", "Hiếu")


def sample_rows(session: Session, province: Province, *, errors: bool = False, seed: int = 0,
                campaign: Campaign | None = None) -> list[dict[str, str]]:
    """A plausible respondent list for a province (about 60 people of the four groups).

    The fourth group's units are the province's lower-level units in the map of `campaign` (by default the
    current campaign). With `errors`, a few rows carry the mistakes officers really make, to fix in the
    review table.
    """
    import random

    from portal.domain import campaign_departments
    from portal.domain.text import fold
    from portal.models import District

    rng = random.Random(f"{province.slug}:{seed}")
    used: set[str] = set()

    def person() -> tuple[str, str]:
        while True:
            name = f"{rng.choice(_FAMILY)} {rng.choice(_MIDDLE)} {rng.choice(_GIVEN)}"
            *others, given = fold(name).split()
            local = f"{given}.{''.join(part[0] for part in others)}"
            if local not in used:
                used.add(local)
                return name, f"{local}@{province.slug}.gov.vn"

    campaign = campaign or current_campaign(session)
    departments = campaign_departments.active_departments(session, campaign.id, province.id) if campaign else []
    if campaign is not None:
        districts = units.units_of(session, campaign, province.id)
    else:
        districts = list(session.exec(select(District).where(District.province_id == province.id,
                                                             District.unit_map == units.MAP_2021)
                                      .order_by(District.code)))
    rows: list[dict[str, str]] = []

    def add(position: str, group: str, unit: str) -> None:
        name, email = person()
        rows.append({"full_name": name, "position": position, "group": group, "unit": unit, "email": email,
                     "phone": f"09{rng.randrange(10_000_000, 99_999_999)}", "note": ""})

    council = "HĐND thành phố" if province.is_centrally_run else "HĐND tỉnh"
    for title in ("Phó Chủ tịch HĐND", "Trưởng ban Pháp chế", "Trưởng ban Kinh tế - Ngân sách", "Đại biểu",
                  "Đại biểu", "Đại biểu", "Đại biểu", "Đại biểu"):
        add(title, "1", council)
    for department in departments[:8]:
        add("Giám đốc", "2", department.name)
        add("Phó Giám đốc", "2", department.name)
        add("Trưởng phòng Tổ chức - Hành chính", "3", department.name)
        add("Phó Trưởng phòng Kế hoạch - Tài chính", "3", department.name)
    for district in districts[:6]:
        add("Chủ tịch UBND", "4", district.name)
        add("Phó Chủ tịch UBND", "4", district.name)
    if errors:
        rows[3]["email"] = rows[3]["email"].replace("@", "@@")  # a typo in an address
        rows[12]["unit"] = "Sở Không Có Thật"  # a department the province does not have
        rows[14]["position"] = "Trưởng phòng Ngân sách"  # a division head listed among directors
        rows[20]["full_name"] = ""  # a missing name
        rows.append({**rows[9], "group": "1", "unit": council})  # a director who is also a deputy: merged
    return rows


def build_sample_data(
    session: Session, campaign: Campaign, *, tz_name: str, base_url: str, mail_domain: str,
    files_dir: str | None = None, max_bytes: int = 10 * 1024 * 1024,
) -> list[str]:
    """Lists for three provinces, in three states, and a launched survey with some answers for Hà Nội; their
    self-assessments (portal/domain/demo_assessment.py).

    Hà Nội: sent, survey launched, a third of the forms answered. Hải Phòng:
    sent, waiting for the ministry to launch. Đà Nẵng: a draft with mistakes to fix.
    Safe to run again: provinces that already have a list are left alone.
    """
    from portal.domain import answers, demo_assessment, invitations, list_import, lists, questionnaires
    from portal.domain.respondent_rules import RowInput
    from portal.models import FormProgress, Invitation, ListStatus

    done: list[str] = []
    admin = session.exec(select(User).where(User.username == DEMO_ADMIN)).first()
    if questionnaires.current_version(session, campaign) is None:
        questionnaires.load_sample(session, campaign, admin)
    plan = (("ha-noi", "launched"), ("hai-phong", "sent"), ("da-nang", "draft"))
    for slug, state in plan:
        province = session.exec(select(Province).where(Province.slug == slug)).first()
        account = session.exec(select(User).where(User.username == slug)).first()
        if province is None or lists.list_for(session, campaign, province.id) is not None:
            continue
        rlist = lists.get_or_create_list(session, campaign, province.id)
        rows = sample_rows(session, province, errors=state == "draft", campaign=campaign)
        list_import.import_rows(session, account, rlist, campaign, province,
                          [RowInput(key=n, number=n + 1, values=row) for n, row in enumerate(rows, start=1)],
                          "danh-sach-mau.xlsx")
        if state != "draft":
            sent = lists.send_list(session, account, rlist, campaign, province, version=rlist.version, tz_name=tz_name,
                                   confirmed_warnings=True)
            assert sent and rlist.status == ListStatus.SENT
        done.append(f"{province.name}: {state}")
    hanoi = session.exec(select(Province).where(Province.slug == "ha-noi")).first()
    if hanoi and any(c.province.id == hanoi.id for c in invitations.launch_candidates(session, campaign)):
        # The demo knowingly runs on the sample questionnaire.
        invitations.launch(session, admin, campaign, [hanoi.id], base_url=base_url, mail_domain=mail_domain,
                           tz_name=tz_name, accept_sample=True)
        questionnaire = questionnaires.load(questionnaires.current_version(session, campaign))
        forms = {f.code: f for f in questionnaire.forms}
        for number, invitation in enumerate(session.exec(select(Invitation).where(Invitation.province_id == hanoi.id)
                                                         .order_by(Invitation.id)).all()):
            if number % 3:
                continue
            for progress_row in session.exec(select(FormProgress).where(FormProgress.invitation_id == invitation.id)):
                form = forms[progress_row.form_code]
                answers.save_draft(session, invitation, campaign, form, _sample_answers(form, number),
                                   tz_name=tz_name)
                if number % 2 == 0:
                    answers.submit(session, invitation, campaign, form, tz_name=tz_name)
    done += demo_assessment.build(session, campaign, admin, tz_name=tz_name, files_dir=files_dir,
                                  max_bytes=max_bytes)
    return done


def _sample_answers(form, seed: int) -> dict[str, list[str]]:
    raw: dict[str, list[str]] = {}
    for position, question in enumerate(form.questions):
        if question.kind in ("single", "multiple") and question.options:
            raw[question.id] = [question.options[(seed + position) % len(question.options)].value]
        elif question.kind == "number":
            raw[question.id] = [str(int(question.min or 0) + (seed % 3))]
        elif question.kind == "text":
            raw[question.id] = ["Không có ý kiến thêm."]
    return raw
