"""The criteria framework (bộ tiêu chí) as data: its file format, checked by pydantic models, and its versions.

A framework file is YAML (the guide is in the README, "Bộ tiêu chí tự đánh giá"):

    format: 1
    title: Bộ tiêu chí ...
    sample: true                      # a sample, not the ministry's official content
    total: 100                        # optional: checked against the sum of the areas
    areas:
      - code: "1"
        title: Công tác chỉ đạo, điều hành cải cách hành chính
        points: 9                     # optional: checked against the sum of its criteria
        criteria:
          - code: "1.1"
            title: ...
            subcriteria:
              - code: "1.1.1"
                title: ...
                points: 1             # the line's maximum
                kind: yes_no          # see KIND_LABELS; its parameters below
                not_applicable: true  # yes_no, percentage: the province may answer "không áp dụng"
                evidence: Kế hoạch CCHC năm của UBND tỉnh
                source: self          # self | survey
              - code: "8.1.1"
                title: ...
                points: 3
                kind: survey          # points from the survey's results, through its questions:
                source: survey
                survey:
                  questions: [DP-HDND.c2_1, DP-LDSO.c2_1]   # form code . question id (scored, single choice)
                  rule: mean_scaled                        # see SURVEY_RULES

Every problem is reported in Vietnamese with its place (area, criterion, sub-criterion, key and line of
the file), translated from pydantic's own error locations and types; nothing is saved while any remains.
A version is frozen when the first province saves a score against it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import update
from sqlmodel import Session

from portal.domain import document_versions
from portal.models import Campaign, FrameworkVersion, User, utcnow

FORMAT_VERSION = 1
MAX_BYTES = 1024 * 1024
SAMPLE_FILE = "framework-2021-sample.yaml"
FROZEN_MESSAGE = "Bộ tiêu chí đã được khóa (đã có tỉnh chấm điểm theo bộ tiêu chí này) nên không thể thay thế."

KIND_LABELS = {
    "yes_no": "Có / Không",
    "percentage": "Tỷ lệ hoàn thành",
    "deduction": "Trừ điểm theo số trường hợp",
    "levels": "Chọn mức đánh giá",
    "survey": "Điểm từ kết quả điều tra xã hội học",
    "bonus": "Điểm thưởng",
    "penalty": "Điểm trừ",
}
# Kinds whose points are outside the framework's maximum: they add to, or take from, the total.
EXTRA_KINDS = frozenset({"bonus", "penalty"})
SOURCE_LABELS = {"self": "Tự đánh giá", "survey": "Điều tra xã hội học"}
# How a survey line's points come from the answers to its questions (portal/domain/survey_results.py).
SURVEY_RULES = {
    "mean_scaled": "Điểm trung bình các câu trả lời / điểm cao nhất của câu hỏi × điểm tối đa",
    "share_top": "Tỷ lệ câu trả lời ở hai mức điểm cao nhất × điểm tối đa",
}
SurveyRule = Literal["mean_scaled", "share_top"]
# "DP-HDND.c2_1": a form's code (no dot in it) and one of its questions' ids.
_QUESTION_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}\.[A-Za-z][A-Za-z0-9_.-]{0,39}$")

_CODE = r"^[0-9A-Za-z][0-9A-Za-z.]{0,19}$"
_CROSS_CHECKS = "framework_cross_checks"  # the error type of the checks that span areas, criteria and lines
Kind = Literal["yes_no", "percentage", "deduction", "levels", "survey", "bonus", "penalty"]


class FrameworkError(document_versions.DocumentError):
    """A file that cannot be imported, or an import not allowed now: `message`, and every problem found."""


# ---------------------------------------------------------------- the schema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    @field_validator("code", mode="before", check_fields=False)
    @classmethod
    def _code_as_text(cls, value: Any) -> Any:
        # YAML reads an unquoted `code: 2` or `code: 1.1` as a number; the ministry means the text.
        return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


class Band(_Strict):
    """A percentage band: from this rate (inclusive) up, the line gives these points."""

    from_percent: float = Field(alias="from", ge=0, le=100)
    points: float = Field(ge=0)


class Level(_Strict):
    """One level the province may pick, with its points."""

    label: str = Field(min_length=1, max_length=300)
    points: float = Field(ge=0)


class SurveyMapping(_Strict):
    """Which survey questions give a survey line its points, and how (a rule of SURVEY_RULES)."""

    questions: list[str] = Field(min_length=1, max_length=30)
    rule: SurveyRule = "mean_scaled"

    @field_validator("questions")
    @classmethod
    def _references(cls, value: list[str]) -> list[str]:
        bad = [ref for ref in value if not _QUESTION_REF.match(ref)]
        if bad:
            raise ValueError(f"câu hỏi “{bad[0]}” không đúng dạng “mã phiếu.mã câu hỏi”, ví dụ “DP-HDND.c2_1”")
        twice = sorted({ref for ref in value if value.count(ref) > 1})
        if twice:
            raise ValueError(f"câu hỏi “{twice[0]}” được ghi hai lần")
        return value

    @property
    def references(self) -> list[tuple[str, str]]:
        """(form code, question id) of each question, in the file's order."""
        return [(ref.split(".", 1)[0], ref.split(".", 1)[1]) for ref in self.questions]


