"""Configuration read from FORMWORK_* environment variables, in this one place.

Defaults give a working single-machine install: SQLite and a secret key kept in the instance folder.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import FormworkError

DEFAULT_TRUSTED_PROXIES = 0
DEFAULT_REMEMBER_DAYS = 30
DEFAULT_QUERY_TIMEOUT_SECONDS = 10.0
DEFAULT_SWEEP_SECONDS = 30
WEBHOOK_SECRET_PREFIX = "FORMWORK_WEBHOOK_SECRET_"


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
    trusted_proxies: int = DEFAULT_TRUSTED_PROXIES  # reverse proxies in front whose X-Forwarded-* headers count
    secure_cookies: bool | None = None  # None: decided per request (HTTPS, or an https base_url)
    base_url: str | None = None
    remember_days: int = DEFAULT_REMEMBER_DAYS      # how long "remember me" keeps a browser signed in
    query_timeout_seconds: float = DEFAULT_QUERY_TIMEOUT_SECONDS
    mail_from: str | None = None                    # the From of mail the worker sends
    sweep_seconds: int = DEFAULT_SWEEP_SECONDS      # how often the worker delivers the outbox and fires timers
    webhook_secrets: Mapping[str, str] = field(default_factory=dict)   # secret name (lower case) -> secret

    def webhook_secret(self, name: str) -> str | None:
        """Returns the secret a webhook action names (FORMWORK_WEBHOOK_SECRET_<NAME>), None if unset."""
        return self.webhook_secrets.get(name.lower())

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def cookies_must_be_secure(setting: bool | None, base_url: str | None, request_is_https: bool) -> bool:
    """Whether cookies get the Secure flag (and responses HSTS): the setting when given, else on
    for an https base URL or an HTTPS request, so a first start on http://127.0.0.1 still works."""
    if setting is not None:
        return setting
    return request_is_https or (base_url or "").lower().startswith("https://")


def _instance_folder(env: Mapping[str, str]) -> Path:
    return Path(env.get("FORMWORK_INSTANCE") or "instance").resolve()


def prepare_instance(environ: Mapping[str, str] | None = None) -> Config:
    """Creates the instance folder and its secret key if missing (init, migrate, restore, run.py),
    then returns the configuration."""
    env = os.environ if environ is None else environ
    instance = _instance_folder(env)
    try:
        instance.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the instance folder {instance}: {exc.strerror}; "
                          "set FORMWORK_INSTANCE to a folder this user may write") from None
    if not env.get("FORMWORK_SECRET_KEY"):
        _keep_secret_key(instance)
    return load_config(env)


def require_instance(config: Config) -> None:
    """Raises ConfigError unless the instance was prepared: every command but init works on one, so a
    command run from the wrong folder never makes an empty instance next to it."""
    if not config.instance.is_dir() or not config.secret_key:
        raise ConfigError(f"no Formwork instance at {config.instance}: run `formwork init`, or set "
                          "FORMWORK_INSTANCE to the instance folder")


def load_config(environ: Mapping[str, str] | None = None) -> Config:
    """Returns the configuration from `environ` (default os.environ); creates nothing (see
    prepare_instance). `secret_key` is empty while the instance has none."""
    env = os.environ if environ is None else environ
    instance = _instance_folder(env)
    database_url = env.get("FORMWORK_DATABASE_URL") or f"sqlite:///{instance / 'formwork.db'}"
    return Config(
        instance=instance,
        database_url=database_url,
        secret_key=env.get("FORMWORK_SECRET_KEY") or _kept_secret_key(instance),
        admin_password=env.get("FORMWORK_ADMIN_PASSWORD") or None,
        redis_url=env.get("FORMWORK_REDIS_URL") or None,
        smtp_url=env.get("FORMWORK_SMTP_URL") or None,
        audit_retention_days=int(env.get("FORMWORK_AUDIT_RETENTION_DAYS") or 730),
        trusted_proxies=_count(env, "FORMWORK_TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES),
        secure_cookies=_switch(env, "FORMWORK_SECURE_COOKIES"),
        base_url=env.get("FORMWORK_BASE_URL") or None,
        remember_days=_count(env, "FORMWORK_REMEMBER_DAYS", DEFAULT_REMEMBER_DAYS),
        query_timeout_seconds=float(env.get("FORMWORK_QUERY_TIMEOUT_SECONDS") or DEFAULT_QUERY_TIMEOUT_SECONDS),
        mail_from=env.get("FORMWORK_MAIL_FROM") or None,
        sweep_seconds=max(_count(env, "FORMWORK_SWEEP_SECONDS", DEFAULT_SWEEP_SECONDS), 1),
        webhook_secrets={key[len(WEBHOOK_SECRET_PREFIX):].lower(): value for key, value in env.items()
                         if key.startswith(WEBHOOK_SECRET_PREFIX) and value},
    )


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number of 0 or more, not {raw!r}")
    return int(raw)


_ON, _OFF = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _switch(env: Mapping[str, str], name: str) -> bool | None:
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return None
    if raw not in _ON + _OFF:
        raise ConfigError(f"{name} must be on or off (or unset to follow HTTPS), not {raw!r}")
    return raw in _ON


def _kept_secret_key(instance: Path) -> str:
    path = instance / "secret_key"
    try:
        return path.read_text().strip() if path.is_file() else ""
    except OSError as exc:
        raise ConfigError(f"cannot read the secret key in {instance}: {exc.strerror}; make it readable "
                          "or set FORMWORK_SECRET_KEY") from None


def _keep_secret_key(instance: Path) -> None:
    # Generated once and kept, so sessions survive restarts and every worker signs alike. Written
    # under a temporary name and linked into place, so two processes starting at once agree.
    path = instance / "secret_key"
    try:
        if path.exists():
            return
        draft = instance / f".secret_key.{os.getpid()}"
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot keep the secret key in {instance}: {exc.strerror}; make the folder "
                          "writable or set FORMWORK_SECRET_KEY") from None
