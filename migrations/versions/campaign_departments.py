"""campaign departments: each campaign's list of ministries, and each province's departments per campaign
(renamed, re-parented or retired in one campaign without touching another's)

Revision ID: campaign_departments
Revises: appraisal
Create Date: 2026-12-03 14:50:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'campaign_departments'
down_revision = 'appraisal'
branch_labels = None
depends_on = None

_COLUMNS = "id, province_id, department_type_id, ministry_id, name, source, added_by_id, added_at"


def _department_table(name: str, *, per_campaign: bool) -> None:
    """The department table as it is after (per_campaign) or before this migration, created under `name`."""
    columns = [sa.Column('id', sa.Integer(), nullable=False)]
    if per_campaign:
        columns.append(sa.Column('campaign_id', sa.Integer(), nullable=False))
    columns += [
        sa.Column('province_id', sa.Integer(), nullable=False),
        sa.Column('department_type_id', sa.Integer(), nullable=True),
        sa.Column('ministry_id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('source', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('added_by_id', sa.Integer(), nullable=True),
        sa.Column('added_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    ]
    if per_campaign:
        columns.append(sa.Column('retired_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    constraints = [
        sa.ForeignKeyConstraint(['department_type_id'], ['departmenttype.id'], ),
        sa.ForeignKeyConstraint(['ministry_id'], ['ministry.id'], ),
        sa.ForeignKeyConstraint(['province_id'], ['province.id'], ),
        sa.ForeignKeyConstraint(['added_by_id'], ['user.id'], name='fk_department_added_by_id_user'),
        sa.PrimaryKeyConstraint('id'),
    ]
    if per_campaign:
        constraints += [sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
                        sa.UniqueConstraint('campaign_id', 'province_id', 'name')]
    else:
        constraints.append(sa.UniqueConstraint('province_id', 'name'))
    op.create_table(name, *columns, *constraints)


def _rebuild_sqlite(*, per_campaign: bool, select_sql: str, columns: str) -> None:
    """Recreate the department table on SQLite (a unique constraint cannot be changed there otherwise).

    Respondents point to departments and foreign keys are on: the rows are held aside, the table is dropped
    and recreated empty, and the rows go back in, all under deferred foreign keys, so that SQLite counts each
    person's department as gone and then as back (a plain copy-then-drop would leave them counted as gone).
    """
    # A write first, so that the driver has opened the transaction the deferral lasts for.
    op.execute("UPDATE alembic_version SET version_num = version_num")
    op.execute("PRAGMA defer_foreign_keys = ON")
    op.execute(f"CREATE TABLE _department_hold AS {select_sql}")
    op.execute("DROP TABLE department")
    _department_table('department', per_campaign=per_campaign)
    op.execute(f"INSERT INTO department ({columns}) SELECT {columns} FROM _department_hold")
    op.execute("DROP TABLE _department_hold")
    op.create_index('ix_department_province_id', 'department', ['province_id'], unique=False)
    if per_campaign:
        op.create_index('ix_department_campaign_id', 'department', ['campaign_id'], unique=False)


def upgrade() -> None:
    bind = op.get_bind()
    op.create_table('campaignministry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('ministry_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ),
    sa.ForeignKeyConstraint(['ministry_id'], ['ministry.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('campaign_id', 'ministry_id')
    )
    op.create_index('ix_campaignministry_campaign_id', 'campaignministry', ['campaign_id'], unique=False)
    # Every campaign so far chose from the one list of ministries the portal had: 2021's 22 (and any the ministry
    # added by hand; the 2025 ones come with init-db after this migration and belong to 2025 campaigns only).
    op.execute("INSERT INTO campaignministry (campaign_id, ministry_id, position) "
               "SELECT campaign.id, ministry.id, ministry.id FROM campaign CROSS JOIN ministry "
               "WHERE ministry.code NOT IN ('BNNMT', 'BDTTG')")

    # The departments there are belong to the 2021 campaign (the first one, where an install has no 2021).
    base = bind.execute(sa.text(
        "SELECT id FROM campaign ORDER BY CASE WHEN year = 2021 AND NOT is_demo THEN 0 ELSE 1 END, id LIMIT 1"
    )).scalar()
    if base is None:
        # No campaign, so no list: departments without a campaign to belong to go (init-db loads them again).
        op.execute("DELETE FROM department")
        base = 0
    if bind.dialect.name == 'sqlite':
        _rebuild_sqlite(per_campaign=True, select_sql=f"SELECT {_COLUMNS}, {int(base)} AS campaign_id, "
                        "NULL AS retired_at FROM department",
                        columns=f"{_COLUMNS}, campaign_id, retired_at")
    else:
        op.add_column('department', sa.Column('campaign_id', sa.Integer(), nullable=True))
        op.add_column('department', sa.Column('retired_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        op.execute(sa.text("UPDATE department SET campaign_id = :base").bindparams(base=int(base)))
        op.alter_column('department', 'campaign_id', nullable=False)
        op.drop_constraint('department_province_id_name_key', 'department', type_='unique')
        op.create_unique_constraint(None, 'department', ['campaign_id', 'province_id', 'name'])
        op.create_foreign_key(None, 'department', 'campaign', ['campaign_id'], ['id'])
        op.create_index('ix_department_campaign_id', 'department', ['campaign_id'], unique=False)

    # Every other campaign gets its own copy of the departments of the provinces on its map, and its lists'
    # people follow to the copies: from now on a change in one campaign stays in that campaign.
    others = [row[0] for row in bind.execute(sa.text("SELECT id FROM campaign WHERE id <> :base ORDER BY id"),
                                             {"base": base})]
    for campaign_id in others:
        bind.execute(sa.text(
            "INSERT INTO department (campaign_id, province_id, department_type_id, ministry_id, name, source, "
            "added_by_id, added_at) SELECT :c, d.province_id, d.department_type_id, d.ministry_id, d.name, "
            "d.source, d.added_by_id, d.added_at FROM department d WHERE d.campaign_id = :base "
            "AND d.province_id IN (SELECT province_id FROM campaignprovince WHERE campaign_id = :c)"),
            {"c": campaign_id, "base": base})
        bind.execute(sa.text(
            "UPDATE respondent SET department_id = (SELECT mine.id FROM department mine JOIN department old "
            "ON old.province_id = mine.province_id AND old.name = mine.name "
            "WHERE old.id = respondent.department_id AND mine.campaign_id = :c) "
            "WHERE department_id IS NOT NULL AND list_id IN (SELECT id FROM respondentlist WHERE campaign_id = :c) "
            "AND EXISTS (SELECT 1 FROM department mine JOIN department old ON old.province_id = mine.province_id "
            "AND old.name = mine.name WHERE old.id = respondent.department_id AND mine.campaign_id = :c)"),
            {"c": campaign_id})


def downgrade() -> None:
    bind = op.get_bind()
    base = bind.execute(sa.text(
        "SELECT id FROM campaign ORDER BY CASE WHEN year = 2021 AND NOT is_demo THEN 0 ELSE 1 END, id LIMIT 1"
    )).scalar() or 0
    # One department per province and name again: people point back to the base campaign's row.
    bind.execute(sa.text(
        "UPDATE respondent SET department_id = (SELECT old.id FROM department old JOIN department mine "
        "ON old.province_id = mine.province_id AND old.name = mine.name "
        "WHERE mine.id = respondent.department_id AND old.campaign_id = :base) "
        "WHERE department_id IN (SELECT id FROM department WHERE campaign_id <> :base)"), {"base": base})
    op.execute(sa.text("DELETE FROM department WHERE campaign_id <> :base").bindparams(base=base))
    if bind.dialect.name == 'sqlite':
        _rebuild_sqlite(per_campaign=False, select_sql=f"SELECT {_COLUMNS} FROM department", columns=_COLUMNS)
    else:
        op.drop_index('ix_department_campaign_id', table_name='department')
        op.drop_constraint('department_campaign_id_fkey', 'department', type_='foreignkey')
        op.drop_constraint('department_campaign_id_province_id_name_key', 'department', type_='unique')
        op.create_unique_constraint('department_province_id_name_key', 'department', ['province_id', 'name'])
        op.drop_column('department', 'retired_at')
        op.drop_column('department', 'campaign_id')
    op.drop_index('ix_campaignministry_campaign_id', table_name='campaignministry')
    op.drop_table('campaignministry')
