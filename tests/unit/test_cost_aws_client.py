"""The AWS client's edges without a network: error classification, retries with bounded
backoff, Cost Explorer page parsing, S3 checksums."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import date
from typing import Any

import botocore.exceptions as bce
import pytest

from sre.checks.cost import DailyCost
from sre.clients import ClientError
from sre.clients.aws import AwsClient, classify, parse_cost_page, sha256_from_s3
from sre.clients.retry import Backoff


def aws_error(code: str, status: int = 400, message: str = "m") -> bce.ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return bce.ClientError(response, "GetCostAndUsage")


@pytest.mark.parametrize(
    ("err", "reason", "retryable"),
    [
        (aws_error("ThrottlingException"), "throttled", True),
        (aws_error("Throttling"), "throttled", True),
        (aws_error("RequestLimitExceeded"), "throttled", True),
        (aws_error("LimitExceededException"), "throttled", True),
        (aws_error("SlowDown", 503), "throttled", True),
        (aws_error("InternalError", 500), "server_error", True),
        (aws_error("500", 500), "server_error", True),
        (aws_error("AccessDeniedException"), "auth", False),
        (aws_error("AccessDenied", 403), "auth", False),
        (aws_error("NoSuchBucket", 404), "not_found", False),
        (aws_error("DBSnapshotNotFoundFault", 404), "not_found", False),
        (aws_error("DataUnavailableException"), "data_unavailable", False),
        (aws_error("ValidationException"), "rejected", False),
        (bce.EndpointConnectionError(endpoint_url="http://x"), "unreachable", True),
        (bce.ConnectTimeoutError(endpoint_url="http://x"), "timeout", True),
        (bce.ReadTimeoutError(endpoint_url="http://x"), "timeout", True),
        (bce.NoCredentialsError(), "no_credentials", False),
    ],
)
def test_classify(err: Exception, reason: str, retryable: bool) -> None:
    got = classify("ce.get_cost_and_usage", err)
    assert (got.reason, got.retryable) == (reason, retryable)
    assert str(got).startswith("ce.get_cost_and_usage")


def test_classify_trims_html_bodies() -> None:
    got = classify("ce.get_cost_forecast", aws_error("500", 500, "<html>\n" + "x" * 1000))
    assert len(str(got)) < 220 and "\n" not in str(got)


def client(**kw: Any) -> tuple[AwsClient, list[tuple[str, str]], list[tuple[str, str]]]:
    requests: list[tuple[str, str]] = []
    errors: list[tuple[str, str]] = []
    c = AwsClient(
        "us-west-2",
        "http://127.0.0.1:9",
        backoff=0.001,
        on_request=lambda s, o: requests.append((s, o)),
        on_error=lambda api, e: errors.append((api, e.reason)),
        **kw,
    )
    return c, requests, errors


def test_retryable_errors_are_retried_and_counted() -> None:
    c, requests, errors = client(attempts=4)
    answers: list[Any] = [aws_error("ThrottlingException"), aws_error("503", 503), {"ok": 1}]

    def call() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert asyncio.run(c._retry("ce", "get_cost_and_usage", call)) == {"ok": 1}
    assert len(requests) == 3
    assert errors == [
        ("ce.get_cost_and_usage", "throttled"),
        ("ce.get_cost_and_usage", "server_error"),
    ]


def test_retries_are_bounded_and_permanent_errors_are_not_retried() -> None:
    c, requests, errors = client(attempts=3)

    def throttled() -> Any:
        raise aws_error("ThrottlingException")

    with pytest.raises(ClientError) as caught:
        asyncio.run(c._retry("ce", "get_cost_and_usage", throttled))
    assert caught.value.reason == "throttled" and len(requests) == 3

    def denied() -> Any:
        raise aws_error("AccessDeniedException")

    with pytest.raises(ClientError) as caught:
        asyncio.run(c._retry("s3", "list_objects_v2", denied))
    assert caught.value.reason == "auth" and caught.value.retryable is False
    assert len(requests) == 4 and errors[-1] == ("s3.list_objects_v2", "auth")


def test_backoff_is_capped() -> None:
    c, _, _ = client(attempts=3)
    c.backoff = Backoff(base=10.0, cap=0.002, jitter=(0.5, 1.0))
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)
        await real_sleep(0)

    def fail() -> Any:
        raise aws_error("Throttling")

    async def go() -> None:
        asyncio.sleep = fake_sleep  # type: ignore[assignment]
        try:
            with pytest.raises(ClientError):
                await c._retry("ce", "x", fail)
        finally:
            asyncio.sleep = real_sleep

    asyncio.run(go())
    assert len(slept) == 2 and all(0 < s <= 0.002 for s in slept)


def test_parse_cost_page_keeps_estimated_and_services() -> None:
    page = {
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": "2026-11-14", "End": "2026-11-15"},
                "Groups": [
                    {"Keys": ["Amazon EC2"], "Metrics": {"UnblendedCost": {"Amount": "12.5"}}},
                    {"Keys": ["Amazon S3"], "Metrics": {"UnblendedCost": {"Amount": "0.25"}}},
                ],
                "Estimated": True,
            },
            {"TimePeriod": {"Start": "2026-11-13", "End": "2026-11-14"}, "Groups": []},
        ]
    }
    assert parse_cost_page(page) == [
        DailyCost(date(2026, 11, 14), "Amazon EC2", 12.5, True),
        DailyCost(date(2026, 11, 14), "Amazon S3", 0.25, True),
    ]


def test_s3_sha256_checksums() -> None:
    digest = hashlib.sha256(b"dump").digest()
    b64 = base64.b64encode(digest).decode()
    assert sha256_from_s3(b64) == digest.hex()
    assert sha256_from_s3(None) is None
    assert sha256_from_s3(f"{b64}-3") is None  # multipart composite: not a whole-file digest
    assert sha256_from_s3("not base64!") is None
