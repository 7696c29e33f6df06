"""What a respondent list adds up to (people per group and parent ministry, errors left), kept with the list.

The review page shows these counts after every edit (the province's home and the ministry's page of one list
show them too): added up from the rows, they cost a read of the whole list (12 ms for 20,000 rows on
PostgreSQL right after an import), so that editing one row grew with the list. The list keeps them instead
(`RespondentList.tally`), with the version of the list they describe (`tally_version`). Every version bump
below is made in SQL from the stored row (`version + 1`), never from the value a request read:

- an import and a check of the whole list store what they counted, if the list is still at the version
  they read (else its rows are counted);
- an edit adds the change of the rows it wrote (uncounted as they were, counted as they are) in the UPDATE
  that bumps the version, only if nobody else changed the list since this request read it; otherwise it
  counts the rows again (`bump_after_rows`);
- a change that moves no row (sending, returning) carries a current tally to the next version (`carry`);
- any other change bumps the version without touching the tally, which then no longer matches and is not
  used: the counts are read from the rows (`tally_of`) until the next import, check or edit.

So a stored tally is never trusted beyond the version it was made for, and sending a list checks its errors
from the rows themselves (`lists.send_list`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, false, func, inspect, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from portal.models import Respondent, RespondentList

if TYPE_CHECKING:
    from datetime import datetime

# A row's place in the summary: its group, whether it answers the parent ministry's form, that ministry.
Key = tuple[int | None, bool, int | None]


class ListTally:
    """People, errors and rows with errors, per (group, answers the ministry's form, ministry)."""

    def __init__(self, counts: dict[Key, list[int]] | None = None) -> None:
        self.counts: dict[Key, list[int]] = counts if counts is not None else {}

    def add(self, key: Key, errors: int, rows: int = 1) -> None:
        """Count `rows` rows of `key` with `errors` errors each (negative: uncount them)."""
        people, error_sum, with_errors = self.counts.get(key, (0, 0, 0))
        self.counts[key] = [people + rows, error_sum + rows * errors, with_errors + rows * (errors > 0)]

    def add_person(self, person: Respondent, rows: int = 1) -> None:
        """Count a stored row as it stands now (`rows` -1: uncount it)."""
        self.add(key_of(person), person.error_count, rows)

    def merged(self, change: ListTally) -> ListTally:
        """This tally with `change` added (a new tally; keys left with nobody are dropped)."""
        counts = {key: list(values) for key, values in self.counts.items()}
        for key, (people, error_sum, with_errors) in change.counts.items():
            old = counts.get(key, [0, 0, 0])
            counts[key] = [old[0] + people, old[1] + error_sum, old[2] + with_errors]
        return ListTally({key: values for key, values in counts.items() if values[0]})

    def to_json(self) -> str:
        rows = sorted(([g, t, m, *values] for (g, t, m), values in self.counts.items() if values[0]),
                      key=lambda row: (row[0] or 0, row[1], row[2] or 0))
        return json.dumps(rows, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ListTally:
        return cls({(g, bool(t), m): [people, errors, with_errors]
                    for g, t, m, people, errors, with_errors in json.loads(text)})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ListTally) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"ListTally({self.to_json()})"


def key_of(person: Respondent) -> Key:
    return (person.group_id, bool(person.answers_ministry_form), person.ministry_id)


def count_rows(session: Session, list_id: int) -> ListTally:
    """The tally read from the list's rows (one pass over ix_respondent_list_summary)."""
    tally = ListTally()
    for group_id, two_forms, ministry_id, people, error_sum, with_errors in session.exec(
            select(Respondent.group_id, Respondent.answers_ministry_form, Respondent.ministry_id, func.count(),
                   func.coalesce(func.sum(Respondent.error_count), 0), func.count().filter(Respondent.error_count > 0))
            .where(Respondent.list_id == list_id)
            .group_by(Respondent.group_id, Respondent.answers_ministry_form, Respondent.ministry_id)).all():
        tally = tally.merged(ListTally({(group_id, bool(two_forms), ministry_id):
                                        [int(people), int(error_sum), int(with_errors)]}))
    return tally


def stored(rlist: RespondentList, version: int | None = None) -> ListTally | None:
    """The list's kept tally if it describes the list at `version` (by default, as it is now), else None."""
    if rlist.tally is None or rlist.tally_version != (rlist.version if version is None else version):
        return None
    return ListTally.from_json(rlist.tally)


def tally_of(session: Session, rlist: RespondentList) -> ListTally:
    """The list's tally: the kept one when it is current, else counted from the rows."""
    kept = stored(rlist)
    return kept if kept is not None else count_rows(session, rlist.id)


def carry(session: Session, rlist: RespondentList) -> None:
    """Bump the list's version for a change that moves no row (a return, an extension): a tally current in
    the stored row stays current. In SQL, from the row as stored, not as this request read it: a change
    committed meanwhile (a department renamed, which retires the tally) is not undone."""
    statement = (update(RespondentList).where(RespondentList.id == rlist.id)
                 .values(version=RespondentList.version + 1,
                         tally_version=case((RespondentList.tally_version == RespondentList.version,
                                             RespondentList.version + 1), else_=None))
                 .returning(RespondentList.version, RespondentList.tally_version))
    version, tally_version = session.execute(statement).one()
    set_committed_value(rlist, "version", version)
    set_committed_value(rlist, "tally_version", tally_version)


def carried_version(read_version: int) -> Any:
    """The tally version for a conditional UPDATE that takes the list from `read_version` to the next without
    moving rows (sending it): still current if it was."""
    return case((RespondentList.tally_version == read_version, read_version + 1), else_=None)


def read_version(rlist: RespondentList) -> int | None:
    """The version this request read the list at, before reading its rows; None if the object was expired
    since (reading it now would be later than the rows were read)."""
    return None if "version" in inspect(rlist).unloaded else rlist.version


def bump_after_rows(session: Session, rlist: RespondentList, since: int | None, now: datetime, *,
                    change: ListTally | None = None, counted: ListTally | None = None, **values: Any) -> None:
    """Bump the list's version after a change of its rows (setting `values`, its other columns too) and keep
    its tally current.

    The new tally is the kept one plus `change` (the rows the edit wrote, uncounted as they were and
    counted as they are), or `counted` (a check of the whole list counted it); but only if the list is
    still at `since`, the version this request read it at, so that no other request changed rows in
    between. Otherwise, or without either, the rows are counted again here. One UPDATE with RETURNING
    decides: under PostgreSQL's row lock or SQLite's single writer, two edits cannot both find the list at
    the version they read.
    """
    proposed: ListTally | None = None
    unchanged = RespondentList.version == since
    if counted is not None:
        proposed = counted
    elif change is not None and since is not None:
        kept = stored(rlist, since)
        if kept is not None:
            proposed = kept.merged(change)
            unchanged = unchanged & (RespondentList.tally_version == since)
    if proposed is None or since is None:
        unchanged = false()
    statement = (update(RespondentList).where(RespondentList.id == rlist.id)
                 .values(version=RespondentList.version + 1, updated_at=now, **values,
                         tally=case((unchanged, proposed.to_json() if proposed else None), else_=None),
                         tally_version=case((unchanged, RespondentList.version + 1), else_=None))
                 .returning(RespondentList.version, RespondentList.tally_version, RespondentList.tally))
    version, tally_version, tally_text = session.execute(statement).one()
    if tally_version is None:
        tally_text, tally_version = count_rows(session, rlist.id).to_json(), version
        session.execute(update(RespondentList).where(RespondentList.id == rlist.id)
                        .values(tally=tally_text, tally_version=version))
    for key, value in {**values, "version": version, "updated_at": now, "tally": tally_text,
                       "tally_version": tally_version}.items():
        set_committed_value(rlist, key, value)
