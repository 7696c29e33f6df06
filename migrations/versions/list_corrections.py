"""lists: the merge record, dismissed namesakes, formula cells, departments a province adds

Revision ID: list_corrections
Revises: outbox_lease
Create Date: 2026-12-03 06:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'list_corrections'
down_revision = 'outbox_lease'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('added_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('added_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key('fk_department_added_by_id_user', 'user', ['added_by_id'], ['id'])
    with op.batch_alter_table('respondentlist', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merge_record', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='[]'))
        batch_op.add_column(sa.Column('dismissed_namesakes', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='[]'))
    with op.batch_alter_table('respondent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('formula_cells', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='{}'))


def downgrade() -> None:
    with op.batch_alter_table('respondent', schema=None) as batch_op:
        batch_op.drop_column('formula_cells')
    with op.batch_alter_table('respondentlist', schema=None) as batch_op:
        batch_op.drop_column('dismissed_namesakes')
        batch_op.drop_column('merge_record')
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_constraint('fk_department_added_by_id_user', type_='foreignkey')
        batch_op.drop_column('added_at')
        batch_op.drop_column('added_by_id')
        batch_op.drop_column('source')
