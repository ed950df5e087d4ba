"""Monitoring as code and SRE automation for the Parallel AI System."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sre")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"
