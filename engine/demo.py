"""Realistic demo data for any installed app: Faker values by field type and name, consistent links.

Parents are filled before children; a record's lookups agree with each other (a quote's account is
its opportunity's account). A demo organisation (regional sales teams, finance, service, marketing)
is created when the installation has none, and each record is owned by a user whose roles may
create it, usually the owner of its parent record.
"""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from graphlib import CycleError, TopologicalSorter
from typing import Any

import sqlalchemy as sa
from faker import Faker
from sqlalchemy.engine import Connection

from engine.data.registry import Registry
from engine.errors import FormworkError
from engine.runtime import Runtime
from engine.security.actors import SYSTEM
from engine.security.org import create_department, set_head
from engine.security.permissions import load_permissions
from engine.security.users import NewUser, create_user
from engine.storage.db import fw_role, fw_user, fw_user_role, write_transaction
from engine.storage.tables import stored_fields
from metamodel.fieldtypes import field_type
from metamodel.model import EntityDef, FieldDef

CHUNK = 2000
REPAIR_ROUNDS = 3   # a row refused by a validation rule is mended and offered again this often

# How many records of each entity per 100, where an app names them; others share what is left.
WEIGHTS = {"account": 10, "contact": 18, "lead": 14, "opportunity": 12, "quote": 6, "quote_line": 12,
           "contract": 4, "payment": 6, "ticket": 6, "activity": 8, "task": 6, "campaign": 1,
           "article": 1, "product": 1}

Progress = Callable[[int], None]

# Numbers that read oddly when drawn from a field's whole range, by field name.
NUMBER_HINTS: dict[str, Callable[[random.Random], Any]] = {
    "quantity": lambda rng: Decimal(rng.choice([1, 1, 2, 3, 5, 10, 20, 50])),
    "unit_price": lambda rng: Decimal(rng.choice([980, 1980, 4800, 9800, 19800, 39800])),
    "tax_rate": lambda rng: Decimal(rng.choice([6, 9, 13])),
    "duration_minutes": lambda rng: rng.choice([15, 30, 45, 60, 90, 120]),
    "sort_order": lambda rng: rng.randint(1, 10),
    "installment": lambda rng: rng.randint(1, 4),
    "employees": lambda rng: rng.choice([12, 45, 80, 150, 300, 800, 2000, 5000]),
}

# Names and subjects by entity; {who} is a company or person, {n} a small number.
HEADLINES_ZH = {
    "opportunity": ["{who}CRM系统升级", "{who}年度采购", "{who}数据平台项目", "{who}续约", "{who}扩容{n}席位"],
    "task": ["回访{who}", "准备{who}报价", "给{who}发送合同", "确认{who}需求", "安排{who}演示"],
    "activity": ["与{who}电话沟通", "拜访{who}", "{who}需求会议", "给{who}发送方案"],
    "ticket": ["{who}无法登录", "{who}报表导出失败", "{who}咨询开票", "{who}建议增加字段", "{who}数据同步延迟"],
    "campaign": ["{who}行业峰会", "春季线上研讨会第{n}期", "{who}渠道推广", "新品发布会"],
    "quote": ["{who}报价", "{who}续约报价"],
    "contract": ["{who}年度服务合同", "{who}采购合同", "{who}续约合同"],
    "article": ["如何重置密码", "导入客户数据的步骤", "报表常见问题", "权限设置说明"],
    "product": ["CRM企业版", "数据分析模块", "实施服务{n}人天", "培训课程", "移动端许可", "API集成包"],
    "quote_line": ["CRM企业版许可", "实施服务", "年度维护", "培训{n}人次"],
    "*": ["{who}{n}号"],
}
HEADLINES_EN = {
    "opportunity": ["{who} CRM upgrade", "{who} annual licence", "{who} data platform", "{who} renewal",
                    "{who} expansion, {n} seats"],
    "task": ["Call back {who}", "Prepare the {who} quote", "Send {who} the contract", "Confirm {who} requirements"],
    "activity": ["Call with {who}", "Visit to {who}", "Requirements meeting with {who}", "Proposal sent to {who}"],
    "ticket": ["{who} cannot log in", "Report export fails for {who}", "{who} asks about invoices",
               "{who} suggests a new field"],
    "campaign": ["{who} industry summit", "Spring webinar #{n}", "Partner push with {who}", "Product launch"],
    "quote": ["{who} quote", "{who} renewal quote"],
    "contract": ["{who} service agreement", "{who} purchase contract", "{who} renewal"],
    "article": ["How to reset a password", "Importing customers", "Report questions", "Setting permissions"],
    "product": ["CRM Enterprise", "Analytics module", "Implementation, {n} days", "Training course",
                "Mobile licence", "API integration pack"],
    "quote_line": ["CRM Enterprise licence", "Implementation services", "Annual maintenance", "Training, {n} seats"],
    "*": ["{who} {n}"],
}


