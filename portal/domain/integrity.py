"""Signals recorded for integrity, kept apart from the answers.

The dispatch cancels a province's whole survey result where the software detects interference, so the
portal keeps, for each form, what a rule needs to see interference and nothing more: when the link was
opened, the form saved and submitted, how long the page had been open, a device identifier (a random
cookie the respondent's browser keeps for the survey pages only), the user agent, and the network address
only as a keyed hash and a truncated prefix (/24, /48: officials of one department share an office address,
which alone never means anything).

These rows are tied to the invitation, never to an answer row (answers stay findable only through the
HMAC key, see answers.py), are read by integrity rules and the ministry's integrity page only, and are
deleted `PORTAL_SIGNAL_RETENTION_DAYS` after their campaign closes (`forget_closed_campaigns`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from itsdangerous import BadSignature, TimestampSigner
from sqlalchemy import bindparam, delete, insert
from sqlmodel import Session, col, select

from portal.extensions import PREPARED
from portal.models import Campaign, FormSignal, Invitation, utcnow

OPENED, SAVED, SUBMITTED = "opened", "saved", "submitted"
# A page open longer than this says nothing about reading it (the respondent left for lunch).
LONGEST_PAGE_SECONDS = 24 * 3600
_DEVICE_LENGTH = 22  # secrets.token_urlsafe(16)


def new_device_id() -> str:
    """A random identifier for a respondent's browser (its cookie), naming nothing about the device."""
    return secrets.token_urlsafe(16)


def is_device_id(value: str | None) -> bool:
    """Whether a cookie holds an identifier we could have made (anything else is replaced, never stored)."""
    return bool(value) and len(value) == _DEVICE_LENGTH and value.isascii() and \
        all(c.isalnum() or c in "-_" for c in value)


def address_hash(address: str, secret: str) -> str:
    """The network address under the portal's secret key: equal addresses compare equal, none can be read."""
    return hmac.new(secret.encode(), f"address:{address}".encode(), hashlib.sha256).hexdigest()[:32]


@lru_cache(maxsize=1024)
def address_prefix(address: str) -> str:
    """The network the address belongs to, cut to /24 (IPv4) or /48 (IPv6); '' for anything else.

    Kept for the addresses seen last: parsing an address and its network was a tenth of a signal's cost, and
    a respondent, or an office behind one address, comes back page after page."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False))


@lru_cache(maxsize=4)
def _signer(secret: str) -> TimestampSigner:
    return TimestampSigner(secret, salt="survey-page-shown")


def page_stamp(secret: str) -> str:
    """A signed mark of the moment a form page is shown, posted back with the form (a hidden field)."""
    return _signer(secret).sign(b"shown").decode()


def seconds_on_page(stamp: str | None, secret: str, now: datetime | None = None) -> int | None:
    """How long the page whose stamp was posted had been open; None for a missing, forged or stale stamp."""
    if not stamp:
        return None
    try:
        _, shown = _signer(secret).unsign(stamp, return_timestamp=True)
    except BadSignature:
        return None
    seconds = int(((now or utcnow()) - shown).total_seconds())
    return seconds if 0 <= seconds <= LONGEST_PAGE_SECONDS else None


# The values go as parameters of one statement built once: building an INSERT with its values per visit
# cost more than sending it. Nothing reads the new row's id back (inline: no RETURNING), and on PostgreSQL
# the statement is prepared and kept per connection (extensions.PREPARED): a plain VALUES insert has no plan
# for statistics to change, and every respondent's page sends it.
_INSERT_SIGNAL = insert(FormSignal.__table__).inline().execution_options(**PREPARED)


def signal_row(invitation: Invitation, event: str, *, form_code: str = "", device: str, user_agent: str,
               address: str, secret: str, seconds: int | None = None, now: datetime | None = None) -> dict:
    """The values of one signal row, as `record` inserts them (or a draft save writes them with the draft)."""
    return dict(
        invitation_id=invitation.id, campaign_id=invitation.campaign_id, province_id=invitation.province_id,
        form_code=form_code, event=event, at=now or utcnow(), seconds_on_page=seconds, device=device,
        # Any header may carry control characters (a NUL PostgreSQL would refuse): kept printable.
        user_agent=_printable(user_agent[:300]),
        address_hash=address_hash(address, secret) if address else "", address_prefix=address_prefix(address))


def _printable(text: str) -> str:
    """`text` without its unprintable characters (a browser's User-Agent has none: kept as it is)."""
    return text if text.isprintable() else "".join(c for c in text if c.isprintable())


def insert_statement(prefix: str = ""):
    """An INSERT of one signal whose values are parameters named `prefix` + column (see `parameters`), for a
    statement that writes a signal along with something else."""
    table = FormSignal.__table__
    return insert(table).values({name: bindparam(prefix + name) for name in table.c.keys() if name != "id"})


def parameters(row: dict, prefix: str = "") -> dict:
    """`signal_row`'s values under the parameter names of `insert_statement(prefix)`."""
    return {prefix + name: value for name, value in row.items()}


def record(session: Session, invitation: Invitation, event: str, *, form_code: str = "", device: str,
           user_agent: str, address: str, secret: str, seconds: int | None = None,
           now: datetime | None = None) -> None:
    """Keep one signal of a respondent's visit (committed with the caller's transaction).

    A plain INSERT, not an object added to the session: it is sent at once, and costs no flush.
    """
    insert_row(session, signal_row(invitation, event, form_code=form_code, device=device, user_agent=user_agent,
                                   address=address, secret=secret, seconds=seconds, now=now))


def insert_row(session: Session, row: dict) -> None:
    """Insert a signal made by `signal_row` (in the caller's transaction)."""
    session.connection().execute(_INSERT_SIGNAL, row)


def signals_of(session: Session, invitation_id: int) -> list[FormSignal]:
    """An invitation's signals in the order they came (for the integrity rules)."""
    return list(session.exec(select(FormSignal).where(FormSignal.invitation_id == invitation_id)
                             .order_by(FormSignal.at, FormSignal.id)))


def forget_closed_campaigns(session: Session, retention_days: int, now: datetime | None = None) -> int:
    """Delete the signals of campaigns closed more than `retention_days` ago; returns how many went."""
    limit = (now or utcnow()) - timedelta(days=retention_days)
    closed = select(Campaign.id).where(col(Campaign.closed_at).is_not(None), col(Campaign.closed_at) < limit)
    gone = session.exec(delete(FormSignal).where(col(FormSignal.campaign_id).in_(closed)))
    session.commit()
    return gone.rowcount or 0
