"""outbox claim: one index for the claim, personal links masked in stored bodies, purged bodies

Revision ID: outbox_claim
Revises: evidence_files
Create Date: 2026-12-03 11:40:00
"""
import re

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'outbox_claim'
down_revision = 'evidence_files'
branch_labels = None
depends_on = None

# As portal/domain/invitations.py masks a link (frozen here: a migration must not change with the code).
_LINK = re.compile(r"/phieu/(\d+)\.[A-Za-z0-9_-]+")
_MASKED = r"/phieu/\1.••••"
_CHUNK = 500


def upgrade() -> None:
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.drop_index('ix_outboxmessage_status')
        batch_op.drop_index('ix_outboxmessage_next_attempt_at')
        batch_op.create_index('ix_outbox_claim', ['status', 'queued_at', 'id', 'next_attempt_at'], unique=False)
    _mask_stored_links()


def _mask_stored_links() -> None:
    """Rows stored before this revision hold the respondents' links in full: mask them. The worker puts the
    link back in when it sends a queued one, as it does for every row queued from now on."""
    bind = op.get_bind()
    outbox = sa.table('outboxmessage', sa.column('id', sa.Integer), sa.column('body_text', sa.Text),
                      sa.column('body_html', sa.Text))
    last = 0
    while True:
        rows = bind.execute(sa.select(outbox.c.id, outbox.c.body_text, outbox.c.body_html)
                            .where(outbox.c.id > last)
                            .order_by(outbox.c.id).limit(_CHUNK)).all()
        if not rows:
            return
        for ident, text, html in rows:
            masked_text, masked_html = _LINK.sub(_MASKED, text or ""), _LINK.sub(_MASKED, html or "")
            if (masked_text, masked_html) != (text or "", html or ""):
                bind.execute(sa.update(outbox).where(outbox.c.id == ident)
                             .values(body_text=masked_text, body_html=masked_html))
        last = rows[-1][0]


def downgrade() -> None:
    # The masked links stay masked: the worker of this revision or later puts them back at send time.
    with op.batch_alter_table('outboxmessage', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_claim')
        batch_op.create_index('ix_outboxmessage_next_attempt_at', ['next_attempt_at'], unique=False)
        batch_op.create_index('ix_outboxmessage_status', ['status'], unique=False)
        batch_op.drop_column('purged_at')
