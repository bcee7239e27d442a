"""The client address that log-in failures are counted against.

The socket's peer, or, when that peer is one of DJANGO_TRUSTED_PROXIES, the nearest address
in X-Forwarded-For that is not a trusted proxy. Imported by settings.py, so it imports no
models.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_trusted_proxies(entries: Iterable[str]) -> tuple[Network, ...]:
    """DJANGO_TRUSTED_PROXIES: addresses or CIDR networks; anything else stops start-up."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"DJANGO_TRUSTED_PROXIES: {entry!r} is not an IP address or network."
            ) from None
    return tuple(networks)


def parse_address(text: str) -> Address | None:
    """An IP address as proxies write it: bare, with a port, or IPv6 in brackets."""
    text = text.strip()
    if text.startswith("["):  # [2001:db8::1]:443
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # 203.0.113.7:51234
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def is_trusted_proxy(address: Address) -> bool:
    return any(address in network for network in settings.TRUSTED_PROXIES)


def client_ip(request: HttpRequest) -> str:
    """The address log-in failures are counted against (django-axes' AXES_CLIENT_IP_CALLABLE).

    X-Forwarded-For is read right to left, from the hop our own proxy added, and only while
    each hop is a trusted proxy: anything further left was written by the client and may
    be forged. An unreadable hop ends the walk at the last proxy, which is the safe side
    (lockouts then cover everyone behind that proxy).
    """
    remote = request.META.get("REMOTE_ADDR", "")
    peer = parse_address(remote)
    if peer is None or not is_trusted_proxy(peer):
        return remote
    client = peer
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = parse_address(hop)
        if address is None:
            break
        client = address
        if not is_trusted_proxy(address):
            break
    return str(client)
