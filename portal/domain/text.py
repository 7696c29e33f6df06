"""Normalising the Vietnamese text people type into forms and spreadsheets."""

from __future__ import annotations

import re
import unicodedata

from portal.input_cleaning import storable


def clean(value: object) -> str:
    """Return `value` as NFC text, trimmed, with runs of whitespace as one space.

    Officials' files mix precomposed and decomposed letters and carry stray
    non-breaking spaces; every comparison in the portal starts from this form.
    Characters PostgreSQL cannot store (NUL, lone surrogates) never survive it.
    """
    if value is None:
        return ""
    if type(value) is str and value.isprintable() and "  " not in value and (
            value.isascii() or unicodedata.is_normalized("NFC", value)):
        # Most cells (addresses, phones, and names typed in NFC, as Windows and Office do): nothing else to do.
        # A printable string has no whitespace but " " (tabs, NBSP and the other spaces are not printable), no
        # NUL, lone surrogate or zero-width character (not printable either), so the steps below keep it as is.
        return value.strip(" ")
    text = unicodedata.normalize("NFC", storable(str(value)))
    # Zero-width characters come in through copy and paste from web pages.
    if "\u200b" in text or "\ufeff" in text:
        text = text.replace("\u200b", "").replace("\ufeff", "")
    # str.split() splits on exactly the characters the regex \s matches (str.isspace), in C.
    return " ".join(text.split())


def fold(value: object) -> str:
    """Return a key for loose matching: lower case, no diacritics, đ as d.

    "Chức vụ", "CHUC VU" and "chuc  vu" all fold to "chuc vu".
    """
    text = clean(value).lower().replace("đ", "d")
    if text.isascii():
        return text
    # Vietnamese text is ASCII letters and precomposed Latin letters: one table maps each of those to what the
    # steps below make of it (the decomposition of a string is that of its characters, and the marks removed
    # leave ASCII, which composes no further). Any other character falls through to the steps below.
    ascii_text = text.translate(_LETTER_FOLDS)
    if ascii_text.isascii():
        return ascii_text
    return _fold_marks(text)


def _fold_marks(text: str) -> str:
    # Vietnamese diacritics decompose into the Combining Diacritical Marks block (all of it "Mn"): one
    # regex pass removes them; only text with other non-ASCII letters is walked character by character.
    stripped = _COMBINING_MARKS.sub("", unicodedata.normalize("NFD", text))
    if not stripped.isascii():
        stripped = "".join(ch for ch in stripped if ch.isascii() or unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped)


_COMBINING_MARKS = re.compile("[\u0300-\u036f]+")


def _letter_folds() -> dict[int, str]:
    """The lower-case Latin letters with marks (and the marks alone), each with its ASCII fold."""
    table = {}
    for code in (*range(0xC0, 0x250), *range(0x300, 0x370), *range(0x1E00, 0x1F00)):
        letter = chr(code)
        if letter.lower() == letter:
            folded = _fold_marks(letter)
            if folded.isascii():
                table[code] = folded
    return table


_LETTER_FOLDS = _letter_folds()


# Shown when a file cannot be written (the disk or the quota is full): nothing was saved, so the person may
# simply try again later.
DISK_FULL_MESSAGE = ("Máy chủ tạm thời không còn đủ chỗ để lưu tệp nên chưa có gì được lưu. "
                     "Vui lòng thử lại sau ít phút; nếu vẫn lỗi, hãy báo Bộ Nội vụ.")


def size_vn(size: int) -> str:
    """A size as a person reads it: 5242880 -> '5 MB', 7654321 -> '7,3 MB', 524288 -> '512 KB' (a limit or a
    file below one megabyte must not read '0 MB')."""
    if size >= 1024 * 1024:
        megabytes = size / (1024 * 1024)
        return f"{megabytes:.0f} MB" if megabytes.is_integer() else f"{megabytes:.1f} MB".replace(".", ",")
    return f"{max(1, size // 1024)} KB"
