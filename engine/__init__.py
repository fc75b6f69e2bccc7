"""The runtime: the only layer that touches the database.

Services: config, database, registry, schema, records, query, security, audit, demo, backup.
"""
