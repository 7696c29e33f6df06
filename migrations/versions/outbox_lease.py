"""Outbox claims carry a lease the sending worker renews; the sweep takes back only expired leases

Revision ID: outbox_lease
Revises: sessions_and_locks
Create Date: 2026-12-03 06:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'outbox_lease'
down_revision = 'sessions_and_locks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    # A row left "sending" by a worker of the previous version has no lease: the sweep treats it as expired
    # (the worker is stopped during an upgrade).


def downgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
