"""A config that splits by team: ``service_defaults`` merged into every service, services
loaded from ``include:`` files, and problems that name the file they are in."""

from __future__ import annotations

import hashlib
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from sre.config import ConfigError, Duration, config_sha256, load_config, parse_config

HEAD = """\
system: demo
prometheus: {url: http://prometheus:9090}
runbooks: {base_url: https://example.com/runbooks/}
"""


def main(text: str) -> str:
    return HEAD + textwrap.dedent(text)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root / "sre.yaml"


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_defaults_merge_into_every_service_and_services_override_them() -> None:
    cfg = parse_config(
        {
            "system": "demo",
            "prometheus": {"url": "http://prometheus:9090"},
            "runbooks": {"base_url": "https://example.com/runbooks/"},
            "service_defaults": {
                "namespace": "shop",
                "slo": {"availability": 99.5, "latency_p95_seconds": 0.5},
                "health": {"interval": "30s", "timeout": "3s"},
                "rollback": {"for": "5m", "cooldown": "1h", "error_rate_above": 0.02},
            },
            "services": [
                {
                    "name": "api",
                    "slo": {"availability": 99.9},
                    "health": {"url": "http://api/healthz", "timeout": "1s"},
                    "rollback": {"target": {"kind": "deployment", "name": "api"}, "for": "3m"},
                },
                {"name": "web", "namespace": "front", "health": {"url": "http://web/"}},
                {"name": "batch", "slo": None},
            ],
        }
    )
    api, web, batch = cfg.services
    # Mappings merge key by key; the service's own value wins.
    assert api.namespace == "shop" and web.namespace == "front"
    assert api.slo is not None and api.slo.availability == Decimal("99.9")
    assert api.slo.latency_p95_seconds == 0.5
    assert api.health is not None and api.health.timeout == Duration.parse("1s")
    assert api.health.interval == Duration.parse("30s")
    assert api.rollback is not None and api.rollback.for_ == Duration.parse("3m")
    assert api.rollback.cooldown == Duration.parse("1h")
    assert api.rollback.error_rate_above == 0.02
    # A complete default section (slo) applies to a service that has none...
    assert web.slo is not None and web.slo.availability == Decimal("99.5")
    # ...an incomplete one (rollback without a target) only fills in services that have it.
    assert web.rollback is None and batch.rollback is None
    assert web.health is not None and web.health.interval == Duration.parse("30s")
    assert batch.health is None
    # `key: null` drops a default.
    assert batch.slo is None


def test_include_globs_next_to_the_main_file_sorted_with_file_defaults(tmp_path: Path) -> None:
    path = write(
        tmp_path / "conf",
        {
            "sre.yaml": main(
                """\
            service_defaults: {namespace: platform, slo: {availability: 99.5}}
            include: [teams/*.yaml, extra.yaml]
            services:
              - {name: gateway}
            """
            ),
            "teams/b-team.yaml": """\
            services:
              - {name: b-one}
            """,
            "teams/a-team.yaml": """\
            service_defaults: {namespace: team-a, slo: {availability: 99.9}}
            services:
              - {name: a-one}
              - {name: a-two, slo: {availability: 99.0}}
            """,
            "extra.yaml": "services: [{name: extra, namespace: misc}]\n",
            "teams/notes.txt": "not yaml: [",
        },
    )
    cfg = load_config(path)
    assert [s.name for s in cfg.services] == ["gateway", "a-one", "a-two", "b-one", "extra"]
    spaces = {s.name: s.namespace for s in cfg.services}
    assert spaces == {
        "gateway": "platform",
        "a-one": "team-a",
        "a-two": "team-a",
        "b-one": "platform",
        "extra": "misc",
    }
    slos = {s.name: str(s.slo.availability) for s in cfg.services if s.slo}
    assert slos == {"gateway": "99.5", "a-one": "99.9", "a-two": "99.0", "b-one": "99.5"} | {
        "extra": "99.5"
    }


