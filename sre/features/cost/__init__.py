"""AWS cost analysis: ``feature`` (fetch, judge, publish), ``state`` (the cache of Cost
Explorer answers), ``metrics``, ``notices`` (anomalies and budget breaches)."""
