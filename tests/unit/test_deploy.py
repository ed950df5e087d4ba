"""deploy/ rendered with the real ``kubectl kustomize``: every property the cluster relies on."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from sre.config import Config, load_config
from tests.helpers import kube_schemas
from tests.helpers.manifests import kustomize_objects

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "monitoring"


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(ROOT / "sre.yaml")


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """``kubectl kustomize deploy/`` next to a freshly rendered ``build/kubernetes``."""
    return kustomize_objects(tmp_path_factory.mktemp("kustomize"))


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(objects, "Deployment", "sre-daemon")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def rollback_namespaces(cfg: Config) -> set[str]:
    return {
        s.namespace
        for s in cfg.services
        if s.rollback is not None and s.rollback.target.kind in ("deployment", "helm")
    }


def test_deploy_config_is_the_root_config() -> None:
    assert (ROOT / "deploy" / "sre.yaml").read_bytes() == (ROOT / "sre.yaml").read_bytes(), (
        "deploy/sre.yaml differs from sre.yaml: run `cp sre.yaml deploy/sre.yaml`"
    )


def test_namespaces(objects: list[dict[str, Any]], cfg: Config) -> None:
    apps = rollback_namespaces(cfg)
    for o in objects:
        ns = o["metadata"].get("namespace")
        if o["kind"] in ("Role", "RoleBinding"):
            assert ns in apps, o["metadata"]
        else:
            assert ns == NAMESPACE, f"{o['kind']} {o['metadata']['name']} is in {ns}"


def test_nothing_cluster_wide_and_no_secret_values(objects: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Namespace", "Secret"}


def test_deployment_shape(objects: list[dict[str, Any]], cfg: Config) -> None:
    deploy = one(objects, "Deployment", "sre-daemon")
    spec = deploy["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    c = container(objects)
    assert c["args"] == ["--config", "/etc/sre/sre.yaml"]
    assert c["image"].startswith("ghcr.io/") and ":" in c["image"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": cfg.daemon.host_port[1]}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    for kind in ("requests", "limits"):
        assert set(c["resources"][kind]) == {"cpu", "memory"}


def test_security_context(objects: list[dict[str, Any]]) -> None:
    pod = one(objects, "Deployment", "sre-daemon")["spec"]["template"]["spec"]
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] > 0
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container(objects)["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert pod["serviceAccountName"] == one(objects, "ServiceAccount")["metadata"]["name"]


def test_volumes(objects: list[dict[str, Any]]) -> None:
    pod = one(objects, "Deployment", "sre-daemon")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container(objects)["volumeMounts"]}
    assert set(mounts) == {"/var/lib/sre", "/tmp", "/etc/sre"}
    claim = volumes[mounts["/var/lib/sre"]]["persistentVolumeClaim"]["claimName"]
    assert one(objects, "PersistentVolumeClaim", claim)["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert "emptyDir" in volumes[mounts["/tmp"]]
    # The generated ConfigMap (with its hash suffix) is the one mounted, holding sre.yaml.
    name = volumes[mounts["/etc/sre"]]["configMap"]["name"]
    assert name.startswith("sre-config-")
    config_map = one(objects, "ConfigMap", name)
    assert config_map["data"]["sre.yaml"] == (ROOT / "sre.yaml").read_text()


def test_secrets_come_from_secret_refs(objects: list[dict[str, Any]], cfg: Config) -> None:
    env = {e["name"]: e for e in container(objects)["env"]}
    assert cfg.slack is not None and cfg.grafana is not None and cfg.daemon.webhook_token_env
    required = {cfg.slack.token_env, cfg.slack.signing_secret_env, cfg.daemon.webhook_token_env}
    optional = {cfg.grafana.token_env, cfg.daemon.api_token_env} | {
        b.restore_test.dsn_env for b in cfg.backups if b.restore_test is not None
    }
    for name in required | optional:
        assert "value" not in env[name], f"{name} must come from a Secret"
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref["key"] == name
        assert bool(ref.get("optional", False)) == (name in optional), name
    for e in env.values():
        assert "valueFrom" in e, f"{e['name']} carries a literal value"


def test_rbac_is_minimal_and_per_namespace(objects: list[dict[str, Any]], cfg: Config) -> None:
    roles = [o for o in objects if o["kind"] == "Role"]
    bindings = [o for o in objects if o["kind"] == "RoleBinding"]
    assert {r["metadata"]["namespace"] for r in roles} == rollback_namespaces(cfg)
    assert {b["metadata"]["namespace"] for b in bindings} == rollback_namespaces(cfg)
    sa = one(objects, "ServiceAccount")["metadata"]["name"]
    allowed = {
        ("apps", "deployments"): {"get", "list", "watch", "patch", "create", "update", "delete"},
        ("apps", "replicasets"): {"get", "list", "watch"},
        ("", "pods"): {"get", "list", "watch"},
        ("", "secrets"): {"get", "list", "create", "update", "delete"},
        ("", "services"): {"get", "patch", "create", "update", "delete"},
        ("", "configmaps"): {"get", "patch", "create", "update", "delete"},
    }
    for role in roles:
        granted: dict[tuple[str, str], set[str]] = {}
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"]
            assert "resourceNames" not in rule or rule["resourceNames"]
            for group in rule["apiGroups"]:
                for res in rule["resources"]:
                    granted.setdefault((group, res), set()).update(rule["verbs"])
        for key, verbs in granted.items():
            assert key in allowed and verbs <= allowed[key], (key, verbs)
        # What kubectl rollout undo/status and helm rollback cannot do without.
        assert {"get", "patch", "watch"} <= granted[("apps", "deployments")]
        assert {"list"} <= granted[("apps", "replicasets")]
        assert {"get", "list", "create", "update"} <= granted[("", "secrets")]
    for binding in bindings:
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": sa, "namespace": NAMESPACE}
        ]


def test_service_and_service_monitor(objects: list[dict[str, Any]], cfg: Config) -> None:
    service = one(objects, "Service", "sre-daemon")
    pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    # Prometheus names the job after the Service; the rules select the daemon by that job.
    assert cfg.selectors.daemon == f'job="{service["metadata"]["name"]}"'
    monitor = one(objects, "ServiceMonitor", "sre-daemon")
    assert monitor["metadata"]["labels"]["release"] == cfg.kubernetes.rule_labels["release"]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == "http"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    # sre_probe_* carry their own `service` label: the target label must not rename it.
    assert {"action": "labeldrop", "regex": "service"} in monitor["spec"]["endpoints"][0][
        "relabelings"
    ]
    assert not monitor["spec"]["endpoints"][0].get("honorLabels", False)


def _ports(rule: dict[str, Any]) -> set[tuple[str, int]]:
    return {(p.get("protocol", "TCP"), p["port"]) for p in rule.get("ports", [])}


def _namespaces(rule: dict[str, Any], key: str) -> set[str]:
    return {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for peer in rule.get(key, [])
        if "matchLabels" in peer.get("namespaceSelector", {})
    }


def test_network_policy(objects: list[dict[str, Any]], cfg: Config) -> None:
    policy = one(objects, "NetworkPolicy")["spec"]
    pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    port = cfg.daemon.host_port[1]
    for rule in policy["ingress"]:
        assert _ports(rule) == {("TCP", port)}
        assert _namespaces(rule, "from") == {NAMESPACE}
        assert len(rule["from"]) == 1
    egress = policy["egress"]
    everywhere = set().union(
        *(_ports(r) for r in egress if any("ipBlock" in p for p in r.get("to", [])))
    )
    assert ("TCP", 443) in everywhere  # Slack, AWS, Kubernetes API
    assert any(("UDP", 53) in _ports(r) for r in egress)
    monitoring = set().union(*(_ports(r) for r in egress if NAMESPACE in _namespaces(r, "to")))
    assert {("TCP", 9090), ("TCP", 9093)} <= monitoring
    open_namespaces = {ns for r in egress if not r.get("ports") for ns in _namespaces(r, "to")}
    for probe in cfg.all_probes():
        host = urlsplit(probe.url).hostname or ""
        if host.endswith(".svc") or ".svc." in host:
            namespace = host.split(".")[1]
            assert namespace in open_namespaces, f"probe {probe.name} cannot reach {namespace}"


def test_rendered_rules_and_dashboards_are_included(
    objects: list[dict[str, Any]], cfg: Config
) -> None:
    rules = [o for o in objects if o["kind"] == "PrometheusRule"]
    assert rules
    for rule in rules:
        assert cfg.kubernetes.rule_labels.items() <= rule["metadata"]["labels"].items()
        assert rule["spec"]["groups"]
    dashboards = [
        o
        for o in objects
        if o["kind"] == "ConfigMap"
        and cfg.kubernetes.dashboard_labels.items() <= o["metadata"].get("labels", {}).items()
    ]
    assert dashboards and all(d["data"] for d in dashboards)


def test_every_object_matches_the_kubernetes_and_operator_schemas(
    objects: list[dict[str, Any]],
) -> None:
    found = [p for o in objects for p in kube_schemas.problems(o)]
    assert found == []


def test_every_service_and_exporter_has_a_monitor_the_stack_selects(
    objects: list[dict[str, Any]], cfg: Config
) -> None:
    """kube-prometheus-stack only scrapes monitors whose labels match its selector."""
    monitors = {
        o["metadata"]["name"]: o for o in objects if o["kind"] in ("ServiceMonitor", "PodMonitor")
    }
    for name in [s.name for s in cfg.services] + [d.name for d in cfg.datastores]:
        monitor = monitors[f"{cfg.system}-{name}"]
        labels = monitor["metadata"]["labels"]
        assert cfg.kubernetes.monitor_labels.items() <= labels.items(), name
        assert monitor["spec"]["namespaceSelector"]["matchNames"] == ["parallel-ai-system"]
