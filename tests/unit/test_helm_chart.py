"""deploy/helm/sre rendered and linted by Helm's Go SDK, for the value sets users run:
defaults (the repository's sre.yaml, SQLite, one replica), three replicas on PostgreSQL,
and the rendered monitoring content shipped with the release."""

from __future__ import annotations

import base64
import copy
import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre.config import parse_config
from tests.helpers import kube_schemas
from tests.helpers.helm_chart import (
    CHART,
    NAMESPACE,
    chart_with_content,
    container,
    lint,
    one,
    pod_spec,
    render,
)
from tests.helpers.manifests import kustomize_objects

ROOT = Path(__file__).resolve().parents[2]
SRE_YAML = (ROOT / "sre.yaml").read_text()
STATE_DB = "postgresql://sre-state.databases.svc:5433/sre"


def ha_values() -> dict[str, Any]:
    config = yaml.safe_load(SRE_YAML)
    config["daemon"]["state"] = STATE_DB
    return {"replicas": 3, "config": config}


@pytest.fixture(scope="module")
def content_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return chart_with_content(tmp_path_factory.mktemp("chart"))


MONITORING = {"monitoring": {"enabled": True, "alertmanagerConfigSecret": {"enabled": True}}}
VALUE_SETS = ["defaults", "ha-postgresql", "monitoring-content"]


@pytest.fixture(params=VALUE_SETS)
def value_set(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Path]:
    if request.param == "defaults":
        return {}, CHART
    if request.param == "ha-postgresql":
        return ha_values(), CHART
    return MONITORING, request.getfixturevalue("content_chart")


@pytest.fixture(scope="module")
def defaults() -> list[dict[str, Any]]:
    return render()


@pytest.fixture(scope="module")
def ha() -> list[dict[str, Any]]:
    return render(ha_values())


def test_lint_is_clean(value_set: tuple[dict[str, Any], Path]) -> None:
    values, chart = value_set
    assert lint(values, chart=chart) == []


def test_every_object_matches_the_kubernetes_and_operator_schemas(
    value_set: tuple[dict[str, Any], Path],
) -> None:
    values, chart = value_set
    objects = render(values, chart=chart)
    assert objects
    assert [p for o in objects for p in kube_schemas.problems(o)] == []


def test_namespaced_only_and_secret_values_never_rendered(
    value_set: tuple[dict[str, Any], Path],
) -> None:
    values, chart = value_set
    objects = render(values, chart=chart)
    for o in objects:
        assert o["kind"] not in {"ClusterRole", "ClusterRoleBinding", "Namespace"}
        assert o["metadata"].get("namespace"), f"{o['kind']} {o['metadata']['name']}"
        if o["kind"] == "Secret":  # only the rendered Alertmanager configuration
            assert o["metadata"]["name"] == "sre-daemon-alertmanager"
    for env in container(objects)["env"]:  # no extraEnv in these sets: all from Secrets
        assert set(env) == {"name", "valueFrom"}, env
        assert set(env["valueFrom"]) == {"secretKeyRef"}, env


