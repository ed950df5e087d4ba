"""Alertmanager webhooks to Slack, durable, threaded and interactive.

``feature`` (the wiring of the parts below), ``model`` (the alert group, parsed once at the
edge), ``receiver`` (``POST /alertmanager``), ``state`` (groups, messages, the outbox
topic), ``delivery`` (the outbox worker: alert groups and every feature's notices),
``messages`` (Slack Block Kit, pure), ``actions`` and ``signature`` (``POST
/slack/actions``), ``metrics``.
"""
