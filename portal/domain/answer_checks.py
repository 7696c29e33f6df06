"""Checking a respondent's answers against the form they answer: clean values and Vietnamese errors.

The respondent's pages (through `answers`) call `check_answers` when a draft is saved and when the form is
sent; the form itself (`questionnaires.FormDef`) is the checked structure of the questionnaire file.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping

from portal.domain.questionnaires import DEFAULT_TEXT_LENGTH, MAX_OPTIONS, FormDef, Question, clean_block, fmt
from portal.domain.text import clean


def check_answers(
    form: FormDef, raw: Mapping[str, list[str]], *, final: bool
) -> tuple[dict[str, object], dict[str, str]]:
    """Clean values and Vietnamese errors, by question id, from the posted form.

    `raw` maps a question id to the strings submitted under that name (what
    `request.form.to_dict(flat=False)` gives); other names are ignored. Values:
    single → the option value, multiple → list of values in the form's order,
    number → int or float, text → cleaned text. An invalid value is an error and
    is dropped. A missing required answer is an error only when `final` (sending
    the form), not when saving a draft.
    """
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for question in form.questions:
        submitted = raw.get(question.id) or []
        if isinstance(submitted, str):
            submitted = [submitted]
        entries = [str(v) for v in submitted if v is not None and str(v).strip() != ""]
        value, error = _check_one(question, entries, final)
        if error:
            errors[question.id] = error
        elif value is not None:
            values[question.id] = value
    return values, errors


def _check_one(q: Question, entries: list[str], final: bool) -> tuple[object | None, str | None]:
    missing = final and q.required
    if q.kind == "single":
        if not entries:
            return None, "Vui lòng chọn một phương án." if missing else None
        if len(entries) > 1:
            return None, "Chỉ được chọn một phương án."
        value = entries[0].strip()
        if value not in {o.value for o in q.options}:
            return None, "Phương án không hợp lệ."
        return value, None
    if q.kind == "multiple":
        at_least = q.min_choices or 1
        if not entries:
            if not missing:
                return None, None
            return None, ("Vui lòng chọn ít nhất một phương án." if at_least == 1
                          else f"Vui lòng chọn ít nhất {at_least} phương án.")
        chosen = {v.strip() for v in entries}
        if len(entries) > MAX_OPTIONS or not chosen <= {o.value for o in q.options}:
            return None, "Phương án không hợp lệ."
        ordered = [o.value for o in q.options if o.value in chosen]
        if q.max_choices is not None and len(ordered) > q.max_choices:
            return None, f"Chỉ được chọn tối đa {q.max_choices} phương án."
        if final and len(ordered) < at_least:
            return ordered, f"Vui lòng chọn ít nhất {at_least} phương án."
        return ordered, None
    if q.kind == "number":
        if not entries:
            return None, "Vui lòng nhập một số." if missing else None
        if len(entries) > 1:
            return None, "Câu trả lời không hợp lệ."
        number = _parse_number(entries[0])
        if number is None:
            return None, "Giá trị phải là một số."
        if q.integer and not isinstance(number, int):
            # "1.000" is a thousand to some and one to others: a whole number is typed with digits only.
            return None, "Vui lòng nhập số nguyên (chỉ gồm chữ số, không dùng dấu chấm hay dấu phẩy)."
        if (q.min is not None and number < q.min) or (q.max is not None and number > q.max):
            return None, _range_message(q)
        return (int(number) if q.integer or float(number).is_integer() else number), None
    # text
    if len(entries) > 1:
        return None, "Câu trả lời không hợp lệ."
    text = _clean_answer(entries[0], q.multiline) if entries else ""
    if not text:
        return None, "Vui lòng nhập câu trả lời." if missing else None
    limit = q.max_length or DEFAULT_TEXT_LENGTH
    if len(text) > limit:
        return None, f"Câu trả lời dài quá {limit} ký tự (hiện có {len(text)} ký tự)."
    return text, None


_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d{1,3})?")


def _parse_number(text: str) -> int | float | None:
    """A number as typed: "12", "-3", "2,5" or "2.5" (the comma is the Vietnamese decimal mark)."""
    compact = text.strip().replace(" ", "").replace("\u00a0", "")
    if len(compact) > 30 or not _NUMBER.fullmatch(compact):
        return None
    compact = compact.replace(",", ".")
    if re.fullmatch(r"[+-]?\d+", compact):
        return int(compact)
    number = float(compact)
    return number if math.isfinite(number) else None


def _range_message(q: Question) -> str:
    if q.min is not None and q.max is not None:
        return f"Giá trị phải từ {fmt(q.min)} đến {fmt(q.max)}."
    if q.min is not None:
        return f"Giá trị phải từ {fmt(q.min)} trở lên."
    return f"Giá trị không được lớn hơn {fmt(q.max)}."


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b\ufeff]")


def _clean_answer(text: str, multiline: bool) -> str:
    if not multiline:
        return clean(_CONTROL.sub(" ", text))
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n"))
    return clean_block(text)
