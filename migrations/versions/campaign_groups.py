"""respondent groups as campaign data: the unit kind each group names and the council group that wins overlaps

Revision ID: campaign_groups
Revises: campaign_departments
Create Date: 2026-12-03 14:20:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'campaign_groups'
down_revision = 'campaign_departments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('respondentgroup', sa.Column('unit_kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                               server_default='department'))
    op.add_column('respondentgroup', sa.Column('council_priority', sa.Boolean(), nullable=False,
                                               server_default=sa.false()))
    # Groups stored so far are the 2021 ones (or copies of them): what the code used to infer from their codes,
    # names and positions is written down once.
    op.execute("UPDATE respondentgroup SET unit_kind = 'council', council_priority = true "
               "WHERE upper(code) = 'HDND' OR lower(name) LIKE '%hội đồng nhân dân%'")
    op.execute("UPDATE respondentgroup SET unit_kind = 'division' WHERE code = 'LD_PHONG'")
    op.execute("UPDATE respondentgroup SET unit_kind = 'district' WHERE code = 'LD_HUYEN'")


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch rebuild would drop a table rows refer to.
    op.drop_column('respondentgroup', 'council_priority')
    op.drop_column('respondentgroup', 'unit_kind')
