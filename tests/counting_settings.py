"""The dashboard's settings, with every password check counted (tests/test_login_throttle.py).

For servers started by tests: DJANGO_SETTINGS_MODULE=tests.counting_settings and
PASSWORD_CHECK_LOG=<file>; each check appends one line, from any worker process.
"""

from django.conf import global_settings

from dashboard.settings import *  # noqa: F403

# In place of Django's default hasher: a later entry with the same algorithm would win.
PASSWORD_HASHERS = [
    "tests.counting_hasher.CountingPBKDF2PasswordHasher"
    if path == "django.contrib.auth.hashers.PBKDF2PasswordHasher"
    else path
    for path in global_settings.PASSWORD_HASHERS
]
