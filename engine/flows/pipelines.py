"""Pipelines obeyed by the write path: which pipeline a record follows, the gate, required fields
and direction of a stage it enters, the stage's probability; and stage history from the audit log.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

import formula
from engine.data.computed import RecordValues
from engine.data.rows import row_to_record
from engine.errors import Problems
from engine.security import audit
from metamodel.fieldtypes import field_type
from metamodel.fieldtypes.base import is_blank
from metamodel.flows import PipelineDef, Stage
from metamodel.formula_checks import formula_fields
from metamodel.model import AppDef, EntityDef, Label, label_text

if TYPE_CHECKING:   # the registry holds the compiled pipelines, so it imports this module
    from engine.data.registry import Registry

PROBABILITY_FIELD = "probability"   # where the default CRM keeps a deal's chance of winning

MESSAGES: Mapping[str, Label] = {
    "required": {"en": "is required in stage {stage}", "zh": "进入“{stage}”阶段时必须填写"},
    "backward": {"en": "cannot move back from {current} to {wanted}", "zh": "不能从“{current}”退回到“{wanted}”"},
    "unknown": {"en": "{wanted} is not a stage of {pipeline}", "zh": "“{wanted}”不是“{pipeline}”的阶段"},
    "unchecked": {"en": "the gate of stage {stage} could not be checked: {error}",
                  "zh": "无法检查“{stage}”阶段的进入条件：{error}"},
}


def message(key: str, locale: str, **names: str) -> str:
    return label_text(MESSAGES[key], locale).format(**names)


@dataclass(frozen=True)
class CompiledPipeline:
    """A pipeline with its formulas compiled once per registry: `applies_if` and each stage's gate."""
    definition: PipelineDef
    applies_if: formula.CompiledFormula | None
    gates: Mapping[str, formula.CompiledFormula]   # stage value -> gate condition


def compile_app_pipelines(app: AppDef) -> dict[str, tuple[CompiledPipeline, ...]]:
    """Returns entity name -> its pipelines, the lowest priority number first."""
    found: dict[str, list[CompiledPipeline]] = {}
    for flow in app.flow_definitions.values():
        if isinstance(flow, PipelineDef):
            found.setdefault(flow.entity, []).append(_compile_pipeline(app, flow))
    return {entity: tuple(sorted(pipelines, key=lambda p: (p.definition.priority, p.definition.name)))
            for entity, pipelines in found.items()}


def _compile_pipeline(app: AppDef, pipeline: PipelineDef) -> CompiledPipeline:
    def compiled(source: str) -> formula.CompiledFormula:
        return formula.compile(source, formula_fields(app, pipeline.entity, source))

    return CompiledPipeline(pipeline, compiled(pipeline.applies_if) if pipeline.applies_if else None,
                            {s.value: compiled(s.gate.condition) for s in pipeline.stages if s.gate})


def pipeline_for(registry: Registry, entity: EntityDef, record: Mapping[str, Any], reader: RecordValues, *,
                 stored_record: bool) -> CompiledPipeline | None:
    """Returns the pipeline `record` follows: the first, by priority, whose `applies_if` holds or
    that has none; None when the entity has no pipeline for it."""
    for pipeline in registry.pipelines.get(entity.name, ()):
        condition = pipeline.applies_if
        if condition is None:
            return pipeline
        try:
            if condition.evaluate(reader.values(entity, record, condition.paths, stored_record=stored_record)):
                return pipeline
        except formula.FormulaError:
            continue   # a condition that cannot be worked out does not claim the record
    return None


@dataclass(frozen=True)
class StageWrite:
    """One record's save as the pipeline sees it: the stored values written (every value on create)
    and the stored record before (None on create)."""
    entity: EntityDef
    changes: dict[str, Any]
    before: Mapping[str, Any] | None
    row: int | None = None   # the row of a bulk write, for its errors


