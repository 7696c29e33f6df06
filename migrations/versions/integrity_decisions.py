"""the ministry's integrity decisions: dismissing a flag, voiding forms or a province's whole survey result, and
reversing them, each proposed by one administrator and confirmed by a second; an address change's audit entry
names its respondent and the old and new address hashes

Revision ID: integrity_decisions
Revises: assessment_evidence
Create Date: 2026-12-03 14:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'integrity_decisions'
down_revision = 'assessment_evidence'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'integritydecision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('province_id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('flag_id', sa.Integer(), nullable=True),
        sa.Column('reverses_id', sa.Integer(), nullable=True),
        sa.Column('forms', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('form_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('proposed_by_id', sa.Integer(), nullable=False),
        sa.Column('proposed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('decided_by_id', sa.Integer(), nullable=True),
        sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id']),
        sa.ForeignKeyConstraint(['province_id'], ['province.id']),
        sa.ForeignKeyConstraint(['flag_id'], ['integrityflag.id']),
        sa.ForeignKeyConstraint(['reverses_id'], ['integritydecision.id']),
        sa.ForeignKeyConstraint(['proposed_by_id'], ['user.id']),
        sa.ForeignKeyConstraint(['decided_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('proposed_by_id', 'form_key'),
    )
    for column in ('campaign_id', 'province_id', 'flag_id', 'reverses_id', 'state'):
        op.create_index(f'ix_integritydecision_{column}', 'integritydecision', [column], unique=False)
    op.add_column('auditentry', sa.Column('subject_respondent_id', sa.Integer(), nullable=True))
    op.add_column('auditentry', sa.Column('old_email_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                          server_default=''))
    op.add_column('auditentry', sa.Column('new_email_hash', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                          server_default=''))
    op.create_index('ix_auditentry_subject_respondent_id', 'auditentry', ['subject_respondent_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_auditentry_subject_respondent_id', table_name='auditentry')
    with op.batch_alter_table('auditentry') as batch_op:
        batch_op.drop_column('new_email_hash')
        batch_op.drop_column('old_email_hash')
        batch_op.drop_column('subject_respondent_id')
    for column in ('state', 'reverses_id', 'flag_id', 'province_id', 'campaign_id'):
        op.drop_index(f'ix_integritydecision_{column}', table_name='integritydecision')
    op.drop_table('integritydecision')
