"""A province's respondent list: import, check, edit, send; the ministry's returns and extensions.

The rules themselves (what a valid row is, who is the same person, the council
priority) live in `respondent_rules`; reading spreadsheets in `spreadsheets`,
writing them in `spreadsheet_exports`. This module keeps the draft in the database and decides what a
province may do with it, when.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from portal.domain import (
    audit,
    campaign_departments,
    group_kinds,
    list_tally,
    respondent_rules,
    spreadsheet_exports,
    spreadsheets,
    unit_rules,
    units,
)
from portal.domain.campaigns import end_of_day_utc, is_past
from portal.domain.notices import post_system_notice
from portal.domain.text import clean, fold
from portal.models import (
    LIST_STATUS_LABELS,
    Campaign,
    Department,
    District,
    ListStatus,
    Ministry,
    MinistryNotice,
    PositionTitle,
    Province,
    Respondent,
    RespondentGroup,
    RespondentList,
    User,
    utcnow,
)

EDITABLE_FIELDS = ("full_name", "position", "group", "unit", "email", "phone", "note")

LAUNCHED_NO_REPLACE = ("Bộ Nội vụ đã phát hành khảo sát cho danh sách này, nên không thể tải lên tệp thay thế cả "
                       "danh sách. Hãy thêm người, sửa hoặc xóa từng dòng trong bảng rà soát: người được thêm sẽ "
                       "nhận thư mời, địa chỉ được sửa sẽ được gửi lại thư mời, người bị xóa sẽ bị thu hồi thư mời.")


class ListError(Exception):
    """Something the province or the ministry cannot do now; `message` says why, in Vietnamese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------- the list and its deadline


def list_for(session: Session, campaign: Campaign, province_id: int) -> RespondentList | None:
    """The province's list in this campaign, if it has started one."""
    return session.exec(select(RespondentList).where(RespondentList.campaign_id == campaign.id,
                                                     RespondentList.province_id == province_id)).first()


def get_or_create_list(session: Session, campaign: Campaign, province_id: int) -> RespondentList:
    """The province's list, created empty on first use."""
    rlist = list_for(session, campaign, province_id)
    if rlist is None:
        rlist = RespondentList(campaign_id=campaign.id, province_id=province_id)
        session.add(rlist)
        session.commit()
    return rlist


def deadline_of(rlist: RespondentList | None, campaign: Campaign) -> date:
    """The day the list is due: the campaign's, or the extension the ministry granted this province."""
    if rlist is not None and rlist.extension_until and rlist.extension_until > campaign.list_deadline:
        return rlist.extension_until
    return campaign.list_deadline


def response_deadline_of(rlist: RespondentList | None, campaign: Campaign) -> date:
    """The day the province's respondents must answer by: the campaign's, or the province's extension."""
    if rlist is not None and rlist.response_extension_until and \
            rlist.response_extension_until > campaign.response_deadline:
        return rlist.response_extension_until
    return campaign.response_deadline


@dataclass(frozen=True)
class Editability:
    allowed: bool
    reason: str
    deadline: date
    # What the province may ask the ministry for instead (a RequestKind value), shown as a link.
    request_kind: str = ""


def editability(rlist: RespondentList, campaign: Campaign, tz_name: str, now: datetime | None = None) -> Editability:
    """Whether the province may change or send its list now, and if not, why."""
    deadline = deadline_of(rlist, campaign)
    if rlist.status == ListStatus.SENT:
        return Editability(False, "Danh sách đã được gửi Bộ Nội vụ nên không thể sửa. Nếu cần chỉnh sửa, "
                                  "hãy gửi đề nghị trả lại danh sách (mục “Đề nghị”).", deadline, "list_return")
    if is_past(deadline, tz_name, now):
        return Editability(False, f"Đã hết hạn gửi danh sách ({deadline:%d/%m/%Y}). Danh sách không thể sửa "
                                  "hay gửi nữa; nếu cần, hãy gửi đề nghị gia hạn (mục “Đề nghị”).", deadline,
                           "list_extension")
    return Editability(True, "", deadline)


def require_editable(rlist: RespondentList, campaign: Campaign, tz_name: str, now: datetime | None) -> None:
    state = editability(rlist, campaign, tz_name, now)
    if not state.allowed:
        raise ListError(state.reason)


# ---------------------------------------------------------------- reference data for the rules


def campaign_groups(session: Session, campaign: Campaign) -> list[RespondentGroup]:
    """The campaign's respondent groups in the ministry's order."""
    return list(session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id)
                             .order_by(RespondentGroup.number)))


def province_refs(session: Session, campaign: Campaign, province: Province) -> respondent_rules.ProvinceRefs:
    """What the rules need to know of this province: its groups, departments and districts.

    Every edit of a row asks it, so it reads plain columns, not ORM objects (a province has hundreds of
    units: building an entity for each was most of an edit's time)."""
    groups = campaign_groups(session, campaign)
    positions = session.exec(select(PositionTitle.group_id, PositionTitle.title, PositionTitle.common_forms)
                             .where(PositionTitle.group_id.in_([g.id for g in groups]))
                             .order_by(PositionTitle.id)).all()
    group_refs = tuple(
        respondent_rules.GroupRef(
            code=g.code, number=g.number, name=g.name, answers_ministry_form=g.answers_ministry_form,
            positions=tuple(respondent_rules.PositionRef(title, respondent_rules.parse_common_forms(forms))
                            for group_id, title, forms in positions if group_id == g.id),
            unit_kind=g.unit_kind, council_priority=g.council_priority,
        )
        for g in groups
    )
    departments = session.exec(select(Department.id, Department.name, Ministry.code, Ministry.name)
                               .join(Ministry, Ministry.id == Department.ministry_id)
                               .where(Department.campaign_id == campaign.id, Department.province_id == province.id,
                                      col(Department.retired_at).is_(None))
                               .order_by(Department.id)).all()
    # Lower-level units, and their kind, come from the campaign's map: districts in 2021, communes from 2025.
    entry = units.map_entry(session, campaign, province.id)
    districts = session.exec(select(District.id, District.name)
                             .where(District.province_id == province.id, District.unit_map == entry.unit_map)
                             .order_by(District.code)).all() if entry is not None and entry.unit_map else []
    return respondent_rules.ProvinceRefs(
        province_name=entry.name if entry else province.name,
        # Huế became a centrally-run city in 2025: the map's name says which a province is in that campaign.
        is_centrally_run_city=entry.name.startswith("Thành phố ") if entry else province.is_centrally_run,
        groups=group_refs,
        departments=tuple(unit_rules.DepartmentRef(*row) for row in departments),
        districts=tuple(unit_rules.DistrictRef(*row) for row in districts),
        unit_kind=entry.unit_kind if entry else "",
    )


