"""Reading the Markdown pages (README.md and docs/) the way the doc tests need them:
fenced blocks with their info string, the prose outside them, headings and their anchors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE_OPEN = re.compile(r"^( *)```(.*)$")
FENCE_CLOSE = re.compile(r"^ *```\s*$")


def pages() -> list[Path]:
    """README.md and every page under docs/, generated ones included."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def name(page: Path) -> str:
    return str(page.relative_to(ROOT)) if ROOT in page.parents else str(page)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    info: str  # the info string: "yaml sre-fragment", "sh", ...
    body: str  # dedented by the fence's indentation

    @property
    def lang(self) -> str:
        return self.info.split()[0] if self.info else ""

    @property
    def tags(self) -> list[str]:
        return self.info.split()[1:]

    @property
    def where(self) -> str:
        return f"{name(self.page)}:{self.line}"

    @property
    def first_comment(self) -> str | None:
        """``name`` of a first line ``# name`` (what file the block is), else None."""
        first = self.body.splitlines()[0] if self.body else ""
        match = re.fullmatch(r"#\s*(\S.*?)\s*", first)
        return match.group(1) if match else None


def split(page: Path) -> tuple[list[Block], str]:
    """The fenced blocks of a page, and its prose with every block blanked out (line numbers
    kept)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    prose: list[str] = []
    i = 0
    while i < len(lines):
        opened = FENCE_OPEN.match(lines[i])
        if not opened:
            prose.append(lines[i])
            i += 1
            continue
        indent = len(opened.group(1))
        end = i + 1
        while end < len(lines) and not FENCE_CLOSE.match(lines[end]):
            end += 1
        assert end < len(lines), f"{name(page)}:{i + 1}: code block never closed"
        inside = lines[i + 1 : end]
        body = [line[indent:] if line[:indent].strip() == "" else line for line in inside]
        blocks.append(Block(page, i + 1, opened.group(2).strip(), "\n".join(body) + "\n"))
        prose.extend([""] * (end - i + 1))
        i = end + 1
    return blocks, "\n".join(prose)


def all_blocks() -> list[Block]:
    return [block for page in pages() for block in split(page)[0]]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())  # a link: its text
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor a link may name in ``page`` (repeated headings get -1, -2, ...)."""
    _, prose = split(page)
    seen: dict[str, int] = {}
    found = set()
    for match in re.finditer(r"^#{1,6} +(.+?) *#*$", prose, re.M):
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def section(page: Path, heading: str) -> str:
    """The prose of one section (code blocks blanked): from ``heading`` to the next heading
    of the same or a higher level."""
    text = "\n" + split(page)[1]
    level = len(heading) - len(heading.lstrip("#"))
    start = text.index(f"\n{heading}\n")
    rest = text[start + len(heading) + 2 :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


def table_rows(text: str) -> list[list[str]]:
    """The cells of every Markdown table body row in ``text`` (headers and separators left
    out)."""
    separator = re.compile(r"\|[-:| ]+\|")
    lines = text.splitlines()
    rows = []
    for i, line in enumerate(lines):
        if not line.startswith("|") or separator.fullmatch(line):
            continue
        if i + 1 < len(lines) and separator.fullmatch(lines[i + 1]):
            continue  # a header
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]])
    return rows
