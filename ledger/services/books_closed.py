"""Writers of the books-closed setting (BC1–BC3, BC6, BC8, BC9). Each takes the company lock
exclusively (the posting path holds it FOR SHARE), so a date change and a posting serialise:
a posting that passed the guard commits before the date moves, or sees the moved date."""

from __future__ import annotations

from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .. import roles
from ..exceptions import BooksClosedSettingError, LedgerError
from ..locks import company_lock
from ..models import BooksClosedSetting, Company, LedgerEntity
from ..permissions import require
from ..signals import books_closed_date_moved
from .core import audit_record

_UNCHANGED = object()


def _effective(snapshot: dict) -> str | None:
    """The date the guard applies for this setting row (None while closed books is off, BC1);
    an entity row has only its own date."""
    if snapshot["entity"] is None and not snapshot["enabled"]:
        return None
    return snapshot["closed_date"]


def _announce_move(company: Company, setting: BooksClosedSetting, before: dict, after: dict) -> None:
    """Tell the layers above, once the change has committed, that the effective date moved."""
    old, new = _effective(before), _effective(after)
    if old == new:
        return
    payload = {
        "company_id": company.pk,
        "entity_key": after["entity"] or "",
        "before": old,
        "after": new,
        "source": after["source"],
        "source_name": after["source_name"],
    }
    transaction.on_commit(lambda: books_closed_date_moved.send(sender=BooksClosedSetting, **payload), robust=True)


def _snapshot(setting: BooksClosedSetting) -> dict:
    return {
        "enabled": setting.enabled,
        "closed_date": setting.closed_date.isoformat() if setting.closed_date else None,
        "restrict_inbound": setting.restrict_inbound,
        "closed_through": setting.closed_through.isoformat() if setting.closed_through else None,
        "source": setting.source,
        "source_name": setting.source_name,
        "pulled_date": setting.pulled_date.isoformat() if setting.pulled_date else None,
        "entity": setting.entity.key if setting.entity_id else None,
    }


def _locked_setting(company: Company, entity: LedgerEntity | None) -> BooksClosedSetting:
    if entity is not None and entity.company_id != company.pk:
        raise LedgerError(f"Entity {entity} belongs to another company.", field="entity")
    company_lock(company.pk, exclusive=True)
    setting, _ = BooksClosedSetting.objects.select_for_update().get_or_create(company=company, entity=entity)
    return setting


def _company_setting(company: Company) -> BooksClosedSetting | None:
    return BooksClosedSetting.objects.filter(company=company, entity__isnull=True).first()


def _actor_name(actor: AbstractBaseUser | None) -> str:
    return actor.get_username() if actor is not None and actor.is_authenticated else "system"