def enter_stage(registry: Registry, write: StageWrite, reader: RecordValues, problems: Problems,
                locale: str) -> None:
    """Checks a record entering a stage (created in it, or moved to it) against its pipeline: the
    stage must be one of the pipeline's, not earlier unless moving back is allowed, its required
    fields filled and its gate true on the record as it will be saved. Errors go to `problems` in
    `locale`; the stage's probability is added to `write.changes`."""
    entity, before = write.entity, write.before
    record = row_to_record(entity, {**(before or {}), **write.changes})
    pipeline = pipeline_for(registry, entity, record, reader, stored_record=before is not None)
    if pipeline is None:
        return
    definition = pipeline.definition
    wanted = write.changes.get(definition.stage_field)
    if wanted is None or (before is not None and before.get(definition.stage_field) == wanted):
        return
    stage_label = _stage_labeller(entity, definition, locale)
    add = _adder(problems, write.row)
    try:
        stage = definition.stage(wanted)
    except KeyError:
        add(definition.stage_field, message("unknown", locale, wanted=stage_label(wanted),
                                            pipeline=label_text(definition.label, locale) or definition.name))
        return
    current = before.get(definition.stage_field) if before is not None else None
    if _moves_back_refused(definition, current, wanted):
        add(definition.stage_field, message("backward", locale, current=stage_label(current),
                                            wanted=stage_label(wanted)))
    for name in stage.required_fields:
        if is_blank(record.get(name)):
            add(name, message("required", locale, stage=stage_label(wanted)))
    _write_probability(entity, stage, write.changes)
    as_saved = row_to_record(entity, {**(before or {}), **write.changes})
    _check_gate(pipeline, stage, entity, as_saved, reader, before is not None, add, stage_label(wanted), locale)


def _adder(problems: Problems, row: int | None):
    return lambda name, text: problems.add(name, text, row)


def _stage_labeller(entity: EntityDef, pipeline: PipelineDef, locale: str):
    f = entity.field(pipeline.stage_field)
    return lambda value: field_type(f.type).label_of(f, value, locale) or str(value)


def _moves_back_refused(pipeline: PipelineDef, current: str | None, wanted: str) -> bool:
    order = [s.value for s in pipeline.stages]
    if current not in order:
        return False   # from no stage, or one this pipeline does not have: nothing to go back from
    return order.index(wanted) < order.index(current) and not pipeline.may_leave_backward(current)


def _write_probability(entity: EntityDef, stage: Stage, changes: dict[str, Any]) -> None:
    if not entity.has_field(PROBABILITY_FIELD):
        return
    f = entity.field(PROBABILITY_FIELD)
    kind = field_type(f.type)
    changes[PROBABILITY_FIELD] = kind.to_db(f, kind.coerce(f, stage.probability))


def _check_gate(pipeline: CompiledPipeline, stage: Stage, entity: EntityDef, record: Mapping[str, Any],
                reader: RecordValues, stored_record: bool, add, stage_label: str, locale: str) -> None:
    gate = pipeline.gates.get(stage.value)
    if gate is None:
        return
    field = pipeline.definition.stage_field
    try:
        held = gate.evaluate(reader.values(entity, record, gate.paths, stored_record=stored_record))
    except formula.FormulaError as exc:
        add(field, message("unchecked", locale, stage=stage_label, error=exc.message))
        return
    if not held:
        add(field, label_text(stage.gate.message, locale))


# -- stage history ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StageEntry:
    """A record entering a stage: which, when, and who moved it (None: the system)."""
    stage: str
    at: datetime
    actor_id: int | None


@dataclass(frozen=True)
class StageHistory:
    pipeline: PipelineDef
    entries: tuple[StageEntry, ...]   # oldest first
    current: str | None
    time_in_current: timedelta | None

    def last_entered(self) -> dict[str, StageEntry]:
        """Returns stage value -> the latest time the record entered it."""
        return {entry.stage: entry for entry in self.entries}


def stage_history(conn: Connection, registry: Registry, entity: EntityDef, record: Mapping[str, Any],
                  now: datetime) -> StageHistory | None:
    """Returns the stages `record` entered, oldest first, with the time and the actor of each, and
    how long it has been in its current stage; None when no pipeline applies to it."""
    reader = RecordValues(conn, registry)
    pipeline = pipeline_for(registry, entity, record, reader, stored_record=True)
    if pipeline is None:
        return None
    field = pipeline.definition.stage_field
    entries = tuple(StageEntry(e.changes[field][1], e.at, e.actor_id)
                    for e in reversed(audit.record_history(conn, entity.name, record["id"]))
                    if e.action in ("create", "update") and field in e.changes and e.changes[field][1] is not None)
    current = record.get(field)
    entered = next((e.at for e in reversed(entries) if e.stage == current), None)
    return StageHistory(pipeline.definition, entries, current, _elapsed(now, entered))


def _elapsed(now: datetime, since: datetime | None) -> timedelta | None:
    if since is None:
        return None
    if since.tzinfo is None and now.tzinfo is not None:
        since = since.replace(tzinfo=now.tzinfo)   # SQLite hands back naive UTC times
    return now - since
