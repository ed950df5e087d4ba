"""Security alerts, defined precisely (docs/rules-and-alerts.md and the runbooks repeat them).

* SecurityAuthFailureSpike: a service's 401+403 share of all requests over 5m is above
  ``thresholds.auth_failure_ratio_above`` AND its 401+403 rate is above
  ``thresholds.auth_failure_min_rate`` req/s, for 5 minutes.
* SecurityTrafficAnomaly: a service's request rate over 5m is above
  ``thresholds.traffic_anomaly_ratio`` x its rate at the same time one week earlier
  (``offset 1w``) AND above ``thresholds.traffic_anomaly_min_rate`` req/s, for 10 minutes.
  Last week's rate counts as at least ``traffic_anomaly_min_rate``, so a week that was quiet
  (0 req/s) does not make every request an anomaly. No series a week ago (a new service)
  means no alert.
* SecuritySingleSourceDominant: one client in ``http_requests_by_client_total`` sends more
  than ``thresholds.single_source_share_above`` of a service's requests over 5m while the
  service gets more than ``thresholds.traffic_anomaly_min_rate`` req/s, for 10 minutes.
"""

from __future__ import annotations

from sre import catalog
from sre.config import Config
from sre.config.durations import Duration
from sre.model import Alert, RuleGroup
from sre.promql import num, sel

from ._common import AlertFactory

FILE = "security"
DASHBOARD = "service-performance"


def security_alerts(cfg: Config, make: AlertFactory) -> list[Alert]:
    t = cfg.thresholds
    by_client = f"rate({catalog.HTTP_REQUESTS_BY_CLIENT}{sel(cfg.selectors.applications)}[5m])"
    min_rate = num(t.traffic_anomaly_min_rate)
    return [
        make(
            "SecurityAuthFailureSpike",
            f"{catalog.AUTH_FAILURE_RATIO} > {num(t.auth_failure_ratio_above)}\n"
            "and on (service)\n"
            f'sum by (service) ({catalog.CODE_RATE}{{code=~"401|403"}})'
            f" > {num(t.auth_failure_min_rate)}",
            severity="warning",
            summary="A spike of 401/403 responses",
            description=(
                "{{ $labels.service }} answered {{ $value | humanizePercentage }} of its "
                "requests with 401 or 403 over 5m (threshold "
                f"{num(t.auth_failure_ratio_above)}, at more than "
                f"{num(t.auth_failure_min_rate)} req/s): credential stuffing, a leaked or "
                "revoked key, or a broken client."
            ),
            for_=Duration.of(minutes=5),
            dashboard=DASHBOARD,
        ),
        make(
            "SecurityTrafficAnomaly",
            f"{catalog.REQUEST_RATE}\n"
            f"  > {num(t.traffic_anomaly_ratio)}\n"
            f"    * clamp_min({catalog.REQUEST_RATE} offset 1w, {min_rate})\n"
            f"and\n{catalog.REQUEST_RATE} > {min_rate}",
            severity="warning",
            summary="Request rate far above the same time last week",
            description=(
                "{{ $labels.service }} receives {{ $value | humanize }} req/s, more than "
                f"{num(t.traffic_anomaly_ratio)} times its rate at the same time last week."
            ),
            for_=Duration.of(minutes=10),
            dashboard=DASHBOARD,
        ),
        make(
            "SecuritySingleSourceDominant",
            f"(\n  sum by (service, client) ({by_client})\n"
            f"  / on (service) group_left ()\n  {catalog.REQUEST_RATE}\n)"
            f" > {num(t.single_source_share_above)}\n"
            f"and on (service)\n{catalog.REQUEST_RATE} > {min_rate}",
            severity="warning",
            summary="One client sends most of a service's requests",
            description=(
                "Client {{ $labels.client }} sends {{ $value | humanizePercentage }} of the "
                "requests to {{ $labels.service }} (threshold "
                f"{num(t.single_source_share_above)}): a scraper, a runaway integration or "
                "an attack from one source."
            ),
            for_=Duration.of(minutes=10),
        ),
    ]


def groups(cfg: Config) -> list[RuleGroup]:
    make = AlertFactory(cfg)
    return [RuleGroup(f"{cfg.system}.security.alerts", FILE, tuple(security_alerts(cfg, make)))]
