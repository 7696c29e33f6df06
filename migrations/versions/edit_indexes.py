"""respondent rows found by name and mailbox within a list, so an edit re-checks only the rows it can affect;
the list's summary read from an index

Revision ID: edit_indexes
Revises: background_jobs
Create Date: 2026-12-03 11:40:00
"""
import json

from alembic import op
import sqlalchemy as sa
import sqlmodel

from portal.domain.text import fold


revision = 'edit_indexes'
down_revision = 'answer_privacy'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('respondent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('has_notice', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('respondent', schema=None) as batch_op:
        batch_op.alter_column('name_key', server_default=None)
        batch_op.alter_column('has_notice', server_default=None)
    # Rows saved before: their keys as the check computes them (the folded stored name; notices in problems).
    connection = op.get_bind()
    respondent = sa.table('respondent', sa.column('id', sa.Integer), sa.column('full_name', sa.String),
                          sa.column('problems', sa.String), sa.column('name_key', sa.String),
                          sa.column('has_notice', sa.Boolean))
    rows = connection.execute(sa.select(respondent.c.id, respondent.c.full_name, respondent.c.problems)).all()
    updates = [{"row_id": row_id, "key": fold(name or ""),
                "notice": any(p.get("level") == "notice" for p in json.loads(problems or "[]"))}
               for row_id, name, problems in rows]
    if updates:
        connection.execute(respondent.update().where(respondent.c.id == sa.bindparam("row_id"))
                           .values(name_key=sa.bindparam("key"), has_notice=sa.bindparam("notice")), updates)
    with op.batch_alter_table('respondent', schema=None) as batch_op:
        batch_op.create_index('ix_respondent_list_name_key', ['list_id', 'name_key'], unique=False)
        batch_op.create_index('ix_respondent_list_email', ['list_id', 'email'], unique=False)
        batch_op.create_index('ix_respondent_list_notice', ['list_id', 'has_notice'], unique=False)
        batch_op.create_index('ix_respondent_list_summary',
                              ['list_id', 'group_id', 'answers_ministry_form', 'ministry_id', 'error_count'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('respondent', schema=None) as batch_op:
        batch_op.drop_index('ix_respondent_list_summary')
        batch_op.drop_index('ix_respondent_list_notice')
        batch_op.drop_index('ix_respondent_list_email')
        batch_op.drop_index('ix_respondent_list_name_key')
        batch_op.drop_column('has_notice')
        batch_op.drop_column('name_key')
