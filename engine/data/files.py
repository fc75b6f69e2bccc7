"""Uploaded files: what their bytes are, whether that agrees with their name, and where they are kept.

The content type is read from the content (never from the browser); an upload waits under a staging
name until the save that holds it is accepted, so a refused upload leaves nothing in the store.
"""
from __future__ import annotations

import mimetypes
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import filetype

TEXT = "text/plain"
UNKNOWN = "application/octet-stream"
HEAD_BYTES = 8192                      # as much as filetype reads to recognise a format
STAGING_LIFETIME = 24 * 60 * 60        # seconds an upload of a refused save stays available for re-saving
TEXT_ENCODINGS = ("utf-8-sig", "gb18030")
# Control characters text never holds (tab, newlines, form feed and the escape of coloured logs may).
BINARY_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f]")

# The stdlib's own table, without the machine's /etc/mime.types: the same answers everywhere.
_MIME_TABLE = mimetypes.MimeTypes()

# How a person names the formats they meet most; any other recognised format is "a .EXT file".
FORMAT_NAMES = {
    "image/png": "a PNG image", "image/apng": "a PNG image", "image/jpeg": "a JPEG image",
    "image/gif": "a GIF image", "image/webp": "a WebP image", "image/tiff": "a TIFF image",
    "image/bmp": "a BMP image", "image/heic": "a HEIC image", "application/pdf": "a PDF",
    "application/zip": "a ZIP archive", "application/gzip": "a gzip archive",
    "application/x-rar-compressed": "a RAR archive", "application/x-7z-compressed": "a 7z archive",
    "application/msword": "a Word document", "application/vnd.ms-excel": "an Excel workbook",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "a Word document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "an Excel workbook",
    "application/x-msdownload": "a Windows program", "application/x-executable": "a program",
}
# An animated PNG is a PNG to every browser and every user; filetype names it apart.
SAME_AS = {"image/apng": "image/png"}
# Office documents are ZIP archives inside; one whose parts filetype cannot place is still one of them.
ALSO_NAMED = {"application/zip": ("docx", "xlsx", "pptx", "odt", "ods", "odp", "epub")}


@dataclass(frozen=True)
class FileContent:
    """What an upload's bytes are: the content type stored and served, and how a person names it."""
    content_type: str
    description: str
    extensions: frozenset[str]      # the extensions of a recognised format; empty for text and unknown bytes


@dataclass(frozen=True)
class StagedFile:
    """An upload written under its staging name: the field value to save, and what its content is."""
    value: dict[str, Any]
    content: FileContent


def _extensions_of(kind: filetype.Type) -> frozenset[str]:
    mime = SAME_AS.get(kind.mime, kind.mime)
    aliases = () if mime == UNKNOWN else _MIME_TABLE.guess_all_extensions(mime)
    return frozenset({kind.extension.lower(), *(a.lstrip(".").lower() for a in aliases), *ALSO_NAMED.get(mime, ())})


# Every extension that names a format filetype recognises by its bytes: a file so named must be one.
_RECOGNISED = tuple((kind, _extensions_of(kind)) for kind in filetype.types)


def _format_name(mime: str, extension: str) -> str:
    return FORMAT_NAMES.get(mime, f"a .{extension.upper()} file")


def _decodes_as_text(data: bytes) -> bool:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return not BINARY_CONTROLS.search(data.decode("utf-16").encode("utf-8"))
        except UnicodeDecodeError:
            return False
    if BINARY_CONTROLS.search(data):
        return False
    for encoding in TEXT_ENCODINGS:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return True
    return False


def _text_name(data: bytes) -> str:
    """How a person names a text upload. This only words the refusal: any text is stored as plain
    text and never served as markup, whatever it looks like."""
    if not data.strip():
        return "empty"
    head = data[:2048].decode("utf-8", "replace").lower()
    if "<svg" in head:
        return "SVG"
    if any(tag in head for tag in ("<!doctype html", "<html", "<script", "<head", "<body", "<iframe")):
        return "HTML"
    return "text"


