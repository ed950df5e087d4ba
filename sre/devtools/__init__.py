"""Local stand-ins for running the whole pipeline on one machine: ``make demo``, the tests
and the benchmarks share them.

``fake_slack`` is a local Slack Web API server, ``synthetic`` a synthetic platform that
exports the metrics the rules and dashboards read, ``loopback`` the helpers that find free
ports, wait for servers and find Debian's binaries.
"""
