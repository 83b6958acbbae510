"""The chart of accounts (IN3): pulling and storing the vendor's accounts (and QuickBooks Desktop's
items), and the mappings of local accounts to them."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from ledger import roles
from ledger.models import Account
from ledger.permissions import require
from ledger.services import audit_record

from ..exceptions import IntegrationError
from ..models import AccountMapping, Connection, ExternalAccount, ExternalItem
from .connections import call_with_token
from .inbound import inbound_waiting_post


def accounts_pull_direct(*, connection: Connection, actor: AbstractBaseUser | None) -> int:
    """The direct transport's chart pull: ask the vendor's API now and store the answer."""
    remote, connection = call_with_token(connection, lambda p: p.list_accounts())
    return accounts_store(connection=connection, remote=remote, actor=actor)


def accounts_store(*, connection: Connection, remote: list, actor: AbstractBaseUser | None) -> int:
    """Store a pulled chart (IN3), whoever pulled it (a provider call, or a Web Connector answer)."""
    now = timezone.now()
    with transaction.atomic():
        existing = {a.external_id: a for a in ExternalAccount.objects.select_for_update().filter(connection=connection)}
        seen = set()
        for account in remote:
            seen.add(account.external_id)
            row = existing.get(account.external_id) or ExternalAccount(connection=connection, external_id=account.external_id)
            row.number, row.name, row.type, row.active, row.pulled_at = (
                account.number[:50],
                account.name[:300],
                account.type[:100],
                account.active,
                now,
            )
            row.save()
        gone = [row.pk for key, row in existing.items() if key not in seen]
        ExternalAccount.objects.filter(pk__in=gone).update(active=False)
        Connection.objects.filter(pk=connection.pk).update(accounts_pulled_at=now)
        audit_record(
            company=connection.company_id,
            actor=actor,
            action="connection.accounts_pull",
            subject=connection,
            after={"accounts": len(remote), "no_longer_listed": len(gone)},
        )
    return len(remote)


def items_store(*, connection: Connection, remote: list, complete: bool = True) -> int:
    """Store a pulled item list (QuickBooks Desktop ``ItemQueryRq``): each item and its income account.
    ``complete``: the list is whole, so items it no longer names are marked inactive (not for one page)."""
    now = timezone.now()
    with transaction.atomic():
        existing = {i.external_id: i for i in ExternalItem.objects.select_for_update().filter(connection=connection)}
        for item in remote:
            row = existing.pop(item.external_id, None) or ExternalItem(connection=connection, external_id=item.external_id)
            row.name, row.type, row.income_account_id = item.name[:300], item.type[:60], item.income_account_id[:100]
            row.active, row.pulled_at = item.active, now
            row.save()
        if complete:
            ExternalItem.objects.filter(pk__in=[i.pk for i in existing.values()]).update(active=False)
    return len(remote)


def items_add(*, connection: Connection, remote: list) -> int:
    """One page of the item list (an iterator's): stored, nothing marked inactive."""
    return items_store(connection=connection, remote=remote, complete=False)


@transaction.atomic
def mappings_save(*, connection: Connection, choices: dict[int, int | None], actor: AbstractBaseUser | None) -> dict[str, int]:
    """Set the mappings of several local accounts at once: ``{account id: external account id or
    None (unmap)}``. An archived external account is refused for the account that names it."""
    require(actor, roles.MANAGE, connection.company_id, what="edit account mappings")
    company_id = connection.company_id
    accounts = Account.objects.in_bulk([a for a in choices])
    externals = ExternalAccount.objects.filter(connection=connection).in_bulk([e for e in choices.values() if e])
    current = {m.account_id: m for m in AccountMapping.objects.select_for_update().filter(connection=connection)}
    changed, before, after = 0, {}, {}
    for account_id, external_id in choices.items():
        account = accounts.get(account_id)
        if account is None or account.company_id != company_id:
            raise IntegrationError(f"Account {account_id} is not an account of this company.", field="mappings")
        external = externals.get(external_id) if external_id else None
        if external_id and external is None:
            raise IntegrationError(f"{account}: that external account is not in this connection's chart.", field="mappings")
        if external is not None and not external.active:
            raise IntegrationError(
                f"{account}: {external.name} is archived in the accounting system; choose an active account.",
                field="mappings",
            )
        mapping = current.get(account_id)
        old = mapping.external_account_id if mapping else None
        if old == (external.pk if external else None):
            continue
        changed += 1
        before[account.code] = str(mapping.external_account) if mapping else None
        after[account.code] = str(external) if external else None
        if external is None:
            mapping.delete()
        elif mapping is None:
            AccountMapping.objects.create(connection=connection, account=account, external_account=external)
        else:
            mapping.external_account = external
            mapping.save(update_fields=["external_account", "updated_at"])
    if changed:
        audit_record(company=company_id, actor=actor, action="mapping.update", subject=connection, before=before, after=after)
        inbound_waiting_post(connection=connection, actor=actor)  # invoices waiting for one of these mappings
    return {"changed": changed}
