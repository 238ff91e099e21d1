"""Fixtures and helpers for testing against the simulator (house style §11).

``gateway.testing.peers`` runs programs we did not write (gammu, gammu-smsd, smstools'
smsd) against a simulated modem: config rendering and process lifetime;
``gateway.testing.watch`` waits for the files they write.
"""
