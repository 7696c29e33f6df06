"""The questions of a form as HTML, rendered by the template once per form and filled in per request.

A respondent's form page is mostly the same for every respondent of a questionnaire version: only the
saved answers differ (a `checked`, a value, a textarea's text). Rendering the 18 questions through Jinja
took most of a page's time, so `questionnaires/_form_fields.html` stays the one source of the markup,
rendered once per form with nothing answered; the places where answers go are found in that output and
kept as slots. A request joins the pieces with its answers, escaped as the template escapes them.

Pages with errors (a refused save or submission) are rare and render the template itself.
tests/test_form_fields.py proves the two give the same bytes for every kind of question and answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from threading import Lock

from flask import render_template
from markupsafe import Markup, escape

from portal.domain.questionnaires import FormDef, Question

TEMPLATE = "questionnaires/_form_fields.html"
_CHECK, _VALUE = "check", "value"


@dataclass(frozen=True)
class _Slot:
    kind: str  # "check": " checked" when the option is chosen; "value": the answer, escaped
    question: Question
    option: str = ""


@dataclass(frozen=True)
class Skeleton:
    """The rendered fields cut at the slots: pieces[0] slot[0] pieces[1] … slot[n-1] pieces[n]."""

    pieces: tuple[str, ...]
    slots: tuple[_Slot, ...]

    def fill(self, values: Mapping) -> Markup:
        out = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            value = values.get(slot.question.id)
            if slot.kind == _CHECK:
                if slot.question.kind == "single":
                    chosen = value == slot.option
                else:  # as the template reads a multiple choice: a list of values, anything else none
                    chosen = not isinstance(value, str) and _iterable(value) and slot.option in value
                if chosen:
                    out.append(" checked")
            elif value is not None:
                out.append(str(escape(value)))
            out.append(piece)
        return Markup("".join(out))


def _iterable(value: object) -> bool:
    try:
        iter(value)  # type: ignore[call-overload]
    except TypeError:
        return False
    return True


class SlotNotFound(Exception):
    """The template's markup no longer has an answer's place where this module looks for it."""


def _cut(html: str, form: FormDef) -> Skeleton:
    """Find each answer's place in `html` (the fields rendered with nothing answered), in question order."""
    cuts: list[tuple[int, _Slot]] = []
    cursor = 0

    def find(needle: str, start: int) -> int:
        at = html.find(needle, start)
        if at < 0:
            raise SlotNotFound(needle)
        return at

    for question in form.questions:
        qid = str(escape(question.id))
        if question.kind in ("single", "multiple"):
            kind = "radio" if question.kind == "single" else "checkbox"
            for option in question.options:
                needle = f'<input type="{kind}" name="{qid}" value="{escape(option.value)}"'
                cursor = find(needle, cursor) + len(needle)
                cuts.append((cursor, _Slot(_CHECK, question, option.value)))
        elif question.multiline:
            needle = f'<textarea id="f-{qid}" name="{qid}"'
            cursor = find(">", find(needle, cursor)) + 1
            cuts.append((cursor, _Slot(_VALUE, question)))
        else:
            needle = f'id="f-{qid}" name="{qid}"'
            cursor = find('value="', find(needle, cursor)) + len('value="')
            cuts.append((cursor, _Slot(_VALUE, question)))
    pieces, start = [], 0
    for at, _slot in cuts:
        pieces.append(html[start:at])
        start = at
    pieces.append(html[start:])
    return Skeleton(tuple(pieces), tuple(slot for _at, slot in cuts))


# Keyed by the form's sections (what the fields show; a ministry form's copy per ministry shares them).
# The parsed questionnaires live for the process (questionnaires.load_frozen), and so do these.
_SKELETONS: dict[int, tuple[object, Skeleton]] = {}
_LOCK = Lock()
_MOST = 256


def skeleton(form: FormDef) -> Skeleton:
    """The form's fields, cut at the answers' places (rendered once per process and form)."""
    key = id(form.sections)
    found = _SKELETONS.get(key)
    if found is not None and found[0] is form.sections:
        return found[1]
    html = render_template(TEMPLATE, form=form, values={}, errors={}, disabled=False)
    made = _cut(html, form)
    with _LOCK:
        if len(_SKELETONS) >= _MOST:
            _SKELETONS.clear()
        _SKELETONS[key] = (form.sections, made)  # holding the sections keeps their id from being reused
    return made


def form_fields(form: FormDef, values: Mapping, errors: Mapping[str, str]) -> Markup:
    """The questions of `form` with the answers `values` (and the messages of `errors`), as the template
    renders them."""
    if errors:
        return Markup(render_template(TEMPLATE, form=form, values=values, errors=errors, disabled=False))
    return skeleton(form).fill(values)
