"""Survey questionnaires: the file the ministry imports, its checks, and its stored versions.

The ministry imports the official forms of Quyết định 1218/QĐ-BNV as a YAML file
(the format is documented in docs/questionnaires.md); the project ships a sample
(`portal/seed/questionnaires-2021-sample.yaml`) clearly marked as such. A file is
read with `yaml.safe_load` only, checked completely (every problem is reported,
with where it is in the file), and stored as a `QuestionnaireVersion` whose
`document` is the checked structure as JSON. Each import makes a new version;
launching the survey freezes the current one, and every answer records the
version it answered.

Everything here is plain values: the routes parse the request, call one function
and render; the respondent's pages read the forms (`answer_checks` checks what they post).
"""

from __future__ import annotations

import json
import re
import unicodedata
import weakref
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import func, update
from sqlalchemy.pool import Pool
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

# The groups the shipped 2021 sample names, for reading a file outside any campaign (a campaign's own groups, its
# RespondentGroup rows, take their place on import, and say which forms each answers).
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
# Every sample shipped; a campaign is given the first whose groups are the campaign's (the 2025 one names the
# commune leaders' group LD_XA instead of the district leaders').
SAMPLE_FILES = (SAMPLE_FILE, "questionnaires-2025-sample.yaml")


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


def sample_path(name: str = SAMPLE_FILE) -> Path:
    """A sample set shipped with the portal (marked as a sample in its title and every form)."""
    return Path(str(resources.files("portal") / "seed" / name))


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
    locality_groups: Iterable[str] | None = None,
) -> Questionnaire:
    """Read and check a questionnaire file; raises QuestionnaireError listing every problem.

    `known_groups` are the campaign's respondent group codes; `ministry_groups` those that
    also answer a form on their parent ministry (default: the 2021 groups LD_SO and LD_PHONG
    among the known ones); `locality_groups` those that answer a locality form (default: all).
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
    return check_content(content, known_groups=known_groups, ministry_groups=ministry_groups,
                         locality_groups=locality_groups, root=root)


def check_content(content: Any, **options: Any) -> Questionnaire:
    """Check a questionnaire already read into plain values (what `yaml.safe_load` gives, or what a workbook
    reads into the same shape); raises QuestionnaireError listing every problem. The checks and their options
    are in portal/domain/questionnaire_checks.py."""
    # Imported here: the checks build on this module's structure.
    from portal.domain.questionnaire_checks import check_content as check

    return check(content, **options)


def clean_block(value: str) -> str:
    """Text of several lines: NFC, lines trimmed, at most one blank line in a row."""
    lines = [clean(line) for line in unicodedata.normalize("NFC", value).replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def fmt(number: float) -> str:
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
# Keyed by the database's pool too: tests (and a CLI pointed elsewhere) open several databases in one process,
# and the pool (not the engine) is what the respondent pages' autocommit engine shares with the others.
_FROZEN: weakref.WeakKeyDictionary[Pool, dict[int, Questionnaire]] = weakref.WeakKeyDictionary()


def load_frozen(session: Session, version_id: int) -> Questionnaire:
    """The questionnaire of a version invitations point to, parsed once per process when frozen."""
    pool = session.get_bind().pool
    cached = _FROZEN.get(pool, {}).get(version_id)
    if cached is not None:
        return cached
    version = session.get(QuestionnaireVersion, version_id)
    questionnaire = load(version)
    if version.frozen_at is not None:
        _FROZEN.setdefault(pool, {})[version_id] = questionnaire
    return questionnaire


def group_labels(session: Session, campaign: Campaign) -> dict[str, str]:
    """The campaign's group codes with the labels people read ("2. Lãnh đạo cấp sở")."""
    groups = session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id)
                          .order_by(RespondentGroup.number)).all()
    return {g.code: g.label for g in groups}


def campaign_groups(
    session: Session, campaign: Campaign
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The campaign's group codes, those answering the ministry form and those answering the locality form
    (the sample's groups for a campaign made by hand without any)."""
    groups = session.exec(select(RespondentGroup).where(RespondentGroup.campaign_id == campaign.id)
                          .order_by(RespondentGroup.number)).all()
    if not groups:
        return DEFAULT_GROUPS, DEFAULT_MINISTRY_GROUPS, DEFAULT_GROUPS
    return (tuple(g.code for g in groups), tuple(g.code for g in groups if g.answers_ministry_form),
            tuple(g.code for g in groups if g.answers_locality_form))


def problems_with_groups(session: Session, campaign: Campaign) -> list[str]:
    """Why the campaign's current questionnaire does not fit its groups as they now are (empty when it does):
    a form naming a group the campaign no longer has, a group without the form its data says it answers."""
    version = current_version(session, campaign)
    if version is None:
        return []
    questionnaire = load(version)
    known, ministry, locality = campaign_groups(session, campaign)
    problems = [f"{TARGET_LABELS[form.target]} “{form.title}” ghi nhóm “{code}”, đợt không có nhóm này."
                for form in questionnaire.forms for code in form.groups if code not in known]
    for code in known:
        for target, needed in (("locality", code in locality), ("ministry", code in ministry)):
            if needed and not any(f.target == target and code in f.groups for f in questionnaire.forms):
                problems.append(f"Nhóm “{code}” chưa có phiếu {TARGET_LABELS[target].lower()} trong bộ phiếu hiện "
                                "hành.")
    return problems


def parse_file(data: bytes, filename: str, *, known_groups: Iterable[str] = DEFAULT_GROUPS,
               ministry_groups: Iterable[str] | None = None,
               locality_groups: Iterable[str] | None = None) -> Questionnaire:
    """A YAML file or a filled workbook template, told apart by its bytes, read and checked by the same rules."""
    # Imported here: the workbook reader builds on this module (its checks and its document).
    from portal.domain import authoring

    if authoring.is_workbook(data):
        return authoring.read_questionnaire_workbook(data, filename, known_groups=known_groups,
                                                     ministry_groups=ministry_groups,
                                                     locality_groups=locality_groups)
    return parse_questionnaire(data, filename, known_groups=known_groups, ministry_groups=ministry_groups,
                               locality_groups=locality_groups)


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
    known, ministry, locality = campaign_groups(session, campaign)
    questionnaire = parse_file(data, filename, known_groups=known, ministry_groups=ministry,
                               locality_groups=locality)
    return document_versions.store_version(
        session, QuestionnaireVersion, current, user=user, campaign=campaign, title=questionnaire.title,
        document=to_document(questionnaire), is_sample=questionnaire.is_sample, filename=filename, now=now,
        error=QuestionnaireError, frozen_message=FROZEN_MESSAGE,
        race_message="Một bộ phiếu khác vừa được nhập cùng lúc. Vui lòng tải lại trang rồi thử lại.",
        audit_action="Nhập bộ phiếu khảo sát", audit_detail=lambda number: f"Phiên bản {number}: {questionnaire.title}")


def load_sample(session: Session, campaign: Campaign, user: User | None = None) -> QuestionnaireVersion:
    """The campaign's current version, importing the shipped sample first when it has none (idempotent).

    The sample is the first shipped one that fits the campaign's groups (2021's, or 2025's with commune leaders).
    """
    current = current_version(session, campaign)
    if current is not None:
        return current
    path = sample_path()
    known, ministry, locality = campaign_groups(session, campaign)
    for name in SAMPLE_FILES:
        try:
            parse_questionnaire(sample_path(name).read_bytes(), name, known_groups=known, ministry_groups=ministry,
                                locality_groups=locality)
        except QuestionnaireError:
            continue
        path = sample_path(name)
        break
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
