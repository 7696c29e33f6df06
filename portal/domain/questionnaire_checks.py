"""The checks of a questionnaire set read into plain values (from its YAML file or a filled workbook template):
every problem found, each with its place, in Vietnamese, then the checked structure (portal/domain/questionnaires.py).
"""

from __future__ import annotations

import difflib
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import yaml

from portal.domain.questionnaires import (
    _CODE,
    _ID,
    _RESERVED_IDS,
    _VALUE,
    DEFAULT_GROUPS,
    DEFAULT_MINISTRY_GROUPS,
    DEFAULT_MINUTES,
    DEFAULT_TEXT_LENGTH,
    FORMAT_VERSION,
    KINDS,
    MAX_FORMS,
    MAX_OPTIONS,
    MAX_QUESTIONS,
    MAX_SECTIONS,
    MAX_TEXT_LENGTH,
    TARGET_LABELS,
    TARGETS,
    FormDef,
    Option,
    Question,
    Questionnaire,
    QuestionnaireError,
    Section,
    clean_block,
    fmt,
)
from portal.domain.text import clean


def check_content(
    content: Any,
    *,
    known_groups: Iterable[str] = DEFAULT_GROUPS,
    ministry_groups: Iterable[str] | None = None,
    locality_groups: Iterable[str] | None = None,
    root: yaml.Node | None = None,
    locate: Callable[[NodePath], str | None] | None = None,
) -> Questionnaire:
    """Check a questionnaire already read into plain values (what `yaml.safe_load` gives, or what a workbook
    reads into the same shape); raises QuestionnaireError listing every problem.

    A problem names its place with `locate(path)` when given (a workbook's sheet, row and column), else
    with the line of the YAML node `root` holds at that path.
    """
    known = tuple(known_groups)
    ministry = tuple(DEFAULT_MINISTRY_GROUPS if ministry_groups is None else ministry_groups)
    locality = known if locality_groups is None else tuple(locality_groups)
    return _Checker(root, known, ministry, locality, locate).questionnaire(content)


_TOP_KEYS = ("format", "title", "label", "sample", "scales", "forms")
_FORM_KEYS = ("code", "title", "target", "groups", "intro", "minutes", "sections")
_SECTION_KEYS = ("id", "title", "intro", "questions")
_QUESTION_KEYS = ("id", "kind", "text", "required", "help", "options", "scale", "min", "max", "integer",
                  "max_length", "min_choices", "max_choices")
_OPTION_KEYS = ("value", "label", "score")
_KEYS_BY_KIND = {
    "single": {"options", "scale"},
    "multiple": {"options", "scale", "min_choices", "max_choices"},
    "number": {"min", "max", "integer"},
    "text": {"max_length"},
}

_KIND_SPECIFIC_KEYS = set().union(*_KEYS_BY_KIND.values())
_MISSING = object()
NodePath = tuple[str | int, ...]


MAX_PROBLEMS = 100


class _TooManyProblems(Exception):
    """Raised inside the checker once MAX_PROBLEMS are found: the rest would not help anyone."""


