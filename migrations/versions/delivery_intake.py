"""the IT focal point's nomination document (văn bản cử)

Revision ID: delivery_intake
Revises: requests
Create Date: 2026-12-02 18:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'delivery_intake'
down_revision = 'requests'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('nominationdocument',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('province_id', sa.Integer(), nullable=False),
    sa.Column('original_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('stored_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['province_id'], ['province.id'], ),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('nominationdocument', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nominationdocument_province_id'), ['province_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('nominationdocument', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nominationdocument_province_id'))

    op.drop_table('nominationdocument')