class Line(_Strict):
    """A sub-criterion (tiêu chí thành phần): the line a province scores."""

    code: str = Field(pattern=_CODE)
    title: str = Field(min_length=1, max_length=1000)
    points: float = Field(gt=0, le=100)
    kind: Kind
    source: Literal["self", "survey"] = "self"
    evidence: str = Field(default="", max_length=1000)
    guide: str = Field(default="", max_length=2000)
    not_applicable: bool = False
    numerator: str | None = Field(default=None, min_length=1, max_length=200)
    denominator: str | None = Field(default=None, min_length=1, max_length=200)
    bands: list[Band] | None = Field(default=None, min_length=1, max_length=10)
    per_case: float | None = Field(default=None, gt=0)
    cases_label: str | None = Field(default=None, min_length=1, max_length=200)
    levels: list[Level] | None = Field(default=None, min_length=2, max_length=10)
    survey: SurveyMapping | None = None

    @model_validator(mode="after")
    def _parameters_fit_the_kind(self) -> Line:
        needed = {"percentage": ("numerator", "denominator", "bands"), "deduction": ("per_case",),
                  "levels": ("levels",)}.get(self.kind, ())
        allowed = set(needed) | ({"cases_label"} if self.kind == "deduction" else set())
        names = {"numerator": "numerator (tử số)", "denominator": "denominator (mẫu số)",
                 "bands": "bands (các mức tỷ lệ)",
                 "per_case": "per_case (số điểm trừ mỗi trường hợp)", "levels": "levels (các mức)",
                 "cases_label": "cases_label"}
        kind = f"loại “{self.kind}” ({KIND_LABELS[self.kind]})"
        missing = [names[n] for n in needed if getattr(self, n) is None]
        if missing:
            raise ValueError(f"{kind} cần khóa {', '.join(missing)}")
        extra = [names[n] for n in names if n not in allowed and getattr(self, n) is not None]
        if extra:
            raise ValueError(f"{kind} không dùng khóa {', '.join(extra)}")
        if self.not_applicable and self.kind not in ("yes_no", "percentage"):
            raise ValueError(f"“not_applicable” chỉ dùng cho loại yes_no và percentage, không dùng cho {kind}")
        if self.survey is not None and self.kind != "survey":
            raise ValueError(f"{kind} không dùng khóa survey (câu hỏi điều tra xã hội học); chỉ loại “survey” dùng")
        if (self.kind == "survey") != (self.source == "survey"):
            raise ValueError("loại “survey” phải có source: survey, và chỉ loại đó lấy điểm từ điều tra xã hội học")
        for item in (self.bands or []) + (self.levels or []):
            if item.points > self.points:
                raise ValueError(f"có mức cho {_fmt(item.points)} điểm, vượt điểm tối đa {_fmt(self.points)}")
        if self.bands:
            starts = [band.from_percent for band in self.bands]
            if len(set(starts)) != len(starts):
                raise ValueError("hai mức tỷ lệ có cùng giá trị “from”")
        if self.per_case is not None and self.per_case > self.points:
            raise ValueError(f"số điểm trừ mỗi trường hợp ({_fmt(self.per_case)}) vượt điểm tối đa")
        return self

    @property
    def counts_in_maximum(self) -> bool:
        return self.kind not in EXTRA_KINDS

    @property
    def needs_input(self) -> bool:
        return self.kind != "survey"

    @property
    def sorted_bands(self) -> list[Band]:
        return sorted(self.bands or [], key=lambda band: band.from_percent, reverse=True)