def unit_names(session: Session, campaign: Campaign, province: Province) -> list[str]:
    """The province's departments and lower-level units in the campaign's map, for suggestions while typing."""
    departments = [d.name for d in campaign_departments.active_departments(session, campaign.id, province.id)]
    return [*departments, *(d.name for d in units.units_of(session, campaign, province.id))]


def template_for(session: Session, campaign: Campaign, province: Province, *,
                 max_rows: int = spreadsheets.DEFAULT_MAX_ROWS,
                 max_bytes: int = spreadsheets.DEFAULT_MAX_BYTES) -> bytes:
    """The .xlsx template pre-filled with this province's groups, departments and districts; its guide
    states the upload limits."""
    from portal.domain import spreadsheet_template  # openpyxl, loaded only by the requests that write a workbook

    refs = province_refs(session, campaign, province)
    groups = campaign_groups(session, campaign)
    by_number = {g.number: g for g in refs.groups}

    def first(kinds: frozenset[str]) -> str:
        return next((g.label for g in groups if g.unit_kind in kinds), "")

    roles = spreadsheet_template.TemplateRoles(
        council=next((g.label for g in groups if g.council_priority), ""),
        department=first(group_kinds.DEPARTMENT_KINDS),
        lower_unit=first(group_kinds.LOWER_UNIT_KINDS),
        positions={g.label: ", ".join(p.title for p in by_number[g.number].positions)
                   for g in groups if g.unit_kind != group_kinds.COUNCIL},
    )
    return spreadsheet_template.build_template(
        province_name=refs.province_name,
        groups=[g.label for g in groups],
        departments=[d.name for d in refs.departments],
        districts=[d.name for d in refs.districts],
        max_rows=max_rows,
        max_bytes=max_bytes,
        roles=roles,
    )


# ---------------------------------------------------------------- applying a check to the database


@dataclass
class Lookups:
    group_ids: dict[str, int]
    group_labels: dict[str, str]
    ministry_ids: dict[str, int]

    @classmethod
    def load(cls, session: Session, campaign: Campaign) -> Lookups:
        groups = campaign_groups(session, campaign)
        return cls({g.code: g.id for g in groups}, {g.code: g.label for g in groups},
                   {m.code: m.id for m in session.exec(select(Ministry))})


def row_values(row: respondent_rules.CheckedRow, raw_group: str, lookups: Lookups) -> dict:
    errors = [p for p in row.problems if p.level == "error"] if row.problems else []
    # A namesake warning carries its key: the review table offers "they are two people" with it.
    problems = [{"column": p.column, "message": p.message, "level": p.level,
                 **({"namesake_key": p.namesake_key} if p.namesake_key else {}),
                 **({"add_department": p.add_department} if p.add_department else {})} for p in row.problems]
    return {
        "row_number": row.number,
        "full_name": row.full_name,
        "position": row.position,
        "group_id": lookups.group_ids.get(row.group_code) if row.group_code else None,
        # Recognised groups are stored in their canonical wording so a later check reads them back.
        "group_text": lookups.group_labels.get(row.group_code, raw_group) if row.group_code else raw_group,
        "unit": row.unit,
        "department_id": row.department_id,
        "district_id": row.district_id,
        "ministry_id": lookups.ministry_ids.get(row.ministry_code) if row.ministry_code else None,
        "answers_ministry_form": row.answers_ministry_form,
        "email": row.email,
        "phone": row.phone,
        "note": row.note,
        "search_text": respondent_rules.search_text(row),
        "problems": json.dumps(problems, ensure_ascii=False) if problems else "[]",
        "error_count": len(errors),
        "name_key": row.name_key,
        "has_notice": bool(row.problems) and any(p.level == "notice" for p in row.problems),
    }


def _notices_json(row_notices: list[tuple[int, list[str]]], check: respondent_rules.ListCheck) -> str:
    """The list's notices: each kept row's (in list order), then this check's merges, by row number."""
    notices = [(number, message) for number, messages in row_notices for message in messages]
    notices += [(d.number, d.message) for d in check.dropped]
    notices.sort(key=lambda item: item[0])
    return json.dumps([message for _, message in notices], ensure_ascii=False)


def _stored_notices(session: Session, rlist: RespondentList) -> list[tuple[int, list[str]]]:
    """The notices the rows of the list hold, in list order (only rows flagged `has_notice` are read)."""
    rows = session.exec(select(Respondent.row_number, Respondent.problems)
                        .where(Respondent.list_id == rlist.id, Respondent.has_notice == True)  # noqa: E712
                        .order_by(Respondent.row_number, Respondent.id)).all()
    return [(number, [p["message"] for p in json.loads(problems or "[]") if p.get("level") == "notice"])
            for number, problems in rows]


