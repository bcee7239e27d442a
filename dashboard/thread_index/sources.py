"""Which upstream collection the index is about: the configured base URL and project."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from .models import Source


def current_source() -> Source:
    """The Source row for settings.CHATKIT, created on first use."""
    config = settings.CHATKIT
    base_url, project = config.base_url.rstrip("/"), config.project
    try:
        with transaction.atomic():
            source, _ = Source.objects.get_or_create(base_url=base_url, project=project)
    except IntegrityError:  # created meanwhile by another process
        source = Source.objects.get(base_url=base_url, project=project)
    return source


def lease_name(source: Source) -> str:
    """The lease every sync of `source` takes: one sync at a time per source."""
    return f"thread_index.sync:{source.pk}"
