"""Where a webhook may point: https, and a public address (ADR 0028).

A webhook URL is an agency's input that makes notify open a connection. Left alone it is a way into the
deployment's own network: the cloud metadata service, FerretDB on 27017, another service's port on loopback. So a
URL is checked when it is registered and again before every attempt, after its name is resolved, and the
connection goes to the address that was checked (never resolved a second time: a name that answers a public
address to the check and 127.0.0.1 to the connect, "DNS rebinding", has nothing to slip through).

Refused: every address that is not globally routable — loopback, private (RFC 1918), link-local (the metadata
services live there), unique-local, multicast, unspecified, carrier-grade NAT, reserved, documentation — and the
known metadata addresses by name; an IPv6 address carrying an IPv4 one (``::ffff:127.0.0.1``) is judged by the
IPv4 address. A name is refused if any address it resolves to is. Only the ``allowed`` networks (a setting) pass
anyway: the tests' receivers on 127.0.0.1, an agency's endpoint on a private link.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# metadata services answer on these whatever the range they sit in says (AWS, GCP, Azure, OpenStack: the
# link-local one; AWS over IPv6; Alibaba Cloud; Oracle Cloud)
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192"))
CGNAT = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598: neither private nor global to Python's ipaddress


class ForbiddenTarget(Exception):
    """A URL notify will not call; ``reason`` is said to the agency and written in the delivery log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Resolver(Protocol):
    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address ``host`` has for TCP, as text; an empty list or OSError: none."""
        ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo, off the event loop)."""

    async def resolve(self, host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def why_forbidden(address: IPAddress) -> str | None:
    """Why a connection to ``address`` is refused, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        inner = why_forbidden(address.ipv4_mapped)
        return f"{inner} (IPv4-mapped)" if inner else None
    if address in METADATA:
        return "a cloud metadata address"
    for test, what in ((address.is_unspecified, "an unspecified address"), (address.is_loopback, "a loopback address"),
                       (address.is_link_local, "a link-local address"), (address.is_multicast, "a multicast address"),
                       (address in CGNAT, "a carrier-grade NAT address")):
        if test:
            return what
    if isinstance(address, ipaddress.IPv6Address):
        if address in ipaddress.ip_network("fc00::/7"):
            return "a unique-local address"
        if address.is_site_local:
            return "a site-local address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"
    return None


def networks(text: str | Iterable[str]) -> tuple[Network, ...]:
    """The allow-list setting: networks (``127.0.0.1/32``) or addresses, comma-separated or listed."""
    items = text.split(",") if isinstance(text, str) else text
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


@dataclass(frozen=True)
class Target:
    """A checked URL: what to connect to (``address``) and what to say to it (``url``, ``host`` for the Host
    header and TLS's server name)."""

    url: httpx.URL
    host: str
    address: str
    is_name: bool  # the URL names a host (TLS checks its certificate against the name) rather than an address

    def connect_url(self) -> httpx.URL:
        """The URL with the checked address in place of the name: the connection goes where the check looked."""
        return self.url.copy_with(host=self.address)


class Targets:
    def __init__(self, *, allow_http: bool = False, allowed: Iterable[Network] = (),
                 resolver: Resolver | None = None) -> None:
        self.allow_http = allow_http
        self.allowed = tuple(allowed)
        self.resolver: Resolver = resolver or SystemResolver()

    def _permitted(self, address: IPAddress) -> str | None:
        plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped else address
        if any(plain in net or address in net for net in self.allowed):
            return None
        return why_forbidden(address)

    def check_form(self, raw: str) -> httpx.URL:
        """What can be said of the URL without resolving it."""
        try:
            url = httpx.URL(raw)
        except (httpx.InvalidURL, TypeError) as exc:
            raise ForbiddenTarget("not a URL") from exc
        if url.scheme != "https" and not (url.scheme == "http" and self.allow_http):
            raise ForbiddenTarget("the URL must be https")
        if not url.host:
            raise ForbiddenTarget("the URL names no host")
        if url.userinfo:
            raise ForbiddenTarget("the URL must not carry a user name or password")
        return url

    async def check(self, raw: str) -> Target:
        """The URL's target, checked; ForbiddenTarget says why not. A name is resolved here, and every address it
        has must be permitted (one bad address among good ones is refused too: which one a connect would take
        is not ours to choose)."""
        url = self.check_form(raw)
        host = url.host
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            reason = self._permitted(literal)
            if reason:
                raise ForbiddenTarget(f"{host} is {reason}")
            return Target(url, host, str(literal), is_name=False)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            found = await self.resolver.resolve(host, port)
        except (OSError, UnicodeError):
            found = []
        addresses = []
        for text in found:
            try:
                addresses.append(ipaddress.ip_address(text.split("%", 1)[0]))  # a zone (fe80::1%eth0) is dropped
            except ValueError:
                continue
        # "does not resolve" and "resolves inward" read alike: the answer tells nothing of the internal names
        if not addresses or any(self._permitted(a) for a in addresses):
            raise ForbiddenTarget(f"{host} does not resolve to a public address")
        return Target(url, host, str(addresses[0]), is_name=True)