def merge_entries(check: respondent_rules.ListCheck, now: datetime, cause: str) -> list[dict]:
    return [{"at": now.isoformat(), "rows": [d.number, d.kept_number], "cause": cause, "message": d.message}
            for d in sorted(check.dropped, key=lambda d: d.number)]


def merge_record(rlist: RespondentList | None) -> list[dict]:
    """Every merge the portal made in this list, oldest first: {"at", "rows": [gone, kept], "cause", "message"}.

    Kept with the list (not only with the last check), so the province still sees it after
    later edits and the ministry sees it once the list is sent.
    """
    entries = json.loads(rlist.merge_record or "[]") if rlist else []
    return [{**entry, "at": datetime.fromisoformat(entry["at"])} for entry in entries]


def dismissed_namesakes(rlist: RespondentList) -> frozenset[str]:
    """The keys of namesake pairs the officer confirmed are different people."""
    return frozenset(json.loads(rlist.dismissed_namesakes or "[]"))


def _check(session: Session, rlist: RespondentList, campaign: Campaign, province: Province,
           rows: list[respondent_rules.RowInput]) -> respondent_rules.ListCheck:
    return respondent_rules.check_list(rows, province_refs(session, campaign, province), dismissed_namesakes(rlist))


@dataclass
class ImportOutcome:
    """What an upload did: rows kept, merged away, with errors, and what the file reader skipped."""

    kept: int
    dropped: int
    errors: int
    rows_with_errors: int
    notices: list[str] = field(default_factory=list)
    example_rows_skipped: int = 0
    ignored_columns: list[str] = field(default_factory=list)


def _as_input(person: Respondent) -> respondent_rules.RowInput:
    return respondent_rules.RowInput(key=person.id, number=person.row_number, values={
        "full_name": person.full_name, "position": person.position, "group": person.group_text,
        "unit": person.unit, "email": person.email, "phone": person.phone, "note": person.note,
    }, formulas=json.loads(person.formula_cells or "{}"))


@dataclass
class Recheck:
    """A check after an edit, and the rows it changed: a review page showing them must refresh them too
    (fixing one of two rows that share a mailbox clears the other's error)."""

    check: respondent_rules.ListCheck
    changed_ids: list[int] = field(default_factory=list)  # rows whose stored values or problems changed
    dropped_ids: list[int] = field(default_factory=list)  # rows merged into another one and removed


def _kept_notices(values: dict, stored_problems: str) -> None:
    """A row nobody edited keeps the notices of the check that first read its values.

    A notice says how a typed value was read ("“Đông Anh” được hiểu là Huyện Đông Anh", a phone
    written in another form); the stored value is already the reading, so checking it again finds
    nothing to say. Without this, editing any row would wipe every other row's notices.
    """
    kept = [p for p in json.loads(stored_problems or "[]") if p.get("level") == "notice"]
    problems = [p for p in json.loads(values["problems"]) if p.get("level") != "notice"] + kept
    values["problems"] = json.dumps(problems, ensure_ascii=False)
    values["has_notice"] = bool(kept)


@dataclass
class RowsWritten:
    """What an edit did to the list's rows before its check: rows it added (not in the kept tally yet) and
    the change to the tally so far (a removed row uncounted)."""

    since: int | None  # the list's version when the request read it (list_tally.read_version)
    added: set[int] = field(default_factory=set)
    change: list_tally.ListTally = field(default_factory=list_tally.ListTally)


def _store_check(
    session: Session, rlist: RespondentList, check: respondent_rules.ListCheck, people: dict[int, Respondent],
    targets: set[int], edited_id: int | None, lookups: Lookups, cause: str, written: RowsWritten,
    *, whole_list: bool = False,
) -> Recheck:
    """Write the check's results for the `targets` rows (the others were only read), remove merged rows,
    and bring the list's notices, merge record and tally up to date (`whole_list`: every row was checked,
    so the tally is counted from them)."""
    now = utcnow()
    change = written.change
    changed_ids = []
    for row in check.rows:
        if row.key not in targets:
            continue
        person = people[row.key]
        values = row_values(row, person.group_text, lookups)
        if row.key != edited_id:
            _kept_notices(values, person.problems)
        changed = {k: v for k, v in values.items() if getattr(person, k) != v}
        if changed or row.key in written.added:
            if row.key not in written.added:
                change.add_person(person, -1)
            for key, value in changed.items():
                setattr(person, key, value)
            change.add_person(person)
            person.updated_at = now
            session.add(person)
            changed_ids.append(person.id)
    dropped = [d.key for d in check.dropped]
    merge_record = rlist.merge_record
    if dropped:
        for key in dropped:
            if key not in written.added:  # counted in the kept tally: uncounted as it goes (check.rows are kept rows)
                change.add_person(people[key], -1)
        _remove_people(session, None, dropped)
        merge_record = json.dumps([*json.loads(merge_record or "[]"), *merge_entries(check, now, cause)],
                                  ensure_ascii=False)
    session.flush()
    counted = None
    if whole_list:
        counted = list_tally.ListTally()
        for key, person in people.items():
            if key not in dropped:
                counted.add_person(person)
    list_tally.bump_after_rows(session, rlist, written.since, now, change=change, counted=counted,
                               check_notices=_notices_json(_stored_notices(session, rlist), check),
                               merge_record=merge_record)
    return Recheck(check, changed_ids, dropped)


