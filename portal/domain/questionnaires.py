"""Survey questionnaires: the file the ministry imports, its checks, stored versions, and checking answers.

The ministry imports the official forms of Quyết định 1218/QĐ-BNV as a YAML file
(the format is documented in docs/questionnaires.md); the project ships a sample
(`portal/seed/questionnaires-2021-sample.yaml`) clearly marked as such. A file is
read with `yaml.safe_load` only, checked completely (every problem is reported,
with where it is in the file), and stored as a `QuestionnaireVersion` whose
`document` is the checked structure as JSON. Each import makes a new version;
launching the survey freezes the current one, and every answer records the
version it answered.

Everything here is plain values: the routes parse the request, call one function
and render; the respondent's pages call `check_answers` and `score`.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import unicodedata
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import Engine, func, update
from sqlmodel import Session, select

from portal.domain import document_versions
from portal.domain.text import clean
from portal.models import Campaign, QuestionnaireVersion, RespondentGroup, User, utcnow

Kind = Literal["single", "multiple", "number", "text"]
Target = Literal["locality", "ministry"]

FORMAT_VERSION = 1
KINDS: tuple[str, ...] = ("single", "multiple", "number", "text")
TARGETS: tuple[str, ...] = ("locality", "ministry")
KIND_LABELS = {"single": "Chọn một", "multiple": "Chọn nhiều", "number": "Số", "text": "Văn bản"}
TARGET_LABELS = {"locality": "Đánh giá địa phương", "ministry": "Đánh giá bộ chủ quản"}

# The 2021 respondent groups; a campaign's own groups (RespondentGroup rows) take their place on import.
DEFAULT_GROUPS: tuple[str, ...] = ("HDND", "LD_SO", "LD_PHONG", "LD_HUYEN")
DEFAULT_MINISTRY_GROUPS: tuple[str, ...] = ("LD_SO", "LD_PHONG")

MAX_BYTES = 1024 * 1024
# Bounds that keep a file (and YAML aliases that repeat one part many times) from growing without limit.
MAX_FORMS = 20
MAX_SECTIONS = 40
MAX_QUESTIONS = 150  # per form
MAX_OPTIONS = 30
MAX_TEXT_LENGTH = 5000
DEFAULT_TEXT_LENGTH = 200
SHORT_TEXT_LENGTH = 200  # up to this a text answer is a one-line input; longer ones get a textarea
DEFAULT_MINUTES = 10

FROZEN_MESSAGE = "Bộ phiếu đã được phát hành nên không thể thay thế."

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
# Question ids are the respondent form's field names: a letter first, and none of the page's own fields
# (the CSRF token, the save/submit button's "action"), so they never clash; names starting with "_" stay free
# for the pages too.
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")
_VALUE = re.compile(r"[A-Za-z0-9_.-]{1,40}")
_RESERVED_IDS = {"csrf_token", "action", "confirm", "token"}

SAMPLE_FILE = "questionnaires-2021-sample.yaml"


# ---------------------------------------------------------------- the structure


@dataclass(frozen=True)
class Option:
    """One answer a choice question offers; `score` counts towards the index (None: not scored)."""

    value: str
    label: str
    score: float | None = None


@dataclass(frozen=True)
class Question:
    """One question; which fields matter depends on `kind`.

    single/multiple: `options` (multiple also `min_choices`, `max_choices`);
    number: `min`, `max`, `integer`; text: `max_length`.
    """

    id: str
    kind: Kind
    text: str
    required: bool = True
    options: tuple[Option, ...] = ()
    help: str = ""
    min: float | None = None
    max: float | None = None
    integer: bool = True
    max_length: int | None = None
    min_choices: int | None = None
    max_choices: int | None = None

    @property
    def multiline(self) -> bool:
        """A text answer long enough to deserve a textarea."""
        return self.kind == "text" and (self.max_length or 0) > SHORT_TEXT_LENGTH

    @property
    def scored(self) -> bool:
        return any(o.score is not None for o in self.options)


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    intro: str = ""
    questions: tuple[Question, ...] = ()


# What people call the two kinds of form, on every page, export and email; the codes of the file
# ("DP-LDSO") are keys for the portal, not names for people.
LOCALITY_FORM_NAME = "Phiếu đánh giá địa phương"
MINISTRY_FORM_NAME = "Phiếu đánh giá bộ chủ quản"


def form_name(target: str, ministry_name: str = "") -> str:
    """The form's name for people: "Phiếu đánh giá bộ chủ quản: Bộ Tài chính" names the ministry evaluated."""
    if target == "ministry":
        return f"{MINISTRY_FORM_NAME}: {ministry_name}" if ministry_name else MINISTRY_FORM_NAME
    return LOCALITY_FORM_NAME


