"""The commands the docs show exist: every ``python -m sre.render``, ``python -m sre.daemon``
(and ``audit``, ``copy-state``) and ``make`` line in a ```sh or ```console block parses with
the real argument parser or names a real Makefile target; ``python -m`` of anything else
names a real module. The flag tables of docs/render.md and docs/daemon.md list exactly the real
flags."""

from __future__ import annotations

import importlib.util
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from sre.daemon import __main__ as daemon_cli
from sre.daemon import audit_cli, copy_state, verify_cli
from sre.render import __main__ as render_cli
from tests.helpers.docs import ROOT, Block, all_blocks, section, table_rows

SEPARATORS = {"&&", "||", ";", "|", "(", ")", "&", ">", ">>", "<"}
MAKE_TARGETS = set(
    re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M)
)


def command_lines(block: Block) -> list[str]:
    text = block.body.replace("\\\n", " ")
    lines = text.splitlines()
    if block.lang == "console":
        return [line[2:] for line in lines if line.startswith("$ ")]
    return lines


def commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line: split at ``&&``, ``|``, ``;``, parentheses;
    leading ``VAR=value`` assignments and comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    found: list[list[str]] = [[]]
    for token in lexer:
        if token in SEPARATORS:
            found.append([])
        else:
            found[-1].append(token)
    out = []
    for argv in found:
        start = 0
        while start < len(argv) and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", argv[start]):
            start += 1
        if argv[start:]:
            out.append(argv[start:])
    return out


def parses(parse: Callable[[list[str]], object], argv: list[str]) -> str | None:
    try:
        parse(argv)
    except SystemExit as exit_:
        return None if exit_.code == 0 else f"rejected by the parser: {argv}"
    return None


def render_problem(argv: list[str]) -> str | None:
    problem = parses(render_cli.parser().parse_args, argv)
    if problem is None and {"--dry-run", "--prune"} & set(argv) and "--publish" not in argv:
        return "--dry-run and --prune need --publish"
    return problem


def daemon_problem(argv: list[str]) -> str | None:
    if argv[:1] == ["audit"]:
        return parses(audit_cli.parse_args, argv[1:])
    if argv[:1] == ["verify"]:
        return parses(verify_cli.parse_args, argv[1:])
    if argv[:1] == ["copy-state"]:
        return parses(copy_state.parse_args, argv[1:])
    return parses(daemon_cli.parse_args, argv)


def make_problem(argv: list[str]) -> str | None:
    for arg in argv:
        if "=" in arg:
            var, _, value = arg.partition("=")
            if var == "BENCH" and not (ROOT / "benchmarks" / value / "__main__.py").is_file():
                return f"no benchmark {value!r}"
        elif arg not in MAKE_TARGETS:
            return f"no Makefile target {arg!r}"
    return None


def problem(argv: list[str]) -> tuple[str, str | None] | None:
    """(what kind of command, its problem or None); None when it is none of ours."""
    if argv[0] == "make":
        return "make", make_problem(argv[1:])
    if Path(argv[0]).name.startswith("python") and argv[1:2] == ["-m"] and len(argv) > 2:
        module, rest = argv[2], argv[3:]
        if module == "sre.render":
            return "render", render_problem(rest)
        if module == "sre.daemon":
            sub = rest[0] if rest[:1] in (["audit"], ["verify"], ["copy-state"]) else "run"
            return f"daemon {sub}", daemon_problem(rest)
        missing = importlib.util.find_spec(module) is None
        return "module", f"no module {module}" if missing else None
    return None


def shown_commands() -> list[tuple[str, list[str]]]:
    return [
        (block.where, argv)
        for block in all_blocks()
        if block.lang in ("sh", "console")
        for line in command_lines(block)
        for argv in commands(line)
    ]


SHOWN = shown_commands()


def test_every_command_shown_exists() -> None:
    bad = []
    kinds = set()
    for where, argv in SHOWN:
        found = problem(argv)
        if found is None:
            continue
        kinds.add(found[0])
        if found[1]:
            bad.append(f"{where}: {shlex.join(argv)}: {found[1]}")
    assert bad == []
    assert {"make", "render", "daemon run", "daemon audit", "module"} <= kinds


def test_the_command_check_catches_what_does_not_exist() -> None:
    assert problem(["python", "-m", "sre.daemon", "verify", "--for", "10m"]) == (
        "daemon verify",
        "rejected by the parser: ['--for', '10m']",
    )
    assert problem(["python", "-m", "sre.daemon", "gate", "--service", "x"]) == (
        "daemon run",
        "rejected by the parser: ['gate', '--service', 'x']",
    )
    assert problem(["make", "deploy"]) == ("make", "no Makefile target 'deploy'")
    assert problem(["make", "bench", "BENCH=nope"]) == ("make", "no benchmark 'nope'")
    assert problem([".venv/bin/python", "-m", "sre.render", "--dry-run"]) == (
        "render",
        "--dry-run and --prune need --publish",
    )
    assert problem(["python", "-m", "sre.nothing"]) == ("module", "no module sre.nothing")
    assert commands("A=1 make render && cp x y | grep -q z  # make nope") == [
        ["make", "render"],
        ["cp", "x", "y"],
        ["grep", "-q", "z"],
    ]


def flags_of(parse: Callable[[list[str]], object], capsys: pytest.CaptureFixture[str]) -> set[str]:
    with pytest.raises(SystemExit):
        parse(["--help"])
    usage = capsys.readouterr().out.split("\n\n")[0]
    return set(re.findall(r"--[a-z][a-z-]*", usage)) - {"--help"}


def table_flags(page: str, heading: str) -> set[str]:
    rows = table_rows(section(ROOT / "docs" / page, heading))
    return {f for row in rows if row[0].startswith("`--") for f in re.findall(r"--[a-z-]+", row[0])}


def test_the_flag_tables_list_exactly_the_real_flags(capsys: pytest.CaptureFixture[str]) -> None:
    render = flags_of(render_cli.parser().parse_args, capsys)
    assert table_flags("render.md", "# Rendering and checking: `python -m sre.render`") == render
    daemon = flags_of(daemon_cli.parse_args, capsys)
    assert table_flags("daemon.md", "## Run it locally") == daemon
    assert {"--publish", "--skip-promtool"} <= render and "--insecure-dev" in daemon
