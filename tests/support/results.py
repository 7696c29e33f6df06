"""A small survey result built by hand for the results tests: answer rows and integrity decisions written directly.

    result = HandResult.build(app, session, ministry_user)
    result.answer(HA_NOI, "HDND", "DP-HDND", {"c2_1": "5"})

The rows are what the survey pages would store (portal/domain/answers.py); writing them directly keeps the tests
fast and lets each test say exactly which answers exist.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask
from sqlmodel import Session

from portal.domain import framework, questionnaires
from portal.domain import integrity_decisions as decisions
from portal.domain.campaigns import current_campaign
from portal.domain.invitations import response_key
from portal.models import Answer, Campaign, IntegrityDecision, QuestionnaireVersion, User

DAY = datetime(2022, 2, 1, tzinfo=UTC)

# Two survey lines over the sample questionnaire's forms (scale chat_luong: 1..5, "kb" without a score).
FRAMEWORK = """\
format: 1
title: Bộ tiêu chí thử kết quả khảo sát
areas:
  - code: 1
    title: Chỉ đạo, điều hành
    criteria:
      - code: "1.1"
        title: Kế hoạch
        subcriteria:
          - {code: "1.1.1", title: Ban hành kế hoạch, kind: yes_no, points: 1}
  - code: 8
    title: Tác động của cải cách hành chính
    criteria:
      - code: "8.1"
        title: Đánh giá về văn bản và thủ tục
        subcriteria:
          - code: "8.1.1"
            title: Chất lượng văn bản
            kind: survey
            source: survey
            points: 2
            survey:
              questions: [DP-HDND.c2_1, DP-LDSO.c2_1]
              rule: mean_scaled
          - code: "8.1.2"
            title: Công khai thủ tục
            kind: survey
            source: survey
            points: 1
            survey:
              questions: [DP-HDND.c3_1]
              rule: share_top
"""


@dataclass
class HandResult:
    app: Flask
    session: Session
    campaign: Campaign
    version: QuestionnaireVersion
    admin: User

    @classmethod
    def build(cls, app: Flask, session: Session, admin: User, framework_text: str = FRAMEWORK) -> HandResult:
        campaign = current_campaign(session)
        assert campaign is not None
        version = questionnaires.load_sample(session, campaign, admin)
        if framework_text:
            framework.import_framework(session, admin, campaign, framework_text.encode(), "tieu-chi.yaml")
        return cls(app, session, campaign, version, admin)

    @property
    def secret(self) -> str:
        return self.app.config["SECRET_KEY"]

    def answer(self, province_id: int, group: str, form: str, values: dict, *, submitted: bool = True,
               ministry: str | None = None, key: str | None = None) -> Answer:
        row = Answer(response_key=key or secrets.token_hex(16), campaign_id=self.campaign.id,
                     province_id=province_id, group_code=group, ministry_code=ministry, form_code=form,
                     questionnaire_version_id=self.version.id, answers=json.dumps(values), submitted=submitted,
                     updated_at=DAY, submitted_at=DAY if submitted else None)
        self.session.add(row)
        self.session.commit()
        return row

    def voided_answer(self, province_id: int, group: str, form: str, values: dict, invitation_id: int) -> Answer:
        """A submitted form the ministry voided (a void_forms decision in effect naming it)."""
        row = self.answer(province_id, group, form, values, key=response_key(invitation_id, form, self.secret))
        self._decision(province_id, decisions.VOID_FORMS, forms=[[invitation_id, form]])
        return row

    def void_province(self, province_id: int) -> None:
        self._decision(province_id, decisions.VOID_PROVINCE)

    def _decision(self, province_id: int, kind: str, forms: list | None = None) -> None:
        self.session.add(IntegrityDecision(
            campaign_id=self.campaign.id, province_id=province_id, kind=kind, forms=json.dumps(forms or []),
            reason="Phiếu do một người nộp thay nhiều người.", state=decisions.IN_EFFECT,
            form_key=secrets.token_hex(8), proposed_by_id=self.admin.id, decided_by_id=self.admin.id))
        self.session.commit()
