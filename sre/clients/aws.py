"""AWS through boto3, run in a thread so the event loop never blocks: Cost Explorer, S3, RDS.

Region and endpoint come from ``cfg.aws``; credentials from the standard AWS chain
(environment, shared files, web identity / IRSA, instance profile). Every botocore error is
turned into ``ClientError(reason, retryable)`` in one place (:func:`classify`).

Retries are ours, not botocore's (``total_max_attempts=1``): a retryable error (throttling,
5xx, unreachable endpoint, time-out) is tried again up to ``attempts`` times by the shared
retry stage (``sre.clients.retry``: capped, jittered exponential backoff), awaited on the
event loop. So each attempt is exactly one
HTTP request, which is what ``on_request`` counts (Cost Explorer bills per request), and
``on_error`` sees every failed attempt, retried or not.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sre.checks.cost import DailyCost
from sre.clients import ClientError
from sre.clients.retry import Backoff, with_retries

log = logging.getLogger(__name__)

RequestHook = Callable[[str, str], None]  # (service, operation)
ErrorHook = Callable[[str, ClientError], None]  # (api "ce.get_cost_and_usage", error)

THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "SlowDown",
    "BandwidthLimitExceeded",
    "LimitExceededException",  # Cost Explorer's own throttling code
}
TRANSIENT = {"RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure"}
AUTH = {
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
    "AuthFailure",
}
NOT_FOUND = {"NoSuchBucket", "NoSuchKey", "NotFound", "404", "DBInstanceNotFound"}


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def classify(api: str, err: Exception) -> ClientError:
    """One botocore/boto3 error -> ``ClientError`` with a fixed reason word."""
    import botocore.exceptions as bce  # boto3 loads only where AWS is used (about 20 MB)

    if isinstance(err, bce.ClientError):
        error = err.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        what = f"{api}: {code or status}: {_short(error.get('Message', ''))}".rstrip(": ")
        if code in THROTTLED or status == 429:
            return ClientError("throttled", what, retryable=True, code=code or None)
        if code in TRANSIENT or status >= 500:
            return ClientError("server_error", what, retryable=True, code=code or None)
        if code in AUTH or status == 403:
            return ClientError("auth", what, retryable=False, code=code or None)
        if code in NOT_FOUND or code.endswith("NotFoundFault") or status == 404:
            return ClientError("not_found", what, retryable=False, code=code or None)
        if code == "DataUnavailableException":
            return ClientError("data_unavailable", what, retryable=False, code=code or None)
        return ClientError("rejected", what, retryable=False, code=code or None)
    if isinstance(err, bce.ConnectTimeoutError | bce.ReadTimeoutError):
        return ClientError("timeout", f"{api}: {_short(str(err))}", retryable=True)
    if isinstance(err, bce.ConnectionError):
        return ClientError("unreachable", f"{api}: {_short(str(err))}", retryable=True)
    if isinstance(err, bce.HTTPClientError | bce.IncompleteReadError):
        return ClientError("unreachable", f"{api}: {_short(str(err))}", retryable=True)
    if isinstance(err, bce.NoCredentialsError | bce.PartialCredentialsError):
        return ClientError("no_credentials", f"{api}: no AWS credentials found", retryable=False)
    return ClientError("rejected", f"{api}: {_short(str(err))}", retryable=False)


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    modified: float  # epoch seconds
    etag: str


@dataclass(frozen=True)
class Snapshot:
    id: str
    kind: str  # automated | manual | ...
    status: str
    created: float | None  # epoch seconds (None while being created)


def sha256_from_s3(value: str | None) -> str | None:
    """S3's base64 ``ChecksumSHA256`` as hex; None when absent or a multipart composite
    (``<b64>-<parts>``, a checksum of checksums that no whole-file digest can match)."""
    if not value or "-" in value:
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == 32 else None


def _epoch(value: Any) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


class AwsClient:
    def __init__(
        self,
        region: str,
        endpoint_url: str | None = None,
        *,
        attempts: int = 4,
        backoff: float = 1.0,
        backoff_cap: float = 20.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        on_request: RequestHook | None = None,
        on_error: ErrorHook | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.attempts = max(1, attempts)
        self.backoff = Backoff(base=backoff, cap=backoff_cap, jitter=(0.5, 1.0))
        self.on_request = on_request
        self.on_error = on_error
        from botocore.config import Config as BotoConfig  # see classify()

        self._config = BotoConfig(
            region_name=region,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
            # We compare SHA-256 ourselves; botocore's own validation would raise instead.
            response_checksum_validation="when_required",
            request_checksum_calculation="when_required",
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, service: str) -> Any:
        # boto3 sessions are not thread-safe; clients are. Build each once, under a lock.
        with self._lock:
            if service not in self._clients:
                import boto3

                session = boto3.session.Session()
                self._clients[service] = session.client(
                    service,
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=self._config,
                )
            return self._clients[service]

    async def call(
        self, service: str, operation: str, *, attempts: int | None = None, **kwargs: Any
    ) -> Any:
        """``client.<operation>(**kwargs)`` in a thread, with our retries."""
        return await self._retry(
            service,
            operation,
            lambda: getattr(self._client(service), operation)(**kwargs),
            attempts,
        )

    async def _retry(
        self, service: str, operation: str, fn: Callable[[], Any], attempts: int | None = None
    ) -> Any:
        api = f"{service}.{operation}"

        import botocore.exceptions as bce

        async def once() -> Any:
            if self.on_request is not None:
                self.on_request(service, operation)
            try:
                return await asyncio.to_thread(fn)
            except (bce.BotoCoreError, bce.ClientError) as err:
                error = classify(api, err)
            if self.on_error is not None:
                self.on_error(api, error)
            raise error

        def retrying(error: ClientError, attempt: int, delay: float) -> None:
            log.info("%s: %s, retry %d/%d in %.2fs", api, error.reason, attempt, limit - 1, delay)

        limit = attempts or self.attempts
        return await with_retries(once, attempts=limit, backoff=self.backoff, on_retry=retrying)

    # ------------------------------------------------------------------ Cost Explorer

    async def cost_and_usage(self, start: date, end: date) -> list[DailyCost]:
        """Daily unblended cost by SERVICE for ``[start, end)``, every page."""
        out: list[DailyCost] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
                "Granularity": "DAILY",
                "Metrics": ["UnblendedCost"],
                "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
            }
            if token:
                kwargs["NextPageToken"] = token
            page = await self.call("ce", "get_cost_and_usage", **kwargs)
            try:
                out.extend(parse_cost_page(page))
            except (KeyError, IndexError, TypeError, ValueError) as err:
                raise ClientError(
                    "bad_response",
                    f"ce.get_cost_and_usage: unexpected result: {err}",
                    retryable=False,
                ) from None
            token = page.get("NextPageToken")
            if not token:
                return out

    async def cost_forecast(self, start: date, end: date) -> float:
        """Forecast unblended cost for ``[start, end)`` (one try: a fallback exists)."""
        page = await self.call(
            "ce",
            "get_cost_forecast",
            attempts=1,
            TimePeriod={"Start": start.isoformat(), "End": end.isoformat()},
            Metric="UNBLENDED_COST",
            Granularity="MONTHLY",
        )
        try:
            return float(page["Total"]["Amount"])
        except (KeyError, TypeError, ValueError):
            raise ClientError(
                "bad_response", "ce.get_cost_forecast: no Total.Amount", retryable=False
            ) from None

    # ------------------------------------------------------------------ S3

    async def list_objects(self, bucket: str, prefix: str) -> list[S3Object]:
        out: list[S3Object] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
            if token:
                kwargs["ContinuationToken"] = token
            page = await self.call("s3", "list_objects_v2", **kwargs)
            for item in page.get("Contents", []):
                out.append(
                    S3Object(
                        key=item["Key"],
                        size=int(item.get("Size", 0)),
                        modified=_epoch(item.get("LastModified")) or 0.0,
                        etag=str(item.get("ETag", "")).strip('"'),
                    )
                )
            token = page.get("NextContinuationToken") if page.get("IsTruncated") else None
            if not token:
                return out

    async def object_sha256(self, bucket: str, key: str) -> str | None:
        """The object's own full-object SHA-256 (hex), if S3 has one."""
        head = await self.call("s3", "head_object", Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        return sha256_from_s3(head.get("ChecksumSHA256"))

    async def read_small(self, bucket: str, key: str, limit: int = 4096) -> str:
        """A small object's text (a ``.sha256`` sidecar); at most ``limit`` bytes."""

        def read() -> str:
            body = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"]
            try:
                return bytes(body.read(limit)).decode("utf-8", "replace")
            finally:
                body.close()

        return str(await self._retry("s3", "get_object", read))

    async def download(self, bucket: str, key: str, dest: Path) -> str:
        """Stream the object to ``dest``; returns the SHA-256 (hex) of the bytes written."""

        def fetch() -> str:
            digest = hashlib.sha256()
            body = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"]
            try:
                with dest.open("wb") as out:
                    for chunk in body.iter_chunks(1 << 20):
                        digest.update(chunk)
                        out.write(chunk)
            finally:
                body.close()
            return digest.hexdigest()

        return str(await self._retry("s3", "get_object", fetch))

    # ------------------------------------------------------------------ RDS

    async def db_snapshots(self, db_instance: str) -> list[Snapshot]:
        out: list[Snapshot] = []
        marker: str | None = None
        while True:
            kwargs: dict[str, Any] = {"DBInstanceIdentifier": db_instance}
            if marker:
                kwargs["Marker"] = marker
            page = await self.call("rds", "describe_db_snapshots", **kwargs)
            for item in page.get("DBSnapshots", []):
                out.append(
                    Snapshot(
                        id=str(item.get("DBSnapshotIdentifier", "")),
                        kind=str(item.get("SnapshotType", "")),
                        status=str(item.get("Status", "")),
                        created=_epoch(item.get("SnapshotCreateTime")),
                    )
                )
            marker = page.get("Marker")
            if not marker:
                return out


def parse_cost_page(page: dict[str, Any]) -> list[DailyCost]:
    """``ResultsByTime`` of one page -> DailyCost per (day, service); ``Estimated`` kept."""
    out = []
    for result in page.get("ResultsByTime", []):
        day = date.fromisoformat(result["TimePeriod"]["Start"])
        estimated = bool(result.get("Estimated", False))
        for group in result.get("Groups", []):
            service = str(group.get("Keys", ["unknown"])[0])
            amount = group.get("Metrics", {}).get("UnblendedCost", {}).get("Amount", "0")
            out.append(DailyCost(day, service, float(amount), estimated))
    return out
