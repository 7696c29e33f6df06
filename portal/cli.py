"""`flask --app wsgi portal ...`: set up the database, accounts and the demo."""

from __future__ import annotations

import csv
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlmodel import select

from portal.extensions import db

portal_cli = AppGroup("portal", help="Cổng Chỉ số CCHC: quản trị cơ sở dữ liệu, tài khoản và dữ liệu chạy thử.")


def register_cli(app: Flask) -> None:
    app.cli.add_command(portal_cli)


def init_database() -> dict[str, int]:
    """Create or upgrade the schema, then load any missing reference data."""
    from portal.database import upgrade_schema
    from portal.domain.reference import load_reference_data

    assert db.engine is not None
    config = current_app.config
    upgrade_schema(db.engine, {"files": config["PORTAL_FILES_DIR"], "legacy_uploads": config["PORTAL_UPLOAD_DIR"],
                               "legacy_request_files": config["PORTAL_REQUEST_FILES_DIR"]})
    with db.new_session() as session:
        return load_reference_data(session)


@portal_cli.command("init-db")
def init_db_command() -> None:
    """Create or upgrade the schema and load the reference data (safe to run again)."""
    added = init_database()
    click.echo("Cơ sở dữ liệu đã sẵn sàng. Dữ liệu danh mục thêm mới: "
               + ", ".join(f"{k} {v}" for k, v in added.items()))


@portal_cli.command("create-admin")
@click.argument("name")
@click.option("--full-name", default="", help="Họ tên hiển thị.")
def create_admin_command(name: str, full_name: str) -> None:
    """Create a ministry administrator NAME with a one-time password."""
    from sqlmodel import select

    from portal.domain import accounts
    from portal.models import Role, User

    with db.new_session() as session:
        if session.exec(select(User).where(User.username == name.strip().lower())).first():
            raise click.ClickException(f"Tài khoản {name} đã tồn tại; mật khẩu không bị thay đổi.")
        user, password = accounts.create_user(session, name, Role.MINISTRY, full_name=full_name)
        session.commit()
        click.echo(f"Đã tạo tài khoản quản trị {user.username}. Mật khẩu dùng một lần: {password}")
        click.echo("Người dùng phải đổi mật khẩu ở lần đăng nhập đầu tiên.")


@portal_cli.command("provision-provinces")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Tệp phiếu tài khoản để in (.html) hoặc .csv.")
@click.option("--reset", multiple=True, help="Cấp lại mật khẩu cho tài khoản này (có thể lặp lại).")
def provision_provinces_command(out: Path, reset: tuple[str, ...]) -> None:
    """One account per province with a one-time password, written as a printable sheet.

    Existing accounts keep their passwords unless named with --reset.
    """
    from portal.domain import accounts

    with db.new_session() as session:
        try:
            sheet = accounts.provision_provinces(session, reset={name.strip().lower() for name in reset})
        except accounts.UnknownAccounts as unknown:
            raise click.ClickException(
                f"Không có tài khoản tỉnh nào tên {', '.join(unknown.names)}; không cấp lại mật khẩu nào. "
                "Tên tài khoản tỉnh là tên tỉnh không dấu, nối bằng gạch ngang, ví dụ ha-noi."
            ) from None
    if out.suffix.lower() == ".csv":
        with out.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Tỉnh, thành phố", "Tên đăng nhập", "Mật khẩu dùng một lần"])
            for row in sheet:
                writer.writerow([row.province, row.username, row.password or "(đã cấp trước đây, không đổi)"])
    else:
        # Straight from the Jinja environment: the app's context processors need a request (a logged-in user).
        html = current_app.jinja_env.get_template("cli/accounts_sheet.html").render(
            sheet=sheet, login_url=current_app.config["PORTAL_BASE_URL"] + "/dang-nhap")
        out.write_text(html, encoding="utf-8")
    out.chmod(0o600)
    new = sum(1 for row in sheet if row.password)
    click.echo(f"Đã ghi {out}: {new} mật khẩu mới, {len(sheet) - new} tài khoản giữ nguyên mật khẩu.")