class _Values:
    """Makes one plausible value for a field, from its type, its name and its entity."""

    def __init__(self, rng: random.Random, today: date):
        self.rng = rng
        self.today = today
        self.fakers = [Faker("zh_CN"), Faker("en_US")]
        for n, faker in enumerate(self.fakers):
            faker.seed_instance(rng.randrange(1 << 30) + n)
        self.faker = self.fakers[0]

    def pick_locale(self) -> None:
        self.faker = self.fakers[0] if self.rng.random() < 0.7 else self.fakers[1]

    def value(self, entity: EntityDef, f: FieldDef) -> Any:
        if f.name in NUMBER_HINTS and f.type in ("integer", "number", "currency", "percent"):
            return NUMBER_HINTS[f.name](self.rng)
        by_name = self._by_name(entity, f)
        if by_name is not None:
            return by_name
        return getattr(self, f"_{f.type}", lambda _f: None)(f)

    def _by_name(self, entity: EntityDef, f: FieldDef) -> Any:
        name, fake = f.name, self.faker
        if f.type not in ("text", "textarea"):
            return None
        if name == "name" and entity.name in ("account",):
            return fake.company()
        if name in ("name", "contact_name") and entity.name in ("contact", "lead"):
            return fake.name()
        if name == "company":
            return fake.company()
        if name in ("title",) and entity.name in ("contact", "lead"):
            return fake.job()
        if name in ("city",):
            return fake.city()
        if name in ("address",):
            return fake.address()
        if name in ("department",):
            return self.rng.choice(["销售部", "采购部", "技术部", "财务部", "IT", "Operations", "Procurement"])
        if name == "credit_code":   # China's unified social credit code: 18 characters
            alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
            return "91" + f"{self.rng.randrange(10**6):06d}" + "".join(self.rng.choices(alphabet, k=10))
        if name in ("code", "invoice_number"):
            return f"{name[:2].upper()}{self.rng.randrange(10**8):08d}"
        if name in ("name", "subject", "title"):
            return self._headline(entity)
        if f.type == "textarea":
            return fake.paragraph(nb_sentences=2)
        return fake.catch_phrase() if self.faker is self.fakers[1] else fake.sentence(nb_words=4).rstrip("。.")

    def _headline(self, entity: EntityDef) -> str:
        """A name or subject that reads like the entity's, in the current language."""
        chinese = self.faker is self.fakers[0]
        topics = HEADLINES_ZH if chinese else HEADLINES_EN
        template = self.rng.choice(topics.get(entity.name, topics["*"]))
        who = self.faker.company_prefix() if chinese else self.faker.last_name()
        return template.format(who=who, n=self.rng.randint(2, 48))

    def _text(self, f: FieldDef) -> str:
        return self.faker.sentence(nb_words=3).rstrip("。.")

    def _email(self, f: FieldDef) -> str:
        return self.faker.email()

    def _phone(self, f: FieldDef) -> str:
        return self.faker.phone_number()

    def _url(self, f: FieldDef) -> str:
        return self.faker.url()

    def _integer(self, f: FieldDef) -> int:
        low, high = int(f.option("min", 0)), int(f.option("max", 1000))
        return self.rng.randint(low, high)

    def _number(self, f: FieldDef) -> Decimal:
        low, high = float(f.option("min", 1)), float(f.option("max", 100))
        return Decimal(str(round(self.rng.uniform(low, high), int(f.option("precision", 2)))))

    def _currency(self, f: FieldDef) -> Decimal:
        amount = self.rng.choice([5, 10, 20, 50, 80, 120, 300, 800]) * 1000 * self.rng.uniform(0.5, 1.5)
        return Decimal(str(round(amount, 2)))

    def _percent(self, f: FieldDef) -> Decimal:
        high = min(float(f.option("max", 100)), 30.0)
        return Decimal(str(round(self.rng.uniform(0, high), 2)))

    def _boolean(self, f: FieldDef) -> bool:
        return self.rng.random() < 0.5

    def _date(self, f: FieldDef) -> date:
        return self.today + timedelta(days=self.rng.randint(-300, 200))

    def _datetime(self, f: FieldDef) -> datetime:
        day = self._date(f)
        return datetime(day.year, day.month, day.day, self.rng.randint(8, 19), self.rng.choice([0, 15, 30, 45]),
                        tzinfo=UTC)

    def _picklist(self, f: FieldDef) -> str | None:
        values = [v["value"] for v in f.option("values", ())]
        return self.rng.choice(values) if values else None

    def _multipicklist(self, f: FieldDef) -> list[str]:
        values = [v["value"] for v in f.option("values", ())]
        return self.rng.sample(values, k=min(len(values), self.rng.randint(0, 2)))


