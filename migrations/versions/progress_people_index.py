"""an index of a province's people by list and row, for the progress page

Revision ID: progress_people_index
Revises: par_index
Create Date: 2026-12-04 16:45:00
"""
from alembic import op


revision = 'progress_people_index'
down_revision = 'par_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('respondent', schema=None) as batch_op:
        batch_op.create_index('ix_respondent_province_list_row',
                              ['province_id', 'list_id', 'row_number'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('respondent', schema=None) as batch_op:
        batch_op.drop_index('ix_respondent_province_list_row')
