"""Plain Vietnamese explanations of delivery failures, for a province's IT focal point.

A bounce, or a server's refusal at send time, says why a message did not
arrive in the server's own words: an enhanced status code (RFC 3463), an SMTP
reply, a sentence in English, Vietnamese, French, Chinese… `explain` turns
that into one of a few explanations an IT focal point can act on.

The order matters, because one text often carries several clues: a reason
that names the mailbox or the domain ("user unknown", "5.2.2 mailbox full")
comes before the generic transport ones ("4.4.7 delivery time expired",
"timeout"), so a full mailbox reported by a server that kept retrying is
explained as a full mailbox. The kind of failure decides the tense: a final
failure is never explained as a message "still being retried".
"""

from __future__ import annotations

import re
import unicodedata

MAILBOX_UNKNOWN = ("Hộp thư không tồn tại: máy chủ thư của người nhận báo không có địa chỉ này. "
                   "Kiểm tra lại chính tả địa chỉ hoặc hỏi người nhận địa chỉ đúng.")
DOMAIN_UNKNOWN = ("Tên miền không tồn tại: phần sau dấu @ không có máy chủ thư nhận. "
                  "Kiểm tra lại tên miền của địa chỉ (ví dụ …gov.vn).")
MAILBOX_FULL = "Hộp thư đầy: người nhận cần xóa bớt thư, sau đó có thể gửi lại."
MAILBOX_DISABLED = ("Hộp thư bị khóa hoặc vô hiệu hóa: người nhận cần liên hệ quản trị thư của đơn vị "
                    "để mở lại, hoặc cho một địa chỉ khác.")
POLICY = ("Bị từ chối vì chính sách hoặc bị coi là thư rác: máy chủ thư của người nhận chặn thư này. "
          "Đề nghị quản trị thư của đơn vị nhận cho phép thư từ cổng khảo sát.")
TOO_LARGE = "Thư quá lớn so với giới hạn của máy chủ thư người nhận."
LOOP = ("Thư bị chuyển vòng giữa các máy chủ thư (lỗi cấu hình chuyển tiếp thư của đơn vị nhận). "
        "Báo quản trị thư của đơn vị nhận kiểm tra việc chuyển tiếp, hoặc dùng một địa chỉ khác.")
UNAVAILABLE = ("Máy chủ thư của người nhận không phản hồi hoặc tạm thời không nhận thư; thư đang được "
               "thử gửi lại. Nếu kéo dài, báo quản trị thư của đơn vị nhận.")
GAVE_UP = ("Máy chủ thư của người nhận không phản hồi hoặc không nhận thư trong suốt thời gian thử gửi lại, "
           "nên việc gửi đã dừng hẳn. Kiểm tra tên miền của địa chỉ, báo quản trị thư của đơn vị nhận, "
           "rồi gửi lại.")
NOT_A_BOUNCE = "Không đọc được thư báo lỗi này (có thể là thư tự động trả lời hoặc thư rác); đã lưu lại để xem."
FALLBACK = "Thư không đến được hộp thư; xem lý do gốc bên dưới."

# The explanations that say what went wrong, as opposed to FALLBACK and NOT_A_BOUNCE.
SPECIFIC = frozenset({MAILBOX_UNKNOWN, DOMAIN_UNKNOWN, MAILBOX_FULL, MAILBOX_DISABLED, POLICY, TOO_LARGE, LOOP,
                      UNAVAILABLE, GAVE_UP})

ENHANCED_CODE = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")
BASIC_CODE = re.compile(r"(?<![\d.])([245]\d\d)(?![\d.])")

