"""docs/helm.md works as written: every values example and every `helm` command renders
with the chart into schema-valid objects, and the error messages it quotes are the chart's.

Conventions of the page: a ```yaml block whose first line is `# NAME.yaml` is a values
file that commands pass with `-f NAME.yaml`; a ```yaml sre.yaml block is a change to
sre.yaml that the commands of its section make (`--set-file configFile=sre.yaml`).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from tests.helpers import kube_schemas
from tests.helpers.helm_chart import CHART, chart_with_content, lint, render, render_error

ROOT = Path(__file__).resolve().parents[2]
PAGE = (ROOT / "docs" / "helm.md").read_text()
FENCE = re.compile(r"^ *```([^\n]*)\n(.*?)^ *```$", re.M | re.S)


def sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """(heading, [(info string, dedented body)]) for each `## ` section."""
    out = []
    for chunk in PAGE.split("\n## "):
        heading = chunk.splitlines()[0]
        blocks = []
        for info, body in FENCE.findall(chunk):
            indent = min(len(line) - len(line.lstrip()) for line in body.splitlines() if line)
            blocks.append((info.strip(), "\n".join(line[indent:] for line in body.splitlines())))
        out.append((heading, blocks))
    return out


def values_files() -> dict[str, dict[str, Any]]:
    found = {}
    for _, blocks in sections():
        for info, body in blocks:
            if info == "yaml":
                name = re.fullmatch(r"# (\S+\.yaml)", body.splitlines()[0])
                assert name, f"a values example must start with `# NAME.yaml`: {body[:60]!r}"
                found[name.group(1)] = yaml.safe_load(body)
    return found


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of values files: maps merge, a null removes the key."""
    out = dict(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def section_config(blocks: list[tuple[str, str]]) -> str:
    """sre.yaml with this section's documented changes made."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "sre.yaml").read_text())
    for info, body in blocks:
        if info == "yaml sre.yaml":
            config = merge(config, yaml.safe_load(body))
    return yaml.safe_dump(config, sort_keys=False)


def helm_commands() -> list[tuple[str, list[str], str]]:
    """(section, argv, sre.yaml text) for every `helm` command of a ```sh block."""
    found = []
    for heading, blocks in sections():
        for info, body in blocks:
            if info != "sh":
                continue
            for line in body.replace("\\\n", " ").splitlines():
                if line.startswith("helm "):
                    found.append(
                        (heading, shlex.split(line, comments=True), section_config(blocks))
                    )
    return found


def values_of(argv: list[str], config_text: str) -> tuple[dict[str, Any], list[str]]:
    """The values a `helm lint|install|upgrade` command line passes, and its positional
    arguments (release name, chart path)."""
    values: dict[str, Any] = {}
    positional: list[str] = []
    files = values_files()
    args = iter(argv[2:])
    for arg in args:
        if arg in ("-f", "--values"):
            values = merge(values, files[next(args)])
        elif arg == "--set":
            values = merge(values, helm_python.parse_set_string(next(args)))
        elif arg == "--set-file":
            key, _, path = next(args).partition("=")
            assert (key, path) == ("configFile", "sre.yaml"), arg
            values[key] = config_text
        elif arg in ("-n", "--namespace"):
            assert next(args) == "monitoring"
        elif arg.startswith("-"):
            assert arg in ("--install", "--strict", "--reuse-values"), f"unknown flag {arg}"
        else:
            positional.append(arg)
    return values, positional


@pytest.fixture(scope="module")
def content_chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return chart_with_content(tmp_path_factory.mktemp("chart"))


def _render(values: dict[str, Any], content_chart: Path) -> list[dict[str, Any]]:
    chart = content_chart if values.get("monitoring", {}).get("enabled") else CHART
    objects = render(values, chart=chart)
    assert [p for o in objects for p in kube_schemas.problems(o)] == []
    return objects


@pytest.mark.parametrize("name", sorted(values_files()))
def test_every_values_example_renders(name: str, content_chart: Path) -> None:
    heading = next(h for h, blocks in sections() for _, b in blocks if b.startswith(f"# {name}"))
    blocks = next(b for h, b in sections() if h == heading)
    values = {**values_files()[name], "configFile": section_config(blocks)}
    assert _render(values, content_chart)


COMMANDS = helm_commands()


@pytest.mark.parametrize(
    ("section", "argv", "config_text"), COMMANDS, ids=[" ".join(c[1][:3]) for c in COMMANDS]
)
def test_every_helm_command_works(
    section: str, argv: list[str], config_text: str, content_chart: Path
) -> None:
    if argv[1] == "-n":  # helm -n monitoring history|rollback: the cluster's business
        assert argv[3] in ("history", "rollback") and argv[4] == "sre-daemon"
        return
    values, positional = values_of(argv, config_text)
    chart = positional[-1]
    assert chart == "deploy/helm/sre" and (ROOT / chart / "Chart.yaml").is_file()
    if argv[1] == "lint":
        assert lint(values) == []
        return
    assert argv[1] in ("upgrade", "install") and positional == ["sre-daemon", chart], section
    objects = _render(values, content_chart)
    assert any(o["kind"] == "Deployment" for o in objects)


def test_the_page_shows_each_kind_of_command() -> None:
    verbs = {argv[1] if argv[1] != "-n" else argv[3] for _, argv, _ in COMMANDS}
    assert {"lint", "upgrade", "history"} <= verbs
    assert "cp build/kubernetes/*.yaml deploy/helm/sre/files/monitoring/" in PAGE
    assert (
        '.Files.Glob "files/monitoring/*.yaml"'
        in (CHART / "templates" / "monitoring.yaml").read_text()
    )


def test_quoted_messages_are_the_charts() -> None:
    quoted = [body.strip() for _, blocks in sections() for info, body in blocks if info == "text"]
    config = yaml.safe_load((ROOT / "sre.yaml").read_text())
    config["slack"]["token_env"] = "SLACK_TOKEN_PROD"
    messages = [
        render_error({"replica": 3}),
        render_error({"config": config}),
        render_error({"replicas": 3}),
    ]
    assert len(quoted) == len(messages)
    for text, message in zip(quoted, messages, strict=True):
        assert text in message, f"docs/helm.md quotes:\n{text}\nthe chart says:\n{message}"
