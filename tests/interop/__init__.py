"""Interop tests: gammu, gammu-smsd, smsd and python-gsmmodem against the simulator."""