def recheck(session: Session, rlist: RespondentList, campaign: Campaign, province: Province,
            cause: str = "Sửa danh sách", *, edited_id: int | None = None,
            written: RowsWritten | None = None) -> Recheck:
    """Check the whole draft again: update changed rows, remove merged ones.

    Used when something every row depends on changed (the province's departments). An edit of rows
    calls `recheck_rows` instead, which gives the same result reading only the rows concerned.
    Each merge is added to the list's merge record with `cause`.
    """
    people = session.exec(select(Respondent).where(Respondent.list_id == rlist.id)
                          .order_by(Respondent.row_number, Respondent.id)).all()
    check = _check(session, rlist, campaign, province, [_as_input(p) for p in people])
    by_id = {p.id: p for p in people}
    return _store_check(session, rlist, check, by_id, set(by_id), edited_id, Lookups.load(session, campaign),
                        cause, written or RowsWritten(list_tally.read_version(rlist)), whole_list=True)


def recheck_rows(
    session: Session, rlist: RespondentList, campaign: Campaign, province: Province, cause: str,
    *, names: set[str], emails: set[str], edited_id: int | None = None, written: RowsWritten | None = None,
) -> Recheck:
    """Check again only the rows an edit can affect, with the same result as `recheck` of the whole list.

    `names` and `emails` are the folded names and the mailboxes the edit touched: the edited row's
    before and after (or the removed row's). A row's check depends on other rows only through the
    rows of the same name (same person, namesakes) and of the same mailbox (one mailbox for two
    people), so the rows whose result may change (targets) are those of these names, and those
    sharing a mailbox with any of them (a merge that removes a row changes its mailbox's count).
    Those rows are checked together with every row of the targets' names (their context); the
    results of the context rows that are not targets are not written: the list was checked in whole
    before, so they stay right. The lookups use the (list, name) and (list, email) indexes.
    `written`: what the edit did to rows before (list_tally), by default nothing since the list was read.
    """
    written = written or RowsWritten(list_tally.read_version(rlist))
    where = Respondent.list_id == rlist.id
    names = {n for n in names if n}
    people: dict[int, Respondent] = {}
    if names:
        people.update((p.id, p) for p in session.exec(select(Respondent).where(where, Respondent.name_key.in_(names))))
    mailboxes = ({e for e in emails} | {p.email for p in people.values()}) - {""}
    if mailboxes:
        people.update((p.id, p) for p in session.exec(select(Respondent).where(where,
                                                                              Respondent.email.in_(mailboxes))))
    if edited_id is not None and edited_id not in people:
        person = session.get(Respondent, edited_id)
        if person is not None:
            people[edited_id] = person
    targets = set(people)
    context_names = {p.name_key for p in people.values()} - names - {""}
    if context_names:
        people.update((p.id, p) for p in session.exec(select(Respondent).where(
            where, Respondent.name_key.in_(context_names))) if p.id not in people)
    ordered = sorted(people.values(), key=lambda p: (p.row_number, p.id))
    check = _check(session, rlist, campaign, province, [_as_input(p) for p in ordered])
    return _store_check(session, rlist, check, people, targets, edited_id, Lookups.load(session, campaign), cause,
                        written)


def _clean_values(values: dict[str, str]) -> dict[str, str]:
    return {key: clean(values.get(key, ""))[:300] for key in EDITABLE_FIELDS}


# The row's fields as the audit log names them (the ministry reads it).
FIELD_LABELS = {"full_name": "họ tên", "position": "chức vụ", "group": "nhóm", "unit": "đơn vị", "email": "email",
                "phone": "điện thoại", "note": "ghi chú"}


def _row_fields(person: Respondent) -> dict[str, str]:
    return {"full_name": person.full_name, "position": person.position, "group": person.group_text,
            "unit": person.unit, "email": person.email, "phone": person.phone, "note": person.note}


def _audit_edit(session: Session, user: User, rlist: RespondentList, person: Respondent,
                before: dict[str, str]) -> None:
    """The province's own edit of a row, old and new value of each field that changed, like the ministry's
    actions: an address changed (to someone else's, say) above all must be traceable to who did it and when."""
    after = _row_fields(person)
    changed = [f"{FIELD_LABELS[key]}: “{before[key]}” → “{after[key]}”" for key in FIELD_LABELS
               if before[key] != after[key]]
    if not changed:
        return
    who = before["full_name"] or after["full_name"]
    detail = f"Dòng {person.row_number} ({who}): " + "; ".join(changed)
    if before["email"] != after["email"]:
        # Recorded as the IT focal point's corrections are (delivery.correct_address): one search finds both, and
        # the integrity rules read whose address it was from the entry's own columns.
        audit.record_address_change(session, user, person, before["email"], after["email"],
                                    province_id=rlist.province_id, detail=detail)
    else:
        audit.record(session, user, "Sửa một dòng danh sách", province_id=rlist.province_id, detail=detail)


def _apply_values(person: Respondent, values: dict[str, str]) -> None:
    cleaned = _clean_values(values)
    person.full_name = cleaned["full_name"]
    person.position = cleaned["position"]
    person.group_text = cleaned["group"]
    person.unit = cleaned["unit"]
    person.email = cleaned["email"]
    person.phone = cleaned["phone"]
    person.note = cleaned["note"]
    # The officer has now seen and saved the row: its cells are what was typed, no longer formulas.
    person.formula_cells = "{}"
    person.updated_at = utcnow()


@dataclass
class EditOutcome:
    respondent: Respondent | None  # None when the edit made the row merge into another
    check: respondent_rules.ListCheck
    message: str = ""
    other_changed_ids: list[int] = field(default_factory=list)  # other rows the check changed
    other_dropped_ids: list[int] = field(default_factory=list)  # other rows merged away


