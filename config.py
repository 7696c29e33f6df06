"""The portal's configuration, read from environment variables.

Every value has a safe default for a local run (SQLite under instance/, mail to
a local sink); a bad value stops the portal at start with a message naming the
variable, rather than failing later in front of a user.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BASE_DIR = Path(__file__).resolve().parent


class ConfigError(RuntimeError):
    """A configuration variable has a value the portal cannot use."""


def _env(name: str, default: str | None = None) -> str | None:
    """The variable's value, or the content of the file named by NAME_FILE (for secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{name}_FILE: cannot read {file_name}: {exc}") from exc
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = _env(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
    return number


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    value = _env(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name}: must be at least {minimum}, got {number}")
    return number


def _instance_dir() -> Path:
    path = Path(_env("PORTAL_INSTANCE_DIR", str(BASE_DIR / "instance")))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _secret_key(instance: Path) -> str:
    """SECRET_KEY from the environment, or one generated once into instance/."""
    value = _env("SECRET_KEY")
    if value is not None:
        if len(value) < 32:
            raise ConfigError("SECRET_KEY: must be at least 32 characters long")
        return value
    key_file = instance / "secret_key"
    if not key_file.exists():
        # Written private from the first byte, then linked into place: gunicorn workers starting together
        # must all end up with the one key that won, never each with its own.
        draft = instance / f".secret_key.{os.getpid()}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return key_file.read_text(encoding="utf-8").strip()


def _database_url(instance: Path) -> str:
    url = _env("DATABASE_URL", f"sqlite:///{instance / 'portal.sqlite3'}")
    assert url is not None
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants an explicit driver.
    if url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url[len("postgres://"):]
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if not url.startswith(("sqlite:", "postgresql+psycopg:")):
        raise ConfigError(f"DATABASE_URL: only sqlite:/// and postgresql:// URLs are supported, got {url!r}")
    return url


def _base_url() -> str:
    value = _env("PORTAL_BASE_URL", "http://127.0.0.1:5000")
    assert value is not None
    parsed = urlparse(value)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ConfigError(f"PORTAL_BASE_URL: expected an http(s) address like https://chisocchc.gov.vn, got {value!r}")
    return value.rstrip("/")


def _timezone() -> str:
    value = _env("PORTAL_TIMEZONE", "Asia/Ho_Chi_Minh")
    assert value is not None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"PORTAL_TIMEZONE: unknown time zone {value!r}") from None
    return value


def _bounce_address(mail_domain: str) -> str:
    value = _env("PORTAL_BOUNCE_ADDRESS", f"bounces@{mail_domain}")
    assert value is not None
    local, at, domain = value.partition("@")
    if (not at or not local or not domain or "+" in local or "@" in domain or not value.isascii()
            or any(c.isspace() for c in value)):
        raise ConfigError(f"PORTAL_BOUNCE_ADDRESS: expected an address like bounces@chisocchc.gov.vn "
                          f"(without '+'), got {value!r}")
    return value


def outbox_batch_worst_case(batch: int, timeout: float, rate: float) -> float:
    """Seconds a batch may take at worst: every message waits its pace and then the whole SMTP timeout."""
    return batch * (timeout + (1.0 / rate if rate > 0 else 0.0))


def check_outbox_lease(batch: int, timeout: float, rate: float, lease: int) -> None:
    """Refuse a batch size, SMTP timeout and pace whose worst case outlasts the outbox lease."""
    worst = outbox_batch_worst_case(batch, timeout, rate)
    if worst > lease:
        raise ConfigError(
            f"PORTAL_OUTBOX_LEASE_SECONDS: a batch may take up to {worst:.0f} s (PORTAL_OUTBOX_BATCH {batch} × "
            f"(PORTAL_MAIL_TIMEOUT {timeout:g} s + 1/PORTAL_MAIL_RATE)), longer than the lease of {lease} s; "
            "use a smaller batch, a shorter timeout or a longer lease")


LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}
SMTP_SERVICE_PORTS = {25, 465, 587}