@dataclass(frozen=True)
class FormDef:
    """One form (phiếu): who answers it (`groups`) and what it evaluates (`target`)."""

    code: str
    title: str
    target: Target
    groups: tuple[str, ...]
    intro: str = ""
    sections: tuple[Section, ...] = ()
    minutes: int = DEFAULT_MINUTES
    # The ministry one respondent's ministry form evaluates (see `for_ministry`); not part of the file.
    ministry_name: str = ""

    @property
    def intro_paragraphs(self) -> tuple[str, ...]:
        """The intro's paragraphs: each line of the file's block is one (blank lines ignored)."""
        return tuple(line.strip() for line in self.intro.splitlines() if line.strip())

    @property
    def name(self) -> str:
        """"Phiếu đánh giá địa phương" or "Phiếu đánh giá bộ chủ quản: Bộ …"."""
        return form_name(self.target, self.ministry_name)

    def for_ministry(self, ministry_name: str) -> FormDef:
        """This form as one respondent sees it: a ministry form names the ministry it evaluates."""
        return replace(self, ministry_name=ministry_name) if self.target == "ministry" and ministry_name else self

    @property
    def questions(self) -> tuple[Question, ...]:
        """Every question of the form, in order."""
        return tuple(q for s in self.sections for q in s.questions)

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)


@dataclass(frozen=True)
class Questionnaire:
    """A set of forms imported together: one version."""

    title: str
    label: str
    is_sample: bool
    forms: tuple[FormDef, ...]

    def form(self, code: str) -> FormDef | None:
        return next((f for f in self.forms if f.code == code), None)


class QuestionnaireError(document_versions.DocumentError):
    """A file that cannot be imported, or an import that is not allowed now.

    `message` is one Vietnamese sentence to show; `problems` lists every problem found,
    each naming where it is (form, section, question, line of the file).
    """


def forms_for(questionnaire: Questionnaire, group_code: str) -> list[FormDef]:
    """The forms a member of the group answers: the locality form first, then the ministry form if any."""
    mine = [f for f in questionnaire.forms if group_code in f.groups]
    return [f for f in mine if f.target == "locality"] + [f for f in mine if f.target == "ministry"]


# ---------------------------------------------------------------- reading a file


def sample_path() -> Path:
    """The sample set shipped with the portal (marked as a sample in its title and every form)."""
    return Path(str(resources.files("portal") / "seed" / SAMPLE_FILE))


_YAML_PROBLEMS = (
    ("cannot start any token", "có ký tự Tab hoặc ký tự không hợp lệ; YAML chỉ dùng dấu cách để thụt lề"),
    ("mapping values are not allowed", "dấu “:” không đúng chỗ (thường do thiếu dấu cách sau “:”, hoặc một văn bản "
                                       "có “: ” chưa được đặt trong dấu ngoặc kép)"),
    ("could not find expected ':'", "thiếu dấu “:” sau tên khóa"),
    ("expected <block end>", "thụt lề không thẳng hàng"),
    ("expected <block mapping start>", "thụt lề không thẳng hàng"),
    ("found undefined alias", "dùng tham chiếu (*…) chưa được khai báo"),
    ("unexpected end of stream", "tệp kết thúc giữa chừng (thiếu dấu ngoặc kép hoặc ngoặc đóng)"),
    ("found unknown escape character", "ký tự “\\” không hợp lệ trong văn bản đặt trong ngoặc kép"),
    ("could not determine a constructor", "có thẻ (“!!…”) không được phép"),
    ("expected ',' or ']'", "thiếu dấu “,” hoặc “]”"),
    ("expected ',' or '}'", "thiếu dấu “,” hoặc “}”"),
    ("'<stream end>'", "tệp kết thúc giữa chừng (thiếu nội dung, dấu ngoặc kép hoặc ngoặc đóng)"),
)


