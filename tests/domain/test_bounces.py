"""Reading bounce messages (portal.domain.bounces: parse_bounce, explain): no database.

The samples in tests/data/bounces are 74 real-world delivery failures (flufl.bounce's own test data, Apache
License 2.0); manifest.csv lists the permanent and temporary failures each one names.
"""

from __future__ import annotations

import base64
import csv
import email
import logging
import os
import random
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import pytest

from portal.domain import bounce_parsing, bounces, delivery
from portal.domain.bounce_explanations import SPECIFIC, explain, explain_smtp_reply
from portal.domain.bounce_parsing import parse_bounce

DATA = Path(__file__).resolve().parent.parent / "data" / "bounces"


@dataclass(frozen=True)
class Sample:
    file: str
    permanent: list[str]  # lower-case, sorted
    temporary: list[str]

    @property
    def raw(self) -> bytes:
        return (DATA / self.file).read_bytes()

    @property
    def addresses(self) -> list[str]:
        return self.permanent + self.temporary

    @property
    def expected_kind(self) -> str:
        return "permanent" if self.permanent else "temporary" if self.temporary else "unparsed"


def read_manifest() -> list[Sample]:
    with (DATA / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        return [Sample(row["file"], sorted(a.lower() for a in row["permanent_failures"].split()),
                       sorted(a.lower() for a in row["temporary_failures"].split()))
                for row in csv.DictReader(handle)]


SAMPLES = read_manifest()


def test_the_manifest_names_every_sample_file_once():
    files = [sample.file for sample in SAMPLES]
    assert len(files) == len(set(files)) == 74
    assert sorted(files) == sorted(path.name for path in DATA.glob("*.txt"))


@pytest.mark.parametrize("sample", SAMPLES, ids=[sample.file for sample in SAMPLES])
def test_each_sample_gives_exactly_the_manifest_failures(sample: Sample):
    parsed = parse_bounce(sample.raw)

    assert parsed.permanent == sample.permanent
    assert parsed.temporary == sample.temporary
    assert parsed.addresses == sorted(sample.addresses)
    assert parsed.kind == sample.expected_kind
    assert parsed.explanation
    assert len(parsed.diagnostic) <= 500


def test_the_samples_cover_permanent_temporary_and_unreadable_messages():
    kinds = [sample.expected_kind for sample in SAMPLES]
    assert (kinds.count("permanent"), kinds.count("temporary"), kinds.count("unparsed")) == (65, 6, 3)


def test_an_autoreply_is_not_a_bounce():
    parsed = parse_bounce((DATA / "qmail_08.txt").read_bytes())  # "Auto reply: Gracias por contactar…"

    assert parsed.kind == "unparsed" and parsed.addresses == []
    assert parsed.explanation == bounces.NOT_A_BOUNCE


# ---------------------------------------------------------------- the fields of a DSN


def test_a_dsn_gives_its_status_code_and_diagnostic_code_without_the_type():
    parsed = parse_bounce((DATA / "dsn_14.txt").read_bytes())

    assert parsed.status_code == "5.1.1"
    assert parsed.diagnostic == "550 5.1.1 User unknown"
    assert parsed.explanation == bounces.MAILBOX_UNKNOWN


def test_a_status_comment_stands_in_for_a_missing_diagnostic_code():
    parsed = parse_bounce((DATA / "dsn_01.txt").read_bytes())  # Status: 5.0.0 (recipient reached disk quota)

    assert (parsed.status_code, parsed.diagnostic) == ("5.0.0", "recipient reached disk quota")
    assert parsed.explanation == bounces.MAILBOX_FULL


def test_a_delay_notice_is_temporary_and_explained_as_a_server_not_answering():
    parsed = parse_bounce((DATA / "dsn_05.txt").read_bytes())

    assert parsed.kind == "temporary" and parsed.temporary == ["userx@example.cz"]
    assert parsed.status_code == "4.4.1"
    assert parsed.explanation == bounces.UNAVAILABLE


def test_a_free_form_bounce_gives_the_passage_that_says_why():
    parsed = parse_bounce((DATA / "postfix_02.txt").read_bytes())

    assert parsed.diagnostic.startswith("<yyyyy@digicool.com>: Name service error for domain digicool.com")
    assert parsed.explanation == bounces.DOMAIN_UNKNOWN


def test_the_original_message_id_comes_from_the_returned_message():
    parsed = parse_bounce((DATA / "dsn_01.txt").read_bytes())

    assert parsed.message_ids == ["<F1218V8zDv60gxapzha000001ae@hotmail.com>"]


def test_the_original_message_id_comes_from_returned_headers_and_in_reply_to():
    headers_only = parse_bounce((DATA / "dsn_08.txt").read_bytes())  # text/rfc822-headers
    assert "<NEBBLDPBKLOKNHPAEECGAENDCIAA.zope@toenjes.com>" in headers_only.message_ids

    raw = _bounce(extra_headers="In-Reply-To: <abc.123@chisocchc.gov.vn>\r\n")
    assert parse_bounce(raw).message_ids == ["<abc.123@chisocchc.gov.vn>"]


def test_the_verp_token_comes_from_the_address_the_bounce_was_delivered_to():
    token = "0123456789abcdef0123456789abcdef"
    raw = _bounce(to=f"bounces+{token}@chisocchc.gov.vn",
                  extra_headers=f"Delivered-To: bounces+{token}@chisocchc.gov.vn\r\n"
                                "X-Original-To: bounces+FFEE@chisocchc.gov.vn\r\n")

    parsed = parse_bounce(raw)

    assert parsed.verp_tokens == [token, "ffee"]
    assert parsed.kind == "permanent" and parsed.permanent == ["huong@hanoi.gov.vn"]
    assert parsed.status_code == "5.1.1"
    assert parsed.explanation == bounces.MAILBOX_UNKNOWN


def test_the_verp_token_follows_the_configured_local_part_only():
    raw = _bounce(to="tra-lai+abc123@chisocchc.gov.vn")

    assert parse_bounce(raw).verp_tokens == []
    assert parse_bounce(raw, bounce_local="tra-lai").verp_tokens == ["abc123"]
    assert parse_bounce(_bounce(to="xbounces+abc123@example.com")).verp_tokens == []


def _bounce(*, to: str = "bounces@chisocchc.gov.vn", extra_headers: str = "") -> bytes:
    """A Postfix-style DSN for huong@hanoi.gov.vn (550 5.1.1 user unknown)."""
    return (
        f"From: MAILER-DAEMON@mx.hanoi.gov.vn\r\nTo: {to}\r\n{extra_headers}"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn.1@mx.hanoi.gov.vn>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        "<huong@hanoi.gov.vn>: host mx.hanoi.gov.vn said: 550 5.1.1 <huong@hanoi.gov.vn>: Recipient\r\n"
        "    address rejected: User unknown in local recipient table\r\n\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.hanoi.gov.vn\r\n\r\n"
        "Final-Recipient: rfc822; huong@hanoi.gov.vn\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 <huong@hanoi.gov.vn>: Recipient address rejected: User unknown\r\n\r\n"
        "--B--\r\n"
    ).encode()


# ---------------------------------------------------------------- explanations


@pytest.mark.parametrize(("status", "diagnostic", "kind", "expected"), [
    ("5.1.1", "550 5.1.1 <a@b.vn>: Recipient address rejected", "permanent", bounces.MAILBOX_UNKNOWN),
    ("", "550 user unknown", "permanent", bounces.MAILBOX_UNKNOWN),
    ("5.0.0", "No such user here", "permanent", bounces.MAILBOX_UNKNOWN),
    ("", "The mailbox does not exist", "permanent", bounces.MAILBOX_UNKNOWN),
    ("", "553 invalid recipient", "permanent", bounces.MAILBOX_UNKNOWN),
    ("5.1.2", "", "permanent", bounces.DOMAIN_UNKNOWN),
    ("", "Host not found", "permanent", bounces.DOMAIN_UNKNOWN),
    ("5.2.2", "", "permanent", bounces.MAILBOX_FULL),
    ("4.2.2", "", "temporary", bounces.MAILBOX_FULL),
    ("", "552 Mailbox full", "permanent", bounces.MAILBOX_FULL),
    ("", "user is over quota", "permanent", bounces.MAILBOX_FULL),
    ("5.7.1", "Service unavailable; client host blocked", "permanent", bounces.POLICY),
    ("5.7.26", "", "permanent", bounces.POLICY),
    ("", "554 rejected as spam", "permanent", bounces.POLICY),
    ("", "blocked by policy", "permanent", bounces.POLICY),
    ("", "your IP is on a blacklist", "permanent", bounces.POLICY),
    ("5.3.4", "", "permanent", bounces.TOO_LARGE),
    ("5.2.3", "", "permanent", bounces.TOO_LARGE),
    ("", "message too large", "permanent", bounces.TOO_LARGE),
    ("4.4.1", "", "temporary", bounces.UNAVAILABLE),
    ("4.7.0", "Greylisted, please try again later", "temporary", bounces.UNAVAILABLE),
    ("", "Connection timed out", "temporary", bounces.UNAVAILABLE),
    ("", "connect to mx.example.vn: Connection refused", "permanent", bounces.GAVE_UP),  # final: never "retrying"
    ("", "delivery deferred", "temporary", bounces.UNAVAILABLE),
    ("", "", "temporary", bounces.UNAVAILABLE),
    ("5.2.1", "", "permanent", bounces.MAILBOX_DISABLED),
    ("", "This account has been disabled or discontinued", "permanent", bounces.MAILBOX_DISABLED),
    ("5.0.0", "Reason 1 (Unable-To-Transfer)", "permanent", bounces.FALLBACK),
    ("", "", "permanent", bounces.FALLBACK),
    ("5.1.1", "user unknown", "unparsed", bounces.NOT_A_BOUNCE),
])
def test_explain_speaks_plain_vietnamese_for_typical_reasons(status, diagnostic, kind, expected):
    assert explain(status, diagnostic, kind) == expected


def test_the_general_explanation_points_at_the_raw_reason():
    assert bounces.FALLBACK == "Thư không đến được hộp thư; xem lý do gốc bên dưới."


@pytest.mark.parametrize(("reply", "expected"), [
    ("550 5.1.1 <x@y.vn>: Recipient address rejected: User unknown", bounces.MAILBOX_UNKNOWN),
    ("550 5.1.2 <x@nowhere.vn>: Recipient address rejected: Domain not found", bounces.DOMAIN_UNKNOWN),
    ("552 5.2.2 Mailbox full", bounces.MAILBOX_FULL),
    ("554 5.7.1 Message rejected as spam", bounces.POLICY),
    ("452 4.2.2 Over quota", bounces.MAILBOX_FULL),
    ("421 4.4.2 mx.hanoi.gov.vn Error: timeout exceeded", bounces.UNAVAILABLE),
    ("451 4.3.0 Try again later", bounces.UNAVAILABLE),
    ("554 Transaction failed", bounces.FALLBACK),
    ("", bounces.FALLBACK),
])
def test_explain_smtp_reply_uses_the_same_words_for_refusals_at_send_time(reply, expected):
    assert explain_smtp_reply(reply) == expected


# ---------------------------------------------------------------- malformed input never raises


def _junk(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


MALFORMED = {
    "empty": b"",
    "blank lines": b"\r\n\r\n\n",
    "nul bytes": b"\x00" * 4096,
    "random bytes": _junk(20_000, 1),
    "random bytes with a header": b"Subject: x\r\n\r\n" + _junk(5_000, 2),
    "header without a body": b"From: MAILER-DAEMON@example.com",
    "header line without a colon": b"this is not a header\r\nnor this\r\n",
    "multipart without a boundary": b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\nbody\r\n",
    "truncated multipart": (b"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n"
                            b"--B\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; a@"),
    "truncated base64": (b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nVGhpcyBpcyBh==="
                         b"\xff\xfe"),
    "unknown charset": b"Content-Type: text/plain; charset=x-no-such-charset\r\n\r\nUser unknown \xe9\r\n",
    "rfc822 part that is empty": (b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
                                  b"Content-Type: message/rfc822\r\n\r\n--B--\r\n"),
    "rfc822-headers of junk": (b"Content-Type: multipart/report; boundary=B\r\n\r\n--B\r\n"
                               b"Content-Type: text/rfc822-headers\r\n\r\n\x00\x01\x02:::\r\n--B--\r\n"),
}


# parse_bounce's last resort catches any exception (one odd message must not stop the intake) and logs it: the
# reader itself must not need that net, so these tests fail on anything logged as an exception.


@pytest.fixture
def parser_errors(caplog):
    """What the bounce reader logged at ERROR during the test, as a function to call at the end."""
    with caplog.at_level(logging.ERROR, logger="portal.domain.bounce_parsing"):
        # Ours only: flufl.bounce logs (and survives) its own detectors' failures on junk.
        yield lambda: [record.getMessage() for record in caplog.get_records("call")
                       if record.name == "portal.domain.bounce_parsing" and record.levelno >= logging.ERROR]


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_input_is_read_without_an_exception(raw: bytes, parser_errors):
    parsed = parse_bounce(raw)

    assert parsed.kind in ("permanent", "temporary", "unparsed")
    assert parsed.explanation
    assert parser_errors() == []


def test_every_sample_cut_short_anywhere_is_read_without_an_exception(parser_errors):
    rng = random.Random(int(os.environ.get("BOUNCE_FUZZ_SEED", "5")))
    for sample in SAMPLES:
        raw = sample.raw
        for cut in {len(raw) // 3, len(raw) // 2, rng.randrange(len(raw))}:
            parse_bounce(raw[:cut])
    assert parser_errors() == []


def test_a_reader_that_fails_is_caught_and_logged(monkeypatch, parser_errors):
    def broken(raw, bounce_local):
        raise ValueError("unreadable")

    monkeypatch.setattr(bounce_parsing, "_parse", broken)

    assert parse_bounce(b"Subject: x\r\n\r\nbody").kind == "unparsed"
    assert parser_errors() == ["bounce message could not be read"]


# ---------------------------------------------------------------- issue 8: explanations that say what the bounce says

STATE_OF_KIND = {"permanent": "bounced", "temporary": "delayed"}
# The failures of the corpus whose bounce states no reason a reader can act on: no code, no words beyond
# "could not be delivered" (or a list moderator's note, or "554 No Resent-From field given").
NO_STATED_REASON = {"caiwireless_01.txt", "dsn_15.txt", "microsoft_03.txt", "postfix_05.txt", "simple_10.txt",
                    "simple_16.txt", "simple_17.txt", "simple_20.txt", "simple_24.txt", "sina_01.txt",
                    "smtp32_03.txt", "yahoo_12.txt"}


def shown_explanation(sample: Sample) -> tuple[str, str]:
    """(explanation, raw reason) as the IT focal point's error list shows them after the intake."""
    parsed = parse_bounce(sample.raw)
    reason = bounces._reason(parsed)
    return delivery.explain(reason, STATE_OF_KIND[parsed.kind]), reason


def contradiction(kind: str, explanation: str, reason: str) -> str | None:
    if kind == "permanent" and explanation == bounces.UNAVAILABLE:
        return "a final failure explained as still being retried"
    if kind == "temporary" and explanation in (bounces.GAVE_UP, bounces.FALLBACK):
        return "a delay explained as final"
    if re.search(r"quota|mailbox (is )?full|mailfolder is full", reason, re.I) and explanation != bounces.MAILBOX_FULL:
        return "a full mailbox explained as something else"
    return None


def test_most_failures_of_the_corpus_get_a_specific_explanation_and_none_a_contradictory_one():
    """Measured on the 71 failures of the 74 real bounces: 47 specific before issue 8, 59 after."""
    failures = [sample for sample in SAMPLES if sample.expected_kind != "unparsed"]
    generic, contradictions = set(), {}
    for sample in failures:
        parsed = parse_bounce(sample.raw)
        shown, reason = shown_explanation(sample)
        assert shown == parsed.explanation, sample.file  # the page tells what the intake understood
        if shown not in SPECIFIC:
            generic.add(sample.file)
        problem = contradiction(parsed.kind, shown, reason)
        if problem:
            contradictions[sample.file] = problem

    assert contradictions == {}
    assert generic == NO_STATED_REASON
    assert (len(failures), len(failures) - len(generic)) == (71, 59)


@pytest.mark.parametrize(("file", "expected"), [
    ("simple_01.txt", bounces.MAILBOX_FULL),  # "552 … would exceed mailbox quota", deep in a session transcript
    ("simple_25.txt", bounces.MAILBOX_UNKNOWN),  # "No such user", only in an HTML part
    ("dsn_09.txt", bounces.POLICY),  # the DSN fields say nothing; its text says "5.7.1 Unable to relay"
    ("simple_06.txt", bounces.MAILBOX_UNKNOWN),  # "This user doesn't have a … account"
    ("simple_13.txt", bounces.MAILBOX_UNKNOWN),  # French: "n'existe pas"
    ("simple_23.txt", bounces.MAILBOX_UNKNOWN),  # "User not known"
    ("simple_37.txt", bounces.MAILBOX_UNKNOWN),  # "Does not have a final email delivery point"
    ("yale_01.txt", bounces.MAILBOX_UNKNOWN),  # "No matches to nameserver query"
    ("llnl_01.txt", bounces.MAILBOX_UNKNOWN),  # "did not exactly match an LLNL email address"
    ("simple_18.txt", bounces.LOOP),  # "554 Message looping"
    ("smtp32_01.txt", bounces.GAVE_UP),  # "Delivery failed 20 attempts"
    ("yahoo_01.txt", bounces.GAVE_UP),  # 4.4.1, "I'm not going to try again": final, not "retrying"
    ("simple_44.txt", bounces.GAVE_UP),  # a final failure with 4.4.4
    ("dsn_05.txt", bounces.UNAVAILABLE),  # a delay stays "retrying"
])
def test_a_reason_stated_anywhere_in_the_bounce_is_explained(file, expected):
    sample = next(sample for sample in SAMPLES if sample.file == file)

    assert parse_bounce(sample.raw).explanation == expected
    assert shown_explanation(sample)[0] == expected


@pytest.mark.parametrize(("status", "diagnostic", "kind", "expected"), [
    ("", "550 5.1.1 <a@b.vn>... Addressee unknown", "permanent", bounces.MAILBOX_UNKNOWN),
    ("", "553 Invalid final delivery userid: huong@hanoi.gov.vn", "permanent", bounces.MAILBOX_UNKNOWN),
    ("", "550 The email account that you tried to reach does not exist", "permanent", bounces.MAILBOX_UNKNOWN),
    ("", "The email address you entered couldn't be found", "permanent", bounces.MAILBOX_UNKNOWN),
    ("5.0.0", "550 5.2.2 mailbox full", "permanent", bounces.MAILBOX_FULL),
    ("4.4.7", "452 4.2.2 The email account that you tried to reach is over quota", "temporary", bounces.MAILBOX_FULL),
    ("4.4.7", "452 4.2.2 mailbox full", "permanent", bounces.MAILBOX_FULL),
    ("", "421 4.2.2 Hộp thư đã đầy", "temporary", bounces.MAILBOX_FULL),
    ("5.0.0", "550 5.7.1 Unable to relay", "permanent", bounces.POLICY),
    ("4.4.7", "Delivery time expired", "permanent", bounces.GAVE_UP),
    ("4.4.7", "", "temporary", bounces.UNAVAILABLE),
    ("", "550 Địa chỉ email không tồn tại", "permanent", bounces.MAILBOX_UNKNOWN),
    ("", "550 Người nhận không tồn tại trên hệ thống", "permanent", bounces.MAILBOX_UNKNOWN),
    ("", "Tên miền không tồn tại", "permanent", bounces.DOMAIN_UNKNOWN),
    ("", "Hộp thư vượt quá dung lượng cho phép", "permanent", bounces.MAILBOX_FULL),
    ("", "Tài khoản đã bị khóa", "permanent", bounces.MAILBOX_DISABLED),
    ("", "Thư bị từ chối do nghi là thư rác", "permanent", bounces.POLICY),
    ("", "Máy chủ không phản hồi, sẽ thử lại sau", "temporary", bounces.UNAVAILABLE),
    # Vietnamese typed with combining marks (NFD) reads the same as precomposed text.
    ("", unicodedata.normalize("NFD", "Hộp thư không tồn tại"), "permanent", bounces.MAILBOX_UNKNOWN),
    ("", "Postfach voll", "permanent", bounces.MAILBOX_FULL),
    ("", "用户不存在", "permanent", bounces.MAILBOX_UNKNOWN),
])
def test_common_phrasings_and_codes_are_explained(status, diagnostic, kind, expected):
    assert explain(status, diagnostic, kind) == expected


@pytest.mark.parametrize(("reply", "state", "expected"), [
    ("4.4.1 Persistent transient failure - routing/network: no answer from host", "delayed", bounces.UNAVAILABLE),
    ("4.4.1 no answer from host", "bounced", bounces.GAVE_UP),
    ("451 4.3.0 Try again later", "failed", bounces.GAVE_UP),  # the worker's last attempt: it stopped trying
    ("4.4.7 452 4.2.2 Mailbox full", "delayed", bounces.MAILBOX_FULL),
])
def test_the_error_list_explains_by_the_invitation_state_never_contradicting_it(reply, state, expected):
    assert delivery.explain(reply, state) == expected


def _report(*, report_type: str = "delivery-status", status_part: str, text: bytes = b"",
            text_type: str = "text/plain", extra_parts: bytes = b"") -> bytes:
    head = (b"From: MAILER-DAEMON@mx.hanoi.gov.vn\r\nTo: bounces@chisocchc.gov.vn\r\nSubject: Undelivered\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/report; report-type=" + report_type.encode() + b"; boundary=\"B\"\r\n\r\n")
    body = b""
    if text:
        body += b"--B\r\nContent-Type: " + text_type.encode() + b"\r\n\r\n" + text + b"\r\n\r\n"
    body += b"--B\r\nContent-Type: message/" + report_type.encode() + b"\r\n\r\n" + status_part + b"\r\n"
    return head + body + extra_parts + b"--B--\r\n"


def test_a_global_delivery_status_report_is_read_like_a_delivery_status_report():
    """RFC 6533: UTF-8 fields, a UTF-8 address, the original's headers as message/global-headers."""
    status = ("Reporting-MTA: dns; mx.hanoi.gov.vn\r\n\r\n"
              "Original-Recipient: utf-8; nguy\\x{1EC5}n@hanoi.gov.vn\r\n"
              "Final-Recipient: utf-8; nguyễn@hanoi.gov.vn\r\nAction: failed\r\nStatus: 5.1.1\r\n"
              "Diagnostic-Code: smtp; 550 5.1.1 Hộp thư nguyễn@hanoi.gov.vn không tồn tại\r\n").encode()
    headers = ("--B\r\nContent-Type: message/global-headers\r\n\r\nFrom: Cổng khảo sát <no-reply@chisocchc.gov.vn>\r\n"
               "Message-ID: <moi.42@chisocchc.gov.vn>\r\nSubject: Mời trả lời phiếu\r\n\r\n").encode()

    parsed = parse_bounce(_report(report_type="global-delivery-status", status_part=status, extra_parts=headers))

    assert parsed.kind == "permanent" and parsed.permanent == ["nguyễn@hanoi.gov.vn"]
    assert parsed.status_code == "5.1.1"
    assert parsed.diagnostic == "550 5.1.1 Hộp thư nguyễn@hanoi.gov.vn không tồn tại"
    assert parsed.explanation == bounces.MAILBOX_UNKNOWN
    assert parsed.message_ids == ["<moi.42@chisocchc.gov.vn>"]


def test_a_global_delay_report_is_temporary():
    status = ("Reporting-MTA: dns; mx.hanoi.gov.vn\r\n\r\nFinal-Recipient: rfc822; huong@hanoi.gov.vn\r\n"
              "Action: delayed\r\nStatus: 4.4.1\r\nDiagnostic-Code: smtp; Máy chủ không phản hồi\r\n").encode()

    parsed = parse_bounce(_report(report_type="global-delivery-status", status_part=status))

    assert (parsed.kind, parsed.temporary, parsed.explanation) == ("temporary", ["huong@hanoi.gov.vn"],
                                                                    bounces.UNAVAILABLE)


def test_a_reason_in_raw_utf8_is_read_without_mojibake():
    status = ("Reporting-MTA: dns; mx.hanoi.gov.vn\r\n\r\nFinal-Recipient: rfc822; huong@hanoi.gov.vn\r\n"
              "Action: failed\r\nStatus: 5.0.0\r\nDiagnostic-Code: smtp; 550 Địa chỉ người nhận không tồn tại\r\n"
              ).encode()

    parsed = parse_bounce(_report(status_part=status, text="Thư không gửi được.".encode()))

    assert parsed.diagnostic == "550 Địa chỉ người nhận không tồn tại"
    assert parsed.explanation == bounces.MAILBOX_UNKNOWN


@pytest.mark.parametrize(("charset", "text", "expected"), [
    ("us-ascii", "<huong@hanoi.gov.vn>: 550 Hộp thư đã đầy", "550 Hộp thư đã đầy"),  # declared ASCII, written UTF-8
    ("windows-1258", "<huong@hanoi.gov.vn>: 550 Hộp thư đã đầy", "550 Hộp thư đã đầy"),
    ("iso-8859-1", "<huong@hanoi.gov.vn>: 550 L'adresse n'existe pas, boîte inconnue", "n'existe pas"),
    ("gb2312", "<huong@hanoi.gov.vn>: 550 用户不存在", "用户不存在"),
])
def test_a_free_form_reason_in_any_charset_is_decoded(charset, text, expected):
    encoded = (text.encode("utf-8") if charset == "us-ascii" else _cp1258(text) if charset == "windows-1258"
               else text.encode(charset))
    body = base64.encodebytes(encoded)
    raw = (b"From: MAILER-DAEMON@mx.hanoi.gov.vn\r\nTo: bounces@chisocchc.gov.vn\r\nSubject: Failure notice\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=" + charset.encode()
           + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body)

    diagnostic = bounce_parsing._telling_line(email.message_from_bytes(raw), ["huong@hanoi.gov.vn"])

    assert expected in unicodedata.normalize("NFC", diagnostic)
    assert "\ufffd" not in diagnostic and "Ä" not in diagnostic


def _cp1258(text: str) -> bytes:
    """Vietnamese in windows-1258: letters with a circumflex, breve or horn precomposed, tones as combining marks."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out = []
    for char in text:
        decomposed = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in tones))
        out.append(base + "".join(c for c in decomposed if c in tones))
    return "".join(out).encode("cp1258")


def test_an_encoded_diagnostic_header_is_decoded():
    status = ("Reporting-MTA: dns; mx.hanoi.gov.vn\r\n\r\nFinal-Recipient: rfc822; huong@hanoi.gov.vn\r\n"
              "Action: failed\r\nStatus: 5.2.2\r\nDiagnostic-Code: =?utf-8?b?"
              + base64.b64encode("smtp; 552 Hộp thư đã đầy".encode()).decode() + "?=\r\n").encode()

    parsed = parse_bounce(_report(status_part=status))

    assert parsed.diagnostic == "552 Hộp thư đã đầy"
    assert parsed.explanation == bounces.MAILBOX_FULL


def test_a_reason_only_in_an_html_part_is_read_as_text():
    """A report whose fields name the recipient but no reason, and whose only readable part is HTML."""
    html = ("<html><head><style>p {color: red}</style></head><body><p>Không gửi được thư đến "
            "<b>huong@hanoi.gov.vn</b>.</p><p>Lý do: <span>550 5.1.1</span> The email account that you tried "
            "to reach does not exist.</p><script>alert(1)</script></body></html>").encode()
    status = (b"Reporting-MTA: dns; mx.hanoi.gov.vn\r\n\r\nFinal-Recipient: rfc822; huong@hanoi.gov.vn\r\n"
              b"Action: failed\r\nStatus: 5.0.0\r\n")

    parsed = parse_bounce(_report(status_part=status, text=html, text_type="text/html; charset=utf-8"))

    assert parsed.kind == "permanent" and parsed.permanent == ["huong@hanoi.gov.vn"]
    assert parsed.diagnostic == "Lý do: 550 5.1.1 The email account that you tried to reach does not exist."
    assert parsed.explanation == bounces.MAILBOX_UNKNOWN
    assert "<" not in parsed.diagnostic and "alert" not in parsed.diagnostic


def test_a_personal_survey_link_quoted_in_the_reason_is_hidden():
    """The reason is shown to the province; a respondent's link in it would let anyone answer in their name."""
    raw = (b"From: MAILER-DAEMON@mx.hanoi.gov.vn\nTo: bounces@chisocchc.gov.vn\nSubject: failure notice\n\n"
           b"Hi. This is the qmail-send program at mx.hanoi.gov.vn.\n"
           b"I'm afraid I wasn't able to deliver your message to the following addresses.\n"
           b"This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
           b"<huong@hanoi.gov.vn>:\n550 user unknown. Your message: Moi tra loi phieu "
           b"https://chisocchc.gov.vn/phieu/Abc123-secret-TOKEN xin cam on\n\n"
           b"--- Below this line is a copy of the message.\n\nKinh gui\n")

    parsed = parse_bounce(raw)

    assert parsed.explanation == bounces.MAILBOX_UNKNOWN
    assert "secret-TOKEN" not in parsed.diagnostic and bounce_parsing.HIDDEN_LINK in parsed.diagnostic
