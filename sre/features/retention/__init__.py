"""The start-up retention check: ``feature`` (ask Prometheus, judge, say it once),
``window`` (the longest window the rules read), ``metrics``."""
