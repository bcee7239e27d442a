"""Log-in throttling that holds under concurrency.

django-axes counts failures per user name and client address and refuses a locked-out
pair before any password check. On its own that is a check-then-act race: sixteen
simultaneous attempts all pass the check before the first failure is recorded, so an
attacker gets far more than LOGIN_FAILURE_LIMIT password checks. Here each attempt for a
user name runs alone, from the lockout check to the recorded failure:

- PostgreSQL: a transaction-scoped advisory lock on the user name, so only attempts for
  the same name wait for each other;
- SQLite: the transaction starts with BEGIN IMMEDIATE (settings.DATABASES), which takes the
  database's write lock, so attempts run one at a time (one password check, about half a
  second, each); other writers queue behind them for up to DATABASE_SQLITE_TIMEOUT.

The address axes counts by comes from dashboard/client_address.py (DJANGO_TRUSTED_PROXIES).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.db import connection, transaction


def _lock_id(username: str) -> int:
    """A signed 64-bit key for pg_advisory_xact_lock, the same in every process."""
    digest = hashlib.sha256(b"dashboard.login:" + username.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def one_attempt_at_a_time(username: str) -> Iterator[None]:
    """Run the block in a transaction that no other attempt for `username` runs alongside."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(username)])
        # SQLite: the atomic block began with BEGIN IMMEDIATE, the database's write lock.
        yield


class SerializedAttemptsMixin(AuthenticationForm):
    """For authentication forms: the lockout check, password check and recorded failure of
    one attempt happen before the next attempt for the same user name starts."""

    def clean(self) -> dict[str, Any]:
        refusal: ValidationError
        with one_attempt_at_a_time(self.cleaned_data.get("username") or ""):
            try:
                return super().clean()
            except ValidationError as error:
                # Raised outside the block: an exception would roll back the recorded failure.
                refusal = error
        raise refusal


class LoginForm(SerializedAttemptsMixin, AuthenticationForm):
    pass


class AdminLoginForm(SerializedAttemptsMixin, AdminAuthenticationForm):
    pass
