"""Benchmark: what the journal's "is my file still at its path?" check costs per write.

Every journal write, and every deletion of an SMS from the modem, first compares the
device and inode of the open database and ``-wal`` files with their paths (two
``stat`` calls, :mod:`gateway.journal.health`). This prints that check's cost next to
a whole ``record_pdu`` (a commit with ``synchronous=FULL``) on the same disk. Run:

    .venv/bin/python bench/journal_identity.py [--checks 20000] [--records 300] [--dir /var/tmp]
"""

from __future__ import annotations

import argparse
import tempfile
import timeit
from itertools import count
from pathlib import Path

from gateway.journal import SqliteJournal


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--dir", type=Path, default=None, help="where the journal goes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as where:
        journal = SqliteJournal.in_state_dir(
            Path(where), body_retention=86400.0, code_retention=86400.0
        )
        check = timeit.timeit(journal.durable, number=args.checks) / args.checks
        numbers = count()

        def record() -> None:
            pdu = f"00{next(numbers):08X}"
            journal.record_pdu(modem="m", memory="SM", index=1, pdu_hex=pdu, now=1.0)

        per_record = timeit.timeit(record, number=args.records) / args.records
        journal.close()
    print(f"journal in {where} ({args.checks} checks, {args.records} records)")
    print(f"identity check (durable()): {check * 1e6:8.1f} us")
    print(f"record_pdu (commit, FULL):  {per_record * 1e3:8.2f} ms")
    print(f"check / record:             {check / per_record * 100:8.2f} %")


if __name__ == "__main__":
    main()
