"""Reading TOML tables with errors that name the dotted key path.

:class:`Table` wraps one parsed TOML table and its path (``modem[0]``, ``relay.access[2]``).
Each typed accessor records the key as known, checks type and range, and raises
:class:`ConfigError` with one message ``<path>.<key>: <problem>``. :meth:`Table.done`
rejects keys nobody asked for, so a typo is an error rather than a silent default.
The ``to_*`` converters check one value each and raise ``ValueError`` with the problem,
which :meth:`Table.get` turns into a keyed :class:`ConfigError`.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from gateway.config.errors import ConfigError
from gateway.errors import UsageError
from gateway.log import Secret
from gateway.numbers import NUMBER_TYPES, is_region
from gateway.ratelimit import Rate
from gateway.sms.address import parse_sender_entry

T = TypeVar("T")

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")  # TOML v1.0.0 "Keys": bare keys
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def shown(value: object) -> str:
    """Render a TOML value the way it would be written in the file, for error messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def parse_duration(value: object) -> float:
    """Parse seconds from a number (``600``) or a string with a unit (``"10min"``, ``"7d"``).

    Returns seconds (non-negative); raises :class:`ValueError` describing the form.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    else:
        raise ValueError(f'expected a duration like 600 or "10min", got {shown(value)}')
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"expected a non-negative finite duration, got {shown(value)}")
    return seconds


class Table:
    """One TOML table being read, with its path for error messages."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"expected a table, got {shown(data)}")
        self._data: Mapping[str, object] = data
        self.path = path
        self._known: set[str] = set()

    def key(self, name: str) -> str:
        """Return the dotted path of ``name`` in this table (quoted unless a bare key)."""
        if not _BARE_KEY.match(name):
            name = json.dumps(name, ensure_ascii=False)
        return f"{self.path}.{name}" if self.path else name

    def has(self, name: str) -> bool:
        """Return True when the file sets ``name`` in this table."""
        return name in self._data

    def get(self, name: str, default: T, convert: Callable[[object], T]) -> T:
        """Read ``name`` with ``convert`` (which raises ValueError with the problem)."""
        self._known.add(name)
        if name not in self._data:
            return default
        try:
            return convert(self._data[name])
        except ValueError as exc:
            raise ConfigError(self.key(name), str(exc)) from None

    def text(self, name: str, default: str | None, *, choices: tuple[str, ...] = ()) -> str:
        """Read a non-empty string (one of ``choices`` if given); required when no default."""

        def convert(value: object) -> str:
            if not isinstance(value, str):
                raise ValueError(f"expected a string, got {shown(value)}")
            if not value:
                raise ValueError("must not be empty")
            if choices and value not in choices:
                raise ValueError(f"expected one of {', '.join(choices)}, got {shown(value)}")
            return value

        return self._required(name, default, convert)

    def optional_text(self, name: str) -> str | None:
        """Read a non-empty string, or None when absent."""
        if name not in self._data:
            self._known.add(name)
            return None
        return self.text(name, None)

    def raw_keys(self) -> tuple[str, ...]:
        """Return the keys the file sets in this table (for free-form tables)."""
        return tuple(self._data)

    def integer(self, name: str, default: int | None, *, low: int, high: int) -> int:
        """Read an integer in ``low..high``; required when no default."""

        def convert(value: object) -> int:
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"expected an integer, got {shown(value)}")
            if not low <= value <= high:
                raise ValueError(f"must be between {low} and {high}, got {value}")
            return value

        return self._required(name, default, convert)

    def flag(self, name: str, default: bool) -> bool:
        """Read a boolean."""

        def convert(value: object) -> bool:
            if not isinstance(value, bool):
                raise ValueError(f"expected true or false, got {shown(value)}")
            return value

        return self.get(name, default, convert)

    def duration(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        """Read a duration in seconds (see :func:`parse_duration`) of at least ``minimum``."""

        def convert(value: object) -> float:
            seconds = parse_duration(value)
            if seconds < minimum:
                raise ValueError(f"must be at least {minimum:g} s, got {shown(value)}")
            return seconds

        return self.get(name, default, convert)

    def strings(
        self, name: str, default: tuple[str, ...], check: Callable[[str], str] | None = None
    ) -> tuple[str, ...]:
        """Read an array of non-empty strings, each passed through ``check`` if given."""

        def convert(value: object) -> tuple[str, ...]:
            if not isinstance(value, list):
                raise ValueError(f"expected an array of strings, got {shown(value)}")
            items = []
            for i, item in enumerate(value):
                if not isinstance(item, str) or not item:
                    raise ValueError(f"item {i}: expected a non-empty string, got {shown(item)}")
                try:
                    items.append(check(item) if check else item)
                except ValueError as exc:
                    raise ValueError(f"item {i}: {exc}") from None
            return tuple(items)

        return self.get(name, default, convert)

    def table(self, name: str) -> Table:
        """Return the sub-table ``name`` (empty when absent)."""
        self._known.add(name)
        return Table(self._data.get(name, {}), self.key(name))

    def tables(self, name: str) -> list[Table]:
        """Return the array of tables ``name`` (``[[name]]``), empty when absent."""
        self._known.add(name)
        value = self._data.get(name, [])
        if not isinstance(value, list):
            raise ConfigError(self.key(name), f"expected an array of tables, got {shown(value)}")
        return [Table(item, f"{self.key(name)}[{i}]") for i, item in enumerate(value)]

    def raw(self, name: str) -> object:
        """Return the raw value of ``name`` (None when absent), marking it known."""
        self._known.add(name)
        return self._data.get(name)

    def done(self) -> None:
        """Raise :class:`ConfigError` for the first key this table does not know."""
        for name in self._data:
            if name not in self._known:
                close = difflib.get_close_matches(name, sorted(self._known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(self.key(name), f"unknown key{hint}")

    def build(self, factory: Callable[..., T], **fields: Any) -> T:
        """Call ``factory(**fields)`` after :meth:`done`; prefix errors with this path.

        The dataclasses raise ``ConfigError(field, problem)`` from ``__post_init__``.
        """
        self.done()
        try:
            return factory(**fields)
        except ConfigError as exc:
            where = f"{self.path}.{exc.key}" if self.path else exc.key
            raise ConfigError(where, exc.problem) from None

    def _required(self, name: str, default: T | None, convert: Callable[[object], T]) -> T:
        if default is None and name not in self._data:
            self._known.add(name)
            raise ConfigError(self.key(name), "required key is missing")
        value = self.get(name, default, convert)
        assert value is not None  # default is not None or the key was present
        return value


OPERATIONS = ("get", "subscribe", "send", "status")
MEMORIES = ("SM", "ME", "MT", "SR")  # TS 27.005 §3.1 <mem1>..<mem3> values


def to_pin(value: object) -> Secret:
    """Return the pin in ``value``; raises ValueError naming the problem."""
    # TS 31.101 §9.1: a PIN is 4 to 8 digits. Never echo it in the error.
    if not isinstance(value, str) or not value.isdigit() or not 4 <= len(value) <= 8:
        raise ValueError('expected a quoted 4-8 digit PIN, like "1234"')
    return Secret(value)


def to_path(value: object) -> Path:
    """Return the path in ``value``; raises ValueError naming the problem."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a path string, got {shown(value)}")
    if not value.startswith("/"):
        raise ValueError(f"expected an absolute path, got {shown(value)}")
    return Path(value)


def to_mode(value: object) -> int:
    """Return the mode in ``value``; raises ValueError naming the problem."""
    if isinstance(value, str) and value.isdigit() and set(value) <= set("01234567"):
        mode = int(value, 8)
        if mode <= 0o777:
            return mode
    raise ValueError(f'expected an octal mode string like "0660", got {shown(value)}')


def to_memory(value: str) -> str:
    """Return the memory in ``value``; raises ValueError naming the problem."""
    if value not in MEMORIES:
        raise ValueError(f"expected one of {', '.join(MEMORIES)}, got {shown(value)}")
    return value


def to_region(value: str) -> str:
    """Return the region in ``value``; raises ValueError naming the problem."""
    if not is_region(value):
        raise ValueError(f'expected an ISO 3166 country code like "US", got {shown(value)}')
    return value


def to_number_type(value: str) -> str:
    """Return the number type in ``value``; raises ValueError naming the problem."""
    if value not in NUMBER_TYPES:
        raise ValueError(f"expected one of {', '.join(NUMBER_TYPES)}, got {shown(value)}")
    return value


def to_rate(value: str) -> str:
    """Return the rate in ``value``; raises ValueError naming the problem."""
    try:
        Rate.parse(value)
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    return value


def to_sender(value: str) -> str:
    """Return the SMS sender allow-list entry in ``value``; raises ValueError naming the problem.

    An entry is an address, optionally prefixed by its kind (TS 23.040 §9.1.2.5 type of
    number): ``international:``, ``national:``, ``short:`` or ``alphanumeric:``. Without
    a prefix "+" and digits is international, up to 8 digits a short code, more digits
    national, anything else an alphanumeric name of at most 11 characters.
    """
    try:
        parse_sender_entry(value)
    except ValueError as exc:
        raise ValueError(f"{exc}, got {shown(value)}") from None
    return value


def to_operation(value: str) -> str:
    """Return the operation in ``value``; raises ValueError naming the problem."""
    if value not in OPERATIONS:
        raise ValueError(f"expected one of {', '.join(OPERATIONS)}, got {shown(value)}")
    return value
