"""Web layer: HTML forms generated from the pydantic schemas, and form data turned back into schema input."""

from __future__ import annotations

import datetime as dt
import functools
import types
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Union, get_args, get_origin

from markupsafe import Markup, escape
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from crm_app.services.resources import LABELS, Resource, custom_definitions, ref_labels
from crm_app.services.visibility import Viewer, restrict, rule, scope_clause
from crm_app.web.rendering import humanize

# references to tables that grow with the business get a search box; the others a drop-down list
LOOKUP_ENTITIES = frozenset(
    {"accounts", "contacts", "opportunities", "orders", "quotes", "cases", "activities", "purchase_orders"}
)
OPTION_LIMIT = 500


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    widget: str  # text, textarea, select, checkbox, date, datetime, decimal, integer, password, email, lookup
    required: bool
    choices: tuple[str, ...] = ()
    ref: str | None = None
    help: str | None = None
    max_length: int | None = None
    pairs: bool = False  # a list of {label, score} objects, typed one per line as "label = score"


@dataclass
class FormField:
    spec: FieldSpec
    value: Any = None
    error: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    lookup_label: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def text_value(self) -> str:
        value = self.value
        if value is None:
            return ""
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%dT%H:%M")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, bool):
            return "on" if value else ""
        if isinstance(value, list):
            return "\n".join(f"{v.get('label')} = {v.get('score')}" if isinstance(v, dict) else str(v) for v in value)
        return str(value)


