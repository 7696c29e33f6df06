"""Authoring the ministry's documents in its own tools: the questionnaire set and the criteria framework as
Excel workbooks, in (a filled template, checked like the YAML file) and out (any stored version).

The YAML file stays the exact exchange format; a workbook is read into the same document and checked by
the same rules, so what is stored does not depend on which of the two was imported.

The modules below import openpyxl (6 MB resident): they are loaded when a name is first used (PEP 562), so a
web process that never handles a workbook never holds it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_MODULE_OF = {
    "framework_template_workbook": "framework_sheets",
    "framework_workbook": "framework_sheets",
    "read_framework_workbook": "framework_sheets",
    "questionnaire_template_workbook": "questionnaire_sheets",
    "questionnaire_workbook": "questionnaire_sheets",
    "read_questionnaire_workbook": "questionnaire_sheets",
    "is_workbook": "workbooks",
}

__all__ = [
    "framework_template_workbook",
    "framework_workbook",
    "is_workbook",
    "questionnaire_template_workbook",
    "questionnaire_workbook",
    "read_framework_workbook",
    "read_questionnaire_workbook",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups are plain module attributes
    return value
