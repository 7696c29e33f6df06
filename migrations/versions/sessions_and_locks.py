"""sessions that end, login throttling per account and address, shared rate-limit counters

Revision ID: sessions_and_locks
Revises: delivery_intake
Create Date: 2026-12-03 07:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'sessions_and_locks'
down_revision = 'delivery_intake'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('loginthrottle',
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.Float(), nullable=False),
    sa.Column('last_attempt_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('username', 'source')
    )
    op.create_table('ratelimitcounter',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_logins')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('session_version', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_logins', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('locked_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.drop_column('session_version')

    op.drop_table('ratelimitcounter')
    op.drop_table('loginthrottle')
