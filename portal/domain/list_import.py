"""Importing a province's respondent list: read row by row, checked as it comes, written in chunks.

A list may hold 20,000 people. Holding them all at once (the sheet's rows, then their checks, then the
statement's parameters) cost a web worker over 70 MB, kept by the allocator afterwards. Here the rows
stream from the file (`spreadsheets.stream_respondent_file`) through the per-row check
(`respondent_rules.check_rows`) into the table (`bulk_rows.insert_rows`, a chunk at a time). The rules
between rows (one person in two rows, the council's priority, namesakes, one mailbox for two people) concern
only rows sharing a folded name or a mailbox: the stream notes each row's name and mailbox (as hashes), and
once every row is written the file is read again for the rows that share one, `respondent_rules.check_list`
runs over them, their rows are updated and the merged ones removed. The result is the one `check_list` gives
over the whole list.

The old draft is deleted in the same transaction, before the new rows arrive: a file refused half-way
(too many rows, a damaged record) rolls the session back, and the saved draft is as it was.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import traceback
from array import array
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from datetime import datetime
from itertools import chain, pairwise
from typing import Any

from sqlalchemy import Table, bindparam, delete, update
from sqlmodel import Session

from portal.domain import audit, bulk_rows, list_tally, lists, respondent_rules, spreadsheets
from portal.domain.text import clean
from portal.models import Campaign, Province, Respondent, RespondentList, User, utcnow

_RESPONDENT: Table = Respondent.__table__  # type: ignore[attr-defined]
_NO_FORMULAS = "{}"

Reread = Callable[[Collection[int]], Iterable[respondent_rules.RowInput]]


def import_file(
    session: Session,
    user: User,
    rlist: RespondentList,
    campaign: Campaign,
    province: Province,
    data: bytes,
    filename: str,
    *,
    tz_name: str,
    max_bytes: int = spreadsheets.DEFAULT_MAX_BYTES,
    max_rows: int = spreadsheets.DEFAULT_MAX_ROWS,
    now: datetime | None = None,
) -> lists.ImportOutcome:
    """Replace the draft with the rows of an uploaded file, checked.

    A file that cannot be read, or is refused half-way through (more than `max_rows` rows, a damaged
    record), raises ListError with the reason and rolls the session back: the saved draft stays exactly
    as it was (and so does anything else the session held uncommitted).
    """
    lists.require_editable(rlist, campaign, tz_name, now)
    if rlist.launched_at is not None:
        raise lists.ListError(lists.LAUNCHED_NO_REPLACE)
    # Reading and checking a list allocates hundreds of thousands of small objects: the cyclic collector, set
    # off by allocation counts, would walk the heap again and again to find nothing (a third of the time).
    # Reference counting frees them; one collection of the young generations follows.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _import_file(session, user, rlist, campaign, province, data, filename, max_bytes=max_bytes,
                            max_rows=max_rows, now=now)
    except spreadsheets.SpreadsheetError as problem:
        session.rollback()
        # The traceback keeps the reading frame, and with it the workbook, alive as long as the error is:
        # cleared, the sheet is freed before the memory is handed back below.
        traceback.clear_frames(problem.__traceback__)
        raise lists.ListError(problem.message) from problem
    finally:
        if collecting:
            gc.enable()
        _give_memory_back()


def _import_file(session: Session, user: User, rlist: RespondentList, campaign: Campaign, province: Province,
                 data: bytes, filename: str, *, max_bytes: int, max_rows: int,
                 now: datetime | None) -> lists.ImportOutcome:
    # The stream holds calamine's sheet (10 MB of native memory for 20,000 rows): kept in this frame only, it
    # is freed when the frame ends, before `_give_memory_back` (a trim with the sheet still alive returns
    # nothing of it, and glibc then keeps its pages once it is freed).
    stream = spreadsheets.stream_respondent_file(data, filename, max_rows=max_rows, max_bytes=max_bytes)
    outcome = _import(session, user, rlist, campaign, province, _inputs(stream.rows()),
                      lambda numbers: _inputs(stream.rows_numbered(numbers)), filename, now=now)
    outcome.example_rows_skipped = stream.example_rows_skipped
    outcome.ignored_columns = stream.ignored_columns
    return outcome


def import_rows(
    session: Session,
    user: User | None,
    rlist: RespondentList,
    campaign: Campaign,
    province: Province,
    rows: list[respondent_rules.RowInput],
    source: str,
    *,
    now: datetime | None = None,
) -> lists.ImportOutcome:
    """Check `rows` (each with its own `number`) and make them the draft, replacing the previous one in one
    transaction.

    Refused once the survey was launched to this list: people already invited keep their rows.
    """
    if rlist.launched_at is not None:
        raise lists.ListError(lists.LAUNCHED_NO_REPLACE)
    return _import(session, user, rlist, campaign, province, rows,
                   lambda numbers: [r for r in rows if r.number in numbers], source, now=now)


def _inputs(rows: Iterable[spreadsheets.SheetRow]) -> Iterator[respondent_rules.RowInput]:
    # The sheet's dicts as they are: the check reads the editable keys only (the row number, "stt", is never
    # a formula cell, see `SheetStream`).
    for r in rows:
        yield respondent_rules.RowInput(key=r.number, number=r.number, values=r.values, formulas=r.formulas)


class _Tally:
    """What the rows written so far add up to, kept as they stream past (never the rows themselves)."""

    def __init__(self, lookups: lists.Lookups) -> None:
        self.rows = 0
        self.errors = 0
        self.rows_with_errors = 0
        self.notices: list[tuple[int, str]] = []  # (row number, message): the rows' own notices
        # Rows per (group, two forms, ministry, errors) by code: the list's kept tally (`of_list`) is made
        # of it once, as lists.row_values stores the codes.
        self._kinds: Counter[tuple[str, bool, str, int]] = Counter()
        self._lookups = lookups

    def count(self, row: respondent_rules.CheckedRow, sign: int = 1) -> None:
        self.rows += sign
        errors = sum(1 for p in row.problems if p.level == "error") if row.problems else 0
        if errors:
            self.errors += sign * errors
            self.rows_with_errors += sign
        self._kinds[(row.group_code, row.answers_ministry_form, row.ministry_code, errors)] += sign

    def of_list(self) -> list_tally.ListTally:
        tally = list_tally.ListTally()
        groups, ministries = self._lookups.group_ids, self._lookups.ministry_ids
        for (group_code, two_forms, ministry_code, errors), rows in self._kinds.items():
            key = (groups.get(group_code) if group_code else None, bool(two_forms),
                   ministries.get(ministry_code) if ministry_code else None)
            tally.add(key, errors, rows)
        return tally


def _import(session: Session, user: User | None, rlist: RespondentList, campaign: Campaign, province: Province,
            rows: Iterable[respondent_rules.RowInput], reread: Reread, source: str, *,
            now: datetime | None) -> lists.ImportOutcome:
    refs = lists.province_refs(session, campaign, province)
    lookups = lists.Lookups.load(session, campaign)
    now = now or utcnow()
    tally = _Tally(lookups)
    list_id, province_id = rlist.id, rlist.province_id  # read now: the rows below are made without the session
    since = list_tally.read_version(rlist)
    shared = _SharedKeys()

    def records() -> Iterator[dict[str, Any]]:
        groups: dict[str, str] = {}
        inputs: dict[int, respondent_rules.RowInput] = {}

        def given(rows: Iterable[respondent_rules.RowInput]) -> Iterator[respondent_rules.RowInput]:
            for row in rows:
                inputs[row.key] = row  # until its check comes out, just below
                yield row

        for checked in respondent_rules.check_rows(given(rows), refs):
            row = inputs.pop(checked.key)
            tally.count(checked)
            if checked.problems:
                tally.notices += [(checked.number, p.message) for p in checked.problems if p.level == "notice"]
            record = _record(checked, row, groups, lookups, list_id, province_id, now)
            shared.add(record["row_number"], record["name_key"], record["email"])
            yield record

    # The old draft disappears only together with the new one's arrival (one transaction). While the writer
    # holds the connection, the rows are read and checked without the database: on PostgreSQL the DELETE runs
    # while the file is opened, and each chunk's COPY while the next chunk is checked.
    with bulk_rows.writing(session) as writer:
        writer.execute(delete(Respondent).where(Respondent.list_id == list_id))
        stream = records()
        first = next(stream, None)
        if first is not None:
            writer.insert(_RESPONDENT, tuple(first), (tuple(r.values()) for r in chain([first], stream)))

    check = _check_shared(session, rlist, shared, refs, reread, lookups, tally, now)
    dropped = {d.number for d in check.dropped}
    notices = [(n, m) for n, m in tally.notices if n not in dropped] + [(d.number, d.message) for d in check.dropped]
    notices.sort(key=lambda item: item[0])
    # The version goes up in SQL, and what this import counted is kept only if nobody changed the list since it
    # was read (an edit committed during the upload): otherwise its rows are counted (list_tally).
    list_tally.bump_after_rows(
        session, rlist, since, now, counted=tally.of_list(), source_filename=source[:200], uploaded_at=now,
        check_notices=json.dumps([message for _, message in notices], ensure_ascii=False),
        # A new upload replaces the draft, and with it the record of what was merged in the old one.
        merge_record=json.dumps(lists.merge_entries(check, now, f"Tải lên tệp “{source[:120]}”"),
                                ensure_ascii=False))
    audit.record(session, user, "Tải lên danh sách", province_id=rlist.province_id,
                 detail=f"{source[:120]}: {tally.rows} người, {tally.errors} lỗi, {len(check.dropped)} dòng gộp")
    session.commit()
    _release_page_cache(session)
    return lists.ImportOutcome(kept=tally.rows, dropped=len(check.dropped), errors=tally.errors,
                               rows_with_errors=tally.rows_with_errors,
                               notices=[message for _, message in notices])


def _record(checked: respondent_rules.CheckedRow, given: respondent_rules.RowInput, groups: dict[str, str],
            lookups: lists.Lookups, list_id: int, province_id: int, now: datetime) -> dict[str, Any]:
    raw_group = given.values.get("group", "")
    group = groups.get(raw_group)
    if group is None:
        group = groups[raw_group] = clean(raw_group)
    record = lists.row_values(checked, group, lookups)  # a new dict: completed in place
    record["list_id"] = list_id
    record["formula_cells"] = json.dumps(given.formulas, ensure_ascii=False) if given.formulas else _NO_FORMULAS
    record["province_id"] = province_id
    record["created_at"] = record["updated_at"] = now
    return record


class _SharedKeys:
    """Which rows share a folded name or a mailbox with another row (rows without a name left out, as the
    rules between rows leave them), noted as the rows stream past.

    Each value is kept as its hash beside its row's number, in flat arrays (a 20,000-row list: 40,000
    numbers, under a megabyte; as Python objects in sets they held seven, and kept the heap from shrinking).
    Two different values with one hash only add two rows to those checked again, which changes nothing.
    """

    def __init__(self) -> None:
        self._names, self._name_rows = array("q"), array("q")
        self._mailboxes, self._mailbox_rows = array("q"), array("q")

    def add(self, row_number: int, name_key: str, email: str) -> None:
        if not name_key:
            return
        self._names.append(hash(name_key))
        self._name_rows.append(row_number)
        if email:
            self._mailboxes.append(hash(email))
            self._mailbox_rows.append(row_number)

    def rows(self) -> set[int]:
        """The numbers of the rows whose name or mailbox another row has too."""
        shared: set[int] = set()
        for hashes, rows in ((self._names, self._name_rows), (self._mailboxes, self._mailbox_rows)):
            ordered = sorted(hashes)  # equal values side by side; a list of numbers, not a table of them
            repeated = {key for key, following in pairwise(ordered) if key == following}
            del ordered
            if repeated:
                shared.update(row for row, key in zip(rows, hashes, strict=True) if key in repeated)
        return shared


def _check_shared(session: Session, rlist: RespondentList, shared: _SharedKeys, refs: respondent_rules.ProvinceRefs,
                  reread: Reread, lookups: lists.Lookups, tally: _Tally,
                  now: datetime) -> respondent_rules.ListCheck:
    """Run the rules between rows over the rows sharing a folded name or a mailbox (`shared`), read again from
    the source; write their results, remove the merged rows, and correct the tally. Returns that check (its
    `dropped` are the merges of the import)."""
    numbers = shared.rows()
    if not numbers:
        return respondent_rules.ListCheck(rows=[])
    table = _RESPONDENT
    # The province first: ix_respondent_province_list_row finds a list's row by its number.
    where = (table.c.province_id == rlist.province_id, table.c.list_id == rlist.id)
    inputs = list(reread(numbers))
    dismissed = lists.dismissed_namesakes(rlist)
    for alone in respondent_rules.check_rows(inputs, refs):  # what the stream counted for these rows
        tally.count(alone, -1)
    check = respondent_rules.check_list(inputs, refs, dismissed)
    for row in check.rows:
        tally.count(row)
    by_key = {r.key: r for r in inputs}
    groups: dict[str, str] = {}
    changes = [{**_record(row, by_key[row.key], groups, lookups, rlist.id, rlist.province_id, now),
                "b_row_number": row.number} for row in check.rows]
    if changes:
        keys = [k for k in changes[0] if k != "b_row_number"]
        session.execute(update(table).where(*where, table.c.row_number == bindparam("b_row_number"))
                        .values({k: bindparam(k) for k in keys}), changes)
    if check.dropped:
        session.execute(delete(table).where(*where, table.c.row_number.in_([d.number for d in check.dropped])))
    return check


def _give_memory_back() -> None:
    """After a large import: collect the check's objects and hand freed heap pages back to the system, so a
    worker that read a 20,000-row file returns to its usual size (glibc keeps freed memory otherwise).

    Reference counting has freed the rows already; the young generations hold every object the import
    made that is still tracked, so collecting them finds any cycle among those without walking the
    whole process's heap (a full collection took as long as reading the file)."""
    respondent_rules.clear_value_caches()
    gc.collect(1)
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _release_page_cache(session: Session) -> None:
    """SQLite keeps the pages an import wrote and read in its connection's cache (2 MB, its default limit):
    released here, they go back to the system with `_give_memory_back`'s trim; later requests read their few
    pages again from the operating system's file cache. (PostgreSQL's cache is the server's, not ours.)"""
    if session.get_bind().dialect.name == "sqlite":  # asked of the engine: no connection taken on PostgreSQL
        session.connection().exec_driver_sql("PRAGMA shrink_memory")


def _load_libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
        return libc
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


_LIBC = _load_libc()
