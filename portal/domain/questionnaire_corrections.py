"""Corrections the ministry makes to the questionnaire set in the browser before the launch freezes it.

A question's wording and help, its options' labels and scores, and its place in its section. Each correction
that changes something makes a new version (document_corrections.correct), checked by the import's checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

from sqlmodel import Session

from portal.domain import document_corrections, document_diff, questionnaires
from portal.domain.questionnaires import FormDef, Question, Questionnaire, QuestionnaireError
from portal.models import Campaign, QuestionnaireVersion, User

FROZEN_MESSAGE = ("Bộ phiếu đã được phát hành nên không thể sửa nữa: người trả lời đang trả lời đúng các câu hỏi "
                  "này.")


class QuestionNotFound(QuestionnaireError):
    """The form or question named is not in the current version."""


def kind(session: Session, campaign: Campaign) -> document_corrections.Kind[QuestionnaireVersion]:
    """The questionnaire set as document_corrections needs it, checked against the campaign's groups."""
    known, ministry, locality = questionnaires.campaign_groups(session, campaign)

    def check(questionnaire: Questionnaire) -> Questionnaire:
        content = json.loads(questionnaires.to_document(questionnaire))
        return questionnaires.check_content(content, known_groups=known, ministry_groups=ministry,
                                            locality_groups=locality)

    return document_corrections.Kind(
        model=QuestionnaireVersion, load=questionnaires.load, check=check, to_document=questionnaires.to_document,
        title=lambda x: x.title, is_sample=lambda x: x.is_sample, describe=document_diff.questionnaire_changes,
        error=QuestionnaireError, noun="bộ phiếu", frozen_message=FROZEN_MESSAGE,
        audit_action="Sửa bộ phiếu khảo sát")


def find(questionnaire: Questionnaire, form_code: str, question_id: str) -> tuple[FormDef, int, int]:
    """The form, and the section's and question's places in it; QuestionNotFound when either is missing."""
    form = questionnaire.form(form_code)
    if form is not None:
        for s_index, section in enumerate(form.sections):
            for q_index, question in enumerate(section.questions):
                if question.id == question_id:
                    return form, s_index, q_index
    raise QuestionNotFound("Không tìm thấy câu hỏi này trong bộ phiếu đang dùng.")


def _with_section(questionnaire: Questionnaire, form_code: str, s_index: int,
                  change: Callable[[tuple[Question, ...]], tuple[Question, ...]]) -> Questionnaire:
    forms = []
    for form in questionnaire.forms:
        if form.code == form_code:
            sections = list(form.sections)
            sections[s_index] = replace(sections[s_index], questions=change(sections[s_index].questions))
            form = replace(form, sections=tuple(sections))
        forms.append(form)
    return replace(questionnaire, forms=tuple(forms))


def parse_score(text: str, label: str) -> float | int | None:
    """An option's score as typed: "3", "2,5" or "2.5"; empty for an option that is not scored."""
    try:
        return document_corrections.parse_number(text)
    except ValueError:
        raise QuestionnaireError(f"Điểm của phương án {document_diff.quote(label)} phải là một số (ví dụ 3 hoặc "
                                 "2,5), hoặc để trống nếu phương án không tính điểm.") from None


def edited_question(question: Question, fields: Mapping[str, str]) -> Question:
    """The question with the wording, help, option labels and scores posted (a field not posted is kept).

    Fields: `noi_dung` (the wording), `huong_dan` (help), `phuong_an_<value>` and `diem_<value>` per option.
    """
    options = []
    for option in question.options:
        label = fields.get(f"phuong_an_{option.value}", option.label)
        score_text = fields.get(f"diem_{option.value}")
        score = option.score if score_text is None else parse_score(score_text, label or option.label)
        options.append(replace(option, label=label, score=score))
    return replace(question, text=fields.get("noi_dung", question.text), help=fields.get("huong_dan", question.help),
                   options=tuple(options))


def edit_question(session: Session, user: User | None, campaign: Campaign, base_number: int | None,
                  form_code: str, question_id: str, fields: Mapping[str, str], *, now: datetime | None = None
                  ) -> document_corrections.Outcome[QuestionnaireVersion]:
    """Correct one question's wording, help, option labels and scores (see `edited_question`)."""

    def change(questionnaire: Questionnaire) -> Questionnaire:
        _, s_index, q_index = find(questionnaire, form_code, question_id)

        def edit(questions: tuple[Question, ...]) -> tuple[Question, ...]:
            return tuple(edited_question(x, fields) if i == q_index else x for i, x in enumerate(questions))

        return _with_section(questionnaire, form_code, s_index, edit)

    def touched(questionnaire: Questionnaire) -> Question | None:
        form = questionnaire.form(form_code)
        return form.question(question_id) if form else None

    return document_corrections.correct(session, kind(session, campaign), user, campaign, base_number, change,
                                        touched, now=now)


def move_question(session: Session, user: User | None, campaign: Campaign, base_number: int | None,
                  form_code: str, question_id: str, position: int, *, now: datetime | None = None
                  ) -> document_corrections.Outcome[QuestionnaireVersion]:
    """Put the question at `position` (1 for first) among its section's questions.

    A position, not "one up": the same form posted twice puts the question in the same place once.
    """

    def change(questionnaire: Questionnaire) -> Questionnaire:
        _, s_index, q_index = find(questionnaire, form_code, question_id)

        def move(questions: tuple[Question, ...]) -> tuple[Question, ...]:
            others = [x for i, x in enumerate(questions) if i != q_index]
            place = min(max(position, 1), len(questions)) - 1
            return tuple(others[:place] + [questions[q_index]] + others[place:])

        return _with_section(questionnaire, form_code, s_index, move)

    def touched(questionnaire: Questionnaire) -> tuple[str, ...] | None:
        try:
            form, s_index, _ = find(questionnaire, form_code, question_id)
        except QuestionNotFound:
            return None
        return tuple(x.id for x in form.sections[s_index].questions)

    return document_corrections.correct(session, kind(session, campaign), user, campaign, base_number, change,
                                        touched, now=now)
