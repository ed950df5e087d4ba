"""The dead man's switch: ``feature`` (the heartbeat endpoint and the silence check),
``model`` (the webhook it accepts), ``state`` (the last heartbeat and the outages, in the
store), ``notices`` (what Slack and PagerDuty are told), ``pager`` (PagerDuty delivery
from the outbox), ``metrics``."""
