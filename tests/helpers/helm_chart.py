"""Render and lint deploy/helm/sre with Helm's own Go SDK (``helm-python-sdk``), offline."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import helm_python
import yaml

from tests.helpers.manifests import render_build

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "sre"
RELEASE = "sre-daemon"
NAMESPACE = "monitoring"


def render(
    values: dict[str, Any] | None = None, *, chart: Path = CHART, release: str = RELEASE
) -> list[dict[str, Any]]:
    """Every object ``helm install`` would create, in template order.

    Raises ``helm_python.HelmValuesError`` (schema) or ``HelmRenderError`` (a ``fail``).
    """
    with helm_python.Chart.load(chart) as loaded:
        manifests = loaded.render(values=values, name=release, namespace=NAMESPACE, is_install=True)
    objects: list[dict[str, Any]] = []
    for path in sorted(manifests):
        if path.endswith(".yaml"):
            objects += [d for d in yaml.safe_load_all(manifests[path]) if d]
    return objects


def render_error(values: dict[str, Any], *, chart: Path = CHART) -> str:
    """The message Helm gives for values it refuses; fails the test when it accepts them."""
    try:
        render(values, chart=chart)
    except helm_python.HelmError as err:
        return str(err)
    raise AssertionError(f"the chart accepted {values}")


def lint(values: dict[str, Any] | None = None, *, chart: Path = CHART) -> list[str]:
    """``helm lint --strict`` findings above info level (warnings count as failures)."""
    report = helm_python.lint(chart, values, strict=True, namespace=NAMESPACE)
    found = [f"{m['path']}: {m['error']}" for m in report["messages"] if m["severity"] >= 2]
    return found + [str(e) for e in report.get("errors") or []]


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_spec(objects: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = one(objects, "Deployment")["spec"]["template"]["spec"]
    return spec


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    containers = pod_spec(objects)["containers"]
    assert len(containers) == 1
    return dict(containers[0])


# A minimal plain Alertmanager configuration, standing in until the renderer writes one.
ALERTMANAGER_YAML = """\
route: {receiver: sre-daemon}
receivers:
  - name: sre-daemon
    webhook_configs:
      - url: http://sre-daemon.monitoring.svc:9877/alertmanager
        http_config:
          authorization: {type: Bearer, credentials_file: /etc/alertmanager/secrets/token}
"""


def chart_with_content(work: Path) -> Path:
    """A copy of the chart with build/kubernetes/ and an Alertmanager configuration in its
    files/, as docs/helm.md tells users to copy them."""
    chart = work / "sre"
    shutil.copytree(CHART, chart, ignore=shutil.ignore_patterns("files"))
    build = render_build(work / "build")
    shutil.copytree(build / "kubernetes", chart / "files" / "monitoring")
    (chart / "files" / "alertmanager").mkdir()
    rendered = build / "alertmanager" / "alertmanager.yaml"
    text = rendered.read_text() if rendered.is_file() else ALERTMANAGER_YAML
    (chart / "files" / "alertmanager" / "alertmanager.yaml").write_text(text)
    return chart
