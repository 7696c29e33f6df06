"""Notices ("Thông báo"): the ministry posts, provinces read (portal/notices, portal/ministry, domain/notices)."""

from __future__ import annotations

import re

import pytest
from sqlmodel import func, select

from portal.domain import notices
from portal.models import Notice, NoticeRead, NoticeRecipient
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in
from tests.support.html import text_of


def recipients_of(session, notice_id: int) -> list[int]:
    return list(session.exec(select(NoticeRecipient.province_id).where(NoticeRecipient.notice_id == notice_id)
                             .order_by(NoticeRecipient.province_id)))


def unread_badge(page: str) -> str:
    match = re.search(r'<span id="unread-count"[^>]*>([^<]*)</span>', page)
    assert match, "the page has no unread badge"
    return match.group(1)


def notice_count(session) -> int:
    return session.exec(select(func.count()).select_from(Notice)).one()


# ---------------------------------------------------------------- the ministry posts


def test_ministry_posts_a_notice_to_all_63_provinces(client, session, ministry_user):
    log_in(client, ministry_user)

    response = client.post("/bo/thong-bao", data={"title": "Triển khai Chỉ số CCHC năm 2021",
                                                  "body": "Đề nghị các tỉnh cử đầu mối.", "audience": "all"})

    assert response.status_code == 302
    assert response.headers["Location"] == "/bo/thong-bao"
    notice = session.exec(select(Notice)).one()
    assert (notice.title, notice.body, notice.kind, notice.to_all, notice.author_id) == (
        "Triển khai Chỉ số CCHC năm 2021", "Đề nghị các tỉnh cử đầu mối.", "ministry", True, ministry_user.id)
    assert len(recipients_of(session, notice.id)) == 63
    assert "Đã gửi thông báo “Triển khai Chỉ số CCHC năm 2021”." in client.get("/bo/thong-bao").get_data(as_text=True)


def test_ministry_posts_a_notice_to_chosen_provinces(client, session, ministry_user):
    log_in(client, ministry_user)

    client.post("/bo/thong-bao", data={"title": "Nhắc hạn gửi danh sách", "audience": "chosen",
                                       "province_ids": [str(HAI_PHONG), str(HA_NOI)]})

    notice = session.exec(select(Notice)).one()
    assert notice.to_all is False
    assert recipients_of(session, notice.id) == [HA_NOI, HAI_PHONG]


def test_notice_title_is_cleaned_of_stray_spaces(client, session, ministry_user):
    log_in(client, ministry_user)

    client.post("/bo/thong-bao", data={"title": "  Nhắc   hạn\u00a0gửi danh sách ", "audience": "all"})

    assert session.exec(select(Notice.title)).one() == "Nhắc hạn gửi danh sách"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"title": "   ", "audience": "all"}, "Vui lòng nhập tiêu đề thông báo."),
        ({"title": "Nhắc hạn", "audience": "chosen"}, "Vui lòng chọn ít nhất một tỉnh/thành phố nhận thông báo."),
        ({"title": "Nhắc hạn", "audience": "chosen", "province_ids": ["999"]},
         "Danh sách tỉnh/thành phố nhận thông báo không hợp lệ."),
        ({"title": "T" * 201, "audience": "all"}, "Tiêu đề thông báo dài quá 200 ký tự."),
    ],
)
def test_a_notice_that_cannot_be_sent_is_refused_with_a_message(client, session, ministry_user, form, message):
    log_in(client, ministry_user)

    response = client.post("/bo/thong-bao", data=form)

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert notice_count(session) == 0


def test_a_refused_notice_keeps_what_was_typed(client, ministry_user):
    log_in(client, ministry_user)

    page = client.post("/bo/thong-bao", data={"title": "Nhắc hạn", "body": "Nội dung đã gõ",
                                              "audience": "chosen", "province_ids": []}).get_data(as_text=True)

    assert 'value="Nhắc hạn"' in page
    assert ">Nội dung đã gõ</textarea>" in page
    assert 'value="chosen" checked' in page


# ---------------------------------------------------------------- provinces read


def test_the_header_shows_how_many_notices_are_unread(client, session, province_user):
    notices.post_notice(session, None, "Thông báo 1", "")
    notices.post_notice(session, None, "Thông báo 2", "", province_ids=[HA_NOI])
    notices.post_notice(session, None, "Thông báo cho Hải Phòng", "", province_ids=[HAI_PHONG])
    log_in(client, province_user)

    assert unread_badge(client.get("/").get_data(as_text=True)) == "2"


def test_the_header_badge_is_empty_when_all_are_read(client, province_user):
    log_in(client, province_user)

    assert unread_badge(client.get("/").get_data(as_text=True)) == ""


def test_notices_page_lists_the_province_notices_newest_first_with_their_body(client, session, province_user):
    notices.post_notice(session, None, "Cũ hơn", "")
    notices.post_notice(session, None, "Mới hơn", "<script>alert(1)</script>\nDòng thứ hai")
    log_in(client, province_user)

    page = client.get("/thong-bao/").get_data(as_text=True)

    assert page.index("Mới hơn") < page.index("Cũ hơn")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>Dòng thứ hai" in page
    assert "<script>alert(1)" not in page


def test_marking_one_notice_read_redirects_back_to_it(client, session, province_user):
    first = notices.post_notice(session, None, "Thông báo 1", "")
    notices.post_notice(session, None, "Thông báo 2", "")
    log_in(client, province_user)

    response = client.post(f"/thong-bao/{first.id}/da-doc")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/thong-bao/#notice-{first.id}"
    assert [(r.notice_id, r.user_id) for r in session.exec(select(NoticeRead))] == [(first.id, province_user.id)]
    page = client.get("/thong-bao/").get_data(as_text=True)
    assert unread_badge(page) == "1"
    assert f'<article class="card notice" id="notice-{first.id}">' in page


