"""The Dockerfile's properties, checked by parsing it (no Docker engine here)."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from sre.config import DaemonConfig

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Instruction:
    op: str
    args: str
    stage: int


def parse(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped, tagged by stage."""
    out: list[Instruction] = []
    stage, pending = -1, ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        op, _, args = full.partition(" ")
        if op.upper() == "FROM":
            stage += 1
        out.append(Instruction(op.upper(), args.strip(), stage))
    return out


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse((ROOT / "Dockerfile").read_text())


def final(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def args_defaults(instructions: list[Instruction]) -> dict[str, str]:
    found = {}
    for i in instructions:
        if i.op == "ARG" and "=" in i.args:
            key, _, value = i.args.partition("=")
            found[key] = value
    return found


def test_multi_stage_on_python_311_slim(instructions: list[Instruction]) -> None:
    froms = [i.args for i in instructions if i.op == "FROM"]
    assert len(froms) >= 2
    base = args_defaults(instructions)["PYTHON_IMAGE"]
    assert base == "python:3.11-slim"
    assert all(f.split()[0] in ("${PYTHON_IMAGE}", base) for f in froms)
    assert any(i.op == "COPY" and i.args.startswith("--from=") for i in final(instructions))


def test_runs_as_numeric_non_root_user(instructions: list[Instruction]) -> None:
    users = [i.args for i in final(instructions) if i.op == "USER"]
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0  # numeric: runAsNonRoot can verify it


def test_read_only_root_filesystem_friendly(instructions: list[Instruction]) -> None:
    env = " ".join(i.args for i in final(instructions) if i.op == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env  # kubectl's cache lands in the writable /tmp
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        assert re.search(rf"{var}=/tmp/", env), var
    volumes = [json.loads(i.args) for i in final(instructions) if i.op == "VOLUME"]
    assert ["/var/lib/sre"] in volumes
    # The daemon's default state file lands on that volume, also when its path is taken
    # as relative to the working directory.
    workdirs = [i.args for i in final(instructions) if i.op == "WORKDIR"]
    assert workdirs and workdirs[-1] == "/"
    state = Path(workdirs[-1], DaemonConfig().state_path)
    assert state.parent == Path("/var/lib/sre")
    runs = " ".join(i.args for i in final(instructions) if i.op == "RUN")
    assert "chown 10001:10001 /var/lib/sre" in runs


@pytest.mark.parametrize("tool", ["KUBECTL", "HELM"])
def test_tools_pinned_by_version_and_checksum(instructions: list[Instruction], tool: str) -> None:
    defaults = args_defaults(instructions)
    assert re.fullmatch(r"v\d+\.\d+\.\d+", defaults[f"{tool}_VERSION"])
    assert re.fullmatch(r"[0-9a-f]{64}", defaults[f"{tool}_SHA256"])
    runs = " ".join(i.args for i in instructions if i.op == "RUN")
    assert f"${{{tool}_VERSION}}" in runs
    assert re.search(rf'echo "\$\{{{tool}_SHA256\}}  \S+" \| sha256sum -c -', runs)


def test_tools_reach_the_runtime_image(instructions: list[Instruction]) -> None:
    copies = [i.args for i in final(instructions) if i.op == "COPY"]
    assert any("/usr/local/bin/kubectl" in c and "/usr/local/bin/helm" in c for c in copies)


def test_restore_test_tools_are_installed(instructions: list[Instruction]) -> None:
    # backups[].restore_test runs pg_restore / psql inside the daemon's container.
    runs = " ".join(i.args for i in final(instructions) if i.op == "RUN")
    assert "postgresql-client" in runs


def test_healthcheck_uses_python_on_healthz(instructions: list[Instruction]) -> None:
    checks = [i.args for i in final(instructions) if i.op == "HEALTHCHECK"]
    assert len(checks) == 1
    options, _, cmd = checks[0].partition("CMD ")
    argv = json.loads(cmd)
    assert argv[:2] == ["python", "-c"]
    port = DaemonConfig().host_port[1]
    assert f"http://127.0.0.1:{port}/healthz" in argv[2] and "urllib" in argv[2]
    assert "--timeout=" in options and "--interval=" in options
    exposed = [i.args for i in final(instructions) if i.op == "EXPOSE"]
    assert exposed == [str(port)]


def test_entrypoint_and_cmd(instructions: list[Instruction]) -> None:
    last = final(instructions)
    assert [json.loads(i.args) for i in last if i.op == "ENTRYPOINT"] == [
        ["python", "-m", "sre.daemon"]
    ]
    assert [json.loads(i.args) for i in last if i.op == "CMD"] == [
        ["--config", "/etc/sre/sre.yaml"]
    ]


def ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics for the simple patterns used here (last match wins)."""
    result = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        if any(fnmatch.fnmatch(p, pat) for p in prefixes):
            result = not negate
    return result


def test_build_context_has_what_copy_needs_and_nothing_heavy(
    instructions: list[Instruction],
) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for i in instructions:
        if i.op != "COPY" or i.args.startswith("--from="):
            continue
        sources = shlex.split(i.args)[:-1]
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: missing"
            assert not ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"
    for heavy in (".git", ".venv", "build", "tests", "sre/__pycache__/x.pyc"):
        assert ignored(heavy, patterns), heavy
