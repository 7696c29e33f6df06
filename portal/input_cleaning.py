"""Text from outside made storable: no character that PostgreSQL refuses ever reaches the database.

PostgreSQL's text types cannot hold NUL (U+0000), and UTF-8 cannot hold a lone surrogate (U+D800 to
U+DFFF, which JSON escapes and some decoders let through); either one turns an ordinary save or search
into an error page. SQLite stores both, so the portal would behave differently on the two databases.
Every form field, query argument and uploaded file name is cleaned as the request parses it (the
request class below), and every spreadsheet cell as it is read (portal/domain/text.py `clean`).
NUL is dropped (no person types it; it comes from broken files or probing), a lone surrogate becomes
U+FFFD, the mark of a character that could not be read.
"""

from __future__ import annotations

from typing import Any

from htmx_flask import HtmxAwareRequest
from werkzeug.datastructures import FileStorage, ImmutableMultiDict, MultiDict
from werkzeug.routing import IntegerConverter

# The database's integer columns are 32-bit on PostgreSQL; SQLite raises OverflowError past 64 bits.
# A number outside this range in a URL or a form is never a real id or page: it is treated as absent.
LARGEST_ID = 2**31 - 1


def storable(text: str) -> str:
    """`text` without NUL and with each lone surrogate replaced by U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def whole_number(text: str) -> int:
    """`text` as an int the database can hold; ValueError otherwise (werkzeug then uses the default)."""
    number = int(text)
    if not -LARGEST_ID <= number <= LARGEST_ID:
        raise ValueError(f"{text!r} is out of the database's integer range")
    return number


class StorableIntegerConverter(IntegerConverter):
    """The `<int:...>` URL part, limited to what an id column holds: a larger one is a 404, not a 500."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", LARGEST_ID)
        super().__init__(map, *args, **kwargs)


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, FileStorage) and value.filename:
        value.filename = storable(value.filename)
    return value


class CleanedMultiDict(ImmutableMultiDict):
    """Werkzeug's immutable multi-dict of form fields or query arguments, each key and text value storable."""

    def __init__(self, mapping: Any = None) -> None:
        if mapping is None:
            super().__init__()
            return
        if isinstance(mapping, MultiDict):
            items = mapping.items(multi=True)
        elif isinstance(mapping, dict):
            items = ((key, item) for key, value in mapping.items()
                     for item in (value if isinstance(value, (list, tuple)) else [value]))
        else:
            items = mapping
        super().__init__([(storable(key) if isinstance(key, str) else key, _cleaned(value)) for key, value in items])

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # noqa: A002 (werkzeug's name)
        # `type=int` (page numbers, ids in forms) is bounded to the database's range, so a 30-digit
        # page number reads as "no page given" instead of overflowing in the query.
        return super().get(key, default, whole_number if type is int else type)


class CleanedRequest(HtmxAwareRequest):
    """The portal's request (htmx-aware): `args`, `form`, `values` and `files` come out of parsing cleaned."""

    parameter_storage_class = CleanedMultiDict
