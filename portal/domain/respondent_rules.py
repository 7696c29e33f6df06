"""Rules that check a province's list of survey respondents (sociological survey, PAR Index).

Pure module: plain dataclasses in, plain dataclasses out; no Flask, no database.
An import checks each row as it reads it (:func:`check_rows`) and then runs :func:`check_list`
over the rows sharing a name or a mailbox; an edit runs :func:`check_list` over the rows it can
affect. So the checks are cheap: lookup tables are built once per ``ProvinceRefs`` (cached by
value), loose matches of units, positions and groups are memoised on those tables, the cells
that repeat (titles, units, groups) are normalised once, ordinary phones and ASCII e-mail addresses
skip the splitting, stripping and the (slower) email_validator call, and the phrase forms are one
regex pass.
Which unit a cell names is `unit_rules`' (the index kept as ``_Index.units``), the phone rule is
`phone_rules`', the name and mailbox rules `name_email_rules`', and the text keys all of them share are in
`rule_text`.

Decisions worth knowing (see also the docstrings below):

* Names are NFC, trimmed, single-spaced; a name typed ALL IN CAPITALS is turned into
  "Nguyễn Văn A" form (other casings are kept as typed).
* What a group's unit is comes from the group's data (``GroupRef.unit_kind``, see
  portal/domain/group_kinds.py), never from its code: a council group's position column is free
  text and its unit column optional free text; a department or division group names a
  department; a district or commune group a lower-level unit of the campaign's map; a group
  of kind "none" optional free text. The group flagged ``council_priority`` wins overlaps.
* Same person = same folded full name and (same e-mail or same phone); never name and
  unit alone: namesakes in one unit are common. Rows with the same name and unit but
  different contacts are both kept, each with a warning the officer can dismiss (the
  dismissed pairs are passed back in by their ``namesake_key``). The council row
  wins over any other group; otherwise the lower group number wins (2 before 3 before
  4); within a group the first row wins.
* "Giám đốc/Phó Giám đốc" followed by a unit under the department ("Giám đốc Trung tâm
  …", "Phó Giám đốc Bệnh viện …") counts as division level, i.e. the group listing
  "Trưởng phòng".
* The same person in groups 2/3/4 at once keeps the lower group number (the more senior
  role: a deputy director who also heads a division is surveyed as a director).
* "Trưởng ban/Phó Trưởng ban" is a group 2 position in a Ban (Ban Dân tộc), and division
  level elsewhere ("Trưởng ban Quản lý dự án" of a Sở).
* Rows are never removed for being blank: a blank row gets its "required" errors (use
  :func:`is_blank` to skip blank spreadsheet lines on import).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from portal.domain import group_kinds, name_email_rules, phone_rules
from portal.domain.rule_text import VALUE_CACHE, Phrases, cached_clean, cached_fold, fold_punct, quote, remember
from portal.domain.text import clean, fold
from portal.domain.unit_rules import DEPARTMENT_WORDS, UNIT_KIND_TEXT, DepartmentRef, DistrictRef, UnitIndex, remove_seq

__all__ = [
    "COLUMNS",
    "COL_EMAIL",
    "COL_GROUP",
    "COL_NAME",
    "COL_PHONE",
    "COL_POSITION",
    "COL_UNIT",
    "CheckedRow",
    "Dropped",
    "GroupRef",
    "ListCheck",
    "PositionRef",
    "Problem",
    "ProvinceRefs",
    "RowInput",
    "check_list",
    "check_rows",
    "search_text",
    "default_groups_2021",
    "identity_keys",
    "is_blank",
    "is_council_group",
    "namesake_key",
    "parse_common_forms",
]

# --------------------------------------------------------------------------------------
# Column headers (as in the ministry's template) and value keys
# --------------------------------------------------------------------------------------

COL_NAME = "Họ và tên"
COL_POSITION = "Chức vụ"
COL_GROUP = "Nhóm đối tượng"
COL_UNIT = "Cơ quan/đơn vị"
COL_EMAIL = "Email công vụ"
COL_PHONE = "Số điện thoại"
COL_NOTE = "Ghi chú"

#: value key -> column header
COLUMNS: dict[str, str] = {
    "full_name": COL_NAME,
    "position": COL_POSITION,
    "group": COL_GROUP,
    "unit": COL_UNIT,
    "email": COL_EMAIL,
    "phone": COL_PHONE,
    "note": COL_NOTE,
}

Level = Literal["error", "warning", "notice"]  # a warning asks the officer to look; it never blocks sending

# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionRef:
    """A position of a respondent group and the forms people write it in."""

    title: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupRef:
    """A respondent group (1 council deputies, 2 department leaders, …).

    ``unit_kind`` says what unit its respondents name (group_kinds.UNIT_KINDS); a council group takes
    any position, and so does a group given no positions. ``council_priority`` marks the group whose
    row wins when one person is listed twice. Both come from the campaign's data; a group built
    without them (``unit_kind`` empty, ``council_priority`` None) has them inferred from its name and
    positions (group_kinds.infer_unit_kind).
    """

    code: str
    number: int
    name: str
    answers_ministry_form: bool
    positions: tuple[PositionRef, ...] = ()
    unit_kind: str = ""
    council_priority: bool | None = None


@dataclass(frozen=True)
class ProvinceRefs:
    """Everything the rules need to know about one province."""

    province_name: str
    is_centrally_run_city: bool
    groups: tuple[GroupRef, ...]
    departments: tuple[DepartmentRef, ...]
    # The province's lower-level units in the campaign's map (districts in 2021, wards and communes from
    # 2025) and their kind: "district", "commune" or "" (none).
    districts: tuple[DistrictRef, ...]
    unit_kind: str = "district"


@dataclass(frozen=True)
class RowInput:
    """One respondent row as typed: ``values`` keyed by :data:`COLUMNS` keys."""

    key: int
    number: int
    values: dict[str, str]
    # value key -> formula text, for cells of a workbook that held a formula (never evaluated)
    formulas: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A message about a row; ``message`` is complete Vietnamese text, plain (not HTML)."""

    number: int
    column: str | None
    message: str
    level: Level = "error"
    namesake_key: str | None = None  # on a namesake warning: the key that dismisses it
    add_department: str | None = None  # on an unknown department: the name the province may add to its list


