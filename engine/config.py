"""Configuration read from FORMWORK_* environment variables, in this one place.

Defaults give a working single-machine install: SQLite and a secret key kept in the instance folder.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_QUERY_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Config:
    instance: Path
    database_url: str
    secret_key: str
    admin_password: str | None
    redis_url: str | None
    smtp_url: str | None
    audit_retention_days: int = 730
    query_timeout_seconds: float = DEFAULT_QUERY_TIMEOUT_SECONDS

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Returns the configuration from `environ` (default os.environ), creating the instance folder."""
    env = os.environ if environ is None else environ
    instance = Path(env.get("FORMWORK_INSTANCE") or "instance").resolve()
    instance.mkdir(parents=True, exist_ok=True)
    database_url = env.get("FORMWORK_DATABASE_URL") or f"sqlite:///{instance / 'formwork.db'}"
    return Config(
        instance=instance,
        database_url=database_url,
        secret_key=env.get("FORMWORK_SECRET_KEY") or _kept_secret_key(instance),
        admin_password=env.get("FORMWORK_ADMIN_PASSWORD") or None,
        redis_url=env.get("FORMWORK_REDIS_URL") or None,
        smtp_url=env.get("FORMWORK_SMTP_URL") or None,
        audit_retention_days=int(env.get("FORMWORK_AUDIT_RETENTION_DAYS") or 730),
        query_timeout_seconds=float(env.get("FORMWORK_QUERY_TIMEOUT_SECONDS") or DEFAULT_QUERY_TIMEOUT_SECONDS),
    )


def _kept_secret_key(instance: Path) -> str:
    # Generated once and kept, so sessions survive restarts and every worker signs alike.
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
