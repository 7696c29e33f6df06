"""The survey-results exports: the parent ministries' results (.xlsx), and the anonymised analysis data (.xlsx, CSV).

The analysis export has one row per counted form (submitted, not voided) with the province, the respondent group,
the parent ministry a "bộ chủ quản" form evaluates, the questionnaire version and the answers, one column per
question ("DP-HDND.c2_1") holding the value as stored (the option's value of the questionnaire file; a multiple
choice's values joined with "; "). Nothing else: no name, email, device, invitation, response key, answer id and no
time at all (the day would add nothing the analysis needs and something to match on). The rows are in random order:
the forms' ids are shuffled with `secrets.SystemRandom`, then read back in batches in that order, so neither the
submission order nor any stored order reaches the file, and no more than one batch of answers is in memory. The
files are written to a temporary file, never built whole in memory (openpyxl's write-only mode; csv), and
the caller streams that file.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Iterator
from random import Random
from typing import IO, Any

from sqlmodel import Session, col, select

from portal.domain import questionnaires, units
from portal.domain.integrity_decisions import counted_answers_query
from portal.domain.questionnaires import Question
from portal.domain.spreadsheet_exports import export_cell, export_rows, export_value, neutralise_formula
from portal.domain.survey_report import TOO_FEW, MinistryResult, version_labels
from portal.domain.survey_results import answer_versions
from portal.models import Answer, Campaign, Ministry, RespondentGroup

BATCH = 500
FIXED_HEADERS = ["Tỉnh, thành phố", "Nhóm đối tượng", "Bộ chủ quản được đánh giá", "Phiếu", "Phiên bản bộ phiếu"]
# The columns the analysis export must never have: what could lead back to a person or to the order of submission.
FORBIDDEN = ("họ tên", "email", "thiết bị", "mã phản hồi", "mã phiếu trả lời", "lời mời", "thời điểm", "giờ")


# ---------------------------------------------------------------- the parent ministries


MINISTRY_HEADERS = ["Bộ chủ quản", "Số phiếu", "Mã câu hỏi", "Câu hỏi", "Phương án", "Điểm phương án",
                    "Số câu trả lời", "Tỷ lệ (%)", "Số câu trả lời có điểm", "Điểm trung bình"]


def ministry_workbook(results: list[MinistryResult], campaign: Campaign, min_answers: int) -> bytes:
    """The ministries' results as one table: a row per ministry, question and option (a small file)."""
    rows: list[list[object]] = []
    for ministry in results:
        if ministry.too_few:
            rows.append([ministry.name, ministry.forms, "", TOO_FEW, "", "", "", "", "", ""])
            continue
        for question in ministry.questions:
            if question.too_few:
                rows.append([ministry.name, ministry.forms, question.question.id, question.question.text, TOO_FEW,
                             "", "", "", "", ""])
                continue
            mean = round(question.mean, 2) if question.mean is not None else ""
            for option in question.options:
                rows.append([ministry.name, ministry.forms, question.question.id, question.question.text,
                             option.label, option.score if option.score is not None else "", option.count,
                             round(option.percent, 1), question.scored, mean])
    title = (f"Kết quả phiếu đánh giá bộ chủ quản: {campaign.name} (chỉ phiếu đã nộp, không bị hủy; bộ có dưới "
             f"{min_answers} phiếu không báo cáo)")
    return export_rows(MINISTRY_HEADERS, rows, sheet_title="Bộ chủ quản", title=title)


# ---------------------------------------------------------------- the anonymised analysis data


def analysis_columns(session: Session, campaign: Campaign) -> list[tuple[str, Question]]:
    """(form code, question) of every question of the forms answered or current, in the questionnaire's order."""
    sources = list(answer_versions(session, campaign.id).values())
    current = questionnaires.current_version(session, campaign)
    if current is not None:
        sources.insert(0, questionnaires.load(current))
    columns: dict[tuple[str, str], tuple[str, Question]] = {}
    for source in sources:
        for form in source.forms:
            for question in form.questions:
                columns.setdefault((form.code, question.id), (form.code, question))
    return list(columns.values())


