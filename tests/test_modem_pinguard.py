"""Tests for the rejected-PIN record: the pure rule, then the file under tmp_path."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from gateway.modem.pinguard import Decision, PinGuard, PinRecordError, SimKey, decide

KEY = SimKey(kind="iccid", value="8901260000000000011")


@pytest.mark.parametrize(
    ("rejected", "attempts", "decision"),
    [
        ((), None, Decision.SEND),
        ((), 3, Decision.SEND),
        ((), 2, Decision.SEND),
        ((), 1, Decision.LAST_ATTEMPT),
        ((), 0, Decision.LAST_ATTEMPT),
        (("h",), 3, Decision.REJECTED_BEFORE),
        (("other",), None, Decision.SEND),
        (("a", "b"), None, Decision.LAST_ATTEMPT),  # cannot count: two rejections, one left
        (("a", "b"), 2, Decision.SEND),  # the modem counts: trust it
    ],
)
def test_decide(rejected: tuple[str, ...], attempts: int | None, decision: Decision) -> None:
    """Never the same PIN twice, never the last attempt, two rejections mean one is left."""
    assert decide(rejected, "h", attempts) is decision


def test_record_survives_a_new_guard_and_holds_no_pin(tmp_path: Path) -> None:
    """A rejection written by one guard is seen by the next; the file has hashes only."""
    path = tmp_path / "record.json"
    other = SimKey(kind="iccid", value="8901260000000000999")

    async def main() -> None:
        await PinGuard(path).rejected(KEY, "24680")
        guard = PinGuard(path)
        assert await guard.decide(KEY, "24680", None) is Decision.REJECTED_BEFORE
        assert await guard.decide(KEY, "13579", None) is Decision.SEND
        assert await guard.decide(other, "24680", None) is Decision.SEND
        await guard.accepted(KEY)
        assert await PinGuard(path).decide(KEY, "24680", None) is Decision.SEND

    guard = PinGuard(path)
    asyncio.run(PinGuard(path).rejected(KEY, "24680"))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert "24680" not in json.dumps(data["sims"])
    assert guard.pin_hash(KEY, "24680") != guard.pin_hash(other, "24680")  # keyed per SIM
    asyncio.run(main())


def test_memory_only_guard_remembers_for_its_lifetime(tmp_path: Path) -> None:
    """Without a path the records live in the guard object."""
    guard = PinGuard(None)
    asyncio.run(guard.rejected(KEY, "1111"))
    assert asyncio.run(guard.decide(KEY, "1111", 3)) is Decision.REJECTED_BEFORE
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "text",
    ["{", '{"salt": "zz", "sims": {}}', '{"salt": "00", "sims": []}', "[" * 100_000],
)
def test_damaged_record_is_an_error(tmp_path: Path, text: str) -> None:
    """A damaged (or absurdly nested) file is not 'no rejections': PinRecordError names it."""
    path = tmp_path / "record.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PinRecordError, match=r"record\.json"):
        asyncio.run(PinGuard(path).decide(KEY, "1234", 3))


def test_unwritable_directory_is_an_error(tmp_path: Path) -> None:
    """A record that cannot be written raises PinRecordError (no temporary file left)."""
    path = tmp_path / "missing-dir" / "record.json"
    with pytest.raises(PinRecordError, match="cannot write"):
        asyncio.run(PinGuard(path).rejected(KEY, "1234"))
    assert not path.parent.exists()


def test_save_syncs_the_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the rename the directory itself is fsynced, so the new entry survives a crash."""
    synced: list[os.stat_result] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    asyncio.run(PinGuard(tmp_path / "record.json").rejected(KEY, "1234"))
    directory = tmp_path.stat()
    assert any(
        stat.S_ISDIR(s.st_mode) and (s.st_dev, s.st_ino) == (directory.st_dev, directory.st_ino)
        for s in synced
    )


def test_hashing_leaves_the_event_loop_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While an operation hashes, loop callbacks run; each operation reads the file once."""
    path = tmp_path / "record.json"
    reads: list[Path] = []
    real = Path.read_text

    def read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        reads.append(self)
        return real(self, *args, **kwargs)

    async def main() -> None:
        guard = PinGuard(path)
        await guard.rejected(KEY, "0000")
        monkeypatch.setattr(Path, "read_text", read_text)
        for operation in (
            guard.decide(KEY, "1234", None),
            guard.attempting(KEY, "1234"),
            guard.rejected(KEY, "1234"),
            guard.accepted(KEY),
        ):
            task = asyncio.ensure_future(operation)
            turn = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(turn.set_result, None)
            await turn  # one loop turn: a blocking hash would have finished the task
            assert not task.done()
            await task
        assert reads == [path] * 4

    asyncio.run(main())


def test_device_entries_count_for_the_iccid(tmp_path: Path) -> None:
    """Rejections kept under the device (no ICCID then) refuse and count once the ICCID reads."""
    path = tmp_path / "record.json"
    device = "/dev/ttyUSB2"
    by_device = SimKey(kind="device", value=device)

    async def main() -> None:
        guard = PinGuard(path)
        await guard.rejected(by_device, "0000")
        assert await guard.decide(KEY, "0000", None, device=device) is Decision.REJECTED_BEFORE
        sims = json.loads(path.read_text(encoding="utf-8"))["sims"]
        assert list(sims) == [KEY.text]  # migrated: the device entry is gone
        assert await PinGuard(path).decide(KEY, "0000", None) is Decision.REJECTED_BEFORE
        await guard.attempting(by_device, "1111")  # a lost reply, keyed by device
        assert await guard.decide(KEY, "2222", None, device=device) is Decision.LAST_ATTEMPT
        await guard.accepted(KEY, device=device)
        assert json.loads(path.read_text(encoding="utf-8"))["sims"] == {}
        assert json.loads(path.read_text(encoding="utf-8"))["pending"] == {}

    asyncio.run(main())


def test_sim_key_validates() -> None:
    """A key is an ICCID or a device; its label never shows the whole ICCID."""
    with pytest.raises(ValueError, match="SIM key"):
        SimKey(kind="imsi", value="1")
    assert KEY.label == "SIM …0011"
    assert SimKey(kind="device", value="/dev/ttyUSB2").label == "the SIM in /dev/ttyUSB2"