# Enhanced status codes (RFC 3463) that name a reason; x.0.0 and the transport codes come later.
_CODE_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^[45]\.1\.(1|3|6|10)$"), MAILBOX_UNKNOWN),
    (re.compile(r"^[45]\.1\.2$|^5\.4\.4$"), DOMAIN_UNKNOWN),
    (re.compile(r"^[45]\.2\.2$"), MAILBOX_FULL),
    (re.compile(r"^[45]\.2\.1$"), MAILBOX_DISABLED),
    (re.compile(r"^[45]\.(3\.4|2\.3)$"), TOO_LARGE),
    (re.compile(r"^[45]\.4\.6$"), LOOP),
    (re.compile(r"^5\.7\.\d+$"), POLICY),
)
_TRANSPORT_CODE = re.compile(r"^4\.(4|7)\.\d+$|^5\.4\.7$")

# Words of the reason, in order: the more specific reasons before the general ones. Matched against the
# text in NFC, lower-cased; Vietnamese with its diacritics, and the phrasings of common servers.
_WORD_REASONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"host (not found|unknown)|domain (not found|does not exist|unknown)|no such domain"
                r"|unrout(e)?able|name service error|nxdomain|\bno mx\b|could not be resolved|bad destination host"
                r"|unknown domain|domain name not found|unknown host|(host|domain)\S* (name )?could(n't| not) be found"
                r"|tên miền (không tồn tại|không có thật|sai|không hợp lệ)|không (tìm thấy|phân giải được) tên miền",
                re.I), DOMAIN_UNKNOWN),
    (re.compile(r"(mailbox|mailfolder|mail folder|inbox) (is )?full|quota|insufficient (system )?storage"
                r"|disk full|exceeded storage|mailbox size limit|storage (allocation|limit)|mail ?box has exceeded"
                r"|too much mail stored|(hộp|hòm) thư (đã |bị )?đầy|(vượt|quá) (quá )?(dung lượng|hạn mức)"
                r"|hết dung lượng|không đủ dung lượng|postfach (ist )?voll|boîte (aux lettres )?pleine|buzón lleno"
                r"|邮箱已满|空间不足", re.I), MAILBOX_FULL),
    (re.compile(r"disabled|inactive|deactivated|suspended|account (is )?locked|mailbox (is )?locked"
                r"|not active|account (has )?expired|closed account|account closed"
                r"|(đã |bị )(khóa|khoá|vô hiệu|tạm ngừng|tạm dừng|đình chỉ|ngừng hoạt động)|ngừng sử dụng",
                re.I), MAILBOX_DISABLED),
    (re.compile(r"user unknown|unknown user|no such (user|recipient|mailbox|address|local user|person)"
                r"|does not exist|doesn'?t exist|not exist|invalid (recipient|mailbox|address|user)"
                r"|recipient unknown|addressee unknown|unknown (recipient|local|mailbox|address|addressee)"
                r"|user not found|mailbox not found|address not found|not a valid|no mailbox|bad destination mailbox"
                r"|not listed|no longer (valid|available)|(mailbox|user) unavailable|recipient not found"
                r"|unknown or illegal|(user|recipient|addressee) not known|final (e-?mail )?delivery (point|userid)"
                r"|(doesn'?t|does not) have an? [\w.-]+ (e-?mail )?account"
                r"|no matches? (to|for) (name ?server|directory)"
                r"|did not (exactly )?match an? [\w.-]+ (e-?mail )?address"
                r"|(address|account|recipient)[^.;]{0,30} could(n'?t| not) be found|rejected: (no such|unknown)"
                r"|không tồn tại|(người nhận|tài khoản|hộp thư|địa chỉ)( email| thư)? (không có thật|không hợp lệ"
                r"|không đúng|không tìm thấy)|không (tìm thấy|có) (người nhận|hộp thư|tài khoản|địa chỉ)"
                r"|sai địa chỉ|n'existe pas|inconnu|no existe|desconocido|unbekannt|不存在", re.I), MAILBOX_UNKNOWN),
    (re.compile(r"too large|too big|size limit|message size|exceeds? (the )?(maximum|size)"
                r"|(thư|tệp|dung lượng thư) quá lớn|vượt quá kích thước", re.I), TOO_LARGE),
    (re.compile(r"\bloop(ing|s)?\b|too many hops|hop count|chuyển vòng", re.I), LOOP),
    (re.compile(r"spam|blocked|block ?list|black ?list|policy|\brbl\b|spamhaus|reputation|denied|not authori[sz]ed"
                r"|relay(ing)? (denied|not permitted)|unable to relay|content rejected|\bdmarc\b|\bspf\b"
                r"|thư rác|bị chặn|chính sách|không được phép", re.I), POLICY),
)
# A server that kept trying and gave up: final, but the cause is the recipient's server not taking mail.
_GAVE_UP_WORDS = re.compile(
    r"failed \d+ attempts|delivery time expired|retry time(out)? (not reached|exceeded)|in the queue too long"
    r"|could not be delivered (with)?in|message expired|quá thời hạn gửi|đã thử gửi lại nhiều lần", re.I)
