"""Publication of a campaign's results (the index and the ranking): what the provinces may see, and when.

Published means one specific stored computation (portal/domain/par_index.py): the rows the ministry reviewed,
never a figure recomputed since. Before the first publication a province sees nothing of any province's index,
its own included; after it, its own index in detail and the public ranking, both read from the published
computation. A recomputation after publication is not shown to the provinces until the ministry publishes it
again, which is its own audited act ("Công bố lại"), asked for explicitly. A past campaign's results stay as
they are (read only, like everything of a past campaign).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from portal.domain import audit, notices, units
from portal.domain.campaigns import PastCampaign, local_today, require_current
from portal.domain.par_index import CLOSED, latest_computation
from portal.models import Campaign, IndexComputation, Province, ProvinceIndex, User, utcnow


class PublicationRefused(Exception):
    """The publication was not made; `message` says why and what to do, in Vietnamese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def published_computation(session: Session, campaign: Campaign) -> IndexComputation | None:
    """The computation the provinces see: the one published last; None before the first publication."""
    if campaign.results_published_at is None:
        return None
    return session.exec(select(IndexComputation).where(IndexComputation.campaign_id == campaign.id,
                                                       col(IndexComputation.published_at).is_not(None))
                        .order_by(col(IndexComputation.published_at).desc(), col(IndexComputation.id).desc())).first()


def provisional_count(session: Session, computation: IndexComputation) -> int:
    """How many provinces' self-assessment part is not a closed appraisal in this computation."""
    return len(session.exec(select(ProvinceIndex.id).where(ProvinceIndex.computation_id == computation.id,
                                                           ProvinceIndex.basis != CLOSED)).all())


def publish(session: Session, actor: User, campaign: Campaign, computation_id: int, *, accept_provisional: bool,
            republish: bool, now: datetime | None = None, tz_name: str = "Asia/Ho_Chi_Minh") -> IndexComputation:
    """Publish the computation the ministry reviewed (audited; every province of the campaign gets a notice).

    Refused (nothing changed) when the campaign is past, when the index was recomputed since the page was opened
    (the ministry reviews what it publishes), when some provinces' appraisal is not closed and the ministry did
    not tick that it knows, or when another computation is published and "công bố lại" was not ticked. Posted
    twice, the second does nothing.
    """
    try:
        require_current(session, campaign.id)
    except PastCampaign as past:
        raise PublicationRefused(past.message) from past
    computation = session.get(IndexComputation, computation_id)
    if computation is None or computation.campaign_id != campaign.id:
        raise PublicationRefused("Không tìm thấy lần tính Chỉ số này; vui lòng tải lại trang.")
    current = published_computation(session, campaign)
    if current is not None and current.id == computation.id:
        return computation
    latest = latest_computation(session, campaign.id)
    from portal.domain.index_recompute import pending

    if pending(session, campaign.id) is not None:
        raise PublicationRefused("Chỉ số đang được tính lại: vui lòng đợi kết quả mới, xem lại rồi công bố.")
    if latest is None or latest.id != computation.id:
        raise PublicationRefused("Chỉ số vừa được tính lại sau khi trang được mở: vui lòng xem lại kết quả mới "
                                 "trước khi công bố.")
    provisional = provisional_count(session, computation)
    if provisional and not accept_provisional:
        raise PublicationRefused(f"Còn {provisional} tỉnh, thành phố chưa có điểm thẩm định cuối cùng (đang thẩm "
                                 "định, chưa thẩm định hoặc chưa tự đánh giá). Đánh dấu “Tôi biết … và vẫn công bố” "
                                 "nếu vẫn công bố.")
    if current is not None and not republish:
        day = local_today(tz_name, _aware(current.published_at))
        raise PublicationRefused(f"Kết quả đã được công bố ngày {day:%d/%m/%Y}. Kết quả tính lại "
                                 "chỉ thay kết quả đã công bố khi đánh dấu “Công bố lại”.")
    moment = now or utcnow()
    done = session.exec(update(IndexComputation).where(IndexComputation.id == computation.id,
                                                       col(IndexComputation.published_at).is_(None))
                        .values(published_at=moment, published_by_id=actor.id)
                        .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.rollback()
        return computation
    campaign.results_published_at = moment
    session.add(campaign)
    action = "Công bố lại kết quả Chỉ số CCHC" if current is not None else "Công bố kết quả Chỉ số CCHC"
    detail = (f"{campaign.name}: lần tính số {computation.id} (mã {computation.fingerprint[:12]})"
              + (f", thay lần tính số {current.id}" if current is not None else "")
              + (f"; {provisional} tỉnh, thành phố chưa có điểm thẩm định cuối cùng" if provisional else ""))
    audit.record(session, actor, action, detail=detail)
    active = set(session.exec(select(Province.id).where(Province.is_active)))
    targets = sorted(units.province_ids(session, campaign) & active)
    if targets:
        title = ("Bộ Nội vụ công bố lại kết quả Chỉ số CCHC" if current is not None
                 else "Bộ Nội vụ công bố kết quả Chỉ số CCHC")
        notices.post_notice(session, actor, f"{title}: {campaign.name}"[:200],
                            "Tỉnh xem Chỉ số CCHC của tỉnh (từng lĩnh vực, từng tiêu chí, kết quả điều tra xã hội học) "
                            "và bảng xếp hạng các tỉnh, thành phố ở mục “Kết quả” trên trang chủ.",
                            province_ids=targets, commit=False)
    session.commit()
    session.refresh(computation)
    return computation


def province_row(session: Session, computation: IndexComputation, province_id: int) -> ProvinceIndex | None:
    return session.exec(select(ProvinceIndex).where(ProvinceIndex.computation_id == computation.id,
                                                    ProvinceIndex.province_id == province_id)).first()


def visible_to_province(session: Session, province_id: int) -> tuple[Campaign, IndexComputation] | None:
    """The newest campaign whose published results rank the province, with the computation published."""
    for campaign in session.exec(select(Campaign).where(col(Campaign.results_published_at).is_not(None))
                                 .order_by(col(Campaign.year).desc(), col(Campaign.id).desc())):
        computation = published_computation(session, campaign)
        if computation is not None and province_row(session, computation, province_id) is not None:
            return campaign, computation
    return None


def visible_campaign(session: Session, province_id: int) -> Campaign | None:
    """The campaign whose results the province's home page links to (None before any publication)."""
    found = visible_to_province(session, province_id)
    return found[0] if found else None


def _aware(moment: datetime) -> datetime:
    # SQLite gives back the stored UTC time without its zone.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
