"""otp-gateway against gammu-smsd and smstools' smsd on the same simulated modem.

Run ``.venv/bin/python -m bench.peers [--quick]`` from the repository root; bench/README.md
says what is measured and how. Modules: ``stats`` (pure figures and tables), ``system``
(/proc, machine facts, versions, setup), ``inotify`` (event-driven file timestamps),
``programs``/``ours`` (the programs under test), ``measure`` (the measurements),
``runner`` (sessions and the idle phase), ``report`` (markdown, JSON, plot).
"""