@transaction.atomic
def books_closed_update(
    *,
    company: Company,
    actor: AbstractBaseUser | None,
    enabled: bool | object = _UNCHANGED,
    closed_date: date | None | object = _UNCHANGED,
    restrict_inbound: bool | object = _UNCHANGED,
    reason: str = "",
    entity: LedgerEntity | None = None,
) -> BooksClosedSetting:
    """Change the setting of ``company`` (or of one ``entity``, BC9) by hand. Arguments left out
    stay as they are. Rules: only an administrator turns closed books on or off and sets the
    restrict-inbound toggle (BC1, BC6); an administrator or manager sets the date, today or
    earlier in the company's time zone (BC2), never before the last closed period, and moving
    it earlier reopens days so it needs a reason (BC3). One audit row per change (PC6)."""
    reason = (reason or "").strip()
    if enabled is not _UNCHANGED:
        require(actor, roles.ADMINISTER, company, what="turn closed books on or off")
    if restrict_inbound is not _UNCHANGED:
        require(actor, roles.ADMINISTER, company, what="change “Restrict inbound transactions”")
    if closed_date is not _UNCHANGED:
        require(actor, roles.MANAGE, company, what="set the books-closed date")
    if entity is not None and (enabled is not _UNCHANGED or restrict_inbound is not _UNCHANGED):
        raise BooksClosedSettingError("An entity has only its own date; the switch and the toggle are the company's.")
    setting = _locked_setting(company, entity)
    floor = setting.closed_through if entity is None else (getattr(_company_setting(company), "closed_through", None))
    before = _snapshot(setting)
    reopening = False
    if closed_date is not _UNCHANGED:
        if closed_date is not None and not isinstance(closed_date, date) or isinstance(closed_date, datetime):
            raise BooksClosedSettingError(f"“{closed_date}” is not a date.", field="closed_date")
        today = company.today()
        if closed_date is not None and closed_date > today:
            raise BooksClosedSettingError(
                f"The books-closed date must be today ({today} in {company.time_zone}) or earlier, not {closed_date} (BC2).",
                field="closed_date",
            )
        if floor is not None and (closed_date is None or closed_date < floor):
            raise BooksClosedSettingError(
                f"The books are closed for good through {floor} (a closed period): the date cannot move before it (BC3, PC5).",
                field="closed_date",
            )
        reopening = setting.closed_date is not None and (closed_date is None or closed_date < setting.closed_date)
        if reopening and not reason:
            raise BooksClosedSettingError(
                f"Moving the date earlier than {setting.closed_date} reopens days: give a reason (BC3).", field="reason"
            )
        if closed_date != setting.closed_date:
            setting.closed_date = closed_date
            setting.source, setting.source_name, setting.source_at = (
                BooksClosedSetting.Source.MANUAL,
                _actor_name(actor),
                timezone.now(),
            )
    if enabled is not _UNCHANGED:
        setting.enabled = bool(enabled)
    if restrict_inbound is not _UNCHANGED:
        setting.restrict_inbound = bool(restrict_inbound)
    after = _snapshot(setting)
    if after != before:
        setting.save()
        action = "books_closed.reopen" if reopening else "books_closed.update"
        audit_record(company=company, actor=actor, action=action, subject=setting, before=before, after=after, reason=reason)
        _announce_move(company, setting, before, after)
    return setting


def books_closed_enable(
    *, company: Company, actor: AbstractBaseUser | None, enabled: bool, reason: str = ""
) -> BooksClosedSetting:
    """Turn closed books on or off (administrators only, BC1)."""
    return books_closed_update(company=company, actor=actor, enabled=enabled, reason=reason)


def books_closed_date_set(
    *,
    company: Company,
    actor: AbstractBaseUser | None,
    closed_date: date | None,
    reason: str = "",
    entity: LedgerEntity | None = None,
) -> BooksClosedSetting:
    """Set the closed date by hand (administrator or manager; BC2, BC3)."""
    return books_closed_update(company=company, actor=actor, closed_date=closed_date, reason=reason, entity=entity)


def books_closed_restrict_inbound_set(
    *, company: Company, actor: AbstractBaseUser | None, restrict_inbound: bool
) -> BooksClosedSetting:
    """Apply the date to inbound transactions too, or not (administrators only, BC6)."""
    return books_closed_update(company=company, actor=actor, restrict_inbound=restrict_inbound)


