"""The Unix-socket relay: local programs get their codes, and nobody else does.

``protocol`` (JSON-lines codec) and ``broker`` (``navigator.credentials.get`` semantics)
are sans-I/O; ``access`` decides who may do what; ``server`` is the asyncio shell;
``client`` is the library consumers use; ``ports`` are the daemon's side of the contract.
"""
