"""the ministry's appraisal (thẩm định) of a self-assessment: its rounds, the appraisers' scores by round, the
province's explanations and the files it adds to them

Revision ID: appraisal
Revises: integrity_decisions
Create Date: 2026-12-03 14:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'appraisal'
down_revision = 'integrity_decisions'
branch_labels = None
depends_on = None


def _line_columns():
    return [
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assessment_id', sa.Integer(), nullable=False),
        sa.Column('province_id', sa.Integer(), nullable=False),
        sa.Column('line_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        'appraisal',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assessment_id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('province_id', sa.Integer(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('explanation_until', sa.Date(), nullable=True),
        sa.Column('explanation_opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('round2_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('released_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id']),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.ForeignKeyConstraint(['province_id'], ['province.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_appraisal_assessment_id'), 'appraisal', ['assessment_id'], unique=True)
    op.create_index(op.f('ix_appraisal_campaign_id'), 'appraisal', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_appraisal_province_id'), 'appraisal', ['province_id'], unique=False)

    op.create_table(
        'appraisalscore',
        *_line_columns(),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('figures', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('points', sa.Float(), nullable=True),
        sa.Column('not_applicable', sa.Boolean(), nullable=False),
        sa.Column('comment', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id']),
        sa.ForeignKeyConstraint(['province_id'], ['province.id']),
        sa.ForeignKeyConstraint(['updated_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('assessment_id', 'line_code', 'round'),
    )
    op.create_index(op.f('ix_appraisalscore_assessment_id'), 'appraisalscore', ['assessment_id'], unique=False)
    op.create_index(op.f('ix_appraisalscore_province_id'), 'appraisalscore', ['province_id'], unique=False)

    op.create_table(
        'appraisalexplanation',
        *_line_columns(),
        sa.Column('text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id']),
        sa.ForeignKeyConstraint(['province_id'], ['province.id']),
        sa.ForeignKeyConstraint(['updated_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('assessment_id', 'line_code'),
    )
    op.create_index(op.f('ix_appraisalexplanation_assessment_id'), 'appraisalexplanation', ['assessment_id'],
                    unique=False)
    op.create_index(op.f('ix_appraisalexplanation_province_id'), 'appraisalexplanation', ['province_id'],
                    unique=False)

    op.create_table(
        'appraisalevidence',
        *_line_columns(),
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.Column('added_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('added_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['added_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id']),
        sa.ForeignKeyConstraint(['file_id'], ['storedfile.id']),
        sa.ForeignKeyConstraint(['province_id'], ['province.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_appraisalevidence_assessment_id'), 'appraisalevidence', ['assessment_id'], unique=False)
    op.create_index(op.f('ix_appraisalevidence_province_id'), 'appraisalevidence', ['province_id'], unique=False)
    op.create_index(op.f('ix_appraisalevidence_file_id'), 'appraisalevidence', ['file_id'], unique=False)


def downgrade() -> None:
    for table, columns in (('appraisalevidence', ('file_id', 'province_id', 'assessment_id')),
                           ('appraisalexplanation', ('province_id', 'assessment_id')),
                           ('appraisalscore', ('province_id', 'assessment_id')),
                           ('appraisal', ('province_id', 'campaign_id', 'assessment_id'))):
        for column in columns:
            op.drop_index(op.f(f'ix_{table}_{column}'), table_name=table)
        op.drop_table(table)
