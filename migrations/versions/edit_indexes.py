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
    # Plain ALTER TABLE (no batch): SQLite's batch mode would rebuild `respondent`, and dropping the old
    # table fails once invitations point at its rows (foreign keys are on).
    op.add_column('respondent', sa.Column('name_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                          server_default=''))
    op.add_column('respondent', sa.Column('has_notice', sa.Boolean(), nullable=False, server_default=sa.false()))
    # SQLite cannot drop a default without that rebuild: there the harmless defaults stay.
    if op.get_bind().dialect.name != 'sqlite':
        op.alter_column('respondent', 'name_key', server_default=None)
        op.alter_column('respondent', 'has_notice', server_default=None)
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
    op.create_index('ix_respondent_list_name_key', 'respondent', ['list_id', 'name_key'], unique=False)
    op.create_index('ix_respondent_list_email', 'respondent', ['list_id', 'email'], unique=False)
    op.create_index('ix_respondent_list_notice', 'respondent', ['list_id', 'has_notice'], unique=False)
    op.create_index('ix_respondent_list_summary', 'respondent',
                    ['list_id', 'group_id', 'answers_ministry_form', 'ministry_id', 'error_count'], unique=False)


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+) rather than a batch rebuild, as in the upgrade.
    op.drop_index('ix_respondent_list_summary', table_name='respondent')
    op.drop_index('ix_respondent_list_notice', table_name='respondent')
    op.drop_index('ix_respondent_list_email', table_name='respondent')
    op.drop_index('ix_respondent_list_name_key', table_name='respondent')
    op.drop_column('respondent', 'has_notice')
    op.drop_column('respondent', 'name_key')
