"""Every relative link in README.md and docs/ leads somewhere: the file exists and, when the
link names a heading (``page.md#anchor``), the page has that heading. The README links
every page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.docs import ROOT, anchors, name, pages, slug, split

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
EXTERNAL = ("http://", "https://", "mailto:")


def links(page: Path) -> list[tuple[int, str]]:
    """(line, target) of every Markdown link outside code blocks and code spans."""
    _, prose = split(page)
    found = []
    for number, line in enumerate(prose.splitlines(), 1):
        outside_code = re.sub(r"`[^`]*`", "", line)
        found += [(number, target) for target in LINK.findall(outside_code)]
    return found


def broken(page: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for line, target in links(page):
        if target.startswith(EXTERNAL):
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        where = f"{name(page)}:{line}: {target}"
        if not dest.exists():
            problems.append(f"{where}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            problems.append(f"{where}: {name(dest)} has no heading with anchor #{anchor}")
        elif root not in dest.parents and dest != root:
            problems.append(f"{where}: outside the repository")
    return problems


@pytest.mark.parametrize("page", pages(), ids=name)
def test_every_relative_link_resolves(page: Path) -> None:
    assert broken(page) == []


def test_the_readme_links_every_page() -> None:
    readme = ROOT / "README.md"
    linked = {(readme.parent / t.partition("#")[0]).resolve() for _, t in links(readme)}
    missing = [name(p) for p in pages()[1:] if p.resolve() not in linked]
    assert missing == []


def test_the_checks_catch_a_broken_link_and_a_missing_anchor(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other page\n\n## The `sre.yaml` file, again\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#the-sreyaml-file-again) [gone](missing.md) [bad](other.md#nope)\n"
        "`[in code](missing.md)`\n\n```sh\n[in a block](missing.md)\n```\n"
    )
    problems = broken(page, root=tmp_path)
    assert len(problems) == 2
    assert "missing.md: no such file" in problems[0]
    assert "#nope" in problems[1]


def test_anchors_follow_github() -> None:
    assert slug("Anomaly detection (median / MAD)") == "anomaly-detection-median--mad"
    assert slug("`backups[].restore_test`") == "backupsrestore_test"
    assert slug("Buttons (`POST /slack/actions`)") == "buttons-post-slackactions"
