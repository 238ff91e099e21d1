"""The origins a gateway accepts codes for.

Exact hosts by default, as Chrome matches the exact origin (a code for ``example.com``
does not reach ``www.example.com``). An entry ``*.example.com`` explicitly admits every
subdomain of ``example.com`` at any depth, but not ``example.com`` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gateway.webotp.errors import FormatError, InputError
from gateway.webotp.hosts import is_ip_literal, normalise_host


@dataclass(frozen=True, slots=True, kw_only=True)
class AllowList:
    """Normalised exact hosts and wildcard bases; build it with :meth:`from_entries`."""

    exact: frozenset[str] = frozenset()
    wildcard_bases: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        for host in self.exact | self.wildcard_bases:
            _check_normalised(host)

    @classmethod
    def from_entries(cls, entries: Iterable[str]) -> AllowList:
        """Return the allow-list of ``entries`` (``"example.com"``, ``"*.example.org"``).

        Hosts are normalised like message hosts (case, IDN to punycode). Raises
        :class:`InputError` naming the entry when one is not a valid host or wildcard.
        """
        if isinstance(entries, str):
            raise InputError("entries", "not-a-list", "pass a list of hosts, not one string")
        exact: set[str] = set()
        bases: set[str] = set()
        for entry in entries:
            if not isinstance(entry, str):
                raise InputError("entries", "not-text", f"entry {entry!r} is not text")
            if "*" in entry:
                bases.add(_wildcard_base(entry))
            else:
                exact.add(_entry_host(entry, entry))
        return cls(exact=frozenset(exact), wildcard_bases=frozenset(bases))

    @property
    def entries(self) -> tuple[str, ...]:
        """Return the entries in normalised form, sorted."""
        return tuple(sorted([*self.exact, *(f"*.{b}" for b in self.wildcard_bases)]))

    def allows(self, origin: str, embedded_origin: str | None = None) -> bool:
        """Return True if ``origin`` (and ``embedded_origin``, when given) are allowed.

        Hosts are normalised first; a host that is not valid is never allowed.
        """
        if not self._allows_host(origin):
            return False
        return embedded_origin is None or self._allows_host(embedded_origin)

    def _allows_host(self, host: object) -> bool:
        """Return True if the single ``host`` matches an exact entry or a wildcard."""
        if not isinstance(host, str):
            return False
        try:
            normal = normalise_host(host)
        except FormatError:
            return False
        if normal in self.exact:
            return True
        if is_ip_literal(normal):
            return False
        labels = normal.split(".")
        return any(".".join(labels[i:]) in self.wildcard_bases for i in range(1, len(labels)))


def _entry_host(entry: str, host: str) -> str:
    """Return the normalised ``host`` of an allow-list entry, or raise naming the entry."""
    try:
        return normalise_host(host)
    except FormatError as exc:
        raise InputError(f"allow-list entry {entry!r}", exc.reason, exc.message) from exc


def _wildcard_base(entry: str) -> str:
    """Return the base domain of a ``*.domain`` entry."""
    if not entry.startswith("*.") or "*" in entry[2:]:
        raise InputError(
            f"allow-list entry {entry!r}", "bad-wildcard", "a wildcard must be '*.' + a domain"
        )
    base = _entry_host(entry, entry[2:])
    if is_ip_literal(base):
        raise InputError(
            f"allow-list entry {entry!r}", "bad-wildcard", "a wildcard must be '*.' + a domain"
        )
    if "." not in base:
        raise InputError(
            f"allow-list entry {entry!r}",
            "wildcard-too-broad",
            "a wildcard over a top-level domain admits every site in it; name a domain",
        )
    return base


def _check_normalised(host: str) -> None:
    """Raise InputError unless ``host`` is a normalised host."""
    if not isinstance(host, str) or _entry_host(host, host) != host:
        raise InputError("allow-list", "not-normalised", f"{host!r} is not a normalised host")
