"""Province lists longer than the demo's ~52 people, for paging, polling and browser tests.

    rows = generated_rows(session, HA_NOI, 320)      # valid rows, names and addresses all distinct
    send_list(session, HA_NOI, rows=rows)            # tests/support/survey.py

Each row copies a row of the province's demo list (so position, group and unit agree with each other and
with the province's departments and districts) under a new name and address.
"""

from __future__ import annotations

import itertools

from sqlmodel import Session

from portal.domain import demo
from portal.models import Province


def generated_rows(session: Session, province_id: int, count: int) -> list[dict[str, str]]:
    province = session.get(Province, province_id)
    assert province is not None
    templates = demo.sample_rows(session, province)
    names = itertools.product(demo._GIVEN, demo._MIDDLE, demo._FAMILY)
    rows = []
    for number in range(1, count + 1):
        given, middle, family = next(names)
        template = templates[(number - 1) % len(templates)]
        rows.append({**template, "full_name": f"{family} {middle} {given}",
                     "email": f"nguoi{number:04d}@{province.slug}.gov.vn"})
    return rows
