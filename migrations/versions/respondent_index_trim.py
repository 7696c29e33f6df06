"""respondent: the indexes of list_id, province_id and email alone dropped (composite indexes begin with them)

Revision ID: respondent_index_trim
Revises: progress_people_index
Create Date: 2026-12-04 17:55:00
"""
from alembic import op


revision = 'respondent_index_trim'
down_revision = 'progress_people_index'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('respondent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_respondent_email'))
        batch_op.drop_index(batch_op.f('ix_respondent_province_id'))
        batch_op.drop_index(batch_op.f('ix_respondent_list_id'))


def downgrade() -> None:
    with op.batch_alter_table('respondent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_respondent_list_id'), ['list_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_respondent_province_id'), ['province_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_respondent_email'), ['email'], unique=False)
