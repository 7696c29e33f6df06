"""Bounce messages kept aside ("Thư báo lỗi để riêng"): who sees which, and how safely they are shown."""

from __future__ import annotations

import base64

import pytest
from sqlmodel import Session

from portal.domain import bounce_parsing, kept_aside
from portal.domain.bounces import intake
from portal.models import BounceMessage
from tests.support.accounts import HA_NOI, HAI_PHONG, log_in
from tests.test_bounce_intake import MAIL_DOMAIN, NOW, Survey, _sample, with_to


def keep(session: Session, province_id: int | None, subject: str, *, kind: str = "unparsed", raw: str | None = None
         ) -> BounceMessage:
    default = f"From: MAILER-DAEMON@mx.vn\nSubject: {subject}\n\nNội dung {subject}\n"
    message = BounceMessage(digest=f"{subject}-{province_id}".encode().hex()[:64].ljust(64, "0"),
                            province_id=province_id, kind=kind, received_at=NOW,
                            explanation="Không đọc được thư báo lỗi này",
                            raw=raw if raw is not None else default)
    session.add(message)
    session.commit()
    return message


@pytest.fixture
def kept(session):
    return {"hanoi": keep(session, HA_NOI, "Thư của Hà Nội"),
            "haiphong": keep(session, HAI_PHONG, "Thư của Hải Phòng"),
            "nobody": keep(session, None, "Thư không rõ tỉnh", kind="unmatched"),
            "applied": keep(session, HA_NOI, "Lỗi đã ghi vào thư mời", kind="permanent", raw="")}


def test_the_ministry_sees_every_message_kept_aside(client, ministry_user, kept):
    log_in(client, ministry_user)

    page = client.get("/dau-moi-cntt/thu-de-rieng").get_data(as_text=True)

    assert "Thư báo lỗi để riêng" in page
    for key in ("hanoi", "haiphong", "nobody"):
        assert f'id="k-{kept[key].id}"' in page
    assert f'id="k-{kept["applied"].id}"' not in page  # a bounce applied to its invitation is on the error list
    assert "Không xác định" in page and "Thành phố Hải Phòng" in page
    for key in ("hanoi", "haiphong", "nobody"):
        assert client.get(f"/dau-moi-cntt/thu-de-rieng/{kept[key].id}").status_code == 200


@pytest.mark.parametrize("role", ["province_user", "it_focal_user"])
def test_a_province_sees_only_the_messages_about_its_own_invitations(request, client, role, kept):
    log_in(client, request.getfixturevalue(role))

    page = client.get("/dau-moi-cntt/thu-de-rieng").get_data(as_text=True)

    assert f'id="k-{kept["hanoi"].id}"' in page
    assert f'id="k-{kept["haiphong"].id}"' not in page and f'id="k-{kept["nobody"].id}"' not in page
    detail = client.get(f"/dau-moi-cntt/thu-de-rieng/{kept['hanoi'].id}")
    assert detail.status_code == 200 and "Nội dung Thư của Hà Nội" in detail.get_data(as_text=True)
    # Another province's message, one tied to no province, and one that is not kept aside: all 404 alike.
    for other in ("haiphong", "nobody", "applied"):
        response = client.get(f"/dau-moi-cntt/thu-de-rieng/{kept[other].id}")
        assert response.status_code == 404
        assert "Hải Phòng" not in response.get_data(as_text=True)


def test_the_error_list_links_to_the_messages_kept_aside(client, it_focal_user, session):
    log_in(client, it_focal_user)

    assert 'href="/dau-moi-cntt/thu-de-rieng"' in client.get("/dau-moi-cntt/loi-gui").get_data(as_text=True)


HOSTILE = (
    "From: =?utf-8?b?" + base64.b64encode("Máy chủ thư <mailer@mx.vn>".encode()).decode() + "?=\n"
    "Subject: =?utf-8?q?Tr=E1=BA=A3_l=E1=BB=9Di_t=E1=BB=B1_=C4=91=E1=BB=99ng?=\n"
    "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"B\"\n\n"
    "--B\nContent-Type: text/html; charset=utf-8\n\n"
    "<html><body><p>Tôi đang nghỉ phép.</p><script>alert('xss')</script>"
    "<img src=x onerror=\"alert(1)\"><a href=\"javascript:alert(2)\">bấm vào đây</a></body></html>\n"
    "--B\nContent-Type: message/rfc822\n\n"
    "Subject: Mời trả lời phiếu\nContent-Type: text/plain; charset=utf-8\n\n"
    "Mở phiếu: http://localhost/phieu/AbCdEf0123456789-secret-token?x=1 trước hạn.\n"
    "--B\nContent-Type: application/pdf; name=\"thu.pdf\"\nContent-Disposition: attachment; filename=\"thu.pdf\"\n"
    "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--B--\n"
)


def test_a_kept_message_is_shown_as_text_only_with_personal_links_hidden(client, ministry_user, session):
    message = keep(session, HA_NOI, "x", raw=HOSTILE)
    log_in(client, ministry_user)

    page = client.get(f"/dau-moi-cntt/thu-de-rieng/{message.id}").get_data(as_text=True)

    assert "Trả lời tự động" in page and "Máy chủ thư &lt;mailer@mx.vn&gt;" in page  # decoded headers, escaped
    assert "Tôi đang nghỉ phép." in page and "bấm vào đây" in page  # the HTML's text
    assert "<script>alert" not in page and "onerror" not in page and "javascript:" not in page
    assert "<img" not in page.split("<main")[1]
    assert "secret-token" not in page and bounce_parsing.HIDDEN_LINK in page
    assert "thu.pdf (application/pdf)" in page


def test_a_long_kept_message_is_cut(session):
    message = keep(session, HA_NOI, "x", raw="Subject: dài\n\n" + "Thư rất dài. " * 10_000)

    view = kept_aside.readable(message)

    assert view.truncated and len(view.text) == kept_aside.DISPLAY_LIMIT


def test_an_autoreply_about_an_invitation_is_kept_aside_for_that_province(client, session, province_user):
    survey = Survey(session, HA_NOI)
    sent = survey.send("tu-dong@hanoi.gov.vn")
    intake(session, [("m1", with_to(_sample("qmail_08.txt"), f"bounces+{sent.bounce_token}@{MAIL_DOMAIN}"))],
           now=NOW)
    log_in(client, province_user)

    page = client.get("/dau-moi-cntt/thu-de-rieng").get_data(as_text=True)

    assert "Không đọc được" in page and "Không có thư nào được để riêng" not in page