def check_demo_mode(config: Mapping[str, Any]) -> None:
    """Refuse demo mode where its mailbox would leak: it shows every personal survey link to anyone.

    "Hộp thư thử nghiệm" is public in demo mode (a demo respondent has no account), so demo mode is only for a
    machine whose mail goes to the local sink: never with a real SMTP relay, never at an https:// address.
    """
    if not config.get("PORTAL_DEMO"):
        return
    base_url = str(config.get("PORTAL_BASE_URL", ""))
    if base_url.startswith("https://"):
        raise ConfigError(f"PORTAL_DEMO: demo mode cannot run at an https:// address ({base_url}): its public "
                          "mailbox (Hộp thư thử nghiệm) shows every personal survey link. Unset PORTAL_DEMO on a "
                          "real server.")
    server, port = str(config.get("MAIL_SERVER") or ""), config.get("MAIL_PORT")
    relay = None
    if server not in LOOPBACK_HOSTS:
        relay = f"MAIL_SERVER={server} is another machine"
    elif port in SMTP_SERVICE_PORTS:
        relay = f"MAIL_PORT={port} is a mail server's port"
    elif config.get("MAIL_USERNAME") or config.get("MAIL_USE_TLS") or config.get("MAIL_USE_SSL"):
        relay = "MAIL_USERNAME, MAIL_USE_TLS or MAIL_USE_SSL is set"
    if relay:
        raise ConfigError(f"PORTAL_DEMO: demo mode cannot run with a real SMTP relay configured ({relay}): its "
                          "public mailbox (Hộp thư thử nghiệm) shows every personal survey link. Either unset "
                          "PORTAL_DEMO, or send mail to the local sink (flask portal mail-sink, MAIL_SERVER=127.0.0.1 "
                          "MAIL_PORT=8025, no login, no TLS).")

def file_dirs(instance: Path | None = None) -> dict[str, str]:
    """Where uploaded files live (PORTAL_FILES_DIR) and the two folders earlier versions used.

    PORTAL_UPLOAD_DIR and PORTAL_REQUEST_FILES_DIR are deprecated: when PORTAL_FILES_DIR is not
    set, the first of them that is set becomes the files folder (so an install that set one keeps
    its files where its backups look); both are still read by the migration that moves their files
    into the store.
    """
    instance = instance or _instance_dir()
    uploads, request_files = _env("PORTAL_UPLOAD_DIR"), _env("PORTAL_REQUEST_FILES_DIR")
    files = _env("PORTAL_FILES_DIR")
    if files is None and (uploads or request_files):
        files = uploads or request_files
        logging.getLogger(__name__).warning(
            "PORTAL_UPLOAD_DIR and PORTAL_REQUEST_FILES_DIR are deprecated: set PORTAL_FILES_DIR (now %s)", files)
    return {"files": files or str(instance / "files"),
            "legacy_uploads": uploads or str(instance / "uploads"),
            "legacy_request_files": request_files or str(instance / "request-files")}


