"""The unit rules of a respondent list: which department, district, ward or commune of the province a
"Cơ quan/đơn vị" cell names.

People write units every way: "Sở KH&ĐT", "UBND huyện Đông Anh", "Q.1", "Phòng Tổ chức - Sở Nội vụ",
"Huyện Vân Đồn - Quảng Ninh". The text is folded into tokens (separators kept as "|" markers, acronyms of
the province's departments spelled out, the province's own name dropped) and matched against the names of
the province's units, built once per province (`UnitIndex`); each answer is memoised on the index.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from portal.domain.rule_text import Phrases, fold_punct, remember
from portal.domain.text import fold


@dataclass(frozen=True)
class DepartmentRef:
    """A department (or equivalent) of the province, with its parent ministry."""

    id: int
    name: str
    ministry_code: str
    ministry_name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class DistrictRef:
    """A district-level unit of the province, official full name ("Huyện Đông Anh")."""

    id: int
    name: str


# Loose phrase forms of unit names (applied on folded text).
_UNIT_PHRASES = Phrases({"uy ban nhan dan": "ubnd", "hoi dong nhan dan": "hdnd", "van phong": "vp",
                         "thanh pho": "tp", "thi xa": "tx", "dac khu": "dk"})
_VOWELS = frozenset("aeiouy")
_DIGITS_IN_WORD = re.compile(r"^(q|h|tx|tp|p)(\d+)$")
# What ends a province's name in a unit or a title ("tỉnh", "thành phố" as "tp").
PROVINCE_MARKERS = frozenset({"tinh", "tp"})
# Folded starts of a department's or an equivalent board's name.
DEPARTMENT_WORDS = ("so ", "ban ")

_KIND_WORDS = {"quan": "quan", "q": "quan", "huyen": "huyen", "h": "huyen", "tx": "tx", "tp": "tp"}
# Wards, communes and special zones (the 2025 map); "đặc khu" is folded to one token by _UNIT_PHRASES.
_COMMUNE_KIND_WORDS = {"xa": "xa", "x": "xa", "phuong": "phuong", "p": "phuong", "dk": "dk"}
# What a unit of each kind is called when a row names something else.
UNIT_KIND_TEXT = {"district": "quận, huyện, thị xã hoặc thành phố", "commune": "xã, phường hoặc đặc khu"}


def _is_acronym_token(tok: str) -> bool:
    return tok.isalpha() and not (_VOWELS & set(tok))


def unit_tokens(text: str, acronyms: dict[str, tuple[str, ...]]) -> list[str]:
    """Tokens of a unit name; separators kept as "|"; "KH&ĐT" -> "ke hoach va dau tu"."""
    s = _UNIT_PHRASES.sub(fold_punct(text, breaks=True))
    raw = s.split()
    tokens: list[str] = []
    i = 0
    while i < len(raw):
        tok = raw[i]
        if acronyms and _is_acronym_token(tok):
            end = i
            while end < len(raw) and (_is_acronym_token(raw[end]) or raw[end] in ("va", "|")):
                end += 1
            found = False
            for j in range(end, i, -1):
                squashed = "".join(t for t in raw[i:j] if t not in ("va", "|"))
                if squashed in acronyms:
                    tokens.extend(acronyms[squashed])
                    i = j
                    found = True
                    break
            if found:
                continue
        match = _DIGITS_IN_WORD.match(tok)
        if match:
            tokens.extend((match.group(1), match.group(2)))
        else:
            tokens.append(tok)
        i += 1
    return [t.lstrip("0") or "0" if t.isdigit() else t for t in tokens]


def _plain(tokens: list[str]) -> tuple[list[str], set[int]]:
    """Drop "|" markers; return the tokens and the indexes that follow a separator."""
    plain: list[str] = []
    breaks: set[int] = set()
    for tok in tokens:
        if tok == "|":
            breaks.add(len(plain))
        else:
            plain.append(tok)
    breaks.add(len(plain))
    return plain, breaks


def remove_seq(tokens: list[str], seq: tuple[str, ...]) -> list[str]:
    """`tokens` without each occurrence of the sequence `seq` (a province's name in a unit's or a title's)."""
    if not seq:
        return tokens
    out: list[str] = []
    i, n = 0, len(seq)
    while i < len(tokens):
        if tuple(tokens[i:i + n]) == seq:
            i += n
        else:
            out.append(tokens[i])
            i += 1
    return out


def _strip_markers(tokens: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    out = list(tokens)
    if out and out[0] == "so":
        out.pop(0)
    while out and out[-1] in PROVINCE_MARKERS:
        out.pop()
    return tuple(out)


@dataclass(frozen=True)
class DistrictMatch:
    """The unit a text names: one `district`, or several `candidates`; `reinterpreted` when the text named it
    by another kind ("Huyện Sơn Tây" for "Thị xã Sơn Tây")."""

    district: DistrictRef | None
    candidates: tuple[DistrictRef, ...] = ()
    reinterpreted: bool = False


class UnitIndex:
    """The province's departments and lower-level units, as tokens to match unit texts against; built once
    per province (the row check keeps one in its index)."""

    def __init__(self, province_name: str, departments: tuple[DepartmentRef, ...],
                 districts: tuple[DistrictRef, ...], unit_kind: str) -> None:
        self.province_name = province_name
        self.unit_kind = unit_kind
        self._department_refs = departments
        self._district_refs = districts
        self._build_departments()
        self._build_districts()

    def _build_departments(self) -> None:
        bare = fold(self.province_name).split()
        for prefix in (["thanh", "pho"], ["tinh"], ["tp"]):
            if bare[: len(prefix)] == prefix and len(bare) > len(prefix):
                bare = bare[len(prefix):]
                break
        seqs = [tuple(bare)]
        if len(bare) >= 3:
            seqs.append(("".join(w[0] for w in bare),))  # "hcm"
        self.province_seqs = tuple(s for s in seqs if s)

        # Acronyms of department names: "ke hoach va dau tu" -> "khdt" (unique ones, 3+ letters).
        # Parts between "và" or a dash count too: "Nông nghiệp và PTNT", "Lao động - TB&XH".
        acronyms: dict[str, tuple[str, ...] | None] = {}
        for dept in self._department_refs:
            for text in (dept.name, *dept.aliases):
                words = _strip_markers([t for t in unit_tokens(text, {}) if t != "|"])
                if not words or not all(_VOWELS & set(w) for w in words):
                    continue
                phrases = [words]
                part: list[str] = []
                for tok in [*_strip_markers(unit_tokens(text, {})), "|"]:
                    if tok in ("va", "|"):
                        if part and len(part) < len(words):
                            phrases.append(tuple(part))
                        part = []
                    else:
                        part.append(tok)
                for phrase in phrases:
                    acronym = "".join(w[0] for w in phrase if w not in ("va", "|"))
                    if len(acronym) < 3:
                        continue
                    if acronym in acronyms and acronyms[acronym] != phrase:
                        acronyms[acronym] = None
                    else:
                        acronyms[acronym] = phrase
        self.acronyms = {k: v for k, v in acronyms.items() if v is not None}

        self.departments = {d.id: d for d in self._department_refs}
        self.dept_keys: dict[tuple[str, ...], set[int]] = defaultdict(set)
        self.so_keys: dict[tuple[str, ...], set[int]] = defaultdict(set)
        self.other_keys: dict[tuple[str, ...], set[int]] = defaultdict(set)
        for dept in self._department_refs:
            for text in (dept.name, *dept.aliases):
                plain, _ = _plain(self._unit_tokens_no_province(text))
                key = _strip_markers(plain)
                if not key:
                    continue
                self.dept_keys[key].add(dept.id)
                if plain[0] == "so":
                    self.so_keys[key].add(dept.id)
                else:
                    self.other_keys[key].add(dept.id)
        self.max_so_key = max((len(k) for k in self.so_keys), default=0)
        self._dept_memo: dict[str, tuple[DepartmentRef, ...]] = {}

    def _unit_tokens_no_province(self, text: str) -> list[str]:
        tokens = unit_tokens(text, self.acronyms)
        for seq in self.province_seqs:
            tokens = remove_seq(tokens, seq)
        return tokens

    def match_department(self, text: str) -> tuple[DepartmentRef, ...]:
        """Departments named by a unit text: one on success, none or several otherwise."""
        cached = self._dept_memo.get(text)
        if cached is None:
            cached = self._match_department(text)
            remember(self._dept_memo, text, cached)
        return cached

    def _match_department(self, text: str) -> tuple[DepartmentRef, ...]:
        plain, breaks = _plain(self._unit_tokens_no_province(text))
        if not plain:
            return ()
        exact = self.dept_keys.get(_strip_markers(plain))
        if exact:
            return self._depts(exact)
        # Named explicitly: "… Sở Tài chính …" (the longest name after the word "Sở"), or a
        # department not called "Sở" closed by a separator or "tỉnh" ("Phòng 1 - Thanh tra tỉnh").
        found: set[int] = set()
        n = len(plain)
        for i, tok in enumerate(plain):
            if tok == "so":
                for j in range(min(n, i + 1 + self.max_so_key), i + 1, -1):
                    ids = self.so_keys.get(tuple(plain[i + 1:j]))
                    if ids:
                        found |= ids
                        break
        for key, ids in self.other_keys.items():
            size = len(key)
            for i in range(n - size + 1):
                if tuple(plain[i:i + size]) != key or (i > 0 and plain[i - 1] == "phong"):
                    continue
                j = i + size
                if j in breaks or plain[j] in PROVINCE_MARKERS:
                    found |= ids
        if found:
            return self._depts(found)
        # Otherwise one segment is a department name without "Sở" ("Tài chính - Phòng Ngân sách").
        cuts = sorted(breaks | {0})
        for start, end in zip(cuts, cuts[1:], strict=False):
            ids = self.dept_keys.get(_strip_markers(plain[start:end]))
            if ids:
                found |= ids
        return self._depts(found)

    def _depts(self, ids: set[int]) -> tuple[DepartmentRef, ...]:
        return tuple(self.departments[i] for i in sorted(ids))

    def _build_districts(self) -> None:
        self.district_names: dict[tuple[str, ...], list[tuple[str | None, DistrictRef]]] = defaultdict(list)
        self.kind_words = _COMMUNE_KIND_WORDS if self.unit_kind == "commune" else _KIND_WORDS
        for district in self._district_refs:
            kind, name = self._split_kind(unit_tokens(district.name, {}))
            if name:
                self.district_names[name].append((kind, district))
        self._district_memo: dict[str, DistrictMatch] = {}

    def _split_kind(self, tokens: list[str]) -> tuple[str | None, tuple[str, ...]]:
        plain = [t for t in tokens if t != "|"]
        while plain and plain[0] in ("ubnd", "hdnd", "va", "vp", "lanh", "dao"):
            plain.pop(0)
        if plain and plain[0] in self.kind_words:
            return self.kind_words[plain[0]], tuple(plain[1:])
        return None, tuple(plain)

    def match_district(self, text: str) -> DistrictMatch:
        """The district named by a unit text ("UBND huyện Đông Anh", "Q.1", "Đông Anh")."""
        cached = self._district_memo.get(text)
        if cached is None:
            cached = self._match_district(text)
            remember(self._district_memo, text, cached)
        return cached

    def _match_district(self, text: str) -> DistrictMatch:
        tokens = unit_tokens(text, {})
        attempts: list[list[str]] = [tokens]
        stripped = list(tokens)
        for seq in self.province_seqs:
            stripped = remove_seq(stripped, seq)
        while stripped and stripped[-1] in ("tinh", "tp", "|"):
            stripped.pop()
        attempts.append(stripped)
        # Also each segment between separators ("Huyện Vân Đồn - Quảng Ninh").
        segment: list[str] = []
        for tok in [*stripped, "|"]:
            if tok == "|":
                if segment:
                    attempts.append(segment)
                segment = []
            else:
                segment.append(tok)
        best = DistrictMatch(None)
        for attempt in attempts:
            kind, name = self._split_kind(attempt)
            entries = self.district_names.get(name, [])
            if not entries:
                continue
            same_kind = [d for k, d in entries if kind is None or k == kind]
            if len(same_kind) == 1:
                return DistrictMatch(same_kind[0])
            if not same_kind and len(entries) == 1:
                # "Huyện Sơn Tây" for "Thị xã Sơn Tây": a unit renamed on upgrade.
                best = best if best.district else DistrictMatch(entries[0][1], reinterpreted=True)
                continue
            choices = same_kind or [d for _, d in entries]
            if not best.district and not best.candidates:
                best = DistrictMatch(None, tuple(choices))
        return best