def _outcome(session: Session, person_id: int, result: Recheck) -> EditOutcome:
    others_dropped = [i for i in result.dropped_ids if i != person_id]
    # Say why a row disappears, whether it is the edited one or another that now repeats it.
    message = _merged_message(result.check, person_id) or " ".join(
        d.message for d in result.check.dropped if d.key in others_dropped)
    return EditOutcome(session.get(Respondent, person_id), result.check, message,
                       [i for i in result.changed_ids if i != person_id], others_dropped)


def _merged_message(check: respondent_rules.ListCheck, key: int) -> str:
    return next((d.message for d in check.dropped if d.key == key), "")


def update_respondent(
    session: Session, user: User, rlist: RespondentList, campaign: Campaign, province: Province,
    person: Respondent, values: dict[str, str], *, tz_name: str, now: datetime | None = None,
    whole_list: bool = False,
) -> EditOutcome:
    """Save an edited row and check again the rows it can affect (`whole_list`: every row, the reference
    the incremental check is tested against); the change is audited (old and new values)."""
    written = RowsWritten(list_tally.read_version(rlist))
    require_editable(rlist, campaign, tz_name, now)
    fields_before = _row_fields(person)
    before = (person.name_key, person.email)
    _apply_values(person, values)
    _audit_edit(session, user, rlist, person, fields_before)
    return _save_and_recheck(session, person, rlist, campaign, province, f"Sửa dòng {person.row_number}",
                             before, whole_list, written)


def _save_and_recheck(
    session: Session, person: Respondent, rlist: RespondentList, campaign: Campaign, province: Province,
    cause: str, before: tuple[str, str], whole_list: bool, written: RowsWritten, *, added: bool = False,
) -> EditOutcome:
    session.add(person)
    session.flush()
    person_id = person.id
    if added:
        written.added.add(person_id)
    if whole_list:
        result = recheck(session, rlist, campaign, province, cause, edited_id=person_id, written=written)
    else:
        name, email = respondent_rules.identity_keys(person.full_name, person.email)
        result = recheck_rows(session, rlist, campaign, province, cause, names={before[0], name},
                              emails={before[1], email}, edited_id=person_id, written=written)
    session.commit()
    return _outcome(session, person_id, result)


def add_respondent(
    session: Session, user: User, rlist: RespondentList, campaign: Campaign, province: Province,
    values: dict[str, str], *, tz_name: str, now: datetime | None = None, whole_list: bool = False,
) -> EditOutcome:
    """Add a row at the end of the list and check it with the rows it can affect."""
    written = RowsWritten(list_tally.read_version(rlist))
    require_editable(rlist, campaign, tz_name, now)
    cleaned = _clean_values(values)
    if not any(cleaned.values()):
        raise ListError("Dòng mới chưa có nội dung: hãy nhập ít nhất họ tên và email.")
    last = session.exec(select(func.max(Respondent.row_number)).where(Respondent.list_id == rlist.id)).one()
    person = Respondent(list_id=rlist.id, province_id=rlist.province_id, row_number=(last or 0) + 1)
    _apply_values(person, values)
    audit.record(session, user, "Thêm một người vào danh sách", province_id=rlist.province_id,
                 detail=f"Dòng {person.row_number}: {person.full_name}, {person.email}")
    return _save_and_recheck(session, person, rlist, campaign, province, "Thêm một người", ("", ""), whole_list,
                             written, added=True)


def delete_respondent(
    session: Session, user: User, rlist: RespondentList, campaign: Campaign, province: Province,
    person: Respondent, *, tz_name: str, now: datetime | None = None, whole_list: bool = False,
) -> Recheck:
    """Remove a row and check again the rows it shared a name or a mailbox with (a removed duplicate may
    clear another row's error)."""
    written = RowsWritten(list_tally.read_version(rlist))
    require_editable(rlist, campaign, tz_name, now)
    audit.record(session, user, "Xóa một người khỏi danh sách", province_id=rlist.province_id,
                 detail=f"Dòng {person.row_number}: {person.full_name}, {person.email}")
    name, email = person.name_key, person.email
    written.change.add_person(person, -1)
    _remove_people(session, user, [person.id])
    if whole_list:
        result = recheck(session, rlist, campaign, province, "Xóa một dòng", written=written)
    else:
        result = recheck_rows(session, rlist, campaign, province, "Xóa một dòng", names={name}, emails={email},
                              written=written)
    session.commit()
    return result


def dismiss_namesake(
    session: Session, user: User, rlist: RespondentList, campaign: Campaign, province: Province, key: str,
    *, tz_name: str, now: datetime | None = None,
) -> Recheck:
    """The officer confirms that rows with one name in one unit are different people: the warning goes,
    for good (until a contact of theirs changes), and the decision is audited."""
    written = RowsWritten(list_tally.read_version(rlist))
    require_editable(rlist, campaign, tz_name, now)
    key = key.strip()[:4000]
    # The key starts with the rows' folded name and a "|": the name is one of the key's "|"-prefixes.
    prefixes = {key[:i] for i, char in enumerate(key) if char == "|"}
    names = session.exec(select(Respondent.full_name, Respondent.row_number, Respondent.problems)
                         .where(Respondent.list_id == rlist.id, Respondent.name_key.in_(prefixes))).all() \
        if prefixes else []
    rows = [number for _, number, problems in names
            if key and any(p.get("namesake_key") == key for p in json.loads(problems or "[]"))]
    if not rows:
        raise ListError("Cảnh báo trùng họ tên này không còn (danh sách đã thay đổi). Hãy tải lại trang.")
    rlist.dismissed_namesakes = json.dumps(sorted(dismissed_namesakes(rlist) | {key}), ensure_ascii=False)
    name = next(n for n, number, _ in names if number in rows)
    result = recheck_rows(session, rlist, campaign, province, "Xác nhận người trùng họ tên",
                          names={fold(name)}, emails=set(), written=written)
    audit.record(session, user, "Xác nhận hai người khác nhau trùng họ tên", province_id=rlist.province_id,
                 detail=f"{name}: dòng {', '.join(str(n) for n in sorted(rows))}")
    session.commit()
    return result