class Config:
    """Built from the environment when instantiated, so tests can set variables first."""

    def __init__(self) -> None:
        instance = _instance_dir()
        self.INSTANCE_DIR = str(instance)
        self.SECRET_KEY = _secret_key(instance)
        self.SQLALCHEMY_DATABASE_URI = _database_url(instance)
        self.PORTAL_BASE_URL = _base_url()
        self.PORTAL_TIMEZONE = _timezone()
        self.PORTAL_DEMO = env_bool("PORTAL_DEMO", False)

        secure = self.PORTAL_BASE_URL.startswith("https://")
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", secure)
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_NAME = "cchc_session" if not secure else "__Host-cchc_session"
        self.PERMANENT_SESSION_LIFETIME = env_int("PORTAL_SESSION_HOURS", 8, minimum=1) * 3600  # idle
        # However active, a session ends this long after its login (a stolen cookie does not live forever).
        self.PORTAL_SESSION_MAX_HOURS = env_int("PORTAL_SESSION_MAX_HOURS", 12, minimum=1)
        # How many proxies in front of gunicorn append to X-Forwarded-For/-Proto/-Host (Werkzeug's
        # ProxyFix): 1 behind the README's nginx. 0 trusts no such header, as when gunicorn faces clients.
        self.PORTAL_PROXY_HOPS = env_int("PORTAL_PROXY_HOPS", 0, minimum=0)
        self.REMEMBER_COOKIE_SECURE = secure
        self.WTF_CSRF_TIME_LIMIT = None  # the session's lifetime bounds the token already

        # Uploads: the respondent list is the largest thing a province sends.
        self.MAX_CONTENT_LENGTH = env_int("PORTAL_MAX_UPLOAD_MB", 5, minimum=1) * 1024 * 1024
        # Rows one respondent-list upload may hold (a province's whole list: each upload replaces the draft).
        self.PORTAL_LIST_MAX_ROWS = env_int("PORTAL_LIST_MAX_ROWS", 20_000, minimum=1)
        # Every uploaded file (nominations, request attachments, evidence), by content hash, outside the web
        # root (static/); the two folders of earlier versions are read once, when migrating, and then unused.
        folders = file_dirs(instance)
        self.PORTAL_FILES_DIR = folders["files"]
        self.PORTAL_UPLOAD_DIR = folders["legacy_uploads"]
        self.PORTAL_REQUEST_FILES_DIR = folders["legacy_request_files"]
        self.PORTAL_FILES_MIN_AGE_HOURS = env_int("PORTAL_FILES_MIN_AGE_HOURS", 24, minimum=1)

        # Rate limits (Flask-Limiter): counted in the portal's own database by default (portaldb://), so
        # every gunicorn worker, and every server on one PostgreSQL, shares one count per client.
        self.RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "portaldb://")
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        self.LOGIN_RATE_PER_ADDRESS = _env("PORTAL_LOGIN_RATE", "20 per 10 minutes")
        # Login throttling per account and address, with an account-wide ceiling that slows down
        # rather than locks (portal/domain/login_throttle.py).
        self.LOGIN_MAX_FAILURES = env_int("PORTAL_LOGIN_MAX_FAILURES", 5, minimum=1)
        self.LOGIN_LOCK_MINUTES = env_int("PORTAL_LOGIN_LOCK_MINUTES", 15, minimum=1)
        self.LOGIN_ACCOUNT_CEILING = env_int("PORTAL_LOGIN_ACCOUNT_CEILING", 100, minimum=1)
        self.LOGIN_SLOWDOWN_SECONDS = env_int("PORTAL_LOGIN_SLOWDOWN_SECONDS", 30, minimum=1)

        # Argon2id cost; tests lower it so that hashing does not dominate the run.
        self.PASSWORD_HASH_TIME_COST = env_int("PORTAL_PASSWORD_TIME_COST", 3, minimum=1)
        self.PASSWORD_HASH_MEMORY_KIB = env_int("PORTAL_PASSWORD_MEMORY_KIB", 65536, minimum=8)

        self.MAIL_SERVER = _env("MAIL_SERVER", "127.0.0.1")
        self.MAIL_PORT = env_int("MAIL_PORT", 8025, minimum=1)
        self.MAIL_USE_TLS = env_bool("MAIL_USE_TLS", False)
        self.MAIL_USE_SSL = env_bool("MAIL_USE_SSL", False)
        if self.MAIL_USE_TLS and self.MAIL_USE_SSL:
            raise ConfigError("MAIL_USE_TLS and MAIL_USE_SSL: choose one, not both")
        # The relay's certificate is always checked (STARTTLS or SSL); a relay whose certificate comes from the
        # ministry's own authority names that authority's PEM file here (otherwise the system's store is used).
        self.PORTAL_MAIL_CA_FILE = _env("PORTAL_MAIL_CA_FILE")
        if self.PORTAL_MAIL_CA_FILE and not Path(self.PORTAL_MAIL_CA_FILE).is_file():
            raise ConfigError(f"PORTAL_MAIL_CA_FILE: {self.PORTAL_MAIL_CA_FILE} is not a readable file")
        self.MAIL_USERNAME = _env("MAIL_USERNAME")
        self.MAIL_PASSWORD = _env("MAIL_PASSWORD")
        self.MAIL_DEFAULT_SENDER = _env("MAIL_DEFAULT_SENDER", "Bộ Nội vụ <khaosat@chisocchc.local>")
        self.MAIL_SUPPRESS_SEND = env_bool("MAIL_SUPPRESS_SEND", False)
        self.MAIL_CONFIGURED = _env("MAIL_SERVER") is not None or self.PORTAL_DEMO
        # Where the portal tells the ministry that a province sent its list (none: in-portal notice only).
        self.PORTAL_MINISTRY_EMAIL = _env("PORTAL_MINISTRY_EMAIL")
        # Who respondents contact about the survey, printed in every invitation.
        self.PORTAL_CONTACT = _env("PORTAL_CONTACT", "Vụ Cải cách hành chính, Bộ Nội vụ")
        self.PORTAL_MAX_REMINDERS = env_int("PORTAL_MAX_REMINDERS", 3, minimum=0)
        # A respondent group (or parent ministry, or question) with fewer counted forms than this shows "Quá ít
        # phiếu để báo cáo" on the survey results, never a figure that could point at the people who answered.
        self.PORTAL_RESULTS_MIN_ANSWERS = env_int("PORTAL_RESULTS_MIN_ANSWERS", 5, minimum=1)
        # How often an open progress page asks whether anything changed (an unchanged poll costs a 304).
        self.PORTAL_PROGRESS_POLL_SECONDS = env_int("PORTAL_PROGRESS_POLL_SECONDS", 30, minimum=1)
        # The domain of Message-IDs (and of the bounce address unless PORTAL_BOUNCE_ADDRESS says otherwise).
        self.PORTAL_MAIL_DOMAIN = _env("PORTAL_MAIL_DOMAIN", urlparse(self.PORTAL_BASE_URL).hostname or "localhost")
        # How often the worker rewrites the answer table in random order on PostgreSQL (portal/domain/answers.py):
        # until then, the physical order of the answers changed last follows the order of their writes.
        self.PORTAL_ANSWER_SHUFFLE_MINUTES = env_int("PORTAL_ANSWER_SHUFFLE_MINUTES", 15, minimum=1)
        # How long after a campaign closes the integrity signals of its respondents' visits are kept.
        self.PORTAL_SIGNAL_RETENTION_DAYS = env_int("PORTAL_SIGNAL_RETENTION_DAYS", 180, minimum=1)
        # The integrity rules' thresholds (portal/domain/integrity_rules.py; README "Integrity rules").
        self.PORTAL_INTEGRITY_DEVICE_RESPONDENTS = env_int("PORTAL_INTEGRITY_DEVICE_RESPONDENTS", 3, minimum=2)
        self.PORTAL_INTEGRITY_BURST_FORMS = env_int("PORTAL_INTEGRITY_BURST_FORMS", 10, minimum=2)
        self.PORTAL_INTEGRITY_BURST_MINUTES = env_int("PORTAL_INTEGRITY_BURST_MINUTES", 10, minimum=1)
        self.PORTAL_INTEGRITY_SECONDS_PER_QUESTION = env_int("PORTAL_INTEGRITY_SECONDS_PER_QUESTION", 3, minimum=1)
        self.PORTAL_INTEGRITY_SAME_ANSWERS = env_int("PORTAL_INTEGRITY_SAME_ANSWERS", 5, minimum=2)
        self.PORTAL_INTEGRITY_SAME_ANSWERS_HOURS = env_int("PORTAL_INTEGRITY_SAME_ANSWERS_HOURS", 24, minimum=1)
        self.PORTAL_INTEGRITY_LINK_DEVICES = env_int("PORTAL_INTEGRITY_LINK_DEVICES", 4, minimum=2)
        self.PORTAL_INTEGRITY_CHANGE_HOURS = env_int("PORTAL_INTEGRITY_CHANGE_HOURS", 72, minimum=1)
        # The two-person rule: an integrity decision takes effect only when a second administrator confirms it.
        self.PORTAL_INTEGRITY_TWO_PERSON = env_bool("PORTAL_INTEGRITY_TWO_PERSON", True)
        # How often the worker runs the rules over the provinces with newly submitted forms.
        self.PORTAL_INTEGRITY_INTERVAL_MINUTES = env_int("PORTAL_INTEGRITY_INTERVAL_MINUTES", 10, minimum=1)
        # Wrong survey links answered per client address before it is made to wait.
        self.PORTAL_LINK_GUESS_RATE = _env("PORTAL_LINK_GUESS_RATE", "30 per 10 minutes")

        # The outbox and its worker (portal/domain/outbox.py, portal/jobs.py).
        # VERP: the envelope sender of each message is bounces+<token>@domain, so a bounce names its message.
        self.PORTAL_BOUNCE_ADDRESS = _bounce_address(self.PORTAL_MAIL_DOMAIN)
        self.PORTAL_MAIL_RATE = env_float("PORTAL_MAIL_RATE", 10.0)  # messages per second; 0 = no limit
        self.PORTAL_MAIL_MAX_ATTEMPTS = env_int("PORTAL_MAIL_MAX_ATTEMPTS", 8, minimum=1)
        self.PORTAL_MAIL_TIMEOUT = env_float("PORTAL_MAIL_TIMEOUT", 30.0, minimum=1.0)  # seconds per SMTP step
        self.PORTAL_OUTBOX_BATCH = env_int("PORTAL_OUTBOX_BATCH", 50, minimum=1)
        self.PORTAL_OUTBOX_INTERVAL = env_float("PORTAL_OUTBOX_INTERVAL", 5.0, minimum=0.1)  # seconds
        # A claimed batch is leased: the sending worker renews the lease as it goes, and the sweep takes back
        # only rows whose lease expired (their worker died). The worst case of a batch must fit in the lease,
        # so that a worker that cannot renew for a while still never has its batch handed to another.
        if _env("PORTAL_OUTBOX_STUCK_MINUTES") is not None:
            raise ConfigError("PORTAL_OUTBOX_STUCK_MINUTES: replaced by PORTAL_OUTBOX_LEASE_SECONDS (default 1800)")
        self.PORTAL_OUTBOX_LEASE_SECONDS = env_int("PORTAL_OUTBOX_LEASE_SECONDS", 1800, minimum=10)
        # Days after which the worker empties the bodies of messages done with (sent, failed, bounced, …):
        # they name people; the row (recipient, status, times) stays for the delivery pages.
        self.PORTAL_OUTBOX_KEEP_SENT_DAYS = env_int("PORTAL_OUTBOX_KEEP_SENT_DAYS", 30, minimum=1)
        check_outbox_lease(self.PORTAL_OUTBOX_BATCH, self.PORTAL_MAIL_TIMEOUT, self.PORTAL_MAIL_RATE,
                           self.PORTAL_OUTBOX_LEASE_SECONDS)
        # Background operations (portal/domain/operations.py): a launch, "Đôn đốc tất cả". The worker looks for
        # new ones every PORTAL_OPERATION_INTERVAL seconds and runs each in chunks of PORTAL_OPERATION_CHUNK
        # people, one transaction each; the page that follows one asks every PORTAL_OPERATION_POLL_SECONDS.
        self.PORTAL_OPERATION_INTERVAL = env_float("PORTAL_OPERATION_INTERVAL", 2.0, minimum=0.1)
        self.PORTAL_OPERATION_CHUNK = env_int("PORTAL_OPERATION_CHUNK", 500, minimum=1)
        self.PORTAL_OPERATION_POLL_SECONDS = env_int("PORTAL_OPERATION_POLL_SECONDS", 2, minimum=1)
        # Bounce intake (portal/domain/bounces.py): a Maildir fed by the local mail server, or an IMAP folder
        # over TLS (certificate and host name checked). Neither set: no bounce intake runs.
        self.PORTAL_BOUNCE_MAILDIR = _env("PORTAL_BOUNCE_MAILDIR")
        self.PORTAL_BOUNCE_IMAP_HOST = _env("PORTAL_BOUNCE_IMAP_HOST")
        self.PORTAL_BOUNCE_IMAP_PORT = env_int("PORTAL_BOUNCE_IMAP_PORT", 993, minimum=1)
        self.PORTAL_BOUNCE_IMAP_USER = _env("PORTAL_BOUNCE_IMAP_USER")
        self.PORTAL_BOUNCE_IMAP_PASSWORD = _env("PORTAL_BOUNCE_IMAP_PASSWORD")
        self.PORTAL_BOUNCE_IMAP_FOLDER = _env("PORTAL_BOUNCE_IMAP_FOLDER", "INBOX")
        if self.PORTAL_BOUNCE_IMAP_HOST and not (self.PORTAL_BOUNCE_IMAP_USER and self.PORTAL_BOUNCE_IMAP_PASSWORD):
            raise ConfigError("PORTAL_BOUNCE_IMAP_HOST: set PORTAL_BOUNCE_IMAP_USER and PORTAL_BOUNCE_IMAP_PASSWORD "
                              "(or PORTAL_BOUNCE_IMAP_PASSWORD_FILE) too")
        self.PORTAL_BOUNCE_INTERVAL = env_int("PORTAL_BOUNCE_INTERVAL", 120, minimum=10)  # seconds
        # Where `flask portal mail-sink` stores caught mail and "Hộp thư thử nghiệm" reads it (demo only).
        self.PORTAL_DEMO_MAILDIR = _env("PORTAL_DEMO_MAILDIR", str(instance / "demo-mail"))

        self.COMPRESS_MIMETYPES = [
            "text/html", "text/css", "text/plain", "application/javascript", "text/javascript",
            "application/json", "image/svg+xml",
        ]
        self.COMPRESS_ALGORITHM = ["br", "gzip"]
        # Only dynamic pages are compressed here (static files are precompressed at start, portal/assets.py):
        # each page is compressed per request, so cheap levels. The 18-question form page (15 KB): brotli 4
        # took 100 us for 2.9 KB, brotli 1 takes 40 us for 3.4 KB; gzip 6 took 125 us for 3.0 KB, gzip 2
        # takes 40 us for 3.3 KB.
        self.COMPRESS_BR_LEVEL = 1
        self.COMPRESS_LEVEL = 2
        self.COMPRESS_MIN_SIZE = 500
        self.SEND_FILE_MAX_AGE_DEFAULT = 0
        check_demo_mode(vars(self))