class _Checker:
    """Walks the loaded file, collecting every problem with its place, and builds the dataclasses."""

    def __init__(self, root: yaml.Node | None, known_groups: tuple[str, ...], ministry_groups: tuple[str, ...],
                 locality_groups: tuple[str, ...] | None = None,
                 locate: Callable[[NodePath], str | None] | None = None):
        self.root = root
        self.locate = locate
        self.known_groups = known_groups
        self.ministry_groups = tuple(g for g in ministry_groups if g in known_groups)
        self.locality_groups = known_groups if locality_groups is None else tuple(
            g for g in locality_groups if g in known_groups)
        self.problems: list[str] = []
        self.scales: dict[str, tuple[Option, ...] | None] = {}

    # -- reporting

    def line(self, path: NodePath) -> int | None:
        """The line of the deepest node of `path` that can be found (aliases and merges may hide the rest)."""
        node, found = self.root, self.root
        for step in path:
            child = None
            if isinstance(node, yaml.MappingNode) and isinstance(step, str):
                child = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == step), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
                child = node.value[step]
            if child is None:
                break
            node = found = child
        return found.start_mark.line + 1 if found is not None else None

    def place(self, path: NodePath) -> str | None:
        """Where `path` is, as people find it: "dòng 12" of a YAML file, or a workbook's sheet, row and column."""
        if self.locate is not None:
            return self.locate(path)
        line = self.line(path)
        return f"dòng {line}" if line else None

    def report(self, where: str, path: NodePath | None, message: str) -> None:
        place = self.place(path) if path is not None else None
        if where:
            self.problems.append(f"{where} ({place}): {message}" if place else f"{where}: {message}")
        else:
            self.problems.append(f"{place[:1].upper()}{place[1:]}: {message}" if place else
                                 message[:1].upper() + message[1:])
        if len(self.problems) >= MAX_PROBLEMS:
            raise _TooManyProblems

    def duplicate_keys(self) -> None:
        seen: set[int] = set()
        stack = [self.root] if self.root is not None else []
        while stack:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            if isinstance(node, yaml.MappingNode):
                lines: dict[str, int] = {}
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode):
                        line = key.start_mark.line + 1
                        if key.value in lines and key.value != "<<":
                            self.problems.append(f"Dòng {line}: khóa “{key.value}” đã có ở dòng {lines[key.value]} "
                                                 "trong cùng một mục; hãy giữ một.")
                        lines.setdefault(key.value, line)
                    stack.append(value)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)

    # -- reading values

    def mapping(self, value: Any, where: str, path: NodePath | None, what: str) -> dict | None:
        if not isinstance(value, dict):
            self.report(where, path, f"{what} phải là một bảng khóa (các dòng “khóa: giá trị”), "
                                     f"không phải {_describe(value)}.")
            return None
        return value

    def unknown_keys(self, item: dict, where: str, path: NodePath, allowed: tuple[str, ...]) -> None:
        for key in item:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), allowed, n=1)
                suggestion = f" Có phải là “{hint[0]}”?" if hint else f" Các khóa được dùng: {', '.join(allowed)}."
                self.report(where, (*path, str(key)), f"khóa “{key}” không được hỗ trợ.{suggestion}")

    def text(self, item: dict, key: str, where: str, path: NodePath, *, required: bool, block: bool = False) -> str:
        value = item.get(key, _MISSING)
        if value is _MISSING or value is None or value == "":
            if required:
                self.report(where, (*path, key), f"thiếu “{key}” ({_KEY_MEANINGS.get(key, key)}).")
            return ""
        if not isinstance(value, str):
            self.report(where, (*path, key), f"“{key}” phải là văn bản, không phải {_describe(value)} (đặt trong "
                                             "dấu ngoặc kép nếu là số hoặc các từ yes/no/on/off).")
            return ""
        cleaned = clean_block(value) if block else clean(value)
        if required and not cleaned:
            self.report(where, (*path, key), f"thiếu “{key}” ({_KEY_MEANINGS.get(key, key)}).")
        return cleaned

    def code(self, item: dict, key: str, where: str, path: NodePath, pattern: re.Pattern, what: str) -> str:
        value = item.get(key, _MISSING)
        if value is _MISSING or value is None or value == "":
            self.report(where, (*path, key), f"thiếu “{key}” ({what}).")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            self.report(where, (*path, key), f"“{key}” phải là một mã ngắn, không phải {_describe(value)}.")
            return ""
        text = str(value).strip()
        if pattern is _ID and text in _RESERVED_IDS:
            self.report(where, (*path, key), f"“{key}” “{text}” trùng tên dành riêng cho trang trả lời phiếu "
                                             f"({', '.join(sorted(_RESERVED_IDS))}); hãy đặt mã khác.")
            return ""
        if not pattern.fullmatch(text):
            rule = ("bắt đầu bằng chữ cái, chỉ gồm chữ cái không dấu, chữ số, “_”, “-”, “.”" if pattern is _ID
                    else "chỉ gồm chữ cái không dấu, chữ số, “_”, “-”")
            self.report(where, (*path, key), f"“{key}” “{text}” không hợp lệ: {rule}, tối đa 40 ký tự.")
            return ""
        return text

    def boolean(self, item: dict, key: str, where: str, path: NodePath, default: bool) -> bool:
        value = item.get(key, _MISSING)
        if value is _MISSING or value is None:
            return default
        if not isinstance(value, bool):
            self.report(where, (*path, key), f"“{key}” phải là true hoặc false, không phải “{value}”.")
            return default
        return value

    def number(self, item: dict, key: str, where: str, path: NodePath) -> float | None:
        value = item.get(key, _MISSING)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            self.report(where, (*path, key), f"“{key}” phải là một số, không phải “{value}”.")
            return None
        return value

    def whole(self, item: dict, key: str, where: str, path: NodePath, low: int, high: int) -> int | None:
        value = item.get(key, _MISSING)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.report(where, (*path, key), f"“{key}” phải là số nguyên từ {low} đến {high}, không phải “{value}”.")
            return None
        return value

    def items(self, item: dict, key: str, where: str, path: NodePath, limit: int, what: str) -> list:
        value = item.get(key, _MISSING)
        if value is _MISSING or value is None or value == []:
            self.report(where, (*path, key), f"thiếu “{key}” ({what}).")
            return []
        if not isinstance(value, list):
            self.report(where, (*path, key), f"“{key}” phải là một danh sách (các dòng bắt đầu bằng “- ”), "
                                             f"không phải {_describe(value)}.")
            return []
        if len(value) > limit:
            self.report(where, (*path, key), f"“{key}” có {len(value)} mục; tối đa {limit}.")
            return value[:limit]
        return value

    # -- the structure

    def questionnaire(self, content: Any) -> Questionnaire:
        try:
            return self._questionnaire(content)
        except _TooManyProblems:
            problems = [*self.problems, f"Đã dừng kiểm tra sau {MAX_PROBLEMS} lỗi; hãy sửa các lỗi trên rồi nhập lại."]
            raise QuestionnaireError(f"Tệp có hơn {MAX_PROBLEMS} lỗi nên bộ phiếu chưa được nhập. Lỗi đầu tiên: "
                                     f"{self.problems[0]}", problems) from None

    def _questionnaire(self, content: Any) -> Questionnaire:
        self.duplicate_keys()
        if content is None:
            raise QuestionnaireError("Tệp rỗng.")
        top = self.mapping(content, "", None, "Tệp")
        if top is None:
            raise QuestionnaireError(self.problems[-1] + " Tệp bộ phiếu bắt đầu bằng “title:” và “forms:” (xem tệp "
                                     "bộ phiếu mẫu).", self.problems)
        self.unknown_keys(top, "", (), _TOP_KEYS)
        fmt = top.get("format", FORMAT_VERSION)
        if fmt != FORMAT_VERSION:
            self.report("", ("format",), f"“format” phải là {FORMAT_VERSION} (phiên bản định dạng tệp), "
                                         f"không phải “{fmt}”.")
        title = self.text(top, "title", "", (), required=True)
        label = self.text(top, "label", "", (), required=False)
        is_sample = self.boolean(top, "sample", "", (), False)
        self.read_scales(top.get("scales"))
        forms: list[FormDef] = []
        codes: dict[str, int] = {}
        raw_forms = self.items(top, "forms", "", (), MAX_FORMS, "danh sách phiếu")
        for index, raw_form in enumerate(raw_forms):
            form = self.form(raw_form, index)
            if form is None:
                continue
            if form.code.casefold() in codes:
                self.report(f"Phiếu “{form.code}”", ("forms", index, "code"),
                            f"mã phiếu trùng với phiếu thứ {codes[form.code.casefold()] + 1}.")
                continue
            codes[form.code.casefold()] = index
            forms.append(form)
        if raw_forms and len(forms) == len(raw_forms):  # with a form unreadable, "no form for group X" is noise
            self.check_groups(forms)
        if self.problems:
            count = len(self.problems)
            summary = self.problems[0] if count == 1 else (
                f"Tệp có {count} lỗi nên bộ phiếu chưa được nhập. Lỗi đầu tiên: {self.problems[0]}")
            raise QuestionnaireError(summary, list(self.problems))
        return Questionnaire(title=title, label=label, is_sample=is_sample, forms=tuple(forms))

    def read_scales(self, scales: Any) -> None:
        if scales is None:
            return
        if not isinstance(scales, dict):
            self.report("", ("scales",), f"“scales” phải là một bảng khóa “tên thang đo: danh sách phương án”, "
                                         f"không phải {_describe(scales)}.")
            return
        for name, options in list(scales.items())[:MAX_FORMS * 2]:
            where = f"Thang đo “{name}”"
            if not isinstance(options, list):
                self.report(where, ("scales", str(name)), "phải là một danh sách phương án (value, label, score).")
                self.scales[str(name)] = None
                continue
            self.scales[str(name)] = self.options(options, where, ("scales", str(name)))

    def form(self, raw: Any, index: int) -> FormDef | None:
        path: NodePath = ("forms", index)
        first = f"Phiếu thứ {index + 1}"
        item = self.mapping(raw, first, path, "Phiếu")
        if item is None:
            return None
        code = self.code(item, "code", first, path, _CODE, "mã phiếu, ví dụ DP-HDND")
        where = f"Phiếu “{code}”" if code else first
        self.unknown_keys(item, where, path, _FORM_KEYS)
        title = self.text(item, "title", where, path, required=True)
        intro = self.text(item, "intro", where, path, required=False, block=True)
        target = item.get("target", _MISSING)
        if target is _MISSING or target is None:
            self.report(where, (*path, "target"), "thiếu “target” (locality: đánh giá địa phương; ministry: đánh giá "
                                                  "bộ chủ quản).")
        elif target not in TARGETS:
            self.report(where, (*path, "target"), f"“target” phải là locality (đánh giá địa phương) hoặc ministry "
                                                  f"(đánh giá bộ chủ quản), không phải “{target}”.")
        groups = self.form_groups(item, where, path, target)
        minutes = self.whole(item, "minutes", where, path, 1, 120) or DEFAULT_MINUTES
        sections: list[Section] = []
        section_ids: set[str] = set()
        question_ids: set[str] = set()
        count = 0
        for s_index, raw_section in enumerate(self.items(item, "sections", where, path, MAX_SECTIONS,
                                                         "danh sách phần của phiếu")):
            listed = raw_section.get("questions") if isinstance(raw_section, dict) else None
            count += len(listed) if isinstance(listed, list) else 0
            if count > MAX_QUESTIONS:
                # Counted before reading, so that aliases repeating a section cannot make the check slow.
                self.report(where, (*path, "sections", s_index), f"phiếu có hơn {MAX_QUESTIONS} câu hỏi; "
                                                                 f"tối đa {MAX_QUESTIONS}.")
                break
            section = self.section(raw_section, where, (*path, "sections", s_index), question_ids)
            if section is None:
                continue
            if section.id in section_ids:
                self.report(f"{where} › phần “{section.id}”", (*path, "sections", s_index, "id"),
                            "mã phần trùng với một phần khác của phiếu.")
            section_ids.add(section.id)
            sections.append(section)
        if not code or target not in TARGETS:
            return None
        return FormDef(code=code, title=title, target=target, groups=groups, intro=intro, sections=tuple(sections),
                       minutes=minutes)

    def form_groups(self, item: dict, where: str, path: NodePath, target: Any) -> tuple[str, ...]:
        value = item.get("groups", _MISSING)
        if value is _MISSING or value is None or value == []:
            self.report(where, (*path, "groups"), f"thiếu “groups” (mã các nhóm đối tượng trả lời phiếu: "
                                     f"{', '.join(self.known_groups)}).")
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.report(where, (*path, "groups"), "“groups” phải là danh sách mã nhóm đối tượng.")
            return ()
        groups: list[str] = []
        for g_index, group in enumerate(value[:MAX_FORMS]):
            gpath = (*path, "groups", g_index)
            if group not in self.known_groups:
                self.report(where, gpath, f"nhóm đối tượng “{group}” không có trong đợt khảo sát (các mã nhóm: "
                                          f"{', '.join(self.known_groups)}).")
            elif group in groups:
                self.report(where, gpath, f"nhóm “{group}” được ghi hai lần.")
            elif target == "ministry" and group not in self.ministry_groups:
                self.report(where, gpath, f"nhóm “{group}” không trả lời phiếu đánh giá bộ chủ quản (chỉ các nhóm "
                                          f"{', '.join(self.ministry_groups) or '(không có)'}).")
            else:
                groups.append(group)
        # In the campaign's order, however the file lists them: a set stored from a YAML file and from a
        # workbook (one column per group) is then the same document.
        return tuple(sorted(groups, key=self.known_groups.index))

    def section(self, raw: Any, form_where: str, path: NodePath, question_ids: set[str]) -> Section | None:
        first = f"{form_where} › phần thứ {path[-1] + 1}"
        item = self.mapping(raw, first, path, "Phần")
        if item is None:
            return None
        section_id = self.code(item, "id", first, path, _ID, "mã phần, ví dụ LV1")
        where = f"{form_where} › phần “{section_id}”" if section_id else first
        self.unknown_keys(item, where, path, _SECTION_KEYS)
        title = self.text(item, "title", where, path, required=True)
        intro = self.text(item, "intro", where, path, required=False, block=True)
        questions: list[Question] = []
        for q_index, raw_question in enumerate(self.items(item, "questions", where, path, MAX_QUESTIONS,
                                                          "danh sách câu hỏi")):
            question = self.question(raw_question, where, (*path, "questions", q_index))
            if question is None:
                continue
            if question.id in question_ids:
                self.report(f"{where} › câu “{question.id}”", (*path, "questions", q_index, "id"),
                            "mã câu hỏi trùng với một câu khác trong cùng phiếu.")
                continue
            question_ids.add(question.id)
            questions.append(question)
        return Section(id=section_id, title=title, intro=intro, questions=tuple(questions)) if section_id else None

    def question(self, raw: Any, section_where: str, path: NodePath) -> Question | None:
        first = f"{section_where} › câu thứ {path[-1] + 1}"
        item = self.mapping(raw, first, path, "Câu hỏi")
        if item is None:
            return None
        qid = self.code(item, "id", first, path, _ID, "mã câu hỏi, ví dụ c1_1")
        where = f"{section_where} › câu “{qid}”" if qid else first
        self.unknown_keys(item, where, path, _QUESTION_KEYS)
        text = self.text(item, "text", where, path, required=True)
        help_text = self.text(item, "help", where, path, required=False, block=True)
        required = self.boolean(item, "required", where, path, True)
        kind = item.get("kind", _MISSING)
        if kind is _MISSING or kind is None:
            self.report(where, (*path, "kind"), "thiếu “kind” (loại câu hỏi: single, multiple, number hoặc text).")
            return None
        if kind not in KINDS:
            self.report(where, (*path, "kind"), f"loại câu hỏi “{kind}” không được hỗ trợ (single: chọn một; "
                                                "multiple: chọn nhiều; number: số; text: văn bản).")
            return None
        for key in item:
            if key in _KIND_SPECIFIC_KEYS and key not in _KEYS_BY_KIND[kind]:
                self.report(where, (*path, key), f"khóa “{key}” không dùng cho câu hỏi loại {kind}.")
        fields: dict[str, Any] = {}
        if kind in ("single", "multiple"):
            options = self.question_options(item, where, path)
            if options is None:
                return None
            fields["options"] = options
            if kind == "multiple":
                low = self.whole(item, "min_choices", where, path, 1, MAX_OPTIONS)
                high = self.whole(item, "max_choices", where, path, 1, MAX_OPTIONS)
                low, high = low or 1, high or len(options)
                if high > len(options) and len(options) >= 2:
                    self.report(where, (*path, "max_choices"), f"“max_choices” ({high}) lớn hơn số phương án "
                                                               f"({len(options)}).")
                elif low > high:
                    self.report(where, (*path, "min_choices"), f"“min_choices” ({low}) lớn hơn “max_choices” ({high}).")
                fields.update(min_choices=low, max_choices=high)
        elif kind == "number":
            low = self.number(item, "min", where, path)
            high = self.number(item, "max", where, path)
            integer = self.boolean(item, "integer", where, path, True)
            if low is not None and high is not None and low > high:
                self.report(where, (*path, "min"), f"“min” ({fmt(low)}) lớn hơn “max” ({fmt(high)}).")
            for key, bound in (("min", low), ("max", high)):
                if integer and bound is not None and not float(bound).is_integer():
                    self.report(where, (*path, key), f"“{key}” phải là số nguyên vì câu hỏi chỉ nhận số nguyên "
                                                     "(đặt “integer: false” để nhận số thập phân).")
            fields.update(min=low, max=high, integer=integer)
        else:
            length = self.whole(item, "max_length", where, path, 1, MAX_TEXT_LENGTH)
            fields["max_length"] = length or DEFAULT_TEXT_LENGTH
        if not qid or not text:
            return None
        return Question(id=qid, kind=kind, text=text, required=required, help=help_text, **fields)

    def question_options(self, item: dict, where: str, path: NodePath) -> tuple[Option, ...] | None:
        has_options, scale = "options" in item, item.get("scale")
        if has_options and scale is not None:
            self.report(where, (*path, "scale"), "chỉ dùng một trong hai: “options” hoặc “scale”.")
            return None
        if scale is not None:
            if not isinstance(scale, str) or scale not in self.scales:
                names = ", ".join(self.scales) or "chưa khai báo thang đo nào trong “scales”"
                self.report(where, (*path, "scale"), f"thang đo “{scale}” không có trong “scales” ({names}).")
                return None
            return self.scales[scale]  # None when the scale itself was wrong (reported there)
        raw = self.items(item, "options", where, path, MAX_OPTIONS, "các phương án trả lời, hoặc “scale”")
        return self.options(raw, where, (*path, "options")) if raw else None

    def options(self, raw: list, where: str, path: NodePath) -> tuple[Option, ...] | None:
        options: list[Option] = []
        ok = True
        if len(raw) > MAX_OPTIONS:
            self.report(where, path, f"có {len(raw)} phương án; tối đa {MAX_OPTIONS}.")
            raw = raw[:MAX_OPTIONS]
        for o_index, entry in enumerate(raw):
            opath = (*path, o_index)
            owhere = f"{where} › phương án thứ {o_index + 1}"
            item = self.mapping(entry, owhere, opath, "Phương án")
            if item is None:
                ok = False
                continue
            self.unknown_keys(item, owhere, opath, _OPTION_KEYS)
            value = item.get("value", _MISSING)
            if value is _MISSING or value is None or value == "":
                self.report(owhere, (*opath, "value"), "thiếu “value” (giá trị ghi nhận khi chọn phương án, ví dụ "
                                                       "1, 2, kb).")
                ok = False
                continue
            if isinstance(value, bool) or not isinstance(value, str | int) or not _VALUE.fullmatch(str(value)):
                self.report(owhere, (*opath, "value"), f"“value” “{value}” không hợp lệ: dùng chữ cái không dấu, chữ "
                                                       "số, “_”, “-”, “.” (tối đa 40 ký tự); đặt yes/no/true/false "
                                                       "trong dấu ngoặc kép.")
                ok = False
                continue
            label = self.text(item, "label", owhere, opath, required=True)
            score = self.number(item, "score", owhere, opath)
            if "score" in item and item["score"] is not None and score is None:
                ok = False
            if not label:
                ok = False
                continue
            options.append(Option(value=str(value), label=label, score=score))
        duplicates = sorted(v for v, n in Counter(o.value for o in options).items() if n > 1)
        if duplicates:
            self.report(where, path, f"giá trị phương án bị trùng: {', '.join(duplicates)}.")
            ok = False
        if ok and len(options) < 2:
            self.report(where, path, "câu hỏi lựa chọn cần ít nhất 2 phương án.")
            ok = False
        return tuple(options) if ok else None

    def check_groups(self, forms: list[FormDef]) -> None:
        """Each group answers at most one form of each kind, and exactly one of each kind its data says it answers."""
        for group in self.known_groups:
            for target, needed in (("locality", group in self.locality_groups),
                                   ("ministry", group in self.ministry_groups)):
                codes = [f.code for f in forms if f.target == target and group in f.groups]
                what = TARGET_LABELS[target].lower()
                if needed and not codes:
                    self.report("Bộ phiếu", None, f"nhóm đối tượng “{group}” chưa có phiếu {what}.")
                elif len(codes) > 1:
                    self.report("Bộ phiếu", None, f"nhóm đối tượng “{group}” có {len(codes)} phiếu {what} "
                                                f"({', '.join(codes)}); mỗi nhóm chỉ trả lời một phiếu.")


_KEY_MEANINGS = {
    "title": "tiêu đề",
    "text": "nội dung câu hỏi",
    "label": "nội dung phương án",
}


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "một danh sách"
    if isinstance(value, dict):
        return "một bảng khóa"
    if isinstance(value, bool):
        return f"giá trị đúng/sai “{str(value).lower()}”"
    if isinstance(value, int | float):
        return f"số “{value}”"
    if value is None:
        return "giá trị trống"
    return f"văn bản “{str(value)[:40]}”"