def determine_content(data: bytes) -> FileContent:
    """Returns what `data` (a whole file) is, judged from its bytes alone: a format filetype
    recognises, else plain text when it decodes as text, else unknown binary data."""
    kind = filetype.guess(data[:HEAD_BYTES]) if data else None
    if kind is not None:
        mime = SAME_AS.get(kind.mime, kind.mime)
        return FileContent(mime, _format_name(kind.mime, kind.extension), _extensions_of(kind))
    if _decodes_as_text(data):
        return FileContent(TEXT, _text_name(data), frozenset())
    return FileContent(UNKNOWN, "binary data", frozenset())


@dataclass(frozen=True)
class Expectation:
    """What an extension promises its file holds."""
    content_type: str
    description: str


def _expected_by_extension(extension: str) -> Expectation | None:
    """What a file with this extension must hold: a recognised format, plain text for the text
    formats, or None when the extension makes no promise."""
    for kind, extensions in _RECOGNISED:
        if extension in extensions:
            return Expectation(SAME_AS.get(kind.mime, kind.mime), _format_name(kind.mime, kind.extension))
    claimed, _encoding = _MIME_TABLE.guess_type(f"file.{extension}")
    if claimed and claimed.startswith("text/"):
        return Expectation(TEXT, "text")
    return None


def _agrees(extension: str, expected: Expectation | None, content: FileContent) -> bool:
    if content.extensions:     # a recognised format: the name must be one of its extensions
        return extension in content.extensions
    return expected is None or expected.content_type == content.content_type


def content_mismatch(name: str, content: FileContent) -> str | None:
    """Returns why `content` cannot be a file called `name` ("invoice.pdf: the content is HTML,
    not a PDF"), or None when they agree."""
    extension = PurePosixPath(name).suffix.lower().lstrip(".")
    expected = _expected_by_extension(extension) if extension else None
    if _agrees(extension, expected, content):
        return None
    if expected:
        wanted = expected.description
    else:
        wanted = f"a .{extension} file" if extension else "a file without an extension"
    return f"{name}: the content is {content.description}, not {wanted}"


_DETERMINABLE = frozenset({TEXT, UNKNOWN, *(SAME_AS.get(kind.mime, kind.mime) for kind, _ext in _RECOGNISED)})


def servable_type(content_type: str | None) -> str:
    """The content type a stored file may be served under: one this module can determine, else
    unknown binary data (files saved before types were determined carry the browser's word)."""
    return content_type if content_type in _DETERMINABLE else UNKNOWN


class FileStore:
    """Uploaded files under one folder, named by a random key (never the user's name); uploads wait
    in `.staging/` until the save holding them is accepted."""

    def __init__(self, root: Path):
        self.root = root
        self.staging = root / ".staging"

    def stage(self, stream: BinaryIO, filename: str) -> StagedFile:
        """Writes an upload under a staging name; returns its field value with the determined type."""
        self.staging.mkdir(parents=True, exist_ok=True)
        self._sweep_staging()
        key = uuid.uuid4().hex
        path = self.staging / key
        with open(path, "wb") as out:
            for chunk in _chunks(stream):
                out.write(chunk)
        content = determine_content(path.read_bytes())
        name = PurePosixPath((filename or "file").replace("\\", "/")).name or "file"
        value = {"key": key, "name": name, "size": path.stat().st_size, "content_type": content.content_type}
        return StagedFile(value, content)

    def is_available(self, key: str) -> bool:
        """Whether a file of this key is staged or stored."""
        return _valid_key(key) and ((self.staging / key).is_file() or (self.root / key).is_file())

    def commit(self, key: str) -> None:
        """Moves a staged upload into the store, once the save holding it is accepted."""
        if _valid_key(key) and (self.staging / key).is_file():
            os.replace(self.staging / key, self.root / key)

    def discard(self, key: str) -> None:
        """Removes a staged upload that was refused."""
        if _valid_key(key):
            (self.staging / key).unlink(missing_ok=True)

    def path(self, key: str) -> Path | None:
        """The stored (never a staged) file of this key, or None."""
        if not _valid_key(key):
            return None
        path = self.root / key
        return path if path.is_file() else None

    def _sweep_staging(self) -> None:
        """Removes uploads of refused saves that nobody came back to save."""
        cutoff = time.time() - STAGING_LIFETIME
        for path in self.staging.iterdir():
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)


def _valid_key(key: str) -> bool:
    return bool(key) and key.isalnum()


def _chunks(stream: BinaryIO, size: int = 1 << 16) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk
