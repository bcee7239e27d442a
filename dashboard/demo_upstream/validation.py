"""What the demo upstream refuses, and how: OpenAI's error envelope and the API's bounds.

Every refusal is an `ApiError`, answered as `{"error": {message, type, param, code}}`
with the status, messages and codes api.openai.com uses. Standard library only.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

BETA_HEADER = "OpenAI-Beta"
BETA_VALUE = "chatkit_beta=v1"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_USER_LENGTH = 512
API_KEYS_URL = "https://platform.openai.com/account/api-keys"

_INTEGER = re.compile(r"[+-]?[0-9]+")


class ApiError(Exception):
    """An error answered with OpenAI's envelope: {"error": {message, type, param, code}}."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.param = param
        self.code = code
        self.headers = tuple(headers)

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


def shown(value: str, limit: int = 64) -> str:
    """A user-supplied value, quoted and shortened for an error message."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


def mask_key(key: str) -> str:
    """How a wrong key appears in the 401 message: never more than its last 4 characters."""
    tail = key[-4:]
    if len(key) < 12 or not tail.isascii() or not tail.isalnum():
        return "*" * 8
    return "*" * 8 + tail


def thread_not_found(thread_id: str) -> ApiError:
    return ApiError(404, f"No thread found with id {shown(thread_id, 128)}.", code="not_found")


def invalid_url(method: str, path: str) -> ApiError:
    return ApiError(404, f"Invalid URL ({method} {shown(path, 200)[1:-1]})")


def require_method(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise ApiError(
            405,
            f"Method {method} is not allowed here; use {' or '.join(allowed)}.",
            code="method_not_allowed",
            headers=[("Allow", ", ".join(allowed))],
        )


def check_credentials(*, authorization: str, betas: Sequence[str], api_key: str) -> None:
    """The Authorization and OpenAI-Beta headers, checked in the API's order."""
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). "
            f"You can obtain an API key from {API_KEYS_URL}.",
        )
    if not hmac.compare_digest(token.encode(), api_key.encode()):
        raise ApiError(
            401,
            f"Incorrect API key provided: {mask_key(token)}. "
            f"You can find your API key at {API_KEYS_URL}.",
            code="invalid_api_key",
        )
    tokens = {part.strip() for value in betas for part in value.split(",")}
    if BETA_VALUE not in tokens:
        raise ApiError(
            400,
            f"The ChatKit API is in beta: send the header '{BETA_HEADER}: {BETA_VALUE}'.",
            code="missing_beta_header",
        )


def check_user(user: str) -> str:
    """A `user` value: 1 to MAX_USER_LENGTH characters."""
    if not user:
        raise ApiError(
            400,
            "Invalid 'user': string too short. Expected a string with minimum length 1, "
            "but got an empty string instead.",
            param="user",
            code="string_below_min_length",
        )
    if len(user) > MAX_USER_LENGTH:
        raise ApiError(
            400,
            f"Invalid 'user': string too long. Expected a string with maximum length "
            f"{MAX_USER_LENGTH}, but got a string with length {len(user)} instead.",
            param="user",
            code="string_above_max_length",
        )
    return user


@dataclass(frozen=True, slots=True)
class ListParams:
    after: str | None = None
    before: str | None = None
    limit: int = DEFAULT_LIMIT
    order: str = "desc"
    user: str | None = None


def parse_list_params(query: str, *, with_user: bool) -> ListParams:
    """Validate a list query string as the API does; unknown parameters are ignored.

    A known parameter given twice is refused (400) rather than silently picking one.
    """
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict", max_num_fields=64)
    except UnicodeDecodeError:
        raise ApiError(400, "The query string is not valid UTF-8.", code="invalid_value") from None
    except ValueError:
        raise ApiError(400, "Too many query parameters.", code="invalid_value") from None
    known = {"after", "before", "limit", "order"} | ({"user"} if with_user else set())
    values: dict[str, str] = {}
    for name, value in pairs:
        if name not in known:
            continue
        if name in values:
            raise ApiError(
                400,
                f"Duplicate query parameter '{name}': give it at most once.",
                param=name,
                code="duplicate_parameter",
            )
        values[name] = value

    params: dict[str, Any] = {}
    if "limit" in values:
        params["limit"] = _parse_limit(values["limit"])
    if "order" in values:
        order = values["order"]
        if order not in ("asc", "desc"):
            raise ApiError(
                400,
                f"Invalid value for 'order': expected one of 'asc' or 'desc', "
                f"but got {shown(order)} instead.",
                param="order",
                code="invalid_value",
            )
        params["order"] = order
    if "user" in values:
        params["user"] = check_user(values["user"])
    for cursor in ("after", "before"):
        if cursor in values:
            if not values[cursor]:
                raise ApiError(
                    400,
                    f"Invalid '{cursor}': expected an id, but got an empty string.",
                    param=cursor,
                    code="invalid_value",
                )
            params[cursor] = values[cursor]
    return ListParams(**params)


def _parse_limit(raw: str) -> int:
    if not _INTEGER.fullmatch(raw):
        raise ApiError(
            400,
            f"Invalid type for 'limit': expected an integer, but got {shown(raw)} instead.",
            param="limit",
            code="invalid_type",
        )
    digits = raw.lstrip("+-").lstrip("0") or "0"
    negative = raw.startswith("-") and digits != "0"
    value = int(digits) if len(digits) <= 9 else 10**9  # no giant int parsing
    if negative:
        raise ApiError(
            400,
            f"Invalid 'limit': integer below minimum value. Expected a value >= 0, "
            f"but got -{digits if len(digits) <= 20 else digits[:20] + '…'} instead.",
            param="limit",
            code="integer_below_min_value",
        )
    if value > MAX_LIMIT:
        raise ApiError(
            400,
            f"Invalid 'limit': integer above maximum value. Expected a value <= {MAX_LIMIT}, "
            f"but got {digits if len(digits) <= 20 else digits[:20] + '…'} instead.",
            param="limit",
            code="integer_above_max_value",
        )
    return value
