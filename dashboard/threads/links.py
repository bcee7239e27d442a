"""Links to per-user pages that survive any user id.

User ids are free-form: `acme/support`, `100%-sure`, `who?what`, `..`. Django's
`reverse()` leaves `/` unescaped, so `acme/../x` would put a `..` segment in the
path, which browsers resolve away (even as `%2E%2E`). Escaping `/` keeps every id
one path segment; the only ids that cannot be a segment at all are `.` and `..`,
and those get the equivalent filtered list instead.
"""

from __future__ import annotations

import functools
from urllib.parse import quote, urlencode

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

DOT_SEGMENTS = frozenset({".", ".."})
# RFC 3986 path characters, minus "/": readable URLs for e-mail-like and "a+b" ids.
_SEGMENT_SAFE = "@:!$&'()*+,;="


def user_threads_url(user: str) -> str:
    if user in DOT_SEGMENTS:
        return f"{reverse('threads:list')}?{urlencode({'user': user})}"
    prefix = _user_prefix(get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return f"{prefix}{quote(user, safe=_SEGMENT_SAFE)}/"


@functools.lru_cache(maxsize=16)
def _user_prefix(script_prefix: str, urlconf: object) -> str:
    # reverse() costs ~25 µs, paid per row of a 100-row table; the prefix depends only on
    # the arguments (SCRIPT_NAME and URLconf), so it is found once with a placeholder.
    return reverse("threads:user", kwargs={"user": "-"})[: -len("-/")]


def thread_url(thread_id: str, action: str = "") -> str:
    """The detail page of a thread (or `action`, e.g. "delete/", under it); "/" escaped too.

    Real ids are `cthr_…`; an id of "." or ".." cannot be a path segment and has no page.
    """
    prefix = _thread_prefix(get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return f"{prefix}{quote(thread_id, safe=_SEGMENT_SAFE)}/{action}"


@functools.lru_cache(maxsize=16)
def _thread_prefix(script_prefix: str, urlconf: object) -> str:
    return reverse("threads:detail", kwargs={"thread_id": "-"})[: -len("-/")]
