"""How long a background job waits out a rate limit or an outage before it gives up.

The client already retries a call a few times within a page's budget; a job has no page
waiting on it, so it outlasts longer trouble: the upstream's own Retry-After when it gives
one (and it is not longer than the job will wait), else a doubling wait, up to a limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.chatkit.errors import ChatKitError


@dataclass(frozen=True, slots=True)
class Patience:
    retries: int
    max_seconds: float
    base_seconds: float = 1.0

    def wait_before_retry(self, attempt: int, error: ChatKitError) -> float | None:
        """Seconds to wait before try `attempt + 1`, or None once out of patience."""
        if attempt >= self.retries:
            return None
        retry_after: float | None = getattr(error, "retry_after", None)
        if retry_after:
            return retry_after if retry_after <= self.max_seconds else None
        return min(self.max_seconds, self.base_seconds * 2**attempt)