def _order(registry: Registry) -> list[EntityDef]:
    graph: dict[str, set[str]] = {}
    for entity in registry.entities.values():
        graph[entity.name] = {f.option("target") for f in entity.fields
                              if f.option("target") and f.option("target") != entity.name
                              and f.option("target") in registry.entities}
    try:
        names = list(TopologicalSorter(graph).static_order())
    except CycleError:
        # Links that form a loop: keep only the required ones, which cannot loop.
        required = {name: {f.option("target") for f in registry.entity(name).fields
                           if f.option("target") in graph and f.option("target") != name and _required(f)}
                    for name in graph}
        names = list(TopologicalSorter(required).static_order())
    return [registry.entity(n) for n in names]


def _shares(entities: list[EntityDef], total: int) -> dict[str, int]:
    weights = {e.name: WEIGHTS.get(e.name, 4) for e in entities}
    scale = total / sum(weights.values())
    counts = {name: max(1, int(w * scale)) for name, w in weights.items()}
    biggest = max(counts, key=counts.get)
    counts[biggest] += total - sum(counts.values())
    return counts


def generate_demo(runtime: Runtime, total: int, *, seed: int | None = None,
                  progress: Progress | None = None) -> dict[str, int]:
    """Creates about `total` records across the installed entities; returns entity -> count."""
    rng = random.Random(seed)
    registry = runtime.registry()
    if not registry.entities:
        raise FormworkError("no app is installed: run `formwork init` first")
    today = runtime.clock().date()
    values = _Values(rng, today)
    with write_transaction(runtime.engine) as conn:
        create_demo_org(conn, rng, values.fakers[0])
        owners = _owners_by_entity(conn, registry)
    entities = _order(registry)
    counts = _shares(entities, total)
    links = _Links()
    created: dict[str, int] = {}
    records = runtime.records(SYSTEM, registry=registry)
    for entity in entities:
        done = 0
        wanted = counts[entity.name]
        while done < wanted:
            size = min(CHUNK, wanted - done)
            rows = [_row(entity, registry, values, links, owners[entity.name], rng) for _ in range(size)]
            made = 0
            for _attempt in range(REPAIR_ROUNDS):
                result = records.bulk_create(entity.name, rows, skip_invalid=True)
                made += len(result.created)
                refused = {e.row for e in result.errors}
                kept = (r for n, r in enumerate(rows, 1) if n not in refused)
                for record_id, row in zip(result.created, kept, strict=True):
                    links.add(entity.name, record_id, {k: v for k, v in row.items() if _is_link(entity, k)})
                created[entity.name] = created.get(entity.name, 0) + len(result.created)
                rows = _repaired(entity, rows, result.errors, values)
                if not rows:
                    break
            if made == 0:
                break   # this entity's rules refuse made-up rows; give up on it rather than loop
            done += made
            if progress is not None:
                progress(made)
    return created


