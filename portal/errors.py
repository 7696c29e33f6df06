"""Friendly Vietnamese error pages; HTMX requests get a fragment shown in the page's message area."""

from __future__ import annotations

import logging

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

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
CSRF_MESSAGE = ("Phiên làm việc đã hết hạn",
                "Biểu mẫu đã hết hiệu lực (có thể do mở quá lâu hoặc đã đăng nhập lại ở nơi khác). "
                "Vui lòng tải lại trang và gửi lại; dữ liệu đã lưu trước đó không bị mất.")


def size_vn(size: int) -> str:
    """5242880 -> '5 MB', 524288 -> '512 KB' (a limit below one megabyte must not read '0 MB')."""
    if size >= 1024 * 1024:
        megabytes = size / (1024 * 1024)
        return f"{megabytes:.0f} MB" if megabytes.is_integer() else f"{megabytes:.1f} MB".replace(".", ",")
    return f"{max(1, size // 1024)} KB"


def render_error(status: int, title: str, message: str) -> Response:
    """The error as a page, or as a fragment retargeted to #flash for an HTMX request."""
    if request.htmx:
        response = Response(render_template("errors/_error.html", status=status, title=title, message=message),
                            status=status)
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return Response(render_template("errors/error.html", status=status, title=title, message=message),
                    status=status)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(_error: CSRFError) -> Response:
        return render_error(400, *CSRF_MESSAGE)

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

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> Response:
        log.error("unhandled error", exc_info=error.original_exception or error)
        try:
            from portal.extensions import db

            db.session.rollback()
        except Exception:  # noqa: BLE001 - the page must render even when the database is down
            pass
        return render_error(500, *MESSAGES[500])