def _remove_people(session: Session, actor: User | None, ids: list[int]) -> None:
    """Delete rows; a person already invited has their invitation withdrawn first (and audited)."""
    from portal.domain import invitations

    invitations.withdraw_for_respondents(session, actor, ids)
    session.exec(delete(Respondent).where(Respondent.id.in_(ids)))
    session.flush()


def row_problems(person: Respondent) -> list[dict]:
    """The row's problems from its last check: [{"column", "message", "level"}]."""
    return json.loads(person.problems or "[]")


def list_notices(rlist: RespondentList | None) -> list[str]:
    """The informational messages of the last check (merges, council priority, fixed phones)."""
    return json.loads(rlist.check_notices or "[]") if rlist else []


# ---------------------------------------------------------------- reading the list


@dataclass
class Summary:
    """Counts for the review page, the send confirmation and the ministry's table."""

    total: int = 0
    errors: int = 0
    rows_with_errors: int = 0
    by_group: list[tuple[RespondentGroup, int]] = field(default_factory=list)
    without_group: int = 0
    two_forms: int = 0
    ministries: list[tuple[str, int]] = field(default_factory=list)


def summary(session: Session, rlist: RespondentList | None, campaign: Campaign, *, from_rows: bool = False) -> Summary:
    """How many people per group, errors left, people answering two forms, parent ministries involved.

    Read from the list's kept tally while it is current (list_tally), or with `from_rows` from the rows
    themselves (what sending the list decides on)."""
    groups = campaign_groups(session, campaign)
    if rlist is None:
        return Summary(by_group=[(g, 0) for g in groups])
    tally = list_tally.count_rows(session, rlist.id) if from_rows else list_tally.tally_of(session, rlist)
    per_group: Counter[int | None] = Counter()
    per_ministry: Counter[int | None] = Counter()
    errors = rows_with_errors = 0
    for (group_id, two_forms, ministry_id), (count, error_sum, with_errors) in tally.counts.items():
        per_group[group_id] += count
        errors += int(error_sum)
        rows_with_errors += with_errors
        if two_forms:
            per_ministry[ministry_id] += count
    total = sum(per_group.values())
    ids = [i for i in per_ministry if i is not None]
    names = dict(session.exec(select(Ministry.id, Ministry.name).where(Ministry.id.in_(ids))).all()) if ids else {}
    ministries = Counter()
    for ministry_id, count in per_ministry.items():
        if ministry_id in names:
            ministries[names[ministry_id]] += count
    return Summary(total=total, errors=int(errors), rows_with_errors=int(rows_with_errors),
                   by_group=[(g, per_group.get(g.id, 0)) for g in groups], without_group=per_group.get(None, 0),
                   two_forms=sum(per_ministry.values()),
                   ministries=sorted(ministries.items(), key=lambda item: (-item[1], item[0])))


@dataclass
class Page:
    rows: list[Respondent]
    total: int
    page: int
    pages: int
    per_page: int


def review_page(
    session: Session, rlist: RespondentList, *, show: str = "", query: str = "", page: int = 1, per_page: int = 100,
) -> Page:
    """One page of the list for review, rows with errors first.

    `show` is "loi" (errors only), a group id as text, or "" (everyone); `query`
    matches name, email, unit and position without regard to case or diacritics.
    """
    conditions = [Respondent.list_id == rlist.id]
    if show == "loi":
        conditions.append(Respondent.error_count > 0)
    elif show == "khong-nhom":
        conditions.append(Respondent.group_id.is_(None))
    elif show.isascii() and show.isdigit() and len(show) < 10:  # "³" or a 30-digit number: no group
        conditions.append(Respondent.group_id == int(show))
    folded = fold(query)
    if folded:
        conditions.append(Respondent.search_text.contains(folded, autoescape=True))
    total = session.exec(select(func.count()).select_from(Respondent).where(*conditions)).one()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = session.exec(select(Respondent).where(*conditions)
                        .order_by((Respondent.error_count > 0).desc(), Respondent.row_number, Respondent.id)
                        .offset((page - 1) * per_page).limit(per_page)).all()
    return Page(list(rows), total, page, pages, per_page)


# ---------------------------------------------------------------- sending, returning, extending


