"""The real daemon process with the cost and backup features on, against the moto server:
both jobs run at start and their metrics appear on /metrics."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from tests.helpers.daemon import DaemonProcess, base_config
from tests.helpers.moto import MotoServer
from tests.integration.test_cost_moto import day_result

pytestmark = pytest.mark.integration


def wait_for_metrics(daemon: DaemonProcess, *needles: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        status, body = daemon.get("/metrics")
        if status == 200 and all(n in body for n in needles):
            return body
        time.sleep(0.2)
    missing = [n for n in needles if n not in body]
    raise AssertionError(f"missing {missing} in /metrics; log:\n{daemon.output()}")


def test_daemon_exports_cost_and_backup_metrics(tmp_path: Path) -> None:
    with MotoServer() as moto:
        today = datetime.now(UTC).date()
        start = min(today.replace(day=1), today - timedelta(days=15))
        results = []
        day = start
        while day < today:
            results.append(day_result(day, {"Amazon EC2": 100.0, "Amazon S3": 20.0}))
            day += timedelta(days=1)
        moto.seed_cost_and_usage([{"ResultsByTime": results, "DimensionValueAttributes": []}])
        s3 = boto3.client(
            "s3",
            region_name="us-west-2",
            endpoint_url=moto.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(
            Bucket="backups", CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
        body = b"-- dump\n" * 500
        s3.put_object(Bucket="backups", Key="pg/1.sql", Body=body)
        digest = hashlib.sha256(body).hexdigest()
        s3.put_object(Bucket="backups", Key="pg/1.sql.sha256", Body=digest.encode())
        config = base_config(
            tmp_path,
            aws={"region": "us-west-2", "endpoint_url": moto.url},
            cost={"schedule": "0 7 * * *", "daily_budget_usd": 500, "monthly_budget_usd": 12000},
            backups=[
                {
                    "name": "pg",
                    "s3": {"bucket": "backups", "prefix": "pg/"},
                    "max_age": "26h",
                    "min_size_bytes": 1000,
                }
            ],
        )
        daemon = DaemonProcess(tmp_path, config, env=moto.env())
        try:
            daemon.wait_ready()
            text = wait_for_metrics(
                daemon,
                'sre_aws_cost_daily_usd{service="Amazon EC2"} 100.0',
                "sre_aws_cost_month_forecast_usd",
                'sre_aws_cost_budget_usd{period="monthly"} 12000.0',
                'sre_backup_verification_success{backup="pg",step="integrity"} 1.0',
                'sre_backup_size_bytes{backup="pg"} 4000.0',
                'sre_job_runs_total{job="cost.daily",outcome="success"} 1.0',
            )
            assert "sre_aws_cost_api_requests_total 2.0" in text
            assert 'sre_aws_cost_anomaly{service="Amazon EC2"} 0.0' in text
            assert 'sre_backup_last_success_timestamp_seconds{backup="pg"}' in text
            assert daemon.stop() == 0
        finally:
            if daemon.proc.poll() is None:
                daemon.proc.kill()
                daemon.wait()
        log = daemon.output()
        assert "Traceback" not in log
        assert "testing" not in log  # the credentials never reach the log
