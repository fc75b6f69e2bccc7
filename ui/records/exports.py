"""CSV and XLSX exports of a list: the list's rows under the same query string, every page of them.

CSV writes values as the list shows them (titles for lookups, labels for choices); XLSX writes numbers,
amounts, percentages, dates, times and booleans as the spreadsheet's own kinds, as each field type says,
and the rest as that text. Exports are audited. Text never becomes a spreadsheet formula: XLSX writes it
as a string cell, CSV quotes a formula's first character (OWASP's advice against CSV injection).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from flask import Response, abort, request

from engine.security import audit
from engine.storage.db import write_transaction
from metamodel.fieldtypes import field_type
from metamodel.model import Condition, EntityDef, FieldDef, label_text
from ui.context import actor, locale, registry, runtime
from ui.records import records_bp
from ui.records.display import TIME_COLUMNS, Cell, Column, columns_of, shown_field
from ui.records.listing import ListState
from ui.records.lists import current_state, fetch_list
from ui.records.localtime import user_zone

EXPORT_PAGE = 500
EXPORT_LIMIT = 100_000
# The first characters that make Excel, LibreOffice or Google Sheets read a CSV cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# The record's own times (created, updated, deleted) are written as datetimes, like a datetime field.
RECORD_TIME = FieldDef(name="fw_record_time", type="datetime", label={})


def export_rows(entity: EntityDef, state: ListState) -> Iterator[list]:
    """Yields the header, then every row of the list as (raw-aware) cell values."""
    state = replace(state, cursor=None, before=None, start=0)
    first = True
    exported = 0
    while True:
        result = fetch_list(entity, state, limit=EXPORT_PAGE, with_total=False)
        if result.refused:
            abort(422, description=result.refused)
        if first:
            yield [c.label for c in result.columns]
            first = False
        for row in result.rows:
            yield [c for c in row.cells]
        exported += len(result.rows)
        if not result.page.next_cursor or exported >= EXPORT_LIMIT:
            break
        state = replace(state, cursor=result.page.next_cursor)


def _text(value) -> str:
    if isinstance(value, str):
        return value
    return "" if value.kind == "blank" else value.text


def is_number(value) -> bool:
    """True for a cell holding a number (a negative amount is one), which no spreadsheet runs as code."""
    return not isinstance(value, str) and value.kind == "number" and isinstance(value.raw, (int, Decimal))


def csv_text(value) -> str:
    """Returns a cell's CSV text: a text that a spreadsheet would run as a formula gets a leading quote."""
    text = _text(value)
    if is_number(value) or not text.startswith(FORMULA_STARTS):
        return text
    return "'" + text


def _audit(entity: EntityDef, count: int, fmt: str) -> None:
    with write_transaction(runtime().engine) as conn:
        audit.write_entry(conn, actor(), "export", entity.name, None, None,
                          {"rows": count, "format": fmt, "query": request.query_string.decode()[:2000]},
                          at=runtime().clock())


def csv_response(entity: EntityDef, state: ListState) -> Response:
    buffer = io.StringIO()
    buffer.write("\ufeff")   # a BOM, so spreadsheet programs read the UTF-8 (Chinese) text right
    writer = csv.writer(buffer)
    count = -1
    for row in export_rows(entity, state):
        writer.writerow([csv_text(v) for v in row])
        count += 1
    _audit(entity, count, "csv")
    return Response(buffer.getvalue(), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{entity.name}.csv"'})


def xlsx_response(entity: EntityDef, state: ListState) -> Response:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet(label_text(entity.plural_label, locale())[:31] or entity.name)
    writers = [CellWriter(sheet, exported_field(c), user_zone(), locale())
               for c in columns_of(entity, state.columns, locale())]
    count = -1
    for row in export_rows(entity, state):
        if count < 0:
            sheet.append([_string_cell(sheet, label) for label in row])
        else:
            sheet.append([write(value) for write, value in zip(writers, row, strict=True)])
        count += 1
    output = io.BytesIO()
    book.save(output)
    _audit(entity, count, "xlsx")
    return Response(output.getvalue(),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{entity.name}.xlsx"'})


def exported_field(column: Column) -> FieldDef | None:
    """Returns the field whose type writes a column's cells (a formula's result type; the record's
    times as datetimes); None for a column written as its text."""
    if column.field is not None:
        return shown_field(column.field)
    return RECORD_TIME if column.name in TIME_COLUMNS or column.name == "deleted_at" else None


@dataclass(frozen=True)
class CellWriter:
    """Writes one column's values: as the spreadsheet kind its field type names, else as text."""
    sheet: Any
    field: FieldDef | None
    zone: dt.tzinfo
    locale: str

    def __call__(self, value: Cell) -> Any:
        native = self._native(value)
        if native is None:
            return _string_cell(self.sheet, _text(value))
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(self.sheet, native)
        number_format = field_type(self.field.type).spreadsheet_format(self.field, self.locale)
        if number_format:
            cell.number_format = number_format
        return cell

    def _native(self, value: Cell) -> Any:
        if self.field is None or value.kind == "blank" or value.raw is None:
            return None
        return field_type(self.field.type).spreadsheet_value(self.field, value.raw, self.zone)


def _string_cell(sheet, text: str):
    """Returns a string cell, never a formula or an error code, whatever the text starts with."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, text)
    cell.data_type = "s"   # openpyxl would store "=..." as a formula and "#N/A" as an error
    return cell


def require_export_right() -> None:
    """Exports need the `export` admin right: a file leaves the system's permission checks."""
    if not actor().has_right("export"):
        abort(403)


@records_bp.route("/app/<entity>/export.csv")
def export_csv(entity: str):
    require_export_right()
    definition = registry().entity(entity)
    return csv_response(definition, current_state(definition))


@records_bp.route("/app/<entity>/export.xlsx")
def export_xlsx(entity: str):
    require_export_right()
    definition = registry().entity(entity)
    return xlsx_response(definition, current_state(definition))


def export_selected(entity: EntityDef, ids: list[int], fmt: str) -> Response:
    """Exports the selected rows with the list's columns (bulk action)."""
    require_export_right()
    from werkzeug.datastructures import MultiDict

    from ui.records.listing import parse_state
    from ui.records.visibility import readable

    base = parse_state(MultiDict(request.form.items(multi=True)), entity, None)
    state = replace(base, filters=(Condition("id", "in", ids),), match="all",
                    columns=tuple(readable(entity, base.columns)))
    return csv_response(entity, state) if fmt == "csv" else xlsx_response(entity, state)