def send_list(
    session: Session, user: User, rlist: RespondentList, campaign: Campaign, province: Province,
    *, version: int, tz_name: str, confirmed_warnings: bool, now: datetime | None = None,
    base_url: str | None = None, mail_domain: str | None = None,
) -> bool:
    """Send the list to the ministry and lock it. Returns False when it had already been sent.

    Refused (ListError) after the deadline, with errors left, when empty, when
    the list changed since the confirmation page was shown (`version`), or when
    `list_warnings.send_warnings` has something to say and the officer has not confirmed it.

    A list the survey was already launched to (returned, then sent again) is followed
    up in the same transaction: people added are invited, corrected addresses get their
    invitation again on the same link (`base_url` and `mail_domain` default to the app's).
    """
    if rlist.status == ListStatus.SENT:
        return False
    require_editable(rlist, campaign, tz_name, now)
    launched = rlist.launched_at is not None
    if launched and is_past(response_deadline_of(rlist, campaign), tz_name, now):
        raise ListError(f"Đã hết hạn trả lời phiếu ({response_deadline_of(rlist, campaign):%d/%m/%Y}): người được "
                        "thêm không thể trả lời nữa. Hãy gửi đề nghị gia hạn trả lời phiếu (mục “Đề nghị”) "
                        "trước khi gửi lại danh sách.")
    facts = summary(session, rlist, campaign, from_rows=True)  # the gate: never a kept count
    if facts.total == 0:
        raise ListError("Danh sách chưa có người nào. Hãy tải lên hoặc nhập danh sách trước khi gửi.")
    if facts.errors or facts.without_group:
        raise ListError(f"Danh sách còn {facts.rows_with_errors} dòng có lỗi. Hãy sửa hết lỗi trước khi gửi.")
    # Imported here: the warnings read the list through this module.
    from portal.domain.list_warnings import send_warnings

    warnings = send_warnings(session, rlist, campaign, province)
    if warnings and not confirmed_warnings:
        raise ListError(f"Danh sách còn {len(warnings)} cảnh báo. Hãy đánh dấu ô xác nhận đã xem các cảnh báo, "
                        "hoặc sửa danh sách rồi gửi.")
    now = now or utcnow()
    # Conditional update: of two tabs or a double click, exactly one send wins.
    result = session.exec(update(RespondentList).where(
        RespondentList.id == rlist.id, RespondentList.version == version,
        RespondentList.status != ListStatus.SENT.value,
    ).values(status=ListStatus.SENT.value, sent_at=now, sent_by_id=user.id, version=version + 1, updated_at=now,
             tally_version=list_tally.carried_version(version)))
    if result.rowcount != 1:
        session.rollback()
        session.refresh(rlist)
        if rlist.status == ListStatus.SENT:
            return False
        raise ListError("Danh sách đã thay đổi kể từ khi bạn mở trang xác nhận. Vui lòng xem lại tóm tắt rồi gửi lại.")
    counts = ", ".join(f"nhóm {g.number}: {n}" for g, n in facts.by_group)
    confirmed = f"; đã xác nhận {len(warnings)} cảnh báo" if warnings else ""
    audit.record(session, user, "Gửi danh sách", province_id=rlist.province_id,
                 detail=f"{facts.total} người ({counts}); {facts.two_forms} người trả lời hai phiếu{confirmed}")
    follow_up = None
    if launched:
        from flask import current_app

        from portal.domain import invitations

        try:
            follow_up = invitations.follow_up_launched_list(
                session, user, rlist, campaign,
                base_url=base_url if base_url is not None else current_app.config["PORTAL_BASE_URL"],
                mail_domain=mail_domain if mail_domain is not None else current_app.config["PORTAL_MAIL_DOMAIN"],
                now=now)
        except invitations.LaunchError as problem:
            session.rollback()
            raise ListError(problem.message) from problem
    body = f"{facts.total} người ({counts})."
    if follow_up is not None:
        body += f" Khảo sát đã được phát hành cho danh sách này: {follow_up.summary()}."
    session.add(MinistryNotice(title=f"{province.name} đã gửi danh sách đối tượng khảo sát",
                               body=body, province_id=province.id, created_at=now))
    session.commit()
    session.refresh(rlist)
    if follow_up is not None and (follow_up.invited or follow_up.resent or follow_up.renewed or follow_up.kept):
        post_system_notice(session, province.id, "Đã gửi thư mời theo danh sách được sửa",
                           follow_up.summary()[:1].upper() + follow_up.summary()[1:] + ".")
    return True


LAUNCHING_NO_RETURN = ("Khảo sát đang được phát hành cho danh sách này; hãy chờ phát hành xong rồi mới trả lại "
                       "danh sách.")


def return_list(
    session: Session, actor: User, rlist: RespondentList, province: Province, reason: str,
    *, extension_until: date | None = None,
) -> None:
    """The ministry returns a sent list for correction, with a reason; the province is told."""
    reason = clean(reason)
    if not reason:
        raise ListError("Vui lòng nêu lý do trả lại để địa phương biết cần chỉnh sửa gì.")
    if rlist.status != ListStatus.SENT:
        raise ListError("Chỉ trả lại được danh sách đã gửi.")
    if rlist.launch_operation_id is not None and rlist.launched_at is None:
        # Its people are being invited right now: a list changed half way would be half launched.
        raise ListError(LAUNCHING_NO_RETURN)
    now = utcnow()
    rlist.status = ListStatus.RETURNED.value
    rlist.returned_at = now
    rlist.return_reason = reason
    if extension_until:
        rlist.extension_until = extension_until
    list_tally.carry(session, rlist)
    rlist.updated_at = now
    session.add(rlist)
    detail = f"Hạn mới: {extension_until:%d/%m/%Y}" if extension_until else ""
    audit.record(session, actor, "Trả lại danh sách để chỉnh sửa", province_id=province.id, detail=detail,
                 reason=reason)
    session.commit()
    body = f"Lý do: {reason}"
    if extension_until:
        body += f"\nHạn gửi lại: {extension_until:%d/%m/%Y}."
    post_system_notice(session, province.id, "Bộ Nội vụ trả lại danh sách đối tượng khảo sát để chỉnh sửa", body)


