"""Fixtures and helpers for testing against the simulator (house style §11).

``gateway.testing.peers`` runs programs we did not write (gammu, gammu-smsd, smstools'
smsd) against a simulated modem: config rendering and process lifetime;
``gateway.testing.watch`` waits for the files they write (inotify through
``gateway.inotify``).
``gateway.testing.daemon`` runs a real gateway on the simulator for your own tests
(:func:`running_gateway`, :func:`simulated_gateway`, re-exported here).
"""

from gateway.testing.daemon import (
    AsyncGatewayHandle,
    GatewayHandle,
    running_gateway,
    simulated_gateway,
)

__all__ = ["AsyncGatewayHandle", "GatewayHandle", "running_gateway", "simulated_gateway"]
