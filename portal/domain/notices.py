"""Notices ("Thông báo") to provinces: from the ministry, or posted by the portal itself."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func
from sqlmodel import Session, select

from portal.domain.text import clean
from portal.models import Notice, NoticeRead, NoticeRecipient, Province, User


class NoticeError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def post_notice(
    session: Session,
    author: User | None,
    title: str,
    body: str,
    *,
    province_ids: Iterable[int] | None = None,
    kind: str = "ministry",
    commit: bool = True,
) -> Notice:
    """Post a notice to the given provinces, or to every active province when `province_ids` is None.

    `commit=False` leaves it in the caller's transaction, to be stored with what it tells of or not at all.
    """
    title, body = clean(title), (body or "").strip()
    if not title:
        raise NoticeError("Vui lòng nhập tiêu đề thông báo.")
    if len(title) > 200:
        raise NoticeError("Tiêu đề thông báo dài quá 200 ký tự.")
    active = set(session.exec(select(Province.id).where(Province.is_active)))
    if province_ids is None:
        targets = active
    else:
        targets = {int(pid) for pid in province_ids}
        if not targets:
            raise NoticeError("Vui lòng chọn ít nhất một tỉnh/thành phố nhận thông báo.")
        if not targets <= active:
            raise NoticeError("Danh sách tỉnh/thành phố nhận thông báo không hợp lệ.")
    notice = Notice(title=title, body=body, kind=kind, author_id=author.id if author else None,
                    to_all=province_ids is None)
    session.add(notice)
    session.flush()
    session.add_all(NoticeRecipient(notice_id=notice.id, province_id=pid) for pid in sorted(targets))
    if commit:
        session.commit()
    return notice


def post_system_notice(session: Session, province_id: int, title: str, body: str = "", *,
                       commit: bool = True) -> Notice:
    """A notice the portal posts to one province when something happens to it."""
    return post_notice(session, None, title, body, province_ids=[province_id], kind="system", commit=commit)


def _visible_ids(province_id: int):
    return select(NoticeRecipient.notice_id).where(NoticeRecipient.province_id == province_id)


def notices_for(session: Session, user: User, *, limit: int = 100) -> list[tuple[Notice, bool]]:
    """The notices a province's user can read, newest first, each with whether they have read it."""
    if user.province_id is None:
        return []
    read = set(session.exec(select(NoticeRead.notice_id).where(NoticeRead.user_id == user.id)))
    rows = session.exec(
        select(Notice).where(Notice.id.in_(_visible_ids(user.province_id)))
        .order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit)
    )
    return [(notice, notice.id in read) for notice in rows]


def unread_count(session: Session, user: User) -> int:
    """How many notices this user has not read yet (shown in the header)."""
    if user.province_id is None:
        return 0
    read = select(NoticeRead.notice_id).where(NoticeRead.user_id == user.id)
    query = select(func.count()).select_from(NoticeRecipient).where(
        NoticeRecipient.province_id == user.province_id, NoticeRecipient.notice_id.not_in(read)
    )
    return session.exec(query).one()


def notice_for_user(session: Session, user: User, notice_id: int) -> Notice | None:
    """The notice, when it was sent to the user's province; None otherwise."""
    if user.province_id is None:
        return None
    return session.exec(
        select(Notice).where(Notice.id == notice_id, Notice.id.in_(_visible_ids(user.province_id)))
    ).first()


def mark_read(session: Session, user: User, notices: Iterable[Notice]) -> int:
    """Mark notices read for this user (already-read ones are left alone); returns how many changed."""
    ids = {n.id for n in notices}
    already = set(session.exec(select(NoticeRead.notice_id).where(
        NoticeRead.user_id == user.id, NoticeRead.notice_id.in_(ids))))
    new = ids - already
    session.add_all(NoticeRead(notice_id=nid, user_id=user.id) for nid in sorted(new))
    session.commit()
    return len(new)


def mark_all_read(session: Session, user: User) -> int:
    """Mark every notice of the user's province read."""
    return mark_read(session, user, [n for n, was_read in notices_for(session, user, limit=10_000) if not was_read])


def sent_notices(session: Session, *, limit: int = 100) -> list[tuple[Notice, int, int]]:
    """For the ministry: notices newest first, with the number of provinces reached and of reads."""
    rows = []
    for notice in session.exec(select(Notice).order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit)):
        recipients = session.exec(select(func.count()).select_from(NoticeRecipient)
                                  .where(NoticeRecipient.notice_id == notice.id)).one()
        reads = session.exec(select(func.count(func.distinct(User.province_id))).select_from(NoticeRead)
                             .join(User, User.id == NoticeRead.user_id)
                             .where(NoticeRead.notice_id == notice.id)).one()
        rows.append((notice, recipients, reads))
    return rows
