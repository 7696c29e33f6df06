"""Friendly Vietnamese error pages; HTMX requests get a fragment shown in the page's message area."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, g, render_template, request
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from portal.domain.campaigns import Contact, NoCurrentCampaign, NotInCampaign, PastCampaign
from portal.domain.text import size_vn

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Yêu cầu không hợp lệ", "Máy chủ không hiểu yêu cầu này. Vui lòng quay lại và thử lại."),
    403: ("Không có quyền truy cập", "Tài khoản của bạn không được phép xem hoặc thực hiện nội dung này."),
    404: ("Không tìm thấy trang", "Trang hoặc dữ liệu bạn tìm không tồn tại hoặc bạn không có quyền xem."),
    405: ("Thao tác không được hỗ trợ", "Trang này không nhận kiểu yêu cầu vừa gửi."),
    413: ("Tệp quá lớn", "Tệp tải lên vượt quá dung lượng cho phép ({limit}). Vui lòng chọn tệp nhỏ hơn."),
    429: ("Thao tác quá nhiều lần",
          "Bạn đã thử quá nhiều lần trong thời gian ngắn. Vui lòng đợi vài phút rồi thử lại."),
    500: ("Đã xảy ra lỗi", "Hệ thống gặp sự cố khi xử lý yêu cầu. Dữ liệu đã lưu trước đó không bị ảnh hưởng. "
          "Vui lòng thử lại sau; nếu lỗi còn tiếp diễn, hãy liên hệ Bộ Nội vụ."),
}
# The database gone for a moment (PostgreSQL restarting, a network cut, SQLite busy beyond its timeout): the
# request's transaction was rolled back, so nothing of it was saved; the pool reconnects on the next request.
UNAVAILABLE_MESSAGE = ("Hệ thống tạm thời gián đoạn",
                       "Máy chủ dữ liệu đang tạm thời không phản hồi nên thao tác vừa rồi chưa được lưu. "
                       "Dữ liệu đã lưu trước đó không bị ảnh hưởng. Vui lòng đợi khoảng một phút rồi thử lại.")
RETRY_AFTER_SECONDS = 30
CSRF_MESSAGE = ("Phiên làm việc đã hết hạn",
                "Biểu mẫu đã hết hiệu lực (có thể do mở quá lâu hoặc đã đăng nhập lại ở nơi khác). "
                "Vui lòng tải lại trang và gửi lại; dữ liệu đã lưu trước đó không bị mất.")


def render_error(status: int, title: str, message: str, **context: Any) -> Response:
    """The error as a page, or as a fragment retargeted to #flash for an HTMX request."""
    if request.htmx:
        response = Response(render_template("errors/_error.html", status=status, title=title, message=message,
                                            **context), status=status)
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return Response(render_template("errors/error.html", status=status, title=title, message=message, **context),
                    status=status)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_error: CSRFError) -> Response:
        return render_error(400, *CSRF_MESSAGE)

    @app.errorhandler(PastCampaign)
    def past_campaign(error: PastCampaign) -> Response:
        _rollback()
        return render_error(409, "Chỉ xem, không sửa được", error.message)

    @app.errorhandler(NotInCampaign)
    def not_in_campaign(error: NotInCampaign) -> Response:
        _rollback()
        return render_error(409, "Không thuộc đợt đánh giá hiện hành", error.message)

    @app.errorhandler(NoCurrentCampaign)
    def no_current_campaign(error: NoCurrentCampaign) -> Response:
        _rollback()
        return render_error(409, "Chưa có đợt đánh giá hiện hành", error.message)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        title, message = MESSAGES.get(status, (error.name, error.description or ""))
        if status == 413:
            message = message.format(limit=size_vn(app.config["MAX_CONTENT_LENGTH"] or 0))
        response = render_error(status, title, message)
        if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> Response:
        return _unavailable(error)

    @app.errorhandler(DBAPIError)
    def database_error(error: DBAPIError) -> Response:
        # A connection the server dropped surfaces as another DBAPIError subclass (InterfaceError and the
        # like, flagged as a disconnect); any other database error is a real fault: the 500 page.
        if error.connection_invalidated:
            return _unavailable(error)
        log.error("database error", exc_info=error)
        _rollback()
        return render_error(500, *MESSAGES[500])

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> Response:
        original = error.original_exception
        if isinstance(original, OperationalError) or (isinstance(original, DBAPIError)
                                                      and original.connection_invalidated):
            return _unavailable(original)
        log.error("unhandled error", exc_info=original or error)
        _rollback()
        return render_error(500, *MESSAGES[500])


def _rollback() -> None:
    try:
        from portal.extensions import db

        db.session.rollback()
    except Exception:  # noqa: BLE001 - the page must render even when the database is down
        pass


def _unavailable(error: Exception) -> Response:
    """503 with the Vietnamese page (or fragment) and Retry-After; the request's transaction is rolled back."""
    log.warning("database unavailable: %s", str(error).splitlines()[0] if str(error) else type(error).__name__)
    _rollback()
    # The page must render without the database: the header shows no account (loading it would ask the
    # database again) and the footer the configured contact instead of the campaign's.
    if "_login_user" not in g or g._login_user is None:
        g._login_user = AnonymousUserMixin()
    fallback = Contact(unit=current_app.config.get("PORTAL_CONTACT", ""))
    response = render_error(503, *UNAVAILABLE_MESSAGE, campaign_contact=lambda campaign=None: fallback)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
