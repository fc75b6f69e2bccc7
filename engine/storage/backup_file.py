"""The backup file: one zip holding `manifest.json` and the database payload it describes.

The manifest names the payload, its SHA-256, the schema revision and every table's row count,
so a damaged or foreign file is refused before any database is touched.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.errors import FormworkError

FORMAT = "formwork-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
PAYLOAD_NAMES = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
# A SQLite file shrinks to a few percent deflated; pg_dump's custom format is compressed already.
PAYLOAD_COMPRESSION = {"sqlite": zipfile.ZIP_DEFLATED, "postgresql": zipfile.ZIP_STORED}
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
ZIP_MAGIC = b"PK\x03\x04"
DIALECT_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

# What a damaged zip raises from its headers, its deflate stream or its CRC check.
DAMAGED_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, struct.error, NotImplementedError,
                      ValueError, OverflowError, KeyError)


class BackupError(FormworkError):
    pass


@dataclass(frozen=True)
class Manifest:
    formwork_version: str
    schema_revision: str | None
    dialect: str
    created_at: str                      # ISO 8601, UTC
    row_counts: dict[str, int]
    sha256: str                          # of the payload
    payload: str
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    tables: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tables", len(self.row_counts))

    def to_json(self) -> str:
        document = asdict(self)
        document.pop("tables")
        return json.dumps(document, indent=2, sort_keys=True)


@dataclass(frozen=True)
class Payload:
    """A backup's database, extracted and checked against its manifest (None: a plain old-style file)."""
    path: Path
    dialect: str
    manifest: Manifest | None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_backup_file(target: Path, manifest: Manifest, payload: Path) -> None:
    """Writes the zip beside `target` and renames it into place, so a failed backup leaves no half file."""
    partial = target.with_name(f".{target.name}.partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST_NAME, manifest.to_json())
            archive.write(payload, manifest.payload, compress_type=PAYLOAD_COMPRESSION[manifest.dialect])
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)


@contextmanager
def opened_payload(source: Path, workdir: Path) -> Iterator[Payload]:
    """Yields the payload of `source` copied into a temporary file of `workdir`, its checksum verified;
    removes the copy afterwards. Raises BackupError naming what is wrong with the file."""
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    handle, name = tempfile.mkstemp(dir=workdir, prefix=f".{source.name}.", suffix=".restoring")
    os.close(handle)
    scratch = Path(name)
    try:
        yield _extract(source, scratch)
    finally:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)


def _extract(source: Path, scratch: Path) -> Payload:
    magic = _first_bytes(source, 16)
    if magic.startswith(SQLITE_MAGIC):
        shutil.copyfile(source, scratch)
        return Payload(scratch, "sqlite", None)
    if magic.startswith(PGDUMP_MAGIC):
        shutil.copyfile(source, scratch)
        return Payload(scratch, "postgresql", None)
    if magic.startswith(ZIP_MAGIC) and not zipfile.is_zipfile(source):
        raise BackupError(f"{source} is truncated or damaged: the end of the file is missing; "
                          "restore from another backup")
    if not zipfile.is_zipfile(source):
        raise BackupError(f"{source} is not a Formwork backup: it is neither a backup file nor a database file")
    try:
        with zipfile.ZipFile(source) as archive:
            manifest = _read_manifest(source, archive)
            with archive.open(manifest.payload) as packed, scratch.open("wb") as unpacked:
                shutil.copyfileobj(packed, unpacked, 1 << 20)
    except DAMAGED_ZIP_ERRORS as exc:
        raise BackupError(f"{source} is damaged and cannot be read ({_reason(exc)}); "
                          "restore from another backup") from None
    if sha256_of(scratch) != manifest.sha256:
        raise BackupError(f"{source} is damaged: its database does not match the checksum in its manifest; "
                          "restore from another backup")
    return Payload(scratch, manifest.dialect, manifest)


def _read_manifest(source: Path, archive: zipfile.ZipFile) -> Manifest:
    try:
        document = json.loads(archive.read(MANIFEST_NAME).decode("utf-8"))
    except KeyError:
        raise BackupError(f"{source} is not a Formwork backup: it has no {MANIFEST_NAME}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BackupError(f"{source} is not a Formwork backup: {MANIFEST_NAME} is not a backup manifest")
    if document.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{source} is in backup format {document.get('format_version')!r}, which this "
                          f"version of Formwork does not read (it reads {FORMAT_VERSION}); upgrade Formwork")
    try:
        manifest = Manifest(**{k: v for k, v in document.items() if k != "tables"})
    except TypeError:
        raise BackupError(f"{source} is damaged: its manifest lacks fields or has unknown ones") from None
    if manifest.dialect not in PAYLOAD_NAMES:
        raise BackupError(f"{source} is a backup of a {manifest.dialect} database, which Formwork cannot restore")
    return manifest


def _first_bytes(path: Path, count: int) -> bytes:
    with path.open("rb") as handle:
        return handle.read(count)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