def grant_extension(
    session: Session, actor: User, rlist: RespondentList, province: Province, until: date, reason: str,
    *, tz_name: str, now: datetime | None = None,
) -> None:
    """Let one province edit and send its list until `until` (end of that day)."""
    reason = clean(reason)
    if not reason:
        raise ListError("Vui lòng nêu lý do gia hạn.")
    if end_of_day_utc(until, tz_name) < (now or utcnow()):
        raise ListError("Ngày gia hạn phải từ hôm nay trở đi.")
    old = rlist.extension_until
    rlist.extension_until = until
    list_tally.carry(session, rlist)
    rlist.updated_at = utcnow()
    session.add(rlist)
    audit.record(session, actor, "Gia hạn gửi danh sách", province_id=province.id,
                 detail=f"{old:%d/%m/%Y} → {until:%d/%m/%Y}" if old else f"Đến {until:%d/%m/%Y}", reason=reason)
    session.commit()
    post_system_notice(session, province.id, f"Bộ Nội vụ gia hạn gửi danh sách đến {until:%d/%m/%Y}",
                       f"Lý do: {reason}")


def grant_response_extension(
    session: Session, actor: User, rlist: RespondentList, province: Province, campaign: Campaign, until: date,
    reason: str, *, tz_name: str, now: datetime | None = None,
) -> None:
    """Let the province's respondents answer until `until` (end of that day), after the campaign's deadline."""
    reason = clean(reason)
    if not reason:
        raise ListError("Vui lòng nêu lý do gia hạn.")
    if until <= campaign.response_deadline:
        raise ListError(f"Hạn mới phải sau hạn trả lời phiếu của đợt ({campaign.response_deadline:%d/%m/%Y}).")
    if end_of_day_utc(until, tz_name) < (now or utcnow()):
        raise ListError("Ngày gia hạn phải từ hôm nay trở đi.")
    old = rlist.response_extension_until
    rlist.response_extension_until = until
    rlist.updated_at = utcnow()
    session.add(rlist)
    audit.record(session, actor, "Gia hạn trả lời phiếu khảo sát", province_id=province.id,
                 detail=f"{old:%d/%m/%Y} → {until:%d/%m/%Y}" if old else f"Đến {until:%d/%m/%Y}", reason=reason)
    session.commit()
    post_system_notice(session, province.id, f"Bộ Nội vụ gia hạn trả lời phiếu khảo sát đến {until:%d/%m/%Y}",
                       f"Lý do: {reason}")


# ---------------------------------------------------------------- the ministry's table and exports


@dataclass
class ProvinceListRow:
    province: Province
    rlist: RespondentList | None
    status_label: str
    counts: dict[int, int]  # group id -> people
    total: int
    errors: int


def ministry_table(session: Session, campaign: Campaign, *, status: str = "") -> list[ProvinceListRow]:
    """Every province with its list status and counts per group, in one pass over the data."""
    provinces = units.provinces_of(session, campaign)
    lists = {r.province_id: r for r in session.exec(select(RespondentList)
                                                     .where(RespondentList.campaign_id == campaign.id))}
    counts: dict[int, Counter] = {}
    errors: Counter = Counter()
    rows = session.exec(
        select(Respondent.list_id, Respondent.group_id, func.count(), func.sum(Respondent.error_count))
        .join(RespondentList, RespondentList.id == Respondent.list_id)
        .where(RespondentList.campaign_id == campaign.id)
        .group_by(Respondent.list_id, Respondent.group_id)).all()
    for list_id, group_id, count, error_sum in rows:
        counts.setdefault(list_id, Counter())[group_id] += count
        errors[list_id] += int(error_sum or 0)
    table = []
    for province in provinces:
        rlist = lists.get(province.id)
        per_group = dict(counts.get(rlist.id, Counter())) if rlist else {}
        total = sum(per_group.values())
        key = None if rlist is None or (total == 0 and rlist.uploaded_at is None) else ListStatus(rlist.status)
        item = ProvinceListRow(province, rlist, LIST_STATUS_LABELS[key], per_group, total,
                               errors[rlist.id] if rlist else 0)
        if not status or status == (key.value if key else "none"):
            table.append(item)
    return table


def export_list(session: Session, rlist: RespondentList, campaign: Campaign, province: Province) -> bytes:
    """The list as a formula-safe .xlsx."""
    groups = {g.id: g for g in session.exec(select(RespondentGroup)
                                            .where(RespondentGroup.campaign_id == campaign.id))}
    ministries = {m.id: m.name for m in session.exec(select(Ministry))}
    people = session.exec(select(Respondent).where(Respondent.list_id == rlist.id)
                          .order_by(Respondent.row_number, Respondent.id)).all()
    headers = ["STT", "Họ và tên", "Chức vụ", "Nhóm đối tượng", "Cơ quan/đơn vị", "Email công vụ",
               "Số điện thoại", "Bộ chủ quản (phiếu thứ hai)", "Ghi chú", "Lỗi còn lại"]
    rows = []
    for number, person in enumerate(people, start=1):
        group = groups.get(person.group_id) if person.group_id else None
        rows.append([number, person.full_name, person.position,
                     group.label if group else person.group_text, person.unit,
                     person.email, person.phone,
                     ministries.get(person.ministry_id, "") if person.answers_ministry_form else "", person.note,
                     "; ".join(p["message"] for p in row_problems(person) if p.get("level") == "error")])
    status = LIST_STATUS_LABELS[ListStatus(rlist.status)]
    return spreadsheet_exports.export_rows(
        headers, rows, sheet_title="Danh sách",
        title=f"Danh sách đối tượng khảo sát: {province.name} ({status})")


def unread_ministry_notices(session: Session) -> list[MinistryNotice]:
    """Messages to the ministry not yet read, newest first."""
    return list(session.exec(select(MinistryNotice).where(MinistryNotice.read_at.is_(None))
                             .order_by(MinistryNotice.created_at.desc()).limit(50)))


def mark_ministry_notices_read(session: Session) -> None:
    session.exec(update(MinistryNotice).where(MinistryNotice.read_at.is_(None)).values(read_at=utcnow()))
    session.commit()

