"""The phone rule of a respondent list: one Vietnamese number per cell, in one form for everyone.

Spreadsheets turn phones into numbers (the leading 0 lost, "9.12345678E8", "912345678.0"), and people write
"+84", "0084", spaces, dots and dashes, or two numbers in one cell: each is read back to the number typed, or
refused with a message saying why.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from portal.domain.rule_text import cached_fold, quote
from portal.domain.text import clean

_PHONE_SEPARATORS = re.compile(r"[\s.\-()–]")
_PHONE_MANY = re.compile(r"[;,/|]|\bhoac\b|\bor\b")
_PHONE_FLOAT = re.compile(r"(\d+)\.0+")
_SIX_DIGITS = re.compile(r"\d{6}")
_PHONE_SCI = re.compile(r"\d(?:\.\d+)?[eE]\+?\d+")
_PHONE_RULE = "số trong nước gồm 10 chữ số (di động) hoặc 11 chữ số (cố định), bắt đầu bằng 0"


def normalise_phone(raw: str) -> tuple[str, str | None, str | None]:
    """A phone cell read as one national number: (phone, error, notice). "0912 345 678", "+84 912345678" and
    "912345678" (a number cell that lost its 0, with a notice) all read "0912345678"; two numbers in one cell,
    letters, wrong lengths and the old 11-digit mobile prefixes are errors."""
    text = clean(raw)
    if not text:
        return "", None, None
    if text.isdigit() and text.isascii():  # most cells: one number, nothing to split or strip
        return _national_phone(text, text, plus=False)
    pieces = [p for p in _PHONE_MANY.split(cached_fold(text)) if _SIX_DIGITS.search(_PHONE_SEPARATORS.sub("", p))]
    if len(pieces) > 1:
        return text, f"ô có nhiều số ({quote(text)}); chỉ ghi một số điện thoại", None
    value = text
    float_match = _PHONE_FLOAT.fullmatch(value)
    if float_match:
        value = float_match.group(1)
    elif _PHONE_SCI.fullmatch(value):
        try:
            number = Decimal(value)
            # "1e999999999" would be a billion digits: no phone has more than 20 (it is refused as typed).
            if number.adjusted() < 20 and number == number.to_integral_value():
                value = str(int(number))
        except InvalidOperation:
            pass
    plus = value.startswith("+")
    digits = _PHONE_SEPARATORS.sub("", value[1:] if plus else value)
    if not digits.isdigit() or not digits.isascii():
        return text, f"số {quote(text)} có ký tự không phải chữ số", None
    return _national_phone(text, digits, plus=plus)


def _national_phone(text: str, digits: str, *, plus: bool) -> tuple[str, str | None, str | None]:
    """(phone, error, notice) of the ASCII `digits` read from the cell `text` (after a "+" when `plus`)."""
    if not plus and digits.startswith("00"):
        plus, digits = True, digits[2:]
    if plus:
        if digits.startswith("84"):
            national = digits[2:].removeprefix("0")
            if len(national) in (9, 10) and national[0] != "0":
                # Every other row reads 0…: one form for everyone, so the same phone is the same phone.
                return "0" + national, None, None
            return text, f"số {quote(text)} không hợp lệ (sau +84 cần 9 hoặc 10 chữ số)", None
        if 8 <= len(digits) <= 15:
            return "+" + digits, None, None
        return text, f"số {quote(text)} không hợp lệ (số quốc tế gồm 8 đến 15 chữ số)", None
    if digits.startswith("84") and len(digits) in (11, 12):
        return "0" + digits[2:], None, None
    notice = None
    if not digits.startswith("0") and (len(digits) == 9 or (len(digits) == 10 and digits[0] == "2")):
        fixed = "0" + digits
        notice = (
            f"số {quote(text)} bị mất số 0 ở đầu (ô kiểu số trong bảng tính), đã sửa thành {quote(fixed)}"
        )
        digits = fixed
    if len(digits) not in (10, 11) or not digits.startswith("0") or digits[1] == "0":  # "0" alone: no [1]
        return text, f"số {quote(text)} không hợp lệ ({_PHONE_RULE})", None
    if len(digits) == 11 and digits[1] == "1":
        return text, f"số {quote(text)} là đầu số di động 11 số cũ (đã đổi sang 10 số từ năm 2018)", None
    return digits, None, notice