def _decode(data: bytes, filename: str) -> str:
    """The file as NFC text, or a QuestionnaireError saying plainly what the file is instead."""
    name = f"“{filename}”" if filename else "tải lên"
    if len(data) > MAX_BYTES:
        raise QuestionnaireError(f"Tệp {name} quá lớn ({len(data) // 1024} KB); bộ phiếu tối đa 1 MB.")
    if not data.strip():
        raise QuestionnaireError(f"Tệp {name} rỗng.")
    kind = None
    if data.startswith(b"PK\x03\x04"):
        kind = "một tệp nén hoặc tệp Excel/Word (.xlsx, .docx, .zip)"
    elif data.startswith(b"%PDF"):
        kind = "một tệp PDF"
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        kind = "một tệp Excel/Word đời cũ (.xls, .doc)"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise QuestionnaireError(f"Tệp {name} được lưu bằng mã UTF-16. Hãy lưu lại tệp với mã UTF-8.")
    elif b"\x00" in data[:4096]:
        kind = "một tệp nhị phân"
    if kind:
        raise QuestionnaireError(f"Tệp {name} là {kind}, không phải tệp văn bản YAML. Bộ phiếu phải là tệp .yaml "
                                 "theo hướng dẫn (tải tệp bộ phiếu mẫu để xem cấu trúc).")
    suffix = Path(filename).suffix.lower()
    if filename and suffix not in {".yaml", ".yml", ".json", ".txt", ""}:
        raise QuestionnaireError(f"Tệp {name} không phải tệp YAML. Bộ phiếu phải là tệp .yaml hoặc .yml.")
    return document_versions.decode_text(data, name, QuestionnaireError)


def _syntax_error(exc: yaml.YAMLError, text: str, filename: str) -> QuestionnaireError:
    looks_json = filename.lower().endswith(".json") or text.lstrip().startswith(("{", "["))
    kind = "JSON" if looks_json else "YAML"
    problem = str(getattr(exc, "problem", "") or exc).strip()
    plain = next((vi for en, vi in _YAML_PROBLEMS if en in problem), "")
    reason = f"{plain} ({problem})" if plain else problem
    mark = getattr(exc, "problem_mark", None)
    where = f" ở dòng {mark.line + 1}, cột {mark.column + 1}" if mark is not None else ""
    return QuestionnaireError(f"Tệp {kind} bị lỗi cú pháp{where}: {reason}.")


