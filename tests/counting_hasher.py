"""Django's default password hasher (same algorithm, same cost), counting its checks."""

from __future__ import annotations

import os

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class CountingPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    def verify(self, password: str, encoded: str) -> bool:
        # O_APPEND: lines from concurrent threads and processes never interleave.
        descriptor = os.open(
            os.environ["PASSWORD_CHECK_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT
        )
        try:
            os.write(descriptor, b"check\n")
        finally:
            os.close(descriptor)
        return super().verify(password, encoded)
