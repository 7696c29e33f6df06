"""the PAR Index: stored computations with their inputs, each province's figures, the campaign's publication

Revision ID: par_index
Revises: campaign_groups
Create Date: 2026-12-03 18:10:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'par_index'
down_revision = 'campaign_groups'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('campaign', sa.Column('results_published_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_table(
        'indexcomputation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('computed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('computed_by_id', sa.Integer(), nullable=True),
        sa.Column('trigger', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('framework_version_id', sa.Integer(), nullable=True),
        sa.Column('questionnaire_version_id', sa.Integer(), nullable=True),
        sa.Column('inputs', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('fingerprint', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('published_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('published_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.ForeignKeyConstraint(['computed_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['framework_version_id'], ['frameworkversion.id']),
        sa.ForeignKeyConstraint(['published_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['questionnaire_version_id'], ['questionnaireversion.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_indexcomputation_campaign_id'), 'indexcomputation', ['campaign_id'], unique=False)
    op.create_table(
        'provinceindex',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('computation_id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('province_id', sa.Integer(), nullable=False),
        sa.Column('basis', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('appraised', sa.Float(), nullable=False),
        sa.Column('survey', sa.Float(), nullable=False),
        sa.Column('total', sa.Float(), nullable=False),
        sa.Column('maximum', sa.Float(), nullable=False),
        sa.Column('percent', sa.Float(), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('voided_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('areas', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('lines', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.ForeignKeyConstraint(['computation_id'], ['indexcomputation.id']),
        sa.ForeignKeyConstraint(['province_id'], ['province.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('computation_id', 'province_id'),
    )
    op.create_index(op.f('ix_provinceindex_campaign_id'), 'provinceindex', ['campaign_id'], unique=False)
    op.create_index(op.f('ix_provinceindex_computation_id'), 'provinceindex', ['computation_id'], unique=False)
    op.create_index(op.f('ix_provinceindex_province_id'), 'provinceindex', ['province_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_provinceindex_province_id'), table_name='provinceindex')
    op.drop_index(op.f('ix_provinceindex_computation_id'), table_name='provinceindex')
    op.drop_index(op.f('ix_provinceindex_campaign_id'), table_name='provinceindex')
    op.drop_table('provinceindex')
    op.drop_index(op.f('ix_indexcomputation_campaign_id'), table_name='indexcomputation')
    op.drop_table('indexcomputation')
    op.drop_column('campaign', 'results_published_at')
