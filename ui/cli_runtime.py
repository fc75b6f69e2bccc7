"""What every `formwork` command shares: the runtime of an existing instance, and one-line failures.

A user's mistake ends with 'Error: <reason>' and exit code 1, never a traceback.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
import sqlalchemy as sa

from engine.config import load_config, require_instance
from engine.errors import FormworkError


class Failure(click.ClickException):
    """Printed as 'Error: <message>' with exit code 1."""


def friendly(command: Callable) -> Callable:
    """Turns the errors a user can cause into one-line failures."""
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from metamodel import MetadataError

        try:
            return command(*args, **kwargs)
        except MetadataError as exc:
            if len(exc.issues) == 1:
                raise Failure(str(exc.issues[0])) from None
            for issue in exc.issues:
                click.echo(str(issue), err=True)
            raise Failure(f"{len(exc.issues)} problem(s) in the app metadata") from None
        except (FormworkError, KeyError, OSError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            raise Failure(str(message).splitlines()[0] if isinstance(exc, OSError) else str(message)) from None
        except sa.exc.OperationalError as exc:   # the database cannot be opened or written: say which
            raise Failure(database_fault(exc)) from None
    return wrapper


def database_fault(exc: sa.exc.OperationalError) -> str:
    """One line for a database that cannot be opened, read or written (read-only file or folder,
    a directory where the file should be, a server that refused the connection)."""
    text = str(exc.orig or exc).strip()
    reason = text.splitlines()[0] if text else type(exc.orig or exc).__name__
    where = sa.engine.make_url(load_config().database_url).render_as_string(hide_password=True)
    return f"the database at {where} cannot be used: {reason}"


def existing_config():
    """The configuration of an instance `formwork init` prepared; one line where there is none."""
    config = load_config()
    require_instance(config)
    return config


def runtime():
    """The runtime of an existing database at this version's revision (never creates one)."""
    from engine.runtime import Runtime
    from engine.storage.migrate import require_current

    rt = Runtime.from_config(existing_config(), create=False)
    require_current(rt.engine)
    return rt
