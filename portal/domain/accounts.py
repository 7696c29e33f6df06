"""Accounts: password hashing, throttled login, sessions that end, password changes, provisioning."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, bindparam, update
from sqlmodel import Session, select

from portal.domain import login_throttle
from portal.domain.login_throttle import ThrottlePolicy
from portal.extensions import PREPARED
from portal.models import Campaign, CampaignProvince, Province, Role, User, utcnow

_hasher = PasswordHasher()

# Letters that cannot be mistaken for one another on a printed sheet (no 0/O, 1/l/I).
_OTP_ALPHABET = "abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY346789"
MIN_PASSWORD_LENGTH = 10


def configure_hasher(time_cost: int, memory_kib: int) -> None:
    """Set the Argon2id cost (tests use a cheap one; production keeps the library's default)."""
    global _hasher
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)


def hash_password(password: str) -> str:
    """An Argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches; never raises for a malformed hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def one_time_password() -> str:
    """A 12-character password from an unambiguous alphabet, for printed sheets."""
    return "".join(secrets.choice(_OTP_ALPHABET) for _ in range(12))


class LoginRefused(Exception):
    """Login failed; `message` is what the person reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


WRONG_CREDENTIALS = "Tên đăng nhập hoặc mật khẩu không đúng."


@dataclass(frozen=True)
class LoginOutcome:
    user: User
    failures_elsewhere: int  # wrong tries at this account from other addresses in the current window


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    source: str,
    policy: ThrottlePolicy | None = None,
    now: datetime | None = None,
) -> LoginOutcome:
    """The active user with these credentials, or LoginRefused.

    Attempts are throttled per account and client address (`source`), never per account alone, so that
    nobody can lock a province out by typing wrong passwords at its public user name; see
    portal/domain/login_throttle.py. The person is told when they may try again.
    """
    now = now or utcnow()
    policy = policy or ThrottlePolicy()
    name = username.strip().lower()
    user = session.exec(select(User).where(User.username == name)).first()
    if user is None:
        # Spend the same time as a real check so that user names cannot be probed by timing.
        verify_password(_dummy_hash(), password)
        raise LoginRefused(WRONG_CREDENTIALS)
    refusal = login_throttle.admit(session, name, source or "?", now.timestamp(), policy)
    if refusal is not None:
        raise LoginRefused(refusal.message)
    if not verify_password(user.password_hash, password):
        raise LoginRefused(WRONG_CREDENTIALS)
    if not user.is_active:
        raise LoginRefused("Tài khoản đã bị khóa. Vui lòng liên hệ Bộ Nội vụ.")
    elsewhere = login_throttle.succeeded(session, name, source or "?", now.timestamp(), policy)
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.add(user)
    session.commit()
    return LoginOutcome(user, elsewhere)


_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(hash_password(secrets.token_hex(8)))
    return _DUMMY[0]


