"""evidence files on the lines of a self-assessment; each line's change trail by assessment and line code (a file
may come before the line's first score); the approval, the sending and the ministry's return of an assessment

Revision ID: assessment_evidence
Revises: integrity_flags
Create Date: 2026-12-03 13:20:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'assessment_evidence'
down_revision = 'integrity_flags'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'assessmentevidence',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assessment_id', sa.Integer(), nullable=False),
        sa.Column('province_id', sa.Integer(), nullable=False),
        sa.Column('line_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('added_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('added_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['added_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id']),
        sa.ForeignKeyConstraint(['file_id'], ['storedfile.id']),
        sa.ForeignKeyConstraint(['province_id'], ['province.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_assessmentevidence_assessment_id'), 'assessmentevidence', ['assessment_id'], unique=False)
    op.create_index(op.f('ix_assessmentevidence_province_id'), 'assessmentevidence', ['province_id'], unique=False)
    op.create_index(op.f('ix_assessmentevidence_file_id'), 'assessmentevidence', ['file_id'], unique=False)
    with op.batch_alter_table('scorechange', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assessment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('line_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.alter_column('score_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_index(batch_op.f('ix_scorechange_assessment_id'), ['assessment_id'], unique=False)
        batch_op.create_foreign_key('fk_scorechange_assessment_id', 'assessment', ['assessment_id'], ['id'])
    with op.batch_alter_table('scorechange', schema=None) as batch_op:
        batch_op.alter_column('line_code', server_default=None)
    with op.batch_alter_table('assessment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('report_file_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decision_number', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('decision_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('decision_signer', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('sent_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('returned_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('return_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('returned_by_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_assessment_report_file_id'), ['report_file_id'], unique=False)
        batch_op.create_foreign_key('fk_assessment_report_file_id', 'storedfile', ['report_file_id'], ['id'])
        batch_op.create_foreign_key('fk_assessment_sent_by_id', 'user', ['sent_by_id'], ['id'])
        batch_op.create_foreign_key('fk_assessment_returned_by_id', 'user', ['returned_by_id'], ['id'])
    with op.batch_alter_table('assessment', schema=None) as batch_op:
        for name in ('decision_number', 'decision_signer', 'return_reason'):
            batch_op.alter_column(name, server_default=None)
    # Changes recorded before: their line, from the score row they name.
    op.execute("UPDATE scorechange SET assessment_id = (SELECT assessment_id FROM assessmentscore "
               "WHERE assessmentscore.id = scorechange.score_id), line_code = (SELECT line_code FROM "
               "assessmentscore WHERE assessmentscore.id = scorechange.score_id) WHERE score_id IS NOT NULL")


def downgrade() -> None:
    # Changes that name no score row (evidence on a line never scored) cannot be kept by the older schema.
    op.execute("DELETE FROM scorechange WHERE score_id IS NULL")
    with op.batch_alter_table('assessment', schema=None) as batch_op:
        for name in ('returned_by_id', 'sent_by_id', 'report_file_id'):
            batch_op.drop_constraint(f'fk_assessment_{name}', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_assessment_report_file_id'))
        for name in ('returned_by_id', 'return_reason', 'returned_at', 'sent_by_id', 'sent_at', 'decision_signer',
                     'decision_date', 'decision_number', 'report_file_id'):
            batch_op.drop_column(name)
    with op.batch_alter_table('scorechange', schema=None) as batch_op:
        batch_op.drop_constraint('fk_scorechange_assessment_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_scorechange_assessment_id'))
        batch_op.alter_column('score_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('line_code')
        batch_op.drop_column('assessment_id')
    op.drop_index(op.f('ix_assessmentevidence_file_id'), table_name='assessmentevidence')
    op.drop_index(op.f('ix_assessmentevidence_province_id'), table_name='assessmentevidence')
    op.drop_index(op.f('ix_assessmentevidence_assessment_id'), table_name='assessmentevidence')
    op.drop_table('assessmentevidence')
