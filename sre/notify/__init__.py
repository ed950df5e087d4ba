"""Notifications: the Alertmanager webhook model, Slack message formatting, signatures.

Pure code only (no I/O): the daemon's routes parse with ``payload``, the Slack client in
``sre/clients`` sends what ``slack_format`` builds.
"""
