"""Accounts moved from the seed (`titanium import-seed`).

An account keeps its name, address, creation time and the password hash the
seed made (core/passwords.py checks it at the next sign-in and replaces it),
so that its owner signs in as before. The seed's names were made before
Titanium reserved any, so a reserved one is kept (users/names.py); a name or
address Titanium could not hold (its pattern, its length) is refused, and so
is one that belongs to another account here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import EmailStr, TypeAdapter, ValidationError

from titanium.services.users.repository import AccountTaken, UserRepository
from titanium.services.users.schemas import USERNAME_PATTERN

_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)
EMAIL_LENGTH = 254


@dataclass(frozen=True)
class SeedAccount:
    username: str
    email: str
    password_hash: str
    created_at: datetime


@dataclass
class AccountsImported:
    ids: dict[str, int] = field(default_factory=dict)  # each account's id here, by its name in the seed
    made: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # made by an earlier run
    refused: dict[str, str] = field(default_factory=dict)  # name: why


def refusal(account: SeedAccount) -> str | None:
    """Why this account cannot be held here as it is; None when it can."""
    if not re.fullmatch(USERNAME_PATTERN, account.username):
        return "its name is not 3 to 32 letters, digits, '_', '.' or '-'"
    try:
        _EMAIL.validate_python(account.email)
    except ValidationError:
        return f"its email address {account.email!r} is not one"
    if len(account.email) > EMAIL_LENGTH:
        return f"its email address is longer than {EMAIL_LENGTH} characters"
    return None


async def import_accounts(users: UserRepository, accounts: Sequence[SeedAccount]) -> AccountsImported:
    done = AccountsImported()
    for account in accounts:
        if (problem := refusal(account)) is not None:
            done.refused[account.username] = problem
            continue
        try:
            created = await users.import_account(account.username, account.email, account.password_hash,
                                                 account.created_at)
        except AccountTaken as exc:
            done.refused[account.username] = exc.detail
            continue
        done.ids[account.username] = created.user.id
        (done.present if created.replayed else done.made).append(account.username)
    return done
