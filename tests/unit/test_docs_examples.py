"""The examples in README.md and docs/ work as written (conventions: docs/development.md,
"Generated documentation").

* ```yaml sre-config: a whole sre.yaml, must pass parse_config; ```yaml sre-fragment: merged
  onto a minimal config, must pass too; ```yaml sre.yaml (docs/helm.md's convention): a
  change to the repository's sre.yaml, must pass too.
* ```yaml sre-broken: fed to ``python -m sre.render``; its output is the next ```text block.
* Any other ```yaml block names its file in a first-line comment, parses, and every
  Kubernetes object in it passes its schema; one named ``build/...`` is an excerpt of what
  the render writes there.
* ```python blocks run.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sre.config import ConfigError, load_config, parse_config
from sre.render.__main__ import main as render_main
from sre.render.__main__ import run as render_run
from tests.helpers import kube_schemas
from tests.helpers.docs import ROOT, Block, all_blocks, name, split

MINIMAL: dict[str, Any] = {
    "system": "demo",
    "prometheus": {"url": "http://127.0.0.1:9090"},
    "runbooks": {"base_url": "https://example.com/runbooks/"},
    "services": [{"name": "api", "namespace": "default"}],
}
SRE_TAGS = {"sre-config", "sre-fragment", "sre-broken", "sre.yaml"}
# Blocks that describe what the code does not do yet. Each must still fail with this message;
# when the code catches up, the test says so and the entry goes.
AHEAD_OF_CODE: dict[tuple[str, str], str] = {}

BLOCKS = all_blocks()
YAML = [b for b in BLOCKS if b.lang == "yaml"]


def merge(base: dict[str, Any], fragment: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else (lists included) replaces."""
    out = copy.deepcopy(base)
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def config_of(block: Block) -> dict[str, Any]:
    data = yaml.safe_load(block.body)
    assert isinstance(data, dict), f"{block.where}: not a mapping"
    if "sre-fragment" in block.tags:
        return merge(MINIMAL, data)
    if "sre.yaml" in block.tags:
        return merge(yaml.safe_load((ROOT / "sre.yaml").read_text()), data)
    return data


def config_problems(block: Block) -> list[str]:
    try:
        parse_config(config_of(block), block.where)
    except ConfigError as err:
        return [str(p) for p in err.problems]
    return []


CONFIG_BLOCKS = [b for b in YAML if {"sre-config", "sre-fragment", "sre.yaml"} & set(b.tags)]


def ahead_of_code(block: Block, problem: str) -> bool:
    return any(
        page == name(block.page) and problem.startswith(f"{key}: ") and problem.endswith(message)
        for (page, key), message in AHEAD_OF_CODE.items()
    )


@pytest.mark.parametrize("block", CONFIG_BLOCKS, ids=lambda b: b.where)
def test_every_config_example_loads(block: Block) -> None:
    assert [p for p in config_problems(block) if not ahead_of_code(block, p)] == [], block.where


def test_what_the_docs_describe_ahead_of_the_code_is_still_refused() -> None:
    refused = {
        (name(b.page), p.partition(": ")[0])
        for b in CONFIG_BLOCKS
        for p in config_problems(b)
        if ahead_of_code(b, p)
    }
    caught_up = set(AHEAD_OF_CODE) - refused
    assert caught_up == set(), "the code does this now: drop it from AHEAD_OF_CODE"


def test_there_are_config_examples_of_each_kind() -> None:
    tags = {tag for b in CONFIG_BLOCKS for tag in b.tags}
    assert {"sre-config", "sre-fragment", "sre.yaml"} <= tags
    assert len(CONFIG_BLOCKS) >= 8


def test_a_broken_fragment_is_caught() -> None:
    block = Block(ROOT / "docs" / "x.md", 1, "yaml sre-fragment", "services:\n  - {name: Api}\n")
    problems = config_problems(block)
    assert problems and problems[0].startswith("services[0].")


