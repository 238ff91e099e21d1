"""The one error hierarchy, split by whose fault it is (house style §4).

- :class:`ModemFault`: the modem (or the port under it) did something wrong or refused.
- :class:`UsageError`: we, our caller or our configuration asked for something illegal.
- :class:`RequestError`: a consumer on the socket sent a bad request.

Modules raise their own subclasses of these; each boundary translates foreign exceptions
(``serial.SerialException``, ``gsmmodem`` errors, ``OSError``) with ``raise … from exc``.
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every error otp-gateway raises on purpose."""


class ModemFault(GatewayError):
    """The modem or its port misbehaved: bad reply, timeout, error code, vanished device."""


class UsageError(GatewayError):
    """We were asked for something illegal: bad argument, bad configuration, bad state."""


class RequestError(GatewayError):
    """A consumer sent a request we cannot serve (malformed, forbidden, over a limit)."""