@dataclass
class CheckedRow:
    """A row that stays in the list, normalised, with its own problems."""

    key: int
    number: int
    full_name: str
    position: str
    group_code: str | None
    department_id: int | None
    district_id: int | None
    unit: str
    email: str
    phone: str
    note: str
    ministry_code: str | None
    answers_ministry_form: bool
    problems: list[Problem] = field(default_factory=list)
    # Set when another kept row has the same name and unit but other contacts: the pair's key,
    # which the officer may dismiss ("two different people").
    namesake_key: str | None = None
    # The folded full name rows are compared by (same person, namesakes, one mailbox for two people).
    name_key: str = field(default="", compare=False)

    @property
    def has_errors(self) -> bool:
        """True when at least one problem of the row is an error."""
        return any(p.level == "error" for p in self.problems)


@dataclass(frozen=True)
class Dropped:
    """A row removed because it repeats a person kept in another row."""

    key: int
    number: int
    kept_key: int
    kept_number: int
    message: str


@dataclass
class ListCheck:
    """Result of :func:`check_list`.

    ``notices`` holds every informational message: the row-level ones (also found in
    that row's ``problems``) and the merge messages (whose rows are in ``dropped``).
    """

    rows: list[CheckedRow]
    dropped: list[Dropped] = field(default_factory=list)
    notices: list[Problem] = field(default_factory=list)
    group_codes: tuple[str, ...] = ()

    @property
    def problems(self) -> list[Problem]:
        """All problems of the kept rows (errors and row notices), in row order."""
        return [p for row in self.rows for p in row.problems]

    @property
    def errors(self) -> list[Problem]:
        """Only the error-level problems."""
        return [p for row in self.rows for p in row.problems if p.level == "error"]

    @property
    def error_count(self) -> int:
        """Number of error-level problems; the list can be sent only when it is 0."""
        return sum(1 for row in self.rows for p in row.problems if p.level == "error")

    def counts_by_group(self) -> dict[str, int]:
        """Kept rows per group code (every known group listed, rows without a group left out)."""
        counts = dict.fromkeys(self.group_codes, 0)
        for row in self.rows:
            if row.group_code is not None:
                counts[row.group_code] = counts.get(row.group_code, 0) + 1
        return counts


# --------------------------------------------------------------------------------------
# The 2021 reference data (mirrors shared/reference/*-2021.csv)
# --------------------------------------------------------------------------------------

_ANY_TITLE_PREFIX = "any title"

# (code, number, name, unit kind, answers_ministry_form, ((title, common_forms), …))
_GROUPS_2021: tuple[tuple[str, int, str, str, bool, tuple[tuple[str, str], ...]], ...] = (
    (
        "HDND", 1, "Đại biểu Hội đồng nhân dân cấp tỉnh", group_kinds.COUNCIL, False,
        (("Đại biểu HĐND tỉnh", "any title: a deputy often lists a main job"),),
    ),
    (
        "LD_SO", 2, "Lãnh đạo cấp sở", group_kinds.DEPARTMENT, True,
        (
            ("Giám đốc Sở", "Giám đốc; GĐ; Quyền Giám đốc; Q. Giám đốc"),
            ("Phó Giám đốc Sở", "Phó Giám đốc; PGĐ; P. Giám đốc"),
            ("Chánh Thanh tra tỉnh", "Chánh Thanh tra; Chánh Thanh tra thành phố"),
            ("Phó Chánh Thanh tra tỉnh", "Phó Chánh Thanh tra"),
            ("Chánh Văn phòng UBND tỉnh", "Chánh Văn phòng UBND; Chánh VP UBND"),
            ("Phó Chánh Văn phòng UBND tỉnh", "Phó Chánh Văn phòng UBND; Phó Chánh VP UBND"),
            ("Trưởng Ban Dân tộc", "Trưởng ban"),
            ("Phó Trưởng Ban Dân tộc", "Phó Trưởng ban"),
        ),
    ),
    (
        "LD_PHONG", 3, "Lãnh đạo cấp phòng thuộc sở", group_kinds.DIVISION, True,
        (
            ("Trưởng phòng", "TP; Trưởng phòng …; Quyền Trưởng phòng"),
            ("Phó Trưởng phòng", "PTP; Phó phòng; Phó Trưởng phòng …"),
            ("Chánh Văn phòng Sở", "Chánh Văn phòng"),
            ("Phó Chánh Văn phòng Sở", "Phó Chánh Văn phòng"),
            ("Chánh Thanh tra Sở", "Chánh Thanh tra"),
            ("Phó Chánh Thanh tra Sở", "Phó Chánh Thanh tra"),
            ("Chi cục trưởng", "Chi cục trưởng Chi cục …"),
            ("Phó Chi cục trưởng", "Phó Chi cục trưởng Chi cục …"),
        ),
    ),
    (
        "LD_HUYEN", 4, "Lãnh đạo UBND cấp huyện", group_kinds.DISTRICT, False,
        (
            ("Chủ tịch UBND huyện",
             "Chủ tịch UBND; Chủ tịch UBND quận / thị xã / thành phố thuộc tỉnh; CT UBND"),
            ("Phó Chủ tịch UBND huyện",
             "Phó Chủ tịch UBND; PCT UBND; Phó Chủ tịch UBND quận / thị xã / thành phố thuộc tỉnh"),
        ),
    ),
)


