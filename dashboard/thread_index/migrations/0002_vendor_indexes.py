"""Indexes that differ by database.

- Substring search on titles and user ids: GIN trigram indexes, on PostgreSQL only. Django sends
  `icontains` as UPPER(column) LIKE UPPER(pattern), so they index exactly that expression.
  pg_trgm ships with PostgreSQL; creating it needs the CREATE privilege on the database (it is
  skipped when already there). On SQLite both steps do nothing and searches scan.
- The `-changed` sort (never-changed threads last): PostgreSQL needs NULLS LAST in the index,
  which SQLite refuses; SQLite's plain DESC already puts NULLs last.
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models
from django.db.models.functions import Upper

from dashboard.thread_index.migration_operations import AddIndexOn

LIVE = models.Q(gone_at__isnull=True)


class Migration(migrations.Migration):
    dependencies = [("thread_index", "0001_initial")]

    operations = [
        TrigramExtension(),
        AddIndexOn(
            model_name="indexedthread",
            index=GinIndex(
                OpClass(Upper("title"), name="gin_trgm_ops"), name="thread_index_title_trgm"
            ),
            vendors=("postgresql",),
        ),
        AddIndexOn(
            model_name="usercount",
            index=GinIndex(
                OpClass(Upper("user"), name="gin_trgm_ops"), name="thread_index_user_trgm"
            ),
            vendors=("postgresql",),
        ),
        AddIndexOn(
            model_name="indexedthread",
            index=models.Index(
                models.F("source"),
                models.OrderBy(models.F("status_changed_at"), descending=True, nulls_last=True),
                models.OrderBy(models.F("id"), descending=True),
                condition=LIVE,
                name="thread_index_live_changed_pg",
            ),
            vendors=("postgresql",),
        ),
        AddIndexOn(
            model_name="indexedthread",
            index=models.Index(
                models.F("source"),
                models.OrderBy(models.F("status_changed_at"), descending=True),
                models.OrderBy(models.F("id"), descending=True),
                condition=LIVE,
                name="thread_index_live_changed",
            ),
            vendors=("sqlite",),
        ),
    ]