@portal_cli.command("demo")
@click.option("--password", default=None, help="Một mật khẩu chung cho mọi tài khoản chạy thử (không buộc đổi).")
def demo_command(password: str | None) -> None:
    """Set up a demo campaign with accounts for every role and sample data; print the accounts."""
    from portal.domain import demo

    init_database()
    with db.new_session() as session:
        campaign = demo.ensure_demo_campaign(session, current_app.config["PORTAL_TIMEZONE"])
        created = demo.create_demo_accounts(session, password)
        demo.post_demo_notices(session)
        sample_2025 = demo.ensure_sample_2025(session)
        samples = demo.build_sample_data(session, campaign, tz_name=current_app.config["PORTAL_TIMEZONE"],
                                         base_url=current_app.config["PORTAL_BASE_URL"],
                                         mail_domain=current_app.config["PORTAL_MAIL_DOMAIN"],
                                         files_dir=current_app.config["PORTAL_FILES_DIR"],
                                         max_bytes=current_app.config["MAX_CONTENT_LENGTH"])
    path = Path(current_app.config["INSTANCE_DIR"]) / "demo-accounts.txt"
    lines = [f"{a.username}\t{a.role}\t{a.province}\t{a.password or '(giữ mật khẩu cũ)'}" for a in created]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    click.echo(f"Đợt chạy thử: {campaign.name}")
    click.echo(f"Đợt mẫu trên bản đồ 2025: {sample_2025.name}")
    for line in samples:
        click.echo(f"  Dữ liệu mẫu: {line}")
    click.echo("Tài khoản chạy thử (tên đăng nhập / mật khẩu):")
    shown = [a for a in created if a.username in {demo.DEMO_ADMIN, "ha-noi", "hai-phong", "ha-noi-cntt",
                                                   "hai-phong-cntt", "da-nang"}]
    for account in shown:
        label = {"ministry": "Bộ Nội vụ", "province": "Tỉnh", "it_focal": "Đầu mối CNTT"}[account.role]
        click.echo(f"  {label:<13} {account.username:<16} {account.password or '(giữ mật khẩu cũ)'}"
                   f"  {account.province}")
    click.echo(f"  … và {len(created) - len(shown)} tài khoản khác (mỗi tỉnh một tài khoản <tên-tỉnh> và "
               f"<tên-tỉnh>-cntt). Danh sách đầy đủ: {path}")


@portal_cli.command("worker")
@click.option("--once", is_flag=True,
              help="Chạy mỗi việc một lần (nhắc hẹn, thu hồi thư kẹt, một lô thư) rồi thoát / "
                   "run every job once (reminders, sweep, one batch) and exit: for tests and cron.")
def worker_command(once: bool) -> None:
    """Tiến trình gửi thư và việc định kỳ / the worker: sends the outbox, sweeps, queues reminders.

    Chạy riêng một tiến trình, không chạy trong gunicorn. Dừng bằng Ctrl+C hoặc
    SIGTERM: thư đang gửi được gửi xong, các thư còn lại trả về hàng đợi.

    Run it as one process of its own, never inside gunicorn. Ctrl+C or SIGTERM
    lets the message on the wire finish and returns the rest of its batch to
    the queue. Settings: MAIL_* (SMTP server), PORTAL_MAIL_RATE,
    PORTAL_OUTBOX_BATCH, PORTAL_OUTBOX_INTERVAL, PORTAL_OUTBOX_LEASE_SECONDS,
    PORTAL_MAIL_MAX_ATTEMPTS, PORTAL_BOUNCE_ADDRESS.
    """
    import logging

    from portal import jobs

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        with jobs.stop_on_signals():
            tried = jobs.run_once(app)
        click.echo(f"Đã xử lý {tried} thư.")
        return
    jobs.run_worker(app)


@portal_cli.command("integrity-check")
@click.option("--campaign", "campaign_id", type=int, default=None,
              help="Chỉ đợt đánh giá này (mã số) / only this campaign's id.")
def integrity_check_command(campaign_id: int | None) -> None:
    """Chạy các quy tắc phát hiện can thiệp / run the integrity rules over every province with submitted forms.

    Re-running adds no duplicate flag; the worker runs the same rules over new submissions.
    """
    from portal.domain import integrity_rules
    from portal.models import IntegrityFlag

    with db.new_session() as session:
        new = integrity_rules.check_campaigns(session, current_app.config["SECRET_KEY"],
                                              integrity_rules.Thresholds.from_config(current_app.config),
                                              campaign_id)
        query = select(IntegrityFlag)
        if campaign_id is not None:
            query = query.where(IntegrityFlag.campaign_id == campaign_id)
        total = len(session.exec(query).all())
    click.echo(f"Đã kiểm tra: {new} cảnh báo mới, {total} cảnh báo tất cả.")


@portal_cli.command("collect-files")
@click.option("--min-age-hours", type=click.IntRange(min=1), default=None,
              help="Chỉ xóa tệp cũ hơn ngần này giờ (mặc định PORTAL_FILES_MIN_AGE_HOURS) / "
                   "only files older than this many hours (default PORTAL_FILES_MIN_AGE_HOURS).")
