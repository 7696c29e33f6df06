"""campaign maps: each campaign's provinces and the kind of their lower-level units; districts (2021) and
wards/communes (2025) as units of a named map

Revision ID: campaign_maps
Revises: campaigns_as_data
Create Date: 2026-12-03 11:45:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'campaign_maps'
down_revision = 'campaigns_as_data'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaignprovince',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('province_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('short_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('unit_map', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('unit_kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.ForeignKeyConstraint(['province_id'], ['province.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'province_id')
    )
    with op.batch_alter_table('campaignprovince', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaignprovince_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_campaignprovince_province_id'), ['province_id'], unique=False)

    with op.batch_alter_table('district', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_map', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default='2021'))
        batch_op.add_column(sa.Column('code', sa.Integer(), nullable=False, server_default='0'))
    # Before maps a district's id was its official code.
    op.execute("UPDATE district SET code = id")
    with op.batch_alter_table('district', schema=None) as batch_op:
        batch_op.alter_column('unit_map', server_default=None)
        batch_op.alter_column('code', server_default=None)
        batch_op.create_index(batch_op.f('ix_district_unit_map'), ['unit_map'], unique=False)
        batch_op.create_unique_constraint('uq_district_unit_map_code', ['unit_map', 'code'])
    if op.get_bind().dialect.name == 'postgresql':
        # Ids were given explicitly (the codes): the sequence must start past them for the 2025 units.
        op.execute("SELECT setval(pg_get_serial_sequence('district', 'id'), "
                   "GREATEST((SELECT max(id) FROM district), 1))")
    # Every campaign so far assessed the 63 provinces of the 2021 map, with their districts.
    op.execute("INSERT INTO campaignprovince (campaign_id, province_id, name, short_name, unit_map, unit_kind) "
               "SELECT campaign.id, province.id, province.name, province.short_name, '2021', 'district' "
               "FROM campaign CROSS JOIN province WHERE province.is_active")


def downgrade() -> None:
    with op.batch_alter_table('district', schema=None) as batch_op:
        batch_op.drop_constraint('uq_district_unit_map_code', type_='unique')
        batch_op.drop_index(batch_op.f('ix_district_unit_map'))
    op.execute("DELETE FROM district WHERE unit_map <> '2021'")
    with op.batch_alter_table('district', schema=None) as batch_op:
        batch_op.drop_column('code')
        batch_op.drop_column('unit_map')
    with op.batch_alter_table('campaignprovince', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaignprovince_province_id'))
        batch_op.drop_index(batch_op.f('ix_campaignprovince_campaign_id'))
    op.drop_table('campaignprovince')
