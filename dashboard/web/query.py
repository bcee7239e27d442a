"""What a thread list asks for: its query string, validated. The URL is the page's whole state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dashboard.chatkit.types import StatusKind

DEFAULT_LIMIT = 20
DEFAULT_ORDER = "desc"
DEFAULT_SORT = "-created"
DEFAULT_ZONE = "UTC"
# The statuses a list can filter by, in menu order: a status newer than this code is only
# counted (StatusKind.UNKNOWN).
FILTERABLE_STATUSES = tuple(kind for kind in StatusKind if kind is not StatusKind.UNKNOWN)
# The sorts a list offers. The upstream itself lists only by creation, either way.
SORTS = ("-created", "created", "title", "-title", "user", "-user", "status", "-status", "-changed")
CREATION_SORTS = frozenset({"-created", "created"})


@dataclass(frozen=True, slots=True)
class ThreadQuery:
    user: str | None = None
    status: StatusKind | None = None
    # The upstream's own direction; follows `sort` (only "created" lists oldest first).
    order: str = DEFAULT_ORDER
    limit: int = DEFAULT_LIMIT
    after: str | None = None
    before: str | None = None
    # What only the thread index can answer: a title search, a creation date range (days in
    # `zone`, both inclusive), any sort but creation, and page numbers.
    q: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    zone: str = DEFAULT_ZONE
    sort: str = DEFAULT_SORT
    page: int | None = None

    def __post_init__(self) -> None:
        # `order` predates `sort`: an old link's order=asc is sort=created, and either way
        # the two always agree.
        if self.sort == DEFAULT_SORT and self.order == "asc":
            object.__setattr__(self, "sort", "created")
        object.__setattr__(self, "order", "asc" if self.sort == "created" else "desc")

    @property
    def index_only(self) -> tuple[str, ...]:
        """The parameters in use that the upstream cannot answer at all."""
        return tuple(
            name
            for name, used in (
                ("q", self.q),
                ("created_from", self.created_from),
                ("created_to", self.created_to),
                ("sort", self.sort not in CREATION_SORTS),
                ("page", self.page is not None),
            )
            if used
        )

    @property
    def wants_index(self) -> bool:
        """Whether the thread index should answer: index-only parameters, or a status filter
        (which the live list can only approximate with a scan) that is not continuing a
        live scan's cursor."""
        return bool(self.index_only) or (
            self.status is not None and not (self.after or self.before)
        )

    def as_params(self, **changes: object) -> dict[str, str]:
        """Query-string values for a link to this view with `changes`; defaults are left out."""
        values: dict[str, object] = {
            "q": self.q,
            "user": self.user,
            "status": self.status.value if self.status else None,
            "created_from": self.created_from,
            "created_to": self.created_to,
            "sort": self.sort,
            "limit": self.limit,
            "page": self.page,
            "after": self.after,
            "before": self.before,
        }
        values.update(changes)
        if values.get("created_from") or values.get("created_to"):
            # The zone is what the dates mean: it travels with them.
            values["tz"] = self.zone
        defaults: dict[str, object] = {"sort": DEFAULT_SORT, "limit": DEFAULT_LIMIT, "page": 1}
        return {
            key: str(value)
            for key, value in values.items()
            if value not in (None, "") and defaults.get(key) != value
        }
