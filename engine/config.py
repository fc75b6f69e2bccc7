"""Configuration read from FORMWORK_* environment variables, in this one place.

Defaults give a working single-machine install: SQLite and a secret key kept in the instance folder.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from engine.errors import FormworkError


class ConfigError(FormworkError):
    """A setting or the instance folder cannot be used; the message says which and how to fix it."""


@dataclass(frozen=True)
class Config:
    instance: Path
    database_url: str
    secret_key: str
    admin_password: str | None
    redis_url: str | None
    smtp_url: str | None
    audit_retention_days: int = 730

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Returns the configuration from `environ` (default os.environ), creating the instance folder."""
    env = os.environ if environ is None else environ
    instance = Path(env.get("FORMWORK_INSTANCE") or "instance").resolve()
    try:
        instance.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the instance folder {instance}: {exc.strerror}; "
                          "set FORMWORK_INSTANCE to a folder this user may write") from None
    database_url = env.get("FORMWORK_DATABASE_URL") or f"sqlite:///{instance / 'formwork.db'}"
    return Config(
        instance=instance,
        database_url=database_url,
        secret_key=env.get("FORMWORK_SECRET_KEY") or _kept_secret_key(instance),
        admin_password=env.get("FORMWORK_ADMIN_PASSWORD") or None,
        redis_url=env.get("FORMWORK_REDIS_URL") or None,
        smtp_url=env.get("FORMWORK_SMTP_URL") or None,
        audit_retention_days=int(env.get("FORMWORK_AUDIT_RETENTION_DAYS") or 730),
    )


def _kept_secret_key(instance: Path) -> str:
    # Generated once and kept, so sessions survive restarts and every worker signs alike. Written
    # under a temporary name and linked into place, so two processes starting at once agree.
    path = instance / "secret_key"
    try:
        if path.exists():
            return path.read_text().strip()
        draft = instance / f".secret_key.{os.getpid()}"
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot keep the secret key in {instance}: {exc.strerror}; make the folder "
                          "writable or set FORMWORK_SECRET_KEY") from None