def parse_questionnaire(
    data: bytes | str,
    filename: str = "",
    *,
    known_groups: Iterable[str] = DEFAULT_GROUPS,
    ministry_groups: Iterable[str] | None = None,
) -> Questionnaire:
    """Read and check a questionnaire file; raises QuestionnaireError listing every problem.

    `known_groups` are the campaign's respondent group codes; `ministry_groups` those that
    also answer a form on their parent ministry (default: the 2021 groups LD_SO and LD_PHONG
    among the known ones).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    text = _decode(raw, filename)
    try:
        content = yaml.safe_load(text)
        # Composed again (safely: nodes only, nothing constructed) for line numbers and duplicate keys.
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise _syntax_error(exc, text, filename) from None
    except RecursionError:
        raise QuestionnaireError("Tệp lồng nhau quá nhiều cấp; đây không phải tệp bộ phiếu.") from None
    return check_content(content, known_groups=known_groups, ministry_groups=ministry_groups, root=root)


def check_content(
    content: Any,
    *,
    known_groups: Iterable[str] = DEFAULT_GROUPS,
    ministry_groups: Iterable[str] | None = None,
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
    return _Checker(root, known, ministry, locate).questionnaire(content)


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
                 locate: Callable[[NodePath], str | None] | None = None):
        self.root = root
        self.locate = locate
        self.known_groups = known_groups
        self.ministry_groups = tuple(g for g in ministry_groups if g in known_groups)
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
        cleaned = _clean_block(value) if block else clean(value)
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
                self.report(where, (*path, "min"), f"“min” ({_fmt(low)}) lớn hơn “max” ({_fmt(high)}).")
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
        """Each group answers exactly one locality form, and those that must, exactly one ministry form."""
        for group in self.known_groups:
            for target, needed in (("locality", True), ("ministry", group in self.ministry_groups)):
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


def _clean_block(value: str) -> str:
    """Text of several lines: NFC, lines trimmed, at most one blank line in a row."""
    lines = [clean(line) for line in unicodedata.normalize("NFC", value).replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def _fmt(number: float) -> str:
    """A bound as people read it: 100, 2,5."""
    if float(number).is_integer():
        return str(int(number))
    return str(number).replace(".", ",")


# ---------------------------------------------------------------- stored documents


def as_dict(questionnaire: Questionnaire) -> dict[str, Any]:
    """The questionnaire with the file format's keys, every default written out."""

    def question(q: Question) -> dict[str, Any]:
        item: dict[str, Any] = {"id": q.id, "kind": q.kind, "text": q.text, "required": q.required}
        if q.help:
            item["help"] = q.help
        if q.kind in ("single", "multiple"):
            item["options"] = [{"value": o.value, "label": o.label, "score": o.score} for o in q.options]
        if q.kind == "multiple":
            item.update(min_choices=q.min_choices, max_choices=q.max_choices)
        if q.kind == "number":
            item.update(min=q.min, max=q.max, integer=q.integer)
        if q.kind == "text":
            item["max_length"] = q.max_length
        return item

    return {
        "format": FORMAT_VERSION,
        "title": questionnaire.title,
        "label": questionnaire.label,
        "sample": questionnaire.is_sample,
        "forms": [
            {
                "code": f.code, "title": f.title, "target": f.target, "groups": list(f.groups), "minutes": f.minutes,
                "intro": f.intro,
                "sections": [{"id": s.id, "title": s.title, "intro": s.intro,
                              "questions": [question(q) for q in s.questions]} for s in f.sections],
            }
            for f in questionnaire.forms
        ],
    }


def to_document(questionnaire: Questionnaire) -> str:
    """The checked questionnaire as JSON, as stored in QuestionnaireVersion.document.

    It uses the file format's keys, so the document is itself an importable file (JSON is YAML).
    """
    return json.dumps(as_dict(questionnaire), ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=32)
def from_document(text: str) -> Questionnaire:
    """The questionnaire of a stored document (already checked: built without checking again).

    Cached on the text: the respondent's pages load it on every view, and the result is immutable.
    """
    data = json.loads(text)

    def question(q: dict) -> Question:
        return Question(
            id=q["id"], kind=q["kind"], text=q["text"], required=q.get("required", True),
            options=tuple(Option(o["value"], o["label"], o.get("score")) for o in q.get("options", ())),
            help=q.get("help", ""), min=q.get("min"), max=q.get("max"), integer=q.get("integer", True),
            max_length=q.get("max_length"), min_choices=q.get("min_choices"), max_choices=q.get("max_choices"),
        )

    return Questionnaire(
        title=data["title"], label=data.get("label", ""), is_sample=data.get("sample", False),
        forms=tuple(
            FormDef(code=f["code"], title=f["title"], target=f["target"], groups=tuple(f["groups"]),
                    intro=f.get("intro", ""), minutes=f.get("minutes", DEFAULT_MINUTES),
                    sections=tuple(Section(s["id"], s["title"], s.get("intro", ""),
                                           tuple(question(q) for q in s["questions"])) for s in f["sections"]))
            for f in data["forms"]
        ),
    )


class _FlowMapping(dict):
    """An option, written on one line: {value: '1', label: Rất kém, score: 1}."""