def password_problems(user: User, new_password: str, confirm: str) -> list[str]:
    """Why `new_password` cannot be used, in Vietnamese; empty when it is fine."""
    problems = []
    if new_password != confirm:
        problems.append("Hai lần nhập mật khẩu mới không khớp.")
    if len(new_password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Mật khẩu mới phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự.")
    if not any(ch.isalpha() for ch in new_password) or not any(ch.isdigit() for ch in new_password):
        problems.append("Mật khẩu mới phải có cả chữ và số.")
    if user.username.lower() in new_password.lower():
        problems.append("Mật khẩu mới không được chứa tên đăng nhập.")
    if verify_password(user.password_hash, new_password):
        problems.append("Mật khẩu mới phải khác mật khẩu hiện tại.")
    return problems


def change_password(session: Session, user: User, current: str, new_password: str, confirm: str) -> list[str]:
    """Change the password after checking the current one; returns the problems (none on success)."""
    if not verify_password(user.password_hash, current):
        return ["Mật khẩu hiện tại không đúng."]
    problems = password_problems(user, new_password, confirm)
    if problems:
        return problems
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.password_changed_at = utcnow()
    user.session_version += 1  # every other browser logged in to the account is logged out
    session.add(user)
    session.commit()
    return []


def create_user(
    session: Session,
    username: str,
    role: Role,
    *,
    password: str | None = None,
    province_id: int | None = None,
    full_name: str = "",
    must_change_password: bool = True,
    password_hash: str | None = None,
) -> tuple[User, str]:
    """Create an account; returns it and its password (a one-time one when none is given)."""
    if role in (Role.PROVINCE, Role.IT_FOCAL) and province_id is None:
        raise ValueError("province and IT focal accounts belong to a province")
    if role == Role.MINISTRY and province_id is not None:
        raise ValueError("ministry accounts belong to no province")
    password = password or one_time_password()
    user = User(
        username=username.strip().lower(),
        role=role.value,
        province_id=province_id,
        full_name=full_name,
        password_hash=password_hash or hash_password(password),
        must_change_password=must_change_password,
    )
    session.add(user)
    session.flush()
    return user, password


class UnknownAccounts(ValueError):
    """Names given for a reset that are not province accounts."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


@dataclass(frozen=True)
class ProvisionedAccount:
    province: str
    username: str
    password: str | None  # None: the account existed and its password was left alone


def provision_provinces(
    session: Session, *, reset: set[str] | frozenset[str] = frozenset(), provinces: list[Province] | None = None
) -> list[ProvisionedAccount]:
    """One account per province, named by the province's slug, each with a one-time password.

    Every province the portal knows by default (both maps: a province merged in 2025 keeps its account to
    read its history), or only `provinces`. Existing accounts keep their passwords unless their user name is
    in `reset`, so running this twice never locks a province out behind its back.
    """
    existing = {u.username: u for u in session.exec(select(User).where(User.role == Role.PROVINCE.value))}
    if provinces is None:
        provinces = list(session.exec(select(Province).where(Province.is_active).order_by(Province.id)))
    slugs = {p.slug for p in provinces}
    unknown = sorted(set(reset) - slugs)
    if unknown:
        # A typo must not pass for a reset: the ministry would hand out a password that does not work.
        raise UnknownAccounts(unknown)
    sheet = []
    for province in provinces:
        user = existing.get(province.slug)
        if user is None:
            _user, password = create_user(session, province.slug, Role.PROVINCE, province_id=province.id,
                                          full_name=f"UBND {province.name}")
            sheet.append(ProvisionedAccount(province.name, province.slug, password))
        elif province.slug in reset:
            password = one_time_password()
            user.password_hash = hash_password(password)
            user.must_change_password = True
            user.session_version += 1
            login_throttle.forget(session, user.username)
            session.add(user)
            sheet.append(ProvisionedAccount(province.name, province.slug, password))
        else:
            sheet.append(ProvisionedAccount(province.name, province.slug, None))
    session.commit()
    return sheet


def reset_password(session: Session, actor: User, user: User) -> str:
    """Give `user` a new one-time password (to change at next login); audited. Returns the password."""
    from portal.domain import audit

    password = one_time_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.session_version += 1  # whoever is logged in with the old password is logged out
    login_throttle.forget(session, user.username)
    session.add(user)
    audit.record(session, actor, "Cấp lại mật khẩu", province_id=user.province_id,
                 detail=f"Tài khoản {user.username}")
    session.commit()
    return password


# Every staff request reads its account: built once (a statement built per request, as Session.get does, took
# longer to build than SQLite took to answer it). Marked PREPARED (an equality on the primary key: no plan to
# go stale): the read-only polls, on the pool of requests without transactions, keep its plan; the requests
# with transactions, whose engine prepares nothing, plan it each time.
_SIGNED_IN = (select(User).where(User.id == bindparam("user_id"),
                                 User.session_version == bindparam("session_version"),
                                 User.is_active == True)  # noqa: E712
              .execution_options(**PREPARED))


def signed_in_user(session: Session, user_id: int, session_version: int, hash_tail: str) -> User | None:
    """The account a session names (User.get_id: its id, session version and password hash's tail), or None
    when the account is gone or disabled, its sessions were ended since (the version was raised: logout, a
    password change or reset) or its password changed."""
    user = session.exec(_SIGNED_IN, params={"user_id": user_id, "session_version": session_version}).first()
    if user is None or user.password_hash[-12:] != hash_tail:
        return None
    return user


@dataclass(frozen=True)
class CampaignPlace:
    """The current campaign and a province account's own province, read with the account (see
    `signed_in_user_and_place`); `in_map` is the province's entry in the campaign's map, or None."""

    campaign: Campaign
    province: Province
    in_map: int | None


# The account with the current campaign and its own province, in one statement: what every poll of a province's
# progress page reads first. Marked PREPARED like _SIGNED_IN (keys and equalities on small tables).
_SIGNED_IN_WITH_PLACE = (select(User, Campaign, Province, CampaignProvince.id).select_from(User)
                         .outerjoin(Campaign, Campaign.is_current == True)  # noqa: E712
                         .outerjoin(Province, Province.id == User.province_id)
                         .outerjoin(CampaignProvince, and_(CampaignProvince.province_id == User.province_id,
                                                           CampaignProvince.campaign_id == Campaign.id))
                         .where(User.id == bindparam("user_id"), User.session_version == bindparam("session_version"),
                                User.is_active == True)  # noqa: E712
                         .execution_options(**PREPARED))


def signed_in_user_and_place(session: Session, user_id: int, session_version: int,
                             hash_tail: str) -> tuple[User | None, CampaignPlace | None]:
    """`signed_in_user`, and with it the current campaign and the account's province when both exist (None
    otherwise: no current campaign, or an account without a province), in one round trip to the database.

    For the polls of a province's progress page, which read nothing else before their fingerprint: the view
    takes the place from here rather than reading it again (`permissions.campaign_and_own_province`)."""
    found = session.exec(_SIGNED_IN_WITH_PLACE, params={"user_id": user_id,
                                                        "session_version": session_version}).first()
    if found is None:
        return None, None
    user, campaign, province, in_map = found
    if user.password_hash[-12:] != hash_tail:
        return None, None
    if campaign is None or province is None:
        return user, None
    return user, CampaignPlace(campaign, province, in_map)


def end_sessions(session: Session, user: User) -> None:
    """End every open session of `user`, in every browser (logout, account disabled); commits."""
    session.execute(update(User).where(User.id == user.id).values(session_version=User.session_version + 1))
    session.commit()
    session.refresh(user)
