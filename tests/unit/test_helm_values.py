"""The chart's values: what values.schema.json and the chart's own checks refuse (with a
message that names the value), and what the chart derives from sre.yaml (RBAC, egress)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.helpers.helm_chart import container, one, render, render_error

ROOT = Path(__file__).resolve().parents[2]
SRE_YAML = (ROOT / "sre.yaml").read_text()


def config(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(SRE_YAML)
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"replicas": "three"}, ["/replicas", "want integer"]),
        ({"replicas": 0}, ["/replicas", "minimum"]),
        ({"replica": 3}, ["'replica' not allowed"]),
        ({"image": {"pullPolicy": "Sometimes"}}, ["/image/pullPolicy"]),
        ({"image": {"digest": "latest"}}, ["/image/digest"]),
        ({"secretEnv": {"SLACK_BOT_TOKEN": {"secret": "x"}}}, ["/secretEnv/SLACK_BOT_TOKEN"]),
        ({"secretEnv": {"SLACK-TOKEN": {}}}, ["SLACK-TOKEN", "does not match pattern"]),
        ({"serviceMonitor": {"interval": "30 seconds"}}, ["/serviceMonitor/interval"]),
        ({"persistence": {"size": "lots"}}, ["/persistence/size"]),
        ({"rbac": {"helmExtraResources": [{"apiGroups": ["*"], "resources": ["*"]}]}}, ["/rbac"]),
    ],
)  # fmt: skip
def test_schema_refuses_bad_values_naming_them(values: dict[str, Any], expected: list[str]) -> None:
    message = render_error(values)
    for part in expected:
        assert part in message, message


def test_replicas_need_the_postgresql_state() -> None:
    message = render_error({"replicas": 2})
    assert "replicas: 2 needs the shared state store" in message
    assert "daemon.state" in message and "postgresql://" in message
    assert "sqlite:///var/lib/sre/state.db" in message


def test_config_and_config_file_exclude_each_other() -> None:
    message = render_error({"configFile": SRE_YAML, "config": config()})
    assert "configFile or config, not both" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [("- a list\n", "configFile is not a YAML mapping"), ("{}\n", "configuration is empty")],
)
def test_a_config_file_that_is_no_config(text: str, expected: str) -> None:
    assert expected in render_error({"configFile": text})


def test_every_variable_the_config_names_needs_a_secret_entry() -> None:
    slack = {**config()["slack"], "token_env": "SLACK_TOKEN_PROD"}
    message = render_error({"config": config(slack=slack)})
    assert "slack.token_env names the variable SLACK_TOKEN_PROD" in message
    assert "secretEnv.SLACK_TOKEN_PROD" in message
    backups = config()["backups"]
    backups[0]["restore_test"]["dsn_env"] = "SCRATCH_DSN"
    message = render_error({"config": config(backups=backups)})
    assert "backups[0].restore_test.dsn_env names the variable SCRATCH_DSN" in message


def test_secret_references_follow_the_values() -> None:
    slack = {**config()["slack"], "token_env": "SLACK_TOKEN_PROD"}
    values = {
        "config": config(slack=slack),
        "existingSecret": "platform-sre",
        "secretEnv": {
            "SLACK_TOKEN_PROD": {"secretName": "slack", "key": "bot-token"},
            "SLACK_BOT_TOKEN": None,  # Helm removes a default entry set to null
            "AWS_ACCESS_KEY_ID": None,
            "AWS_SECRET_ACCESS_KEY": None,
        },
    }
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container(render(values))["env"]}
    assert env["SLACK_TOKEN_PROD"] == {"name": "slack", "key": "bot-token"}
    assert env["SRE_WEBHOOK_TOKEN"] == {"name": "platform-sre", "key": "SRE_WEBHOOK_TOKEN"}
    assert env["GRAFANA_TOKEN"]["optional"] is True
    assert not {"SLACK_BOT_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(env)


def _service(name: str, namespace: str, target: dict[str, Any] | None) -> dict[str, Any]:
    service: dict[str, Any] = {"name": name, "namespace": namespace, "slo": {"availability": 99}}
    if target is not None:
        service["rollback"] = {"target": target, "error_rate_above": 0.05, "for": "2m"}
    return service


def test_rbac_follows_the_rollback_targets() -> None:
    services = [
        _service("api", "shop", {"kind": "deployment", "name": "api"}),
        _service("web", "storefront", {"kind": "helm", "release": "storefront"}),
        _service("batch", "jobs", {"kind": "command", "argv": ["/bin/true"]}),
        _service("docs", "docs", None),
    ]
    values = {
        "config": config(services=services, probes=[], datastores=[], queues=[]),
        "rbac": {
            "extraNamespaces": ["legacy"],
            "helmExtraResources": [
                {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"]}
            ],
        },
    }
    objects = render(values)
    roles = {o["metadata"]["namespace"]: o for o in objects if o["kind"] == "Role"}
    assert set(roles) == {"shop", "storefront", "legacy"}

    def granted(namespace: str) -> dict[tuple[str, str], set[str]]:
        out: dict[tuple[str, str], set[str]] = {}
        for rule in roles[namespace]["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    out.setdefault((group, resource), set()).update(rule["verbs"])
        return out

    # kubectl rollout undo only: no Secrets, no creating or deleting Deployments.
    assert granted("shop") == {
        ("apps", "deployments"): {"get", "list", "watch", "patch"},
        ("apps", "replicasets"): {"get", "list", "watch"},
        ("", "pods"): {"get", "list", "watch"},
    }
    helm = granted("storefront")
    assert helm[("", "secrets")] == {"get", "list", "create", "update", "delete"}
    assert {"create", "update", "delete"} <= helm[("apps", "deployments")]
    assert ("networking.k8s.io", "ingresses") in helm
    assert granted("legacy") == helm
    bindings = [o for o in objects if o["kind"] == "RoleBinding"]
    assert {b["metadata"]["namespace"] for b in bindings} == set(roles)
    for binding in bindings:
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "sre-daemon", "namespace": "monitoring"}
        ]


def test_no_rbac_when_switched_off() -> None:
    objects = render({"rbac": {"create": False}})
    assert not [o for o in objects if o["kind"] in ("Role", "RoleBinding")]


def _namespaces(rule: dict[str, Any]) -> set[str]:
    return {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in rule.get("to", [])
        if "matchLabels" in peer.get("namespaceSelector", {})
    }


def test_egress_follows_the_config() -> None:
    cfg = config()
    cfg["probes"] = [
        *cfg["probes"],
        {"name": "queue-tcp", "service": "redis", "url": "tcp://rabbit.queues.svc:5672"},
    ]
    cfg["grafana"] = {**cfg["grafana"], "url": "https://grafana.example.com"}
    cfg["daemon"] = {**cfg["daemon"], "listen": "0.0.0.0:8080"}
    objects = render({"config": cfg})
    policy = one(objects, "NetworkPolicy")["spec"]
    assert policy["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8080}]
    assert container(objects)["ports"][0]["containerPort"] == 8080
    any_port = {ns for rule in policy["egress"] if "ports" not in rule for ns in _namespaces(rule)}
    for probe in cfg["probes"] + [s["health"] for s in cfg["services"]]:
        host = urlsplit(probe["url"]).hostname or ""
        assert host.split(".")[1] in any_port, probe
    monitoring = [r for r in policy["egress"] if _namespaces(r) == {"monitoring"}]
    assert [p["port"] for r in monitoring for p in r["ports"]] == [9090, 9093]
    # Grafana outside the cluster is reached over HTTPS, the rule every policy has.
    assert any(
        {"protocol": "TCP", "port": 443} in r["ports"] for r in policy["egress"] if "ports" in r
    )


def test_extra_ingress_for_slack_actions() -> None:
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress"}}}
    objects = render({"networkPolicy": {"extraIngressFrom": [peer]}})
    ingress = one(objects, "NetworkPolicy")["spec"]["ingress"]
    assert ingress[1] == {"from": [peer], "ports": [{"protocol": "TCP", "port": 9877}]}


def test_release_name_keeps_the_scrape_job_name() -> None:
    objects = render(release="platform")
    service = one(objects, "Service")
    assert service["metadata"]["name"] == "platform-sre-daemon"
    monitor = one(objects, "ServiceMonitor")
    # The job is named after this label, which the rules select (selectors.daemon).
    assert monitor["spec"]["jobLabel"] == "app.kubernetes.io/name"
    assert service["metadata"]["labels"]["app.kubernetes.io/name"] == "sre-daemon"
    assert config()["selectors"]["daemon"] == 'job="sre-daemon"'
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )


def test_image_by_digest() -> None:
    digest = "sha256:" + "a" * 64
    objects = render({"image": {"repository": "registry.local/sre", "digest": digest}})
    assert container(objects)["image"] == f"registry.local/sre@{digest}"
