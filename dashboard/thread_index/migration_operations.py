"""A migration operation for indexes only some databases can build."""

from __future__ import annotations

from django.db.migrations import AddIndex


class AddIndexOn(AddIndex):
    """AddIndex that builds the index only on the given database vendors, a no-op elsewhere.

    For GIN trigram indexes (PostgreSQL only) and NULLS LAST index orders (refused by SQLite).
    The index stays in the model state everywhere, so makemigrations sees no difference.
    """

    def __init__(self, model_name, index, *, vendors: tuple[str, ...]):
        super().__init__(model_name, index)
        self.vendors = tuple(vendors)

    def deconstruct(self):
        name, args, kwargs = super().deconstruct()
        return name, args, {**kwargs, "vendors": self.vendors}

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor in self.vendors:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor in self.vendors:
            super().database_backwards(app_label, schema_editor, from_state, to_state)
