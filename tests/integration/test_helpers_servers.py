"""The shared server helpers start the real things (so tests built on them can trust them)."""

from __future__ import annotations

import boto3

from tests.helpers.moto import MotoServer
from tests.helpers.postgres import PostgresCluster


def test_postgres_cluster_runs_queries() -> None:
    with PostgresCluster() as pg:
        pg.psql("create table users (id int); insert into users values (1), (2)")
        assert pg.psql("select count(*) from users") == "2"


def test_moto_server_serves_s3_and_seeded_cost_explorer() -> None:
    with MotoServer() as moto:
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        )
        s3 = session.client("s3", endpoint_url=moto.url)
        s3.create_bucket(Bucket="backups")
        s3.put_object(Bucket="backups", Key="postgres/a.dump", Body=b"x" * 10)
        listed = s3.list_objects_v2(Bucket="backups", Prefix="postgres/")
        assert [o["Key"] for o in listed["Contents"]] == ["postgres/a.dump"]
        moto.seed_cost_and_usage(
            [
                {
                    "ResultsByTime": [
                        {
                            "TimePeriod": {"Start": "2026-11-24", "End": "2026-11-25"},
                            "Groups": [
                                {
                                    "Keys": ["Amazon EC2"],
                                    "Metrics": {
                                        "UnblendedCost": {"Amount": "123.4", "Unit": "USD"}
                                    },
                                }
                            ],
                            "Estimated": False,
                        }
                    ]
                }
            ]
        )
        ce = session.client("ce", endpoint_url=moto.url)
        answer = ce.get_cost_and_usage(
            TimePeriod={"Start": "2026-11-24", "End": "2026-11-25"},
            Granularity="DAILY",
            Metrics=["UnblendedCost"],
            GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
        )
        group = answer["ResultsByTime"][0]["Groups"][0]
        assert group["Metrics"]["UnblendedCost"]["Amount"] == "123.4"
