"""The flow interpreter: pipelines, approvals and automations acting on records, the run log, the outbox.

Each kind of flow document has one module here; the write path calls into them inside its save.
The worker (worker.py) fires timers and delivers the outbox after commit: delivery.py, mail.py,
webhooks.py.
"""
