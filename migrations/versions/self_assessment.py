"""self-assessment: the criteria framework as data, the province's scores, their audit trail, the lock

Revision ID: self_assessment
Revises: outbox_claim
Create Date: 2026-12-03 11:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'self_assessment'
down_revision = 'outbox_claim'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'frameworkversion',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('title', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('source_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('document', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('is_sample', sa.Boolean(), nullable=False),
        sa.Column('is_current', sa.Boolean(), nullable=False),
        sa.Column('frozen_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('imported_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('imported_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.ForeignKeyConstraint(['imported_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('campaign_id', 'version'),
    )
    op.create_index(op.f('ix_frameworkversion_campaign_id'), 'frameworkversion', ['campaign_id'], unique=False)
    op.create_table(
        'assessment',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('province_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('locked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('exception_until', sa.Date(), nullable=True),
        sa.Column('exception_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('exception_by_id', sa.Integer(), nullable=True),
        sa.Column('exception_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.ForeignKeyConstraint(['exception_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['province_id'], ['province.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('campaign_id', 'province_id'),
    )
    op.create_index(op.f('ix_assessment_campaign_id'), 'assessment', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_assessment_province_id'), 'assessment', ['province_id'], unique=False)
    op.create_table(
        'assessmentscore',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('assessment_id', sa.Integer(), nullable=False),
        sa.Column('province_id', sa.Integer(), nullable=False),
        sa.Column('line_code', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('figures', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('points', sa.Float(), nullable=True),
        sa.Column('not_applicable', sa.Boolean(), nullable=False),
        sa.Column('explanation', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id']),
        sa.ForeignKeyConstraint(['province_id'], ['province.id']),
        sa.ForeignKeyConstraint(['updated_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('assessment_id', 'line_code'),
    )
    op.create_index(op.f('ix_assessmentscore_assessment_id'), 'assessmentscore', ['assessment_id'], unique=False)
    op.create_index(op.f('ix_assessmentscore_province_id'), 'assessmentscore', ['province_id'], unique=False)
    op.create_table(
        'scorechange',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('score_id', sa.Integer(), nullable=False),
        sa.Column('province_id', sa.Integer(), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('old_value', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('new_value', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user.id']),
        sa.ForeignKeyConstraint(['province_id'], ['province.id']),
        sa.ForeignKeyConstraint(['score_id'], ['assessmentscore.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_scorechange_province_id'), 'scorechange', ['province_id'], unique=False)
    op.create_index(op.f('ix_scorechange_score_id'), 'scorechange', ['score_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_scorechange_score_id'), table_name='scorechange')
    op.drop_index(op.f('ix_scorechange_province_id'), table_name='scorechange')
    op.drop_table('scorechange')
    op.drop_index(op.f('ix_assessmentscore_province_id'), table_name='assessmentscore')
    op.drop_index(op.f('ix_assessmentscore_assessment_id'), table_name='assessmentscore')
    op.drop_table('assessmentscore')
    op.drop_index(op.f('ix_assessment_province_id'), table_name='assessment')
    op.drop_index(op.f('ix_assessment_campaign_id'), table_name='assessment')
    op.drop_table('assessment')
    op.drop_index(op.f('ix_frameworkversion_campaign_id'), table_name='frameworkversion')
    op.drop_table('frameworkversion')
