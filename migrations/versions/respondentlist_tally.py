"""respondentlist: the list's tally (people per group and ministry, errors) kept with the version it describes,
so that editing one row of a long list does not read the whole list again (portal.domain.list_tally)

Revision ID: respondentlist_tally
Revises: formprogress_campaign
Create Date: 2026-12-05 09:15:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'respondentlist_tally'
down_revision = 'formprogress_campaign'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty: no stored tally matches a version, so every list is counted from its rows until its next change.
    # Plain ALTER TABLE (SQLite 3.35 and PostgreSQL both have it): batch mode would recreate the table, whose
    # DROP the rows pointing at it refuse.
    op.add_column('respondentlist', sa.Column('tally', sqlmodel.sql.sqltypes.AutoString(), nullable=True))
    op.add_column('respondentlist', sa.Column('tally_version', sa.Integer(), nullable=True))


def downgrade() -> None:
    op.execute('ALTER TABLE respondentlist DROP COLUMN tally_version')
    op.execute('ALTER TABLE respondentlist DROP COLUMN tally')
