"""Business rules for saved customer segments: definitions, saving, export and sending members to a campaign."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_app.errors import NotFoundError, PermissionDeniedError, ValidationError
from crm_app.models import Account, Campaign, CampaignMember, SavedSegment, User, utcnow
from crm_app.services.care import insert_audited
from crm_app.services.records import check_version, create_record, soft_delete, update_record
from crm_app.services.visibility import ADMIN, Viewer, get_visible, require_write, restrict, visible_ids

# Roles that use the segment explorer; members are always computed within the viewer's own scope.
SEGMENT_ROLES = frozenset({"admin", "executive", "manager", "marketing_analyst"})
MAX_NAME = 120
MAX_FILTERS = 30
MAX_CHOICES = 500
CLOSED_CAMPAIGN_STATUSES = frozenset({"completed", "cancelled"})

# Operators a filter may use, and which kinds of column each applies to.
OPS: dict[str, frozenset[str]] = {
    "in": frozenset({"text", "number", "bool"}),
    "not_in": frozenset({"text", "number", "bool"}),
    "between": frozenset({"number", "date"}),
    "eq": frozenset({"text", "number", "bool", "date"}),
    "contains": frozenset({"text"}),
}
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_CHUNK = 500


@dataclass(frozen=True)
class Filter:
    """One condition on one column of the segment base (the warehouse's customer marts)."""

    column: str
    op: str
    value: Any

    def as_json(self) -> dict[str, Any]:
        return {"column": self.column, "op": self.op, "value": self.value}


def _number(value: Any, where: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError(f"{where}: expected a number, got {value!r}", {"definition": "not a number"})
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{where}: expected a number, got {value!r}", {"definition": "not a number"}) from None
    if math.isnan(number) or math.isinf(number):
        raise ValidationError(f"{where}: expected a finite number, got {value!r}", {"definition": "not a number"})
    return number


def _filter(raw: Any, position: int) -> Filter:
    where = f"filter {position}"
    if not isinstance(raw, Mapping):
        raise ValidationError(f"{where} is not an object with column, op and value", {"definition": "malformed"})
    column, op, value = raw.get("column"), raw.get("op"), raw.get("value")
    if not isinstance(column, str) or not _COLUMN.match(column):
        raise ValidationError(f"{where}: {column!r} is not a column name", {"definition": "bad column"})
    if op not in OPS:
        raise ValidationError(
            f"{where}: unknown operator {op!r}; use one of {', '.join(OPS)}", {"definition": "bad operator"}
        )
    where = f"filter on {column}"
    if op in {"in", "not_in"}:
        if not isinstance(value, list) or not value:
            raise ValidationError(f"{where}: choose at least one value", {"definition": "empty choice"})
        if len(value) > MAX_CHOICES:
            raise ValidationError(f"{where}: at most {MAX_CHOICES} values", {"definition": "too many values"})
        if not all(isinstance(v, str | int | float | bool) for v in value):
            raise ValidationError(f"{where}: values must be plain text or numbers", {"definition": "bad value"})
    elif op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise ValidationError(f"{where}: 'between' takes [low, high]", {"definition": "bad range"})
        low, high = value
        if all(isinstance(v, str) and re.match(r"^\d{4}-\d{2}-\d{2}$", v) for v in value if v not in (None, "")):
            value = [low or None, high or None]
            if low and high and low > high:
                raise ValidationError(f"{where}: the start date is after the end date", {"definition": "bad range"})
        else:
            lo, hi = _number(low, where), _number(high, where)
            if lo is not None and hi is not None and lo > hi:
                raise ValidationError(
                    f"{where}: the low end {lo:g} is above the high end {hi:g}", {"definition": "bad range"}
                )
            value = [lo, hi]
        if value == [None, None]:
            raise ValidationError(f"{where}: give a low end, a high end or both", {"definition": "empty range"})
    elif op == "eq":
        if not isinstance(value, str | int | float | bool):
            raise ValidationError(f"{where}: expected a single value", {"definition": "bad value"})
    elif op == "contains" and (not isinstance(value, str) or not value.strip()):
        raise ValidationError(f"{where}: type some text to look for", {"definition": "empty text"})
    return Filter(column, op, value)


def parse_definition(definition: Any) -> list[Filter]:
    """The filters of a segment definition (``{"filters": [...]}``), or ValidationError saying what is wrong."""
    if not isinstance(definition, Mapping):
        raise ValidationError("a segment definition is an object with a list of filters", {"definition": "malformed"})
    raw = definition.get("filters", [])
    if not isinstance(raw, list):
        raise ValidationError("a segment definition's filters must be a list", {"definition": "malformed"})
    if len(raw) > MAX_FILTERS:
        raise ValidationError(f"a segment has at most {MAX_FILTERS} filters", {"definition": "too many filters"})
    return [_filter(item, position) for position, item in enumerate(raw, start=1)]


def normalise_definition(definition: Any) -> dict[str, Any]:
    return {"filters": [f.as_json() for f in parse_definition(definition)]}


def compile_filters(definition: Any, columns: Mapping[str, str]) -> tuple[str, list[Any]]:
    """A SQL boolean expression (``?`` placeholders, DuckDB dialect) and its parameters for ``definition``.

    ``columns`` maps each column of the segment base to its kind (``number``, ``text``, ``date``, ``bool``);
    a filter on a column the warehouse no longer has is refused with a message naming it, so a segment saved
    before a column was renamed fails clearly instead of silently matching everyone.
    """
    clauses: list[str] = []
    params: list[Any] = []
    for flt in parse_definition(definition):
        kind = columns.get(flt.column)
        if kind is None:
            raise ValidationError(
                f"the segment filters on {flt.column!r}, which the warehouse's customer marts no longer have; "
                "edit the segment and choose another column",
                {"definition": "unknown column"},
            )
        if kind not in OPS[flt.op]:
            raise ValidationError(
                f"filter on {flt.column}: operator {flt.op!r} does not apply to a {kind} column",
                {"definition": "bad operator"},
            )
        ident = '"' + flt.column + '"'
        if flt.op in {"in", "not_in"}:
            marks = ", ".join("?" for _ in flt.value)
            if flt.op == "in":
                clauses.append(f"{ident} in ({marks})")
            else:
                clauses.append(f"({ident} is null or {ident} not in ({marks}))")
            params.extend(flt.value)
        elif flt.op == "between":
            low, high = flt.value
            if low is not None:
                clauses.append(f"{ident} >= ?")
                params.append(low)
            if high is not None:
                clauses.append(f"{ident} <= ?")
                params.append(high)
        elif flt.op == "eq":
            clauses.append(f"{ident} = ?")
            params.append(flt.value)
        else:  # contains
            clauses.append(f"contains(lower(cast({ident} as varchar)), ?)")
            params.append(str(flt.value).strip().lower())
    return (" and ".join(clauses) if clauses else "true"), params


def describe_definition(definition: Any) -> str:
    """The filters in words, for the segment list and the campaign member's provenance."""
    words = []
    for flt in parse_definition(definition):
        label = flt.column.replace("_", " ")
        if flt.op == "in":
            words.append(f"{label} is {' or '.join(map(str, flt.value))}")
        elif flt.op == "not_in":
            words.append(f"{label} is not {' or '.join(map(str, flt.value))}")
        elif flt.op == "between":
            low, high = flt.value
            if low is not None and high is not None:
                words.append(
                    f"{label} between {low:g} and {high:g}" if isinstance(low, float) else f"{label} {low}–{high}"
                )
            elif low is not None:
                words.append(f"{label} ≥ {low:g}" if isinstance(low, float) else f"{label} from {low}")
            else:
                words.append(f"{label} ≤ {high:g}" if isinstance(high, float) else f"{label} until {high}")
        elif flt.op == "eq":
            words.append(f"{label} = {flt.value}")
        else:
            words.append(f"{label} contains “{flt.value}”")
    return "; ".join(words) if words else "all customers"


# ------------------------------------------------------------------------------------- saved segments


def _require_segment_role(viewer: Viewer) -> None:
    if viewer.role not in SEGMENT_ROLES:
        raise PermissionDeniedError(f"your role ({viewer.role.replace('_', ' ')}) does not use saved segments")


def _actor(session: Session, viewer: Viewer) -> User:
    actor = session.get(User, viewer.id)
    if actor is None or actor.deleted_at is not None:
        raise ValidationError("your user account no longer exists")
    return actor


def _clean_name(name: str) -> str:
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise ValidationError("give the segment a name", {"name": "required"})
    if len(cleaned) > MAX_NAME:
        raise ValidationError(f"a segment name has at most {MAX_NAME} characters", {"name": "too long"})
    return cleaned


def list_segments(session: Session, viewer: Viewer) -> list[SavedSegment]:
    """Every live saved segment (a shared library: definitions only; members follow each user's scope)."""
    _require_segment_role(viewer)
    query = select(SavedSegment).where(SavedSegment.deleted_at.is_(None)).order_by(SavedSegment.name, SavedSegment.id)
    return list(session.scalars(query))


def get_segment(session: Session, viewer: Viewer, segment_id: int) -> SavedSegment:
    _require_segment_role(viewer)
    segment = session.get(SavedSegment, segment_id)
    if segment is None or segment.deleted_at is not None:
        raise NotFoundError(f"saved segment #{segment_id} was not found")
    return segment


def _require_owner(viewer: Viewer, segment: SavedSegment) -> None:
    if segment.owner_id != viewer.id and viewer.role != ADMIN:
        raise PermissionDeniedError(f"segment {segment.name!r} belongs to someone else; save it under a new name")


def save_segment(
    session: Session,
    viewer: Viewer,
    name: str,
    definition: Any,
    *,
    description: str | None = None,
    segment_id: int | None = None,
    expected_version: int | None = None,
) -> SavedSegment:
    """Create a segment (``segment_id`` None) or change one the viewer owns; names are unique per owner."""
    _require_segment_role(viewer)
    cleaned = _clean_name(name)
    normalised = normalise_definition(definition)
    actor = _actor(session, viewer)
    segment = get_segment(session, viewer, segment_id) if segment_id is not None else None
    if segment is not None:
        _require_owner(viewer, segment)
        check_version(segment, expected_version)
    owner_id = segment.owner_id if segment is not None else viewer.id
    clash = session.scalar(
        select(SavedSegment.id).where(
            SavedSegment.owner_id == owner_id,
            SavedSegment.name == cleaned,
            SavedSegment.deleted_at.is_(None),
            SavedSegment.id != (segment.id if segment is not None else -1),
        )
    )
    if clash is not None:
        raise ValidationError(f"you already have a segment named {cleaned!r}", {"name": "already taken"})
    values = {"name": cleaned, "description": (description or "").strip() or None, "definition": normalised}
    if segment is None:
        return create_record(session, SavedSegment, {**values, "owner_id": owner_id}, actor)
    return update_record(session, segment, values, actor, expected_version)


def delete_segment(session: Session, viewer: Viewer, segment_id: int, expected_version: int | None = None) -> None:
    segment = get_segment(session, viewer, segment_id)
    _require_owner(viewer, segment)
    soft_delete(session, segment, _actor(session, viewer), expected_version)


# --------------------------------------------------------------------------------------------- export


def members_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """The segment's members as UTF-8 CSV (with a BOM so spreadsheet programs read accents right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# ----------------------------------------------------------------------------------- send to campaign


@dataclass
class SendResult:
    """What "send to campaign" did: members added, and accounts skipped with the reason why."""

    campaign_name: str
    added: int = 0
    already_members: int = 0
    not_visible: int = 0

    def describe(self) -> str:
        text = f"{self.added} customer{'s' if self.added != 1 else ''} added to campaign {self.campaign_name!r}"
        if self.already_members:
            text += f"; {self.already_members} already members (left as they were)"
        if self.not_visible:
            text += f"; {self.not_visible} skipped: outside your scope or no longer in the CRM"
        return text + "."


def campaigns_open_for_targeting(session: Session, viewer: Viewer) -> list[Campaign]:
    """Planned and active campaigns the viewer can see, newest first."""
    query = restrict(select(Campaign), viewer, "campaigns").where(Campaign.status.not_in(CLOSED_CAMPAIGN_STATUSES))
    return list(session.scalars(query.order_by(Campaign.start_date.desc().nulls_last(), Campaign.id.desc())))


def send_to_campaign(
    session: Session,
    viewer: Viewer,
    campaign_id: int,
    account_ids: Iterable[int],
    segment_name: str,
) -> SendResult:
    """Add the segment's accounts to a campaign as ``targeted`` members (``source_segment`` = the name).

    Accounts already in the campaign are left untouched; accounts the viewer may not see (or that were
    deleted in the CRM since the warehouse refresh) are skipped. Only roles that may change campaign members
    (admins, managers, marketing analysts) may send; a completed or cancelled campaign is refused. The
    caller commits.
    """
    require_write(session, viewer, "campaign_members")
    campaign: Campaign = get_visible(session, viewer, "campaigns", campaign_id)
    if campaign.status in CLOSED_CAMPAIGN_STATUSES:
        raise ValidationError(
            f"campaign {campaign.name!r} is {campaign.status}; choose a planned or active campaign",
            {"campaign_id": "closed campaign"},
        )
    source = _clean_name(segment_name)
    wanted = sorted({int(a) for a in account_ids})
    result = SendResult(campaign_name=campaign.name)
    if not wanted:
        return result
    actor = _actor(session, viewer)
    visible: set[int] = set()
    for chunk in _chunks(wanted):
        visible.update(
            session.scalars(
                select(Account.id).where(
                    Account.id.in_(chunk), Account.kind == "customer", Account.id.in_(visible_ids(viewer, "accounts"))
                )
            )
        )
    for attempt in range(2):
        members: set[int] = set()
        for chunk in _chunks(wanted):
            members.update(
                session.scalars(
                    select(CampaignMember.account_id).where(
                        CampaignMember.campaign_id == campaign.id, CampaignMember.account_id.in_(chunk)
                    )
                )
            )
        now = utcnow()
        rows = [
            {
                "campaign_id": campaign.id,
                "account_id": account_id,
                "status": "targeted",
                "added_at": now,
                "source_segment": source,
            }
            for account_id in wanted
            if account_id in visible and account_id not in members
        ]
        try:
            with session.begin_nested():
                insert_audited(session, CampaignMember, rows, actor)
        except IntegrityError:
            # Another send added some of these accounts meanwhile: look again, add only what is missing.
            if attempt == 0:
                continue
            raise
        result.added = len(rows)
        result.already_members = len([a for a in wanted if a in visible and a in members])
        result.not_visible = len(wanted) - len(visible)
        break
    return result


def _chunks(values: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
