"""What the upstream says is untrusted text: the key is redacted from it, ids are checked.

An upstream (a misconfigured proxy, a hostile base URL) may echo the API key anywhere:
error messages, thread titles, transcript text, the `x-request-id` header. Everything the
client passes on goes through a `KeyRedactor` for its key, and log lines escape control
characters so upstream text cannot forge a line.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[redacted key]"
# The tail that identifies a key (what OpenAI's own masked echo shows, what our guard seeks).
KEY_TAIL = 8
# Anything shaped like an OpenAI key, whoever's.
KEY_SHAPED = r"sk-[A-Za-z0-9_*.\-]{6,}"
# A request id as OpenAI sends them ("req_" and 32 hex digits), with room for other services.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}")
# C0 and C1 controls, DEL, line and paragraph separators, and bidirectional overrides that
# would make a log line read differently from what it holds.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    """`text` on one line: control characters as Python escapes (\\n, \\x1b, \\u202e)."""
    return _CONTROLS.sub(lambda match: match.group().encode("unicode_escape").decode(), text)


class KeyRedactor:
    """Redacts one key, in each form it may travel in, and anything shaped like a key."""

    def __init__(self, key: str) -> None:
        forms = {key, key.removeprefix("sk-"), key[-KEY_TAIL:]} - {""}
        literals = [re.escape(form) for form in sorted(forms, key=len, reverse=True)]
        self._pattern = re.compile("|".join([*literals, KEY_SHAPED]))
        # Any KEY_TAIL characters of the key in a row: a request id holding them is refused.
        self._windows = {key[i : i + KEY_TAIL] for i in range(max(1, len(key) - KEY_TAIL + 1))}
        self._windows.discard("")

    def redact(self, text: str | None) -> str:
        if not text:
            return ""
        return self._pattern.sub(REDACTED, text)

    def may_hide_a_key(self, json_text: str) -> bool:
        """Whether decoded JSON from `json_text` may hold the key: a form of it appears,
        or a \\u escape, which could spell one."""
        return "\\u" in json_text or self._pattern.search(json_text) is not None

    def redact_json(self, value: Any) -> Any:
        """`value` (decoded JSON) with every string, keys included, redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_json(item) for item in value]
        if isinstance(value, dict):
            return {self.redact(key): self.redact_json(item) for key, item in value.items()}
        return value

    def request_id(self, raw: str | None) -> str | None:
        """`raw` if it looks like a request id and holds no part of the key; else None."""
        if raw is None:
            return None
        candidate = raw.strip()
        if not REQUEST_ID.fullmatch(candidate):
            return None
        if any(window in candidate for window in self._windows):
            return None
        if self._pattern.search(candidate):
            return None
        return candidate
