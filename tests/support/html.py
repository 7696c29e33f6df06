"""Reading the portal's HTML in tests with the standard library's parser."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser

_INLINE_TAGS = re.compile(r"</?(?:a|strong|em|b|i|span|code|abbr|time|small)\b[^>]*>")
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def text_of(html: str) -> str:
    """The visible text of a page, tags removed and whitespace collapsed: what a reader sees.

    Inline tags vanish ("<strong>10/01/2022</strong>: Đăng ký" reads "10/01/2022: Đăng ký"); block tags
    separate words.
    """
    without_hidden = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return _SPACES.sub(" ", unescape(_TAGS.sub(" ", _INLINE_TAGS.sub("", without_hidden)))).strip()


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on the page."""
    match = _CSRF.search(html)
    assert match, "the page has no csrf_token field"
    return match.group(1)


@dataclass
class Field:
    tag: str
    type: str
    id: str | None
    name: str | None
    inside_label: bool


class FormFields(HTMLParser):
    """Every input, select and textarea of a page, and the ids that <label for> points at."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[Field] = []
        self.label_targets: set[str] = set()
        self.html_lang: str | None = None
        self._label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.html_lang = values.get("lang")
        elif tag == "label":
            self._label_depth += 1
            if values.get("for"):
                self.label_targets.add(values["for"] or "")
        elif tag in {"input", "select", "textarea"}:
            self.fields.append(Field(tag, (values.get("type") or "text").lower(), values.get("id"),
                                     values.get("name"), self._label_depth > 0))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._label_depth:
            self._label_depth -= 1

    def unlabelled(self) -> list[str]:
        """Names of the fields a screen reader could not announce: no <label for>, not wrapped in a <label>."""
        return [
            f.name or f.id or f.tag
            for f in self.fields
            if f.type not in {"hidden", "submit", "button", "reset", "image"}
            and not f.inside_label
            and (f.id is None or f.id not in self.label_targets)
        ]


def form_fields(html: str) -> FormFields:
    parser = FormFields()
    parser.feed(html)
    parser.close()
    return parser
