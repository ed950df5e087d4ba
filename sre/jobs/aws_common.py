"""What the cost and backup features share: the AWS client built from ``cfg.aws``, with its
failed attempts counted in ``sre_aws_errors_total`` (a core metric, ``DaemonMetrics``)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter

from sre.clients import ClientError
from sre.clients.aws import AwsClient, RequestHook
from sre.config import AwsConfig


def aws_client(
    aws: AwsConfig,
    errors: Counter,
    *,
    on_request: RequestHook | None = None,
    **tuning: Any,
) -> AwsClient:
    def counted(api: str, err: ClientError) -> None:
        errors.labels(api=api, reason=err.reason).inc()

    return AwsClient(
        aws.region, aws.endpoint_url, on_request=on_request, on_error=counted, **tuning
    )