@transaction.atomic
def books_closed_date_pull(
    *,
    company: Company,
    pulled_date: date,
    source: str,
    entity: LedgerEntity | None = None,
    actor: AbstractBaseUser | None = None,
    pulled_at: datetime | None = None,
) -> BooksClosedSetting:
    """Record the closed date pulled from the accounting system ``source`` (a provider name,
    e.g. "quickbooks_online"), for the company or for one ``entity`` (BC9).

    BC8: a pulled date later than ours moves ours forward (source = the integration); an
    earlier one never reopens anything: ours stays and the page shows the mismatch. A pulled
    date in the future (BC2) is recorded but not applied. Idempotent: pulling the same date
    again changes nothing and writes no audit row. Returns the setting; ``setting.mismatch``
    tells whether the two dates now differ."""
    if not isinstance(pulled_date, date) or isinstance(pulled_date, datetime):
        raise BooksClosedSettingError(f"The accounting system sent “{pulled_date}”, which is not a date.")
    if not source:
        raise BooksClosedSettingError("A pulled date needs the name of the integration it came from.")
    require(actor, roles.MANAGE, company, what="pull the books-closed date")
    setting = _locked_setting(company, entity)
    before = _snapshot(setting)
    now = pulled_at or timezone.now()
    setting.pulled_date, setting.pulled_source, setting.pulled_at = pulled_date, source[:60], now
    moved = setting.closed_date is None or pulled_date > setting.closed_date
    if moved and pulled_date <= company.today():
        setting.closed_date = pulled_date
        setting.source, setting.source_name, setting.source_at = BooksClosedSetting.Source.INTEGRATION, source[:60], now
    else:
        moved = False
    after = _snapshot(setting)
    setting.save()
    if after != before:
        audit_record(
            company=company,
            actor=actor,
            action="books_closed.pull_forward" if moved else "books_closed.pull_mismatch",
            subject=setting,
            before=before,
            after=after,
            reason=f"pulled from {source}",
        )
        _announce_move(company, setting, before, after)
    return setting


@transaction.atomic
def books_closed_lock_through(
    *, company: Company, actor: AbstractBaseUser | None, through: date, reason: str = ""
) -> BooksClosedSetting:
    """For the close wizard (PC4): locking a period moves the date to its last day and turns
    closed books on if it was off. Moving it earlier (unlocking) needs a reason (BC3)."""
    require(actor, roles.MANAGE, company, what="lock a period")
    books_closed_update(company=company, actor=actor, closed_date=through, reason=reason)
    setting = _locked_setting(company, None)
    if not setting.enabled:
        before = _snapshot(setting)
        setting.enabled = True
        setting.save()
        audit_record(
            company=company,
            actor=actor,
            action="books_closed.update",
            subject=setting,
            before=before,
            after=_snapshot(setting),
            reason=reason or f"period locked through {through}",
        )
        _announce_move(company, setting, before, _snapshot(setting))
    return setting


@transaction.atomic
def books_closed_close_through(*, company: Company, actor: AbstractBaseUser | None, through: date) -> BooksClosedSetting:
    """For the close wizard (PC5): a period closed through ``through`` can never reopen, so the
    date can no longer move before it. The date itself must already be at or past it."""
    require(actor, roles.ADMINISTER, company, what="close a period")
    setting = _locked_setting(company, None)
    if setting.closed_date is None or setting.closed_date < through or not setting.enabled:
        raise BooksClosedSettingError(f"Lock the period first: the books are not closed through {through} (PC4).")
    if setting.closed_through is not None and through <= setting.closed_through:
        return setting
    before = _snapshot(setting)
    setting.closed_through = through
    setting.save()
    audit_record(
        company=company,
        actor=actor,
        action="books_closed.close_through",
        subject=setting,
        before=before,
        after=_snapshot(setting),
    )
    return setting


@transaction.atomic
def ledger_entity_ensure(*, company: Company, key: str, name: str = "", actor: AbstractBaseUser | None = None) -> LedgerEntity:
    """The entity ``key`` of ``company`` (BC9), created on first sight."""
    require(actor, roles.MANAGE, company, what="add entities")
    key = (key or "").strip()
    if not key:
        raise LedgerError("An entity needs its key (the accounting system's entity id).", field="entity")
    entity, created = LedgerEntity.objects.get_or_create(company=company, key=key[:60], defaults={"name": (name or key)[:200]})
    if created:
        audit_record(company=company, actor=actor, action="entity.create", subject=entity, after={"key": entity.key})
    return entity


def ledger_entity_get(*, company: Company, key: str) -> LedgerEntity:
    """The entity ``key`` of ``company``, or a clear error for an unknown one (an inbound
    document naming an entity closebooks has never seen is refused, not guessed)."""
    entity = LedgerEntity.objects.filter(company=company, key=(key or "").strip()).first()
    if entity is None:
        raise LedgerError(f"Unknown entity “{key}” in {company}.", field="entity")
    return entity
