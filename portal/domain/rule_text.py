"""Text keys the respondent rules share: cached cleaning and folding, punctuation folded away, loose phrase
forms, bounded memos and the quotes of the messages.

Used by the row check (`respondent_rules`), the units (`unit_rules`) and the phones (`phone_rules`).
"""

from __future__ import annotations

import functools
import re

from portal.domain.text import clean, fold

# Cells that repeat down a list (groups, units, titles) are cleaned and folded once. The caches are
# small on purpose: a province's list holds a few groups, some hundreds of units and rarely more than a
# couple of thousand distinct titles, while a file whose titles all differ would fill a longer cache with
# values never met again, kept in every worker until the next import clears it (names, mailboxes and
# phones, one per person, are not cached at all).
CELL_CACHE = 2048
VALUE_CACHE = 2048
cached_clean = functools.lru_cache(maxsize=CELL_CACHE)(clean)
cached_fold = functools.lru_cache(maxsize=CELL_CACHE)(fold)

_BREAKS = re.compile(r"\s*[-–—,;:()\[\]/|\\+]\s*")
_NON_WORD = re.compile(r"[^\w|]+")
_ANY_NON_WORD = re.compile(r"\W+")


def fold_punct(text: str, breaks: bool) -> str:
    """Folded text with punctuation as spaces; with `breaks`, separators (dashes, commas, brackets, slashes)
    kept as " | " markers and "&" read as "và"."""
    s = cached_fold(text)
    if not breaks and "  " not in s and s.replace(" ", "").isalnum():
        # Words and single spaces (most titles): the pass below would replace each space by a space.
        return s
    s = s.replace("&", " va ")
    if not breaks:
        # Every break is a run of non-word characters too: without the "|" markers, one pass does.
        return _ANY_NON_WORD.sub(" ", s)
    return _NON_WORD.sub(" ", _BREAKS.sub(" | ", s))


class Phrases:
    """Loose phrase forms of folded text ("uy ban nhan dan" -> "ubnd"), replaced in one pass of one regex.

    No phrase overlaps another (none ends with the start of another, or holds another), and no replacement
    forms a phrase with its neighbours, so one pass gives what replacing each phrase in turn gave.
    """

    def __init__(self, forms: dict[str, str]) -> None:
        self._forms = forms
        self._pattern = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in forms) + r")\b")

    def sub(self, text: str) -> str:
        # Titles nearly all hold a phrase ("truong phong", "giam doc"): looking for their first words before
        # the pass cost more than the pass saved.
        return self._pattern.sub(self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        return self._forms[match.group()]


MEMO_LIMIT = 2048


def remember(memo: dict, key: object, value: object) -> None:
    """Store a memoised answer; start afresh when a long-lived process has seen too many."""
    if len(memo) >= MEMO_LIMIT:
        memo.clear()
    memo[key] = value


def quote(value: str) -> str:
    """A value quoted as the messages quote it: “value”."""
    return f"“{value}”"