@pytest.mark.parametrize(
    "block", [b for b in YAML if not SRE_TAGS & set(b.tags)], ids=lambda b: b.where
)
def test_other_yaml_names_its_file_parses_and_objects_match_their_schema(block: Block) -> None:
    assert block.tags == [], f"{block.where}: unknown tag {block.info!r}"
    assert block.first_comment, f"{block.where}: start with `# <file name>` to say what it is"
    assert not block.first_comment.startswith("sre.yaml"), "use ```yaml sre-config"
    documents = [d for d in yaml.safe_load_all(block.body) if d is not None]
    assert documents, block.where
    for doc in documents:
        if isinstance(doc, dict) and {"apiVersion", "kind"} <= set(doc):
            assert kube_schemas.problems(doc) == [], block.where


def test_some_examples_are_kubernetes_objects() -> None:
    kinds = {
        doc["kind"]
        for b in YAML
        if not b.tags
        for doc in yaml.safe_load_all(b.body)
        if isinstance(doc, dict) and "kind" in doc
    }
    assert {"PrometheusRule", "Role", "RoleBinding"} <= kinds


def is_excerpt(shown: Any, real: Any) -> bool:
    """Every key shown is in ``real`` with an excerpt of its value; lists from the start."""
    if isinstance(shown, dict):
        return isinstance(real, dict) and all(
            k in real and is_excerpt(v, real[k]) for k, v in shown.items()
        )
    if isinstance(shown, list):
        return (
            isinstance(real, list)
            and len(shown) <= len(real)
            and all(is_excerpt(s, r) for s, r in zip(shown, real, strict=False))
        )
    return bool(shown == real)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("build")
    assert render_run(load_config(ROOT / "sre.yaml"), out, skip_promtool=True) == 0
    return out


def test_build_excerpts_are_what_the_render_writes(rendered: Path) -> None:
    excerpts = [b for b in YAML if (b.first_comment or "").startswith("build/")]
    assert excerpts
    for block in excerpts:
        path = rendered / str(block.first_comment).removeprefix("build/")
        assert path.is_file(), f"{block.where}: the render writes no {block.first_comment}"
        assert is_excerpt(yaml.safe_load(block.body), yaml.safe_load(path.read_text())), (
            f"{block.where} differs from {block.first_comment}"
        )


def test_the_excerpt_check_sees_a_difference() -> None:
    real = {"spec": {"groups": [{"name": "a", "rules": [{"alert": "X", "for": "5m"}]}]}}
    assert is_excerpt({"spec": {"groups": [{"rules": [{"for": "5m"}]}]}}, real)
    assert not is_excerpt({"spec": {"groups": [{"rules": [{"for": "10m"}]}]}}, real)
    assert not is_excerpt({"spec": {"groups": [{}, {}]}}, real)


def broken_example() -> tuple[Block, str]:
    """The sre-broken block of docs/config.md and the output the page shows for it."""
    blocks, _ = split(ROOT / "docs" / "config.md")
    index = next(i for i, b in enumerate(blocks) if "sre-broken" in b.tags)
    shown = next(b for b in blocks[index + 1 :] if b.lang == "text")
    return blocks[index], shown.body


def test_the_config_error_example_is_what_the_loader_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    block, shown = broken_example()
    command, _, expected = shown.partition("\n")
    assert command.startswith("$ python -m sre.render ")
    argv = command.split()[4:]
    (tmp_path / str(block.first_comment)).write_text(block.body)
    monkeypatch.chdir(tmp_path)
    assert render_main(argv) == 2
    out = capsys.readouterr()
    assert out.err == expected
    # The daemon prints the same list without the "error: " prefix.
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / str(block.first_comment))
    assert err.value.render().replace(str(tmp_path) + "/", "") + "\n" == expected.removeprefix(
        "error: "
    )


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "python"], ids=lambda b: b.where)
def test_python_examples_run(block: Block) -> None:
    exec(compile(block.body, block.where, "exec"), {"__name__": "docs_example"})
