"""Authoring the ministry's documents in its own tools: the questionnaire set and the criteria framework as
Excel workbooks, in (a filled template, checked like the YAML file) and out (any stored version).

The YAML file stays the exact exchange format; a workbook is read into the same document and checked by
the same rules, so what is stored does not depend on which of the two was imported.
"""

from portal.domain.authoring.framework_sheets import (
    framework_template_workbook,
    framework_workbook,
    read_framework_workbook,
)
from portal.domain.authoring.questionnaire_sheets import (
    questionnaire_template_workbook,
    questionnaire_workbook,
    read_questionnaire_workbook,
)
from portal.domain.authoring.workbooks import is_workbook

__all__ = [
    "framework_template_workbook",
    "framework_workbook",
    "is_workbook",
    "questionnaire_template_workbook",
    "questionnaire_workbook",
    "read_framework_workbook",
    "read_questionnaire_workbook",
]
