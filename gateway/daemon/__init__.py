"""The daemon: composition (:class:`Gateway`), lifecycle and signals, ``run --simulate``.

``gateway.daemon.app`` composes the journal, modem sessions, pipelines, send queue and
relay; ``lifecycle`` runs it under signals; ``timers`` pets the systemd watchdog and
purges the journal; ``status`` renders health; ``wiring`` maps settings to component
configurations; ``simulate`` sets up a gateway on the built-in simulator.
"""

from gateway.daemon.app import DaemonFailed, Gateway

__all__ = ["DaemonFailed", "Gateway"]
