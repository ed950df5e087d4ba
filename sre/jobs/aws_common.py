"""What the cost and backup features share: one AWS error counter per registry, and the
client built from ``cfg.aws`` with it attached."""

from __future__ import annotations

import logging
from typing import Any
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry

from sre.clients import ClientError
from sre.clients.aws import AwsClient, RequestHook
from sre.config import AwsConfig
from sre.daemon.metrics import catalog_metric

log = logging.getLogger(__name__)

_ERRORS: WeakKeyDictionary[CollectorRegistry, Any] = WeakKeyDictionary()


def aws_errors(registry: CollectorRegistry) -> Any:
    """``sre_aws_errors_total{api, reason}``, registered once however many features ask."""
    if registry not in _ERRORS:
        _ERRORS[registry] = catalog_metric(registry, "sre_aws_errors_total")
    return _ERRORS[registry]


def aws_client(
    aws: AwsConfig,
    registry: CollectorRegistry,
    *,
    on_request: RequestHook | None = None,
    **tuning: Any,
) -> AwsClient:
    errors = aws_errors(registry)

    def counted(api: str, err: ClientError) -> None:
        errors.labels(api=api, reason=err.reason).inc()

    return AwsClient(
        aws.region, aws.endpoint_url, on_request=on_request, on_error=counted, **tuning
    )
