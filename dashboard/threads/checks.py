"""System checks: configuration mistakes surface in `manage.py check`, not as a 500."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def chatkit_settings_check(app_configs: object, **kwargs: object) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if not settings.CHATKIT.api_key:
        problems.append(
            Warning(
                "OPENAI_API_KEY is not set: thread pages will show a configuration error.",
                hint="Set OPENAI_API_KEY (or OPENAI_API_KEY_FILE) in the server's environment.",
                id="chatkit.W001",
            )
        )
    base = urlsplit(settings.CHATKIT.base_url)
    if base.scheme not in ("http", "https") or not base.netloc:
        problems.append(
            Error(
                f"OPENAI_BASE_URL {settings.CHATKIT.base_url!r} is not an http(s) URL.",
                hint="Use https://api.openai.com/v1, or a compatible server's /v1 URL.",
                id="chatkit.E001",
            )
        )
    elif base.scheme == "http" and base.hostname not in ("127.0.0.1", "localhost", "::1"):
        problems.append(
            Warning(
                "OPENAI_BASE_URL is plain http to a non-local host: the API key would cross "
                "the network unencrypted.",
                id="chatkit.W002",
            )
        )
    return problems
