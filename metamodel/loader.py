"""Loading an app: documents -> schema check -> frozen AppDef -> semantic checks, collecting every issue.

`validate_*` report all issues; `load_app` and `app_from_documents` raise MetadataError instead.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from metamodel.assembly import (
    app_from_parts,
    document_from,
    document_of_app,
    document_of_document,
    document_of_entity,
    entity_from_document,
)
from metamodel.checks import CHECKS
from metamodel.context import CheckContext, DocumentSource, EntitySource
from metamodel.conversion_checks import CONVERSION_CHECKS
from metamodel.email_templates import EMAIL_TEMPLATE_CHECKS
from metamodel.fieldtypes import FIELD_TYPES
from metamodel.flow_checks import FLOW_CHECKS
from metamodel.flows import flow_from_document
from metamodel.folder import APP_FILE, document_kind, read_documents, write_documents
from metamodel.formula_checks import check_formula_cycles, check_formulas
from metamodel.hidden_reads import check_computed_reads_of_hidden_fields
from metamodel.issues import MetadataError, MetadataIssue, ValidationReport, errors_of
from metamodel.jsonschemas import schema_issues
from metamodel.model import AppDef, Document, EntityDef, thaw

_PLACEHOLDER_APP = {"name": "app", "version": "0.0.0", "label": "app"}
_DOCUMENT_GROUPS = {"flow": "flows", "report": "reports", "dashboard": "dashboards",
                    "email_template": "email_templates"}


def validate_app(path: str | Path) -> ValidationReport:
    """Returns every issue of the app folder at `path`, and the app when there are none."""
    documents, read_issues = read_documents(path)
    report = validate_documents(documents, unreadable=[i.file for i in read_issues])
    issues = sorted([*read_issues, *report.issues], key=_issue_order)
    return ValidationReport(report.app if not errors_of(issues) else None, issues)


def load_app(path: str | Path) -> AppDef:
    """Returns the app in the folder at `path`; raises MetadataError listing every error."""
    report = validate_app(path)
    if not report.ok:
        raise MetadataError(report.errors)
    return report.app


def app_from_documents(documents: Mapping[str, Any]) -> AppDef:
    """Returns the app of documents keyed by relative path ("app.json", "entities/x.json")."""
    report = validate_documents(documents)
    if not report.ok:
        raise MetadataError(report.errors)
    return report.app


def app_to_documents(app: AppDef) -> dict[str, Any]:
    """Returns the app's documents keyed by relative path, sorted, each in canonical key order."""
    documents: dict[str, Any] = {APP_FILE: document_of_app(app)}
    for entity in app.entities.values():
        documents[f"entities/{entity.name}.json"] = document_of_entity(entity)
    for _kind, group in _DOCUMENT_GROUPS.items():
        for document in getattr(app, group).values():
            documents[f"{group}/{document.name}.json"] = document_of_document(document)
    for entity_name, rows in app.seed.items():
        documents[f"seed/{entity_name}.json"] = thaw(rows)
    return {key: documents[key] for key in sorted(documents)}


def write_app(app: AppDef, folder: str | Path) -> list[Path]:
    """Writes the app as a folder of JSON documents (the package `export` ships); returns the paths."""
    return write_documents(app_to_documents(app), folder)


def validate_documents(documents: Mapping[str, Any], *, unreadable: Iterable[str] = ()) -> ValidationReport:
    """Returns every schema and semantic issue of the documents, and the app when there are none.

    `unreadable` names files that exist but could not be parsed: references to them are not
    reported again as unknown.
    """
    built = _Build()
    for relative in unreadable:
        if document_kind(relative) == "entity":
            built.broken_entities.add(PurePosixPath(relative).stem)
    for relative in sorted(documents):
        built.add(relative, documents[relative])
    ctx = built.context()
    issues = [*built.issues, *_semantic_issues(ctx)]
    issues.sort(key=_issue_order)
    return ValidationReport(ctx.app if not errors_of(issues) else None, issues)


def _semantic_issues(ctx: CheckContext) -> Iterator[MetadataIssue]:
    for check in (*CHECKS, check_formulas, check_formula_cycles, check_computed_reads_of_hidden_fields,
                  *FLOW_CHECKS, *CONVERSION_CHECKS, *EMAIL_TEMPLATE_CHECKS):
        yield from check(ctx)


def _issue_order(issue: MetadataIssue) -> tuple:
    # Files in app order, then document order; a stable order makes reports diffable.
    return (issue.file != APP_FILE, issue.file, _pointer_key(issue.path))


def _pointer_key(path: str) -> tuple:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in path.split("/") if p)


