"""Departments, users (employees), the audit log and custom field definitions."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm_app.models.base import Base, CustomFieldsMixin, SoftDeleteMixin, TimestampedMixin, choice, utcnow

if TYPE_CHECKING:
    pass

ROLES = ("admin", "executive", "manager", "sales_rep", "service_agent", "marketing_analyst")
CUSTOM_FIELD_ENTITIES = (
    "accounts",
    "contacts",
    "opportunities",
    "orders",
    "products",
    "activities",
    "cases",
    "users",
)
CUSTOM_FIELD_TYPES = ("text", "number", "date", "boolean", "choice")


class Department(TimestampedMixin, SoftDeleteMixin, Base):
    __tablename__ = "departments"

    name: Mapped[str] = mapped_column(String(120))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    # users reference departments too: the cycle is closed after both tables exist.
    manager_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", use_alter=True, name="fk_departments_manager_id_users")
    )

    parent: Mapped[Department | None] = relationship(remote_side="Department.id", back_populates="children")
    children: Mapped[list[Department]] = relationship(back_populates="parent")
    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id])


class User(TimestampedMixin, SoftDeleteMixin, CustomFieldsMixin, Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(80), unique=True)
    full_name: Mapped[str] = mapped_column(String(160))
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(choice("role", *ROLES), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    is_active: Mapped[bool] = mapped_column(default=True)
    hired_on: Mapped[dt.date | None]
    last_login_at: Mapped[dt.datetime | None]
    failed_login_count: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]

    department: Mapped[Department | None] = relationship(foreign_keys=[department_id])
    manager: Mapped[User | None] = relationship(remote_side="User.id", foreign_keys=[manager_id])


class AuditLog(TimestampedMixin, Base):
    """Who changed what, when: one row per create / update / delete / stage change."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),)

    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    action: Mapped[str] = mapped_column(
        choice("audit_action", "create", "update", "delete", "restore", "stage_change", "convert", "import")
    )
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[int | None]
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CustomFieldDefinition(TimestampedMixin, SoftDeleteMixin, Base):
    """An admin-defined attribute on one entity; values live in that entity's ``custom`` JSON."""

    __tablename__ = "custom_field_definitions"
    __table_args__ = (UniqueConstraint("entity", "name"),)

    entity: Mapped[str] = mapped_column(choice("custom_field_entity", *CUSTOM_FIELD_ENTITIES))
    name: Mapped[str] = mapped_column(String(60))
    label: Mapped[str] = mapped_column(String(120))
    field_type: Mapped[str] = mapped_column(choice("custom_field_type", *CUSTOM_FIELD_TYPES))
    choices: Mapped[list[str] | None] = mapped_column(JSON)
    required: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    help_text: Mapped[str | None] = mapped_column(Text)
