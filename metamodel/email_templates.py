"""Email templates: the subject and body per language of the mail an email action sends.

A template is `email_templates/<name>.json`, Jinja2 text rendered in a sandbox over the record's
fields; its checks here report a template that does not parse and an action naming a missing one.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from metamodel.checks import Check
from metamodel.context import CheckContext
from metamodel.flow_checks import flow_actions
from metamodel.flows import SendEmail
from metamodel.issues import MetadataIssue, did_you_mean
from metamodel.model import SYSTEM_COLUMNS, Document, Label, label_text

# Names a template may use besides the fields of its entity.
CONTEXT_NAMES = ("record", "entity", "record_id", "link", "app")
PARTS = ("subject", "body")


@dataclass(frozen=True)
class EmailTemplate:
    name: str
    entity: str | None
    subject: Label
    body: Label

    def text(self, part: str, locale: str) -> str:
        """Returns the subject or body source in `locale`, falling back to English, then any."""
        return label_text(getattr(self, part), locale)


def email_template_from(document: Document) -> EmailTemplate:
    """Returns the template of a schema-valid email template document."""
    body: Mapping[str, Any] = document.body
    return EmailTemplate(document.name, document.entity, _label(body["subject"]), _label(body["body"]))


def _label(value: Any) -> Label:
    return {"en": value} if isinstance(value, str) else dict(value)


def sandbox() -> SandboxedEnvironment:
    """The Jinja2 environment templates render in: sandboxed (a template is metadata an app author
    wrote, not code), plain text (no HTML escaping), blocks trimmed like hand-written mail."""
    return SandboxedEnvironment(autoescape=False, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


# -- checks --------------------------------------------------------------------------------------
def check_email_template_syntax(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """Each language of each subject and body parses, and names only fields of its entity."""
    env = sandbox()
    for source in ctx.documents:
        if source.kind != "email_template":
            continue
        template = email_template_from(source.document)
        entity = ctx.app.entities.get(template.entity or "")
        for part in PARTS:
            for locale, text in getattr(template, part).items():
                path = f"/{part}" if isinstance(source.document.body[part], str) else f"/{part}/{locale}"
                try:
                    parsed = env.parse(text)
                except TemplateSyntaxError as exc:
                    yield MetadataIssue(source.file, path, f"the template does not parse: line {exc.lineno}: "
                                        f"{exc.message}")
                    continue
                if entity is None:
                    continue
                known = [f.name for f in entity.fields] + list(SYSTEM_COLUMNS) + list(CONTEXT_NAMES)
                for name in sorted(meta.find_undeclared_variables(parsed) - set(known)):
                    yield MetadataIssue(source.file, path, f"entity {entity.name!r} has no field {name!r}",
                                        did_you_mean(name, known))


def check_email_actions(ctx: CheckContext) -> Iterator[MetadataIssue]:
    """An email action names a template of the app, written for the flow's entity if for one."""
    templates = ctx.app.email_templates
    for file, entity, path, action in flow_actions(ctx):
        if not isinstance(action, SendEmail):
            continue
        template = templates.get(action.template)
        if template is None:
            yield MetadataIssue(file, f"{path}/template", f"there is no email template {action.template!r}",
                                did_you_mean(action.template, list(templates))
                                or f"add email_templates/{action.template}.json")
        elif template.entity and template.entity != entity.name:
            yield MetadataIssue(file, f"{path}/template", f"email template {action.template!r} is written "
                                f"for {template.entity!r}, not for {entity.name!r}")


EMAIL_TEMPLATE_CHECKS: tuple[Check, ...] = (check_email_template_syntax, check_email_actions)