def test_defaults_one_replica_on_sqlite(defaults: list[dict[str, Any]]) -> None:
    deploy = one(defaults, "Deployment", "sre-daemon")
    assert deploy["spec"]["replicas"] == 1
    assert deploy["spec"]["strategy"] == {"type": "Recreate"}
    pod = pod_spec(defaults)
    assert "affinity" not in pod and "topologySpreadConstraints" not in pod
    assert not [o for o in defaults if o["kind"] == "PodDisruptionBudget"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    claim = volumes["state"]["persistentVolumeClaim"]["claimName"]
    pvc = one(defaults, "PersistentVolumeClaim", claim)
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_config_is_the_repository_sre_yaml_byte_for_byte(defaults: list[dict[str, Any]]) -> None:
    pod = pod_spec(defaults)
    mounts = {m["mountPath"]: m["name"] for m in container(defaults)["volumeMounts"]}
    volume = next(v for v in pod["volumes"] if v["name"] == mounts["/etc/sre"])
    config_map = one(defaults, "ConfigMap", volume["configMap"]["name"])
    assert config_map["data"]["sre.yaml"] == SRE_YAML
    annotations = one(defaults, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    digest = hashlib.sha256(SRE_YAML.encode()).hexdigest()
    assert annotations["checksum/config"] == digest
    assert container(defaults)["args"] == ["--config", "/etc/sre/sre.yaml"]


def test_config_as_a_map_loads_in_the_daemon() -> None:
    objects = render({"config": yaml.safe_load(SRE_YAML)})
    text = one(objects, "ConfigMap")["data"]["sre.yaml"]
    assert yaml.safe_load(text) == yaml.safe_load(SRE_YAML)
    parse_config(yaml.safe_load(text), "chart ConfigMap")  # raises ConfigError on a problem


def test_a_config_change_rolls_the_pods(defaults: list[dict[str, Any]]) -> None:
    changed = render({"configFile": SRE_YAML.replace("production", "staging", 1)})

    def checksum(objects: list[dict[str, Any]]) -> str:
        return str(one(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"])

    assert checksum(changed) != checksum(defaults)


def test_ha_on_postgresql(ha: list[dict[str, Any]]) -> None:
    deploy = one(ha, "Deployment")
    assert deploy["spec"]["replicas"] == 3
    assert deploy["spec"]["strategy"]["type"] == "RollingUpdate"
    selector = deploy["spec"]["selector"]["matchLabels"]
    pdb = one(ha, "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": selector}}
    pod = pod_spec(ha)
    spread = pod["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    }
    assert all(c["labelSelector"]["matchLabels"] == selector for c in spread)
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    # No ReadWriteOnce volume to fight over; libpq's credentials from the Secret.
    assert not [o for o in ha if o["kind"] == "PersistentVolumeClaim"]
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == "state")
    env = {e["name"]: e for e in container(ha)["env"]}
    for name in ("PGUSER", "PGPASSWORD"):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "sre-daemon", "key": name}
    # The state database is reachable through the NetworkPolicy.
    egress = one(ha, "NetworkPolicy")["spec"]["egress"]
    assert any(
        {"protocol": "TCP", "port": 5433} in rule.get("ports", [])
        and rule["to"][0]["namespaceSelector"]["matchLabels"]
        == {"kubernetes.io/metadata.name": "databases"}
        for rule in egress
    )


def test_sqlite_never_gets_postgresql_variables(defaults: list[dict[str, Any]]) -> None:
    names = {e["name"] for e in container(defaults)["env"]}
    assert not names & {"PGUSER", "PGPASSWORD"}


def test_monitoring_content_ships_as_rendered(content_chart: Path) -> None:
    objects = render(MONITORING, chart=content_chart)
    expected = [
        doc
        for path in sorted((content_chart / "files" / "monitoring").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") not in (None, "Kustomization")  # values files have none
    ]
    assert {o["kind"] for o in expected} >= {"PrometheusRule", "ConfigMap"}
    for doc in expected:
        assert doc in objects, f"{doc['kind']} {doc['metadata']['name']} missing"
    assert not [o for o in objects if o["kind"] == "Kustomization"]
    secret = one(objects, "Secret", "sre-daemon-alertmanager")
    shipped = (content_chart / "files" / "alertmanager" / "alertmanager.yaml").read_text()
    assert base64.b64decode(secret["data"]["alertmanager.yaml"]).decode() == shipped


def test_monitoring_content_is_off_by_default(defaults: list[dict[str, Any]]) -> None:
    assert {o["kind"] for o in defaults}.isdisjoint({"PrometheusRule", "Secret"})


def _pick(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The parts of the daemon's objects that must agree between the chart and kustomize."""
    c = copy.deepcopy(container(objects))
    pod = pod_spec(objects)
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"]}
    policy = one(objects, "NetworkPolicy")["spec"]
    monitor = one(objects, "ServiceMonitor", "sre-daemon")  # besides the rendered ones
    return {
        "pod": {k: pod[k] for k in ("securityContext", "terminationGracePeriodSeconds")},
        "container": {
            k: c[k]
            for k in ("args", "ports", "livenessProbe", "readinessProbe", "resources")
            + ("securityContext", "imagePullPolicy")
        },
        "mounts": sorted((m["mountPath"], m.get("readOnly", False)) for m in c["volumeMounts"]),
        "env": env,
        "service_ports": one(objects, "Service")["spec"]["ports"],
        "ingress": policy["ingress"],
        "monitor": {
            "endpoints": monitor["spec"]["endpoints"],
            "release": monitor["metadata"]["labels"]["release"],
        },
        "role_rules": {
            o["metadata"]["namespace"]: o["rules"] for o in objects if o["kind"] == "Role"
        },
    }


def test_defaults_agree_with_the_kustomize_base(
    defaults: list[dict[str, Any]], tmp_path: Path
) -> None:
    assert _pick(defaults) == _pick(kustomize_objects(tmp_path))


def test_every_monitoring_object_lands_in_one_namespace(content_chart: Path) -> None:
    objects = render(MONITORING, chart=content_chart)
    assert {o["metadata"]["namespace"] for o in objects if not o["kind"].startswith("Role")} == {
        NAMESPACE
    }
