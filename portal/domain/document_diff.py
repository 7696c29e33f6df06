"""The difference between two versions of a document, in Vietnamese words, one change a line.

"Câu 5: sửa nội dung “…” → “…”", "Câu 5: thêm phương án “…”", "Tiêu chí thành phần 2.1.3: điểm tối đa 1 → 1,5".
Questions are numbered as the respondent reads them (across the form's sections, in the newer version; a
question taken out keeps its number in the older one) and matched between versions by their id; framework parts
by their code. Used for the versions page ("So sánh hai phiên bản") and for the audit entry of a correction.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from portal.domain import framework as frameworks
from portal.domain import questionnaires as q
from portal.domain.framework import Framework, format_points

QUOTE_LIMIT = 120  # a long wording is cut in the sentence; the versions themselves stay downloadable


def quote(text: str) -> str:
    """Text in Vietnamese quotes, cut to QUOTE_LIMIT characters."""
    text = " ".join(text.split())
    return f"“{text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT - 1] + '…'}”"


def _points(value: float | None) -> str:
    return "không tính điểm" if value is None else format_points(value)


def moved(before: Sequence[str], after: Sequence[str]) -> list[str]:
    """Of the keys in both sequences, those whose place among the others changed (the fewest that explain it)."""
    common = set(before) & set(after)
    old = [key for key in before if key in common]
    new = [key for key in after if key in common]
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    kept = {key for block in matcher.get_matching_blocks() for key in new[block.b:block.b + block.size]}
    return [key for key in new if key not in kept]


# ---------------------------------------------------------------- questionnaires

_QUESTION_FIELDS = (
    ("min", "giá trị nhỏ nhất"), ("max", "giá trị lớn nhất"), ("max_length", "số ký tự tối đa"),
    ("min_choices", "số phương án chọn ít nhất"), ("max_choices", "số phương án chọn nhiều nhất"),
)


def _value(value: object) -> str:
    if value is None:
        return "không giới hạn"
    if isinstance(value, bool):
        return "có" if value else "không"
    if isinstance(value, int | float):
        return format_points(value)
    return quote(str(value))


def questionnaire_changes(old: q.Questionnaire, new: q.Questionnaire) -> list[str]:
    """What changed from `old` to `new`, one sentence a change; [] when they say the same."""
    changes: list[str] = []
    if old.title != new.title:
        changes.append(f"Bộ phiếu: sửa tiêu đề {quote(old.title)} → {quote(new.title)}")
    if old.is_sample != new.is_sample:
        changes.append("Bộ phiếu: " + ("đánh dấu là phiếu mẫu" if new.is_sample else "bỏ đánh dấu phiếu mẫu"))
    several = len({f.code for f in old.forms} | {f.code for f in new.forms}) > 1
    old_forms = {f.code: f for f in old.forms}
    for form in new.forms:
        # Forms are named for people; the key in the file tells apart the set's several locality forms.
        prefix = f"{_form_label(form)} › " if several else ""
        before = old_forms.get(form.code)
        if before is None:
            changes.append(f"Thêm phiếu {_form_label(form)}: {quote(form.title)}, "
                           f"{len(form.questions)} câu hỏi")
            continue
        changes.extend(prefix + change for change in _form_changes(before, form))
    new_codes = {f.code for f in new.forms}
    changes.extend(f"Bỏ phiếu {_form_label(f)}: {quote(f.title)}" for f in old.forms if f.code not in new_codes)
    return changes


def _form_label(form: q.FormDef) -> str:
    return f"{form.name} (Mã trong tệp: {form.code})"


def _form_changes(old: q.FormDef, new: q.FormDef) -> list[str]:
    changes: list[str] = []
    if old.title != new.title:
        changes.append(f"sửa tiêu đề phiếu {quote(old.title)} → {quote(new.title)}")
    if old.intro != new.intro:
        changes.append("sửa phần giới thiệu của phiếu")
    if old.groups != new.groups:
        changes.append(f"nhóm trả lời {', '.join(old.groups)} → {', '.join(new.groups)}")
    if old.minutes != new.minutes:
        changes.append(f"thời gian trả lời {old.minutes} → {new.minutes} phút")
    old_sections = {s.id: s for s in old.sections}
    for section in new.sections:
        before = old_sections.get(section.id)
        if before is None:
            changes.append(f"thêm phần {quote(section.title)}")
        elif before.title != section.title:
            changes.append(f"sửa tên phần {quote(before.title)} → {quote(section.title)}")
    changes.extend(f"bỏ phần {quote(s.title)}" for s in old.sections if s.id not in {x.id for x in new.sections})
    old_numbers = {question.id: n for n, question in enumerate(old.questions, start=1)}
    new_numbers = {question.id: n for n, question in enumerate(new.questions, start=1)}
    old_questions = {question.id: question for question in old.questions}
    for question in new.questions:
        number = new_numbers[question.id]
        before = old_questions.get(question.id)
        if before is None:
            changes.append(f"Câu {number}: thêm câu hỏi {quote(question.text)}")
            continue
        changes.extend(f"Câu {number}: {change}" for change in _question_changes(before, question))
    for key in moved([x.id for x in old.questions], [x.id for x in new.questions]):
        changes.append(f"Câu {new_numbers[key]}: chuyển chỗ (trước là câu {old_numbers[key]}) "
                       f"{quote(old_questions[key].text)}")
    for question in old.questions:
        if question.id not in new_numbers:
            changes.append(f"Câu {old_numbers[question.id]} (phiên bản cũ): bỏ câu hỏi {quote(question.text)}")
    return changes


def _question_changes(old: q.Question, new: q.Question) -> list[str]:
    changes: list[str] = []
    if old.text != new.text:
        changes.append(f"sửa nội dung {quote(old.text)} → {quote(new.text)}")
    if old.help != new.help:
        changes.append(f"sửa hướng dẫn {quote(old.help) if old.help else '(trống)'} → "
                       f"{quote(new.help) if new.help else '(trống)'}")
    if old.kind != new.kind:
        changes.append(f"đổi loại câu hỏi {q.KIND_LABELS[old.kind]} → {q.KIND_LABELS[new.kind]}")
    if old.required != new.required:
        changes.append("chuyển thành câu bắt buộc" if new.required else "chuyển thành câu không bắt buộc")
    if old.integer != new.integer and new.kind == "number":
        changes.append("chỉ nhận số nguyên" if new.integer else "nhận cả số thập phân")
    for name, label in _QUESTION_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if before != after and (before is not None or after is not None):
            changes.append(f"{label} {_value(before)} → {_value(after)}")
    changes.extend(_option_changes(old.options, new.options))
    return changes


def _option_changes(old: Iterable[q.Option], new: Iterable[q.Option]) -> list[str]:
    changes: list[str] = []
    old_options = {o.value: o for o in old}
    new_list = list(new)
    for option in new_list:
        before = old_options.get(option.value)
        if before is None:
            score = f" (điểm {_points(option.score)})" if option.score is not None else " (không tính điểm)"
            changes.append(f"thêm phương án {quote(option.label)}{score}")
            continue
        if before.label != option.label:
            changes.append(f"sửa phương án {quote(before.label)} → {quote(option.label)}")
        if before.score != option.score:
            changes.append(f"điểm của phương án {quote(option.label)} {_points(before.score)} → "
                           f"{_points(option.score)}")
    new_values = {o.value for o in new_list}
    changes.extend(f"bỏ phương án {quote(o.label)}" for o in old_options.values() if o.value not in new_values)
    for value in moved(list(old_options), [o.value for o in new_list]):
        changes.append(f"chuyển chỗ phương án {quote(next(o.label for o in new_list if o.value == value))}")
    return changes


# ---------------------------------------------------------------- frameworks

_LINE_FIELDS = (
    ("evidence", "tài liệu kiểm chứng"), ("guide", "hướng dẫn"), ("source", "nguồn điểm"),
    ("not_applicable", "cho phép “không áp dụng”"), ("numerator", "tử số"), ("denominator", "mẫu số"),
    ("per_case", "điểm trừ mỗi trường hợp"), ("cases_label", "tên số trường hợp"),
)


def framework_changes(old: Framework, new: Framework) -> list[str]:
    """What changed from `old` to `new`, one sentence a change; [] when they say the same."""
    changes: list[str] = []
    if old.title != new.title:
        changes.append(f"Bộ tiêu chí: sửa tiêu đề {quote(old.title)} → {quote(new.title)}")
    if old.sample != new.sample:
        changes.append("Bộ tiêu chí: " + ("đánh dấu là bộ mẫu" if new.sample else "bỏ đánh dấu bộ mẫu"))
    if old.total != new.total:
        changes.append(f"Bộ tiêu chí: tổng điểm ghi {_points_or_none(old.total)} → {_points_or_none(new.total)}")
    if old.maximum != new.maximum:
        changes.append(f"Bộ tiêu chí: tổng điểm tối đa {format_points(old.maximum)} → "
                       f"{format_points(new.maximum)}")
    changes += _parts("Lĩnh vực", old.areas, new.areas, _area_changes)
    return changes


def _points_or_none(value: float | None) -> str:
    return "(không ghi)" if value is None else format_points(value)


def _parts(name: str, old: list, new: list, inner) -> list[str]:
    """Changes among the areas, criteria or lines of one parent, matched by code."""
    changes: list[str] = []
    old_parts = {part.code: part for part in old}
    for part in new:
        before = old_parts.get(part.code)
        if before is None:
            changes.append(f"Thêm {name.lower()} {part.code}: {quote(part.title)}")
            continue
        if before.title != part.title:
            changes.append(f"{name} {part.code}: sửa nội dung {quote(before.title)} → {quote(part.title)}")
        changes += inner(before, part)
    new_codes = {part.code for part in new}
    changes += [f"Bỏ {name.lower()} {part.code}: {quote(part.title)}" for part in old if part.code not in new_codes]
    changes += [f"{name} {code}: chuyển chỗ" for code in moved([p.code for p in old], [p.code for p in new])]
    return changes


def _area_changes(old: frameworks.Area, new: frameworks.Area) -> list[str]:
    changes = _maximum_change("Lĩnh vực", old, new)
    return changes + _parts("Tiêu chí", old.criteria, new.criteria, _criterion_changes)


def _criterion_changes(old: frameworks.Criterion, new: frameworks.Criterion) -> list[str]:
    changes = _maximum_change("Tiêu chí", old, new)
    return changes + _parts("Tiêu chí thành phần", old.subcriteria, new.subcriteria, _line_changes)


def _maximum_change(name: str, old, new) -> list[str]:
    if old.maximum == new.maximum:
        return []
    return [f"{name} {new.code}: điểm tối đa {format_points(old.maximum)} → {format_points(new.maximum)}"]


def _line_changes(old: frameworks.Line, new: frameworks.Line) -> list[str]:
    where = f"Tiêu chí thành phần {new.code}"
    changes: list[str] = []
    if old.points != new.points:
        changes.append(f"{where}: điểm tối đa {format_points(old.points)} → {format_points(new.points)}")
    if old.kind != new.kind:
        changes.append(f"{where}: cách chấm {frameworks.KIND_LABELS[old.kind]} → {frameworks.KIND_LABELS[new.kind]}")
    for name, label in _LINE_FIELDS:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            changes.append(f"{where}: {label} {_line_value(before)} → {_line_value(after)}")
    if old.bands != new.bands:
        changes.append(f"{where}: sửa các mức tỷ lệ")
    if old.levels != new.levels:
        changes.append(f"{where}: sửa các mức đánh giá")
    return changes


def _line_value(value: object) -> str:
    if value is None or value == "":
        return "(trống)"
    if value in frameworks.SOURCE_LABELS:
        return frameworks.SOURCE_LABELS[value]
    return _value(value)
