"""Benchmark: AT commands per second through the sans-I/O modem model alone (no pty).

Run: ``.venv/bin/python bench/simulator_model.py [--seconds 3]``. Feeds a fixed mix of
command lines a gateway sends (AT, AT+CSQ, AT+CREG?, AT+CPMS?, AT+CMGR, AT+CMGL=4 on a
store of 5 SMS, AT+CMGS with a PDU, compound init lines) into one ModemModel, echo off,
in instant timing, and counts commands answered per wall-clock second. Target >= 10,000.
"""

from __future__ import annotations

import argparse
import time

from gateway.simulator import inject
from gateway.simulator.model import ModemModel
from gateway.sms import pdu as pducodec


def workload() -> list[tuple[bytes, int]]:
    """Return (bytes to feed, commands they contain)."""
    part = pducodec.encode_submit("+15550009999", "@example.com #123456")[0]
    return [
        (b"AT\r", 1),
        (b"AT+CSQ\r", 1),
        (b"AT+CREG?\r", 1),
        (b"AT+CPMS?\r", 1),
        (b"AT+CMGR=1\r", 1),
        (b"AT+CMGL=4\r", 1),
        (b"AT+CMEE=1;+CREG=2;+CNMI=2,1,0,2,0\r", 3),
        (f"AT+CMGS={part.tpdu_length}\r".encode() + part.hex.encode() + b"\x1a", 1),
    ]


def run(seconds: float) -> tuple[int, float]:
    """Feed the workload repeatedly for about ``seconds``; return (commands, elapsed)."""
    model = ModemModel()
    model.receive_data(b"ATE0\r", 0.0)
    for i in range(5):
        inject.inject_sms(model, f"stored message {i}", 0.0)
    model.take_output()
    mix = workload()
    commands = 0
    start = time.perf_counter()
    now = 0.0
    while (elapsed := time.perf_counter() - start) < seconds:
        for data, count in mix:
            now += 0.001
            model.receive_data(data, now)
            model.scheduler.run_due(now)
            if not model.take_output():
                raise RuntimeError(f"no reply to {data!r}")
            commands += count
    return commands, elapsed


def main() -> None:
    """Print commands/s of the model with how the figure was obtained."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    options = parser.parse_args()
    commands, elapsed = run(options.seconds)
    rate = commands / elapsed
    print(
        f"simulator model: {rate:,.0f} commands/s "
        f"({commands} commands in {elapsed:.2f} s, one ModemModel, echo off, instant timing, "
        f"mix AT/CSQ/CREG?/CPMS?/CMGR/CMGL=4 (5 stored)/compound init/CMGS with PDU) "
        f"target >= 10,000: {'met' if rate >= 10_000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