def _base_type(annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _base_type(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return _base_type(args[0]) if args else Any
    return annotation


def _json_property(prop: dict[str, Any]) -> dict[str, Any]:
    for option in prop.get("anyOf", []):
        if option.get("type") != "null":
            return {**option, **{k: v for k, v in prop.items() if k != "anyOf"}}
    return prop


@functools.cache
def schema_specs(
    schema: type[BaseModel], refs_key: tuple[tuple[str, str], ...], labels_key: tuple[tuple[str, str], ...]
) -> dict[str, FieldSpec]:
    refs = dict(refs_key)
    labels = dict(labels_key)
    properties = schema.model_json_schema().get("properties", {})
    specs: dict[str, FieldSpec] = {}
    for name, info in schema.model_fields.items():
        if name in ("version", "custom", "lines", "answers"):
            continue
        prop = _json_property(properties.get(name, {}))
        base = _base_type(info.annotation)
        choices = tuple(prop.get("enum") or ())
        max_length = prop.get("maxLength")
        required = info.is_required()
        ref = refs.get(name)
        if ref and ref not in LABELS:
            widget = "integer"  # a reference without a readable name (an instalment): typed as its number
        elif ref:
            widget = "lookup" if ref in LOOKUP_ENTITIES else "select"
        elif choices:
            widget = "select"
        elif name == "password":
            widget = "password"
        elif base is bool:
            widget = "checkbox"
        elif base is dt.datetime:
            widget = "datetime"
        elif base is dt.date:
            widget = "date"
        elif base is Decimal:
            widget = "decimal"
        elif base is int:
            widget = "integer"
        elif get_origin(base) is list:
            widget = "list"
        elif name == "email":
            widget = "email"
        elif max_length and max_length > 1000:
            widget = "textarea"
        else:
            widget = "text"
        label = labels.get(name) or humanize(name.removesuffix("_id"))
        pairs = False
        if widget == "list":
            item = _base_type(get_args(base)[0]) if get_args(base) else str
            pairs = isinstance(item, type) and issubclass(item, BaseModel)
        specs[name] = FieldSpec(
            name=name,
            label=label,
            widget=widget,
            required=required,
            choices=choices,
            ref=ref,
            help=info.description or ('one per line as "label = score"' if pairs else None),
            max_length=max_length,
            pairs=pairs,
        )
    return specs


def specs_for(resource: Resource, schema: type[BaseModel]) -> dict[str, FieldSpec]:
    labels = tuple((c.key, c.label) for c in resource.columns)
    return schema_specs(schema, tuple(sorted(resource.refs.items())), labels)


def ref_options(session: Session, viewer: Viewer, entity: str) -> list[tuple[str, str]]:
    model: Any = rule(entity).model
    label = LABELS[entity]()
    query = restrict(select(model.id, label), viewer, entity).order_by(label).limit(OPTION_LIMIT)
    return [(str(row[0]), str(row[1])) for row in session.execute(query).all()]


# entity -> (version of its table, its <option> elements): for tables every viewer of the list reads whole
_OPTIONS_HTML: dict[str, tuple[tuple[Any, ...], str]] = {}


def ref_options_html(session: Session, viewer: Viewer, entity: str, selected: Any = None) -> Markup:
    """:func:`ref_options` as ``<option>`` elements, the one with value ``selected`` marked.

    Drop-downs such as "Owner" list hundreds of people on every list page; when the viewer reads the whole
    table, the escaped HTML is built once per version of the table (row count, last change, sum of the
    optimistic-lock versions: any insert, edit or delete moves one of them) instead of on every request.
    """
    if scope_clause(viewer, entity) is None:
        version = tuple(session.execute(_version_statement(entity)).one())
        cached = _OPTIONS_HTML.get(entity)
        if cached is None or cached[0] != version:
            cached = (version, _option_elements(ref_options(session, viewer, entity)))
            _OPTIONS_HTML[entity] = cached
        html = cached[1]
    else:
        html = _option_elements(ref_options(session, viewer, entity))
    if selected is not None and selected != "":
        plain = f'<option value="{escape(str(selected))}">'
        html = html.replace(plain, f"{plain[:-1]} selected>", 1)
    return Markup(html)


@functools.cache
def _version_statement(entity: str) -> Any:
    model: Any = rule(entity).model
    return select(func.count(), func.max(model.updated_at), func.sum(model.version))


def _option_elements(options: list[tuple[str, str]]) -> str:
    return "".join(f'<option value="{escape(value)}">{escape(label)}</option>' for value, label in options)


def build_fields(
    session: Session,
    viewer: Viewer,
    resource: Resource,
    *,
    editing: bool,
    values: dict[str, Any],
    errors: dict[str, str],
) -> list[FormField]:
    schema = resource.update_schema if editing else resource.create_schema
    assert schema is not None
    specs = specs_for(resource, schema)
    names = resource.fields_for_form(editing=editing)
    if viewer.role in ("sales_rep", "service_agent", "marketing_analyst"):
        # reps own what they create: no owner or department picker for them
        names = [n for n in names if n not in (resource.owner_field, "department_id")]
    fields: list[FormField] = []
    lookups: dict[str, set[int]] = {}
    for name in names:
        spec = specs[name]
        form_field = FormField(spec, values.get(name), errors.get(name))
        if spec.widget == "select" and spec.ref:
            form_field.options = ref_options(session, viewer, spec.ref)
        elif spec.widget == "select":
            form_field.options = [(c, humanize(c)) for c in spec.choices]
        elif spec.widget == "lookup" and spec.ref and _as_int(form_field.value) is not None:
            lookups.setdefault(spec.ref, set()).add(_as_int(form_field.value) or 0)
        fields.append(form_field)
    if lookups:
        labels = ref_labels(session, viewer, lookups)
        for form_field in fields:
            if form_field.spec.widget == "lookup" and form_field.spec.ref:
                number = _as_int(form_field.value)
                if number is not None:
                    form_field.lookup_label = labels.get(form_field.spec.ref, {}).get(number)
    return fields


def _as_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**31 else None


@dataclass
class CustomField:
    name: str
    label: str
    field_type: str
    required: bool
    choices: list[str]
    help: str | None
    value: Any = None
    error: str | None = None


def build_custom_fields(
    session: Session, resource: Resource, values: dict[str, Any], errors: dict[str, str]
) -> list[CustomField]:
    if not resource.custom_entity:
        return []
    return [
        CustomField(
            name=d.name,
            label=d.label,
            field_type=d.field_type,
            required=d.required,
            choices=list(d.choices or []),
            help=d.help_text,
            value=values.get(d.name),
            error=errors.get(f"custom.{d.name}"),
        )
        for d in custom_definitions(session, resource.custom_entity)
    ]


def parse_form(
    session: Session, viewer: Viewer, resource: Resource, form: FormData, *, editing: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(values for the schema, custom values) from a submitted form; blank inputs mean "not given"."""
    schema = resource.update_schema if editing else resource.create_schema
    assert schema is not None
    specs = specs_for(resource, schema)
    values: dict[str, Any] = {}
    for name in resource.fields_for_form(editing=editing):
        spec = specs[name]
        if spec.widget == "checkbox":
            values[name] = form.get(name) in ("on", "true", "1", "yes")
            continue
        raw = form.get(name)
        if raw is None or not isinstance(raw, str):
            continue
        raw = raw.strip()
        if spec.widget == "list":
            separator = "\n" if spec.pairs else ","
            items: list[Any] = [part.strip() for part in raw.replace(separator, "\n").splitlines() if part.strip()]
            if spec.pairs:
                items = [
                    {"label": label.strip(), "score": score.strip() or "0"}
                    for label, _, score in (item.partition("=") for item in items)
                ]
            values[name] = items or None
        elif raw == "":
            if editing:
                values[name] = None
        else:
            values[name] = raw
    custom: dict[str, Any] = {}
    if resource.custom_entity:
        for definition in custom_definitions(session, resource.custom_entity):
            key = f"custom.{definition.name}"
            if definition.field_type == "boolean":
                custom[definition.name] = form.get(key) in ("on", "true", "1", "yes")
            else:
                raw = form.get(key)
                custom[definition.name] = raw.strip() if isinstance(raw, str) and raw.strip() else None
    if editing and "version" in form:
        values["version"] = form.get("version")
    if editing:
        # an edit form shows only some fields: leave the others as they are
        values = {k: v for k, v in values.items() if k == "version" or k in schema.model_fields}
    return values, custom


def form_lists(form: FormData, prefix: str, keys: tuple[str, ...], rows: int = 200) -> list[dict[str, str]]:
    """Rows of a repeated group of inputs named ``<prefix>-<n>-<key>``, skipping empty rows."""
    found: list[dict[str, str]] = []
    for index in range(rows):
        row = {}
        for key in keys:
            value = form.get(f"{prefix}-{index}-{key}")
            row[key] = value.strip() if isinstance(value, str) else ""
        if any(row.values()):
            found.append(row)
    return found