class _Build:
    """Accumulates the parts of an app, document by document, and the issues met on the way."""

    def __init__(self) -> None:
        self.issues: list[MetadataIssue] = []
        self.app_doc: Mapping[str, Any] | None = None
        self.entities: list[EntitySource] = []
        self.documents: list[DocumentSource] = []
        self.seed: dict[str, Any] = {}
        self.seed_files: dict[str, str] = {}
        self.broken_entities: set[str] = set()
        self.broken_fields: dict[str, frozenset[str]] = {}

    def add(self, relative: str, document: Any) -> None:
        kind = document_kind(relative)
        if kind is None:
            self.issues.append(MetadataIssue(relative, "", "is not part of an app"))
        elif kind == "seed":
            self._add_seed(relative, document)
        else:
            problems = list(schema_issues(kind, relative, document))
            self.issues.extend(problems)
            getattr(self, f"_add_{kind if kind in ('app', 'entity') else 'document'}")(
                relative, kind, document, problems)

    def _add_app(self, relative: str, kind: str, document: Any, problems: list[MetadataIssue]) -> None:
        if not isinstance(document, dict):
            return
        # Keep the valid top-level keys so navigation and names are still checked; a bad or
        # missing name, version or label is replaced by a placeholder (its issue is reported).
        bad = {p.path.split("/")[1] for p in problems if p.path}
        self.app_doc = {**_PLACEHOLDER_APP, **{k: v for k, v in document.items() if k not in bad}}

    def _add_entity(self, relative: str, kind: str, document: Any, problems: list[MetadataIssue]) -> None:
        name = _name_of(relative, document)
        bad_fields = {_field_index(p.path) for p in problems}
        if None in bad_fields:
            self.broken_entities.add(name)
            return
        fields = document["fields"]
        self.broken_fields[name] = frozenset(
            fields[i]["name"] for i in bad_fields if isinstance(fields[i], dict)
            and isinstance(fields[i].get("name"), str))
        entity = entity_from_document(document, frozenset(bad_fields))
        positions = tuple(i for i in range(len(fields)) if i not in bad_fields)
        self.entities.append(EntitySource(relative, entity, positions))

    def _add_document(self, relative: str, kind: str, document: Any,
                      problems: list[MetadataIssue]) -> None:
        if not problems:
            self.documents.append(DocumentSource(relative, kind, document_from(document)))

    def _add_seed(self, relative: str, document: Any) -> None:
        if not isinstance(document, list) or not all(isinstance(row, dict) for row in document):
            self.issues.append(MetadataIssue(relative, "", "seed data must be a list of objects",
                                             "write one {field: value} object per record"))
            return
        entity = PurePosixPath(relative).stem
        self.seed[entity] = document
        self.seed_files[relative] = entity

    def context(self) -> CheckContext:
        kept: dict[str, EntitySource] = {}
        for source in self.entities:
            kept.setdefault(source.entity.name, source)  # a repeated name is reported by check_names
        entities = _with_result_types({name: s.entity for name, s in kept.items()})
        sources = tuple(dataclasses.replace(s, entity=entities[s.entity.name])
                        if kept[s.entity.name] is s else s for s in self.entities)
        groups: dict[str, dict[str, Document]] = {g: {} for g in _DOCUMENT_GROUPS.values()}
        for source in self.documents:
            groups[_DOCUMENT_GROUPS[source.kind]].setdefault(source.document.name, source.document)
        app = app_from_parts(self.app_doc or _PLACEHOLDER_APP, entities, groups["flows"],
                             groups["reports"], groups["dashboards"], self.seed,
                             {name: flow_from_document(d) for name, d in groups["flows"].items()},
                             groups["email_templates"])
        return CheckContext(app=app, app_ok=self.app_doc is not None, entities=sources,
                            documents=tuple(self.documents), seed_files=self.seed_files,
                            broken_entities=frozenset(self.broken_entities),
                            broken_fields=self.broken_fields)


def _name_of(relative: str, document: Any) -> str:
    name = document.get("name") if isinstance(document, dict) else None
    return name if isinstance(name, str) else PurePosixPath(relative).stem


def _field_index(pointer: str) -> int | None:
    """Returns N when `pointer` lies inside /fields/N, else None (the issue is the entity's)."""
    parts = pointer.split("/")
    if len(parts) >= 3 and parts[1] == "fields" and parts[2].isdigit():
        return int(parts[2])
    return None


def _with_result_types(entities: Mapping[str, EntityDef]) -> dict[str, EntityDef]:
    """Returns the entities with each computed field's `result_type` resolved across entities."""
    resolved: dict[tuple[str, str], str | None] = {}

    def result_of(entity_name: str, field_name: str, seen: frozenset) -> str | None:
        key = (entity_name, field_name)
        if key in resolved:
            return resolved[key]
        entity = entities.get(entity_name)
        if entity is None or not entity.has_field(field_name) or key in seen:
            return None
        f = entity.field(field_name)
        ftype = FIELD_TYPES[f.type]
        child, inner = f.option("child"), f.option("field")
        if ftype.stored:
            result = ftype.formula_type_of(f)
        elif child and inner and f.option("function") != "COUNT":
            result = result_of(child, inner, seen | {key})
        else:
            result = ftype.formula_type_of(f)
        resolved[key] = result
        return result

    out = {}
    for name, entity in entities.items():
        fields = tuple(f if FIELD_TYPES[f.type].stored else
                       dataclasses.replace(f, result_type=result_of(name, f.name, frozenset()))
                       for f in entity.fields)
        out[name] = dataclasses.replace(entity, fields=fields)
    return out