def _repaired(entity: EntityDef, rows: list[dict[str, Any]], errors: list, values: _Values) -> list[dict[str, Any]]:
    """Returns the refused rows changed to satisfy the errors named against them: a value a rule
    objects to is dropped, a value a rule asks for is made up. Rows refused as a whole are dropped."""
    by_row: dict[int, set[str | None]] = defaultdict(set)
    for error in errors:
        by_row[error.row].add(error.field)
    repaired = []
    for number, fields in by_row.items():
        if None in fields:
            continue
        row = dict(rows[number - 1])
        for name in fields:
            f = entity.field(name) if entity.has_field(name) else None
            if f is None:
                continue
            if row.get(name) not in (None, "", []) and not f.required:
                row.pop(name)
            else:
                row[name] = values.value(entity, f) if f.type != "boolean" else True
        repaired.append(row)
    return repaired


def _is_link(entity: EntityDef, name: str) -> bool:
    return name == "owner_id" or (entity.has_field(name) and bool(entity.field(name).option("target")))


class _Links:
    """The lookup values of every record created so far, to link children to real parents."""

    def __init__(self) -> None:
        self.ids: dict[str, list[int]] = defaultdict(list)
        self.values: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)

    def add(self, entity: str, record_id: int, lookups: dict[str, Any]) -> None:
        self.ids[entity].append(record_id)
        self.values[entity][record_id] = lookups


def _row(entity: EntityDef, registry: Registry, values: _Values, links: _Links,
         owners: list[int], rng: random.Random) -> dict[str, Any]:
    values.pick_locale()
    row: dict[str, Any] = {}
    for f in stored_fields(entity):
        kind = field_type(f.type)
        if kind.generated or f.type in ("file",):
            continue
        if f.type in ("user",):
            if owners:
                row[f.name] = rng.choice(owners)
            continue
        target = f.option("target")
        if target:
            continue
        if not f.required and rng.random() < 0.15:
            continue
        row[f.name] = values.value(entity, f)
    _link(entity, registry, row, links, rng)
    _order_dates(entity, row)
    _probability_from_stage(entity, row)
    if owners:
        row["owner_id"] = _parent_owner(entity, row, links, owners, rng) or rng.choice(owners)
    return row


def _probability_from_stage(entity: EntityDef, row: dict[str, Any]) -> None:
    # A pipeline's stages carry their probability; a deal's probability follows its stage.
    if not entity.has_field("probability"):
        return
    for f in entity.fields:
        chosen = next((v for v in f.option("values", ()) if v.get("value") == row.get(f.name)
                       and v.get("probability") is not None), None)
        if chosen is not None:
            row["probability"] = Decimal(chosen["probability"])
            return


def _parent_owner(entity: EntityDef, row: dict[str, Any], links: _Links, owners: list[int],
                  rng: random.Random) -> int | None:
    """Returns the owner of a linked parent record, when they may own this one too (mostly)."""
    if rng.random() < 0.15:
        return None   # some records belong to a colleague, as in life (and to exercise scopes)
    for f in sorted((f for f in entity.fields if f.name in row and f.option("target")),
                    key=lambda f: not _required(f)):
        parent = links.values.get(f.option("target"), {}).get(row[f.name], {})
        if parent.get("owner_id") in owners:
            return parent["owner_id"]
    return None


def _link(entity: EntityDef, registry: Registry, row: dict[str, Any], links: _Links,
          rng: random.Random) -> None:
    lookups = [f for f in entity.fields if f.option("target")]
    # Required links first: they decide the others (a quote's account follows its opportunity).
    for f in sorted(lookups, key=lambda f: not _required(f)):
        target = f.option("target")
        if f.name in row or not links.ids.get(target) or (not _required(f) and rng.random() < 0.3):
            continue
        parent_id = rng.choice(links.ids[target])
        row[f.name] = parent_id
        parent = registry.entity(target)
        for name, linked_id in links.values[target][parent_id].items():
            if name == "owner_id" or linked_id is None:
                continue
            linked_target = parent.field(name).option("target")
            for sibling in lookups:
                if sibling.name not in row and sibling.option("target") == linked_target:
                    row[sibling.name] = linked_id


