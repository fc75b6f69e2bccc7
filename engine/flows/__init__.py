"""The flow engine: events from the write path, record-triggered automations, the run log, the outbox.

Pipelines and approvals will be interpreted here too; each kind of flow has its own module.
"""
