"""config.py: values come from the environment, bad ones stop the portal with the variable's name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import Config, ConfigError
from portal import create_app

# Variables a developer's shell might carry into the run; each test starts without them.
_VARIABLES = ("DATABASE_URL", "SECRET_KEY", "SECRET_KEY_FILE", "PORTAL_BASE_URL", "PORTAL_TIMEZONE", "MAIL_PORT",
              "MAIL_USE_TLS", "MAIL_USE_SSL", "MAIL_SERVER", "PORTAL_DEMO", "SESSION_COOKIE_SECURE", "MAIL_USERNAME")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PORTAL_INSTANCE_DIR", str(tmp_path / "instance"))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://portal@localhost/cchc"),
        ("DATABASE_URL", "oracle+cx_oracle://portal@db/cchc"),
        ("PORTAL_BASE_URL", "ftp://chisocchc.gov.vn"),
        ("PORTAL_BASE_URL", "chisocchc.gov.vn"),
        ("PORTAL_TIMEZONE", "Asia/Hanoi_Nowhere"),
        ("MAIL_PORT", "hai mươi lăm"),
        ("MAIL_PORT", "0"),
        ("SECRET_KEY", "too-short"),
        ("MAIL_USE_TLS", "maybe"),
        ("PORTAL_LOGIN_MAX_FAILURES", "five"),
        ("PORTAL_LIST_MAX_ROWS", "0"),
        ("PORTAL_MAIL_CA_FILE", "/nowhere/relay-ca.pem"),
    ],
)
def test_bad_value_stops_the_portal_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as caught:
        Config()

    assert str(caught.value).startswith(variable)


def test_tls_and_ssl_together_are_refused_naming_both(monkeypatch):
    monkeypatch.setenv("MAIL_USE_TLS", "true")
    monkeypatch.setenv("MAIL_USE_SSL", "true")

    with pytest.raises(ConfigError) as caught:
        Config()

    assert "MAIL_USE_TLS" in str(caught.value)
    assert "MAIL_USE_SSL" in str(caught.value)


def test_unreadable_secret_file_is_refused_naming_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "missing"))

    with pytest.raises(ConfigError) as caught:
        Config()

    assert str(caught.value).startswith("SECRET_KEY_FILE")


def test_secret_key_is_read_from_the_file_named_by_secret_key_file(monkeypatch, tmp_path):
    key_file = tmp_path / "secret"
    key_file.write_text("k" * 40 + "\n", encoding="utf-8")
    monkeypatch.setenv("SECRET_KEY_FILE", str(key_file))

    assert Config().SECRET_KEY == "k" * 40


def test_secret_key_is_generated_once_into_the_instance_folder_and_kept(tmp_path):
    first = Config().SECRET_KEY
    second = Config().SECRET_KEY

    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.read_text(encoding="utf-8") == first
    assert len(first) == 64
    assert second == first
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_secret_key_from_the_environment_wins_over_the_generated_one(monkeypatch, tmp_path):
    Config()
    monkeypatch.setenv("SECRET_KEY", "s" * 32)

    assert Config().SECRET_KEY == "s" * 32


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://cchc:pw@db.local:5432/cchc", "postgresql+psycopg://cchc:pw@db.local:5432/cchc"),
        ("postgresql://cchc@db.local/cchc", "postgresql+psycopg://cchc@db.local/cchc"),
        ("postgresql+psycopg://cchc@db.local/cchc", "postgresql+psycopg://cchc@db.local/cchc"),
        ("sqlite:////srv/cchc/portal.sqlite3", "sqlite:////srv/cchc/portal.sqlite3"),
    ],
)
def test_database_url_is_normalised_to_the_psycopg_driver(monkeypatch, given, expected):
    monkeypatch.setenv("DATABASE_URL", given)

    assert Config().SQLALCHEMY_DATABASE_URI == expected


def test_defaults_run_locally_on_sqlite_in_the_instance_folder(tmp_path):
    config = Config()

    assert config.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path / 'instance' / 'portal.sqlite3'}"
    assert config.PORTAL_TIMEZONE == "Asia/Ho_Chi_Minh"
    assert config.PORTAL_BASE_URL == "http://127.0.0.1:5000"
    assert config.SESSION_COOKIE_SECURE is False
    assert config.SESSION_COOKIE_HTTPONLY is True


def test_an_https_base_url_makes_the_session_cookie_secure(monkeypatch):
    monkeypatch.setenv("PORTAL_BASE_URL", "https://chisocchc.gov.vn/")

    config = Config()

    assert config.PORTAL_BASE_URL == "https://chisocchc.gov.vn"
    assert config.SESSION_COOKIE_SECURE is True
    assert config.SESSION_COOKIE_NAME == "__Host-cchc_session"


def test_a_batch_whose_worst_case_outlasts_the_outbox_lease_is_refused(monkeypatch):
    # 50 messages that may each wait the full 30 s timeout and a 0.1 s pace: 1505 s, over a 600 s lease.
    monkeypatch.setenv("PORTAL_OUTBOX_BATCH", "50")
    monkeypatch.setenv("PORTAL_MAIL_TIMEOUT", "30")
    monkeypatch.setenv("PORTAL_MAIL_RATE", "10")
    monkeypatch.setenv("PORTAL_OUTBOX_LEASE_SECONDS", "600")

    with pytest.raises(ConfigError) as caught:
        Config()

    assert str(caught.value).startswith("PORTAL_OUTBOX_LEASE_SECONDS: a batch may take up to 1505 s")
    monkeypatch.setenv("PORTAL_OUTBOX_BATCH", "19")  # 19 × 30.1 = 572 s fits
    assert Config().PORTAL_OUTBOX_LEASE_SECONDS == 600


def test_the_default_outbox_settings_fit_their_lease_and_the_old_stuck_minutes_are_refused(monkeypatch):
    for name in ("PORTAL_OUTBOX_BATCH", "PORTAL_MAIL_TIMEOUT", "PORTAL_MAIL_RATE", "PORTAL_OUTBOX_LEASE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    assert Config().PORTAL_OUTBOX_LEASE_SECONDS == 1800

    monkeypatch.setenv("PORTAL_OUTBOX_STUCK_MINUTES", "10")
    with pytest.raises(ConfigError) as caught:
        Config()
    assert "PORTAL_OUTBOX_LEASE_SECONDS" in str(caught.value)


# ---------------------------------------------------------------- demo mode: its public mailbox holds every link


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("MAIL_SERVER", "smtp.noivu.gov.vn", "MAIL_SERVER=smtp.noivu.gov.vn is another machine"),
    ("MAIL_PORT", "587", "MAIL_PORT=587 is a mail server's port"),
    ("MAIL_USERNAME", "khaosat", "MAIL_USERNAME, MAIL_USE_TLS or MAIL_USE_SSL is set"),
])
def test_demo_mode_is_refused_with_a_real_smtp_relay_configured(monkeypatch, variable, value, named):
    monkeypatch.setenv("PORTAL_DEMO", "1")
    monkeypatch.setenv("MAIL_SERVER", "127.0.0.1")
    monkeypatch.setenv("MAIL_PORT", "8025")
    assert Config().PORTAL_DEMO is True  # the local sink of ./scripts/demo
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as caught:
        Config()

    assert str(caught.value).startswith(f"PORTAL_DEMO: demo mode cannot run with a real SMTP relay configured "
                                        f"({named})")
    with pytest.raises(ConfigError):  # nor by overriding the settings in code
        create_app({"PORTAL_DEMO": True, "MAIL_SERVER": "smtp.noivu.gov.vn", "MAIL_PORT": 25})


def test_the_portal_refuses_to_start_in_demo_mode_at_an_https_address(tmp_path):
    environment = {**{k: v for k, v in os.environ.items() if k not in _VARIABLES},
                   "PORTAL_INSTANCE_DIR": str(tmp_path / "instance"), "PORTAL_DEMO": "1",
                   "PORTAL_BASE_URL": "https://chisocchc.gov.vn"}

    started = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=Path(__file__).resolve().parent.parent,
                             env=environment, capture_output=True, text=True, timeout=60)

    assert started.returncode != 0
    assert ("ConfigError: PORTAL_DEMO: demo mode cannot run at an https:// address (https://chisocchc.gov.vn)"
            in started.stderr.splitlines()[-1])