class Criterion(_Strict):
    code: str = Field(pattern=_CODE)
    title: str = Field(min_length=1, max_length=1000)
    points: float | None = Field(default=None, ge=0)
    subcriteria: list[Line] = Field(min_length=1, max_length=50)

    @property
    def maximum(self) -> float:
        return _sum(line.points for line in self.subcriteria if line.counts_in_maximum)


class Area(_Strict):
    code: str = Field(pattern=_CODE)
    title: str = Field(min_length=1, max_length=1000)
    points: float | None = Field(default=None, ge=0)
    criteria: list[Criterion] = Field(min_length=1, max_length=50)

    @property
    def maximum(self) -> float:
        return _sum(criterion.maximum for criterion in self.criteria)


class Framework(_Strict):
    """A whole framework: areas, criteria, lines, with the checks that span them."""

    format: Literal[1]
    title: str = Field(min_length=1, max_length=300)
    sample: bool = False
    total: float | None = Field(default=None, gt=0)
    areas: list[Area] = Field(min_length=1, max_length=30)

    @field_validator("title")
    @classmethod
    def _title_is_text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("không được để trống")
        return value.strip()

    @model_validator(mode="after")
    def _codes_and_sums(self) -> Framework:
        # Each problem keeps the place it is about, so a file's reader can point at its line or cell.
        problems: list[tuple[tuple[str | int, ...], str]] = []
        seen: set[str] = set()
        for a, area in enumerate(self.areas):
            at_area: tuple[str | int, ...] = ("areas", a)
            places = [(at_area, area.code, "lĩnh vực")]
            for c, criterion in enumerate(area.criteria):
                at_criterion = (*at_area, "criteria", c)
                places.append((at_criterion, criterion.code, "tiêu chí"))
                places += [((*at_criterion, "subcriteria", n), line.code, "tiêu chí thành phần")
                           for n, line in enumerate(criterion.subcriteria)]
            for place, code, what in places:
                if code in seen:
                    problems.append(((*place, "code"), f"mã “{code}” ({what}) bị trùng; mỗi mã chỉ dùng một lần"))
                seen.add(code)
            for c, criterion in enumerate(area.criteria):
                at_criterion = (*at_area, "criteria", c)
                if not criterion.code.startswith(area.code + "."):
                    problems.append(((*at_criterion, "code"), f"mã phải bắt đầu bằng mã lĩnh vực “{area.code}.”"))
                for n, line in enumerate(criterion.subcriteria):
                    if not line.code.startswith(criterion.code + "."):
                        problems.append(((*at_criterion, "subcriteria", n, "code"),
                                         f"mã phải bắt đầu bằng mã tiêu chí “{criterion.code}.”"))
                if criterion.points is not None and not _same(criterion.points, criterion.maximum):
                    problems.append(((*at_criterion, "points"), f"điểm tối đa ghi {_fmt(criterion.points)} nhưng "
                                     f"tổng điểm các tiêu chí thành phần là {_fmt(criterion.maximum)}"))
            if area.points is not None and not _same(area.points, area.maximum):
                problems.append(((*at_area, "points"), f"điểm tối đa ghi {_fmt(area.points)} nhưng tổng điểm các "
                                                       f"tiêu chí là {_fmt(area.maximum)}"))
        if self.total is not None and not _same(self.total, self.maximum):
            problems.append((("total",), f"tổng điểm ghi {_fmt(self.total)} nhưng tổng điểm các lĩnh vực là "
                                         f"{_fmt(self.maximum)}"))
        if problems:
            raise PydanticCustomError(_CROSS_CHECKS, "{summary}",
                                      {"summary": "; ".join(text for _, text in problems), "problems": problems})
        return self

    @property
    def maximum(self) -> float:
        return _sum(area.maximum for area in self.areas)

    def lines(self) -> Iterator[tuple[Area, Criterion, Line]]:
        for area in self.areas:
            for criterion in area.criteria:
                for line in criterion.subcriteria:
                    yield area, criterion, line

    def line(self, code: str) -> Line | None:
        return next((line for _, _, line in self.lines() if line.code == code), None)

    def area(self, code: str) -> Area | None:
        return next((area for area in self.areas if area.code == code), None)

    def area_of(self, line_code: str) -> Area | None:
        return next((area for area, _, line in self.lines() if line.code == line_code), None)

    @property
    def counts(self) -> tuple[int, int, int]:
        """Areas, criteria and lines."""
        return (len(self.areas), sum(len(a.criteria) for a in self.areas),
                sum(len(c.subcriteria) for a in self.areas for c in a.criteria))


