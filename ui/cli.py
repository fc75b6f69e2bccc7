"""The `formwork` command line: thin click wrappers over engine functions.

A user's mistake ends with a one-line reason and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import click

from engine.config import load_config, prepare_instance
from ui.cli_admin import register as register_admin_commands
from ui.cli_runtime import Failure, existing_config, friendly, runtime

DEFAULT_APP = Path(__file__).resolve().parent.parent / "apps" / "crm_default"


def migrate_database(rt, *, echo: Callable = click.echo) -> None:
    """Applies the pending system-table migrations, one line per step."""
    from engine.storage.migrate import upgrade

    steps = upgrade(rt.engine, progress=lambda step: echo(f"Migrated to {step.revision}: {step.description}"))
    if not steps:
        echo("The database is up to date.")


@click.group()
@click.version_option(package_name="formwork")
def main() -> None:
    """Formwork: a low-code CRM builder."""


# -- init ------------------------------------------------------------------------------------
@main.command()
@click.option("--app", "app_folder", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_APP,
              show_default="the default CRM", help="App folder to install.")
@friendly
def init(app_folder: Path) -> None:
    """Create the database, install the app and the administrator `admin`."""
    from engine.runtime import Runtime

    config = prepare_instance()
    rt = Runtime.from_config(config)
    migrate_database(rt)
    init_instance(rt, app_folder, config.admin_password)


@main.command()
@friendly
def migrate() -> None:
    """Apply the pending migrations of the system tables (one transaction)."""
    from engine.runtime import Runtime

    migrate_database(Runtime.from_config(prepare_instance()))


def init_instance(rt, app_folder: Path, admin_password: str | None, *, echo: Callable = click.echo) -> bool:
    """Installs `app_folder` unless an app is there and creates `admin`; returns False if already done."""
    from engine.apps import installed_apps
    from engine.security.users import create_user, password_problems, user_count
    from engine.storage.db import write_transaction

    if installed_apps(rt):
        echo(f"Already initialised: {rt.engine.url.render_as_string(hide_password=True)}")
        return False
    problems = password_problems(admin_password, "admin") if admin_password is not None else []
    if problems:   # refused before anything is installed, so fixing the variable and rerunning works
        raise Failure(f"FORMWORK_ADMIN_PASSWORD is refused: {'; '.join(problems)}")
    _install_with_progress(rt, app_folder)
    with write_transaction(rt.engine) as conn:
        if user_count(conn) == 0:
            admin = create_user(conn, "admin", password=admin_password, display_name="Administrator",
                                is_admin=True, roles=["admin"] if _role_exists(conn, "admin") else [])
            shown = admin.password if admin_password is None else "(from FORMWORK_ADMIN_PASSWORD)"
            echo(f"Administrator login: username admin, password {shown}")
    echo(f"Initialised {rt.engine.url.render_as_string(hide_password=True)}")
    return True


def _role_exists(conn, name: str) -> bool:
    import sqlalchemy as sa

    from engine.storage.db import fw_role

    return conn.execute(sa.select(fw_role.c.name).where(fw_role.c.name == name)).first() is not None


def _install_with_progress(rt, folder: Path, *, plan=None) -> int:
    from engine.apps import apply_app, plan_app

    plan = plan or plan_app(rt, folder)
    with click.progressbar(length=max(len(plan.plan.steps), 1), label=f"Installing {plan.app.name}",
                           file=sys.stderr) as bar:
        revision = apply_app(rt, plan, after_step=lambda _step: bar.update(1))
    return revision


# -- app ------------------------------------------------------------------------------------
@main.group()
def app() -> None:
    """Validate, plan, install, upgrade and export apps."""


@app.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
def app_validate(path: Path) -> None:
    """Check an app folder; print every problem with its file and JSON path."""
    from metamodel import validate_app

    report = validate_app(path)
    for issue in report.issues:
        click.echo(str(issue))
    if not report.ok:
        raise Failure(f"{len(report.errors)} problem(s) in {path}")
    loaded = report.app
    fields = sum(len(e.fields) for e in loaded.entities.values())
    warned = f", {len(report.warnings)} warning(s)" if report.warnings else ""
    click.echo(f"{loaded.name} {loaded.version}: valid — {len(loaded.entities)} entities, {fields} fields, "
               f"{len(loaded.flows)} flows{warned}")


@app.command("plan")
@click.argument("path", type=click.Path(path_type=Path))
@friendly
def app_plan(path: Path) -> None:
    """Show what installing or upgrading to the app folder would change; exit 1 if a step is refused."""
    from engine.apps import plan_app

    plan = plan_app(runtime(), path)
    click.echo(plan.describe())
    _refuse_if_blocked(plan)


@app.command("install")
@click.argument("path", type=click.Path(path_type=Path))
@friendly
def app_install(path: Path) -> None:
    """Install an app folder."""
    from engine.apps import plan_app

    rt = runtime()
    plan = plan_app(rt, path)
    if plan.installed_version is not None:
        raise Failure(f"{plan.app.name} is already installed ({plan.installed_version}); use `app upgrade`")
    _refuse_if_blocked(plan)
    revision = _install_with_progress(rt, path, plan=plan)
    click.echo(f"Installed {plan.app.name} {plan.app.version} (metadata revision {revision})")


@app.command("upgrade")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--yes", is_flag=True, help="Apply without asking.")
@friendly
def app_upgrade(path: Path, yes: bool) -> None:
    """Show the plan for an app folder, then apply it after confirmation."""
    from engine.apps import plan_app

    rt = runtime()
    plan = plan_app(rt, path)
    click.echo(plan.describe())
    _refuse_if_blocked(plan)
    if plan.plan.is_empty and plan.installed_version == plan.app.version:
        click.echo("Nothing to do.")
        return
    if not yes and not click.confirm("Apply these changes?", default=False):
        raise Failure("cancelled; nothing was changed")
    revision = _install_with_progress(rt, path, plan=plan)
    click.echo(f"Upgraded {plan.app.name} to {plan.app.version} (metadata revision {revision})")


def _refuse_if_blocked(plan) -> None:
    if plan.plan.refused:
        raise Failure(f"{len(plan.plan.refused)} step(s) would lose data; fix the rows listed above "
                      "or change the metadata")


@app.command("export")
@click.argument("name")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@friendly
def app_export(name: str, folder: Path) -> None:
    """Write an installed app as a folder of JSON."""
    from engine.apps import export_app

    written = export_app(runtime(), name, folder)
    click.echo(f"Exported {name} to {folder} ({len(written)} files)")


# -- data -----------------------------------------------------------------------------------
@main.command()
@click.option("--records", "count", type=click.IntRange(min=1), default=1000, show_default=True,
              help="How many records to create across the app's entities.")
@click.option("--seed", type=int, default=None, help="Random seed, for a repeatable data set.")
@friendly
def demo(count: int, seed: int | None) -> None:
    """Fill the installed app with realistic demo data."""
    from engine.demo import generate_demo

    rt = runtime()
    with click.progressbar(length=count, label="Creating demo records", file=sys.stderr) as bar:
        created = generate_demo(rt, count, seed=seed, progress=bar.update)
    click.echo(f"Created {sum(created.values())} records: "
               + ", ".join(f"{n} {e}" for e, n in created.items() if n))


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--verify", is_flag=True,
              help="Check FILE without restoring it: manifest, checksum, integrity, Formwork tables, revision.")
@friendly
def backup(file: Path, verify: bool) -> None:
    """Write a consistent backup of the database to FILE (or check FILE with --verify)."""
    from engine.runtime import Runtime
    from engine.storage.backup import backup as run_backup

    if verify:
        summary = verify_backup_file(Runtime.from_config(existing_config(), create=False), file)
        click.echo("\n".join(describe_backup(summary)))
        return
    rt = runtime()
    run_backup(rt.engine, file)
    click.echo(f"Backed up to {file} ({file.stat().st_size:,} bytes)")


def verify_backup_file(rt, file: Path):
    from engine.storage.backup import verify_backup

    try:
        return verify_backup(rt.engine, file)
    finally:
        rt.dispose()


def describe_backup(summary) -> list[str]:
    """The lines `backup --verify` prints about a backup that passed its checks."""
    created = summary.created_at or "unknown (a plain database file of an older Formwork, without a manifest)"
    return [f"{summary.source}: OK",
            f"  created at:      {created}",
            f"  schema revision: {summary.revision or 'none'}",
            f"  tables:          {summary.tables}",
            f"  rows:            {summary.rows:,}"]


@main.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask before replacing the database's contents.")
@friendly
def restore(file: Path, yes: bool) -> None:
    """Replace the database's contents with the backup in FILE, once it passed every check."""
    from engine.runtime import Runtime
    from engine.storage.backup import restore as run_restore

    if not yes and not click.confirm(f"Replace everything in the database with {file}?", default=False):
        raise Failure("cancelled; nothing was changed")
    rt = Runtime.from_config(prepare_instance())   # restoring onto a new machine prepares its instance
    with ExitStack() as stack:
        bar = None

        def progress(done: int, total: int) -> None:
            # The bar starts with the copy, once the checks passed, so a refusal prints one line only.
            nonlocal bar
            if bar is None:
                bar = stack.enter_context(click.progressbar(length=100, label="Restoring", file=sys.stderr))
            bar.update(done * 100 // max(total, 1) - bar.pos)
        summary = run_restore(rt.engine, file, progress=progress)
    click.echo(f"Restored from {file}: {summary.tables} tables, {summary.rows:,} rows")
    if summary.needs_migration:
        click.echo("The backup is of an older schema revision: run `formwork migrate` before starting Formwork.")


# -- audit ----------------------------------------------------------------------------------
@main.group("audit")
def audit_group() -> None:
    """Keep the audit log within its retention."""


@audit_group.command("purge")
@friendly
def audit_purge() -> None:
    """Delete audit entries older than FORMWORK_AUDIT_RETENTION_DAYS (default 730); the purge is audited."""
    from engine.security.actors import SYSTEM
    from engine.security.audit import purge_expired
    from engine.storage.db import write_transaction

    config = load_config()
    rt = runtime()
    with write_transaction(rt.engine) as conn:
        removed = purge_expired(conn, SYSTEM, config.audit_retention_days, now=rt.clock())
    click.echo(f"Removed {removed} audit entries older than {config.audit_retention_days} days")


# -- formulas -------------------------------------------------------------------------------
@main.group("formula")
def formula_group() -> None:
    """Check formulas against the installed entities."""


@formula_group.command("check")
@click.argument("entity")
@click.argument("expression")
@friendly
def formula_check(entity: str, expression: str) -> None:
    """Print the type of EXPRESSION on ENTITY, or the error with a caret under its column."""
    import formula
    from metamodel.formula_checks import formula_fields

    registry = runtime().registry()
    app = registry.app_of(entity)
    try:
        compiled = formula.compile(expression, formula_fields(app, entity, expression))
    except formula.FormulaError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    paths = ", ".join(sorted(compiled.paths)) or "no fields"
    click.echo(f"{compiled.type} (reads {paths})")


# -- web ------------------------------------------------------------------------------------
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
@friendly
def serve(host: str, port: int, workers: int) -> None:
    """Run the web application (gunicorn where available); run `formwork worker` beside it."""
    serve_app(host, port, workers)


@main.command()
@click.option("--once", is_flag=True, help="Run one sweep now, print what it did, and exit.")
@friendly
def worker(once: bool) -> None:
    """Run the background worker: outbox delivery (mail, webhooks, notifications) and timers."""
    from engine.flows.worker import make_worker, sweep_once

    rt = runtime()   # refuses a missing database or one with pending migrations, like serve
    if once:
        click.echo(str(sweep_once(rt)))
        return
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("huey").setLevel(logging.WARNING)   # not three lines per sweep; ours say what it did
    config = rt.config
    found = make_worker(config, lambda: rt)
    where = "Redis" if config.redis_url else f"SQLite ({config.instance / 'huey.db'})"
    click.echo(f"Worker on {where}: sweeping every {found.interval} s; Ctrl+C stops it")
    found.huey.flush_locks()
    found.consumer().run()


def serve_app(host: str, port: int, workers: int) -> None:
    """Serves the web app once the database is there and current; workers fork after the check.

    Mail, webhooks and timers need a worker beside it (`formwork worker`; run.py embeds one)."""
    from engine.runtime import Runtime
    from engine.storage.migrate import require_current

    rt = Runtime.from_config(existing_config(), create=False)
    try:
        require_current(rt.engine)
    finally:
        rt.dispose()
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:   # Windows has no gunicorn: Werkzeug's threaded server still serves
        from ui import create_app

        create_app().run(host=host, port=port, threaded=True)
        return

    class Server(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", "-")
            # One control socket per user home would be shared by every instance on the machine.
            self.cfg.set("control_socket_disable", True)

        def load(self):
            from ui import create_app

            return create_app()

    click.echo(f"Serving on http://{host}:{port}")
    Server().run()


register_admin_commands(main)

if __name__ == "__main__":   # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
