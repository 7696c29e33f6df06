"""Email addresses the relay can deliver: internationalised domains in their ASCII (IDNA) form.

A domain may be written with Vietnamese letters (`cuong@yênbái.gov.vn`): the list keeps it as typed,
and the outbox sends to its IDNA form (`cuong@xn--ynbi-7na5c.gov.vn`), which every relay takes, since
the SMTP envelope must be ASCII unless the relay offers SMTPUTF8. A local part (before the @) with such
letters has no ASCII form at all, and the ministry's relay is not known to offer SMTPUTF8, so such an
address is refused where it is typed, with the reason, rather than failing at sending.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

NON_ASCII_LOCAL_PART = ("phần trước dấu @ có chữ có dấu hoặc ký tự ngoài bảng chữ cái tiếng Anh; máy chủ thư "
                        "không gửi được đến địa chỉ như vậy")


def deliverable(address: str) -> str:
    """The address as the relay must receive it (ASCII, IDNA domain); `address` unchanged if it is not valid."""
    if address.isascii():
        return address
    try:
        checked = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return address
    return checked.ascii_email or address


def problem(address: str) -> str | None:
    """Why the relay could not deliver to `address` (in Vietnamese), or None; syntax is checked elsewhere."""
    local, at, _domain = address.rpartition("@")
    if at and not local.isascii():
        return NON_ASCII_LOCAL_PART
    return None
