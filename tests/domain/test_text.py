"""Normalising typed text: the loose-matching key."""

from __future__ import annotations

import unicodedata

import pytest

from portal.domain import text
from portal.domain.text import fold


def _fold_by_decomposition(value: str) -> str:
    """What `fold` promises, spelled out step by step: clean, lower case, đ as d, marks removed."""
    return text._fold_marks(text.clean(value).lower().replace("đ", "d"))


@pytest.mark.parametrize("typed, key", [
    ("Chức vụ", "chuc vu"), ("CHUC  VU", "chuc vu"), ("Đặng Thị Ngọc Ánh", "dang thi ngoc anh"),
    ("Nguyễn Văn Ân", "nguyen van an"), ("Sở Lao động - TB&XH", "so lao dong - tb&xh"),
    ("Nguye\u0302\u0303n", "nguyen"), ("Trương Văn Ưng", "truong van ung"),
])
def test_fold_drops_case_diacritics_and_spacing(typed, key):
    assert fold(typed) == key


def test_the_table_of_letters_folds_every_character_as_decomposition_does():
    # Every character, alone and after Vietnamese text, between letters, and after a combining mark.
    for code in range(0x80, 0x3000):
        character = chr(code)
        if unicodedata.category(character) in ("Cs", "Co", "Cn"):
            continue
        for value in (character, f"Nguyễn {character}ương", f"ê{character}\u0323", f"a\u0301{character}"):
            assert fold(value) == _fold_by_decomposition(value), (hex(code), value)
