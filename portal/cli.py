"""`flask --app wsgi portal ...`: set up the database, accounts and the demo."""

from __future__ import annotations

import csv
from pathlib import Path

import click
from flask import Flask, current_app, render_template
from flask.cli import AppGroup

from portal.extensions import db

portal_cli = AppGroup("portal", help="Cổng Chỉ số CCHC: quản trị cơ sở dữ liệu, tài khoản và dữ liệu chạy thử.")


def register_cli(app: Flask) -> None:
    app.cli.add_command(portal_cli)


def init_database() -> dict[str, int]:
    """Create or upgrade the schema, then load any missing reference data."""
    from portal.database import upgrade_schema
    from portal.domain.reference import load_reference_data

    assert db.engine is not None
    upgrade_schema(db.engine)
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
        sheet = accounts.provision_provinces(session, reset=set(reset))
    if out.suffix.lower() == ".csv":
        with out.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["Tỉnh, thành phố", "Tên đăng nhập", "Mật khẩu dùng một lần"])
            for row in sheet:
                writer.writerow([row.province, row.username, row.password or "(đã cấp trước đây, không đổi)"])
    else:
        html = render_template("cli/accounts_sheet.html", sheet=sheet,
                               login_url=current_app.config["PORTAL_BASE_URL"] + "/dang-nhap")
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
    path = Path(current_app.config["INSTANCE_DIR"]) / "demo-accounts.txt"
    lines = [f"{a.username}\t{a.role}\t{a.province}\t{a.password or '(giữ mật khẩu cũ)'}" for a in created]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    click.echo(f"Đợt chạy thử: {campaign.name}")
    click.echo("Tài khoản chạy thử (tên đăng nhập / mật khẩu):")
    shown = [a for a in created if a.username in {demo.DEMO_ADMIN, "ha-noi", "hai-phong", "ha-noi-cntt",
                                                   "hai-phong-cntt", "da-nang"}]
    for account in shown:
        label = {"ministry": "Bộ Nội vụ", "province": "Tỉnh", "it_focal": "Đầu mối CNTT"}[account.role]
        click.echo(f"  {label:<13} {account.username:<16} {account.password or '(giữ mật khẩu cũ)'}"
                   f"  {account.province}")
    click.echo(f"  … và {len(created) - len(shown)} tài khoản khác (mỗi tỉnh một tài khoản <tên-tỉnh> và "
               f"<tên-tỉnh>-cntt). Danh sách đầy đủ: {path}")
