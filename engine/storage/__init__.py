"""The database: engines and the system (fw_) tables, entity tables and their schema changes,
migrations of the system tables, backups and restores."""