def parse_common_forms(text: str) -> tuple[str, ...]:
    """Split a ``common_forms`` cell of positions-2021.csv into aliases.

    Items are separated by ``;``. A cell that describes instead of listing ("any title:
    …", used for council deputies) gives no alias. "…" placeholders are kept; the
    matcher reads every alias as "followed by anything" anyway.
    """
    text = clean(text)
    if not text or fold(text).startswith(_ANY_TITLE_PREFIX):
        return ()
    return tuple(part for part in (clean(p) for p in text.split(";")) if part)


def default_groups_2021() -> tuple[GroupRef, ...]:
    """The four 2021 respondent groups with their positions (for tests and seed code)."""
    return tuple(
        GroupRef(
            code=code,
            number=number,
            name=name,
            answers_ministry_form=ministry,
            positions=tuple(PositionRef(title, parse_common_forms(forms)) for title, forms in positions),
            unit_kind=kind,
            council_priority=kind == group_kinds.COUNCIL,
        )
        for code, number, name, kind, ministry, positions in _GROUPS_2021
    )


def unit_kind_of(group: GroupRef) -> str:
    """The group's unit kind: its data, or inferred from its name and positions when built without it."""
    if group.unit_kind:
        return group.unit_kind
    return group_kinds.infer_unit_kind(group.name, (_position_key(p.title) for p in group.positions))


def is_council_group(group: GroupRef) -> bool:
    """True for the group whose row wins when one person is listed in two groups (the council's)."""
    if group.council_priority is not None:
        return group.council_priority
    return unit_kind_of(group) == group_kinds.COUNCIL


def identity_keys(raw_name: str, raw_email: str) -> tuple[str, str]:
    """The folded name and the normalised e-mail a row is compared with other rows by.

    Two rows can affect each other's check only when they share one of these (same person, namesakes,
    one mailbox for two people), so an edit re-checks the rows that share the old or the new keys.
    """
    return fold(name_email_rules.normalise_name(raw_name)[0]), name_email_rules.normalise_email(raw_email)[0]


def is_blank(row: RowInput) -> bool:
    """True when every cell of the row is empty after cleaning (a blank spreadsheet line)."""
    return not any(clean(v) for v in row.values.values())


# --------------------------------------------------------------------------------------
# Text keys
# --------------------------------------------------------------------------------------




# Loose phrase forms shared by unit and position keys (applied on folded text).
_POSITION_PHRASES = Phrases({"uy ban nhan dan": "ubnd", "hoi dong nhan dan": "hdnd", "van phong": "vp",
                              "giam doc": "gd", "chu tich": "ct", "truong phong": "tp", "pho phong": "pho tp",
                              "thuong truc": " "})
_POSITION_WORDS = {"pgd": "pho gd", "ptp": "pho tp", "pct": "pho ct", "pcct": "pho chi cuc truong"}
_SPECIAL_FIRST_WORDS = frozenset({"p", "q", "quyen", "phu"})
_RANKS = (("pho", "chanh"), ("chanh",), ("pho", "truong"), ("truong",))
_RANK_WORDS = frozenset(rank[0] for rank in _RANKS)
_CHAIR_KEYS = (("ct", "ubnd"), ("pho", "ct", "ubnd"))
_DIRECTOR_KEYS = (("gd",), ("pho", "gd"))
_BOARD_KEYS = (("truong", "ban"), ("pho", "truong", "ban"))
# Units under a department whose head is styled "Giám đốc" (division level).
_SUB_UNITS = (
    "trung tam", "benh vien", "ban quan ly", "quy", "vien", "bao tang", "thu vien", "nha hat",
    "nha van hoa", "nha xuat ban", "dai phat thanh", "cang vu", "cong ty", "khu", "vuon quoc gia",
    "truong", "xi nghiep", "doan", "chi nhanh", "vp dang ky",
)
_NOT_CODE = re.compile(r"[\W_]+")


def clear_value_caches() -> None:
    """Empty the per-cell and per-value caches and the provinces' indexes with their memos, after an import:
    their entries, made while the rows were read, sit among the import's freed objects and keep those memory
    pages from going back to the system (35 MB of a worker after a 20,000-row upload)."""
    for cached in (cached_clean, cached_fold, _position_key, name_email_rules.email_syntax_ok, _cached_index):
        cached.cache_clear()


@functools.lru_cache(maxsize=VALUE_CACHE)
def _position_key(text: str) -> tuple[str, ...]:
    """Tokens of a position in canonical form: "P.GĐ Sở Y tế" -> ("pho", "gd", "so", "y", "te")."""
    words = _POSITION_PHRASES.sub(fold_punct(text, breaks=False).replace("…", " ").replace("_", " ")).split()
    if words and words[0] not in _SPECIAL_FIRST_WORDS and _POSITION_WORDS.keys().isdisjoint(words):
        return tuple(words)  # most titles: no short form to spell out, no "Quyền" or "Phụ trách" to drop
    tokens: list[str] = []
    for i, tok in enumerate(words):
        if tok in _POSITION_WORDS:
            tokens.extend(_POSITION_WORDS[tok].split())
        elif i == 0 and tok == "p":
            tokens.append("pho")
        elif i == 0 and tok == "q":
            tokens.append("quyen")
        else:
            tokens.append(tok)
    while tokens and tokens[0] in ("quyen", "phu"):  # "Quyền Giám đốc", "Phụ trách …"
        tokens.pop(0)
        if tokens and tokens[0] == "trach":
            tokens.pop(0)
    return tuple(tokens)