def _sum(values) -> float:
    return float(sum((Fraction(str(v)) for v in values), Fraction(0)))


def _same(a: float, b: float) -> bool:
    return abs(a - b) < 1e-9


def _fmt(number: float) -> str:
    """0.5 -> "0,5"; 2.0 -> "2": numbers as Vietnamese write them."""
    text = f"{number:.2f}".rstrip("0").rstrip(".")
    return text.replace(".", ",")


format_points = _fmt


# ---------------------------------------------------------------- reading a file

_KEY_NAMES = {"areas": "lĩnh vực", "criteria": "tiêu chí", "subcriteria": "tiêu chí thành phần"}


def sample_path() -> Path:
    """The sample framework shipped with the portal (marked as a sample in its title)."""
    return Path(str(resources.files("portal") / "seed" / SAMPLE_FILE))


def _decode(data: bytes, filename: str) -> str:
    name = f"“{filename}”" if filename else "tải lên"
    if len(data) > MAX_BYTES:
        raise FrameworkError(f"Tệp {name} quá lớn ({len(data) // 1024} KB); tệp bộ tiêu chí tối đa 1 MB.")
    if not data.strip():
        raise FrameworkError(f"Tệp {name} rỗng.")
    if data.startswith((b"PK\x03\x04", b"%PDF", b"\xd0\xcf\x11\xe0")) or b"\x00" in data[:4096]:
        raise FrameworkError(f"Tệp {name} không phải tệp văn bản YAML. Bộ tiêu chí phải là tệp .yaml theo hướng dẫn "
                             "(tải tệp bộ tiêu chí mẫu để xem cấu trúc).")
    return document_versions.decode_text(data, name, FrameworkError)


def parse_framework(data: bytes | str, filename: str = "") -> Framework:
    """Read and check a framework file; raises FrameworkError listing every problem in Vietnamese."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    text = _decode(raw, filename)
    try:
        content = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" ở dòng {mark.line + 1}, cột {mark.column + 1}" if mark is not None else ""
        problem = str(getattr(exc, "problem", "") or exc).strip()
        raise FrameworkError(f"Tệp YAML bị lỗi cú pháp{where} ({problem}). Kiểm tra thụt lề (chỉ dùng dấu cách) "
                             "và dấu “:” sau mỗi khóa.") from None
    except RecursionError:
        raise FrameworkError("Tệp lồng nhau quá nhiều cấp; đây không phải tệp bộ tiêu chí.") from None
    if not isinstance(content, dict):
        raise FrameworkError("Tệp không có cấu trúc bộ tiêu chí: phải bắt đầu bằng các khóa format, title, areas.")
    return check_content(content, lambda loc: _line_place(loc, root))


def _line_place(loc: tuple, root: yaml.Node | None) -> str | None:
    line = _line_of(loc, root)
    return f"dòng {line}" if line else None


def check_content(content: dict[str, Any], locate: Callable[[tuple], str | None]) -> Framework:
    """Check a framework already read into plain values (from YAML, or from a workbook into the same shape);
    raises FrameworkError listing every problem, each placed by `locate(pydantic location)`."""
    try:
        return Framework.model_validate(content)
    except ValidationError as exc:
        problems = [problem for error in exc.errors() for problem in _problems(error, content, locate)]
        count = len(problems)
        raise FrameworkError(f"Tệp bộ tiêu chí có {count} lỗi; không có gì được lưu. Sửa các lỗi sau rồi nhập lại:",
                             problems) from None


def _place(loc: tuple, content: Any) -> tuple[str, str]:
    """Where a pydantic error location points, as people name it, and the key it is about (if any)."""
    parts: list[str] = []
    key = ""
    node: Any = content
    items = list(loc)
    i = 0
    while i < len(items):
        step = items[i]
        nxt = items[i + 1] if i + 1 < len(items) else None
        if step in _KEY_NAMES and isinstance(nxt, int):
            try:
                node = node[step][nxt]
            except (KeyError, IndexError, TypeError):
                node = None
            code = node.get("code") if isinstance(node, dict) else None
            label = _KEY_NAMES[step]
            parts.append(f"{label} {code}" if isinstance(code, str | int) else f"{label} thứ {nxt + 1}")
            i += 2
            continue
        if step == "survey":
            # The keys of a line's survey block read as one: "survey.questions", "survey.rule".
            rest = [str(part) for part in items[i + 1:] if isinstance(part, str)]
            key = ".".join(["survey", *rest])
            index = next((part for part in items[i + 1:] if isinstance(part, int)), None)
            if index is not None:
                parts.append(f"câu hỏi thứ {index + 1}")
            break
        if step in ("bands", "levels") and isinstance(nxt, int):
            parts.append(f"{'mức tỷ lệ' if step == 'bands' else 'mức'} thứ {nxt + 1}")
            node = None
            i += 2
            continue
        key = str(step)
        i += 1
    where = " › ".join(parts)
    return (where[:1].upper() + where[1:]) if where else "Phần đầu tệp", key


def _line_of(loc: tuple, root: yaml.Node | None) -> int | None:
    """The line of the file the location points to (the deepest node found)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for step in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(step, str):
            found = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
            if found is None:
                break
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            break
        line = node.start_mark.line + 1
    return line


