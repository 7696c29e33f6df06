"""evidence files: one store of uploaded files by content hash, with a metadata table

The nomination documents (under PORTAL_UPLOAD_DIR) and the request attachments (under
PORTAL_REQUEST_FILES_DIR) move into PORTAL_FILES_DIR/sha256/<2 hex>/<sha256>, each with a
`storedfile` row carrying what the two tables kept themselves. The old files are copied, not
moved: once the upgrade is done and checked, the two old folders can be removed. A request
whose file was already missing keeps its name and size with an empty hash (its download stays
a 404, as before).

Revision ID: evidence_files
Revises: campaign_maps
Create Date: 2026-12-03 11:50:00
"""
import hashlib
import logging
import os
import secrets
from pathlib import Path

import sqlalchemy as sa
import sqlmodel
from alembic import context, op

revision = 'evidence_files'
down_revision = 'campaign_maps'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.evidence_files")

storedfile = sa.table(
    'storedfile', sa.column('id', sa.Integer), sa.column('sha256', sa.String), sa.column('size', sa.Integer),
    sa.column('content_type', sa.String), sa.column('original_name', sa.String),
    # uploaded_at untyped: copied as the database returned it (text on SQLite, a timestamp on PostgreSQL).
    sa.column('uploaded_by_id', sa.Integer), sa.column('uploaded_at'))


def _folders() -> dict[str, str]:
    """The folders the portal is configured with (set by `upgrade_schema`, else read from the environment)."""
    given = context.config.attributes.get("file_dirs")
    if given:
        return given
    from config import file_dirs

    return file_dirs()


