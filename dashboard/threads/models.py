"""No tables: ChatKit threads live upstream. One unmanaged model exists only so the
permission to delete them is an ordinary Django permission, grantable to users and groups
in the admin ("threads | ChatKit thread | Can delete ChatKit threads"), and kept apart
from staff access and from the audit log's own permissions.
"""

from __future__ import annotations

from django.db import models


class ChatKitThread(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("delete_thread", "Can delete ChatKit threads")]
        verbose_name = "ChatKit thread"

    def __str__(self) -> str:
        return "ChatKit thread"
