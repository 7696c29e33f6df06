"""The name and mailbox rules of a respondent list: each cell read as the one person's name or address it holds,
or refused with a message saying why.

Names keep their casing (but for a name typed ALL IN CAPITALS) and their diacritics; a name with signs of a
legacy Vietnamese encoding (TCVN3, VNI) says so. A mailbox is checked by email-validator's syntax rules (never
DNS), but for ordinary official addresses, which a pattern accepts at a fraction of the cost.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from portal.domain.rule_text import VALUE_CACHE, quote
from portal.domain.text import clean

_NAME_ALLOWED_PUNCT = frozenset(" '’-.")
_LEGACY_SIGNS = re.compile(r"[\u00a1-\u00bf\u00d7\u00f7]")


# A plain name: words of letters separated by spaces, apostrophes, hyphens or dots.
_PLAIN_NAME = re.compile(r"[^\W\d_]+(?:[ '’.-]+[^\W\d_]+)*\.?")


# Names, mailboxes and phones are one person's each: they are not cached (a cache of them would never be hit
# in an import, and would push the repeating titles and units out of the cell caches).
def normalise_name(raw: str) -> tuple[str, str | None]:
    """A name cell as stored (NFC, single-spaced, ALL CAPITALS turned to "Nguyễn Văn A" form) and its error."""
    name = clean(raw)
    if not name:
        return "", "chưa ghi họ và tên"
    if name.isupper() and len(name) > 1:
        name = " ".join(w[:1].upper() + w[1:].lower() for w in name.split(" "))
    if _PLAIN_NAME.fullmatch(name):
        return name, None
    if not any(c.isalpha() for c in name):
        return name, f"họ và tên {quote(name)} không có chữ cái"
    odd = {c for c in name if not (c.isalpha() or unicodedata.category(c) == "Mn")}
    bad = sorted(odd - _NAME_ALLOWED_PUNCT)
    if not bad:
        return name, None
    hint = ""
    if _LEGACY_SIGNS.search(name):
        hint = " (có thể tệp dùng bảng mã cũ TCVN3 hoặc VNI; hãy chuyển sang Unicode)"
    return name, f"họ và tên {quote(name)} có ký tự không hợp lệ: {' '.join(bad)}{hint}"


_EMAIL_SPLIT = re.compile(r"[;,\s]+")
_EMAIL_BRACKETS = re.compile(r"<([^<>]*)>")


# An ordinary official address: letters, digits and . _ + - before the @ (no dot first, last or twice),
# plain labels after it (no "--", so no IDNA), under a common top-level domain none of which is a
# special-use name. email-validator accepts every such address; checking it costs 0.5 ms a row.
_PLAIN_ADDRESS = re.compile(r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                            r"(?:vn|com|net|org|edu|gov|info|int)")


@functools.lru_cache(maxsize=VALUE_CACHE)
def email_syntax_ok(email: str) -> bool:
    """Syntax only, by email-validator (no DNS), but for ordinary addresses (`_PLAIN_ADDRESS`)."""
    if len(email) <= 254 and "--" not in email and _PLAIN_ADDRESS.fullmatch(email) \
            and len(email.partition("@")[0]) <= 64:
        return True
    try:
        validate_email(email, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return False
    return True


def normalise_email(raw: str) -> tuple[str, str | None]:
    """A mailbox cell as stored (lower case, brackets, "mailto:" and trailing stops removed) and its error:
    one address per cell, valid by email-validator's syntax rules."""
    text = clean(raw)
    if not text:
        return "", "chưa ghi email công vụ"
    plain = text.lower()
    if len(plain) <= 254 and "--" not in plain and _PLAIN_ADDRESS.fullmatch(plain) \
            and len(plain.partition("@")[0]) <= 64:
        # An ordinary address (most cells): no brackets, "mailto:", separators or trailing stops to remove,
        # and valid (see `email_syntax_ok`).
        return plain, None
    email = text
    bracket = _EMAIL_BRACKETS.search(email)
    if bracket:
        email = bracket.group(1)
    email = email.strip().strip("<>").strip()
    if email.lower().startswith("mailto:"):
        email = email[7:].strip()
    email = email.rstrip(".,;:").lower()
    parts = [p for p in _EMAIL_SPLIT.split(email) if "@" in p]
    if len(parts) > 1:
        return email, f"ô có nhiều địa chỉ ({quote(text)}); chỉ ghi một hộp thư công vụ"
    if email_syntax_ok(email):
        return email, None
    reason = ""
    if "@" not in email:
        reason = " (thiếu dấu @)"
    elif email.count("@") > 1:
        reason = " (có nhiều hơn một dấu @)"
    elif " " in email:
        reason = " (có khoảng trắng)"
    elif not email.isascii():
        reason = " (có chữ có dấu hoặc ký tự ngoài bảng chữ cái tiếng Anh)"
    elif "." not in email.rsplit("@", 1)[1]:
        reason = " (tên miền sau dấu @ không đầy đủ)"
    elif ".." in email:
        reason = " (có hai dấu chấm liền nhau)"
    return email, f"địa chỉ {quote(text)} không hợp lệ{reason}"