def analysis_headers(columns: list[tuple[str, Question]]) -> list[str]:
    return [*FIXED_HEADERS, *(f"{code}.{question.id}" for code, question in columns)]


def shuffled_ids(session: Session, campaign_id: int, secret: str, rng: Random | None = None) -> list[str]:
    """The ids of the counted forms in random order (ids only: 50,000 of them are a few megabytes)."""
    query = counted_answers_query(session, campaign_id, secret)
    ids = list(session.exec(select(Answer.id).where(query.whereclause)))
    (rng or secrets.SystemRandom()).shuffle(ids)
    return ids


def analysis_rows(session: Session, campaign: Campaign, secret: str, columns: list[tuple[str, Question]], *,
                  rng: Random | None = None, batch: int = BATCH) -> Iterator[list[Any]]:
    """One row per counted form, in random order, read `batch` forms at a time."""
    provinces = {row.province_id: row.name for row in units.map_rows(session, campaign)}
    groups = {g.code: g.name for g in session.exec(select(RespondentGroup)
                                                    .where(RespondentGroup.campaign_id == campaign.id))}
    ministries = {m.code: m.name for m in session.exec(select(Ministry))}
    versions = version_labels(session, campaign.id)
    ids = shuffled_ids(session, campaign.id, secret, rng)
    for start in range(0, len(ids), batch):
        chunk = ids[start:start + batch]
        found = {a.id: a for a in session.exec(select(Answer).where(col(Answer.id).in_(chunk)))}
        for answer_id in chunk:
            answer = found.get(answer_id)
            if answer is None:  # gone between the two reads (a test database reset): nothing to write
                continue
            values = json.loads(answer.answers or "{}")
            row: list[Any] = [provinces.get(answer.province_id, str(answer.province_id)),
                              groups.get(answer.group_code, answer.group_code),
                              ministries.get(answer.ministry_code or "", answer.ministry_code or ""),
                              answer.form_code, versions.get(answer.questionnaire_version_id, "")]
            row += [_value(values.get(question.id)) if code == answer.form_code else None
                    for code, question in columns]
            yield row
        for answer in found.values():  # one batch in memory at a time
            session.expunge(answer)


def _value(value: Any) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, list):
        return "; ".join(str(item) for item in value)
    if isinstance(value, bool):
        return str(value)
    return value


def write_analysis_csv(session: Session, campaign: Campaign, secret: str, out: IO[bytes], *,
                       rng: Random | None = None) -> int:
    """The analysis data as CSV (UTF-8 with a BOM, so Excel reads the diacritics) into `out`; the rows written."""
    columns = analysis_columns(session, campaign)
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(analysis_headers(columns))
    count = 0
    for row in analysis_rows(session, campaign, secret, columns, rng=rng):
        writer.writerow(["" if v is None else neutralise_formula(v) if isinstance(v, str) else str(v) for v in row])
        count += 1
    text.flush()
    text.detach()
    return count


def write_analysis_xlsx(session: Session, campaign: Campaign, secret: str, out: IO[bytes], *,
                        rng: Random | None = None) -> int:
    """The analysis data as .xlsx (openpyxl write-only: each row is written as it comes) into `out`."""
    columns = analysis_columns(session, campaign)
    from openpyxl import Workbook  # not at import: a web process loads openpyxl only when a request writes a workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Dữ liệu phiếu")
    sheet.freeze_panes = "A2"
    header = []
    for name in analysis_headers(columns):
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    count = 0
    for row in analysis_rows(session, campaign, secret, columns, rng=rng):
        sheet.append([export_cell(sheet, export_value(value)) for value in row])
        count += 1
    guide = workbook.create_sheet("Giải thích")
    guide.append(["Mỗi dòng là một phiếu đã nộp và không bị hủy, theo thứ tự ngẫu nhiên. Mỗi cột câu hỏi ghi "
                  "“mã phiếu.mã câu hỏi” và giá trị phương án như trong tệp bộ phiếu; câu chọn nhiều ghi các giá trị "
                  "cách nhau bằng “; ”. Tệp không có tên, email, thiết bị, mã liên kết hay thời điểm trả lời."])
    workbook.save(out)
    return count
