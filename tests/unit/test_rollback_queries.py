"""The PromQL behind the rollback triggers."""

from __future__ import annotations

import pytest

from sre.config import Config, ConfigError, parse_config
from sre.features.rollback.queries import trigger_queries
from sre.promql import duration


def cfg(**rollback: object) -> Config:
    return parse_config(
        {
            "system": "t",
            "prometheus": {"url": "http://p:9090"},
            "runbooks": {"base_url": "http://r/"},
            "selectors": {"applications": 'namespace="prod"'},
            "services": [
                {
                    "name": "api",
                    "namespace": "prod",
                    "rollback": {"target": {"kind": "deployment", "name": "api"}, **rollback},
                }
            ],
            "daemon": {"rollbacks": {"rate_window": "90s"}},
        }
    )


def test_queries_use_the_application_selector_and_the_rate_window() -> None:
    config = cfg(latency_p95_above_seconds=1.0)
    q = trigger_queries(config, config.services[0])
    total = 'sum by (service) (rate(http_requests_total{namespace="prod", service="api"}[90s]))'
    errors = (
        "sum by (service) "
        '(rate(http_requests_total{namespace="prod", service="api", code=~"5.."}[90s]))'
    )
    assert q.traffic == total
    assert q.error_ratio == f"(\n  {errors}\n  or\n  0 * {total}\n)\n/\n{total}"
    assert q.latency_p95 == (
        "histogram_quantile(0.95, sum by (service, le) "
        '(rate(http_request_duration_seconds_bucket{namespace="prod", service="api"}[90s])))'
    )


def test_an_unset_threshold_has_no_query() -> None:
    config = cfg(error_rate_above=None)
    q = trigger_queries(config, config.services[0])
    assert q.error_ratio is None and q.latency_p95 is None
    assert q.traffic


@pytest.mark.parametrize(("seconds", "text"), [(60, "60s"), (3, "3s"), (2.5, "2500ms")])
def test_promql_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


@pytest.mark.parametrize(("window", "shown"), [("90s", "1m30s"), ("45s", "45s")])
def test_for_must_be_longer_than_the_rate_window(window: str, shown: str) -> None:
    # rate_window is 90s: a `for` of 90s or less is one rate sample's worth of data.
    with pytest.raises(ConfigError) as err:
        cfg(**{"for": window})
    problems = [str(p) for p in err.value.problems]
    assert problems == [
        f"services[0].rollback.for: {shown} must be longer than "
        "daemon.rollbacks.rate_window (1m30s)"
    ]
    assert cfg(**{"for": "91s"}).services[0].rollback is not None
