"""What a conversion leaves behind in the write path: a converted record (a lead) is kept as it was.

People may no longer edit it, nor mark a record converted by hand; the system still writes it.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import FieldError, ValidationError
from engine.security.actors import Actor
from metamodel.model import EntityDef

CONVERTED_READ_ONLY = "This record was converted and can no longer be edited."
CONVERT_TO_MARK = "is set to this value by converting the record; use Convert"


def refuse_edit_of_converted(actor: Actor, entity: EntityDef, current: Mapping[str, Any],
                             values: Mapping[str, Any]) -> None:
    """Raises ValidationError when a person edits a converted record, or gives an unconverted one
    the converted status (which only a conversion may set, with its links and time)."""
    conversion = entity.conversion
    if conversion is None or actor.id is None:
        return
    if conversion.is_converted(current):
        raise ValidationError(entity.name, [FieldError(None, CONVERTED_READ_ONLY)])
    status = values.get(conversion.status_field)
    if status == conversion.status_value:
        raise ValidationError(entity.name, [FieldError(conversion.status_field, CONVERT_TO_MARK)])