def test_problems_name_the_file_and_the_key_path_where_it_was_written(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "sre.yaml": main(
                """\
            service_defaults:
              health: {interval: 2x, tmeout: 1s}
            include: [services/*.yaml]
            services:
              - {name: gateway, namespace: edge}
            """
            ),
            "services/team-a.yaml": """\
            service_defaults: {namespace: team-a}
            services:
              - {name: api, health: {url: "http://api/"}}
              - name: worker
                rollback:
                  target: {kind: deployment, name: worker}
                  for: "2x"
              - {name: gateway}
            zebra: 1
            """,
        },
    )
    assert problems(path) == [
        "services/team-a.yaml: zebra: unknown key "
        "(an included file holds service_defaults and services)",
        # A bad default is reported once, where it is written, not once per service.
        'service_defaults.health.tmeout: unknown key (did you mean "timeout"?)',
        "service_defaults.health.interval: '2x' is not a duration "
        "(use e.g. 30s, 2m, 1h30m, 26h, 3d)",
        "services/team-a.yaml: services[1].rollback.for: '2x' is not a duration "
        "(use e.g. 30s, 2m, 1h30m, 26h, 3d)",
        "services/team-a.yaml: services[2].name: 'gateway' is used twice",
    ]


def test_include_problems_are_reported_with_the_rest(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "sre.yaml": main(
                """\
            include: [teams/*.yaml, missing/*.yaml]
            services: [{name: gateway, namespace: edge, slo: {availability: 100}}]
            """
            ),
            "teams/a.yaml": "services: [{name: a, namespace: x}\n",
            "teams/b.yaml": "- just a list\n",
            "teams/c.yaml": "services: {name: c}\n",
            "teams/d.yaml": "service_defaults: {name: d}\nservices: []\n",
        },
    )
    found = problems(path)
    assert found[0] == "include[1]: 'missing/*.yaml' matches no file"
    assert found[1].startswith("teams/a.yaml: line 2, column 1: not valid YAML:")
    assert found[2:] == [
        "teams/b.yaml: an included file must be a mapping",
        "teams/c.yaml: services: expected a list of services",
        "teams/d.yaml: service_defaults.name: a name cannot be a default",
        "services[0].slo.availability: must be a percentage below 100, e.g. 99.9",
    ]


@pytest.mark.parametrize(
    ("include", "message"),
    [
        ("services/*.yaml", "include: expected a list of file patterns, e.g. [services/*.yaml]"),
        ([3], "include: expected a list of file patterns, e.g. [services/*.yaml]"),
    ],
)
def test_include_must_be_a_list_of_patterns(tmp_path: Path, include: object, message: str) -> None:
    import yaml

    data = yaml.safe_load(HEAD) | {
        "include": include,
        "services": [{"name": "a", "namespace": "b"}],
    }
    (tmp_path / "sre.yaml").write_text(yaml.safe_dump(data))
    assert problems(tmp_path / "sre.yaml") == [message]


def test_parsed_data_cannot_include_files() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "system": "demo",
                "prometheus": {"url": "http://prometheus:9090"},
                "runbooks": {"base_url": "https://example.com/runbooks/"},
                "include": ["services/*.yaml"],
                "services": [{"name": "a", "namespace": "b"}],
            }
        )
    assert [str(p) for p in caught.value.problems] == [
        "include: only a config read from a file can include others"
    ]


def test_config_checksum_covers_included_files(tmp_path: Path) -> None:
    plain = write(tmp_path / "plain", {"sre.yaml": HEAD + "services: [{name: a, namespace: b}]\n"})
    assert config_sha256(plain) == hashlib.sha256(plain.read_bytes()).hexdigest()
    split = write(
        tmp_path / "split",
        {
            "sre.yaml": HEAD + "include: [teams/*.yaml]\n",
            "teams/a.yaml": "services: [{name: a, namespace: b}]\n",
        },
    )
    before = config_sha256(split)
    (split.parent / "teams" / "a.yaml").write_text("services: [{name: a, namespace: c}]\n")
    assert config_sha256(split) != before
