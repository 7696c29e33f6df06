"""Reading dates the way Vietnamese officials write them (dd/mm/yyyy)."""

from __future__ import annotations

import re
from datetime import date

_DMY = re.compile(r"^\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})\s*$")
_ISO = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")


def parse_date_vn(text: str) -> date | None:
    """'15/01/2022', '15-1-2022', '15.01.2022' or ISO '2022-01-15' -> date; None when not a real date."""
    match = _DMY.match(text or "")
    try:
        if match:
            day, month, year = (int(g) for g in match.groups())
            return date(year, month, day)
        match = _ISO.match(text or "")
        if match:
            year, month, day = (int(g) for g in match.groups())
            return date(year, month, day)
    except ValueError:
        return None
    return None
