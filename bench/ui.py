"""Server time of the web UI's list page, record page and save, beside the bare queries they run.

The app is the default CRM with `--rows` accounts (plus demo data around them); pages are requested
through Flask's test client as the administrator, so the time is the server's, without a network.
The baseline runs the same SQL statements directly on a connection: what the page costs on top of
its queries is the ratio.
Run: python bench/ui.py [--rows 100000] [--database URL] [--repeat 30]
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.append(str(Path(__file__).resolve().parent))   # after the project: bench/formula.py is no package

from measure import compare, options, scratch_database  # noqa: E402

from engine.apps import install_app  # noqa: E402
from engine.demo import generate_demo  # noqa: E402
from engine.runtime import Runtime  # noqa: E402
from engine.security.users import actor_for, create_user
from engine.storage.db import fw_audit, write_transaction

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password"
CHUNK = 5000


def fill(rt: Runtime, rows: int) -> int:
    """Installs the CRM, the admin, demo data, then accounts up to `rows`; returns the admin's id."""
    install_app(rt, ROOT / "apps" / "crm_default")
    with write_transaction(rt.engine) as conn:
        admin = create_user(conn, "admin", password=PASSWORD, is_admin=True)
    generate_demo(rt, min(rows // 10, 20_000), seed=1)
    with rt.engine.connect() as conn:
        actor = actor_for(conn, admin.id)
    table = rt.registry().table("account")
    with rt.engine.connect() as conn:
        have = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    service = rt.records(actor)
    grades, regions = ["vip", "regular", "potential"], ["north_china", "east_china", "south_china"]
    while have < rows:
        batch = [{"name": f"Account {n:07d}", "grade": grades[n % 3], "region": regions[n % 3],
                  "city": "Hangzhou", "phone": f"0571-{n:08d}"} for n in range(have, min(rows, have + CHUNK))]
        service.bulk_create("account", batch)
        have += len(batch)
    return admin.id


def run(url: str, rows: int, repeat: int) -> None:
    rt = Runtime(url)
    rt.migrate()
    fill(rt, rows)
    dialect = rt.dialect
    from ui import create_app

    with tempfile.TemporaryDirectory() as instance:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "INSTANCE_PATH": instance,
                          "WTF_CSRF_ENABLED": False})
        client = app.test_client()
        assert client.post("/login", data={"username": "admin", "password": PASSWORD}).status_code == 302
        registry = rt.registry()
        accounts = registry.table("account")
        contacts = registry.table("contact")
        record_id = rt.query().list("account", limit=1).rows[0]["id"]

        def list_page(_i: int) -> None:
            response = client.get("/app/account")
            assert response.status_code == 200

        def list_queries(_i: int) -> None:
            live = accounts.c.deleted_at.is_(None)
            with rt.engine.connect() as conn:
                conn.execute(sa.select(sa.func.count()).select_from(sa.select(accounts).where(live).subquery()))
                list(conn.execute(sa.select(accounts).where(live)
                                  .order_by(accounts.c.name.asc().nulls_last(), accounts.c.id).limit(51)))

        compare(f"ui.list_page.{dialect}", list_page, list_queries, repeat)

        def record_page(_i: int) -> None:
            assert client.get(f"/app/account/{record_id}").status_code == 200

        children = registry.children_of("account")

        def record_queries(_i: int) -> None:
            with rt.engine.connect() as conn:
                conn.execute(sa.select(accounts).where(accounts.c.id == record_id,
                                                       accounts.c.deleted_at.is_(None))).first()
                for child, via in children:
                    table = registry.table(child.name)
                    where = (table.c[via] == record_id, table.c.deleted_at.is_(None))
                    conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()
                    list(conn.execute(sa.select(table).where(*where).order_by(table.c.id).limit(6)))
                list(conn.execute(sa.select(fw_audit).where(fw_audit.c.entity == "account",
                                                            fw_audit.c.record_id == record_id)))
                list(conn.execute(sa.select(contacts.c.id).where(contacts.c.account == record_id).limit(1)))

        compare(f"ui.record_page.{dialect}", record_page, record_queries, repeat)

        def save(i: int) -> None:
            version = rt.query().get("account", record_id)["version"]
            response = client.post(f"/app/account/{record_id}/edit",
                                   data={"name": "Account 0000000", "city": f"City {i}", "version": str(version)})
            assert response.status_code == 302, response.status_code

        def save_queries(i: int) -> None:
            with write_transaction(rt.engine) as conn:
                row = conn.execute(sa.select(accounts).where(accounts.c.id == record_id)).mappings().first()
                conn.execute(sa.update(accounts).where(accounts.c.id == record_id,
                                                       accounts.c.version == row["version"])
                             .values(city=f"Town {i}", version=row["version"] + 1, updated_at=sa.func.now()))
                conn.execute(sa.insert(fw_audit).values(action="update", entity="account", record_id=record_id,
                                                        changes={"city": [row["city"], f"Town {i}"]},
                                                        detail={"version": row["version"] + 1}))

        compare(f"ui.save.{dialect}", save, save_queries, repeat)
    rt.dispose()


def main() -> None:
    args = options(__doc__.splitlines()[0], 100_000)
    with scratch_database(args.database) as url:
        run(url, args.rows, min(args.repeat, 50) if args.repeat == 200 else args.repeat)


if __name__ == "__main__":
    main()
