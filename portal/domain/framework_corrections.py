"""Corrections the ministry makes to the criteria framework in the browser before a province's first score.

The wording and maximum points of the lines (tiêu chí thành phần), and the total the file declares, all on one
form, so that points can move from one line to another in one version without the total failing in between.
The points a criterion or an area declares follow its lines; the declared total does not: it is the ministry's
own figure, checked as on import. Each correction that changes something makes a new version
(document_corrections.correct).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlmodel import Session

from portal.domain import document_corrections, document_diff, document_versions, framework
from portal.domain.framework import Framework, FrameworkError
from portal.models import Campaign, FrameworkVersion, User

FROZEN_MESSAGE = ("Bộ tiêu chí đã được khóa (đã có tỉnh chấm điểm theo bộ tiêu chí này) nên không thể sửa nữa.")

Content = dict[str, Any]  # a framework as plain values, with the file's keys


def content_of(version: FrameworkVersion) -> Content:
    """The stored version as plain values."""
    return json.loads(version.document)


def check(content: Content) -> Content:
    """The import's checks on corrected plain values; FrameworkError listing every problem, by its place."""
    try:
        checked = framework.check_content(content, lambda loc: None)  # no line of a file to name
    except FrameworkError as exc:
        problems = [problem.replace("Phần đầu tệp", "Bộ tiêu chí", 1) for problem in exc.problems]
        raise FrameworkError(f"Chưa lưu: bộ tiêu chí sau khi sửa có {len(problems)} lỗi. Sửa lại rồi lưu:",
                             problems) from None
    return json.loads(framework.to_document(checked))


KIND = document_corrections.Kind(
    model=FrameworkVersion, load=content_of, check=check, to_document=lambda c: framework.to_document(
        Framework.model_validate(c)),
    title=lambda c: c["title"], is_sample=lambda c: bool(c.get("sample")),
    describe=lambda old, new: document_diff.framework_changes(Framework.model_validate(old),
                                                              Framework.model_validate(new)),
    error=FrameworkError, noun="bộ tiêu chí", frozen_message=FROZEN_MESSAGE, audit_action="Sửa bộ tiêu chí tự đánh giá")

def parse_points(text: str, where: str) -> float | int | None:
    """Points as typed ("1", "1,5" or "1.5"); None for an empty field."""
    try:
        return document_corrections.parse_number(text)
    except ValueError:
        raise FrameworkError(f"{where}: điểm phải là một số không âm, ví dụ 1 hoặc 1,5 (đang ghi “{text.strip()}”)."
                             ) from None


def _lines(content: Content):
    for area in content["areas"]:
        for criterion in area["criteria"]:
            yield from criterion["subcriteria"]


def edits_of(base: Content, fields: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """What the posted form changes against the version it was made on: per line code the keys changed, and
    the framework's own keys changed (the declared total).

    Fields: `ten_<code>` (a line's wording), `diem_<code>` (its maximum), `tong` (the declared total; empty:
    none). Only what differs from `base` counts, so a colleague's correction of another line meanwhile stays.
    """
    lines: dict[str, dict[str, Any]] = {}
    for line in _lines(base):
        code = line["code"]
        where = f"Tiêu chí thành phần {code}"
        changed: dict[str, Any] = {}
        title = fields.get(f"ten_{code}")
        if title is not None and " ".join(title.split()) != line["title"]:
            changed["title"] = " ".join(title.split())
        points_text = fields.get(f"diem_{code}")
        if points_text is not None:
            points = parse_points(points_text, where)
            if points is None:
                raise FrameworkError(f"{where}: cần ghi điểm tối đa.")
            if points != line["points"]:
                changed["points"] = points
        if changed:
            lines[code] = changed
    top: dict[str, Any] = {}
    total_text = fields.get("tong")
    if total_text is not None:
        total = parse_points(total_text, "Tổng điểm ghi trong bộ tiêu chí")
        if total != base.get("total"):
            top["total"] = total
    return lines, top


def _apply(content: Content, lines: dict[str, dict[str, Any]], top: dict[str, Any]) -> Content:
    """The content with the edits made, and the points its criteria and areas declare following their lines."""
    result = json.loads(json.dumps(content))
    for key, value in top.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    for area in result["areas"]:
        for criterion in area["criteria"]:
            for line in criterion["subcriteria"]:
                line.update(lines.get(line["code"], {}))
            if "points" in criterion and any(line["code"] in lines for line in criterion["subcriteria"]):
                criterion["points"] = _sum(line["points"] for line in criterion["subcriteria"]
                                           if line["kind"] not in framework.EXTRA_KINDS)
        if "points" in area and any(line["code"] in lines for c in area["criteria"] for line in c["subcriteria"]):
            area["points"] = _sum(c.get("points") if "points" in c else _sum(
                line["points"] for line in c["subcriteria"] if line["kind"] not in framework.EXTRA_KINDS)
                for c in area["criteria"])
    return result


def _sum(values) -> float:
    return float(sum((Fraction(str(v)) for v in values), Fraction(0)))


def correct_lines(session: Session, user: User | None, campaign: Campaign, base_number: int | None,
                  fields: Mapping[str, str], *, now: datetime | None = None
                  ) -> document_corrections.Outcome[FrameworkVersion]:
    """Correct the lines' wording and maximum points and the declared total from the posted form."""
    current = document_versions.current_version(session, FrameworkVersion, campaign)
    base_row = (document_versions.version_by_number(session, FrameworkVersion, campaign, base_number)
                if base_number else None)
    base_row = base_row or current
    if base_row is None:
        raise FrameworkError("Chưa có bộ tiêu chí để sửa.")
    lines, top = edits_of(content_of(base_row), fields)

    def touched(content: Content) -> Any:
        found = {line["code"]: (line["title"], line["points"]) for line in _lines(content) if line["code"] in lines}
        return found, {key: content.get(key) for key in top}

    return document_corrections.correct(session, KIND, user, campaign, base_row.version,
                                        lambda content: _apply(content, lines, top), touched, now=now)