def collect_files_command(min_age_hours: int | None) -> None:
    """Xóa tệp tải lên không còn dùng / remove uploaded files nothing references any more.

    Safe while the portal runs, on one server or several sharing PORTAL_FILES_DIR; the
    worker does the same every 6 hours.
    """
    from datetime import timedelta

    from portal.domain import evidence

    hours = min_age_hours or current_app.config["PORTAL_FILES_MIN_AGE_HOURS"]
    with db.new_session() as session:
        collected = evidence.collect_garbage(session, current_app.config["PORTAL_FILES_DIR"],
                                             min_age=timedelta(hours=hours))
    click.echo(f"Đã xóa {collected.rows} bản ghi tệp không còn dùng, {collected.files} tệp "
               f"({evidence.megabytes(collected.bytes)}) và {collected.temporaries} tệp tạm bị bỏ dở.")


@portal_cli.command("bounces")
@click.option("--once", is_flag=True,
              help="Đọc hộp thư báo lỗi một lần rồi thoát / read the bounce mailbox once and exit (cron, tests).")
def bounces_command(once: bool) -> None:
    """Đọc thư báo lỗi gửi thư / read the bounce mailbox and mark the messages it names.

    Đọc Maildir (PORTAL_BOUNCE_MAILDIR) hoặc thư mục IMAP qua TLS
    (PORTAL_BOUNCE_IMAP_HOST, _PORT, _USER, _PASSWORD, _FOLDER), ghi nhận thư bị
    trả lại hoặc chậm, rồi in số đếm. Không có --once: đọc lại sau mỗi
    PORTAL_BOUNCE_INTERVAL giây đến khi Ctrl+C (tiến trình worker đã làm việc
    này; lệnh dùng khi không chạy worker).

    Reads the configured source, records bounced and delayed messages, prints
    the counts. Without --once it reads again every PORTAL_BOUNCE_INTERVAL
    seconds until Ctrl+C (the worker already does this).
    """
    import imaplib

    from portal import jobs
    from portal.domain import bounces
    from portal.models import utcnow

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not bounces.source_configured(app.config):
        raise click.ClickException("Chưa cấu hình hộp thư báo lỗi: đặt PORTAL_BOUNCE_MAILDIR hoặc "
                                   "PORTAL_BOUNCE_IMAP_HOST (cùng _USER, _PASSWORD).")
    with jobs.stop_on_signals():
        while True:
            try:
                result = bounces.intake_configured(app, utcnow())
            except (OSError, imaplib.IMAP4.error) as exc:  # unreachable, TLS or login refused, unreadable
                if once:
                    raise click.ClickException(f"Không đọc được hộp thư báo lỗi: {exc}") from None
                click.echo(f"Không đọc được hộp thư báo lỗi, thử lại sau: {exc}", err=True)
            else:
                click.echo(f"Thư báo lỗi mới: {result.processed} (bị trả lại {result.permanent}, chậm "
                           f"{result.temporary}, không rõ thư gốc {result.unmatched}, không đọc được "
                           f"{result.unparsed}); đã xử lý trước đây: {result.duplicates}.")
            if once or jobs.stop_requested.wait(app.config["PORTAL_BOUNCE_INTERVAL"]):
                return


@portal_cli.command("mail-sink")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(1, 65535),
              help="Cổng SMTP trên 127.0.0.1 / SMTP port on 127.0.0.1.")
@click.option("--maildir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Thư mục Maildir lưu thư (mặc định PORTAL_DEMO_MAILDIR, instance/demo-mail) / "
                   "where caught mail is stored.")
def mail_sink_command(port: int, maildir: Path | None) -> None:
    """Hộp thư giả lập cho máy thử / a local mail sink for a demo machine.

    Nhận mọi thư gửi tới 127.0.0.1:PORT và lưu vào một Maildir, không chuyển
    tiếp đi đâu. Ở chế độ chạy thử (PORTAL_DEMO=1), cổng hiển thị các thư này
    tại “Hộp thư thử nghiệm” (/hop-thu-thu-nghiem). Dừng bằng Ctrl+C.

    Accepts every message sent to 127.0.0.1:PORT and files it in a Maildir;
    it never relays. Stop with Ctrl+C.
    """
    import signal
    import threading

    from portal.mailsink import start_sink

    folder = maildir or Path(current_app.config["PORTAL_DEMO_MAILDIR"])
    try:
        controller = start_sink(folder, port=port)
    except (OSError, RuntimeError) as exc:
        raise click.ClickException(f"Không mở được cổng 127.0.0.1:{port}: {exc}") from None
    click.echo(f"Hộp thư giả lập nhận thư tại 127.0.0.1:{port}, lưu vào {folder} (Ctrl+C để dừng).")
    stopped = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopped.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        stopped.wait()
    finally:
        controller.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