def _put(files_dir: str, data: bytes) -> str:
    """Write the bytes into the store (temporary name, then rename) and return their hash."""
    digest = hashlib.sha256(data).hexdigest()
    target = Path(files_dir) / "sha256" / digest[:2] / digest
    if target.is_file() and target.stat().st_size == len(data):
        return digest
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f".tai-len-{digest[:16]}-{secrets.token_hex(8)}"
    try:
        with open(temporary, "xb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return digest


def _read(folder: str, name: str) -> bytes | None:
    root = Path(folder).resolve()
    path = (root / name).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path.read_bytes()


def _new_file(bind, **values) -> int:
    return bind.execute(sa.insert(storedfile).values(**values).returning(storedfile.c.id)).scalar_one()


def upgrade() -> None:
    op.create_table(
        'storedfile',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('original_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
        sa.Column('uploaded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_storedfile_sha256'), 'storedfile', ['sha256'], unique=False)
    op.create_index(op.f('ix_storedfile_uploaded_at'), 'storedfile', ['uploaded_at'], unique=False)
    with op.batch_alter_table('nominationdocument', schema=None) as batch_op:
        batch_op.add_column(sa.Column('file_id', sa.Integer(), nullable=True))
    with op.batch_alter_table('provincerequest', schema=None) as batch_op:
        batch_op.add_column(sa.Column('file_id', sa.Integer(), nullable=True))

    bind = op.get_bind()
    folders = _folders()
    documents = bind.execute(sa.text(
        "SELECT id, original_name, content_type, size, sha256, stored_name, uploaded_by_id, uploaded_at "
        "FROM nominationdocument ORDER BY id")).all()
    for row in documents:
        data = _read(folders["legacy_uploads"], row.stored_name)
        digest = _put(folders["files"], data) if data is not None else row.sha256
        if data is None:
            log.warning("nomination document %s: %s is missing; its row is kept", row.id, row.stored_name)
        file_id = _new_file(bind, sha256=digest, size=row.size, content_type=row.content_type,
                            original_name=row.original_name, uploaded_by_id=row.uploaded_by_id,
                            uploaded_at=row.uploaded_at)
        bind.execute(sa.text("UPDATE nominationdocument SET file_id = :f WHERE id = :i"), {"f": file_id, "i": row.id})
    attachments = bind.execute(sa.text(
        "SELECT id, author_id, file_name, file_key, file_type, file_size, created_at FROM provincerequest "
        "WHERE file_key <> '' ORDER BY id")).all()
    for row in attachments:
        data = _read(folders["legacy_request_files"], row.file_key) if row.file_key.isalnum() else None
        if data is None:
            log.warning("request %s: its file %s is missing; its name is kept", row.id, row.file_key)
        file_id = _new_file(bind, sha256=_put(folders["files"], data) if data is not None else "",
                            size=row.file_size, content_type=row.file_type, original_name=row.file_name,
                            uploaded_by_id=row.author_id, uploaded_at=row.created_at)
        bind.execute(sa.text("UPDATE provincerequest SET file_id = :f WHERE id = :i"), {"f": file_id, "i": row.id})

    with op.batch_alter_table('nominationdocument', schema=None) as batch_op:
        batch_op.alter_column('file_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_nominationdocument_file_id'), ['file_id'], unique=False)
        batch_op.create_foreign_key('fk_nominationdocument_file_id_storedfile', 'storedfile', ['file_id'], ['id'])
        batch_op.drop_column('stored_name')
        batch_op.drop_column('sha256')
        batch_op.drop_column('size')
        batch_op.drop_column('content_type')
        batch_op.drop_column('original_name')
        batch_op.drop_column('uploaded_by_id')
        batch_op.drop_column('uploaded_at')
    with op.batch_alter_table('provincerequest', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provincerequest_file_id'), ['file_id'], unique=False)
        batch_op.create_foreign_key('fk_provincerequest_file_id_storedfile', 'storedfile', ['file_id'], ['id'])
        batch_op.drop_column('file_name')
        batch_op.drop_column('file_key')
        batch_op.drop_column('file_type')
        batch_op.drop_column('file_size')


def downgrade() -> None:
    """Back to the two folders: each file is copied to where the earlier version looks for it."""
    with op.batch_alter_table('provincerequest', schema=None) as batch_op:
        batch_op.add_column(sa.Column('file_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('file_key', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('file_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('file_size', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('nominationdocument', schema=None) as batch_op:
        batch_op.add_column(sa.Column('original_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('content_type', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('size', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('stored_name', sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('uploaded_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('uploaded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    bind = op.get_bind()
    folders = _folders()
    extensions = {"application/pdf": ".pdf", "application/msword": ".doc", "image/jpeg": ".jpg", "image/png": ".png",
                  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx"}

    def copy_out(digest: str, folder: str, name: str) -> None:
        source = Path(folders["files"]) / "sha256" / digest[:2] / digest
        if digest and source.is_file():
            target = Path(folder) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())

    for row in bind.execute(sa.text(
            "SELECT d.id, d.province_id, f.sha256, f.size, f.content_type, f.original_name, f.uploaded_by_id, "
            "f.uploaded_at FROM nominationdocument d JOIN storedfile f ON f.id = d.file_id")).all():
        stored_name = f"van-ban-cu/{row.province_id}/{row.sha256}{extensions.get(row.content_type, '')}"
        copy_out(row.sha256, folders["legacy_uploads"], stored_name)
        bind.execute(sa.text(
            "UPDATE nominationdocument SET original_name = :n, content_type = :t, size = :s, sha256 = :h, "
            "stored_name = :p, uploaded_by_id = :u, uploaded_at = :a WHERE id = :i"),
            {"n": row.original_name, "t": row.content_type, "s": row.size, "h": row.sha256, "p": stored_name,
             "u": row.uploaded_by_id, "a": row.uploaded_at, "i": row.id})
    for row in bind.execute(sa.text(
            "SELECT r.id, f.sha256, f.size, f.content_type, f.original_name FROM provincerequest r "
            "JOIN storedfile f ON f.id = r.file_id")).all():
        key = row.sha256[:32] or f"thieu{row.id}"
        copy_out(row.sha256, folders["legacy_request_files"], key)
        bind.execute(sa.text("UPDATE provincerequest SET file_name = :n, file_key = :k, file_type = :t, "
                             "file_size = :s WHERE id = :i"),
                     {"n": row.original_name, "k": key, "t": row.content_type, "s": row.size, "i": row.id})

    with op.batch_alter_table('nominationdocument', schema=None) as batch_op:
        batch_op.alter_column('uploaded_at', existing_type=sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False)
        batch_op.create_foreign_key('fk_nominationdocument_uploaded_by_id_user', 'user', ['uploaded_by_id'], ['id'])
        batch_op.drop_constraint('fk_nominationdocument_file_id_storedfile', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_nominationdocument_file_id'))
        batch_op.drop_column('file_id')
    for column in ('original_name', 'content_type', 'size', 'sha256', 'stored_name'):
        with op.batch_alter_table('nominationdocument', schema=None) as batch_op:
            batch_op.alter_column(column, server_default=None)
    with op.batch_alter_table('provincerequest', schema=None) as batch_op:
        batch_op.drop_constraint('fk_provincerequest_file_id_storedfile', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_provincerequest_file_id'))
        batch_op.drop_column('file_id')
        for column in ('file_name', 'file_key', 'file_type', 'file_size'):
            batch_op.alter_column(column, server_default=None)
    op.drop_index(op.f('ix_storedfile_uploaded_at'), table_name='storedfile')
    op.drop_index(op.f('ix_storedfile_sha256'), table_name='storedfile')
    op.drop_table('storedfile')
