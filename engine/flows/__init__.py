"""The flow interpreter: pipelines, approvals and automations acting on records, the run log, the outbox.

Each kind of flow document has one module here; the write path calls into them inside its save.
"""
