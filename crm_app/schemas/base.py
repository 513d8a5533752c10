"""Input validation shared by forms and the API: constrained field types and the Create/Update/Read pattern."""

from __future__ import annotations

import datetime as dt
import functools
import operator
import types
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError

MAX_INT = 2_147_483_647  # both databases store ids as 32-bit integers

Id = Annotated[int, Field(ge=1, le=MAX_INT)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2, allow_inf_nan=False)]
PositiveMoney = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2, allow_inf_nan=False)]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3, allow_inf_nan=False)]
NonNegativeQuantity = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=3, allow_inf_nan=False)]
Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{0,59}$", min_length=1, max_length=60)
]
Percent = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2, allow_inf_nan=False)]
Probability = Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4, allow_inf_nan=False)]
SmallInt = Annotated[int, Field(ge=0, le=1_000_000)]
Weight = Annotated[Decimal, Field(ge=0, max_digits=6, decimal_places=2, allow_inf_nan=False)]


def text(max_length: int, min_length: int = 0) -> Any:
    """A trimmed string of at most ``max_length`` characters (``min_length`` 1: required, not blank)."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)]


Name = text(200, 1)
Short = text(80)
LongText = text(20_000)


def _check_email(value: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid e-mail address ({exc})") from None


Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254), AfterValidator(_check_email)]


def choice(values: Iterable[str]) -> Any:
    """A string that must be one of ``values`` (an enum in the OpenAPI document)."""
    allowed = tuple(values)

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"choose one of: {', '.join(allowed)}")
        return value

    return Annotated[str, AfterValidator(check), WithJsonSchema({"type": "string", "enum": list(allowed)})]


def _naive_utc(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _reasonable_datetime(value: dt.datetime) -> dt.datetime:
    if not 1900 <= value.year <= 2200:
        raise ValueError("the year must be between 1900 and 2200")
    return value


def _reasonable_date(value: dt.date) -> dt.date:
    if not 1900 <= value.year <= 2200:
        raise ValueError("the year must be between 1900 and 2200")
    return value


Timestamp = Annotated[dt.datetime, AfterValidator(_naive_utc), AfterValidator(_reasonable_datetime)]
Day = Annotated[dt.date, AfterValidator(_reasonable_date)]


def storable(text: str) -> bool:
    """Whether a database can store ``text`` (no NUL character, no lone surrogate)."""
    try:
        _reject_unstorable(text)
    except ValueError:
        return False
    return True


def _reject_unstorable(value: Any, path: str = "") -> None:
    """Strings a database cannot store (NUL bytes, lone surrogates) are refused up front, not as a 500."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path or 'a value'} contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{path or 'a value'} is not valid text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_unstorable(key, path)
            _reject_unstorable(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list | tuple):
        for item in value:
            _reject_unstorable(item, path)


class Schema(BaseModel):
    """Base of every input schema: unknown fields are refused, text is stored as typed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        _reject_unstorable(data)
        return data


def _empty_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and value.strip() == "" else value


CustomValues = Annotated[dict[str, Any] | None, BeforeValidator(_empty_to_none)]


class ReadBase(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def make_update(create: type[BaseModel], name: str, exclude: Iterable[str] = ()) -> type[Schema]:
    """``XUpdate``: every field of ``XCreate`` optional (only those sent change), plus the edited ``version``."""
    skip = set(exclude)
    fields: dict[str, Any] = {}
    not_null: list[str] = []
    for field_name, info in create.model_fields.items():
        if field_name in skip:
            continue
        annotation = _annotated(info)
        if not _allows_none(info.annotation):
            not_null.append(field_name)
        fields[field_name] = (annotation | None, Field(default=None, description=info.description))
    fields["version"] = (Id, Field(description="the version you edited; a stale one is refused with 409"))
    validators: dict[str, Any] = {}
    if not_null:
        validators["_not_null"] = field_validator(*not_null)(_refuse_null)
    return create_model(name, __base__=Schema, __validators__=validators, **fields)


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("cannot be empty")
    return value


def _allows_none(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(arg is type(None) for arg in get_args(annotation))
    return annotation is None or annotation is type(None) or annotation is Any


def make_read(
    create: type[BaseModel], name: str, exclude: Iterable[str] = (), extra: dict[str, Any] | None = None
) -> type[ReadBase]:
    """``XRead``: the stored values of ``XCreate``'s fields (no input constraints) plus id/version/timestamps."""
    skip = set(exclude)
    fields: dict[str, Any] = {}
    for field_name, info in create.model_fields.items():
        if field_name in skip:
            continue
        fields[field_name] = (_plain(info.annotation) | None, None)
    for field_name, annotation in (extra or {}).items():
        fields[field_name] = (annotation, None)
    return create_model(name, __base__=ReadBase, **fields)


def _plain(annotation: Any) -> Any:
    """``annotation`` without validators or constraints: stored values are shown as they are."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _plain(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return functools.reduce(operator.or_, [_plain(arg) for arg in get_args(annotation)])
    if origin is list:
        return list[_plain(get_args(annotation)[0])]  # type: ignore[misc]
    return annotation


def _annotated(info: Any) -> Any:
    """The field's type with its constraints (pydantic keeps them apart in ``metadata``)."""
    if info.metadata:
        return Annotated[(info.annotation, *info.metadata)]  # type: ignore[valid-type]
    return info.annotation


def field_errors(exc: PydanticValidationError) -> dict[str, str]:
    """Per-field messages a person can read, keyed by the form / JSON field name."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ()) if part not in ("body",)]
        key = ".".join(loc) or "__all__"
        message = str(err.get("msg", "invalid value"))
        message = message.removeprefix("Value error, ")
        if err.get("type") == "missing":
            message = "required"
        elif err.get("type") == "extra_forbidden":
            message = "unknown field"
        errors.setdefault(key, message)
    return errors
