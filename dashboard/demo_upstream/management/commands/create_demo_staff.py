"""Create (or reset) the demo staff account that `make demo` prints.

Only installed with DJANGO_DEMO on, which settings refuse together with DJANGO_PRODUCTION.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management.base import BaseCommand

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-password"


class Command(BaseCommand):
    help = "Create or reset the demo staff account (demo settings only)."

    def handle(self, *args: Any, **options: Any) -> None:
        user, created = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.is_staff = True
        user.is_active = True
        user.set_password(DEMO_PASSWORD)
        user.save()
        # The demo shows every feature: deleting threads and reading the audit log too.
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="threads", codename="delete_thread"),
            Permission.objects.get(content_type__app_label="audit", codename="view_auditevent"),
        )
        self.stdout.write(f"{'Created' if created else 'Reset'} staff account '{DEMO_USERNAME}'.")
