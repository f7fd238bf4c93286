"""Every outbound HTTP call kassa makes (hooks, validations, actions, notifications).

One guarded POST: the URL must be absolute http(s) without user info; the host is resolved once
and every address must pass the SSRF rules (semantics §12); the connection goes to a checked
address while ``Host`` and TLS SNI keep the name; redirects are never followed; the response
body is read up to a cap; every call is signed the Standard Webhooks way (§7.5).

The one exception to the SSRF rules (adapters.md §1.2): a URL on the origin of
``adapter_callback_base_url`` below the prefix of an adapter mounted in this process is handed to
the application in-process (``Loopback``: no DNS, no socket); any other URL on that origin is
refused. Signing, timeouts, size limits, outcomes and metrics are the same either way.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
from starlette.types import ASGIApp

from kassa import __version__, ids, loopback
from kassa.delivery.results import CallResult
from kassa.delivery.transport import PerDestinationTransport
from kassa.metrics import OUTBOUND_CALLS, OUTBOUND_DURATION

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL = 2048
_VETOING = {"hook", "validation"}

_ALWAYS_REFUSED = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "169.254.0.0/16",
        "100.100.100.200/32",
        "::/128",
        "fe80::/10",
        "fd00:ec2::254/128",
        "224.0.0.0/4",
        "ff00::/8",
        "255.255.255.255/32",
    )
]
_REFUSED_HOSTS = {"metadata.google.internal", "metadata.goog"}
_PRIVATE = [
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
    )
]


class URLRefused(Exception):
    """The destination is not allowed (semantics §12)."""


@dataclass(frozen=True)
class AllowList:
    """The ``outbound_allow`` setting: empty (public only), ``*``, or names/wildcards/CIDRs."""

    everything: bool = False
    hosts: tuple[str, ...] = ()
    suffixes: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, value: str) -> AllowList:
        entries = [e.strip().lower() for e in value.split(",") if e.strip()]
        if "*" in entries:
            return cls(everything=True)
        hosts, suffixes, networks = [], [], []
        for entry in entries:
            if entry.startswith("*."):
                suffixes.append(entry[1:])
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.append(entry)
        return cls(False, tuple(hosts), tuple(suffixes), tuple(networks))

    @property
    def empty(self) -> bool:
        return not (self.everything or self.hosts or self.suffixes or self.networks)

    def host_listed(self, host: str) -> bool:
        return host in self.hosts or any(host.endswith(s) for s in self.suffixes)


def _normalise(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _in(address: IPAddress, networks: Iterable[IPNetwork]) -> bool:
    return any(address.version == n.version and address in n for n in networks)


def check_destination(host: str, addresses: Sequence[IPAddress], allow: AllowList) -> None:
    """Raise ``URLRefused`` unless every resolved address of ``host`` may be called."""
    if host.lower().rstrip(".") in _REFUSED_HOSTS:
        raise URLRefused(f"host {host} is never allowed")
    if not addresses:
        raise URLRefused(f"host {host} has no address")
    normalised = [_normalise(a) for a in addresses]
    for address in normalised:
        if _in(address, _ALWAYS_REFUSED):
            raise URLRefused(f"address {address} is never allowed")
    if allow.everything:
        return
    if allow.empty:
        for address in normalised:
            if _in(address, _PRIVATE) or not address.is_global:
                raise URLRefused(f"address {address} is not public")
        return
    if allow.host_listed(host.lower().rstrip(".")):
        return
    if allow.networks and all(_in(a, allow.networks) for a in normalised):
        return
    raise URLRefused(f"{host} is not in the outbound allowlist")


@dataclass(frozen=True)
class Target:
    url: str  # the URL to connect to (host replaced by a checked address)
    host_header: str
    sni: str | None


async def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectionError(f"cannot resolve {host}: {exc}") from exc
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def prepare(url: str, allow: AllowList) -> Target:
    """Check ``url`` and pin it to a checked address (no second lookup when connecting)."""
    if len(url) > MAX_URL:
        raise URLRefused("URL longer than 2048 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise URLRefused(f"invalid URL: {exc}") from exc
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise URLRefused("URL must be absolute http(s) with a host")
    if parts.username is not None or parts.password is not None:
        raise URLRefused("URL must not contain user info")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    if host.rstrip(".") in _REFUSED_HOSTS:  # refused by name, before any lookup
        raise URLRefused(f"host {host} is never allowed")
    addresses = await _resolve(host, port)
    check_destination(host, addresses, allow)
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{port}"
    default_port = (parts.scheme == "https" and port == 443) or (
        parts.scheme == "http" and port == 80
    )
    host_for_header = f"[{host}]" if ":" in host else host
    host_header = host_for_header if default_port else f"{host_for_header}:{port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    is_name = not _is_ip(host)
    return Target(pinned, host_header, host if parts.scheme == "https" and is_name else None)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return (
        parts.scheme,
        parts.hostname.lower().rstrip("."),
        port or (443 if parts.scheme == "https" else 80),
    )


@dataclass(frozen=True)
class Loopback:
    """The in-process callback origin: ``app`` is the application itself."""

    base_url: str  # adapter_callback_base_url
    prefixes: tuple[str, ...]  # path prefixes of the adapters mounted in this process
    app: ASGIApp

    def resolve(self, url: str) -> str | None:
        """``None``: not on this origin. Else the URL to hand the application (a path of
        ``base_url`` taken off), when it lies below a mounted adapter's prefix; ``URLRefused``
        when it does not."""
        origin = _origin(self.base_url)
        if origin is None or _origin(url) != origin:
            return None
        if len(url) > MAX_URL:
            raise URLRefused("URL longer than 2048 characters")
        parts = urlsplit(url)
        base = urlsplit(self.base_url).path.rstrip("/")
        path = parts.path
        if base and not (path == base or path.startswith(base + "/")):
            raise URLRefused("not the URL of an adapter mounted here")
        path = path[len(base) :]
        if not any(path == p or path.startswith(p + "/") for p in self.prefixes):
            raise URLRefused("not the URL of an adapter mounted here")
        return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def _result(status: int, content: bytes, headers: Mapping[str, str], max_bytes: int) -> CallResult:
    if len(content) > max_bytes:
        return CallResult(
            status,
            content[:max_bytes],
            f"response larger than {max_bytes} bytes",
            "too-large",
            0,
            headers,
        )
    if 200 <= status < 300:
        return CallResult(status, content, None, None, 0, headers)
    return CallResult(status, content, f"HTTP {status}", "http-error", 0, headers)


# Signing (Standard Webhooks) ------------------------------------------------------------------


def secret_key(secret: str) -> bytes:
    encoded = secret.removeprefix("whsec_")
    return base64.b64decode(encoded)


def sign(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    content = f"{message_id}.{timestamp}.".encode() + body
    signatures = []
    for secret in secrets:
        digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
        signatures.append("v1," + base64.b64encode(digest).decode())
    return " ".join(signatures)


# The call -------------------------------------------------------------------------------------


class Outbound:
    """Makes guarded, signed POSTs. One per process; holds the HTTP connection pool."""

    def __init__(
        self,
        allow: AllowList,
        transport: httpx.AsyncBaseTransport | None = None,
        loopback: Loopback | None = None,
    ):
        self.allow = allow
        self.loopback = loopback
        # one pool per (address, port, TLS name): a connection verified for one host name is
        # never reused for another name on the same address
        self.client = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            transport=transport or PerDestinationTransport(per_destination=32),
            timeout=None,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def post(
        self,
        url: str,
        body: bytes,
        *,
        kind: str,
        headers: dict[str, str],
        secrets: Sequence[str],
        timeout_s: float,
        max_bytes: int,
        message_id: str | None = None,
    ) -> CallResult:
        started = time.perf_counter()
        result = await self._post(
            url, body, headers, secrets, timeout_s, max_bytes, message_id or ids.new_id("msg_")
        )
        elapsed = time.perf_counter() - started
        result.duration_ms = int(elapsed * 1000)
        outcome: str = result.reason or ("success" if result.ok else "http-error")
        if result.reason == "too-large":
            outcome = "invalid-response"
        elif kind in _VETOING and result.status is not None and 400 <= result.status < 500:
            outcome = "rejected"  # a hook's or validation's 4xx is an answer, not a fault
        OUTBOUND_CALLS.labels(kind, outcome).inc()
        OUTBOUND_DURATION.labels(kind).observe(elapsed)
        return result

    async def _post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        secrets: Sequence[str],
        timeout_s: float,
        max_bytes: int,
        message_id: str,
    ) -> CallResult:
        try:
            async with asyncio.timeout(timeout_s):
                try:
                    local = self.loopback.resolve(url) if self.loopback is not None else None
                    target = None if local is not None else await prepare(url, self.allow)
                except URLRefused as exc:
                    return CallResult(None, b"", f"url-not-allowed: {exc}", "url-not-allowed", 0)
                timestamp = int(time.time())
                send_headers = {
                    "Content-Type": "application/json",
                    "User-Agent": f"kassa/{__version__}",
                    **headers,
                    "webhook-id": message_id,
                    "webhook-timestamp": str(timestamp),
                }
                if secrets:
                    send_headers["webhook-signature"] = sign(secrets, message_id, timestamp, body)
                if local is not None:
                    assert self.loopback is not None
                    answer = await loopback.call(
                        self.loopback.app, "POST", local, content=body, headers=send_headers
                    )
                    return _result(answer.status_code, answer.content, answer.headers, max_bytes)
                assert target is not None
                send_headers["Host"] = target.host_header
                extensions = {"sni_hostname": target.sni} if target.sni else {}
                request = self.client.build_request(
                    "POST", target.url, content=body, headers=send_headers, extensions=extensions
                )
                response = await self.client.send(request, stream=True)
                try:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        chunks.append(chunk)
                        if size > max_bytes:
                            break
                finally:
                    await response.aclose()
                return _result(response.status_code, b"".join(chunks), response.headers, max_bytes)
        except TimeoutError:
            return CallResult(None, b"", f"timeout after {timeout_s:g} s", "timeout", 0)
        except (httpx.HTTPError, ConnectionError, OSError) as exc:
            message = str(exc) or type(exc).__name__
            if "refused" in message.lower():
                message = "connection refused"
            return CallResult(None, b"", message, "network-error", 0)