def _message(error: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "thiếu khóa này (bắt buộc)"
    if kind == "extra_forbidden":
        return "khóa này không có trong định dạng bộ tiêu chí (có thể viết sai tên khóa)"
    if kind in ("string_type",):
        return "phải là văn bản"
    if kind in ("float_parsing", "float_type", "int_parsing", "int_type", "finite_number"):
        return f"phải là một số (đang ghi “{error.get('input')}”)"
    if kind in ("bool_parsing", "bool_type"):
        return "phải là true hoặc false"
    if kind == "greater_than":
        return f"phải lớn hơn {_fmt(ctx['gt'])} (đang ghi {error.get('input')})"
    if kind == "greater_than_equal":
        return f"không được nhỏ hơn {_fmt(ctx['ge'])} (đang ghi {error.get('input')})"
    if kind == "less_than_equal":
        return f"không được lớn hơn {_fmt(ctx['le'])} (đang ghi {error.get('input')})"
    if kind == "literal_error" and error["loc"][-1:] == ("kind",):
        # The codes a YAML file uses and the labels a workbook's drop-down offers are both accepted.
        kinds = "; ".join(f"{code} ({label})" for code, label in KIND_LABELS.items())
        return f"phải là một trong các cách chấm {kinds} (đang ghi “{error.get('input')}”)"
    if kind == "literal_error" and error["loc"][-1:] == ("rule",):
        rules = "; ".join(f"{code} ({label})" for code, label in SURVEY_RULES.items())
        return f"phải là một trong các cách tính {rules} (đang ghi “{error.get('input')}”)"
    if kind == "literal_error":
        return f"phải là một trong các giá trị {ctx.get('expected', '')} (đang ghi “{error.get('input')}”)"
    if kind == "list_type":
        return "phải là một danh sách (mỗi mục bắt đầu bằng “- ”)"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "phải là một nhóm khóa (code, title, …)"
    if kind == "too_short":
        return f"phải có ít nhất {ctx.get('min_length')} mục"
    if kind == "too_long":
        return f"có quá nhiều mục (tối đa {ctx.get('max_length')})"
    if kind == "string_too_short":
        return "không được để trống"
    if kind == "string_too_long":
        return f"quá dài (tối đa {ctx.get('max_length')} ký tự)"
    if kind == "string_pattern_mismatch":
        return (f"mã “{error.get('input')}” không hợp lệ: chỉ gồm chữ số, chữ cái không dấu và dấu chấm, "
                "tối đa 20 ký tự, ví dụ “1.2.3”")
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return f"không hợp lệ ({error['msg']})"


def _problems(error: dict[str, Any], content: Any, locate: Callable[[tuple], str | None]) -> list[str]:
    """One pydantic error as the problems people read; the checks spanning the framework are several."""
    if error["type"] == _CROSS_CHECKS:
        return [_problem(tuple(loc), text, content, locate) for loc, text in error["ctx"]["problems"]]
    return [_problem(tuple(error["loc"]), _message(error), content, locate)]


def _problem(loc: tuple, message: str, content: Any, locate: Callable[[tuple], str | None]) -> str:
    where, key = _place(loc, content)
    place = locate(loc)
    at = f" ({place})" if place else ""
    subject = f"{where}, khóa “{key}”" if key else where
    return f"{subject}{at}: {message}."


# ---------------------------------------------------------------- stored documents and versions


def to_document(framework: Framework) -> str:
    return json.dumps(framework.model_dump(by_alias=True, exclude_none=True), ensure_ascii=False)


def from_document(text: str) -> Framework:
    return Framework.model_validate_json(text)


def to_yaml(framework: Framework) -> str:
    data = framework.model_dump(by_alias=True, exclude_none=True, exclude_defaults=False)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=110)