class _Dumper(yaml.SafeDumper):
    """safe_dump's dumper, writing text of several lines as a literal block and options on one line."""


def _represent_text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


def _represent_flow(dumper: yaml.SafeDumper, value: dict) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


_Dumper.add_representer(str, _represent_text)
_Dumper.add_representer(_FlowMapping, _represent_flow)


def share_scales(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Move option lists several questions use into scales named thang_1, thang_2, …: each such question of
    `data` (a document dict, changed in place) names its scale instead; returns the scales."""
    counts = Counter(
        json.dumps(q["options"], ensure_ascii=False)
        for f in data["forms"] for s in f["sections"] for q in s["questions"] if "options" in q
    )
    names = {key: f"thang_{n}" for n, key in enumerate((k for k, c in counts.items() if c > 1), start=1)}
    for form in data["forms"]:
        for section in form["sections"]:
            for q in section["questions"]:
                key = json.dumps(q.get("options"), ensure_ascii=False)
                if key in names:
                    del q["options"]
                    q["scale"] = names[key]
    return {name: json.loads(key) for key, name in names.items()}


def to_yaml(questionnaire: Questionnaire) -> str:
    """The questionnaire as an importable YAML file (for download); option lists used twice become `scales`."""
    data = as_dict(questionnaire)
    scales = share_scales(data)
    for form in data["forms"]:
        for section in form["sections"]:
            for q in section["questions"]:
                if "options" in q:
                    q["options"] = [_FlowMapping(o) for o in q["options"]]
    if scales:
        data = {**{k: data[k] for k in ("format", "title", "label", "sample")},
                "scales": {name: [_FlowMapping(o) for o in options] for name, options in scales.items()},
                "forms": data["forms"]}
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=4096)


# ---------------------------------------------------------------- answers


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
        return f"Giá trị phải từ {_fmt(q.min)} đến {_fmt(q.max)}."
    if q.min is not None:
        return f"Giá trị phải từ {_fmt(q.min)} trở lên."
    return f"Giá trị không được lớn hơn {_fmt(q.max)}."


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b\ufeff]")


def _clean_answer(text: str, multiline: bool) -> str:
    if not multiline:
        return clean(_CONTROL.sub(" ", text))
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n"))
    return _clean_block(text)


def score(form: FormDef, values: Mapping[str, object]) -> float | None:
    """The sum of the chosen options' scores; None when no chosen option carries a score."""
    total: float | None = None
    for q in form.questions:
        if q.kind not in ("single", "multiple") or q.id not in values:
            continue
        value = values[q.id]
        chosen = set(value) if isinstance(value, list | tuple) else {value}
        for option in q.options:
            if option.value in chosen and option.score is not None:
                total = (total or 0) + option.score
    return total


# ---------------------------------------------------------------- versions in the database


_VERSIONS = document_versions.Versions(QuestionnaireVersion)
current_version = _VERSIONS.current  # the one launched, once frozen
versions = _VERSIONS.all
version_by_number = _VERSIONS.by_number


def load(version: QuestionnaireVersion) -> Questionnaire:
    """The questionnaire a stored version holds."""
    return from_document(version.document)


# Frozen versions by database and id. A version is frozen at the first launch and never changes after,
# so a respondent's page or a progress poll need not read its document (tens of KB) and parse it again.
# Keyed by engine too: tests (and a CLI pointed elsewhere) open several databases in one process.
_FROZEN: weakref.WeakKeyDictionary[Engine, dict[int, Questionnaire]] = weakref.WeakKeyDictionary()


def load_frozen(session: Session, version_id: int) -> Questionnaire:
    """The questionnaire of a version invitations point to, parsed once per process when frozen."""
    engine = session.get_bind()
    cached = _FROZEN.get(engine, {}).get(version_id)
    if cached is not None:
        return cached
    version = session.get(QuestionnaireVersion, version_id)
    questionnaire = load(version)
    if version.frozen_at is not None:
        _FROZEN.setdefault(engine, {})[version_id] = questionnaire
    return questionnaire


def group_labels(session: Session, campaign: Campaign) -> dict[str, str]:
    """The campaign's group codes with the labels people read ("2. Lãnh đạo cấp sở")."""
    groups = session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id)
                          .order_by(RespondentGroup.number)).all()
    return {g.code: g.label for g in groups}


