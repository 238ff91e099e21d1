"""Tests of gateway.inotify: the libc watch and the split of a read into events."""

from __future__ import annotations

import os
import select
import struct
from pathlib import Path

import pytest

from gateway.inotify import (
    IN_CLOSE_WRITE,
    IN_MOVED_TO,
    IN_OPEN,
    WatchError,
    open_watch,
    parse_events,
    read_events,
)
from gateway.testing import watch
from gateway.testing.peers import PeerError


def event(mask: int, name: bytes = b"", *, padded: int = 0) -> bytes:
    """Return one struct inotify_event as the kernel writes it (name NUL-padded)."""
    field = name + b"\0" * padded
    return struct.pack("iIII", 1, mask, 0, len(field)) + field


def test_parse_events_splits_a_read_into_masks_and_names() -> None:
    """Each event of a read gives its mask and name, padding stripped, in order."""
    data = (
        event(IN_CLOSE_WRITE, b"OUTA_1.txt", padded=6)
        + event(IN_OPEN)
        + event(IN_MOVED_TO, "m\u00e9".encode(), padded=13)
    )
    assert parse_events(data) == [
        (IN_CLOSE_WRITE, "OUTA_1.txt"),
        (IN_OPEN, ""),
        (IN_MOVED_TO, "mé"),
    ]


def test_parse_events_of_nothing_is_nothing() -> None:
    """An empty read holds no event."""
    assert parse_events(b"") == []


def test_read_events_sees_a_file_closed_and_one_renamed_in(tmp_path: Path) -> None:
    """A real watch reports a file written and closed, then one renamed into the directory."""
    fd = open_watch(tmp_path, IN_CLOSE_WRITE | IN_MOVED_TO)
    try:
        assert read_events(fd) == []  # nothing yet: no blocking, no event
        (tmp_path / "written").write_text("x")
        (tmp_path.parent / f"{tmp_path.name}.tmp").write_text("y")
        os.rename(tmp_path.parent / f"{tmp_path.name}.tmp", tmp_path / "renamed")
        seen: list[tuple[int, str]] = []
        while len(seen) < 2 and select.select([fd], [], [], 10.0)[0]:
            seen += read_events(fd)
    finally:
        os.close(fd)
    assert seen == [(IN_CLOSE_WRITE, "written"), (IN_MOVED_TO, "renamed")]


def test_open_watch_on_a_missing_path_names_it(tmp_path: Path) -> None:
    """Watching a path that does not exist raises WatchError naming the path and reason."""
    missing = tmp_path / "missing"
    with pytest.raises(WatchError, match=f"cannot watch {missing}: No such file"):
        open_watch(missing, IN_CLOSE_WRITE)


def test_directory_watch_reports_a_missing_directory_as_peer_error(tmp_path: Path) -> None:
    """gateway.testing.watch turns the watch's failure into PeerError, naming the path."""
    missing = tmp_path / "missing"
    with pytest.raises(PeerError, match=f"cannot watch {missing}"), watch.DirectoryWatch(missing):
        pass