def test_marking_a_notice_read_twice_keeps_one_record(client, session, province_user):
    notice = notices.post_notice(session, None, "Thông báo 1", "")
    log_in(client, province_user)

    client.post(f"/thong-bao/{notice.id}/da-doc")
    client.post(f"/thong-bao/{notice.id}/da-doc")

    assert session.exec(select(func.count()).select_from(NoticeRead)).one() == 1


def test_htmx_mark_read_returns_the_notice_and_an_out_of_band_badge(client, session, province_user):
    first = notices.post_notice(session, None, "Thông báo 1", "")
    notices.post_notice(session, None, "Thông báo 2", "")
    log_in(client, province_user)

    response = client.post(f"/thong-bao/{first.id}/da-doc", headers={"HX-Request": "true"})

    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in fragment
    assert fragment.startswith(f'<article class="card notice" id="notice-{first.id}">')
    assert '<p class="tag tag-ok">Đã đọc</p>' in fragment
    assert "Đánh dấu đã đọc" not in fragment
    assert ('<span id="unread-count" class="badge" title="Số thông báo chưa đọc" hx-swap-oob="true">1</span>'
            in fragment)


def test_htmx_mark_read_of_the_last_notice_empties_the_badge(client, session, province_user):
    notice = notices.post_notice(session, None, "Thông báo 1", "")
    log_in(client, province_user)

    fragment = client.post(f"/thong-bao/{notice.id}/da-doc", headers={"HX-Request": "true"}).get_data(as_text=True)

    assert 'hx-swap-oob="true"></span>' in fragment


def test_mark_all_read(client, session, province_user):
    posted = [notices.post_notice(session, None, f"Thông báo {n}", "") for n in range(3)]
    log_in(client, province_user)
    client.post(f"/thong-bao/{posted[0].id}/da-doc")

    response = client.post("/thong-bao/da-doc-tat-ca")

    assert response.status_code == 302
    assert response.headers["Location"] == "/thong-bao/"
    read = sorted(r.notice_id for r in session.exec(select(NoticeRead).where(NoticeRead.user_id == province_user.id)))
    assert read == sorted(n.id for n in posted)
    assert unread_badge(client.get("/thong-bao/").get_data(as_text=True)) == ""


def test_reading_is_per_person_within_a_province(client, session, province_user, it_focal_user):
    notice = notices.post_notice(session, None, "Thông báo 1", "")
    log_in(client, province_user)
    client.post(f"/thong-bao/{notice.id}/da-doc")

    log_in(client, it_focal_user)

    assert unread_badge(client.get("/").get_data(as_text=True)) == "1"


def test_the_ministry_has_no_province_notices_page(client, ministry_user):
    log_in(client, ministry_user)

    assert client.get("/thong-bao/").status_code == 403


# ---------------------------------------------------------------- notices from the portal itself


def test_system_notice_goes_to_one_province_only(client, session, province_user, other_province_user):
    notice = notices.post_system_notice(session, HAI_PHONG, "Danh sách đã được trả lại", "Lý do: thiếu nhóm 1.")

    assert (notice.kind, notice.author_id, notice.to_all) == ("system", None, False)
    assert recipients_of(session, notice.id) == [HAI_PHONG]
    log_in(client, other_province_user)
    page = client.get("/thong-bao/").get_data(as_text=True)
    assert "Danh sách đã được trả lại" in page
    assert "Hệ thống ·" in text_of(page)
    log_in(client, province_user)
    assert "Danh sách đã được trả lại" not in client.get("/thong-bao/").get_data(as_text=True)


def test_system_notice_needs_a_title(session):
    with pytest.raises(notices.NoticeError) as refused:
        notices.post_system_notice(session, HA_NOI, "")

    assert refused.value.message == "Vui lòng nhập tiêu đề thông báo."


# ---------------------------------------------------------------- the ministry's sent list


def test_sent_list_counts_provinces_reached_and_provinces_that_read(client, session, ministry_user, province_user,
                                                                    it_focal_user, other_province_user):
    notice = notices.post_notice(session, ministry_user, "Triển khai Chỉ số CCHC", "")
    notices.mark_read(session, province_user, [notice])
    notices.mark_read(session, it_focal_user, [notice])  # the same province: still one province that read it
    notices.mark_read(session, other_province_user, [notice])
    log_in(client, ministry_user)

    page = client.get("/bo/thong-bao").get_data(as_text=True)

    row = re.search(r"<tr><td>[^<]*</td><td>Triển khai Chỉ số CCHC</td>.*?</tr>", page, re.S)
    assert row, "the notice is not in the sent list"
    assert text_of(row.group(0)).endswith("Triển khai Chỉ số CCHC Bộ Nội vụ 63 2")
    assert notices.sent_notices(session) == [(notice, 63, 2)]


def test_ministry_home_lists_recent_notices_with_their_reads(client, session, ministry_user, province_user):
    notice = notices.post_notice(session, ministry_user, "Triển khai Chỉ số CCHC", "", province_ids=[HA_NOI, HAI_PHONG])
    notices.mark_read(session, province_user, [notice])
    log_in(client, ministry_user)

    page = text_of(client.get("/").get_data(as_text=True))

    assert "Triển khai Chỉ số CCHC" in page
    assert "gửi 2 địa phương · 1 đã đọc" in page