def campaign_groups(session: Session, campaign: Campaign) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The campaign's group codes, and those answering the ministry form (the 2021 ones when none are stored)."""
    groups = session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id)
                          .order_by(RespondentGroup.number)).all()
    if not groups:
        return DEFAULT_GROUPS, DEFAULT_MINISTRY_GROUPS
    return tuple(g.code for g in groups), tuple(g.code for g in groups if g.answers_ministry_form)


def parse_file(data: bytes, filename: str, *, known_groups: Iterable[str] = DEFAULT_GROUPS,
               ministry_groups: Iterable[str] | None = None) -> Questionnaire:
    """A YAML file or a filled workbook template, told apart by its bytes, read and checked by the same rules."""
    # Imported here: the workbook reader builds on this module (its checks and its document).
    from portal.domain import authoring

    if authoring.is_workbook(data):
        return authoring.read_questionnaire_workbook(data, filename, known_groups=known_groups,
                                                     ministry_groups=ministry_groups)
    return parse_questionnaire(data, filename, known_groups=known_groups, ministry_groups=ministry_groups)


def import_questionnaire(
    session: Session,
    user: User | None,
    campaign: Campaign,
    data: bytes,
    filename: str,
    *,
    now: datetime | None = None,
) -> QuestionnaireVersion:
    """Check the file (YAML or a filled workbook template) and store it as the campaign's new current version
    (committed).

    Refused (QuestionnaireError) when the file has problems, nothing saved, or
    when the current version is frozen because the survey was launched.
    """
    current = current_version(session, campaign)
    if current is not None and current.frozen_at is not None:
        raise QuestionnaireError(FROZEN_MESSAGE)
    known, ministry = campaign_groups(session, campaign)
    questionnaire = parse_file(data, filename, known_groups=known, ministry_groups=ministry)
    return document_versions.store_version(
        session, QuestionnaireVersion, current, user=user, campaign=campaign, title=questionnaire.title,
        document=to_document(questionnaire), is_sample=questionnaire.is_sample, filename=filename, now=now,
        error=QuestionnaireError, frozen_message=FROZEN_MESSAGE,
        race_message="Một bộ phiếu khác vừa được nhập cùng lúc. Vui lòng tải lại trang rồi thử lại.",
        audit_action="Nhập bộ phiếu khảo sát", audit_detail=lambda number: f"Phiên bản {number}: {questionnaire.title}")


def load_sample(session: Session, campaign: Campaign, user: User | None = None) -> QuestionnaireVersion:
    """The campaign's current version, importing the shipped sample first when it has none (idempotent)."""
    current = current_version(session, campaign)
    if current is not None:
        return current
    path = sample_path()
    try:
        return import_questionnaire(session, user, campaign, path.read_bytes(), path.name)
    except QuestionnaireError:
        current = current_version(session, campaign)  # someone imported one at the same moment
        if current is None:
            raise
        return current


def freeze(session: Session, version: QuestionnaireVersion, now: datetime | None = None) -> None:
    """Mark the version launched: it can no longer be replaced (committed with the caller's transaction).

    Raises QuestionnaireError when the version was replaced in the meantime (an import
    that committed first), so a launch never goes out on a version that is no longer current.
    """
    if version.frozen_at is not None:
        return
    frozen = session.exec(update(QuestionnaireVersion)
                          .where(QuestionnaireVersion.id == version.id,
                                 QuestionnaireVersion.is_current == True)  # noqa: E712
                          .values(frozen_at=func.coalesce(QuestionnaireVersion.frozen_at, now or utcnow()))
                          .execution_options(synchronize_session=False))
    if frozen.rowcount != 1:
        raise QuestionnaireError("Bộ phiếu vừa được thay thế bằng phiên bản mới; vui lòng tải lại trang rồi phát "
                                 "hành lại.")
    session.refresh(version)
