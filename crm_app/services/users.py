"""Users (employees): creation with a role, department and a hashed password."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_app.errors import ValidationError
from crm_app.models import ROLES, Department, User
from crm_app.security import MIN_PASSWORD_LENGTH, hash_password
from crm_app.services.records import create_record


def find_department(session: Session, name_or_code: str) -> Department:
    department = session.scalar(
        select(Department).where(
            (Department.code == name_or_code) | (Department.name == name_or_code),
            Department.deleted_at.is_(None),
        )
    )
    if department is None:
        known = ", ".join(session.scalars(select(Department.code).order_by(Department.code)).all()) or "none yet"
        raise ValidationError(
            f"unknown department {name_or_code!r} (known codes: {known})",
            {"department": "unknown department"},
        )
    return department


def add_user(
    session: Session,
    username: str,
    role: str,
    *,
    full_name: str | None = None,
    email: str | None = None,
    password: str | None = None,
    department: str | None = None,
    actor: User | None = None,
) -> User:
    username = username.strip()
    if not username:
        raise ValidationError("a user needs a name", {"username": "required"})
    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}", {"role": "unknown role"})
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ValidationError(f"user {username!r} already exists", {"username": "already taken"})
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters", {"password": "too short"}
        )
    dept = find_department(session, department) if department else None
    return create_record(
        session,
        User,
        {
            "username": username,
            "full_name": full_name or username,
            "email": email,
            "role": role,
            "department_id": dept.id if dept else None,
            "manager_id": dept.manager_id if dept and dept.manager_id else None,
            "password_hash": hash_password(password) if password else None,
        },
        actor,
    )
