"""Background operations: a launch or a bulk reminder recorded by a request and run by the worker in chunks

Revision ID: background_jobs
Revises: self_assessment
Create Date: 2026-12-03 11:40:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'background_jobs'
down_revision = 'self_assessment'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'operation',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('province_id', sa.Integer(), nullable=True),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('params', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('result', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('cursor', sa.Integer(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('lease_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.ForeignKeyConstraint(['province_id'], ['province.id']),
        sa.ForeignKeyConstraint(['requested_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('operation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operation_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_operation_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_operation_province_id'), ['province_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_operation_state'), ['state'], unique=False)
    with op.batch_alter_table('respondentlist', schema=None) as batch_op:
        batch_op.add_column(sa.Column('launch_operation_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_respondentlist_launch_operation_id'), ['launch_operation_id'],
                              unique=False)
        batch_op.create_foreign_key('fk_respondentlist_launch_operation_id_operation', 'operation',
                                    ['launch_operation_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('respondentlist', schema=None) as batch_op:
        batch_op.drop_constraint('fk_respondentlist_launch_operation_id_operation', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_respondentlist_launch_operation_id'))
        batch_op.drop_column('launch_operation_id')
    with op.batch_alter_table('operation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operation_state'))
        batch_op.drop_index(batch_op.f('ix_operation_province_id'))
        batch_op.drop_index(batch_op.f('ix_operation_campaign_id'))
        batch_op.drop_index(batch_op.f('ix_operation_kind'))
    op.drop_table('operation')
