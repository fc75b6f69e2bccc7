"""The `formwork user …` and `formwork dept …` commands: thin wrappers over engine.security.users and engine.security.org.

`register(main)` adds both groups to the main command; every change is audited by the engine.
"""
from __future__ import annotations

import sys

import click

from ui.cli_runtime import Failure, friendly, runtime


# -- users -------------------------------------------------------------------------------------
@click.group("user")
def user() -> None:
    """Add, list and deactivate users; reassign a leaver's records."""


@user.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, help="A role to grant; repeat for several.")
@click.option("--department", help="Department name.")
@click.option("--manager", help="Username of the user's manager.")
@click.option("--email", help="E-mail address.")
@click.option("--name", "display_name", help="Display name (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@friendly
def user_add(username: str, roles: tuple[str, ...], department: str | None, manager: str | None,
             email: str | None, display_name: str | None, password_stdin: bool) -> None:
    """Create a user; without --password-stdin a password is generated and shown once."""
    from engine.security.org import department_id
    from engine.security.users import create_user, user_id
    from engine.storage.db import write_transaction

    password = _read_password() if password_stdin else None
    with write_transaction(runtime().engine) as conn:
        new = create_user(conn, username, password=password, display_name=display_name, email=email,
                          roles=roles, department_id=department_id(conn, department) if department else None,
                          manager_id=user_id(conn, manager) if manager else None)
    click.echo(f"Created user {new.username} (id {new.id})")
    if password is None:
        click.echo(f"Password (shown once): {new.password}")


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:

        raise Failure("no password on standard input")
    return password


@user.command("password")
@click.argument("username")
@friendly
def user_password(username: str) -> None:
    """Set a user's password, read from standard input."""
    from engine.security.users import set_password
    from engine.storage.db import write_transaction

    password = _read_password()
    with write_transaction(runtime().engine) as conn:
        set_password(conn, username, password)
    click.echo(f"Password of {username} changed")


@user.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Include deactivated users.")
@friendly
def user_list(include_inactive: bool) -> None:
    """List users with their roles, department and manager."""
    from engine.security.users import list_users

    with runtime().engine.connect() as conn:
        users = list_users(conn, include_inactive=include_inactive)
    for u in users:
        flags = " ".join(f for f, on in (("admin", u.is_admin), ("inactive", not u.active)) if on)
        click.echo(f"{u.username:<20} {','.join(u.roles) or '-':<28} {u.department or '-':<20} "
                   f"{u.manager or '-':<16} {flags}".rstrip())
    if not users:
        click.echo("No users.")


@user.command("deactivate")
@click.argument("username")
@friendly
def user_deactivate(username: str) -> None:
    """Stop a user from signing in and revoke their API tokens (their records stay until reassigned)."""
    from engine.security.users import deactivate_user
    from engine.storage.db import write_transaction

    with write_transaction(runtime().engine) as conn:
        deactivate_user(conn, username)
    click.echo(f"Deactivated {username}; reassign their records with `user reassign {username} NEW_OWNER`")


@user.command("reassign")
@click.argument("from_username", metavar="FROM")
@click.argument("to_username", metavar="TO")
@friendly
def user_reassign(from_username: str, to_username: str) -> None:
    """Give every record owned by FROM to TO."""
    from engine.security.ownership import reassign_records

    moved = reassign_records(runtime(), from_username, to_username)
    total = sum(moved.values())
    details = ", ".join(f"{n} {entity}" for entity, n in moved.items())
    click.echo(f"Moved {total} records from {from_username} to {to_username}" + (f": {details}" if details else ""))


# -- departments ---------------------------------------------------------------------------------
@click.group("dept")
def dept() -> None:
    """Add and list departments."""


@dept.command("add")
@click.argument("name")
@click.option("--parent", help="Name of the department above this one.")
@click.option("--head", help="Username of the department's head.")
@friendly
def dept_add(name: str, parent: str | None, head: str | None) -> None:
    """Create a department."""
    from engine.security.org import create_department
    from engine.security.users import user_id
    from engine.storage.db import write_transaction

    with write_transaction(runtime().engine) as conn:
        create_department(conn, name, parent=parent, head_id=user_id(conn, head) if head else None)
    click.echo(f"Created department {name}" + (f" under {parent}" if parent else ""))


@dept.command("list")
@friendly
def dept_list() -> None:
    """List departments as a tree with their heads and active members."""
    from engine.security.org import list_departments

    with runtime().engine.connect() as conn:
        departments = list_departments(conn)
    for d in departments:
        click.echo(f"{d.path:<48} head {d.head or '-':<16} {d.members} members")
    if not departments:
        click.echo("No departments.")


def register(main_group: click.Group) -> None:
    """Adds the `user` and `dept` groups to the main `formwork` command."""
    main_group.add_command(user)
    main_group.add_command(dept)
