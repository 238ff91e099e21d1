"""Recorded replies of real modems, replayed verbatim by the simulator's recorded profiles.

``data/recorded-replies.json`` holds what six real devices answered to AT commands, as
the python-gsmmodem project recorded them (its ``test/fakemodems.py``; repository, file
and commit in the file's ``source``): per device, the command line as sent (carriage
return included) and the reply lines exactly as the device sent them (``\\r\\n``
included; where a device sent no final ``OK`` there is none). They are facts about
devices, used here as test data; nothing is normalised.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

#: the package file with the recordings
DATA = "data/recorded-replies.json"


@functools.cache
def _load() -> dict[str, object]:
    text = resources.files("gateway.simulator").joinpath(DATA).read_text(encoding="utf-8")
    data = json.loads(text)
    assert isinstance(data, dict)
    return data


def devices() -> tuple[str, ...]:
    """Return the names of the recorded devices (``HuaweiK3715``, ``NokiaN79``...)."""
    table = _load()["devices"]
    assert isinstance(table, dict)
    return tuple(table)


def replies(device: str) -> Mapping[str, tuple[str, ...]]:
    """Return ``command line (with its CR) -> reply lines`` of ``device``, verbatim.

    Raises KeyError for a device that was not recorded.
    """
    table = _load()["devices"]
    assert isinstance(table, dict)
    recorded = table[device]
    assert isinstance(recorded, dict)
    return MappingProxyType({line: tuple(reply) for line, reply in recorded.items()})


def replay_table(device: str) -> Mapping[str, bytes]:
    """Return ``command line (without its CR) -> the exact bytes the device answered``."""
    return MappingProxyType(
        {
            line.removesuffix("\r"): "".join(reply).encode("latin-1")
            for line, reply in replies(device).items()
        }
    )


def source() -> Mapping[str, str]:
    """Return where the recordings come from (repository, file, commit)."""
    origin = _load()["source"]
    assert isinstance(origin, dict)
    return MappingProxyType({str(k): str(v) for k, v in origin.items()})
