"""Record events the write path emits inside the save's transaction, and their dispatcher.

The dispatcher hands each event to the automations of its entity; it holds no state but how deep
automations have retriggered one another, so each save gets its own.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from engine.flows.automations import run_automations, stop_automations

MAX_DEPTH = 5   # automations whose writes trigger automations stop this many levels down

EVENT_KINDS = ("created", "updated", "deleted", "restored")


@dataclass(frozen=True)
class RecordEvent:
    """A saved change to one record: `old` is None for created, `new` is None for deleted."""
    kind: str
    entity: str
    record_id: int
    old: Mapping[str, Any] | None
    new: Mapping[str, Any] | None

    @property
    def record(self) -> Mapping[str, Any]:
        """The record as it is after the change (before it, for a deletion)."""
        return self.new if self.new is not None else self.old   # type: ignore[return-value]


class RecordWriter(Protocol):
    """What an automation's actions save through: the write path, acting as the system."""
    def create(self, entity_name: str, values: Mapping[str, Any]) -> dict[str, Any]: ...
    def update(self, entity_name: str, record_id: int, values: Mapping[str, Any]) -> dict[str, Any]: ...


WriterFactory = Callable[["FlowEvents"], RecordWriter]


class FlowEvents:
    """Runs the automations an event triggers, in the transaction of the save that emitted it."""

    def __init__(self, registry: Any, depth: int = 0):
        self.registry = registry
        self.depth = depth

    def deeper(self) -> FlowEvents:
        """The dispatcher of the saves an automation's actions make."""
        return FlowEvents(self.registry, self.depth + 1)

    def emit(self, conn: Connection, event: RecordEvent, writer_for: WriterFactory, now: datetime) -> bool:
        """Runs the triggered automations; returns whether any ran (the record may have changed)."""
        automations = self.registry.automations.get(event.entity)
        if not automations:
            return False
        triggered = [a for a in automations if a.fires_on(event)]
        if not triggered:
            return False
        if self.depth >= MAX_DEPTH:
            stop_automations(conn, self.registry, event, triggered, now, MAX_DEPTH)
            return False
        return run_automations(conn, self.registry, event, triggered, lambda: writer_for(self.deeper()), now)
