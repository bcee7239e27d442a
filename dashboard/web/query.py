"""What a thread list asks for: its query string, validated. The URL is the page's whole state."""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.chatkit.types import StatusKind

DEFAULT_LIMIT = 20
DEFAULT_ORDER = "desc"


@dataclass(frozen=True, slots=True)
class ThreadQuery:
    user: str | None = None
    status: StatusKind | None = None
    order: str = DEFAULT_ORDER
    limit: int = DEFAULT_LIMIT
    after: str | None = None
    before: str | None = None

    def as_params(self, **changes: object) -> dict[str, str]:
        """Query-string values for a link to this view with `changes`; defaults are left out."""
        values: dict[str, object] = {
            "user": self.user,
            "status": self.status.value if self.status else None,
            "order": self.order,
            "limit": self.limit,
            "after": self.after,
            "before": self.before,
        }
        values.update(changes)
        defaults: dict[str, object] = {"order": DEFAULT_ORDER, "limit": DEFAULT_LIMIT}
        return {
            key: str(value)
            for key, value in values.items()
            if value not in (None, "") and defaults.get(key) != value
        }