def _required(f: FieldDef) -> bool:
    return f.required or field_type(f.type).implicitly_required


def _order_dates(entity: EntityDef, row: dict[str, Any]) -> None:
    # Ends come after starts, so date-order validation rules hold for demo data.
    for start, end in (("start_date", "end_date"), ("quote_date", "valid_until"), ("start_at", "end_at")):
        if start in row and end in row and row[start] and row[end] and row[end] < row[start]:
            row[start], row[end] = row[end], row[start]


# -- the demo organisation ---------------------------------------------------------------------
# (department, parent, [(username, roles, is head)]); regions as Chinese sales teams name them.
DEMO_ORG: tuple[tuple[str, str | None, tuple[tuple[str, tuple[str, ...], bool], ...]], ...] = (
    ("总部 Head office", None, (("ceo", ("executive",), True),)),
    ("销售部 Sales", "总部 Head office", (("sales_director", ("sales_manager",), True),)),
    *((f"{region}", "销售部 Sales", ((f"{key}_manager", ("sales_manager",), True),
                                     *((f"{key}_rep{n}", ("sales_rep",), False) for n in (1, 2, 3))))
      for region, key in (("华北 North", "north"), ("华东 East", "east"), ("华南 South", "south"),
                          ("西部 West", "west"))),
    ("财务部 Finance", "总部 Head office", (("finance_lead", ("finance",), True), ("finance_clerk", ("finance",), False))),
    ("客服部 Service", "总部 Head office", (("service_lead", ("service_agent",), True),
                                          ("service_agent1", ("service_agent",), False),
                                          ("service_agent2", ("service_agent",), False))),
    ("市场部 Marketing", "总部 Head office", (("marketing_lead", ("marketing",), True),
                                            ("marketing_analyst", ("marketing",), False))),
)


def create_demo_org(conn: Connection, rng: random.Random, faker: Faker) -> list[NewUser]:
    """Creates the demo departments and their users, managed by their department's head; returns
    the new users with their passwords. Does nothing when non-admin users exist already, or when
    the installed apps define none of the demo roles."""
    known_roles = set(conn.execute(sa.select(fw_role.c.name)).scalars())
    wanted = {r for _dept, _parent, people in DEMO_ORG for _u, roles, _h in people for r in roles}
    others = conn.execute(sa.select(fw_user.c.id).where(fw_user.c.is_admin.is_(False))).first()
    if others is not None or not wanted & known_roles:
        return []
    created: list[NewUser] = []
    heads: dict[str, int] = {}
    for department, parent, people in DEMO_ORG:
        dept_id = create_department(conn, department, parent=parent)
        manager = heads.get(parent) if parent else None
        for username, roles, is_head in sorted(people, key=lambda p: not p[2]):
            user = create_user(conn, username, display_name=faker.name(), email=f"{username}@example.com",
                               roles=[r for r in roles if r in known_roles], department_id=dept_id,
                               manager_id=manager if is_head else heads[department], locale="zh")
            created.append(user)
            if is_head:
                heads[department] = user.id
                set_head(conn, department, user.id)
    return created


def _owners_by_entity(conn: Connection, registry: Registry) -> dict[str, list[int]]:
    """Returns entity -> the active users whose roles may create its records (all users if none may)."""
    users = conn.execute(sa.select(fw_user.c.id, fw_user.c.is_admin).where(fw_user.c.active.is_(True))
                         .order_by(fw_user.c.id)).all()
    roles: dict[int, list[str]] = defaultdict(list)
    for user_id, role in conn.execute(sa.select(fw_user_role.c.user_id, fw_user_role.c.role)):
        roles[user_id].append(role)
    everyone = [u.id for u in users]
    workers = [u.id for u in users if not u.is_admin]
    permissions = {u.id: load_permissions(conn, roles[u.id]) for u in users if not u.is_admin}
    owners: dict[str, list[int]] = {}
    for name in registry.entities:
        able = [u for u in workers if permissions[u].scope(name, "create") != "none"]
        owners[name] = able or everyone
    return owners
