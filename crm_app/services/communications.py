"""Business rules of the contact centre: the multi-channel log, templates with {placeholders}, batch sends."""

from __future__ import annotations

import datetime as dt
import smtplib
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_app.errors import NotFoundError, ValidationError
from crm_app.models import Account, Campaign, CampaignMember, Communication, Contact, Template, User, utcnow
from crm_app.services import records
from crm_app.services.visibility import Viewer, get_visible, require_write, restrict

PLACEHOLDERS = {
    "account_name": "the account's name",
    "contact_name": "the contact's full name",
    "first_name": "the contact's first name",
    "owner_name": "the account owner's name",
    "sender_name": "your name",
    "campaign_name": "the campaign's name",
    "today": "today's date",
}


def template_placeholders(text: str) -> list[str]:
    """Names in ``{...}`` within ``text``; ValueError on a malformed or unknown one."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        raise ValueError("a { or } is not closed; write {{ and }} for literal braces") from None
    unknown = sorted({n for n in names if n not in PLACEHOLDERS})
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}; use one of: {', '.join(sorted(PLACEHOLDERS))}")
    return names


def check_template(values: Mapping[str, Any]) -> None:
    errors: dict[str, str] = {}
    for key in ("subject", "body"):
        if values.get(key):
            try:
                template_placeholders(values[key])
            except ValueError as exc:
                errors[key] = str(exc)
    if errors:
        raise ValidationError("the template has placeholders that cannot be filled", errors)


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(text: str | None, context: Mapping[str, Any]) -> str:
    if not text:
        return ""
    try:
        return string.Formatter().vformat(
            text, (), _Blank({k: "" if v is None else str(v) for k, v in context.items()})
        )
    except (ValueError, IndexError, KeyError, AttributeError):
        return text


def context_for(
    session: Session,
    account: Account | None,
    contact: Contact | None,
    sender: User | None,
    campaign: Campaign | None = None,
) -> dict[str, Any]:
    owner = session.get(User, account.owner_id) if account is not None and account.owner_id else None
    return {
        "account_name": account.name if account else "",
        "contact_name": contact.full_name if contact else (account.name if account else ""),
        "first_name": contact.first_name if contact else "",
        "owner_name": owner.full_name if owner else "",
        "sender_name": sender.full_name if sender else "",
        "campaign_name": campaign.name if campaign else "",
        "today": dt.date.today().isoformat(),
    }


def address_for(channel: str, account: Account | None, contact: Contact | None) -> str | None:
    if channel == "email":
        return (contact.email if contact else None) or (account.email if account else None)
    if channel in ("sms",):
        return (contact.mobile or contact.phone if contact else None) or (account.phone if account else None)
    if channel in ("phone", "fax"):
        return (contact.phone if contact else None) or (account.phone if account else None)
    if channel == "letter":
        return account.address if account else None
    return None


def log_communication(session: Session, viewer: Viewer, values: Mapping[str, Any]) -> Communication:
    """Log one message or call (on a visible account or contact), filling a template when one is chosen."""
    values = dict(values)
    account = session.get(Account, values["account_id"]) if values.get("account_id") else None
    contact = session.get(Contact, values["contact_id"]) if values.get("contact_id") else None
    if contact is not None:
        if account is not None and contact.account_id != account.id:
            raise ValidationError("the contact works for another account", {"contact_id": "not of this account"})
        if account is None:
            account = get_visible(session, viewer, "accounts", contact.account_id)
            values["account_id"] = account.id
    template = session.get(Template, values["template_id"]) if values.get("template_id") else None
    if template is not None:
        context = context_for(session, account, contact, viewer.user)
        values["subject"] = values.get("subject") or render(template.subject, context)
        values["body"] = values.get("body") or render(template.body, context)
    values.setdefault("to_address", None)
    if not values.get("to_address"):
        values["to_address"] = address_for(values["channel"], account, contact)
    values["user_id"] = viewer.id
    values["occurred_at"] = values.get("occurred_at") or utcnow()
    return records.create_record(session, Communication, values, viewer.user)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    timeout: float = 10.0


@dataclass
class BatchResult:
    sent: int = 0
    queued: int = 0
    failed: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"{self.sent} sent", f"{self.queued} recorded for sending", f"{self.failed} failed"]
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        return ", ".join(parts)


def batch_send(
    session: Session,
    viewer: Viewer,
    template_id: int,
    campaign_id: int,
    smtp: SmtpConfig,
    *,
    only_status: str | None = "targeted",
) -> BatchResult:
    """Send ``template`` to every visible member of ``campaign``: e-mail by SMTP, other channels logged.

    Each member gets one communication row with its outcome (sent / queued / failed); members reached move
    to status "sent". One SMTP connection serves the whole batch.
    """
    require_write(session, viewer, "communications")
    require_write(session, viewer, "campaign_members")
    try:
        template = get_visible(session, viewer, "templates", template_id)
    except NotFoundError:
        raise ValidationError("unknown template", {"template_id": "unknown template"}) from None
    try:
        campaign = get_visible(session, viewer, "campaigns", campaign_id)
    except NotFoundError:
        raise ValidationError("unknown campaign", {"campaign_id": "unknown campaign"}) from None
    query = restrict(select(CampaignMember), viewer, "campaign_members").where(
        CampaignMember.campaign_id == campaign.id
    )
    if only_status:
        query = query.where(CampaignMember.status == only_status)
    members = session.scalars(query.order_by(CampaignMember.id)).all()
    result = BatchResult()
    if not members:
        return result
    connection: smtplib.SMTP | None = None
    connect_error: str | None = None
    if template.channel == "email":
        try:
            connection = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            connect_error = f"cannot reach the mail server {smtp.host}:{smtp.port} ({exc})"
    try:
        for member in members:
            account = session.get(Account, member.account_id)
            contact = (
                session.get(Contact, member.contact_id) if member.contact_id else _primary_contact(session, account)
            )
            if account is None or account.deleted_at is not None:
                result.skipped += 1
                continue
            context = context_for(session, account, contact, viewer.user, campaign)
            subject = render(template.subject, context)
            body = render(template.body, context)
            address = address_for(template.channel, account, contact)
            status, error = _deliver(template.channel, connection, connect_error, smtp, address, subject, body)
            now = utcnow()
            session.add(
                Communication(
                    channel=template.channel,
                    direction="outbound",
                    status=status,
                    account_id=account.id,
                    contact_id=contact.id if contact else None,
                    campaign_id=campaign.id,
                    template_id=template.id,
                    user_id=viewer.id,
                    to_address=address,
                    subject=subject or None,
                    body=body,
                    occurred_at=now,
                    error=error,
                )
            )
            if status == "failed":
                result.failed += 1
                result.errors.append(f"{account.name}: {error}")
                continue
            if status == "sent":
                result.sent += 1
            else:
                result.queued += 1
            if member.status == "targeted":
                member.status = "sent"
                member.sent_at = now
        records.flush(session, f"campaign {campaign.name!r}")
    finally:
        if connection is not None:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                connection.close()
    return result


def _primary_contact(session: Session, account: Account | None) -> Contact | None:
    if account is None:
        return None
    return session.scalar(
        select(Contact)
        .where(Contact.account_id == account.id, Contact.deleted_at.is_(None))
        .order_by(Contact.is_primary.desc(), Contact.id)
        .limit(1)
    )


def _deliver(
    channel: str,
    connection: smtplib.SMTP | None,
    connect_error: str | None,
    smtp: SmtpConfig,
    address: str | None,
    subject: str,
    body: str,
) -> tuple[str, str | None]:
    if not address:
        return "failed", f"no {'e-mail address' if channel == 'email' else channel + ' address'} on file"
    if channel != "email":
        return "queued", None  # no gateway for SMS, letters, faxes: recorded for the team to dispatch
    if connection is None:
        return "failed", connect_error or "no mail server"
    message = EmailMessage()
    try:
        message["From"] = formataddr(("CRM", smtp.sender))
        message["To"] = address
        message["Subject"] = subject or "(no subject)"
        message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
        message.set_content(body)
    except (ValueError, TypeError) as exc:
        return "failed", f"the message could not be built ({exc})"
    try:
        refused = connection.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        return "failed", f"the mail server refused the message ({exc})"
    if refused:
        return "failed", f"the mail server refused {', '.join(refused)}"
    return "sent", None
