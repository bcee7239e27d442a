"""What may travel in an HTTP header, checked before a value is ever sent."""


def is_header_safe(value: str) -> bool:
    """Printable ASCII without spaces: http.client would otherwise raise with the whole header,
    key included, in its message."""
    return all(" " < ch < "\x7f" for ch in value)
