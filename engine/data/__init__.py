"""The records runtime: the registry of installed metadata, computed fields, the one write path,
the one read path, stale-save merging, saved views and uploaded files."""
