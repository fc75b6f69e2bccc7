"""The department tree (the `users` right): add a department, move one under another, set its head.

Moves that would make a loop are refused by the engine (`org.set_parent`); its message is shown.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from engine.errors import FormworkError
from engine.security.org import Department, create_department, set_head, set_parent
from engine.storage.db import write_transaction
from ui.admin import admin_bp, choices, requires
from ui.context import actor, runtime


class NewDepartmentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    parent = SelectField(_l("Under"))


class MoveForm(FlaskForm):
    parent = SelectField(_l("Move under"))


class HeadForm(FlaskForm):
    head = SelectField(_l("Head"))


@dataclass(frozen=True)
class TreeRow:
    department: Department
    depth: int

    @property
    def indent(self) -> str:
        return f"{self.depth * 1.5}rem"


def tree_rows(found: list[Department]) -> list[TreeRow]:
    """The departments in tree order with their depth (0 for a top-level one)."""
    depth: dict[int, int] = {}
    rows = []
    for d in found:   # list_departments yields parents before their children
        depth[d.id] = depth[d.parent_id] + 1 if d.parent_id in depth else 0
        rows.append(TreeRow(d, depth[d.id]))
    return rows


@admin_bp.route("/departments", methods=["GET", "POST"])
@requires("users")
def departments():
    form = NewDepartmentForm(prefix="new")
    form.parent.choices = choices.department_choices(blank=_("— top level —"))
    if form.validate_on_submit():
        parent = _name_of(form.parent.data)
        try:
            with write_transaction(runtime().engine) as conn:
                create_department(conn, form.name.data, parent=parent, actor=actor())
        except FormworkError as exc:
            form.name.errors = [*form.name.errors, str(exc)]
        else:
            flash(_("Department %(name)s added.", name=form.name.data.strip()), "success")
            return redirect(url_for("admin.departments"))
    return render_template("admin/departments.html", rows=tree_rows(choices.departments()), form=form,
                           names={u.username: u.display_name for u in choices.users()})


def _name_of(department_id: str | None) -> str | None:
    if not department_id or not department_id.isdigit():
        return None
    return choices.department_or_404(int(department_id)).name


@admin_bp.route("/departments/<int:department_id>", methods=["GET", "POST"])
@requires("users")
def department(department_id: int):
    found = choices.department_or_404(department_id)
    move, head = MoveForm(prefix="move"), HeadForm(prefix="head")
    move.parent.choices = choices.department_choices(blank=_("— top level —"), exclude=frozenset({found.id}))
    head.head.choices = choices.user_choices(blank=choices.none_label())
    if move.parent.name in request.form and move.validate_on_submit():
        return _move(found, move)
    if head.head.name in request.form and head.validate_on_submit():
        return _set_head(found, head)
    if request.method == "GET":
        move.parent.data = str(found.parent_id or "")
        head.head.data = str(found.head_id or "")
    return render_template("admin/department.html", department=found, move=move, head=head)


def _move(found: Department, form: MoveForm):
    parent = _name_of(form.parent.data)
    try:
        with write_transaction(runtime().engine) as conn:
            set_parent(conn, found.name, parent, actor=actor())
    except FormworkError as exc:
        form.parent.errors = [*form.parent.errors, str(exc)]
        head = HeadForm(prefix="head", formdata=None, data={"head": str(found.head_id or "")})
        head.head.choices = choices.user_choices(blank=choices.none_label())
        return render_template("admin/department.html", department=found, move=form, head=head), 422
    flash(_("%(name)s moved.", name=found.name), "success")
    return redirect(url_for("admin.departments"))


def _set_head(found: Department, form: HeadForm):
    head_id = int(form.head.data) if form.head.data.isdigit() else None
    with write_transaction(runtime().engine) as conn:
        set_head(conn, found.name, head_id, actor=actor())
    flash(_("Head of %(name)s saved.", name=found.name), "success")
    return redirect(url_for("admin.departments"))
