"""The rollback targets (deployment, helm, command) and the clients under them: exact command
lines, revision parsing, the subprocess edge."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from sre.clients import ClientError
from sre.clients.commands import parse_time, run
from sre.clients.helm import Helm, helm_rollback_argv
from sre.clients.kube import Kubectl, kubectl_status_argv, kubectl_undo_argv
from sre.config import parse_config
from sre.devtools.synthetic import calls, write_standins
from sre.features.rollback.targets import (
    CommandTarget,
    DeploymentTarget,
    HelmTarget,
    target_for,
)


def test_documented_command_lines() -> None:
    assert kubectl_undo_argv("api", "prod", "2") == [
        "kubectl", "rollout", "undo", "deployment/api", "-n", "prod", "--to-revision=2",
    ]  # fmt: skip
    assert kubectl_status_argv("api", "prod", 300) == [
        "kubectl", "rollout", "status", "deployment/api", "-n", "prod", "--timeout=300s",
    ]  # fmt: skip
    assert helm_rollback_argv("rel", "prod", "4", 90.5) == [
        "helm", "rollback", "rel", "4", "-n", "prod", "--wait", "--timeout", "91s",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2026-11-26T10:00:00Z", 1795687200.0),
        ("2026-11-26T10:00:00.123456789Z", 1795687200.123456),
        ("2026-11-26T11:00:00.5+01:00", 1795687200.5),
        (1795687200, 1795687200.0),
    ],
)
def test_parse_time(text: object, epoch: float) -> None:
    assert parse_time(text) == pytest.approx(epoch)


def test_parse_time_rejects_junk() -> None:
    with pytest.raises(ClientError) as err:
        parse_time("yesterday")
    assert err.value.reason == "bad_response"


def test_revisions_from_kubectl_and_helm(tmp_path: Path) -> None:
    deployed = time.time() - 60
    write_standins(tmp_path / "bin", tmp_path / "log", deployed)
    kubectl = Kubectl(str(tmp_path / "bin" / "kubectl"))
    helm_bin = Helm(str(tmp_path / "bin" / "helm"))

    async def go() -> None:
        rev = await DeploymentTarget("api", "prod", kubectl).revision()
        assert (rev.revision, rev.previous) == ("3", "2")
        assert rev.deployed_at == pytest.approx(int(deployed), abs=1)
        helm = await HelmTarget("rel", "prod", helm_bin).revision()
        assert (helm.revision, helm.previous) == ("2", "1")
        assert helm.deployed_at == pytest.approx(int(deployed) + 0.5, abs=1)

    asyncio.run(go())
    assert calls(tmp_path / "log") == [
        ["get", "deployment/api", "-n", "prod", "-o", "json"],
        ["get", "replicasets", "-n", "prod", "-l", "app=api", "-o", "json"],
        ["history", "rel", "-n", "prod", "-o", "json"],
    ]


def script(tmp: Path, body: str) -> str:
    path = tmp / "cmd.sh"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_command_revision(tmp_path: Path) -> None:
    first = script(tmp_path, """echo '{"revision": "7", "deployed_at": "2026-11-26T10:00:00Z"}'""")
    rev = asyncio.run(CommandTarget(["true"], [first]).revision())
    assert (rev.revision, rev.previous, rev.deployed_at) == ("7", None, 1795687200.0)
    junk = script(tmp_path, "echo not json")
    with pytest.raises(ClientError) as err:
        asyncio.run(CommandTarget(["true"], [junk]).revision())
    assert err.value.reason == "bad_response"
    failing = script(tmp_path, "echo boom >&2; exit 3")
    with pytest.raises(ClientError) as err:
        asyncio.run(CommandTarget(["true"], [failing]).revision())
    assert err.value.reason == "command_failed" and "boom" in str(err.value)
    without = CommandTarget(["true"], None)
    assert not without.has_revisions
    with pytest.raises(ClientError) as err:
        asyncio.run(without.revision())
    assert err.value.reason == "no_revisions"


def test_run_records_output_and_exit_code_and_kills_at_the_timeout(tmp_path: Path) -> None:
    done = asyncio.run(run([script(tmp_path, "echo out; echo err >&2; exit 4")], 10))
    assert (done.exit_code, done.output) == (4, "out\nerr\n")
    slow = asyncio.run(run(["sleep", "30"], 0.2))
    assert slow.exit_code is None and "killed after 0.2s" in slow.output
    assert slow.seconds < 5
    missing = asyncio.run(run([str(tmp_path / "no-such-kubectl"), "version"], 5))
    assert missing.exit_code == 127 and "cannot run" in missing.output


def test_undo_stops_when_undo_fails(tmp_path: Path) -> None:
    kubectl = script(tmp_path, 'echo "$@" >> ' + str(tmp_path / "log") + "; exit 1")
    results = asyncio.run(DeploymentTarget("api", "prod", Kubectl(kubectl)).roll_back("2", 5))
    assert [r.exit_code for r in results] == [1]  # no rollout status after a failed undo


def kubectl_answering(tmp: Path, deployment: dict[str, Any], sets: list[dict[str, Any]]) -> str:
    (tmp / "deploy.json").write_text(json.dumps(deployment))
    (tmp / "sets.json").write_text(json.dumps({"items": sets}))
    return script(
        tmp,
        f'case "$2" in deployment/*) cat {tmp}/deploy.json;; *) cat {tmp}/sets.json;; esac',
    )


def replica_set(rev: str, created: str, history: str | None = None) -> dict[str, Any]:
    annotations = {"deployment.kubernetes.io/revision": rev}
    if history is not None:
        annotations["deployment.kubernetes.io/revision-history"] = history
    return {
        "metadata": {
            "annotations": annotations,
            "creationTimestamp": created,
            "ownerReferences": [{"kind": "Deployment", "name": "api"}],
        }
    }


def test_a_reused_replica_set_has_no_known_deploy_time(tmp_path: Path) -> None:
    # Revision 1's template deployed again: its ReplicaSet is reused and renumbered 3, with
    # its old creationTimestamp. That time is not when revision 3 was deployed.
    deployment = {
        "metadata": {"annotations": {"deployment.kubernetes.io/revision": "3"}},
        "spec": {"selector": {"matchLabels": {"app": "api"}}},
    }
    sets = [
        replica_set("3", "2026-01-01T00:00:00Z", history="1"),
        replica_set("2", "2026-11-26T10:00:00Z"),
    ]
    kubectl = Kubectl(kubectl_answering(tmp_path, deployment, sets))
    rev = asyncio.run(DeploymentTarget("api", "prod", kubectl).revision())
    assert (rev.revision, rev.previous) == ("3", "2")
    assert math.isnan(rev.deployed_at)  # the feature uses the time it first saw revision 3


def helm_answering(tmp: Path, history: list[dict[str, Any]]) -> Helm:
    (tmp / "history.json").write_text(json.dumps(history))
    return Helm(script(tmp, f"cat {tmp}/history.json"))


def test_helm_decides_only_on_a_settled_newest_revision(tmp_path: Path) -> None:
    at = "2026-11-26T10:00:00Z"
    settled = [
        {"revision": 1, "updated": at, "status": "superseded"},
        {"revision": 2, "updated": at, "status": "failed"},
        {"revision": 3, "updated": at, "status": "deployed"},
    ]
    rev = asyncio.run(HelmTarget("rel", "prod", helm_answering(tmp_path, settled)).revision())
    assert (rev.revision, rev.previous) == ("3", "1")  # never back to the failed one
    for status in ("pending-upgrade", "pending-rollback", "failed"):
        newest = [*settled, {"revision": 4, "updated": at, "status": status}]
        helm = helm_answering(tmp_path, newest)
        with pytest.raises(ClientError) as err:
            asyncio.run(HelmTarget("rel", "prod", helm).revision())
        assert err.value.reason == "not_settled" and err.value.retryable
        assert f"newest revision 4 is {status}" in str(err.value)


def test_each_kind_gets_its_target_and_describes_itself() -> None:
    cfg = parse_config(
        {
            "system": "t",
            "prometheus": {"url": "http://p:9090"},
            "runbooks": {"base_url": "http://r/"},
            "services": [
                {
                    "name": "a",
                    "namespace": "ns",
                    "rollback": {"target": {"kind": "deployment", "name": "a-d"}},
                },
                {
                    "name": "b",
                    "namespace": "ns",
                    "rollback": {"target": {"kind": "helm", "release": "b-r"}},
                },
                {
                    "name": "c",
                    "namespace": "ns",
                    "rollback": {"target": {"kind": "command", "argv": ["x", "y"]}},
                },
                {"name": "d", "namespace": "ns"},
            ],
        }
    )
    a, b, c, d = cfg.services
    kubectl, helm = Kubectl(), Helm()
    assert target_for(a, kubectl, helm).describe() == {"kind": "deployment", "name": "a-d"}
    assert target_for(b, kubectl, helm).describe() == {"kind": "helm", "release": "b-r"}
    assert target_for(c, kubectl, helm).describe() == {"kind": "command", "argv": ["x", "y"]}
    with pytest.raises(ValueError, match="no rollback block"):
        target_for(d, kubectl, helm)
