"""An app as a folder on disk: reading its JSON documents and writing them back.

Documents are keyed by their path relative to the folder, with forward slashes ("entities/x.json").
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from metamodel.issues import MetadataIssue

APP_FILE = "app.json"
# Folder of each document kind; seed rows are data, not metadata, but ship in the same package.
FOLDERS = {"entities": "entity", "flows": "flow", "reports": "report", "dashboards": "dashboard",
           "email_templates": "email_template", "seed": "seed"}


def document_kind(relative: str) -> str | None:
    """Returns the kind of document at a relative path ("entity", "app"...), None if not one."""
    if relative == APP_FILE:
        return "app"
    folder, _, rest = relative.partition("/")
    if rest and "/" not in rest and rest.endswith(".json"):
        return FOLDERS.get(folder)
    return None


def read_documents(folder: str | Path) -> tuple[dict[str, Any], list[MetadataIssue]]:
    """Returns the parsed JSON documents of an app folder and an issue for each unreadable one."""
    root = Path(folder)
    documents: dict[str, Any] = {}
    issues: list[MetadataIssue] = []
    if not root.is_dir():
        return documents, [MetadataIssue(str(root), "", "is not a folder")]
    for path in sorted(root.rglob("*.json")):
        relative = path.relative_to(root).as_posix()
        if document_kind(relative) is None:
            issues.append(MetadataIssue(
                relative, "", "is not part of an app",
                "put documents in app.json, entities/, flows/, reports/, dashboards/, email_templates/ or seed/"))
            continue
        try:
            documents[relative] = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as error:
            issues.append(MetadataIssue(relative, "", f"is not UTF-8 text ({error.reason})"))
        except json.JSONDecodeError as error:
            issues.append(MetadataIssue(relative, "", f"invalid JSON: {error.msg}",
                                        line=error.lineno, column=error.colno))
    if APP_FILE not in documents and not any(i.file == APP_FILE for i in issues):
        issues.append(MetadataIssue(APP_FILE, "", "is missing", "every app folder needs an app.json"))
    return documents, issues


def dump_document(document: Any) -> str:
    """Returns a document as the text written to disk: indent 2, UTF-8 as is, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def write_documents(documents: Mapping[str, Any], folder: str | Path) -> list[Path]:
    """Writes each document under `folder` in sorted file-name order; returns the paths written."""
    root = Path(folder)
    written = []
    for relative in sorted(documents):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_document(documents[relative]), encoding="utf-8")
        written.append(path)
    return written