def _lower_first(text: str) -> str:
    """"Tỉnh Quảng Ninh" -> "tỉnh Quảng Ninh" (for use inside a sentence)."""
    for prefix in ("Tỉnh ", "Thành phố "):
        if text.startswith(prefix):
            return prefix.lower() + text[len(prefix):]
    return text


def _short_name(name: str) -> str:
    short = name.replace("Hội đồng nhân dân", "HĐND").replace("Ủy ban nhân dân", "UBND")
    return short.removesuffix(" cấp tỉnh")


def _msg(number: int, column: str | None, text: str) -> str:
    where = f"Dòng {number}, cột {column}" if column else f"Dòng {number}"
    text = text.rstrip()
    if not text.endswith((".", "?", "!")):
        text += "."
    return f"{where}: {text}"


# --------------------------------------------------------------------------------------
# Lookup tables for one province
# --------------------------------------------------------------------------------------

class _Index:
    """Lookup tables derived once from a ProvinceRefs."""

    def __init__(self, refs: ProvinceRefs) -> None:
        self.refs = refs
        self.groups = tuple(sorted(refs.groups, key=lambda g: g.number))
        self.by_code = {g.code: g for g in self.groups}
        self.by_number = {g.number: g for g in self.groups}
        self.province_label = _lower_first(clean(refs.province_name))
        self._build_group_words()
        self.units = UnitIndex(refs.province_name, refs.departments, refs.districts, refs.unit_kind)
        self._build_positions()

    # ---- groups ----------------------------------------------------------------------

    _GROUP_IGNORED = frozenset(
        {"cap", "tinh", "thanh", "pho", "tp", "thuoc", "cua", "nhom", "doi", "tuong", "va", "cac", "thi",
         "xa", "tx", "n"}
    )
    _GROUP_EXPAND = {
        "hdnd": ("hoi", "dong", "nhan", "dan"),
        "ubnd": ("uy", "ban", "nhan", "dan"),
        "ld": ("lanh", "dao"),
        "db": ("dai", "bieu"),
        "dbhdnd": ("dai", "bieu", "hoi", "dong", "nhan", "dan"),
        "quan": ("huyen",),
        "q": ("huyen",),
    }

    @classmethod
    def group_words(cls, text: str) -> frozenset[str]:
        words: set[str] = set()
        for tok in fold_punct(text, breaks=False).replace("_", " ").split():
            for word in cls._GROUP_EXPAND.get(tok, (tok,)):
                if word not in cls._GROUP_IGNORED:
                    words.add(word)
        return frozenset(words)

    def _build_group_words(self) -> None:
        self.group_name_words = {g.code: self.group_words(g.name) for g in self.groups}
        self.code_keys = {_NOT_CODE.sub("", fold(g.code)): g for g in self.groups}
        self.council_numbers = frozenset(g.number for g in self.groups if is_council_group(g))
        self.kinds = {g.number: unit_kind_of(g) for g in self.groups}
        # Groups whose unit is a lower-level unit of the map (district leaders in 2021, commune leaders from 2025).
        self.lower_unit_numbers = frozenset(n for n, k in self.kinds.items() if k in group_kinds.LOWER_UNIT_KINDS)
        self.group_memo: dict[str, tuple[GroupRef | None, str | None]] = {}

    def groups_from_words(self, words: frozenset[str]) -> list[GroupRef]:
        if not words:
            return []
        candidates = [g for g in self.groups if words <= self.group_name_words[g.code]]
        if len(candidates) <= 1:
            return candidates
        full = [g for g in candidates if self.group_name_words[g.code] == words]
        return full if full else candidates

    # ---- positions -------------------------------------------------------------------

    def _build_positions(self) -> None:
        # alias tokens -> {group number}; a council group takes any title and is left out.
        self.aliases: dict[tuple[str, ...], set[int]] = defaultdict(set)
        # The division group takes "Giám đốc Trung tâm …" and "Trưởng ban Quản lý dự án" of a department.
        self.division_group: GroupRef | None = next(
            (g for g in self.groups if self.kinds[g.number] == group_kinds.DIVISION), None)
        for group in self.groups:
            if self.kinds[group.number] == group_kinds.COUNCIL:
                continue
            for pos in group.positions:
                for text in (pos.title, *pos.aliases):
                    key = _position_key(text)
                    if key:
                        self.aliases[key].add(group.number)
        # The lengths of the aliases starting with each word, longest first: the longest alias a title starts
        # with is looked for among those alone.
        lengths: dict[str, set[int]] = defaultdict(set)
        for alias in self.aliases:
            lengths[alias[0]].add(len(alias))
        self.alias_lengths = {word: sorted(found, reverse=True) for word, found in lengths.items()}
        self.group_titles = {
            g.number: ", ".join(p.title for p in g.positions) for g in self.groups
        }
        self._position_memo: dict[tuple[tuple[str, ...], int | None, bool], frozenset[int]] = {}
        # A title is read against its department's name: "Chánh Văn phòng" in "Văn phòng UBND tỉnh".
        self.dept_position_keys = {d.id: _position_key(d.name) for d in self.refs.departments}

    def position_groups(
        self, key: tuple[str, ...], dept: DepartmentRef | None, has_district: bool
    ) -> frozenset[int]:
        """Group numbers (council excluded) a position fits, given the row's department and
        whether the row is in a district or commune group (where a bare "Chủ tịch" is the UBND chair)."""
        memo_key = (key, dept.id if dept else None, has_district)
        cached = self._position_memo.get(memo_key)
        if cached is None:
            cached = self._classify(key, dept, has_district)
            remember(self._position_memo, memo_key, cached)
        return cached

    def _classify(
        self, key: tuple[str, ...], dept: DepartmentRef | None, has_district: bool
    ) -> frozenset[int]:
        dept_key = self.dept_position_keys.get(dept.id) if dept else None
        rank, body = _split_rank(key)
        # "Chánh Văn phòng" in "Văn phòng UBND tỉnh" reads "Chánh Văn phòng UBND tỉnh".
        if rank and body and dept_key and len(dept_key) > len(body) and dept_key[: len(body)] == body:
            key = rank + dept_key
        # A bare "Chủ tịch"/"Phó Chủ tịch" listed in the district group is the People's Committee's.
        if key in (("ct",), ("pho", "ct")) and has_district:
            key = (*key, "ubnd")
        best: tuple[str, ...] | None = None
        for length in self.alias_lengths.get(key[0], ()) if key else ():
            if length <= len(key) and key[:length] in self.aliases:
                best = key[:length]
                break
        if best is None:
            return frozenset()
        groups = set(self.aliases[best])
        tail = key[len(best):]
        if len(groups) > 1 and dept_key is not None:
            # Same words in two groups ("Chánh Thanh tra"): heads the department itself when the
            # department is named after the body, otherwise heads a division inside a Sở.
            _, alias_body = _split_rank(best)
            leads = bool(alias_body) and dept_key[: len(alias_body)] == alias_body
            groups = {min(groups)} if leads else {max(groups)}
        if best in _CHAIR_KEYS and self._is_province_level(tail):
            return frozenset()
        if self.division_group is not None:
            if best in _DIRECTOR_KEYS:
                # "Giám đốc Trung tâm …" heads a unit under the department: division level.
                joined = " ".join(tail)
                if any(joined == s or joined.startswith(s + " ") for s in _SUB_UNITS):
                    groups = {self.division_group.number}
            elif best in _BOARD_KEYS:
                # "Trưởng ban" leads the department only in a Ban (Ban Dân tộc); "Trưởng ban Quản lý
                # dự án" of a Sở is division level.
                in_board = dept_key[:1] == ("ban",) if dept_key else (not tail or tail[:2] == ("dan", "toc"))
                if not in_board:
                    groups = {self.division_group.number}
        return frozenset(groups)

    def _is_province_level(self, tail: tuple[str, ...]) -> bool:
        """"tỉnh", "tỉnh Quảng Ninh", (in a centrally-run city) "thành phố" alone."""
        rest = list(tail)
        for seq in self.units.province_seqs:
            rest = remove_seq(rest, seq)
        if rest and rest[0] == "tinh":
            return len(rest) == 1 or len(rest) < len(tail)
        if rest in (["thanh", "pho"], ["tp"]):
            return self.refs.is_centrally_run_city or len(rest) < len(tail)
        return not rest and len(rest) < len(tail)



def _split_rank(key: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not key or key[0] not in _RANK_WORDS:
        return (), ()
    for rank in _RANKS:
        if key[: len(rank)] == rank:
            return rank, key[len(rank):]
    return (), ()


@functools.lru_cache(maxsize=16)
def _cached_index(refs: ProvinceRefs) -> _Index:
    return _Index(refs)


def _index_for(refs: ProvinceRefs) -> _Index:
    try:
        return _cached_index(refs)
    except TypeError:  # lists instead of tuples somewhere: not hashable, build afresh
        return _Index(refs)


# --------------------------------------------------------------------------------------
# Group
# --------------------------------------------------------------------------------------

# At most nine digits: a longer number is no group, and int() of thousands of digits raises (a 500, not a message).
_GROUP_NUMBER = re.compile(r"^(?:nhom|n)?\s*(\d{1,9}|iv|i{1,3})\b\s*(.*)$")
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
# A group number a spreadsheet turned into a number: "2.0".
_WHOLE_FLOAT = re.compile(r"(\d+)\.0+")


def _groups_list(index: _Index) -> str:
    return "; ".join(f"{g.number} – {g.name}" for g in index.groups)


def _label(group: GroupRef) -> str:
    return f"nhóm {group.number} ({_short_name(group.name)})"


def _resolve_group(raw: str, index: _Index) -> tuple[GroupRef | None, str | None]:
    cached = index.group_memo.get(raw)
    if cached is None:
        cached = _read_group(raw, index)
        remember(index.group_memo, raw, cached)
    return cached


def _read_group(raw: str, index: _Index) -> tuple[GroupRef | None, str | None]:
    text = cached_clean(raw)
    choices = f"ghi một trong các nhóm: {_groups_list(index)}"
    if not text:
        return None, f"chưa ghi nhóm đối tượng; {choices}"
    folded = fold_punct(text, breaks=False).strip()
    float_match = _WHOLE_FLOAT.fullmatch(cached_fold(text))
    if float_match:
        folded = float_match.group(1)
    code_key = _NOT_CODE.sub("", cached_fold(text))
    if code_key in index.code_keys:
        return index.code_keys[code_key], None
    number_match = _GROUP_NUMBER.match(folded)
    if number_match:
        token = number_match.group(1)
        number = _ROMAN[token] if token in _ROMAN else int(token)
        rest = index.group_words(number_match.group(2))
        by_number = index.by_number.get(number)
        if by_number is None:
            return None, f"không có nhóm số {number} ({quote(text)}); {choices}"
        named = index.groups_from_words(rest)
        if len(named) == 1 and named[0] is not by_number:
            return None, (
                f"{quote(text)} không rõ: số {number} là {_label(by_number)}, còn tên là "
                f"{_label(named[0])}; {choices}"
            )
        return by_number, None
    named = index.groups_from_words(index.group_words(text))
    if len(named) == 1:
        return named[0], None
    if len(named) > 1:
        options = ", ".join(_label(g) for g in named)
        return None, f"{quote(text)} có thể là {options}; ghi rõ số nhóm"
    return None, f"không nhận ra nhóm {quote(text)}; {choices}"


# --------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------


@dataclass
class _Work:
    """A row being checked, with the keys used for merging."""

    row: CheckedRow
    order: int
    group: GroupRef | None
    name_key: str
    unit_key: tuple[str, object] | None
    notices: list[Problem] = field(default_factory=list)


def _check_row(row: RowInput, order: int, index: _Index) -> _Work:
    values = row.values
    n = row.number
    errors: list[Problem] = []
    warnings: list[Problem] = []
    notices: list[Problem] = []

    def error(column: str | None, text: str, add_department: str | None = None) -> None:
        errors.append(Problem(n, column, _msg(n, column, text), "error", add_department=add_department))

    def notice(column: str | None, text: str) -> None:
        notices.append(Problem(n, column, _msg(n, column, text), "notice"))

    raw_name = values.get("full_name", "")
    if "full_name" in row.formulas and cached_clean(raw_name) == row.formulas["full_name"]:
        # A formula with no stored result: show it exactly as the file has it, never as a name.
        full_name = cached_clean(raw_name)
        error(COL_NAME, "chưa có họ tên (ô chỉ có công thức)")
    else:
        full_name, name_error = name_email_rules.normalise_name(raw_name)
        if name_error:
            error(COL_NAME, name_error)

    position = cached_clean(values.get("position", ""))
    unit_text = cached_clean(values.get("unit", ""))
    note = cached_clean(values.get("note", ""))

    email, email_error = name_email_rules.normalise_email(values.get("email", ""))
    if email_error:
        error(COL_EMAIL, email_error)

    phone, phone_error, phone_notice = phone_rules.normalise_phone(values.get("phone", ""))
    if phone_error:
        error(COL_PHONE, phone_error)
    if phone_notice:
        notice(COL_PHONE, phone_notice)

    group, group_error = _resolve_group(values.get("group", ""), index)
    if group_error:
        error(COL_GROUP, group_error)

    for key, formula in row.formulas.items():
        column = COLUMNS.get(key)
        if column is None:
            continue
        shown = cached_clean(values.get(key, ""))
        if shown and shown != formula:
            text = (f"ô là công thức {quote(formula)} trong tệp; cổng không tính công thức, đang hiện giá trị "
                    f"lưu kèm trong tệp ({quote(shown)}). Hãy kiểm tra rồi nhập lại giá trị thật")
        else:
            text = (f"ô là công thức {quote(formula)} trong tệp, không có giá trị lưu kèm; cổng không tính "
                    "công thức. Hãy nhập giá trị thật")
        warnings.append(Problem(n, column, _msg(n, column, text), "warning"))

    kind = index.kinds[group.number] if group is not None else None
    # Council deputies and groups without a unit to check: free-text unit, resolved quietly below.
    council = kind in (group_kinds.COUNCIL, group_kinds.NONE)
    department: DepartmentRef | None = None
    district: DistrictRef | None = None
    unit = unit_text
    unit_key: tuple[str, object] | None = ("text", cached_fold(unit_text)) if unit_text else None

    if group is not None and not council:
        if not unit_text:
            error(COL_UNIT, f"chưa ghi cơ quan/đơn vị (bắt buộc với {_label(group)})")
        elif kind in group_kinds.LOWER_UNIT_KINDS:
            match = index.units.match_district(unit_text)
            if match.district is not None:
                district = match.district
                unit = district.name
                if match.reinterpreted:
                    notice(COL_UNIT, f"{quote(unit_text)} được hiểu là {district.name}")
            elif match.candidates:
                names = ", ".join(d.name for d in match.candidates)
                error(COL_UNIT, f"{quote(unit_text)} khớp với nhiều đơn vị: {names}; ghi rõ tên đầy đủ")
            else:
                error(
                    COL_UNIT,
                    f"{quote(unit_text)} không phải "
                    f"{UNIT_KIND_TEXT.get(index.refs.unit_kind, 'đơn vị cấp dưới')} thuộc "
                    f"{index.province_label}",
                )
        else:
            found = index.units.match_department(unit_text)
            if len(found) == 1:
                department = found[0]
                unit = department.name
            elif found:
                names = ", ".join(d.name for d in found)
                error(COL_UNIT, f"{quote(unit_text)} khớp với nhiều cơ quan: {names}; ghi rõ một cơ quan")
            elif cached_fold(unit_text).startswith(DEPARTMENT_WORDS):
                # Provinces differ (Hà Nội's Sở Du lịch): a department the reference data lacks can be added.
                error(
                    COL_UNIT,
                    f"{quote(unit_text)} chưa có trong danh mục sở, ngành của {index.province_label}; "
                    "nếu tỉnh có cơ quan này, hãy thêm vào danh mục",
                    add_department=unit_text,
                )
            else:
                error(
                    COL_UNIT,
                    f"{quote(unit_text)} không phải sở hoặc cơ quan tương đương của {index.province_label}",
                )
    elif council and unit_text:
        # Free text for deputies; still resolved quietly so the same person can be recognised.
        found = index.units.match_department(unit_text)
        if len(found) == 1:
            unit_key = ("department", found[0].id)
        else:
            match = index.units.match_district(unit_text)
            if match.district is not None and not match.reinterpreted:
                unit_key = ("district", match.district.id)
    if department is not None:
        unit_key = ("department", department.id)
    elif district is not None:
        unit_key = ("district", district.id)

    if not position:
        error(COL_POSITION, "chưa ghi chức vụ")
    elif group is not None and kind != group_kinds.COUNCIL and group.positions:
        fits = index.position_groups(_position_key(position), department, group.number in index.lower_unit_numbers)
        if group.number not in fits:
            if fits:
                others = " hoặc ".join(_label(index.by_number[g]) for g in sorted(fits))
                error(COL_POSITION, f"chức vụ {quote(position)} thuộc {others}, không thuộc {_label(group)}")
            else:
                titles = index.group_titles.get(group.number, "")
                listing = f"; nhóm này gồm: {titles} và tương đương" if titles else ""
                error(
                    COL_POSITION,
                    f"chức vụ {quote(position)} không phải chức vụ của {_label(group)}{listing}",
                )

    answers_ministry = bool(group and group.answers_ministry_form)
    checked = CheckedRow(
        key=row.key,
        number=n,
        full_name=full_name,
        position=position,
        group_code=group.code if group else None,
        department_id=department.id if department else None,
        district_id=district.id if district else None,
        unit=unit,
        email=email,
        phone=phone,
        note=note,
        ministry_code=department.ministry_code if department and answers_ministry else None,
        answers_ministry_form=answers_ministry,
        problems=[*errors, *warnings, *notices],
    )
    if len(checked.problems) > 1:
        checked.problems.sort(key=_problem_order)
    checked.name_key = fold(full_name)
    return _Work(checked, order, group, checked.name_key, unit_key, notices)


_COLUMN_ORDER = {col: i for i, col in enumerate(COLUMNS.values())}


def _problem_order(problem: Problem) -> tuple[int, bool]:
    return _COLUMN_ORDER.get(problem.column, 99), problem.level != "error"


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _merge(works: list[_Work], index: _Index) -> tuple[list[_Work], list[Dropped], list[Problem]]:
    """Merge rows of the same person; return kept rows, dropped rows and merge notices."""
    parent = list(range(len(works)))

    def link(members: list[int]) -> None:
        first = _find(parent, members[0])
        for other in members[1:]:
            root = _find(parent, other)
            if root != first:
                parent[root] = first

    # Name and unit alone never make one person: two deputies named "Vũ Thanh Mai" in one council are two.
    by_email: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_phone: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, work in enumerate(works):
        if work.group is None or not work.name_key:
            continue
        if work.row.email:
            by_email[(work.name_key, work.row.email)].append(i)
        if work.row.phone:
            by_phone[(work.name_key, work.row.phone)].append(i)
    for members in (*by_email.values(), *by_phone.values()):
        if len(members) > 1:
            link(members)

    clusters: dict[int, list[int]] = defaultdict(list)
    for i in range(len(works)):
        clusters[_find(parent, i)].append(i)

    dropped_ids: set[int] = set()
    dropped: list[Dropped] = []
    notices: list[Problem] = []
    for members in clusters.values():
        if len(members) == 1:
            continue

        def rank(i: int) -> tuple[bool, int, int]:
            group = works[i].group
            assert group is not None
            return (group.number not in index.council_numbers, group.number, works[i].order)

        kept_i = min(members, key=rank)
        kept = works[kept_i]
        assert kept.group is not None
        for i in sorted(members, key=lambda m: works[m].order):
            if i == kept_i:
                continue
            gone = works[i]
            assert gone.group is not None
            message = _merge_message(gone, kept, index)
            if gone.row.phone and not kept.row.phone:
                kept.row.phone = gone.row.phone
                message += (
                    f" Đã chuyển số điện thoại {quote(gone.row.phone)} từ dòng {gone.row.number} "
                    f"sang dòng {kept.row.number}."
                )
            dropped_ids.add(i)
            dropped.append(Dropped(gone.row.key, gone.row.number, kept.row.key, kept.row.number, message))
            notices.append(Problem(gone.row.number, None, message, "notice"))
    kept_works = [w for i, w in enumerate(works) if i not in dropped_ids]
    return kept_works, dropped, notices


def _merge_message(gone: _Work, kept: _Work, index: _Index) -> str:
    g, k = gone.row, kept.row
    assert gone.group is not None and kept.group is not None
    name = k.full_name
    if gone.group is kept.group:
        same_email = bool(g.email) and g.email == k.email
        why = "cùng email" if same_email else "cùng họ tên và số điện thoại"
        text = (
            f"Dòng {g.number}: {name} trùng với dòng {k.number} ({why}) trong {_label(kept.group)}; "
            f"đã bỏ dòng {g.number}, giữ dòng {k.number}."
        )
    elif kept.group.number in index.council_numbers:
        text = (
            f"Dòng {g.number}: {name} ({_label(gone.group)}) cũng là đại biểu ở dòng {k.number}; "
            f"mỗi người chỉ khảo sát một lần, giữ ở {_label(kept.group)} theo quy định, "
            f"đã bỏ dòng {g.number}."
        )
    else:
        text = (
            f"Dòng {g.number}: {name} ({_label(gone.group)}) cũng có ở dòng {k.number} "
            f"({_label(kept.group)}); mỗi người chỉ khảo sát một lần, giữ ở nhóm xếp trước "
            f"({_label(kept.group)}), đã bỏ dòng {g.number}."
        )
    if g.email and k.email and g.email != k.email:
        text += (
            f" Email ở dòng {g.number} ({quote(g.email)}) khác email ở dòng {k.number} "
            f"({quote(k.email)}); hãy kiểm tra hộp thư công vụ của người này."
        )
    return text


def _flag_shared_emails(works: list[_Work]) -> None:
    """One mailbox written for two different people: an error on every such row."""
    by_email: dict[str, list[_Work]] = defaultdict(list)
    for work in works:
        if work.row.email and work.name_key:
            by_email[work.row.email].append(work)
    for email, members in by_email.items():
        if len({w.name_key for w in members}) < 2:
            continue
        for work in members:
            others = ", ".join(
                f"dòng {o.row.number} ({o.row.full_name})" for o in members if o.name_key != work.name_key
            )
            n = work.row.number
            text = (
                f"địa chỉ {quote(email)} cũng được ghi cho người khác: {others}; "
                "mỗi người cần một hộp thư công vụ riêng"
            )
            problem = Problem(n, COL_EMAIL, _msg(n, COL_EMAIL, text), "error")
            problems = work.row.problems
            email_order = _COLUMN_ORDER[COL_EMAIL]
            at = next(
                (i for i, p in enumerate(problems) if _COLUMN_ORDER.get(p.column, 99) > email_order),
                len(problems),
            )
            problems.insert(at, problem)


def namesake_key(name_key: str, unit_key: tuple[str, object], contacts: list[str]) -> str:
    """The key of a set of rows that only look alike: the folded name, the unit and each row's contact.

    A dismissal is kept under this key, so it lasts through edits and re-uploads of the same rows and
    lapses when a contact changes (then the rows may be one person after all).
    """
    kind, value = unit_key
    return f"{name_key}|{kind}:{value}|" + ",".join(sorted(contacts))


def _flag_namesakes(works: list[_Work], dismissed: frozenset[str]) -> None:
    """Rows kept apart that share name and unit: a warning on each, unless the officer dismissed it."""
    by_name_unit: dict[tuple[str, tuple[str, object]], list[_Work]] = defaultdict(list)
    for work in works:
        if work.group is not None and work.name_key and work.unit_key is not None:
            by_name_unit[(work.name_key, work.unit_key)].append(work)
    for (name_key, unit_key), members in by_name_unit.items():
        if len(members) < 2:
            continue
        key = namesake_key(name_key, unit_key,
                           [w.row.email or w.row.phone or f"#{w.row.number}" for w in members])
        if key in dismissed:
            continue
        for work in members:
            others = ", ".join(f"dòng {o.row.number}" for o in members if o is not work)
            n = work.row.number
            text = (f"cùng họ tên và cơ quan/đơn vị với {others} nhưng khác email và số điện thoại, nên được "
                    "giữ là hai người khác nhau. Nếu đúng là một người, hãy xóa dòng thừa")
            work.row.problems.append(Problem(n, COL_NAME, _msg(n, COL_NAME, text), "warning", key))
            work.row.namesake_key = key


def search_text(row: CheckedRow) -> str:
    """The row's name, email, unit and position folded into one line, what the searches of a list look in:
    `fold` of the four joined, made of the folds the check already has (the name key, the cached units
    and positions) rather than folding the whole line again."""
    parts = (row.name_key, fold(row.email), cached_fold(row.unit), cached_fold(row.position))
    return " ".join([part for part in parts if part])


def check_rows(rows: Iterable[RowInput], refs: ProvinceRefs) -> Iterator[CheckedRow]:
    """Check and normalise each row on its own, as it comes, with none of the rules between rows.

    Rows depend on each other only through a shared folded name (same person, namesakes) or a shared
    mailbox among named rows (one mailbox for two people; see `identity_keys`): a row sharing neither with
    any other row comes out of :func:`check_list` exactly as it comes out of here. An import checks a long
    list this way, as it reads it, then runs `check_list` over the rows that do share a name or a mailbox.
    """
    index = _index_for(refs)
    for order, row in enumerate(rows):
        yield _check_row(row, order, index).row


def check_list(rows: list[RowInput], refs: ProvinceRefs,
               dismissed_namesakes: frozenset[str] = frozenset()) -> ListCheck:
    """Check and normalise a province's whole respondent list.

    Every row is checked in full (one error never hides another); then rows of the same
    person are merged (council role first, then the lower group number, then the first
    row), rows that only look alike get a warning (unless their key is in
    `dismissed_namesakes`) and a mailbox written for two different people is flagged on
    both rows.
    """
    index = _index_for(refs)
    works = [_check_row(row, order, index) for order, row in enumerate(rows)]
    kept, dropped, merge_notices = _merge(works, index)
    _flag_namesakes(kept, dismissed_namesakes)
    _flag_shared_emails(kept)
    notices = [p for w in kept for p in w.notices] + merge_notices
    notices.sort(key=lambda p: p.number)
    return ListCheck(
        rows=[w.row for w in kept],
        dropped=dropped,
        notices=notices,
        group_codes=tuple(g.code for g in index.groups),
    )