_VERSIONS = document_versions.Versions(FrameworkVersion)
current_version = _VERSIONS.current
versions = _VERSIONS.all
version_by_number = _VERSIONS.by_number


_PARSED: dict[tuple[int, str], Framework] = {}  # a version's document never changes once stored


def load(version: FrameworkVersion) -> Framework:
    """The framework a stored version holds (parsed once per process per version and content)."""
    # By content, not by id alone: tests (and a CLI pointed elsewhere) open several databases in one process.
    key = (version.id or 0, hashlib.sha256(version.document.encode()).hexdigest())
    cached = _PARSED.get(key)
    if cached is None:
        cached = from_document(version.document)
        if len(_PARSED) > 64:
            _PARSED.clear()
        _PARSED[key] = cached
    return cached


def parse_file(data: bytes, filename: str) -> Framework:
    """A YAML file or a filled workbook template, told apart by its bytes, read and checked by the same schema."""
    # Imported here: the workbook reader builds on this module (its schema and its document).
    from portal.domain import authoring

    if authoring.is_workbook(data):
        return authoring.read_framework_workbook(data, filename)
    return parse_framework(data, filename)


def import_framework(session: Session, user: User | None, campaign: Campaign, data: bytes, filename: str, *,
                     now: datetime | None = None) -> FrameworkVersion:
    """Check the file (YAML or a filled workbook template) and store it as the campaign's new current version
    (committed).

    Refused (FrameworkError) when the file has problems, nothing saved, or when the current version is
    frozen because a province has saved a score against it.
    """
    current = current_version(session, campaign)
    if current is not None and current.frozen_at is not None:
        raise FrameworkError(FROZEN_MESSAGE)
    framework = parse_file(data, filename)
    _check_survey_questions(session, campaign, framework)
    return document_versions.store_version(
        session, FrameworkVersion, current, user=user, campaign=campaign, title=framework.title,
        document=to_document(framework), is_sample=framework.sample, filename=filename, now=now,
        error=FrameworkError, frozen_message=FROZEN_MESSAGE,
        race_message="Một bộ tiêu chí khác vừa được nhập cùng lúc. Vui lòng tải lại trang rồi thử lại.",
        audit_action="Nhập bộ tiêu chí tự đánh giá",
        audit_detail=lambda number: f"{campaign.name}, phiên bản {number}: {framework.title}")


def _check_survey_questions(session: Session, campaign: Campaign, framework: Framework) -> None:
    """Refuse survey questions the campaign's questionnaire set cannot score (when it has one yet)."""
    from portal.domain import questionnaires, survey_mapping

    version = questionnaires.current_version(session, campaign)
    if version is None:
        return
    problems = survey_mapping.reference_problems(framework, questionnaires.load(version))
    if problems:
        raise FrameworkError(f"Bộ tiêu chí có {len(problems)} lỗi khi đối chiếu với bộ phiếu khảo sát hiện hành của "
                             f"đợt (phiên bản {version.version}); không có gì được lưu. Sửa các lỗi sau rồi nhập lại:",
                             problems)


def load_sample(session: Session, campaign: Campaign, user: User | None = None) -> FrameworkVersion:
    """The campaign's current version, importing the shipped sample first when it has none (idempotent)."""
    current = current_version(session, campaign)
    if current is not None:
        return current
    path = sample_path()
    return import_framework(session, user, campaign, path.read_bytes(), path.name)


def freeze(session: Session, version: FrameworkVersion, now: datetime | None = None) -> None:
    """Mark the version in use by a province's score (with the caller's transaction); idempotent."""
    if version.frozen_at is not None:
        return
    session.exec(update(FrameworkVersion)
                 .where(FrameworkVersion.id == version.id, FrameworkVersion.frozen_at.is_(None))
                 .values(frozen_at=now or utcnow())
                 .execution_options(synchronize_session=False))


def copy_current(session: Session, source: Campaign, campaign: Campaign, actor: User | None) -> str:
    """Give a copied campaign the source's current framework as its version 1 (not frozen); '' when none."""
    version = current_version(session, source)
    if version is None:
        return ""
    session.add(FrameworkVersion(campaign_id=campaign.id, version=1, title=version.title,
                                 source_name=version.source_name, document=version.document,
                                 is_sample=version.is_sample, is_current=True,
                                 imported_by_id=actor.id if actor else None))
    return f"bộ tiêu chí “{version.title}” (phiên bản {version.version} → 1)"