_UNAVAILABLE_WORDS = re.compile(
    r"time(d)? ?out|connection (refused|reset|lost)|deferred|try again later|temporar|unreachable"
    r"|could not connect|greylist|delayed|no route|not responding|service unavailable|no answer from host"
    r"|wasn't able to establish|unable to connect|không phản hồi|tạm thời|thử lại sau|hết thời gian chờ"
    r"|không kết nối được", re.I)


def normalized(text: str) -> str:
    """One line, NFC: Vietnamese typed with combining marks matches the patterns too."""
    return " ".join(unicodedata.normalize("NFC", text or "").split())


def enhanced_codes(text: str) -> list[str]:
    """Every enhanced status code in a text, in order."""
    return ENHANCED_CODE.findall(text or "")


def has_stated_reason(text: str) -> bool:
    """Whether a passage names a reason `explain` knows (used to choose the telling passage of a bounce)."""
    words = normalized(text)
    return (any(pattern.search(words) for pattern, _ in _WORD_REASONS)
            or bool(_GAVE_UP_WORDS.search(words) or _UNAVAILABLE_WORDS.search(words))
            or any(_code_reason(code) for code in enhanced_codes(words)))


def _code_reason(code: str) -> str:
    for pattern, text in _CODE_REASONS:
        if pattern.match(code):
            return text
    return ""


def explain(status_code: str, diagnostic: str, kind: str) -> str:
    """The plain Vietnamese explanation of a delivery failure, for an IT focal point.

    `kind` is "permanent" (a final failure), "temporary" (still being retried)
    or "unparsed". A code that names a reason decides first (the Status field,
    then codes in the server's text); then the words of the text; then the
    transport codes and words, told as "still retrying" for a temporary failure
    and as "gave up" for a final one.
    """
    if kind == "unparsed":
        return NOT_A_BOUNCE
    words = normalized(diagnostic)
    codes = [code for code in [(status_code or "").strip(), *enhanced_codes(words)] if code]
    for code in codes:
        reason = _code_reason(code)
        if reason:
            return reason
    for pattern, text in _WORD_REASONS:
        if pattern.search(words):
            return text
    basic = BASIC_CODE.search(words)
    if basic and basic.group(1) == "552":
        return MAILBOX_FULL
    transport = (any(_TRANSPORT_CODE.match(code) for code in codes) or bool(_UNAVAILABLE_WORDS.search(words))
                 or bool(_GAVE_UP_WORDS.search(words)))
    temporary_code = any(code.startswith("4") for code in codes) or bool(basic and basic.group(1).startswith("4"))
    if kind == "temporary":
        return UNAVAILABLE
    if transport or temporary_code:
        return GAVE_UP
    return FALLBACK


def explain_smtp_reply(reply: str, *, final: bool | None = None) -> str:
    """The explanation of a refusal the SMTP server gave, e.g. "550 5.1.1 <x@y>: … User unknown".

    `final` says whether the portal has stopped trying (a bounce, or a refusal after the last attempt);
    when not given, a 4xx reply counts as temporary.
    """
    text = normalized(reply)
    if final is None:
        basic = BASIC_CODE.match(text)
        final = not (basic and basic.group(1).startswith("4"))
    codes = enhanced_codes(text)
    return explain(codes[0] if codes else "", text, "permanent" if final else "temporary")
