"""deploy/ha (three replicas on PostgreSQL) rendered with the real ``kubectl kustomize``:
what a highly available daemon needs from the cluster, and nothing drifting from deploy/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sre.config import parse_config
from tests.helpers import kube_schemas
from tests.helpers.manifests import kustomize_objects

ROOT = Path(__file__).resolve().parents[2]
SELECTOR = {"app.kubernetes.io/name": "sre-daemon"}


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return kustomize_objects(tmp_path_factory.mktemp("kustomize-ha"), "ha")


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o["kind"] == kind and "sre" in o["metadata"]["name"]]
    return found


def test_the_config_is_the_base_one_on_postgresql() -> None:
    """deploy/ha/sre.yaml is deploy/sre.yaml but for daemon.state (copy and edit one line)."""
    base = (ROOT / "deploy" / "sre.yaml").read_text().splitlines()
    ha = (ROOT / "deploy" / "ha" / "sre.yaml").read_text().splitlines()
    changed = [(a, b) for a, b in zip(base, ha, strict=True) if a != b]
    assert changed == [
        ("  state: sqlite:///var/lib/sre/state.db", "  state: postgresql://sre-state.databases.svc:5432/sre")
    ]  # fmt: skip
    cfg = parse_config(yaml.safe_load("\n".join(ha)))
    assert cfg.daemon.shared_state


def test_the_same_image_as_the_base() -> None:
    def images(path: Path) -> Any:
        return yaml.safe_load(path.read_text())["images"]

    assert images(ROOT / "deploy" / "ha" / "kustomization.yaml") == images(
        ROOT / "deploy" / "kustomization.yaml"
    )


def test_three_spread_replicas_with_a_disruption_budget(objects: list[dict[str, Any]]) -> None:
    deploy = one(objects, "Deployment")
    spec = deploy["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": SELECTOR}}
    assert spec["selector"]["matchLabels"] == SELECTOR
    pod = spec["template"]["spec"]
    keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
    assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == SELECTOR


def test_postgresql_credentials_from_the_secret_and_no_volume_to_share(
    objects: list[dict[str, Any]],
) -> None:
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    for name in ("PGUSER", "PGPASSWORD"):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "sre-daemon", "key": name}
    assert not [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    state = next(v for v in pod["volumes"] if v["name"] == "state")
    assert "emptyDir" in state and "persistentVolumeClaim" not in state
    (config,) = [
        o
        for o in objects
        if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("sre-config")
    ]
    rendered = yaml.safe_load(config["data"]["sre.yaml"])
    assert rendered["daemon"]["state"].startswith("postgresql://")
    assert "@" not in rendered["daemon"]["state"]


def test_every_object_matches_the_kubernetes_schemas(objects: list[dict[str, Any]]) -> None:
    assert [p for o in objects for p in kube_schemas.problems(o)] == []
